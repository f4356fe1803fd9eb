package authserver_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/postgres"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
	"github.com/portcullis-gw/portcullis/internal/pgtest"
)

// adminSecret is the bootstrap admin's secret: 40 characters.
const adminSecret = "s3cr3t-for-the-bootstrap-admin-012345678"

// obj is a JSON object to send.
type obj = map[string]any

// env is an authorization server on a fresh SQLite database (or
// PostgreSQL schema, see envSetup), served over TLS by httptest, with a
// Management API token of the bootstrap admin.
type env struct {
	ts      *httptest.Server
	handler atomic.Pointer[http.Handler]
	skew    atomic.Int64 // added to the server's clock, in nanoseconds

	dbPath string

	issuer string
	admin  authserver.Credentials
	store  storage.Store
	srv    *authserver.Server

	// adminToken carries every Management API scope.
	adminToken string
	// configure, when set, changes the server's configuration at each
	// start.
	configure func(*authserver.Config)
	// pgDSN, when set, is the PostgreSQL database the server keeps its
	// data in, instead of the SQLite file at dbPath.
	pgDSN string
}

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// backends are the databases the tests that need both run on: SQLite, and
// PostgreSQL when the test database is set (see pgtest).
var backends = []string{"sqlite", "postgres"}

// onEachBackend runs test as a parallel subtest on an env of its own on
// each of backends.
func onEachBackend(t *testing.T, test func(t *testing.T, e *env)) {
	t.Helper()
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			test(t, newEnvFrom(t, envSetup{postgres: backend == "postgres"}))
		})
	}
}

// newEnvWith is newEnv with configure applied to the server's
// configuration.
func newEnvWith(t *testing.T, configure func(*authserver.Config)) *env {
	t.Helper()
	return newEnvFrom(t, envSetup{configure: configure})
}

// envSetup says how newEnvFrom builds an env; its zero value is newEnv's.
type envSetup struct {
	// configure, when set, changes the server's configuration at each
	// start.
	configure func(*authserver.Config)
	// postgres keeps the data in a PostgreSQL schema of its own (see
	// pgtest, which skips the test without a test database) instead of a
	// SQLite file.
	postgres bool
	// clientCerts makes the TLS server ask for client certificates, as a
	// site with client_auth mode request does (RFC 8705).
	clientCerts bool
}

func newEnvFrom(t *testing.T, setup envSetup) *env {
	t.Helper()
	e := &env{
		dbPath:    filepath.Join(t.TempDir(), "p.db"),
		admin:     authserver.Credentials{ClientID: "portcullis-admin", ClientSecret: adminSecret},
		configure: setup.configure,
	}
	if setup.postgres {
		e.pgDSN = pgtest.DSN(t)
	}
	// The issuer is the server's URL, so the server starts first and gets
	// its handler once the authorization server is built.
	e.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*e.handler.Load()).ServeHTTP(w, r)
	}))
	if setup.clientCerts {
		e.ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	}
	e.ts.StartTLS()
	e.issuer = e.ts.URL + "/"
	t.Cleanup(func() {
		e.ts.Close()
		if e.srv != nil {
			e.srv.Close()
		}
		if e.store != nil {
			e.store.Close()
		}
	})
	e.start(t)
	e.adminToken = e.token(t, e.admin, e.mgmtAudience()).AccessToken
	return e
}

// open opens a handle on e's database, PostgreSQL or SQLite; the caller
// closes it.
func (e *env) open(t *testing.T) storage.Store {
	t.Helper()
	var st storage.Store
	var err error
	if e.pgDSN != "" {
		st, err = postgres.Open(t.Context(), e.pgDSN)
	} else {
		st, err = sqlite.Open(e.dbPath)
	}
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	return st
}

// start opens the database and serves a new Server on it.
func (e *env) start(t *testing.T) {
	t.Helper()
	st := e.open(t)
	e.store = st
	cfg := authserver.Config{
		Issuer:         e.issuer,
		Store:          st,
		BootstrapAdmin: &e.admin,
		Now:            func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) },
	}
	if e.configure != nil {
		e.configure(&cfg)
	}
	if cfg.KeyEncryptionKey == nil {
		e.seedSigningKeys(t, st)
	}
	srv, err := authserver.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("authserver.New: %v", err)
	}
	e.srv = srv
	h := srv.Handler()
	e.handler.Store(&h)
}

// sharedSigningKeys are complete sets of signing keys, by domain, made
// once and stored in the new database of every env without a key
// encryption key (see seedSigningKeys): generating the RSA keys is most of
// what starting a server on a new database costs. The tests of fresh keys
// and their rotation start servers of their own, or rotate.
var sharedSigningKeys struct {
	sync.Mutex
	byDomain map[string][]keys.SigningKey
}

// seedSigningKeys stores the shared signing keys of e's issuer in st,
// when it has none.
func (e *env) seedSigningKeys(t *testing.T, st storage.Store) {
	t.Helper()
	stored, err := st.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) > 0 {
		return
	}
	u, err := url.Parse(e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	sharedSigningKeys.Lock()
	ks, ok := sharedSigningKeys.byDomain[u.Hostname()]
	if !ok {
		if ks, err = keys.Complete(nil, u.Hostname(), time.Now()); err != nil {
			sharedSigningKeys.Unlock()
			t.Fatal(err)
		}
		if sharedSigningKeys.byDomain == nil {
			sharedSigningKeys.byDomain = map[string][]keys.SigningKey{}
		}
		sharedSigningKeys.byDomain[u.Hostname()] = ks
	}
	sharedSigningKeys.Unlock()
	if err := st.SaveSigningKeys(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
}

// restart closes the store, reopens it and serves a new Server on it, at
// the same issuer.
func (e *env) restart(t *testing.T) {
	t.Helper()
	if err := e.store.Close(); err != nil {
		t.Fatalf("closing the store: %v", err)
	}
	e.store = nil
	e.srv.Close()
	e.start(t)
}

func (e *env) mgmtAudience() string { return authserver.ManagementAudience(e.issuer) }

// ctx carries the test server's HTTP client for oauth2 and go-oidc.
func (e *env) ctx(t *testing.T) context.Context {
	return oidc.ClientContext(context.WithValue(t.Context(), oauth2.HTTPClient, e.ts.Client()), e.ts.Client())
}

// fetchToken asks for a client credentials token with x/oauth2.
func (e *env) fetchToken(t *testing.T, c authserver.Credentials, style oauth2.AuthStyle, audience string, scopes ...string) (*oauth2.Token, error) {
	t.Helper()
	cfg := clientcredentials.Config{
		ClientID:       c.ClientID,
		ClientSecret:   c.ClientSecret,
		TokenURL:       e.issuer + "oauth/token",
		Scopes:         scopes,
		EndpointParams: url.Values{"audience": {audience}},
		AuthStyle:      style,
	}
	return cfg.Token(e.ctx(t))
}

// token gets a token with client_secret_post and fails the test if it
// cannot.
func (e *env) token(t *testing.T, c authserver.Credentials, audience string, scopes ...string) *oauth2.Token {
	t.Helper()
	tok, err := e.fetchToken(t, c, oauth2.AuthStyleInParams, audience, scopes...)
	if err != nil {
		t.Fatalf("token for %s at %s %v: %v", c.ClientID, audience, scopes, err)
	}
	return tok
}

// wantTokenRefused checks that x/oauth2 got an OAuth error response.
func wantTokenRefused(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("token request: got %v, want an OAuth error %s", err, code)
	}
	if re.Response.StatusCode != status || re.ErrorCode != code || re.ErrorDescription == "" {
		t.Fatalf("token request: got %d %q (%q), want %d %q with a description", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription, status, code)
	}
}

// scopeOf returns the scope member of a token response.
func scopeOf(tok *oauth2.Token) string {
	s, _ := tok.Extra("scope").(string)
	return s
}

// request is one HTTP request to the server.
type request struct {
	method string
	path   string // relative to the issuer
	// auth is the Authorization header, if any.
	auth string
	// contentType defaults to application/json when body is set.
	contentType string
	// body is sent as is when it is a string, JSON-encoded otherwise.
	body any
}

// reply is a response, read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string { return http.StatusText(r.status) + " " + string(r.body) }

// decode unmarshals the body into v.
func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %s is not the JSON expected: %v", r, err)
	}
}

// object returns the body as a JSON object.
func (r reply) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

func (e *env) do(t *testing.T, req request) reply {
	t.Helper()
	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		doc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(doc)
	}
	r, err := http.NewRequestWithContext(t.Context(), req.method, e.issuer+req.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if req.auth != "" {
		r.Header.Set("Authorization", req.auth)
	}
	switch {
	case req.contentType != "":
		r.Header.Set("Content-Type", req.contentType)
	case req.body != nil:
		r.Header.Set("Content-Type", "application/json")
	}
	return e.send(t, r)
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{".well-known/openid-configuration", ".well-known/oauth-authorization-server"} {
		t.Run(path, func(t *testing.T) {
			r := e.do(t, request{method: "GET", path: path})
			if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("GET %s: %s (%s)", path, r, r.header.Get("Content-Type"))
			}
			var cfg oidc.ProviderConfig
			r.decode(t, &cfg)
			if cfg.IssuerURL != e.issuer || cfg.TokenURL != e.issuer+"oauth/token" || cfg.JWKSURL != e.issuer+".well-known/jwks.json" {
				t.Errorf("metadata: issuer %q, token_endpoint %q, jwks_uri %q; want %q, %[4]soauth/token, %[4]s.well-known/jwks.json",
					cfg.IssuerURL, cfg.TokenURL, cfg.JWKSURL, e.issuer)
			}
			if cfg.AuthURL != e.issuer+"authorize" || cfg.UserInfoURL != e.issuer+"userinfo" {
				t.Errorf("authorization_endpoint %q, userinfo_endpoint %q", cfg.AuthURL, cfg.UserInfoURL)
			}
			m := r.object(t)
			for name, want := range map[string]any{
				"grant_types_supported":                          []any{"authorization_code", "implicit", "refresh_token", "client_credentials"},
				"response_types_supported":                       []any{"code", "id_token", "code id_token"},
				"response_modes_supported":                       []any{"query", "fragment", "form_post"},
				"code_challenge_methods_supported":               []any{"S256", "plain"},
				"scopes_supported":                               []any{"openid", "profile", "email", "offline_access"},
				"end_session_endpoint":                           e.issuer + "oidc/logout",
				"revocation_endpoint":                            e.issuer + "oauth/revoke",
				"authorization_response_iss_parameter_supported": true,
			} {
				if !reflect.DeepEqual(m[name], want) {
					t.Errorf("%s = %v, want %v", name, m[name], want)
				}
			}
			if methods, _ := m["token_endpoint_auth_methods_supported"].([]any); !slices.Contains(methods, any("none")) || !slices.Contains(methods, any("client_secret_basic")) {
				t.Errorf("token_endpoint_auth_methods_supported = %v", methods)
			}
			// A provider built from this document verifies the server's
			// tokens: its jwks_uri works.
			p := cfg.NewProvider(e.ctx(t))
			tok := e.token(t, e.admin, e.mgmtAudience())
			if _, err := p.Verifier(&oidc.Config{ClientID: e.mgmtAudience()}).Verify(e.ctx(t), tok.AccessToken); err != nil {
				t.Errorf("verifying a token with the keys at %s: %v", cfg.JWKSURL, err)
			}
		})
	}
	t.Run("go-oidc NewProvider", func(t *testing.T) {
		// NewProvider fetches openid-configuration and fails unless its
		// issuer is exactly the one asked for.
		p, err := oidc.NewProvider(e.ctx(t), e.issuer)
		if err != nil {
			t.Fatalf("oidc.NewProvider(%s): %v", e.issuer, err)
		}
		if got := p.Endpoint().TokenURL; got != e.issuer+"oauth/token" {
			t.Errorf("token endpoint = %q", got)
		}
	})
	t.Run("only GET and HEAD", func(t *testing.T) {
		r := e.do(t, request{method: "POST", path: ".well-known/openid-configuration", body: obj{}})
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST discovery: %s, Allow %q; want 405 with Allow: GET, HEAD", r, r.header.Get("Allow"))
		}
		if r := e.do(t, request{method: "HEAD", path: ".well-known/jwks.json"}); r.status != http.StatusOK {
			t.Errorf("HEAD jwks.json: %s", r)
		}
	})
}

// jwks fetches the published keys.
func (e *env) jwks(t *testing.T) []map[string]any {
	t.Helper()
	r := e.do(t, request{method: "GET", path: ".well-known/jwks.json"})
	if r.status != http.StatusOK {
		t.Fatalf("GET jwks.json: %s", r)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	r.decode(t, &set)
	return set.Keys
}

func kids(keys []map[string]any) []string {
	var out []string
	for _, k := range keys {
		kid, _ := k["kid"].(string)
		out = append(out, kid)
	}
	slices.Sort(out)
	return out
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	keys := e.jwks(t)
	if len(keys) != 6 {
		t.Fatalf("JWKS holds %d keys, want 6 (current and next for RS256, PS256, ES256)", len(keys))
	}
	perAlg := map[string]int{}
	for _, k := range keys {
		alg, _ := k["alg"].(string)
		perAlg[alg]++
		if k["kid"] == "" || k["kid"] == nil || k["use"] != "sig" {
			t.Errorf("key %v: want a kid and use sig", k)
		}
		wantKty := map[string]string{"RS256": "RSA", "PS256": "RSA", "ES256": "EC"}[alg]
		if k["kty"] != wantKty {
			t.Errorf("key %v: kty %v, want %s for %s", k["kid"], k["kty"], wantKty, alg)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v publishes the private member %q", k["kid"], private)
			}
		}
	}
	if want := map[string]int{"RS256": 2, "PS256": 2, "ES256": 2}; !maps.Equal(perAlg, want) {
		t.Errorf("keys per alg = %v, want %v", perAlg, want)
	}
	if ks := kids(keys); len(slices.Compact(ks)) != 6 {
		t.Errorf("kids are not unique: %v", ks)
	}
}

func TestPersistence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fx := e.newFixture(t, "persist")
	kidsBefore := kids(e.jwks(t))
	clientsBefore := e.mgmt(t, "GET", "clients", nil).body
	apiToken := e.token(t, fx.client, fx.audience).AccessToken
	oldAdminToken := e.adminToken

	e.restart(t)

	if got := kids(e.jwks(t)); !slices.Equal(got, kidsBefore) {
		t.Errorf("kids after a restart = %v, want %v", got, kidsBefore)
	}
	if got := e.mgmt(t, "GET", "clients", nil).body; !bytes.Equal(got, clientsBefore) {
		t.Errorf("clients after a restart:\n%s\nwant\n%s", got, clientsBefore)
	}
	if _, err := e.verify(t, apiToken, fx.audience); err != nil {
		t.Errorf("a token issued before the restart does not verify: %v", err)
	}
	// The old admin token still opens the Management API, and both
	// secrets still work (the hashing key persisted).
	if r := e.do(t, request{method: "GET", path: "api/v2/clients", auth: "Bearer " + oldAdminToken}); r.status != http.StatusOK {
		t.Errorf("Management API with a token from before the restart: %s", r)
	}
	e.token(t, e.admin, e.mgmtAudience())
	if got := scopeOf(e.token(t, fx.client, fx.audience)); got != "read:x" {
		t.Errorf("scope after a restart = %q, want read:x", got)
	}
}

// verify checks a token with go-oidc against the published discovery
// document and keys, requiring audience in aud, and returns its claims.
func (e *env) verify(t *testing.T, token, audience string) (map[string]any, error) {
	t.Helper()
	p, err := oidc.NewProvider(e.ctx(t), e.issuer)
	if err != nil {
		t.Fatalf("oidc.NewProvider: %v", err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: audience}).Verify(e.ctx(t), token)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return claims, nil
}

// forge makes a compact JWS of header, payload and signature.
func forge(header, payload map[string]any, signature string) string {
	enc := func(v map[string]any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(payload) + "." + signature
}

// decodeSegment decodes the header (i 0) or payload (i 1) of a token.
func decodeSegment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// With an mTLS alias host, discovery points clients there for the token
// and revocation endpoints (RFC 8705 section 5).
func TestDiscoveryMTLSAliases(t *testing.T) {
	e := newEnvWith(t, func(c *authserver.Config) { c.MTLSEndpointAliases = "https://mtls.auth.example/" })
	m := e.do(t, request{method: "GET", path: ".well-known/openid-configuration"}).object(t)
	want := map[string]any{"token_endpoint": "https://mtls.auth.example/oauth/token", "revocation_endpoint": "https://mtls.auth.example/oauth/revoke"}
	if !reflect.DeepEqual(m["mtls_endpoint_aliases"], want) || m["tls_client_certificate_bound_access_tokens"] != true {
		t.Errorf("mtls_endpoint_aliases %v, bound tokens %v; want %v, true", m["mtls_endpoint_aliases"], m["tls_client_certificate_bound_access_tokens"], want)
	}
	if m := newEnv(t).do(t, request{method: "GET", path: ".well-known/openid-configuration"}).object(t); m["mtls_endpoint_aliases"] != nil {
		t.Errorf("without an alias host: mtls_endpoint_aliases %v", m["mtls_endpoint_aliases"])
	}
}
