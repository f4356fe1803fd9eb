package authserver

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
)

// issuingServer is a server (rate limits off) with one client granted an
// ES256 API, and the form of a client_credentials request for it.
func issuingServer(tb testing.TB) (*Server, string) {
	ctx := tb.Context()
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "slots.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	off := RateLimits{TokenPerIP: RateLimitOff, TokenPerClient: RateLimitOff}
	s, err := New(ctx, Config{Issuer: "https://auth.example.com/", Store: st, RateLimits: off})
	if err != nil {
		tb.Fatal(err)
	}
	const secret = "slots-secret-0123456789abcdefghijklmnop"
	c := &clients.Client{ClientID: "slots", Name: "slots", AppType: clients.AppNonInteractive, SecretHash: s.hasher.Hash(secret)}
	c.ApplyDefaults()
	if err := st.CreateClient(ctx, c); err != nil {
		tb.Fatal(err)
	}
	api := &access.ResourceServer{ID: "api", Identifier: "https://api.example.com/", SigningAlg: "ES256",
		Scopes: []access.Scope{{Value: "read:orders"}}}
	api.ApplyDefaults()
	if err := st.CreateResourceServer(ctx, api); err != nil {
		tb.Fatal(err)
	}
	if err := st.CreateClientGrant(ctx, &access.ClientGrant{ID: "cgr_api", ClientID: c.ClientID, Audience: api.Identifier,
		SubjectType: access.SubjectClient, Scope: []string{"read:orders"}}); err != nil {
		tb.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {secret},
		"audience": {api.Identifier}}.Encode()
	return s, form
}

// tokenRequestIn sends a token request under ctx in a goroutine; its
// response comes on the channel once the handler returns.
func tokenRequestIn(ctx context.Context, s *Server, form string) <-chan *httptest.ResponseRecorder {
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/oauth/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		done <- rec
	}()
	return done
}

// fillSlots takes every issuing slot, as requests being served would, and
// makes queued report each request that starts waiting.
func fillSlots(t *testing.T, s *Server) (n int, queued <-chan struct{}) {
	n = s.issuing.free
	if n != runtime.GOMAXPROCS(0) {
		t.Fatalf("%d free issuing slots, want GOMAXPROCS (%d)", n, runtime.GOMAXPROCS(0))
	}
	for range n {
		if err := s.issuing.acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	q := make(chan struct{})
	s.issuing.queued = func() { q <- struct{}{} }
	return n, q
}

// checkSlots fails unless free slots are free and waiting requests wait.
func checkSlots(t *testing.T, s *Server, free, waiting int) {
	t.Helper()
	s.issuing.mu.Lock()
	defer s.issuing.mu.Unlock()
	if s.issuing.free != free || s.issuing.waiting.Len() != waiting {
		t.Fatalf("%d free slots and %d waiting, want %d and %d", s.issuing.free, s.issuing.waiting.Len(), free, waiting)
	}
}

func issuedToken(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	var resp tokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); rec.Code != http.StatusOK || err != nil || resp.AccessToken == "" {
		t.Fatalf("want a token: %d %s", rec.Code, rec.Body)
	}
}

// With every slot taken, a token request waits until one is released, then
// is issued its token; requests are served in arrival order.
func TestTokenWaitsForSlot(t *testing.T) {
	s, form := issuingServer(t)
	n, queued := fillSlots(t, s)
	first := tokenRequestIn(t.Context(), s, form)
	<-queued
	second := tokenRequestIn(t.Context(), s, form)
	<-queued
	checkSlots(t, s, 0, 2)

	s.issuing.release()
	issuedToken(t, <-first)
	// first's slot went on to second, which was next.
	issuedToken(t, <-second)
	checkSlots(t, s, 1, 0)
	for range n - 1 {
		s.issuing.release()
	}
	checkSlots(t, s, n, 0)
}

// A waiting request whose client goes away leaves the queue with no slot
// and no token: the one behind it keeps waiting until a slot is released.
func TestTokenWaiterLeaves(t *testing.T) {
	s, form := issuingServer(t)
	n, queued := fillSlots(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	leaving := tokenRequestIn(ctx, s, form)
	<-queued
	staying := tokenRequestIn(t.Context(), s, form)
	<-queued

	cancel()
	rec := <-leaving
	var resp struct {
		Error       string `json:"error"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != http.StatusServiceUnavailable ||
		resp.Error != "temporarily_unavailable" || resp.AccessToken != "" {
		t.Fatalf("the request that left: %d %s", rec.Code, rec.Body)
	}
	checkSlots(t, s, 0, 1)

	s.issuing.release()
	issuedToken(t, <-staying)
	for range n - 1 {
		s.issuing.release()
	}
	checkSlots(t, s, n, 0)
}

// A client that goes away after its body is read, while a slot is free,
// is answered temporarily_unavailable, not server_error, when the database
// refuses to read for its ended request; it is issued nothing and keeps no
// slot.
func TestTokenClientGoneWithSlotFree(t *testing.T) {
	s, form := issuingServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rec := <-tokenRequestIn(ctx, s, form)
	var resp struct {
		Error       string `json:"error"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != http.StatusServiceUnavailable ||
		resp.Error != "temporarily_unavailable" || resp.AccessToken != "" {
		t.Fatalf("the request that left: %d %s", rec.Code, rec.Body)
	}
	checkSlots(t, s, runtime.GOMAXPROCS(0), 0)
	// The server goes on issuing.
	issuedToken(t, <-tokenRequestIn(t.Context(), s, form))
}

// A waiter whose context ends as it is given the slot either keeps the
// slot (acquire returns nil) or passes it on: none is lost or made up.
func TestSlotGrantedAsWaiterLeaves(t *testing.T) {
	for range 100 {
		sl := newSlots(1)
		if err := sl.acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		queued := make(chan struct{})
		sl.queued = func() { close(queued) }
		ctx, cancel := context.WithCancel(t.Context())
		result := make(chan error)
		go func() { result <- sl.acquire(ctx) }()
		<-queued
		cancel()
		sl.release()
		if err := <-result; err == nil {
			sl.release()
		}
		if sl.free != 1 || sl.waiting.Len() != 0 {
			t.Fatalf("%d free and %d waiting, want 1 and 0", sl.free, sl.waiting.Len())
		}
	}
}

// BenchmarkTokenEndpointLoad saturates the token endpoint (ES256) over
// HTTPS with 32 keep-alive connections and reports the latency's p50 and
// p99, with GOMAXPROCS issuing slots and without a bound.
func BenchmarkTokenEndpointLoad(b *testing.B) {
	const connections = 32
	for _, bc := range []struct {
		name  string
		slots int
	}{{"slots", runtime.GOMAXPROCS(0)}, {"unbounded", 1 << 30}} {
		b.Run(bc.name, func(b *testing.B) {
			s, form := issuingServer(b)
			s.issuing = newSlots(bc.slots)
			srv := httptest.NewUnstartedServer(s.Handler())
			srv.StartTLS()
			defer srv.Close()
			client := srv.Client()
			defer client.CloseIdleConnections()
			tr := client.Transport.(*http.Transport)
			tr.MaxIdleConnsPerHost = connections
			tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(connections)
			request := func() (time.Duration, error) {
				start := time.Now()
				resp, err := client.Post(srv.URL+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form))
				if err != nil {
					return 0, err
				}
				var body tokenResponse
				err = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if err == nil && body.AccessToken == "" {
					err = errNoToken
				}
				return time.Since(start), err
			}
			// Every connection open (its TLS handshake done) before the timer.
			var wg sync.WaitGroup
			for range connections {
				wg.Go(func() {
					if _, err := request(); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
			var next atomic.Int64
			latencies := make([][]time.Duration, connections)
			b.ResetTimer()
			for i := range connections {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						d, err := request()
						if err != nil {
							b.Error(err)
							return
						}
						latencies[i] = append(latencies[i], d)
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			all := slices.Sorted(slices.Values(slices.Concat(latencies...)))
			if len(all) == 0 {
				return
			}
			at := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))]) / 1e6 }
			b.ReportMetric(at(0.50), "p50-ms")
			b.ReportMetric(at(0.99), "p99-ms")
			b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "req/s")
		})
	}
}

var errNoToken = errors.New("the response holds no access_token")
