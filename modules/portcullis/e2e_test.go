package portcullis_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis-gw/portcullis/internal/testenv"
	"github.com/portcullis-gw/portcullis/internal/testutil"
)

const (
	adminID     = "e2e-admin"
	adminSecret = "e2e-admin-secret-0123456789abcdefghijkl"
)

// contractCaddyfile is the configuration contract of the authorization
// server, verbatim but for the port and the test-only global options.
func contractCaddyfile(dir string, port int) string {
	return caddyfileWithStorage(dir, port, "sqlite {$PORTCULLIS_DATA:./data}/portcullis.db")
}

// caddyfileWithStorage is the contract Caddyfile with another storage
// setting.
func caddyfileWithStorage(dir string, port int, storage string) string {
	return fmt.Sprintf(`{
%s
	portcullis {
		issuer https://localhost:%[2]d/
		storage %[3]s
		bootstrap_admin {env.PORTCULLIS_ADMIN_CLIENT_ID} {env.PORTCULLIS_ADMIN_CLIENT_SECRET}
	}
}
https://localhost:%[2]d {
	tls internal
	authorization_server
}
`, testenv.TestGlobals(dir), port, storage)
}

// stack is a running Portcullis on the contract Caddyfile.
type stack struct {
	t        *testing.T
	caddy    *testenv.Caddy
	issuer   string
	provider *oidc.Provider
	ctx      context.Context // carries the client that trusts Caddy's CA
}

func startStack(t *testing.T) *stack {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("PORTCULLIS_DATA", filepath.Join(dir, "data"))
	t.Setenv("PORTCULLIS_ADMIN_CLIENT_ID", adminID)
	t.Setenv("PORTCULLIS_ADMIN_CLIENT_SECRET", adminSecret)
	return runStack(t, dir, testenv.FreePort(t))
}

// runStack starts the contract Caddyfile on port with its data in dir,
// and discovers the issuer with go-oidc.
func runStack(t *testing.T, dir string, port int) *stack {
	t.Helper()
	return runCaddyfile(t, dir, port, contractCaddyfile(dir, port))
}

// runCaddyfile starts caddyfile, whose issuer is https://localhost:port/,
// with Caddy's storage in dir, and discovers the issuer with go-oidc.
func runCaddyfile(t *testing.T, dir string, port int, caddyfile string) *stack {
	t.Helper()
	s := &stack{t: t, issuer: fmt.Sprintf("https://localhost:%d/", port)}
	s.caddy = testenv.Start(t, dir, caddyfile, s.issuer+".well-known/jwks.json")
	s.ctx = context.WithValue(oidc.ClientContext(t.Context(), s.caddy.Client), oauth2.HTTPClient, s.caddy.Client)
	var err error
	if s.provider, err = oidc.NewProvider(s.ctx, s.issuer); err != nil {
		t.Fatalf("OIDC discovery: %v", err)
	}
	return s
}

// credentials configures the client credentials grant for a client
// authenticating with client_secret_post, as Auth0's SDKs do.
func (s *stack) credentials(id, secret, audience string, scopes ...string) *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID: id, ClientSecret: secret, TokenURL: s.provider.Endpoint().TokenURL,
		Scopes: scopes, EndpointParams: map[string][]string{"audience": {audience}},
		AuthStyle: oauth2.AuthStyleInParams,
	}
}

// clientFor returns an HTTP client that sends the client's tokens.
func (s *stack) clientFor(id, secret, audience string, scopes ...string) *http.Client {
	return s.credentials(id, secret, audience, scopes...).Client(s.ctx)
}

func (s *stack) token(id, secret, audience string, scopes ...string) (*oauth2.Token, error) {
	return s.credentials(id, secret, audience, scopes...).Token(s.ctx)
}

// call sends a Management API request through c, a client that adds its
// own token, and decodes the JSON answer.
func (s *stack) call(c *http.Client, method, path string, body any, wantStatus int) map[string]any {
	s.t.Helper()
	api := testutil.ManagementAPI{Base: s.issuer + "api/v2/", Client: c}
	return api.Call(s.t, method, path, body, wantStatus)
}

func (s *stack) port() int {
	u, _ := url.Parse(s.issuer)
	p, _ := strconv.Atoi(u.Port())
	return p
}

func (s *stack) admin() *http.Client {
	return s.clientFor(adminID, adminSecret, s.issuer+"api/v2/")
}

// TestEndToEnd drives the whole M2M setup through the real module stack:
// an admin token from the bootstrap client, an API, a client and a grant
// made through the Management API, then a token for the API verified
// against the published JWKS, for each signing algorithm and dialect.
func TestEndToEnd(t *testing.T) {
	s := startStack(t)
	admin := s.admin()
	for _, tc := range []struct {
		alg, dialect string
	}{
		{"RS256", "access_token"},
		{"PS256", "rfc9068_profile"},
		{"ES256", "access_token"},
		{"ES256", "rfc9068_profile"},
	} {
		t.Run(tc.alg+"/"+tc.dialect, func(t *testing.T) {
			audience := fmt.Sprintf("https://api.example.com/orders/%s/%s", tc.alg, tc.dialect)
			s.call(admin, "POST", "resource-servers", map[string]any{
				"name": "Orders", "identifier": audience, "signing_alg": tc.alg, "token_dialect": tc.dialect,
				"token_lifetime": 3600,
				"scopes":         []map[string]string{{"value": "read:orders"}, {"value": "create:orders"}, {"value": "delete:orders"}},
			}, http.StatusCreated)
			app := s.call(admin, "POST", "clients", map[string]any{"name": "orders-worker", "app_type": "non_interactive"}, http.StatusCreated)
			id, secret := app["client_id"].(string), app["client_secret"].(string)
			s.call(admin, "POST", "client-grants", map[string]any{
				"client_id": id, "audience": audience, "scope": []string{"read:orders", "create:orders"},
			}, http.StatusCreated)

			tok, err := s.token(id, secret, audience, "read:orders")
			if err != nil {
				t.Fatalf("client credentials: %v", err)
			}
			if tok.TokenType != "Bearer" || tok.Extra("scope") != "read:orders" || tok.Extra("expires_in").(float64) != 3600 {
				t.Errorf("token response: type %q scope %v expires_in %v", tok.TokenType, tok.Extra("scope"), tok.Extra("expires_in"))
			}
			claims := s.verify(tok.AccessToken, audience, tc.alg)
			if claims["iss"] != s.issuer || claims["sub"] != id+"@clients" || claims["scope"] != "read:orders" {
				t.Errorf("claims = %v", claims)
			}
			if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3600 {
				t.Errorf("exp - iat = %v, want the API's token_lifetime", exp-iat)
			}
			typ := header(t, tok.AccessToken)["typ"]
			if tc.dialect == "access_token" {
				if typ != "JWT" || claims["gty"] != "client-credentials" || claims["azp"] != id || claims["client_id"] != nil {
					t.Errorf("Auth0 dialect: typ %v, claims %v", typ, claims)
				}
			} else {
				if typ != "at+jwt" || claims["client_id"] != id || claims["jti"] == nil || claims["azp"] != nil {
					t.Errorf("RFC 9068 dialect: typ %v, claims %v", typ, claims)
				}
			}

			// The grant is the ceiling: delete:orders is defined on the
			// API but not granted.
			if _, err := s.token(id, secret, audience, "delete:orders"); err == nil || !strings.Contains(err.Error(), "access_denied") {
				t.Errorf("scope beyond the grant: %v, want access_denied", err)
			}
		})
	}
}

// verify checks the token's signature against the published JWKS with
// go-oidc (iss, aud, exp, allowed algorithm) and again with jwx, and
// returns its claims.
func (s *stack) verify(token, audience, alg string) map[string]any {
	s.t.Helper()
	v := s.provider.Verifier(&oidc.Config{ClientID: audience, SupportedSigningAlgs: []string{alg}})
	idt, err := v.Verify(s.ctx, token)
	if err != nil {
		s.t.Fatalf("go-oidc verification: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		s.t.Fatal(err)
	}
	set, err := jwk.Fetch(s.ctx, s.issuer+".well-known/jwks.json", jwk.WithHTTPClient(s.caddy.Client))
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := jwt.Parse([]byte(token), jwt.WithKeySet(set), jwt.WithIssuer(s.issuer), jwt.WithAudience(audience), jwt.WithValidate(true)); err != nil {
		s.t.Fatalf("jwx verification: %v", err)
	}
	return claims
}

func header(t *testing.T, token string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.SplitN(token, ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	json.Unmarshal(raw, &h)
	return h
}

// jwksKIDs returns the key ids the server publishes.
func (s *stack) jwksKIDs() []string {
	s.t.Helper()
	set, err := jwk.Fetch(s.ctx, s.issuer+".well-known/jwks.json", jwk.WithHTTPClient(s.caddy.Client))
	if err != nil {
		s.t.Fatal(err)
	}
	var kids []string
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		kids = append(kids, k.KeyID())
	}
	slices.Sort(kids)
	return kids
}

// TestReloadKeepsDataAndKeys reloads the configuration (as `caddy reload`
// does) and checks that the keys, the stored objects and tokens issued
// before the reload all survive.
func TestReloadKeepsDataAndKeys(t *testing.T) {
	s := startStack(t)
	admin := s.admin()
	audience := "https://api.example.com/reload"
	s.call(admin, "POST", "resource-servers", map[string]any{"identifier": audience, "scopes": []map[string]string{{"value": "read:x"}}}, http.StatusCreated)
	before := s.jwksKIDs()
	if len(before) != 6 {
		t.Fatalf("JWKS has %d keys, want current and next for RS256, PS256 and ES256", len(before))
	}
	oldToken, err := s.token(adminID, adminSecret, s.issuer+"api/v2/")
	if err != nil {
		t.Fatal(err)
	}

	testenv.Load(t, contractCaddyfile(s.caddy.Dir, s.port())+"\n# reloaded\n")

	if after := s.jwksKIDs(); !slices.Equal(before, after) {
		t.Fatalf("keys changed across reload: %v, then %v", before, after)
	}
	s.verify(oldToken.AccessToken, s.issuer+"api/v2/", "RS256")
	// The token from before the reload still opens the Management API.
	withOld := oauth2.NewClient(s.ctx, oauth2.StaticTokenSource(oldToken))
	got := s.call(withOld, "GET", "resource-servers/"+strings.ReplaceAll(audience, "/", "%2F"), nil, http.StatusOK)
	if got["identifier"] != audience {
		t.Fatalf("API after reload = %v", got)
	}
}

// TestCreateAdminCommand runs `portcullis create-admin` on a fresh
// storage, starts the server on it and uses the printed credentials.
func TestCreateAdminCommand(t *testing.T) {
	dir := t.TempDir()
	port := testenv.FreePort(t)
	issuer := fmt.Sprintf("https://localhost:%d/", port)
	out, err := runCommand(t, "create-admin", "--issuer", issuer, "--storage", "sqlite "+filepath.Join(dir, "data", "portcullis.db"))
	if err != nil {
		t.Fatal(err)
	}
	var cred struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal(out, &struct {
		ClientID     *string `json:"client_id"`
		ClientSecret *string `json:"client_secret"`
	}{&cred.ClientID, &cred.ClientSecret}); err != nil || len(cred.ClientID) != 32 || len(cred.ClientSecret) < 43 {
		t.Fatalf("create-admin printed %q (%v)", out, err)
	}
	// No bootstrap admin this time: the CLI's client must do.
	t.Setenv("PORTCULLIS_DATA", filepath.Join(dir, "data"))
	t.Setenv("PORTCULLIS_ADMIN_CLIENT_ID", "")
	t.Setenv("PORTCULLIS_ADMIN_CLIENT_SECRET", "")
	s := runStack(t, dir, port)
	list := s.call(s.clientFor(cred.ClientID, cred.ClientSecret, issuer+"api/v2/"), "GET", "clients?include_totals=true", nil, http.StatusOK)
	if list["total"].(float64) != 1 {
		t.Fatalf("clients = %v, want only the CLI's admin", list)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--storage", "sqlite x.db"}, "--issuer is required"},
		{[]string{"--issuer", issuer, "--storage", "mysql x"}, "storage sqlite <path> or storage postgres <dsn>"},
		{[]string{"--issuer", issuer, "--storage", "postgres x"}, "invalid DSN"},
		{[]string{"--issuer", "http://example.com/", "--storage", "sqlite " + filepath.Join(dir, "other.db")}, "https"},
	} {
		if _, err := runCommand(t, "create-admin", bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("create-admin %q = %v, want %q", bad.args, err, bad.want)
		}
	}
}

// runCommand runs a registered portcullis subcommand as the binary would,
// and returns what it printed.
func runCommand(t *testing.T, name string, args ...string) ([]byte, error) {
	t.Helper()
	c, ok := caddycmd.Commands()[name]
	if !ok {
		t.Fatalf("no %s command registered", name)
	}
	cmd := &cobra.Command{Use: c.Name, SilenceUsage: true, SilenceErrors: true}
	c.CobraFunc(cmd)
	cmd.SetArgs(args)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	runErr := cmd.Execute()
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	return out, runErr
}

// TestConfigErrors loads configurations that adapt but must not start,
// and checks that each names what is wrong.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	port := testenv.FreePort(t)
	site := fmt.Sprintf("https://localhost:%d {\n\ttls internal\n\tauthorization_server\n}\n", port)
	for _, tc := range []struct {
		name, options, want string
	}{
		{"no portcullis option", "", "issuer is required"},
		{"issuer without trailing slash", "portcullis {\n\t\tissuer https://localhost:8443\n\t}", "must end with a slash"},
		{"plain http issuer", "portcullis {\n\t\tissuer http://auth.example.com/\n\t}", "must use https"},
		{"issuer with query", "portcullis {\n\t\tissuer https://localhost:8443/?x=1\n\t}", "query"},
		{"short bootstrap secret", "portcullis {\n\t\tissuer https://localhost:8443/\n\t\tstorage sqlite " + filepath.Join(dir, "p.db") + "\n\t\tbootstrap_admin admin short\n\t}", "at least 32 characters"},
		{"postgres DSN from an unset variable", "portcullis {\n\t\tissuer https://localhost:8443/\n\t\tstorage postgres {env.PORTCULLIS_TEST_UNSET_DSN}\n\t}", "storage postgres: the DSN is empty"},
		{"postgres DSN invalid", "portcullis {\n\t\tissuer https://localhost:8443/\n\t\tstorage postgres \"host=db.example password=hunter2 sslmode=sometimes\"\n\t}", "storage postgres: invalid DSN"},
		// Nothing listens on port 1.
		{"postgres unreachable", "portcullis {\n\t\tissuer https://localhost:8443/\n\t\tstorage postgres postgres://admin:hunter2@127.0.0.1:1/auth\n\t}", `opening PostgreSQL storage: open postgres database "auth" on 127.0.0.1:1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := "{\n" + testenv.TestGlobals(dir) + "\t" + tc.options + "\n}\n" + site
			err := testenv.LoadErr(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("load error = %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("load error %q shows the password", err)
			}
		})
	}
}
