package bearerauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
	"github.com/portcullis-gw/portcullis/internal/testenv"
	"github.com/portcullis-gw/portcullis/modules/bearerauth"
	"github.com/portcullis-gw/portcullis/modules/echo"
)

// The bootstrap admin of both authorization servers.
const (
	adminID     = "edge-admin"
	adminSecret = "edge-admin-secret-0123456789abcdefghijkl"
)

// API identifiers.
const (
	ordersAPI  = "https://api.example.com/orders"       // plain dialect, embedded server (and on the remote one, for the wrong issuer case)
	authzAPI   = "https://api.example.com/orders-authz" // access_token_authz dialect, embedded server
	partnerAPI = "https://partner.example.com/orders"   // remote server only
)

// edge is a running Caddy with the embedded authorization server, three
// bearer_auth sites (embedded issuer plain and authz dialects, over
// HTTP/1.1, HTTP/2 and, for the first, HTTP/3; a remote issuer) and one
// with a policy directory, the echo upstream and a metrics endpoint;
// beside it runs a second authorization server, the remote issuer.
type edge struct {
	dir   string
	caddy *testenv.Caddy
	// h1 speaks HTTP/1.1 only, where a request goes out as written (Go's
	// HTTP/2 client refuses Connection headers and headers over the
	// server's advertised limit).
	h1        *http.Client
	embedded  *authServer
	remote    *remoteServer
	policyDir string
	logPath   string
	ports     ports

	// Sites.
	ordersURL, authzURL, partnerURL, policyURL, cgiURL, metricsURL string
	identityURL, noIdentityURL                                     string // identity_headers scope subject; none

	// presented collects every bearer token sent to the edge, to check
	// that none is logged.
	presented []string
}

type ports struct {
	auth, orders, authz, partner, policy, cgi, echo, metrics, fcgi int
	identity, noIdentity                                           int // sites with identity_headers
}

// caddyfile is the edge's configuration with policyDir as the policy site's
// policy directory.
func (e *edge) caddyfile(policyDir string) string {
	p := e.ports
	rules := `
		scopes GET /orders* read:orders
		scopes POST /orders* create:orders
		permissions DELETE /orders/* delete:orders
		scopes * /admin admin:orders
		scopes PATCH /orders/*/status admin:orders`
	// The orders site also speaks HTTP/3, for WebSockets over extended
	// CONNECT.
	return fmt.Sprintf(`{
%[1]s	servers :%[7]d {
		protocols h1 h2 h3
	}
	log {
		output file %[2]s
		format json
		level DEBUG
	}
	portcullis {
		issuer https://localhost:%[3]d/
		storage sqlite %[4]s
		bootstrap_admin %[5]s %[6]s
	}
}

https://localhost:%[3]d {
	tls internal
	authorization_server
}

https://localhost:%[7]d {
	tls internal
	bearer_auth {
		audience %[8]s%[9]s
	}
	reverse_proxy 127.0.0.1:%[10]d
}

https://localhost:%[11]d {
	tls internal
	bearer_auth {
		audience %[12]s%[9]s
	}
	reverse_proxy 127.0.0.1:%[10]d
}

https://localhost:%[13]d {
	tls internal
	bearer_auth {
		audience %[14]s
		issuer %[15]s
		leeway 1s
		unknown_key_refetch 1ns
		scopes GET /orders* read:orders
	}
	reverse_proxy 127.0.0.1:%[10]d
}

https://localhost:%[16]d {
	tls internal
	bearer_auth {
		audience %[8]s
		policy %[17]s
	}
	reverse_proxy 127.0.0.1:%[10]d
}

https://localhost:%[19]d {
	tls internal
	bearer_auth {
		audience %[8]s%[9]s
	}
	reverse_proxy 127.0.0.1:%[20]d {
		transport fastcgi
	}
}

https://localhost:%[21]d {
	tls internal
	bearer_auth {
		audience %[8]s%[9]s
		identity_headers scope subject
	}
	reverse_proxy 127.0.0.1:%[10]d {
		header_up X-Placeholders "{http.auth.user.id} {http.auth.bearer.client_id} {http.auth.bearer.scope} {http.auth.bearer.issuer} {http.auth.bearer.reason}"
	}
}

https://localhost:%[22]d {
	tls internal
	bearer_auth {
		audience %[8]s%[9]s
		identity_headers none
	}
	reverse_proxy 127.0.0.1:%[10]d {
		header_up X-Decision-Id {http.auth.bearer.decision_id}
	}
}

http://:%[10]d {
	bind 127.0.0.1
	echo
}

http://:%[18]d {
	bind 127.0.0.1
	metrics /metrics
}
`, testenv.TestGlobals(e.dir), e.logPath, p.auth, filepath.Join(e.dir, "portcullis.db"), adminID, adminSecret,
		p.orders, ordersAPI, rules, p.echo,
		p.authz, authzAPI,
		p.partner, partnerAPI, e.remote.issuer,
		p.policy, policyDir, p.metrics,
		p.cgi, p.fcgi,
		p.identity, p.noIdentity)
}

// blockingPolicy denies requests whose X-Block header is "yes" with 451.
const blockingPolicy = `package portcullis.authz

decision := {"allow": false, "status": 451, "reason": "blocked"} if {
	input.request.headers["x-block"] == "yes"
} else := {"allow": true, "reason": "not blocked"}
`

// brokenPolicy does not compile: line 3 is a syntax error.
const brokenPolicy = `package portcullis.authz

decision := {"allow" true}
`

// teapotPolicy denies requests whose X-Block header is "v2" with 418, and
// adds headers to the others, one of them an identity header.
const teapotPolicy = `package portcullis.authz

decision := {"allow": false, "status": 418, "reason": "blocked by v2"} if {
	input.request.headers["x-block"] == "v2"
} else := {"allow": true, "reason": "not blocked by v2", "headers": {"X-Policy-Version": "2", "X-Portcullis-Subject": "chosen-by-the-policy"}}
`

// startEdge starts the remote authorization server, then Caddy, and
// creates the APIs every test uses.
func startEdge(t *testing.T) *edge {
	t.Helper()
	e := &edge{dir: t.TempDir()}
	e.logPath = filepath.Join(e.dir, "caddy.log")
	e.remote = startRemote(t)
	e.ports = ports{
		auth: testenv.FreePort(t), orders: testenv.FreePort(t), authz: testenv.FreePort(t), partner: testenv.FreePort(t),
		policy: testenv.FreePort(t), cgi: testenv.FreePort(t), echo: testenv.FreePort(t), metrics: testenv.FreePort(t),
		identity: testenv.FreePort(t), noIdentity: testenv.FreePort(t),
	}
	// A FastCGI echo, as behind php_fastcgi: Caddy folds header names
	// into CGI variables (HTTP_X_PORTCULLIS_SUBJECT) and net/http/fcgi
	// turns them back into headers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go fcgi.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := (echo.Handler{}).ServeHTTP(w, r, nil); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	e.ports.fcgi = l.Addr().(*net.TCPAddr).Port
	e.policyDir = filepath.Join(e.dir, "policy")
	if err := os.MkdirAll(e.policyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(e.policyDir, "edge.rego"), blockingPolicy)
	site := func(port int) string { return fmt.Sprintf("https://localhost:%d", port) }
	e.ordersURL, e.authzURL, e.partnerURL, e.policyURL = site(e.ports.orders), site(e.ports.authz), site(e.ports.partner), site(e.ports.policy)
	e.cgiURL = site(e.ports.cgi)
	e.identityURL, e.noIdentityURL = site(e.ports.identity), site(e.ports.noIdentity)
	e.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", e.ports.metrics)
	issuer := fmt.Sprintf("https://localhost:%d/", e.ports.auth)
	e.caddy = testenv.Start(t, e.dir, e.caddyfile(e.policyDir), issuer+".well-known/jwks.json", e.ordersURL, e.authzURL, e.partnerURL, e.policyURL, e.cgiURL, e.identityURL, e.noIdentityURL)
	e.embedded = newAuthServer(t, issuer, e.caddy.Client)
	h1 := e.caddy.Client.Transport.(*http.Transport).Clone()
	h1.ForceAttemptHTTP2 = false
	h1.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	h1.TLSClientConfig.NextProtos = []string{"http/1.1"}
	t.Cleanup(h1.CloseIdleConnections)
	e.h1 = &http.Client{Timeout: 30 * time.Second, Transport: h1}

	scopes := []map[string]string{{"value": "read:orders"}, {"value": "create:orders"}, {"value": "delete:orders"}}
	e.embedded.call(t, "POST", "resource-servers", map[string]any{
		"name": "Orders", "identifier": ordersAPI, "token_lifetime": 3600, "scopes": scopes,
	}, http.StatusCreated)
	e.embedded.call(t, "POST", "resource-servers", map[string]any{
		"name": "Orders (RBAC)", "identifier": authzAPI, "token_lifetime": 3600, "scopes": scopes,
		"token_dialect": "access_token_authz", "enforce_policies": true,
	}, http.StatusCreated)
	for _, api := range []string{partnerAPI, ordersAPI} {
		e.remote.call(t, "POST", "resource-servers", map[string]any{
			"name": "Remote " + api, "identifier": api, "token_lifetime": 3600, "scopes": []map[string]string{{"value": "read:orders"}},
		}, http.StatusCreated)
	}
	return e
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// authServer drives an authorization server over HTTP: Management API
// calls as the bootstrap admin, and client credentials tokens.
type authServer struct {
	issuer string
	ctx    context.Context // carries the HTTP client for x/oauth2
	client *http.Client
	admin  *http.Client
}

func newAuthServer(t *testing.T, issuer string, client *http.Client) *authServer {
	a := &authServer{issuer: issuer, client: client, ctx: context.WithValue(t.Context(), oauth2.HTTPClient, client)}
	a.admin = a.credentials(adminID, adminSecret, issuer+"api/v2/").Client(a.ctx)
	return a
}

func (a *authServer) credentials(id, secret, audience string, scopes ...string) *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID: id, ClientSecret: secret, TokenURL: a.issuer + "oauth/token",
		Scopes: scopes, EndpointParams: map[string][]string{"audience": {audience}},
		AuthStyle: oauth2.AuthStyleInParams,
	}
}

// call sends a Management API request as the admin and decodes the answer.
func (a *authServer) call(t *testing.T, method, path string, body any, wantStatus int) map[string]any {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(a.ctx, method, a.issuer+"api/v2/"+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.admin.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, raw, wantStatus)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return out
}

// app is an M2M application with a client grant.
type app struct {
	id, secret, grantID string
}

// m2m creates a machine-to-machine client and its client grant for
// audience with the given scopes.
func (a *authServer) m2m(t *testing.T, name, audience string, scopes ...string) app {
	t.Helper()
	c := a.call(t, "POST", "clients", map[string]any{"name": name, "app_type": "non_interactive"}, http.StatusCreated)
	g := a.call(t, "POST", "client-grants", map[string]any{"client_id": c["client_id"], "audience": audience, "scope": scopes}, http.StatusCreated)
	return app{id: c["client_id"].(string), secret: c["client_secret"].(string), grantID: g["id"].(string)}
}

// grant adds a client grant for another audience to an existing client.
func (a *authServer) grant(t *testing.T, c app, audience string, scopes ...string) {
	t.Helper()
	a.call(t, "POST", "client-grants", map[string]any{"client_id": c.id, "audience": audience, "scope": scopes}, http.StatusCreated)
}

// token gets an access token with the client credentials grant.
func (a *authServer) token(t *testing.T, c app, audience string, scopes ...string) string {
	t.Helper()
	tok, err := a.credentials(c.id, c.secret, audience, scopes...).Token(a.ctx)
	if err != nil {
		t.Fatalf("client credentials for %s: %v", audience, err)
	}
	return tok.AccessToken
}

// remoteServer is a second, in-process authorization server on plain
// http on loopback, with a clock tests can shift.
type remoteServer struct {
	*authServer
	server *authserver.Server
	http   *httptest.Server
	shift  atomic.Int64 // added to the real time, in nanoseconds
	// Requests for the discovery document and the key set.
	discoveryServed, jwksServed atomic.Int64
}

func startRemote(t *testing.T) *remoteServer {
	t.Helper()
	r := &remoteServer{}
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "remote.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var srv atomic.Pointer[authserver.Server]
	r.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/.well-known/openid-configuration":
			r.discoveryServed.Add(1)
		case "/.well-known/jwks.json":
			r.jwksServed.Add(1)
		}
		s := srv.Load()
		if s == nil {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		s.Handler().ServeHTTP(w, req)
	}))
	t.Cleanup(r.http.Close)
	issuer := r.http.URL + "/"
	r.server, err = authserver.New(t.Context(), authserver.Config{
		Issuer: issuer, Store: store,
		BootstrapAdmin: &authserver.Credentials{ClientID: adminID, ClientSecret: adminSecret},
		Now:            func() time.Time { return time.Now().Add(time.Duration(r.shift.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Store(r.server)
	r.authServer = newAuthServer(t, issuer, &http.Client{Timeout: 10 * time.Second})
	return r
}

// tokenAt gets a token while the server's clock is shifted by shift.
func (r *remoteServer) tokenAt(t *testing.T, shift time.Duration, c app, audience string, scopes ...string) string {
	t.Helper()
	r.shift.Store(int64(shift))
	defer r.shift.Store(0)
	return r.token(t, c, audience, scopes...)
}

// currentKey returns the server's current signing key for alg, private.
func (r *remoteServer) currentKey(t *testing.T, alg jwa.SignatureAlgorithm) (jwk.Key, string) {
	t.Helper()
	stored, err := r.server.Store().SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, sk := range stored {
		if sk.Alg == alg && sk.State == keys.StateCurrent {
			k, err := jwk.ParseKey(sk.PrivateJWK)
			if err != nil {
				t.Fatal(err)
			}
			return k, sk.KID
		}
	}
	t.Fatalf("no current %s key", alg)
	return nil, ""
}

// sign makes a compact JWS of claims with the given header; key may be
// any key jws.Sign takes for alg.
func sign(t *testing.T, alg jwa.SignatureAlgorithm, key any, header map[string]any, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	for k, v := range header {
		if err := hdr.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// newRSAKey is a key no issuer publishes.
func newRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// m2mClaims are the claims of a well-formed Auth0-dialect M2M token.
func m2mClaims(issuer, audience, clientID string, iat time.Time, lifetime time.Duration) map[string]any {
	return map[string]any{
		"iss": issuer, "sub": clientID + "@clients", "aud": audience, "iat": iat.Unix(), "exp": iat.Add(lifetime).Unix(),
		"jti": rand.Text(), "scope": "read:orders", "gty": "client-credentials", "azp": clientID,
	}
}

// segments decodes the header and payload of a compact JWT.
func segments(t *testing.T, token string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", token, len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	h, _ := segments(t, token)
	kid, _ := h["kid"].(string)
	return kid
}

func b64JSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// answer is an edge response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// echoed returns what the echo upstream received, or nil when the answer
// is not from the upstream.
func (a answer) echoed() *echo.Echo {
	var e echo.Echo
	if json.Unmarshal(a.body, &e) != nil || e.Method == "" {
		return nil
	}
	return &e
}

func (a answer) String() string {
	return fmt.Sprintf("%d (WWW-Authenticate %q) %s", a.status, a.header.Get("WWW-Authenticate"), a.body)
}

// request sends method url through the edge with the Authorization header
// authorization (none when empty) and extra headers.
func (e *edge) request(t *testing.T, method, url, authorization string, extra ...string) answer {
	t.Helper()
	return e.send(t, e.caddy.Client, method, url, authorization, extra...)
}

// requestH1 is request over HTTP/1.1.
func (e *edge) requestH1(t *testing.T, method, url, authorization string, extra ...string) answer {
	t.Helper()
	return e.send(t, e.h1, method, url, authorization, extra...)
}

func (e *edge) send(t *testing.T, client *http.Client, method, url, authorization string, extra ...string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
		if tok, ok := strings.CutPrefix(authorization, "Bearer "); ok && tok != "" {
			e.presented = append(e.presented, tok)
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Add(extra[i], extra[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

func bearer(token string) string { return "Bearer " + token }

// wantAllowed checks that the request reached the upstream and returns
// what it received.
func wantAllowed(t *testing.T, a answer) *echo.Echo {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("got %s, want 200 from the upstream", a)
	}
	got := a.echoed()
	if got == nil {
		t.Fatalf("200 without the echo of the upstream: %s", a.body)
	}
	return got
}

// wantDenied checks the status, that the upstream was not reached, and
// the Bearer challenge: each of want's parameters must have that value,
// but error_description, whose value must contain each of description.
// A nil want means no WWW-Authenticate at all.
func wantDenied(t *testing.T, a answer, status int, want map[string]string, description ...string) {
	t.Helper()
	if a.status != status {
		t.Errorf("got %s, want %d", a, status)
	}
	if a.echoed() != nil {
		t.Errorf("the upstream was reached: %s", a.body)
	}
	www := a.header.Values("WWW-Authenticate")
	if want == nil {
		if len(www) != 0 {
			t.Errorf("WWW-Authenticate %q, want none", www)
		}
		return
	}
	if len(www) != 1 {
		t.Fatalf("WWW-Authenticate %q, want one challenge", www)
	}
	scheme, params, err := parseChallenge(www[0])
	if err != nil || scheme != "Bearer" {
		t.Fatalf("WWW-Authenticate %q: scheme %q, %v", www[0], scheme, err)
	}
	for name, value := range want {
		if got, ok := params[name]; !ok || got != value {
			t.Errorf("WWW-Authenticate %q: %s = %q, want %q", www[0], name, got, value)
		}
	}
	for _, d := range description {
		if !strings.Contains(params["error_description"], d) {
			t.Errorf("WWW-Authenticate %q: error_description lacks %q", www[0], d)
		}
	}
}

// parseChallenge reads one RFC 7235 challenge with auth-params: the
// scheme, and each parameter's value (quoted-strings unquoted).
func parseChallenge(s string) (scheme string, params map[string]string, err error) {
	scheme, rest, _ := strings.Cut(s, " ")
	params = map[string]string{}
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return scheme, params, nil
		}
		name, after, ok := strings.Cut(rest, "=")
		if !ok || name == "" || strings.ContainsAny(name, " \t\",") {
			return scheme, params, fmt.Errorf("bad auth-param at %q", rest)
		}
		if _, dup := params[name]; dup {
			return scheme, params, fmt.Errorf("parameter %s twice", name)
		}
		if !strings.HasPrefix(after, `"`) {
			value, more, _ := strings.Cut(after, ",")
			params[name], rest = strings.TrimSpace(value), more
			continue
		}
		var b strings.Builder
		i := 1
		for ; i < len(after) && after[i] != '"'; i++ {
			if after[i] == '\\' && i+1 < len(after) {
				i++
			}
			b.WriteByte(after[i])
		}
		if i >= len(after) {
			return scheme, params, fmt.Errorf("unterminated quoted-string in %q", s)
		}
		params[name], rest = b.String(), after[i+1:]
	}
}

// sample is one Prometheus series value.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// scrape reads the Prometheus text exposition of the metrics site.
func (e *edge) scrape(t *testing.T) []sample {
	t.Helper()
	resp, err := http.Get(e.metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d, %v", resp.StatusCode, err)
	}
	var out []sample
	for _, line := range strings.Split(string(raw), "\n") {
		m := sampleLine.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, l := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out
}

// total sums the series of name whose labels include match.
func total(samples []sample, name string, match map[string]string) float64 {
	var sum float64
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range match {
			if s.labels[k] != v {
				continue next
			}
		}
		sum += s.value
	}
	return sum
}

// jwksFetches is how many fetches of the remote issuer's keys ended with
// result.
func (e *edge) jwksFetches(t *testing.T, result string) float64 {
	t.Helper()
	return total(e.scrape(t), "portcullis_jwks_fetches_total", map[string]string{"issuer": e.remote.issuer, "result": result})
}

// pollPolicy has the policy site's directory checked for changes now.
func (e *edge) pollPolicy(t *testing.T) {
	t.Helper()
	if err := bearerauth.PollPolicy(e.policyDir); err != nil {
		t.Fatal(err)
	}
}

// logContains reports whether Caddy's log file holds s.
func (e *edge) logContains(t *testing.T, s string) bool {
	t.Helper()
	raw, err := os.ReadFile(e.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(raw, []byte(s))
}
