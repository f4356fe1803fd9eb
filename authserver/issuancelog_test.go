package authserver_test

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/portcullis-gw/portcullis/authserver"
)

// TestIssuedTokenLog: the "issued access token" lines wait for the flush
// interval (an hour here), Close writes them, each with the time its token
// was issued, and a line after Close is written at once.
func TestIssuedTokenLog(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	e := newEnvWith(t, func(c *authserver.Config) {
		c.Logger = zap.New(core)
		c.IssuedTokenLogFlush = time.Hour
	})
	issued := func() []observer.LoggedEntry { return logs.FilterMessage("issued access token").All() }
	before := time.Now()
	e.token(t, e.admin, e.mgmtAudience())
	after := time.Now()
	if got := issued(); len(got) != 0 {
		t.Fatalf("%d lines written before the flush interval and Close", len(got))
	}
	e.srv.Close()
	got := issued()
	if len(got) != 2 { // newEnv's admin token, then this test's
		t.Fatalf("Close wrote %d lines, want 2", len(got))
	}
	line := got[1]
	if f := line.ContextMap(); f["client_id"] != e.admin.ClientID || f["audience"] != e.mgmtAudience() {
		t.Errorf("line fields %v", f)
	}
	if line.Time.Before(before) || line.Time.After(after) {
		t.Errorf("line time %s, not the time of the token request (%s to %s)", line.Time, before, after)
	}
	e.token(t, e.admin, e.mgmtAudience())
	if got := issued(); len(got) != 3 {
		t.Errorf("after Close, a token's line was not written at once: %d lines, want 3", len(got))
	}
}

// TestIssuedTokenLogFlushTooShort: New refuses a negative flush interval,
// and one so short that the writer would keep a CPU busy.
func TestIssuedTokenLogFlushTooShort(t *testing.T) {
	e := newEnv(t)
	for flush, want := range map[time.Duration]string{
		-time.Second:     "issued token log flush interval must be at least 10ms, got -1s",
		time.Nanosecond:  "issued token log flush interval must be at least 10ms, got 1ns",
		time.Millisecond: "issued token log flush interval must be at least 10ms, got 1ms",
	} {
		_, err := authserver.New(t.Context(), authserver.Config{Issuer: e.issuer, Store: e.store, IssuedTokenLogFlush: flush})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New with %s = %v, want %q", flush, err, want)
		}
	}
}
