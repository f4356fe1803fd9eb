package authserver

import (
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/portcullis-gw/portcullis/internal/auditlog"
)

// DefaultIssuedTokenLogFlush is the default of Config.IssuedTokenLogFlush.
const DefaultIssuedTokenLogFlush = time.Second

// IssuedTokenLogBuffer is how many "issued access token" lines wait for
// the next write at most; past it, lines are dropped, and a warning says
// how many.
const IssuedTokenLogBuffer = 8192

// issuedLine is an "issued access token" line, held until it is written.
type issuedLine struct {
	time   time.Time
	fields []zap.Field
}

// startIssuedLog starts the writer of the "issued access token" lines.
func (s *Server) startIssuedLog(flush time.Duration) {
	if flush == 0 {
		flush = DefaultIssuedTokenLogFlush
	}
	s.issuedLog = auditlog.New(auditlog.Config[issuedLine]{
		Size: IssuedTokenLogBuffer, Interval: flush, Write: s.writeIssued,
		Logger: s.logger, Name: `"issued access token" lines`,
	})
}

// logIssued queues the "issued access token" line of a token response.
func (s *Server) logIssued(fields []zap.Field) {
	if s.logger.Core().Enabled(zapcore.InfoLevel) {
		s.issuedLog.Add(issuedLine{time: time.Now(), fields: fields})
	}
}

// writeIssued writes a batch of lines, each with the time of its token.
func (s *Server) writeIssued(batch []issuedLine) {
	for i := range batch {
		if c := s.logger.Check(zapcore.InfoLevel, "issued access token"); c != nil {
			c.Time = batch[i].time
			c.Write(batch[i].fields...)
		}
	}
}

// Close writes the "issued access token" lines still held and stops their
// writer; lines of requests that finish later are written at once. It does
// not close the Store.
func (s *Server) Close() {
	s.issuedLog.Close()
}
