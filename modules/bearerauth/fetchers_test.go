package bearerauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestFetcherUsers shares one fetcher between two configurations: each
// counts the fetches made while it uses the fetcher, the newest one gets
// the logs, and the fetcher stops once both let go.
func TestFetcherUsers(t *testing.T) {
	var published atomic.Pointer[[]byte]
	publish := func(kids ...string) {
		keys := make([]jwk.Key, len(kids))
		for i, kid := range kids {
			raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if keys[i], err = jwk.FromRaw(raw.Public()); err != nil {
				t.Fatal(err)
			}
			keys[i].Set(jwk.KeyIDKey, kid)
			keys[i].Set(jwk.AlgorithmKey, jwa.ES256)
		}
		doc, err := json.Marshal(map[string]any{"keys": keys})
		if err != nil {
			t.Fatal(err)
		}
		published.Store(&doc)
	}
	publish("a")
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/openid-configuration" {
			json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL + "/", "jwks_uri": srv.URL + "/jwks"})
			return
		}
		w.Write(*published.Load())
	}))
	defer srv.Close()
	key := fetcherKey{issuer: srv.URL + "/", unknownKeyRefetch: time.Nanosecond}
	type config struct {
		counter *prometheus.CounterVec
		logs    *observer.ObservedLogs
		logger  *zap.Logger
	}
	newConfig := func() config {
		core, logs := observer.New(zapcore.InfoLevel)
		return config{prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fetches"}, []string{"issuer", "result"}), logs, zap.New(core)}
	}
	// want checks each configuration's count of good fetches and of key
	// set changes logged.
	want := func(t *testing.T, configs []config, fetches, loads []int) {
		t.Helper()
		for i, c := range configs {
			f, l := okFetches(t, c.counter), c.logs.FilterMessage("loaded the issuer's keys").Len()
			if int(f) != fetches[i] || l != loads[i] {
				t.Errorf("configuration %d: %v fetches counted, %d loads logged; want %d and %d", i, f, l, fetches[i], loads[i])
			}
		}
	}
	old, current := newConfig(), newConfig()
	configs := []config{old, current}

	f, err := useFetcher(key, old.logger, old.counter)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no keys")
	}
	// A second handler of the old configuration adds nothing.
	if again, err := useFetcher(key, old.logger, old.counter); err != nil || again != f {
		t.Fatalf("the same configuration got another fetcher (%v)", err)
	}
	g, err := useFetcher(key, current.logger, current.counter)
	if err != nil || g != f {
		t.Fatalf("a configuration with the same settings got another fetcher (%v)", err)
	}
	want(t, configs, []int{1, 0}, []int{1, 0})

	publish("a", "b")
	f.RefreshForKID(t.Context(), "b")
	want(t, configs, []int{2, 1}, []int{1, 1})

	// The newest configuration goes (a failed reload): the old one gets
	// the logs back.
	if err := releaseFetcher(key, f, current.counter); err != nil {
		t.Fatal(err)
	}
	publish("c")
	f.RefreshForKID(t.Context(), "c")
	want(t, configs, []int{3, 1}, []int{2, 1})

	for range 2 {
		if err := releaseFetcher(key, f, old.counter); err != nil {
			t.Fatal(err)
		}
	}
	if _, held := fetchers.References(key); held {
		t.Fatal("the fetcher is still in the pool after its last user let go")
	}
	publish("d")
	f.RefreshForKID(t.Context(), "d")
	want(t, configs, []int{3, 1}, []int{2, 1})
}

// okFetches is the sum of counter's series with result ok.
func okFetches(t *testing.T, counter *prometheus.CounterVec) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(counter); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, family := range families {
		for _, m := range family.GetMetric() {
			for _, label := range m.GetLabel() {
				if label.GetName() == "result" && label.GetValue() == "ok" {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
