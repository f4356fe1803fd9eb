package bearerauth

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/portcullis-gw/portcullis/authz"
	"github.com/portcullis-gw/portcullis/internal/auditlog"
)

// Decision log modes.
const (
	DecisionLogAll    = "all"
	DecisionLogDeny   = "deny"
	DecisionLogSample = "sample"
)

// Decision log defaults.
const (
	DefaultDecisionLogFlush = time.Second
	// DecisionLogBuffer is how many decision lines wait for the next write
	// at most; past it, lines are dropped and counted.
	DecisionLogBuffer = 8192
)

// DecisionLog says which decisions bearer_auth logs and how often it
// writes them. Lines are written in batches off the request path: every
// FlushInterval, as soon as the buffer is half full, and when the config
// is unloaded (a reload or a stop), which writes every line still held;
// requests the old config still finishes after that (Caddy does not wait
// for them on a reload) write their lines at once. A full buffer drops
// lines: they are counted in portcullis_bearer_decision_log_dropped_total
// and a warning says how many.
type DecisionLog struct {
	// Mode is all (every decision), deny (denials only) or sample (every
	// denial and one allowed request in Sample). Default: all.
	Mode string `json:"mode,omitempty"`
	// Sample is, in sample mode, how many allowed requests one logged
	// line stands for: the first allowed request and every Sample-th after
	// it are logged. At least 1; only with mode sample.
	Sample int `json:"sample,omitempty"`
	// FlushInterval is the longest a line waits before it is written.
	// At least 10ms. Default: 1s.
	FlushInterval caddy.Duration `json:"flush_interval,omitempty"`
}

// validate checks the decision log options; nil means the defaults.
func (l *DecisionLog) validate() error {
	if l == nil {
		return nil
	}
	switch l.Mode {
	case "", DecisionLogAll, DecisionLogDeny:
		if l.Sample != 0 {
			return fmt.Errorf("bearer_auth: decision_log sample is only for mode sample, not %q", l.mode())
		}
	case DecisionLogSample:
		if l.Sample < 1 {
			return fmt.Errorf("bearer_auth: decision_log sample must be at least 1, got %d", l.Sample)
		}
	default:
		return fmt.Errorf("bearer_auth: decision_log mode must be all, deny or sample, got %q", l.Mode)
	}
	if l.FlushInterval < 0 {
		return errors.New("bearer_auth: decision_log flush_interval must be positive")
	}
	if l.FlushInterval != 0 && time.Duration(l.FlushInterval) < auditlog.MinInterval {
		return fmt.Errorf("bearer_auth: decision_log flush_interval must be at least %s, got %s", auditlog.MinInterval, time.Duration(l.FlushInterval))
	}
	return nil
}

func (l *DecisionLog) mode() string {
	if l == nil || l.Mode == "" {
		return DecisionLogAll
	}
	return l.Mode
}

// decisionLine is one decision log line, held until it is written.
type decisionLine struct {
	time                                      time.Time
	id, sub, clientID, method, path, decision string
	reason                                    string
	status                                    int
}

// decisionLog writes decision lines through a sink.
type decisionLog struct {
	mode    string
	sample  uint64
	allowed atomic.Uint64 // allowed requests seen, in sample mode
	sink    *auditlog.Sink[decisionLine]
	logger  *zap.Logger
}

// provisionDecisionLog starts the handler's decision log, after Validate.
func (h *Handler) provisionDecisionLog() {
	flush := DefaultDecisionLogFlush
	if h.DecisionLog != nil && h.DecisionLog.FlushInterval > 0 {
		flush = time.Duration(h.DecisionLog.FlushInterval)
	}
	l := &decisionLog{mode: h.DecisionLog.mode(), logger: h.logger}
	if l.mode == DecisionLogSample {
		l.sample = uint64(h.DecisionLog.Sample)
	}
	dropped := h.metrics.decisionLogDropped
	l.sink = auditlog.New(auditlog.Config[decisionLine]{
		Size: DecisionLogBuffer, Interval: flush, Write: l.write,
		Logger: h.logger, Name: "decision log lines", Dropped: func(n uint64) { dropped.Add(float64(n)) },
	})
	h.decisions = l
}

// closeDecisionLog writes the lines still held and stops the writer; later
// lines are written at once.
func (h *Handler) closeDecisionLog() {
	if h.decisions != nil {
		h.decisions.sink.Close()
	}
}

// logDecision queues the decision log line, as the mode says: never the
// token itself. A policy failure is logged at once.
func (h *Handler) logDecision(o *outcome, r *http.Request, t *authz.Token, err error) {
	if err != nil {
		h.logger.Error("policy failed; request denied", zap.String("decision_id", o.ID()), zap.Error(err))
	}
	l := h.decisions
	if !l.wants(o.Allow) || !l.logger.Core().Enabled(zapcore.InfoLevel) {
		return
	}
	result := "deny"
	if o.Allow {
		result = "allow"
	}
	l.sink.Add(decisionLine{time: time.Now(), id: o.ID(), sub: t.Subject, clientID: t.ClientID, method: r.Method, path: r.URL.Path,
		decision: result, reason: o.Reason, status: o.Status})
}

// wants reports whether a decision is to be logged: every denial, and
// allowed requests as the mode says (in sample mode, the 1st, the
// sample+1-th, and so on).
func (l *decisionLog) wants(allow bool) bool {
	switch {
	case !allow || l.mode == DecisionLogAll:
		return true
	case l.mode == DecisionLogDeny:
		return false
	default:
		return (l.allowed.Add(1)-1)%l.sample == 0
	}
}

// write writes a batch of lines, each with the time of its decision.
func (l *decisionLog) write(batch []decisionLine) {
	for i := range batch {
		e := &batch[i]
		c := l.logger.Check(zapcore.InfoLevel, "decision")
		if c == nil {
			continue
		}
		c.Time = e.time
		c.Write(zap.String("decision_id", e.id), zap.String("sub", e.sub), zap.String("client_id", e.clientID),
			zap.String("method", e.method), zap.String("path", e.path), zap.String("result", e.decision),
			zap.String("reason", e.reason), zap.Int("status", e.status))
	}
}
