package bearerauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/portcullis-gw/portcullis/authz"
)

// TestDecisionLogOptions parses the Caddyfile options and the JSON config
// of the decision log: what is accepted, and an error naming the option
// for the rest.
func TestDecisionLogOptions(t *testing.T) {
	for _, tc := range []struct {
		options, want, wantErr string
	}{
		{options: "", want: `null`},
		{options: "decision_log all", want: `{"mode":"all"}`},
		{options: "decision_log deny", want: `{"mode":"deny"}`},
		{options: "decision_log sample 10\n\tdecision_log_flush 250ms", want: `{"mode":"sample","sample":10,"flush_interval":250000000}`},
		{options: "decision_log_flush 2s", want: `{"flush_interval":2000000000}`},
		{options: "decision_log", wantErr: "decision_log takes at least one argument, got none"},
		{options: "decision_log some", wantErr: `decision_log takes all, deny or sample <n>, got "some"`},
		{options: "decision_log deny all", wantErr: `decision_log takes all, deny or sample <n>, got "deny all"`},
		{options: "decision_log sample", wantErr: "decision_log sample takes one number n"},
		{options: "decision_log sample 1 2", wantErr: "decision_log sample takes one number n (every denial and 1 in n allowed requests are logged), got 2 arguments"},
		{options: "decision_log sample 0", wantErr: `decision_log sample takes a positive whole number, got "0"`},
		{options: "decision_log sample -3", wantErr: `decision_log sample takes a positive whole number, got "-3"`},
		{options: "decision_log sample x", wantErr: `decision_log sample takes a positive whole number, got "x"`},
		{options: "decision_log all\n\tdecision_log deny", wantErr: "decision_log given twice"},
		{options: "decision_log_flush 0s", wantErr: `decision_log_flush must be a positive duration such as 30s or 15m, got "0s"`},
		{options: "decision_log_flush -1s", wantErr: `decision_log_flush must be a positive duration such as 30s or 15m, got "-1s"`},
		{options: "decision_log_flush soon", wantErr: `decision_log_flush must be a positive duration such as 30s or 15m, got "soon"`},
		{options: "decision_log_flush", wantErr: "decision_log_flush takes one argument, got 0"},
	} {
		t.Run(tc.options, func(t *testing.T) {
			text := "bearer_auth {\n\taudience a\n\t" + tc.options + "\n}"
			h, err := parseCaddyfile(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser(text)})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(h.(*Handler).DecisionLog)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("decision_log = %s, want %s", got, tc.want)
			}
			if err := h.(*Handler).Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// TestDecisionLogValidate checks the JSON config, which does not go
// through the Caddyfile's checks.
func TestDecisionLogValidate(t *testing.T) {
	for _, tc := range []struct {
		json, wantErr string
	}{
		{json: `{}`},
		{json: `{"mode":"sample","sample":1,"flush_interval":"5s"}`},
		{json: `{"mode":"loud"}`, wantErr: `bearer_auth: decision_log mode must be all, deny or sample, got "loud"`},
		{json: `{"mode":"sample"}`, wantErr: "bearer_auth: decision_log sample must be at least 1, got 0"},
		{json: `{"mode":"sample","sample":-1}`, wantErr: "bearer_auth: decision_log sample must be at least 1, got -1"},
		{json: `{"sample":5}`, wantErr: `bearer_auth: decision_log sample is only for mode sample, not "all"`},
		{json: `{"mode":"deny","sample":5}`, wantErr: `bearer_auth: decision_log sample is only for mode sample, not "deny"`},
		{json: `{"flush_interval":"-1s"}`, wantErr: "bearer_auth: decision_log flush_interval must be positive"},
		{json: `{"flush_interval":"10ms"}`},
		{json: `{"flush_interval":1}`, wantErr: "bearer_auth: decision_log flush_interval must be at least 10ms, got 1ns"},
		{json: `{"flush_interval":"9ms"}`, wantErr: "bearer_auth: decision_log flush_interval must be at least 10ms, got 9ms"},
	} {
		t.Run(tc.json, func(t *testing.T) {
			h := Handler{Audience: "a"}
			if err := json.Unmarshal([]byte(`{"decision_log":`+tc.json+`}`), &h); err != nil {
				t.Fatal(err)
			}
			err := h.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Errorf("Validate() = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestDecisionLogSampling: in sample mode the 1st, (n+1)-th, (2n+1)-th…
// allowed decisions are logged, and every denial; in deny mode no allowed
// one; in all mode every one.
func TestDecisionLogSampling(t *testing.T) {
	for _, tc := range []struct {
		l    *decisionLog
		want string
	}{
		{&decisionLog{mode: DecisionLogAll}, "AAAAAAAD"},
		{&decisionLog{mode: DecisionLogDeny}, "_______D"},
		{&decisionLog{mode: DecisionLogSample, sample: 1}, "AAAAAAAD"},
		{&decisionLog{mode: DecisionLogSample, sample: 3}, "A__A__AD"},
	} {
		var got strings.Builder
		for i := range 8 {
			allow := i < 7
			switch {
			case !tc.l.wants(allow):
				got.WriteByte('_')
			case allow:
				got.WriteByte('A')
			default:
				got.WriteByte('D')
			}
		}
		if got.String() != tc.want {
			t.Errorf("%s %d: %s, want %s", tc.l.mode, tc.l.sample, got.String(), tc.want)
		}
	}
}

// gateCore is a core that, at its first Write, says so on entered and
// then waits for gate to close before it writes anything.
type gateCore struct {
	zapcore.Core
	entered chan struct{}
	once    *sync.Once
	gate    chan struct{}
}

func (c gateCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, c)
}

func (c gateCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	c.once.Do(func() { close(c.entered) })
	<-c.gate
	return c.Core.Write(e, fields)
}

// TestDecisionLogDrops: while the log's destination is stuck, a full
// buffer drops lines without blocking the requests; the drops are counted
// in portcullis_bearer_decision_log_dropped_total and told in a warning,
// and every line not dropped is written.
func TestDecisionLogDrops(t *testing.T) {
	observed, logs := observer.New(zapcore.InfoLevel)
	core := gateCore{Core: observed, entered: make(chan struct{}), once: new(sync.Once), gate: make(chan struct{})}
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{logger: zap.New(core), metrics: m, DecisionLog: &DecisionLog{FlushInterval: caddy.Duration(time.Hour)}}
	h.provisionDecisionLog()
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	tok := &authz.Token{Subject: "s", ClientID: "c"}
	o := &outcome{Decision: authz.Decision{Allow: true, Reason: "allowed", Status: http.StatusOK}, ids: newDecisionIDs()}
	decide := func(n int) {
		for range n {
			h.logDecision(o, r, tok, nil)
		}
	}
	decide(DecisionLogBuffer / 2) // half full: the writer takes them and gets stuck
	<-core.entered
	decide(DecisionLogBuffer + 10) // fills the buffer again; 10 dropped
	close(core.gate)
	h.closeDecisionLog()

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	dropped := -1.0
	for _, f := range families {
		if f.GetName() == "portcullis_bearer_decision_log_dropped_total" && len(f.GetMetric()) == 1 {
			dropped = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if dropped != 10 {
		t.Errorf("portcullis_bearer_decision_log_dropped_total = %v, want 10", dropped)
	}
	warnings := logs.FilterMessage("buffer full: decision log lines dropped").All()
	if len(warnings) != 1 || warnings[0].ContextMap()["dropped"] != uint64(10) {
		t.Errorf("drop warnings %v, want one with dropped=10", warnings)
	}
	if got, want := logs.FilterMessage("decision").Len(), DecisionLogBuffer/2+DecisionLogBuffer; got != want {
		t.Errorf("%d decision lines written, want %d", got, want)
	}
}
