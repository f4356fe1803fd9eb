// Package instances_test runs several Portcullis processes on one database,
// as a deployment behind a load balancer does, and checks that they behave
// as one authorization server.
package instances_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/internal/pgtest"
	"github.com/portcullis-gw/portcullis/internal/testenv"
	"github.com/portcullis-gw/portcullis/internal/testutil"
)

const (
	adminID     = "instances-admin"
	adminSecret = "instances-admin-secret-0123456789abcdef"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// portcullisBinary builds cmd/portcullis once per test run.
func portcullisBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		repo := filepath.Dir(filepath.Dir(file))
		dir, err := os.MkdirTemp("", "portcullis-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "portcullis")
		out, err := exec.Command("go", "build", "-C", repo, "-o", binary, "./cmd/portcullis").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// cluster is several Portcullis processes sharing one database and one
// Caddy storage (so one local CA), with one issuer.
type cluster struct {
	t       *testing.T
	dir     string
	issuer  string
	storage string
	extra   string // lines added to the portcullis option
	nodes   []*node
	client  *http.Client
}

// node is one process: its authorization server and its API behind
// bearer_auth, on ports of its own.
type node struct {
	name string
	// adminPort, when set, serves Caddy's admin API (for reloads).
	adminPort       int
	asURL, apiURL   string
	asPort, apiPort int
	upstreamPort    int
	cmd             *exec.Cmd
	log             *os.File
}

const ordersAPI = "https://api.example.com/orders"

// options change a cluster's configuration.
type options struct {
	// admin serves Caddy's admin API on a port of each node's own.
	admin bool
	// portcullis holds lines added to the portcullis option.
	portcullis string
}

// newCluster starts n processes on storage, a line of the portcullis
// option such as "storage sqlite /tmp/x.db".
func newCluster(t *testing.T, n int, storage string, opts options) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), storage: storage, extra: opts.portcullis}
	admin := opts.admin
	for i := range n {
		nd := &node{name: fmt.Sprintf("node%d", i), asPort: testenv.FreePort(t), apiPort: testenv.FreePort(t), upstreamPort: testenv.FreePort(t)}
		if admin {
			nd.adminPort = testenv.FreePort(t)
		}
		nd.asURL = fmt.Sprintf("https://localhost:%d/", nd.asPort)
		nd.apiURL = fmt.Sprintf("https://localhost:%d", nd.apiPort)
		c.nodes = append(c.nodes, nd)
	}
	// One issuer for all, as behind a load balancer: the first node's URL.
	c.issuer = c.nodes[0].asURL
	for _, nd := range c.nodes {
		c.start(nd)
	}
	return c
}

func (c *cluster) caddyfile(nd *node) string {
	admin := "admin off"
	if nd.adminPort != 0 {
		admin = fmt.Sprintf("admin localhost:%d", nd.adminPort)
	}
	return fmt.Sprintf(`{
	%[10]s
	storage file_system %[1]s
	skip_install_trust
	auto_https disable_redirects
	portcullis {
		issuer %[2]s
		%[3]s
		bootstrap_admin %[4]s %[5]s
		change_poll_interval 200ms
		brute_force_protection {
			user_attempts 3
		}
		# These tests send more token requests than the default limits
		# allow; authserver's tests show the limits shared between
		# instances.
		rate_limits {
			token_per_ip off
			token_per_client off
		}
		%[11]s
	}
}
https://localhost:%[6]d {
	tls internal
	authorization_server
}
https://localhost:%[7]d {
	tls internal
	bearer_auth {
		audience %[8]s
		scopes GET /orders* read:orders
		# The tests load the machine (a reload compiles the policy
		# while requests are decided): a timeout would be a denial.
		policy_timeout 1m
	}
	reverse_proxy 127.0.0.1:%[9]d
}
http://:%[9]d {
	bind 127.0.0.1
	echo
}
`, filepath.Join(c.dir, "caddy"), c.issuer, c.storage, adminID, adminSecret, nd.asPort, nd.apiPort, ordersAPI, nd.upstreamPort, admin, c.extra)
}

// start runs nd's process and waits until it serves.
func (c *cluster) start(nd *node) {
	t := c.t
	t.Helper()
	config := filepath.Join(c.dir, nd.name+".Caddyfile")
	if err := os.WriteFile(config, []byte(c.caddyfile(nd)), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(c.dir, nd.name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	nd.log = log
	nd.cmd = exec.Command(portcullisBinary(t), "run", "--config", config, "--adapter", "caddyfile")
	nd.cmd.Stdout, nd.cmd.Stderr = log, log
	nd.cmd.Env = append(os.Environ(), "HOME="+c.dir)
	if err := nd.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.stop(nd) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c.client == nil {
			c.client = c.trustingClient()
		}
		if c.client != nil {
			if resp, err := c.client.Get(nd.asURL + ".well-known/jwks.json"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					if resp, err := c.client.Get(nd.apiURL + "/"); err == nil {
						resp.Body.Close()
						return
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start:\n%s", nd.name, c.logOf(nd))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends nd's process, if it runs.
func (c *cluster) stop(nd *node) {
	if nd.cmd == nil || nd.cmd.Process == nil || nd.cmd.ProcessState != nil {
		return
	}
	_ = nd.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = nd.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = nd.cmd.Process.Kill()
		<-done
	}
	nd.log.Close()
}

// kill ends nd's process with SIGKILL, as a crash would.
func (c *cluster) kill(nd *node) {
	_ = nd.cmd.Process.Kill()
	_ = nd.cmd.Wait()
	nd.log.Close()
}

func (c *cluster) logOf(nd *node) string {
	b, _ := os.ReadFile(filepath.Join(c.dir, nd.name+".log"))
	return string(b)
}

// trustingClient trusts the shared local CA, once it exists.
func (c *cluster) trustingClient() *http.Client {
	pem, err := os.ReadFile(filepath.Join(c.dir, "caddy", "pki", "authorities", "local", "root.crt"))
	if err != nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// call sends a request and returns the status and the decoded JSON body
// (nil when there is none), failing the test when no answer comes.
func (c *cluster) call(method, u, bearer string, body any, form url.Values) (int, map[string]any) {
	c.t.Helper()
	status, out, err := c.do(method, u, bearer, body, form)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, u, err)
	}
	return status, out
}

// do is call returning the error of a request that got no answer, for
// requests that may meet a crash.
func (c *cluster) do(method, u, bearer string, body any, form url.Values) (int, map[string]any, error) {
	var r io.Reader
	ct := ""
	switch {
	case form != nil:
		r, ct = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	case body != nil:
		b, _ := json.Marshal(body)
		r, ct = strings.NewReader(string(b)), "application/json"
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		return 0, nil, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// token runs the client credentials grant at nd.
func (c *cluster) token(nd *node, id, secret, audience string) (int, map[string]any) {
	c.t.Helper()
	return c.call("POST", nd.asURL+"oauth/token", "", nil, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "audience": {audience},
	})
}

// mgmt calls the Management API of nd as the bootstrap admin.
func (c *cluster) mgmt(nd *node, method, path string, body any, want int) map[string]any {
	c.t.Helper()
	api := testutil.ManagementAPI{Base: nd.asURL + "api/v2/", Token: c.adminToken(nd), Client: c.client}
	return api.Call(c.t, method, path, body, want)
}

// adminToken gets a Management API token for the bootstrap admin at nd.
func (c *cluster) adminToken(nd *node) string {
	c.t.Helper()
	return testutil.ClientCredentialsToken(c.t, c.client, nd.asURL+"oauth/token", adminID, adminSecret, c.issuer+"api/v2/")
}

// changeBound is how soon a change made through one node takes effect in
// the others: the poll interval (200ms here), the time of a poll, and a
// margin for a loaded 2-core machine.
const changeBound = 3 * time.Second

// TestInstances is the acceptance test of several instances on one
// database: tokens of one accepted by the other, grants deleted through
// one enforced by the other within the documented bound, refresh tokens
// rotated on one not reusable on the other, lock-outs counted across
// them.
func TestInstances(t *testing.T) {
	c := newCluster(t, 2, clusterStorage(t), options{})
	a, b := c.nodes[0], c.nodes[1]

	c.mgmt(a, "POST", "resource-servers", map[string]any{"identifier": ordersAPI, "scopes": []map[string]string{{"value": "read:orders"}}}, http.StatusCreated)
	app := c.mgmt(b, "POST", "clients", map[string]any{"name": "worker", "app_type": "non_interactive"}, http.StatusCreated)
	id, secret := app["client_id"].(string), app["client_secret"].(string)
	grant := c.mgmt(a, "POST", "client-grants", map[string]any{"client_id": id, "audience": ordersAPI, "scope": []string{"read:orders"}}, http.StatusCreated)

	t.Run("a token issued by one is accepted by the other", func(t *testing.T) {
		var tok string
		testutil.Eventually(t, changeBound, "B issues for a client made through B and a grant made through A", func() bool {
			status, out := c.token(b, id, secret, ordersAPI)
			if status == http.StatusOK {
				tok = out["access_token"].(string)
			}
			return status == http.StatusOK
		})
		for _, nd := range c.nodes {
			if status, out := c.call("GET", nd.apiURL+"/orders/1", tok, nil, nil); status != http.StatusOK {
				t.Errorf("%s's bearer_auth: %d %v", nd.name, status, out)
			}
		}
	})

	t.Run("a grant deleted through one is enforced by the other", func(t *testing.T) {
		status, out := c.token(a, id, secret, ordersAPI)
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, out)
		}
		tok := out["access_token"].(string)
		if status, _ := c.call("GET", b.apiURL+"/orders/1", tok, nil, nil); status != http.StatusOK {
			t.Fatalf("before the deletion B answers %d", status)
		}
		c.mgmt(a, "DELETE", "client-grants/"+grant["id"].(string), nil, http.StatusNoContent)
		deleted := time.Now()
		testutil.Eventually(t, changeBound, "B refuses the token once its grant is deleted through A", func() bool {
			status, _ := c.call("GET", b.apiURL+"/orders/1", tok, nil, nil)
			return status == http.StatusForbidden
		})
		t.Logf("B enforced the deletion after %s", time.Since(deleted).Round(10*time.Millisecond))
	})

	t.Run("a refresh token rotated on one cannot be reused on the other", func(t *testing.T) {
		web := c.mgmt(a, "POST", "clients", map[string]any{"name": "web", "app_type": "regular_web", "callbacks": []string{"https://app.example/cb"}}, http.StatusCreated)
		c.mgmt(a, "PATCH", "resource-servers/"+url.PathEscape(ordersAPI), map[string]any{"allow_offline_access": true, "skip_consent_for_verifiable_first_party_clients": true}, http.StatusOK)
		c.mgmt(a, "POST", "users", map[string]any{"connection": "Username-Password-Authentication", "email": "ada@example.com", "password": "Analytical-Engine-1843"}, http.StatusCreated)
		webID, webSecret := web["client_id"].(string), web["client_secret"].(string)
		var code string
		testutil.Eventually(t, changeBound, "B signs in with a client and user made through A", func() bool {
			code = c.signIn(b, webID, "ada@example.com", "Analytical-Engine-1843")
			return code != ""
		})
		exchange := func(nd *node, form url.Values) (int, map[string]any) {
			form.Set("client_id", webID)
			form.Set("client_secret", webSecret)
			return c.call("POST", nd.asURL+"oauth/token", "", nil, form)
		}
		status, out := exchange(b, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example/cb"}})
		if status != http.StatusOK || out["refresh_token"] == nil {
			t.Fatalf("code exchange at B: %d %v", status, out)
		}
		first := out["refresh_token"].(string)
		status, out = exchange(a, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}})
		if status != http.StatusOK || out["refresh_token"] == nil {
			t.Fatalf("refresh at A: %d %v", status, out)
		}
		second := out["refresh_token"].(string)
		if status, out := exchange(b, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}}); status != http.StatusBadRequest || out["error"] != "invalid_grant" {
			t.Errorf("reusing the rotated token at B: %d %v, want invalid_grant", status, out)
		}
		// Reuse revoked the family: the successor is gone too, everywhere.
		if status, out := exchange(a, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second}}); status != http.StatusBadRequest || out["error"] != "invalid_grant" {
			t.Errorf("the successor after reuse at A: %d %v, want invalid_grant", status, out)
		}
	})

	t.Run("a key rotation made on one is published by both", func(t *testing.T) {
		before := c.jwks(b)
		c.mgmt(a, "POST", "keys/signing/rotate", nil, http.StatusCreated)
		testutil.Eventually(t, changeBound, "B publishes the keys A rotated", func() bool { return c.jwks(b) == c.jwks(a) && c.jwks(b) != before })
		// B signs with the new current keys at once: its tokens verify at A.
		status, out := c.token(b, adminID, adminSecret, c.issuer+"api/v2/")
		if status != http.StatusOK {
			t.Fatalf("token at B after the rotation: %d %v", status, out)
		}
		if status, out := c.call("GET", a.asURL+"api/v2/keys/signing", out["access_token"].(string), nil, nil); status != http.StatusOK {
			t.Errorf("A refuses B's token signed after the rotation: %d %v", status, out)
		}
	})

	t.Run("lock-out counters are shared", func(t *testing.T) {
		c.mgmt(a, "POST", "users", map[string]any{"connection": "Username-Password-Authentication", "email": "grace@example.com", "password": "Compiler-A-0-1952!"}, http.StatusCreated)
		web := c.mgmt(a, "POST", "clients", map[string]any{"name": "web2", "app_type": "regular_web", "callbacks": []string{"https://app.example/cb"}}, http.StatusCreated)
		for _, nd := range []*node{a, b, a} {
			if code := c.signIn(nd, web["client_id"].(string), "grace@example.com", "wrong password"); code != "" {
				t.Fatal("a wrong password signed in")
			}
		}
		msg := ""
		c.signInMessage(c.browser(), b, web["client_id"].(string), "grace@example.com", "Compiler-A-0-1952!", &msg)
		if !strings.Contains(msg, "blocked after multiple consecutive login attempts") {
			t.Errorf("after three failures spread over A and B, B says %q", msg)
		}
	})
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	csrfField  = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	alertText  = regexp.MustCompile(`(?s)role="alert" id="error">(.*?)</div>`)
)

// signIn signs a user in at nd through the login page, with a browser's
// cookies, and returns the authorization code ("" when refused).
func (c *cluster) signIn(nd *node, clientID, email, password string) string {
	var msg string
	return c.signInMessage(c.browser(), nd, clientID, email, password, &msg)
}

// browser is a user agent that keeps cookies and does not follow
// redirects.
func (c *cluster) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: c.client.Transport, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// authorizeURL is the authorization request of the tests' web clients.
func (nd *node) authorizeURL(clientID string) string {
	q := url.Values{"client_id": {clientID}, "redirect_uri": {"https://app.example/cb"}, "response_type": {"code"},
		"scope": {"openid offline_access read:orders"}, "audience": {ordersAPI}, "state": {"s"}}
	return nd.asURL + "authorize?" + q.Encode()
}

// signInMessage signs in with browser, and sets msg to the login page's
// message, if any.
func (c *cluster) signInMessage(browser *http.Client, nd *node, clientID, email, password string, msg *string) string {
	c.t.Helper()
	resp, err := browser.Get(nd.authorizeURL(clientID))
	if err != nil {
		c.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action, csrf := formAction.FindSubmatch(page), csrfField.FindSubmatch(page)
	if action == nil || csrf == nil {
		*msg = string(page)
		return ""
	}
	target, _ := url.Parse(nd.asURL)
	target, _ = target.Parse(html.UnescapeString(string(action[1])))
	resp, err = browser.PostForm(target.String(), url.Values{"csrf": {html.UnescapeString(string(csrf[1]))}, "username": {email}, "password": {password}})
	if err != nil {
		c.t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := alertText.FindSubmatch(page); m != nil {
		*msg = html.UnescapeString(string(m[1]))
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		return ""
	}
	return loc.Query().Get("code")
}

// clusterStorage is the storage the cluster shares: a schema of its own
// on PostgreSQL when PORTCULLIS_TEST_POSTGRES names a database (as CI
// does; see internal/pgtest), else a SQLite file. The DSN reaches the
// processes through the environment, as in production.
func clusterStorage(t *testing.T) string {
	if os.Getenv(pgtest.EnvVar) == "" && os.Getenv("CI") != "true" {
		return "storage sqlite " + filepath.Join(t.TempDir(), "portcullis.db")
	}
	t.Setenv("PORTCULLIS_CLUSTER_DSN", pgtest.DSN(t))
	return "storage postgres {env.PORTCULLIS_CLUSTER_DSN}"
}

// A kill -9 of an instance in the middle of writes loses nothing it
// acknowledged, and no change is half-written: each API is created with
// its client grants in one transaction (through a client creation, a grant
// and a deletion that takes grants along), and after the crash every
// acknowledged object is there and every API that exists is whole.
func TestKillDuringWrites(t *testing.T) {
	c := newCluster(t, 1, clusterStorage(t), options{})
	nd := c.nodes[0]
	admin := c.adminToken(nd)

	var (
		mu    sync.Mutex
		acked []string // client_ids whose creation was answered 201
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				status, out, err := c.do("POST", nd.asURL+"api/v2/clients", admin, map[string]any{
					"name": fmt.Sprintf("w%d-%d", w, i), "app_type": "non_interactive",
					"client_metadata": map[string]string{"writer": fmt.Sprint(w), "n": fmt.Sprint(i)},
				}, nil)
				if err != nil {
					return // the process is gone
				}
				if status == http.StatusCreated {
					mu.Lock()
					acked = append(acked, out["client_id"].(string))
					mu.Unlock()
				}
			}
		})
	}
	// Deleting an API deletes its grants in the same transaction: after
	// the crash no grant may outlive its API.
	worker := c.mgmt(nd, "POST", "clients", map[string]any{"name": "worker", "app_type": "non_interactive"}, http.StatusCreated)["client_id"].(string)
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				api := fmt.Sprintf("https://api%d-%d.example", w, i)
				if _, _, err := c.do("POST", nd.asURL+"api/v2/resource-servers", admin, map[string]any{"identifier": api, "scopes": []map[string]string{{"value": "x"}}}, nil); err != nil {
					return
				}
				if _, _, err := c.do("POST", nd.asURL+"api/v2/client-grants", admin, map[string]any{"client_id": worker, "audience": api, "scope": []string{"x"}}, nil); err != nil {
					return
				}
				if _, _, err := c.do("DELETE", nd.asURL+"api/v2/resource-servers/"+url.PathEscape(api), admin, nil, nil); err != nil {
					return
				}
			}
		})
	}
	// Let writes run, then crash in the middle of them.
	testutil.Eventually(t, 30*time.Second, "some writes acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 20
	})
	c.kill(nd)
	close(stop)
	wg.Wait()
	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()

	c.start(nd)
	for _, id := range want {
		got := c.mgmt(nd, "GET", "clients/"+id, nil, http.StatusOK)
		if got["client_id"] != id || got["client_metadata"] == nil {
			t.Errorf("client %s after the crash: %v", id, got)
		}
	}
	// Nothing half-written: every stored client is complete.
	list := c.mgmt(nd, "GET", "clients?per_page=100&include_totals=true", nil, http.StatusOK)
	for _, v := range list["clients"].([]any) {
		cl := v.(map[string]any)
		if cl["name"] == nil || cl["grant_types"] == nil || cl["client_id"] == nil {
			t.Errorf("a client read back incomplete: %v", cl)
		}
	}
	grants := c.mgmt(nd, "GET", "client-grants?per_page=100&include_totals=true&client_id="+worker, nil, http.StatusOK)
	for _, v := range grants["client_grants"].([]any) {
		aud := v.(map[string]any)["audience"].(string)
		c.mgmt(nd, "GET", "resource-servers/"+url.PathEscape(aud), nil, http.StatusOK)
	}
	t.Logf("%d creations acknowledged before the kill, all there after the restart (%v stored); %d grants, each with its API", len(want), list["total"], len(grants["client_grants"].([]any)))
}

// A configuration reload under continuous load drops no request (the
// protected API, whose policy lets the token through throughout, and the
// token endpoint) and keeps the signing keys and login sessions.
func TestReloadUnderLoad(t *testing.T) {
	c := newCluster(t, 1, clusterStorage(t), options{admin: true})
	nd := c.nodes[0]
	c.mgmt(nd, "POST", "resource-servers", map[string]any{"identifier": ordersAPI, "scopes": []map[string]string{{"value": "read:orders"}}}, http.StatusCreated)
	app := c.mgmt(nd, "POST", "clients", map[string]any{"name": "worker", "app_type": "non_interactive"}, http.StatusCreated)
	id, secret := app["client_id"].(string), app["client_secret"].(string)
	c.mgmt(nd, "POST", "client-grants", map[string]any{"client_id": id, "audience": ordersAPI, "scope": []string{"read:orders"}}, http.StatusCreated)
	status, out := c.token(nd, id, secret, ordersAPI)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, out)
	}
	tok := out["access_token"].(string)
	jwksBefore := c.jwks(nd)
	// A signed-in browser, whose session must survive the reloads.
	c.mgmt(nd, "PATCH", "resource-servers/"+url.PathEscape(ordersAPI), map[string]any{"skip_consent_for_verifiable_first_party_clients": true}, http.StatusOK)
	web := c.mgmt(nd, "POST", "clients", map[string]any{"name": "web", "app_type": "regular_web", "callbacks": []string{"https://app.example/cb"}}, http.StatusCreated)["client_id"].(string)
	c.mgmt(nd, "POST", "users", map[string]any{"connection": "Username-Password-Authentication", "email": "ada@example.com", "password": "Analytical-Engine-1843"}, http.StatusCreated)
	browser := c.browser()
	var msg string
	if c.signInMessage(browser, nd, web, "ada@example.com", "Analytical-Engine-1843", &msg) == "" {
		t.Fatalf("sign-in before the reloads: %s", msg)
	}

	var failures, done sync.Map
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// A worker tells of each round of requests it completes, to whoever
	// waits for rounds.
	rounds := make(chan struct{})
	awaitRounds := func(n int) {
		for range n {
			<-rounds
		}
	}
	count := func(kind string, ok bool) {
		key := kind
		if !ok {
			key += " failed"
		}
		v, _ := done.LoadOrStore(key, new(int64))
		atomicAdd(v.(*int64))
		if !ok {
			failures.Store(kind, true)
		}
	}
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, body := c.call("GET", nd.apiURL+"/orders/1", tok, nil, nil)
				count("api", status == http.StatusOK)
				if status != http.StatusOK {
					t.Logf("api: %d %v", status, body)
				}
				status, body = c.token(nd, id, secret, ordersAPI)
				count("token", status == http.StatusOK)
				if status != http.StatusOK {
					t.Logf("token: %d %v", status, body)
				}
				select {
				case rounds <- struct{}{}:
				default:
				}
			}
		})
	}
	// Requests before, during and after each reload.
	awaitRounds(10)
	config := filepath.Join(c.dir, nd.name+".Caddyfile")
	for range 3 {
		out, err := exec.Command(portcullisBinary(t), "reload", "--config", config, "--adapter", "caddyfile",
			"--address", fmt.Sprintf("localhost:%d", nd.adminPort), "--force").CombinedOutput()
		if err != nil {
			t.Fatalf("reload: %v\n%s", err, out)
		}
		awaitRounds(10)
	}
	close(stop)
	wg.Wait()
	done.Range(func(k, v any) bool {
		t.Logf("%s: %d", k, *v.(*int64))
		return true
	})
	failures.Range(func(k, _ any) bool {
		t.Errorf("%s requests failed during the reloads", k)
		return true
	})
	resp, err := browser.Get(nd.authorizeURL(web))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		t.Errorf("after the reloads the login session does not sign in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := c.jwks(nd); got != jwksBefore {
		t.Errorf("the reloads changed the published keys:\n%s\n%s", jwksBefore, got)
	}
}

func atomicAdd(p *int64) { atomic.AddInt64(p, 1) }

// jwks returns nd's published key set.
func (c *cluster) jwks(nd *node) string {
	c.t.Helper()
	resp, err := c.client.Get(nd.asURL + ".well-known/jwks.json")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
