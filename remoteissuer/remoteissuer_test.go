package remoteissuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/portcullis-gw/portcullis/authserver/tokens"
)

// Raw test keys, made once because RSA generation is slow.
var (
	rsaA    = mustRSA(2048)
	rsaB    = mustRSA(2048)
	rsaWeak = mustRSA(1024)
	ecA     = mustEC(elliptic.P256())
	ecB     = mustEC(elliptic.P256())
	ecP384  = mustEC(elliptic.P384())
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// waitFor bounds every wait in these tests.
const waitFor = 5 * time.Second

// signingKey is a private JWK and its public half, both with kid and alg.
type signingKey struct {
	priv, pub jwk.Key
}

func newSigningKey(t testing.TB, raw any, kid string, alg jwa.SignatureAlgorithm) signingKey {
	t.Helper()
	priv, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := priv.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	if err := priv.Set(jwk.AlgorithmKey, alg); err != nil {
		t.Fatal(err)
	}
	pub, err := priv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: priv, pub: pub}
}

// jwks is the JWKS document of keys, in order.
func jwks(t testing.TB, keys ...any) []byte {
	t.Helper()
	doc, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// fakeIssuer serves a discovery document and a JWKS that tests can change,
// and counts the requests.
type fakeIssuer struct {
	// url is the issuer's origin.
	url string
	// srv serves the issuer over the network, when it is not in-process.
	srv *httptest.Server
	// client reaches an in-process issuer; nil when srv serves it.
	client *http.Client

	mu        sync.Mutex
	discovery []byte        // nil: a correct document
	jwks      []byte        // the JWKS response body
	status    int           // the JWKS response status; 0: 200
	gate      chan struct{} // when set, JWKS requests wait until it is closed

	discoveryHits, jwksHits atomic.Int64
	arrived                 chan struct{} // one value per JWKS request, when there is room
}

// newFakeIssuer serves a fake issuer over HTTP on loopback.
func newFakeIssuer(t *testing.T, keys ...any) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{arrived: make(chan struct{}, 100)}
	f.srv = httptest.NewServer(f.handler())
	t.Cleanup(f.srv.Close)
	f.url = f.srv.URL
	f.setJWKS(jwks(t, keys...))
	return f
}

// newInProcessIssuer is a fake issuer at https://issuer.test that answers
// in the goroutine of the request, with no network: inside a
// testing/synctest bubble, a fetch waiting on it is durably blocked, so
// synctest.Wait can tell when the Issuer is idle.
func newInProcessIssuer(t *testing.T, keys ...any) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{url: "https://issuer.test", arrived: make(chan struct{}, 100)}
	f.client = inProcessClient(f.handler())
	f.setJWKS(jwks(t, keys...))
	return f
}

func (f *fakeIssuer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.serveDiscovery)
	mux.HandleFunc("GET /jwks.json", f.serveJWKS)
	return mux
}

// inProcessClient answers every request with h, in the requesting
// goroutine.
func inProcessClient(h http.Handler) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		resp := rec.Result()
		resp.Request = r
		return resp, nil
	})}
}

// issuer is the fake's issuer identifier, with a trailing slash like
// Portcullis and Auth0.
func (f *fakeIssuer) issuer() string { return f.url + "/" }

func (f *fakeIssuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	f.discoveryHits.Add(1)
	f.mu.Lock()
	doc := f.discovery
	f.mu.Unlock()
	if doc == nil {
		doc, _ = json.Marshal(map[string]string{"issuer": f.issuer(), "jwks_uri": f.url + "/jwks.json"})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}

func (f *fakeIssuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	f.jwksHits.Add(1)
	select {
	case f.arrived <- struct{}{}:
	default:
	}
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	f.mu.Lock()
	body, status := f.jwks, f.status
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if status != 0 {
		w.WriteHeader(status)
	}
	w.Write(body)
}

func (f *fakeIssuer) setJWKS(doc []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jwks = doc
}

func (f *fakeIssuer) setStatus(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = status
}

func (f *fakeIssuer) setDiscovery(doc []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.discovery = doc
}

// hold makes JWKS requests wait until the returned function is called.
func (f *fakeIssuer) hold() (release func()) {
	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		f.gate = nil
		f.mu.Unlock()
		close(gate)
	}
}

// fetchResults records OnFetch calls.
type fetchResults struct {
	mu      sync.Mutex
	results []bool
	ch      chan bool
}

func newFetchResults() *fetchResults { return &fetchResults{ch: make(chan bool, 1000)} }

func (r *fetchResults) record(ok bool) {
	r.mu.Lock()
	r.results = append(r.results, ok)
	r.mu.Unlock()
	select {
	case r.ch <- ok:
	default:
	}
}

func (r *fetchResults) get() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.results)
}

// start makes an Issuer for f, filling in cfg.Issuer, and waits until it is
// ready.
func start(t *testing.T, f *fakeIssuer, cfg Config) *Issuer {
	t.Helper()
	is := startUnready(t, f, cfg)
	waitReady(t, is)
	return is
}

func startUnready(t *testing.T, f *fakeIssuer, cfg Config) *Issuer {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = f.issuer()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = f.client
	}
	is, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return is
}

func waitReady(t *testing.T, is *Issuer) {
	t.Helper()
	select {
	case <-is.Ready():
	case <-time.After(waitFor):
		t.Fatal("issuer not ready")
	}
}

func isReady(is *Issuer) bool {
	select {
	case <-is.Ready():
		return true
	default:
		return false
	}
}

// fakeClock is a time that moves only when a test moves it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func kids(is *Issuer) []string { return keyIDs(is.PublicKeys()) }

func wantKids(t *testing.T, is *Issuer, want ...string) {
	t.Helper()
	if got := kids(is); !slices.Equal(got, want) {
		t.Fatalf("kids = %v, want %v", got, want)
	}
}

func wantHits(t *testing.T, f *fakeIssuer, want int64) {
	t.Helper()
	if got := f.jwksHits.Load(); got != want {
		t.Fatalf("JWKS requests = %d, want %d", got, want)
	}
}

// roundTripFunc lets a test answer HTTP requests without a network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNew(t *testing.T) {
	// The transport waits for the request's end, so New would hang if it
	// did network I/O itself.
	blocking := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	})}
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "https", cfg: Config{Issuer: "https://tenant.eu.auth0.com/"}},
		{name: "https without trailing slash", cfg: Config{Issuer: "https://keycloak.example.com/realms/main"}},
		{name: "http to 127.0.0.1", cfg: Config{Issuer: "http://127.0.0.1:8080/"}},
		{name: "http to ::1", cfg: Config{Issuer: "http://[::1]:8080/"}},
		{name: "http to localhost", cfg: Config{Issuer: "http://LocalHost/"}},
		{name: "missing", cfg: Config{}, wantErr: "issuer is required"},
		{name: "http to another host", cfg: Config{Issuer: "http://example.com/"}, wantErr: "use https"},
		{name: "http to a name under localhost", cfg: Config{Issuer: "http://localhost.example.com/"}, wantErr: "use https"},
		{name: "other scheme", cfg: Config{Issuer: "ftp://example.com/"}, wantErr: "not https"},
		{name: "relative", cfg: Config{Issuer: "/issuer/"}, wantErr: "absolute"},
		{name: "no host", cfg: Config{Issuer: "https:///x"}, wantErr: "absolute"},
		{name: "query", cfg: Config{Issuer: "https://example.com/?tenant=a"}, wantErr: "query or fragment"},
		{name: "empty query", cfg: Config{Issuer: "https://example.com/?"}, wantErr: "query or fragment"},
		{name: "fragment", cfg: Config{Issuer: "https://example.com/#a"}, wantErr: "query or fragment"},
		{name: "negative refresh interval", cfg: Config{Issuer: "https://example.com/", RefreshInterval: -time.Second}, wantErr: "negative"},
		{name: "negative unknown kid interval", cfg: Config{Issuer: "https://example.com/", UnknownKIDInterval: -time.Second}, wantErr: "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.HTTPClient = blocking
			is, err := New(t.Context(), tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if n := is.PublicKeys().Len(); n != 0 || isReady(is) {
				t.Fatalf("before any fetch: %d keys, ready %v", n, isReady(is))
			}
		})
	}
}

func TestInitialFetchAndReady(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	f := newFakeIssuer(t, a.pub)
	release := f.hold()
	is := startUnready(t, f, Config{})
	select {
	case <-f.arrived:
	case <-time.After(waitFor):
		t.Fatal("no JWKS request")
	}
	if isReady(is) || is.PublicKeys() == nil || is.PublicKeys().Len() != 0 {
		t.Fatal("ready, or keys not an empty set, before the first fetch finished")
	}
	release()
	waitReady(t, is)
	wantKids(t, is, "a")
	key, _ := is.PublicKeys().LookupKeyID("a")
	if key.Algorithm() != jwa.RS256 {
		t.Fatalf("alg = %v, want RS256", key.Algorithm())
	}
	if d := f.discoveryHits.Load(); d != 1 {
		t.Fatalf("discovery requests = %d, want 1", d)
	}
}

func TestDiscoveryRefused(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	for _, tc := range []struct {
		name    string
		doc     func(f *fakeIssuer) []byte
		wantLog string
	}{
		{
			name: "other issuer",
			doc: func(f *fakeIssuer) []byte {
				return discoveryDoc(t, "https://evil.example.com/", f.srv.URL+"/jwks.json")
			},
			wantLog: "refusing it",
		},
		{
			name:    "issuer without the trailing slash",
			doc:     func(f *fakeIssuer) []byte { return discoveryDoc(t, f.srv.URL, f.srv.URL+"/jwks.json") },
			wantLog: "refusing it",
		},
		{
			name:    "no jwks_uri",
			doc:     func(f *fakeIssuer) []byte { return discoveryDoc(t, f.issuer(), "") },
			wantLog: "no jwks_uri",
		},
		{
			name:    "jwks_uri over http to another host",
			doc:     func(f *fakeIssuer) []byte { return discoveryDoc(t, f.issuer(), "http://keys.example.com/jwks.json") },
			wantLog: "use https",
		},
		{
			name:    "relative jwks_uri",
			doc:     func(f *fakeIssuer) []byte { return discoveryDoc(t, f.issuer(), "/jwks.json") },
			wantLog: "absolute",
		},
		{
			name:    "not JSON",
			doc:     func(*fakeIssuer) []byte { return []byte("<html>") },
			wantLog: "parsing discovery document",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIssuer(t, a.pub)
			f.setDiscovery(tc.doc(f))
			core, logs := observer.New(zapcore.WarnLevel)
			results := newFetchResults()
			is := startUnready(t, f, Config{Logger: zap.New(core), OnFetch: results.record})
			select {
			case ok := <-results.ch:
				if ok {
					t.Fatal("fetch succeeded")
				}
			case <-time.After(waitFor):
				t.Fatal("no fetch attempt")
			}
			if isReady(is) || is.PublicKeys().Len() != 0 {
				t.Fatal("keys from a refused discovery document")
			}
			wantHits(t, f, 0)
			if logs.FilterMessageSnippet("failed").FilterFieldKey("error").Len() == 0 ||
				!strings.Contains(logs.All()[0].ContextMap()["error"].(string), tc.wantLog) {
				t.Fatalf("logs = %v, want a warning containing %q", logs.All(), tc.wantLog)
			}
		})
	}
}

func discoveryDoc(t *testing.T, issuer, jwksURI string) []byte {
	t.Helper()
	doc := map[string]string{"issuer": issuer}
	if jwksURI != "" {
		doc["jwks_uri"] = jwksURI
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRotationThroughRefreshForKID(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	b := newSigningKey(t, ecA, "b", jwa.ES256)
	f := newFakeIssuer(t, a.pub)
	is := start(t, f, Config{})
	f.setJWKS(jwks(t, b.pub, a.pub))
	is.RefreshForKID(t.Context(), "b")
	wantKids(t, is, "b", "a")
	wantHits(t, f, 2)
}

func TestRefreshForKIDRateLimit(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	t.Run("many unknown kids within the interval cause one fetch", func(t *testing.T) {
		f := newFakeIssuer(t, a.pub)
		is := start(t, f, Config{UnknownKIDInterval: time.Hour})
		for i := range 50 {
			is.RefreshForKID(t.Context(), fmt.Sprintf("unknown-%d", i))
		}
		wantHits(t, f, 2)
	})
	t.Run("a fetch again once the interval is over", func(t *testing.T) {
		f := newFakeIssuer(t, a.pub)
		clock := newFakeClock()
		is := start(t, f, Config{UnknownKIDInterval: time.Minute, Now: clock.now})
		is.RefreshForKID(t.Context(), "x")
		clock.advance(time.Minute - time.Nanosecond)
		is.RefreshForKID(t.Context(), "y")
		wantHits(t, f, 2)
		clock.advance(time.Nanosecond)
		is.RefreshForKID(t.Context(), "z")
		wantHits(t, f, 3)
	})
	t.Run("known and empty kids cause no fetch", func(t *testing.T) {
		f := newFakeIssuer(t, a.pub)
		is := start(t, f, Config{UnknownKIDInterval: time.Nanosecond})
		is.RefreshForKID(t.Context(), "a")
		is.RefreshForKID(t.Context(), "")
		wantHits(t, f, 1)
	})
}

func TestRefreshForKIDConcurrentCallersShareOneFetch(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	b := newSigningKey(t, rsaB, "b", jwa.PS256)
	synctest.Test(t, func(t *testing.T) {
		f := newInProcessIssuer(t, a.pub)
		// No rate limit to speak of: only sharing can keep this to one
		// fetch.
		is := start(t, f, Config{UnknownKIDInterval: time.Nanosecond})
		f.setJWKS(jwks(t, a.pub, b.pub))
		release := f.hold()
		var wg sync.WaitGroup
		var missed atomic.Int64
		for range 20 {
			wg.Go(func() {
				is.RefreshForKID(t.Context(), "b")
				if _, ok := is.PublicKeys().LookupKeyID("b"); !ok {
					missed.Add(1)
				}
			})
		}
		// Every caller is waiting now, on the one held JWKS request.
		synctest.Wait()
		wantHits(t, f, 2)
		release()
		wg.Wait()
		if n := missed.Load(); n != 0 {
			t.Fatalf("%d callers returned without the new key", n)
		}
		wantHits(t, f, 2)
	})
}

func TestRefreshForKIDWaitsAtMostUntilCtxIsDone(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	b := newSigningKey(t, rsaB, "b", jwa.RS256)
	synctest.Test(t, func(t *testing.T) {
		f := newInProcessIssuer(t, a.pub)
		is := start(t, f, Config{})
		f.setJWKS(jwks(t, b.pub))
		release := f.hold()
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		began := time.Now()
		is.RefreshForKID(ctx, "b")
		if d := time.Since(began); d != 50*time.Millisecond {
			t.Fatalf("RefreshForKID returned after %v, want 50ms", d)
		}
		wantKids(t, is, "a")
		// The fetch goes on without the caller who gave up.
		release()
		synctest.Wait()
		wantKids(t, is, "b")
	})
}

func TestSetLogger(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	b := newSigningKey(t, rsaB, "b", jwa.RS256)
	f := newFakeIssuer(t, a.pub)
	first, firstLogs := observer.New(zapcore.InfoLevel)
	is := start(t, f, Config{Logger: zap.New(first)})
	second, secondLogs := observer.New(zapcore.InfoLevel)
	is.SetLogger(zap.New(second))
	f.setJWKS(jwks(t, b.pub))
	is.RefreshForKID(t.Context(), "b")
	loaded := func(logs *observer.ObservedLogs) int { return logs.FilterMessage("loaded the issuer's keys").Len() }
	if n, m := loaded(firstLogs), loaded(secondLogs); n != 1 || m != 1 {
		t.Fatalf("key set loads logged: %d to the first logger, %d to the second; want the first load to the first, the second to the second", n, m)
	}
	if got := secondLogs.All()[0].ContextMap()["issuer"]; got != f.issuer() {
		t.Fatalf("issuer field = %v, want %s", got, f.issuer())
	}
}

func TestFailedFetchKeepsLastGoodKeys(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	b := newSigningKey(t, rsaB, "b", jwa.RS256)
	secret, err := jwk.FromRaw([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	secret.Set(jwk.KeyIDKey, "hs")
	secret.Set(jwk.AlgorithmKey, jwa.HS256)
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, f *fakeIssuer)
	}{
		{"status 500", func(t *testing.T, f *fakeIssuer) { f.setStatus(http.StatusInternalServerError) }},
		{"status 404", func(t *testing.T, f *fakeIssuer) { f.setStatus(http.StatusNotFound) }},
		{"issuer down", func(t *testing.T, f *fakeIssuer) { f.srv.Close() }},
		{"not JSON", func(t *testing.T, f *fakeIssuer) { f.setJWKS([]byte("<html>maintenance</html>")) }},
		{"truncated JSON", func(t *testing.T, f *fakeIssuer) { f.setJWKS(jwks(t, b.pub)[:40]) }},
		{"keys not an array", func(t *testing.T, f *fakeIssuer) { f.setJWKS([]byte(`{"keys":"b"}`)) }},
		{"no keys member", func(t *testing.T, f *fakeIssuer) { f.setJWKS([]byte(`{}`)) }},
		{"empty key set", func(t *testing.T, f *fakeIssuer) { f.setJWKS(jwks(t)) }},
		{"no usable keys", func(t *testing.T, f *fakeIssuer) { f.setJWKS(jwks(t, secret, b.priv)) }},
		{"larger than 1 MiB", func(t *testing.T, f *fakeIssuer) {
			f.setJWKS(append(jwks(t, b.pub), strings.Repeat(" ", maxResponseSize)...))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIssuer(t, a.pub)
			results := newFetchResults()
			is := start(t, f, Config{OnFetch: results.record})
			f.setJWKS(jwks(t, b.pub))
			tc.spoil(t, f)
			is.RefreshForKID(t.Context(), "b")
			wantKids(t, is, "a")
			if got := results.get(); !slices.Equal(got, []bool{true, false}) {
				t.Fatalf("OnFetch calls = %v, want [true false]", got)
			}
		})
	}
}

func TestKeyHygiene(t *testing.T) {
	good := newSigningKey(t, rsaA, "good", jwa.RS256)
	// variant returns the public key of raw with kid and alg, changed by edit.
	variant := func(raw any, alg jwa.SignatureAlgorithm, edit func(jwk.Key)) any {
		k := newSigningKey(t, raw, "tested", alg).pub
		if edit != nil {
			edit(k)
		}
		return k
	}
	hs256, err := jwk.FromRaw([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	hs256.Set(jwk.KeyIDKey, "tested")
	hs256.Set(jwk.AlgorithmKey, jwa.HS256)
	for _, tc := range []struct {
		name string
		key  any
		// drop is what the log says about the dropped key; "" when the
		// key is kept.
		drop string
		// warn is whether that is a warning (secrets were published).
		warn bool
	}{
		{name: "RSA RS256", key: variant(rsaB, jwa.RS256, nil)},
		{name: "RSA PS256", key: variant(rsaB, jwa.PS256, nil)},
		{name: "EC ES256 with use sig", key: variant(ecA, jwa.ES256, func(k jwk.Key) { k.Set(jwk.KeyUsageKey, "sig") })},
		{name: "RSA private key", key: newSigningKey(t, rsaB, "tested", jwa.RS256).priv, drop: "private or secret", warn: true},
		{name: "EC private key", key: newSigningKey(t, ecA, "tested", jwa.ES256).priv, drop: "private or secret", warn: true},
		{name: "HS256 oct key", key: hs256, drop: "private or secret", warn: true},
		{name: "no alg", key: variant(rsaB, jwa.RS256, func(k jwk.Key) { k.Remove(jwk.AlgorithmKey) }), drop: "no alg"},
		{name: "no kid", key: variant(rsaB, jwa.RS256, func(k jwk.Key) { k.Remove(jwk.KeyIDKey) }), drop: "no kid"},
		{name: "alg not allowed", key: variant(rsaB, jwa.RS512, nil), drop: "alg RS512 is not one of"},
		{name: "encryption alg", key: variant(rsaB, jwa.RS256, func(k jwk.Key) { k.Set(jwk.AlgorithmKey, jwa.RSA_OAEP) }), drop: "alg RSA-OAEP is not one of"},
		{name: "use enc", key: variant(rsaB, jwa.RS256, func(k jwk.Key) { k.Set(jwk.KeyUsageKey, "enc") }), drop: `use is "enc"`},
		{name: "RSA key with ES256", key: variant(rsaB, jwa.ES256, nil), drop: "does not fit an RSA key"},
		{name: "EC key with RS256", key: variant(ecA, jwa.RS256, nil), drop: "does not fit an EC key"},
		{name: "P-384 key with ES256", key: variant(ecP384, jwa.ES256, nil), drop: "does not fit an EC key on curve P-384"},
		{name: "1024-bit RSA", key: variant(rsaWeak, jwa.RS256, nil), drop: "1024 bits"},
		{name: "same kid as another key", key: variant(rsaB, jwa.RS256, func(k jwk.Key) { k.Set(jwk.KeyIDKey, "good") }), drop: "same kid"},
		{name: "unknown key type", key: map[string]string{"kty": "XYZ", "kid": "tested", "alg": "RS256"}, drop: "unparsable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIssuer(t, good.pub, tc.key)
			core, logs := observer.New(zapcore.InfoLevel)
			is := start(t, f, Config{Logger: zap.New(core)})
			drops := logs.FilterMessageSnippet("dropped").All()
			if tc.drop == "" {
				wantKids(t, is, "good", "tested")
				if len(drops) != 0 {
					t.Fatalf("dropped a usable key: %v", drops)
				}
				return
			}
			wantKids(t, is, "good")
			if len(drops) != 1 {
				t.Fatalf("%d drops logged, want 1: %v", len(drops), logs.All())
			}
			said := drops[0].Message + " " + fmt.Sprint(drops[0].ContextMap()["reason"])
			if !strings.Contains(said, tc.drop) || (drops[0].Level == zapcore.WarnLevel) != tc.warn {
				t.Fatalf("logged %s %q, want %q (warning %v)", drops[0].Level, said, tc.drop, tc.warn)
			}
		})
	}
}

func TestBackgroundRefresh(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	b := newSigningKey(t, rsaB, "b", jwa.RS256)
	synctest.Test(t, func(t *testing.T) {
		f := newInProcessIssuer(t, a.pub)
		is := start(t, f, Config{})
		f.setJWKS(jwks(t, b.pub))
		time.Sleep(defaultRefreshInterval - time.Nanosecond)
		synctest.Wait()
		wantKids(t, is, "a")
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		wantKids(t, is, "b")
		wantHits(t, f, 2)
	})
}

func TestRetriesUntilTheIssuerAnswers(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	synctest.Test(t, func(t *testing.T) {
		f := newInProcessIssuer(t, a.pub)
		f.setStatus(http.StatusServiceUnavailable)
		results := newFetchResults()
		is := startUnready(t, f, Config{OnFetch: results.record})
		// Fetches at once, then after 1s and 2s more: the backoff doubles.
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if got := results.get(); !slices.Equal(got, []bool{false, false, false}) || isReady(is) {
			t.Fatalf("after 3s of failures: OnFetch calls %v, ready %v; want three failures, not ready", got, isReady(is))
		}
		f.setStatus(0)
		// The next retry, 4s after the third.
		time.Sleep(4*time.Second - time.Nanosecond)
		synctest.Wait()
		if isReady(is) {
			t.Fatal("ready before the fourth attempt")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if !isReady(is) {
			t.Fatal("not ready after the fourth attempt")
		}
		wantKids(t, is, "a")
		if d := f.discoveryHits.Load(); d != 1 {
			t.Fatalf("discovery requests = %d, want 1: the jwks_uri is kept", d)
		}
	})
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		refresh    time.Duration
		last, want time.Duration
	}{
		{refresh: 5 * time.Minute, last: 0, want: time.Second},
		{refresh: 5 * time.Minute, last: time.Second, want: 2 * time.Second},
		{refresh: 5 * time.Minute, last: 32 * time.Second, want: time.Minute},
		{refresh: 5 * time.Minute, last: time.Minute, want: time.Minute},
		{refresh: 3 * time.Second, last: 2 * time.Second, want: 3 * time.Second},
		{refresh: 50 * time.Millisecond, last: 0, want: 50 * time.Millisecond},
		{refresh: 50 * time.Millisecond, last: 50 * time.Millisecond, want: 50 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("%v after %v", tc.refresh, tc.last), func(t *testing.T) {
			is := &Issuer{refresh: tc.refresh}
			if got := is.backoff(tc.last); got != tc.want {
				t.Fatalf("backoff = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRefreshAfter(t *testing.T) {
	for _, tc := range []struct {
		name         string
		cacheControl []string
		want         time.Duration
	}{
		{name: "none", want: 7 * time.Minute},
		{name: "max-age", cacheControl: []string{"public, max-age=300"}, want: 5 * time.Minute},
		{name: "Auth0 style", cacheControl: []string{"public, max-age=15, stale-while-revalidate=15, stale-if-error=86400"}, want: time.Minute},
		{name: "max-age 0", cacheControl: []string{"max-age=0"}, want: time.Minute},
		{name: "a week", cacheControl: []string{"max-age=604800"}, want: 24 * time.Hour},
		{name: "huge", cacheControl: []string{"max-age=18446744073709551615"}, want: 24 * time.Hour},
		{name: "in a second header", cacheControl: []string{"public", "max-age=7200"}, want: 2 * time.Hour},
		{name: "no max-age", cacheControl: []string{"no-cache"}, want: 7 * time.Minute},
		{name: "malformed", cacheControl: []string{"max-age=soon"}, want: 7 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.cacheControl {
				h.Add("Cache-Control", v)
			}
			is := &Issuer{refresh: 7 * time.Minute}
			if got := is.refreshAfter(h); got != tc.want {
				t.Fatalf("refreshAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCancelStops(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	synctest.Test(t, func(t *testing.T) {
		f := newInProcessIssuer(t, a.pub)
		ctx, cancel := context.WithCancel(t.Context())
		is, err := New(ctx, Config{Issuer: f.issuer(), HTTPClient: f.client, RefreshInterval: time.Minute, UnknownKIDInterval: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		waitReady(t, is)
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		wantHits(t, f, 4) // at start and three refreshes
		cancel()
		is.RefreshForKID(t.Context(), "unknown")
		time.Sleep(time.Hour)
		synctest.Wait()
		wantHits(t, f, 4)
		wantKids(t, is, "a")
	})
}

// TestRedirects serves an https issuer that is not on a loopback address
// through an in-process transport given as HTTPClient.
func TestRedirects(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	const issuer = "https://issuer.test/"
	for _, tc := range []struct {
		name string
		// hops are where the JWKS redirects to in turn; the last serves it.
		hops  []string
		ready bool
	}{
		{name: "to https", hops: []string{"https://cdn.test/jwks.json"}, ready: true},
		{name: "to plain http", hops: []string{"http://cdn.test/jwks.json"}},
		// Whoever is on a plain-http hop's path could send the fetch on
		// to any https URL: every hop is checked, not only the last.
		{name: "through plain http to https", hops: []string{"http://cdn.test/jwks.json", "https://attacker.test/jwks.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			routes := map[string]http.HandlerFunc{
				"https://issuer.test/.well-known/openid-configuration": func(w http.ResponseWriter, r *http.Request) {
					w.Write(discoveryDoc(t, issuer, "https://issuer.test/jwks.json"))
				},
			}
			from := "https://issuer.test/jwks.json"
			for _, hop := range tc.hops {
				routes[from] = func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, hop, http.StatusFound) }
				from = hop
			}
			routes[from] = func(w http.ResponseWriter, r *http.Request) { w.Write(jwks(t, a.pub)) }
			client := inProcessClient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h, ok := routes[r.URL.String()]
				if !ok {
					http.Error(w, "no route to "+r.URL.String(), http.StatusBadGateway)
					return
				}
				h(w, r)
			}))
			core, logs := observer.New(zapcore.WarnLevel)
			results := newFetchResults()
			is, err := New(t.Context(), Config{Issuer: issuer, HTTPClient: client, Logger: zap.New(core), OnFetch: results.record})
			if err != nil {
				t.Fatal(err)
			}
			if ok := <-results.ch; ok != tc.ready {
				t.Fatalf("fetch ok = %v, want %v; logs %v", ok, tc.ready, logs.All())
			}
			if tc.ready {
				waitReady(t, is)
				wantKids(t, is, "a")
				return
			}
			if isReady(is) || logs.FilterFieldKey("error").Len() == 0 {
				t.Fatalf("ready %v after a refused redirect; logs %v", isReady(is), logs.All())
			}
		})
	}
}

const audience = "https://api.example.com/"

// sign makes an access token for f's issuer signed with k.
func sign(t *testing.T, issuer string, k signingKey) string {
	t.Helper()
	now := time.Now()
	payload, err := json.Marshal(map[string]any{
		"iss": issuer, "sub": "c1@clients", "aud": audience, "azp": "c1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	h.Set(jws.KeyIDKey, k.priv.KeyID())
	h.Set(jws.TypeKey, tokens.TypeJWT)
	tok, err := jws.Sign(payload, jws.WithKey(k.priv.Algorithm(), k.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

func TestVerifierWithRemoteIssuer(t *testing.T) {
	a := newSigningKey(t, rsaA, "a", jwa.RS256)
	b := newSigningKey(t, ecA, "b", jwa.ES256)
	attacker := newSigningKey(t, ecB, "c", jwa.ES256)
	f := newFakeIssuer(t, a.pub)
	is := start(t, f, Config{})
	v := &tokens.Verifier{Issuer: f.issuer(), Keys: is}

	claims, err := v.Verify(t.Context(), sign(t, f.issuer(), a), audience)
	if err != nil {
		t.Fatalf("token signed with a: %v", err)
	}
	if claims.KID != "a" || claims.ClientID != "c1" {
		t.Fatalf("claims = %+v", claims)
	}
	wantHits(t, f, 1)

	// The issuer rotates from a to b and stops publishing a.
	f.setJWKS(jwks(t, b.pub))
	if _, err := v.Verify(t.Context(), sign(t, f.issuer(), b), audience); err != nil {
		t.Fatalf("token signed with the rotated-in b: %v", err)
	}
	wantHits(t, f, 2)
	if _, err := v.Verify(t.Context(), sign(t, f.issuer(), a), audience); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("token signed with the retired a: %v, want ErrInvalidToken", err)
	}
	// An unknown kid right after a fetch is refused without another one.
	if _, err := v.Verify(t.Context(), sign(t, f.issuer(), attacker), audience); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("token signed with an unpublished key: %v, want ErrInvalidToken", err)
	}
	wantHits(t, f, 2)
}
