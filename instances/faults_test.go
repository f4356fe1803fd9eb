package instances_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/internal/pgtest"
	"github.com/portcullis-gw/portcullis/internal/testutil"
)

// proxy forwards TCP connections to target until it is taken down, which
// cuts every connection and refuses new ones: the database, as the
// gateway sees it, goes away and comes back.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target}
	t.Cleanup(func() { l.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

// setDown takes the database away (cutting every connection) or brings it
// back.
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// While PostgreSQL is unreachable, bearer_auth keeps validating with the
// keys in memory and the cached client grant for max_stale, then fails
// closed with 503; the token endpoint and the Management API answer 503
// with a JSON error for what they cannot serve from memory; and everything
// recovers, without a restart, when the database returns.
func TestDatabaseDown(t *testing.T) {
	dsn := pgtest.DSN(t)
	p := newProxy(t, "127.0.0.1:5432")
	if !strings.Contains(dsn, "127.0.0.1:5432") {
		t.Fatalf("the test database's DSN %q does not name 127.0.0.1:5432", dsn)
	}
	t.Setenv("PORTCULLIS_CLUSTER_DSN", strings.Replace(dsn, "127.0.0.1:5432", p.addr(), 1))
	const maxStale = 3 * time.Second
	c := newCluster(t, 1, "storage postgres {env.PORTCULLIS_CLUSTER_DSN}", options{portcullis: "max_stale 3s"})
	nd := c.nodes[0]

	c.mgmt(nd, "POST", "resource-servers", map[string]any{"identifier": ordersAPI, "scopes": []map[string]string{{"value": "read:orders"}}}, http.StatusCreated)
	worker := c.mgmt(nd, "POST", "clients", map[string]any{"name": "worker", "app_type": "non_interactive"}, http.StatusCreated)
	idle := c.mgmt(nd, "POST", "clients", map[string]any{"name": "idle", "app_type": "non_interactive"}, http.StatusCreated)
	for _, app := range []map[string]any{worker, idle} {
		c.mgmt(nd, "POST", "client-grants", map[string]any{"client_id": app["client_id"], "audience": ordersAPI, "scope": []string{"read:orders"}}, http.StatusCreated)
	}
	// Every write empties the cache; what is used from here on is cached:
	// the worker's client, API and grant, and the admin's for its token.
	tok := testutil.ClientCredentialsToken(t, c.client, nd.asURL+"oauth/token", worker["client_id"].(string), worker["client_secret"].(string), ordersAPI)
	adminTok := c.adminToken(nd)
	api := func() int {
		status, _ := c.call("GET", nd.apiURL+"/orders/1", tok, nil, nil)
		return status
	}
	if got := api(); got != http.StatusOK {
		t.Fatalf("the API before the outage: %d", got)
	}
	wantUnavailable := func(what string, status int, body map[string]any, code string) {
		t.Helper()
		if status != http.StatusServiceUnavailable {
			t.Errorf("%s during the outage: %d %v, want 503", what, status, body)
			return
		}
		// OAuth errors carry error, Auth0's Management API errorCode.
		if body["error"] != code && body["errorCode"] != code {
			t.Errorf("%s during the outage: %v, want %s", what, body, code)
		}
	}

	p.setDown(true)
	down := time.Now()
	// Within max_stale: the cached grant and the keys in memory serve.
	if got := api(); got != http.StatusOK {
		t.Errorf("the API right after the database went away: %d, want 200 from the cache", got)
	}
	// What needs the database is 503 with a JSON error.
	status, out := c.token(nd, idle["client_id"].(string), idle["client_secret"].(string), ordersAPI)
	wantUnavailable("a token for a client not in the cache", status, out, "temporarily_unavailable")
	// A cached client still gets tokens; the Management API's lists need
	// the database.
	if status, out := c.token(nd, worker["client_id"].(string), worker["client_secret"].(string), ordersAPI); status != http.StatusOK {
		t.Errorf("a token for a cached client during the outage: %d %v, want 200", status, out)
	}
	status, out = c.call("GET", nd.asURL+"api/v2/clients?include_totals=true", adminTok, nil, nil)
	wantUnavailable("the Management API", status, out, "temporarily_unavailable")
	// Past max_stale the edge fails closed.
	testutil.Eventually(t, maxStale+2*time.Second, "bearer_auth fails closed after max_stale", func() bool { return api() == http.StatusServiceUnavailable })
	// Staleness counts from the last successful poll, at most a poll
	// interval (200ms) before the database went away.
	if since := time.Since(down); since < maxStale-300*time.Millisecond {
		t.Errorf("bearer_auth failed closed after %s, well before max_stale (%s)", since, maxStale)
	}

	p.setDown(false)
	testutil.Eventually(t, 10*time.Second, "the API recovers when the database returns", func() bool { return api() == http.StatusOK })
	testutil.Eventually(t, 10*time.Second, "the token endpoint recovers", func() bool {
		status, _ := c.token(nd, idle["client_id"].(string), idle["client_secret"].(string), ordersAPI)
		return status == http.StatusOK
	})
}
