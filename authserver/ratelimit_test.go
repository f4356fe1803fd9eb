package authserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
)

// ipHeader carries the client IP address of a test request: the servers
// of these tests take it as the embedding server's decision.
const ipHeader = "X-Test-Addr"

func headerIP(r *http.Request) string { return r.Header.Get(ipHeader) }

// newRateLimitEnv is an environment with the limits, taking client
// addresses from ipHeader, whose clock is at the start of a minute: a
// fresh rate-limit window, and a whole minute of it.
func newRateLimitEnv(t *testing.T, limits authserver.RateLimits) *env {
	t.Helper()
	e := newEnvWith(t, func(cfg *authserver.Config) {
		cfg.RateLimits = limits
		cfg.ClientIP = headerIP
	})
	e.nextMinute()
	return e
}

// nextMinute moves the server's clock to the start of the next minute.
func (e *env) nextMinute() {
	now := e.now()
	e.skew.Add(int64(now.Truncate(time.Minute).Add(time.Minute).Sub(now)))
}

// clientCredentials asks for a Management API token from ip, with the
// credentials in the body.
func (e *env) clientCredentials(t *testing.T, ip string, c authserver.Credentials) reply {
	t.Helper()
	return e.post(t, "oauth/token", http.Header{ipHeader: {ip}},
		"grant_type", "client_credentials", "client_id", c.ClientID, "client_secret", c.ClientSecret, "audience", e.mgmtAudience())
}

func wantStatus(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %s, want %d", r, status)
	}
}

// wantRateLimited checks a token endpoint's refusal for a rate limit.
func wantRateLimited(t *testing.T, r reply, description string) {
	t.Helper()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	r.decode(t, &body)
	if r.status != http.StatusTooManyRequests || body.Error != "too_many_requests" || body.Description != description {
		t.Fatalf("got %s, want 429 too_many_requests %q", r, description)
	}
	wantRetryAfter(t, r.header)
}

func wantRetryAfter(t *testing.T, h http.Header) int {
	t.Helper()
	retry, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Fatalf("Retry-After %q, want 1 to 60 seconds", h.Get("Retry-After"))
	}
	return retry
}

const (
	ipLimited     = "Rate limit exceeded: too many requests from your IP address."
	clientLimited = "Rate limit exceeded: too many requests for this client."
)

func TestTokenRateLimitPerIP(t *testing.T) {
	t.Parallel()
	e := newRateLimitEnv(t, authserver.RateLimits{TokenPerIP: 3, TokenPerClient: authserver.RateLimitOff})
	for range 3 {
		wantStatus(t, e.clientCredentials(t, "192.0.2.1", e.admin), http.StatusOK)
	}
	wantRateLimited(t, e.clientCredentials(t, "192.0.2.1", e.admin), ipLimited)
	// The revocation endpoint counts along.
	wantRateLimited(t, e.post(t, "oauth/revoke", http.Header{ipHeader: {"192.0.2.1"}},
		"client_id", e.admin.ClientID, "client_secret", e.admin.ClientSecret, "token", "t"), ipLimited)
	// Another address is not limited.
	wantStatus(t, e.clientCredentials(t, "192.0.2.2", e.admin), http.StatusOK)
	// The next minute is a new window.
	e.nextMinute()
	wantStatus(t, e.clientCredentials(t, "192.0.2.1", e.admin), http.StatusOK)
}

func TestTokenRateLimitPerClient(t *testing.T) {
	t.Parallel()
	e := newRateLimitEnv(t, authserver.RateLimits{TokenPerIP: authserver.RateLimitOff, TokenPerClient: 3})
	// Failed authentications count, from any address.
	wrong := authserver.Credentials{ClientID: e.admin.ClientID, ClientSecret: "guess"}
	for i := range 3 {
		wantStatus(t, e.clientCredentials(t, fmt.Sprintf("192.0.2.%d", i), wrong), http.StatusUnauthorized)
	}
	wantRateLimited(t, e.clientCredentials(t, "198.51.100.1", e.admin), clientLimited)
	// HTTP Basic credentials name the client too (the admin client uses
	// client_secret_post, but the limit comes first).
	basicAuth := http.Header{"Authorization": {basic(e.admin)}}
	wantRateLimited(t, e.post(t, "oauth/token", basicAuth, "grant_type", "client_credentials", "audience", e.mgmtAudience()), clientLimited)
	// Another client is not limited.
	other := e.createClient(t, obj{"name": uniq("m2m"), "app_type": "non_interactive"})
	wantStatus(t, e.clientCredentials(t, "198.51.100.1", authserver.Credentials{ClientID: other.ClientID, ClientSecret: "guess"}), http.StatusUnauthorized)
	e.nextMinute()
	wantStatus(t, e.clientCredentials(t, "198.51.100.1", e.admin), http.StatusOK)
}

// fromIP is a transport that sends requests as from an address.
type fromIP struct {
	ip   string
	next http.RoundTripper
}

func (f fromIP) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(ipHeader, f.ip)
	return f.next.RoundTrip(r)
}

// browserFrom is a browser at the address ip.
func (e *env) browserFrom(t *testing.T, ip string) *browser {
	b := e.browser(t)
	b.client.Transport = fromIP{ip, b.client.Transport}
	return b
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	e := newRateLimitEnv(t, authserver.RateLimits{LoginPerIP: 3})
	fx := e.newSigninFixture(t, nil)
	b := e.browserFrom(t, "192.0.2.1")
	p := b.authorize(fx.params())
	for range 3 {
		if r := b.login(p, fx.email, "wrong password!"); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %s", r)
		}
	}
	// Even the right password is refused now, on the login page.
	r := b.login(p, fx.email, userPassword)
	retry := wantRetryAfter(t, r.header)
	want := fmt.Sprintf("Too many sign-in attempts from your network. Try again in %d seconds.", retry)
	if retry == 60 {
		want = "Too many sign-in attempts from your network. Try again in 1 minute."
	}
	if r.status != http.StatusTooManyRequests || r.message() != want || !strings.Contains(r.body, `name="password"`) {
		t.Fatalf("4th sign-in in a minute: %d %q, want 429 and the login page saying %q", r.status, r.message(), want)
	}
	// Another address is not limited.
	ob := e.browserFrom(t, "192.0.2.2")
	wantRedirect(t, ob.login(ob.authorize(fx.params()), fx.email, userPassword), callback)
	e.nextMinute()
	wantRedirect(t, b.login(p, fx.email, userPassword), callback)
}

// TestRateLimitDefaultsAndOff checks the default limits, and that a
// negative limit is off, with requests that fail cheaply.
func TestRateLimitDefaultsAndOff(t *testing.T) {
	t.Parallel()
	nobody := func(i int) authserver.Credentials {
		return authserver.Credentials{ClientID: fmt.Sprintf("nobody-%d", i), ClientSecret: "guess"}
	}
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		e := newRateLimitEnv(t, authserver.RateLimits{TokenPerClient: authserver.RateLimitOff})
		for range 600 {
			wantStatus(t, e.clientCredentials(t, "192.0.2.1", nobody(0)), http.StatusUnauthorized)
		}
		wantRateLimited(t, e.clientCredentials(t, "192.0.2.1", nobody(0)), ipLimited)

		fx := e.newSigninFixture(t, nil)
		b := e.browserFrom(t, "192.0.2.1")
		p := b.authorize(fx.params())
		wantEmptyPasswords(t, b, p, 60)
		if r := b.login(p, fx.email, ""); r.status != http.StatusTooManyRequests {
			t.Fatalf("61st sign-in attempt in a minute: %s", r)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		e := newRateLimitEnv(t, authserver.RateLimits{TokenPerIP: authserver.RateLimitOff, LoginPerIP: -5})
		// 700 requests from one address, 300 of them naming nobody-0; one
		// more is over the default limit per client alone.
		for i := range 700 {
			client := 0
			if i < 600 {
				client = i % 3
			}
			wantStatus(t, e.clientCredentials(t, "192.0.2.1", nobody(client)), http.StatusUnauthorized)
		}
		wantRateLimited(t, e.clientCredentials(t, "192.0.2.1", nobody(0)), clientLimited)

		fx := e.newSigninFixture(t, nil)
		b := e.browserFrom(t, "192.0.2.1")
		p := b.authorize(fx.params())
		wantEmptyPasswords(t, b, p, 61)
	})
}

// wantEmptyPasswords submits the login page n times without a password,
// which costs no password check, and wants each refused as such.
func wantEmptyPasswords(t *testing.T, b *browser, p page, n int) {
	t.Helper()
	for i := range n {
		if r := b.login(p, "ann@example.com", ""); r.status != http.StatusBadRequest {
			t.Fatalf("sign-in attempt %d without a password: %s", i+1, r)
		}
	}
}

func TestRateLimitsSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	limits := authserver.RateLimits{TokenPerIP: 3}
	e := newRateLimitEnv(t, limits)
	// A second instance on the same database file.
	st, err := sqlite.Open(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := authserver.New(t.Context(), authserver.Config{Issuer: e.issuer, Store: st, RateLimits: limits, ClientIP: headerIP, Now: e.now})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(ts.Close)
	// The second instance serves the same issuer at another address.
	second := &env{ts: ts, issuer: ts.URL + "/"}
	atSecond := func() reply {
		return second.post(t, "oauth/token", http.Header{ipHeader: {"192.0.2.1"}}, "grant_type", "client_credentials",
			"client_id", e.admin.ClientID, "client_secret", e.admin.ClientSecret, "audience", e.mgmtAudience())
	}

	wantStatus(t, e.clientCredentials(t, "192.0.2.1", e.admin), http.StatusOK)
	wantStatus(t, atSecond(), http.StatusOK)
	wantStatus(t, e.clientCredentials(t, "192.0.2.1", e.admin), http.StatusOK)
	wantRateLimited(t, atSecond(), ipLimited)
	wantRateLimited(t, e.clientCredentials(t, "192.0.2.1", e.admin), ipLimited)
}

// uncounted is a store that cannot count hits, as when the database is
// down.
type uncounted struct{ storage.Store }

func (uncounted) CountHits(context.Context, string, time.Time, int) (int, error) {
	return 0, errors.New("database unreachable")
}

func TestRateLimitsFailOpen(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.WarnLevel)
	e := newEnvWith(t, func(cfg *authserver.Config) {
		cfg.Store = uncounted{cfg.Store}
		cfg.RateLimits = authserver.RateLimits{TokenPerIP: 1, TokenPerClient: 1}
		cfg.Logger = zap.New(core)
	})
	for range 3 {
		wantStatus(t, e.clientCredentials(t, "", e.admin), http.StatusOK)
	}
	// One warning a window (two if the requests straddle a minute), not
	// one a request.
	if n := logs.FilterMessage("rate limits not applied: requests could not be counted").Len(); n == 0 || n > 2 {
		t.Errorf("%d warnings that the rate limits were not applied, for 3 requests of two counts each; want one", n)
	}
}

// TestRateLimitsSurvivePurge checks that purging, with a brute-force
// window shorter than a minute, keeps the counts of the current minute.
func TestRateLimitsSurvivePurge(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(cfg *authserver.Config) {
		cfg.RateLimits = authserver.RateLimits{TokenPerIP: 2}
		cfg.BruteForce.Window = 10 * time.Second
	})
	e.nextMinute()
	e.skew.Add(int64(30 * time.Second))
	for range 2 {
		wantStatus(t, e.clientCredentials(t, "", e.admin), http.StatusOK)
	}
	if err := e.srv.PurgeExpired(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantRateLimited(t, e.clientCredentials(t, "", e.admin), ipLimited)
}
