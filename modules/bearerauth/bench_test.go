package bearerauth

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/bearer"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/authz"
	"github.com/portcullis-gw/portcullis/policies"
)

// benchHandler is a bearer_auth for the audience of an embedded
// authorization server, with the default policy, and a valid M2M token for
// it. The handler is built by hand, as Provision would, to measure the
// handler alone.
func benchHandler(b *testing.B, cacheSize int) (*Handler, string) {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	const issuerURL, audience, secret = "https://auth.example.com/", "https://api.example.com/orders", "bench-secret-0123456789abcdefghijklmnop"
	srv, err := authserver.New(ctx, authserver.Config{Issuer: issuerURL, Store: st, BootstrapAdmin: &authserver.Credentials{ClientID: "admin", ClientSecret: secret}})
	if err != nil {
		b.Fatal(err)
	}
	api := &access.ResourceServer{ID: "orders", Identifier: audience, SigningAlg: "ES256", Scopes: []access.Scope{{Value: "read:orders"}}}
	api.ApplyDefaults()
	if err := srv.Store().CreateResourceServer(ctx, api); err != nil {
		b.Fatal(err)
	}
	if err := srv.Store().CreateClientGrant(ctx, &access.ClientGrant{ID: "cgr_1", ClientID: "admin", Audience: audience, SubjectType: access.SubjectClient, Scope: []string{"read:orders"}}); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(
		"grant_type=client_credentials&client_id=admin&client_secret="+secret+"&audience="+audience))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	body := rec.Body.String()
	token := body[strings.Index(body, `"access_token":"`)+16:]
	token = token[:strings.IndexByte(token, '"')]

	policy, err := authz.Load(ctx, policies.Default, "policies")
	if err != nil {
		b.Fatal(err)
	}
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	h := &Handler{
		Audience:      audience,
		Rules:         provisioned(b, Rule{Method: "GET", Path: "/orders*", Scopes: []string{"read:orders"}}),
		PolicyTimeout: caddy.Duration(DefaultPolicyTimeout),
		Realm:         audience,
		issuers: map[string]*issuer{issuerURL: {url: issuerURL, local: true,
			verifier: &tokens.Verifier{Issuer: issuerURL, Keys: srv.Keyring(), Leeway: DefaultLeeway}}},
		server:  srv,
		policy:  new(atomic.Pointer[authz.Policy]),
		cache:   newTokenCache(cacheSize),
		metrics: m,
		logger:  zap.NewNop(),
		now:     time.Now,

		decisionIDs: newDecisionIDs(),
	}
	h.guard = &bearer.Guard[*verified]{Verify: h.verify, Certificate: h.requestCertificate}
	h.policy.Store(policy)
	h.provisionDecisionLog()
	b.Cleanup(h.closeDecisionLog)
	return h, token
}

// BenchmarkBearerAuth measures bearer_auth's work per request: with the
// verified-token cache (the steady state: the same token again) and
// without it (signature verification every time), each including the
// policy decision, next to a request passed straight to the next handler.
func BenchmarkBearerAuth(b *testing.B) {
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	serve := func(b *testing.B, h caddyhttp.MiddlewareHandler, token string) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodGet, "/orders/1", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			repl := caddy.NewReplacer()
			req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl))
			rec := httptest.NewRecorder()
			if err := h.ServeHTTP(rec, req, next); err != nil || rec.Code != http.StatusNoContent {
				b.Fatalf("request: %d %v", rec.Code, err)
			}
		}
	}
	b.Run("next_handler_only", func(b *testing.B) {
		serve(b, passThrough{}, "x")
	})
	b.Run("cached_token", func(b *testing.B) {
		h, token := benchHandler(b, DefaultCacheSize)
		serve(b, h, token)
	})
	b.Run("uncached_token", func(b *testing.B) {
		h, token := benchHandler(b, -1)
		serve(b, h, token)
	})
}

// passThrough is a middleware that does nothing, the baseline.
type passThrough struct{}

func (passThrough) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	return next.ServeHTTP(w, r)
}

// BenchmarkDecisionLog measures what a decision line costs the request:
// written at once as a JSON line to a file (a write(2) per line, as
// before the sink), and queued in the decision log's sink, whose writes
// run between the timed parts (a flush every 1024 lines, below the half
// full mark, so no line is dropped or written while timed; to a core that
// drops them, which keeps the untimed part short).
func BenchmarkDecisionLog(b *testing.B) {
	jsonLogger := func(w zapcore.WriteSyncer) *zap.Logger {
		return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), w, zapcore.InfoLevel))
	}
	r := httptest.NewRequest(http.MethodGet, "/orders/1", nil)
	tok := &authz.Token{Subject: "client-1@clients", ClientID: "client-1"}
	d := authz.Decision{Allow: true, Reason: "allowed", Status: http.StatusOK}
	b.Run("sync_write", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "decisions.log"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		logger := jsonLogger(f)
		b.ReportAllocs()
		for b.Loop() {
			if c := logger.Check(zapcore.InfoLevel, "decision"); c != nil {
				c.Write(zap.String("decision_id", "0123456789abcdef"), zap.String("sub", tok.Subject), zap.String("client_id", tok.ClientID),
					zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.String("result", "allow"),
					zap.String("reason", d.Reason), zap.Int("status", d.Status))
			}
		}
	})
	b.Run("sink_enqueue", func(b *testing.B) {
		m, err := newMetrics(prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		h := &Handler{logger: zap.New(discardCore{}), metrics: m, DecisionLog: &DecisionLog{FlushInterval: caddy.Duration(time.Hour)}}
		h.provisionDecisionLog()
		b.Cleanup(h.closeDecisionLog)
		o := &outcome{Decision: d, ids: newDecisionIDs()}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			h.logDecision(o, r, tok, nil)
			if n++; n%1024 == 0 {
				b.StopTimer()
				h.decisions.sink.Flush()
				b.StartTimer()
			}
		}
		if dropped := h.decisions.sink.Dropped(); dropped != 0 {
			b.Fatalf("%d lines dropped", dropped)
		}
	})
}

// discardCore logs at every level and writes nothing.
type discardCore struct{}

func (discardCore) Enabled(zapcore.Level) bool          { return true }
func (c discardCore) With([]zapcore.Field) zapcore.Core { return c }
func (c discardCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, c)
}
func (discardCore) Write(zapcore.Entry, []zapcore.Field) error { return nil }
func (discardCore) Sync() error                                { return nil }

// BenchmarkHotSetUnderScan measures how well the verified-token cache keeps
// the tokens in use while new tokens stream through (a scan: many clients
// each presenting a token once, or an attacker's stream of valid tokens).
// The cache holds 1000 tokens; a hot set of 250 tokens is presented at
// random, one request for every two new tokens. It reports the hot set's
// hit ratio (a miss is a signature verification): with the cache's CLOCK
// eviction, and with the random eviction it had before, for comparison.
func BenchmarkHotSetUnderScan(b *testing.B) {
	const size, hot, scanPerHot = 1000, 250, 2
	type cache interface {
		Get([sha256.Size]byte) (*verified, bool)
		Put([sha256.Size]byte, *verified)
	}
	run := func(b *testing.B, c cache) {
		key := func(n uint64) [sha256.Size]byte {
			var raw [8]byte
			binary.BigEndian.PutUint64(raw[:], n)
			return sha256.Sum256(raw[:])
		}
		rnd := rand.New(rand.NewPCG(1, 2))
		v := &verified{}
		var hits, lookups float64
		scan := uint64(hot)
		for b.Loop() {
			k := key(rnd.Uint64N(hot))
			lookups++
			if _, ok := c.Get(k); ok {
				hits++
			} else {
				c.Put(k, v)
			}
			for range scanPerHot {
				scan++
				c.Put(key(scan), v)
			}
		}
		b.ReportMetric(hits/lookups, "hot-hit-ratio")
	}
	b.Run("clock", func(b *testing.B) { run(b, newTokenCache(size)) })
	b.Run("random", func(b *testing.B) { run(b, newRandomEviction(size)) })
}

// randomEviction is the verified-token cache as it was before CLOCK: when
// full, an arbitrary entry (Go's map order) makes room.
type randomEviction struct {
	size    int
	entries map[[sha256.Size]byte]*verified
}

func newRandomEviction(size int) *randomEviction {
	return &randomEviction{size: size, entries: map[[sha256.Size]byte]*verified{}}
}

func (r *randomEviction) Get(k [sha256.Size]byte) (*verified, bool) {
	v, ok := r.entries[k]
	return v, ok
}

func (r *randomEviction) Put(k [sha256.Size]byte, v *verified) {
	if _, ok := r.entries[k]; !ok && len(r.entries) >= r.size {
		for old := range r.entries {
			delete(r.entries, old)
			break
		}
	}
	r.entries[k] = v
}
