package authserver_test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/sessions"
)

// pkceVerifier is a valid PKCE code_verifier, and pkceChallenge its S256
// challenge.
const pkceVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

var pkceChallenge = func() string {
	sum := sha256.Sum256([]byte(pkceVerifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}()

// flows is what the user flow tests need: an API with RBAC and offline
// access, a public SPA, a confidential web app and a user holding read:x
// and delete:x.
type flows struct {
	e    *env
	api  string
	spa  string
	web  authserver.Credentials
	user string
}

const (
	spaCallback = "https://spa.example/callback"
	webCallback = "https://web.example/callback"
)

func newFlows(t *testing.T) *flows {
	t.Helper()
	return newFlowsOn(t, newEnv(t))
}

// newFlowsOn sets up the flows on e.
func newFlowsOn(t *testing.T, e *env) *flows {
	t.Helper()
	f := &flows{e: e, api: newAudience("api")}
	e.createAPI(t, f.api, []string{"read:x", "write:x", "delete:x"}, obj{
		"token_lifetime": 7200, "enforce_policies": true, "token_dialect": "access_token_authz",
		"allow_offline_access": true, "signing_alg": "PS256",
	})
	f.spa = e.createClient(t, obj{"name": "spa", "app_type": "spa", "callbacks": []string{spaCallback},
		"web_origins": []string{"https://spa.example"}, "allowed_origins": []string{"https://*.cors.example"}}).ClientID
	f.web = e.createClient(t, obj{"name": "web", "app_type": "regular_web", "callbacks": []string{webCallback},
		"jwt_configuration": obj{"alg": "ES256", "lifetime_in_seconds": 600}})
	u := e.createUser(t, newEmail("ann"), obj{"name": "Ann Smith", "given_name": "Ann", "family_name": "Smith",
		"nickname": "ann", "picture": "https://pics.example/ann.png", "email_verified": true})
	f.user = u["user_id"].(string)
	e.must(t, "POST", userPath(f.user)+"/permissions", obj{"permissions": []obj{perm(f.api, "read:x"), perm(f.api, "delete:x")}}, http.StatusCreated, nil)
	return f
}

// now is the server's clock.
func (e *env) now() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }

// code stores an authorization code for the SPA, as /authorize would,
// changed by edit, and returns the code.
func (f *flows) code(t *testing.T, edit func(c *sessions.AuthorizationCode)) string {
	t.Helper()
	secret := sessions.NewSecret()
	now := f.e.now()
	c := &sessions.AuthorizationCode{
		ID: sessions.Key(secret), ClientID: f.spa, UserID: f.user, RedirectURI: spaCallback, Audience: f.api,
		Scopes: []string{"openid", "profile", "email", "offline_access", "read:x"}, Nonce: "n-0S6_WzA2Mj",
		CodeChallenge: pkceChallenge, CodeChallengeMethod: "S256", AuthTime: now.Add(-time.Minute).Truncate(time.Second),
		SessionID: "session-key-never-leaked", FamilyID: uniq("family"), ExpiresAt: now.Add(time.Minute),
	}
	if edit != nil {
		edit(c)
	}
	if err := f.e.store.CreateAuthorizationCode(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return secret
}

// post sends a form to an endpoint: pairs of name and value, a value ""
// leaving that parameter out.
func (e *env) post(t *testing.T, path string, header http.Header, kv ...string) reply {
	t.Helper()
	return e.send(t, e.formRequest(t, path, header, kv...))
}

// formRequest is the request post sends.
func (e *env) formRequest(t *testing.T, path string, header http.Header, kv ...string) *http.Request {
	t.Helper()
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	r, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.issuer+path, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range header {
		r.Header[k] = vs
	}
	return r
}

// send makes a request and reads the whole response.
func (e *env) send(t *testing.T, r *http.Request) reply {
	t.Helper()
	return e.sendWith(t, e.ts.Client(), r)
}

// sendWith is send through the HTTP client c.
func (e *env) sendWith(t *testing.T, c *http.Client, r *http.Request) reply {
	t.Helper()
	rep, err := roundTrip(c, r)
	if err != nil {
		t.Fatal(err)
	}
	if rep.status >= 500 {
		t.Errorf("%s %s: server error %s", r.Method, r.URL.Path, rep.body)
	}
	return rep
}

// roundTrip makes a request through c and reads the whole response. Unlike
// send, it may be called from any goroutine.
func roundTrip(c *http.Client, r *http.Request) (reply, error) {
	resp, err := c.Do(r)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: reading the response: %w", r.Method, r.URL.Path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// exchange redeems a code for the SPA with the pkceVerifier; pairs in extra
// override or (with "") remove parameters.
func (f *flows) exchange(t *testing.T, code string, extra ...string) reply {
	t.Helper()
	return f.e.post(t, "oauth/token", nil, f.exchangeForm(code, extra...)...)
}

// exchangeForm is the form of exchange.
func (f *flows) exchangeForm(code string, extra ...string) []string {
	kv := []string{"grant_type", "authorization_code", "client_id", f.spa, "code", code, "redirect_uri", spaCallback, "code_verifier", pkceVerifier}
	return override(kv, extra)
}

// override replaces the values of kv named in extra, and appends the rest.
func override(kv, extra []string) []string {
	out := slices.Clone(kv)
next:
	for i := 0; i < len(extra); i += 2 {
		for j := 0; j < len(out); j += 2 {
			if out[j] == extra[i] {
				out[j+1] = extra[i+1]
				continue next
			}
		}
		out = append(out, extra[i], extra[i+1])
	}
	return out
}

// tokenSet is a successful token response.
type tokenSet struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
}

func wantTokens(t *testing.T, r reply) tokenSet {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("token request: %s", r)
	}
	var tok tokenSet
	r.decode(t, &tok)
	if tok.AccessToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("token response %s", r.body)
	}
	return tok
}

// parse verifies a JWT with the server's published JWKS, as a resource
// server would, and returns its claims.
func (e *env) parse(t *testing.T, token string, opts ...jwt.ParseOption) map[string]any {
	t.Helper()
	set, err := jwk.Fetch(t.Context(), e.issuer+".well-known/jwks.json", jwk.WithHTTPClient(e.ts.Client()))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Parse([]byte(token), append([]jwt.ParseOption{jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithIssuer(e.issuer)}, opts...)...)
	if err != nil {
		t.Fatalf("verifying %s with the JWKS: %v", token, err)
	}
	m, err := tok.AsMap(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// header returns the protected header of a JWS.
func jwsHeader(t *testing.T, token string) jws.Headers {
	t.Helper()
	msg, err := jws.ParseString(token)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Signatures()[0].ProtectedHeaders()
}

func TestAuthorizationCodeExchange(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	e := f.e

	t.Run("public client with S256", func(t *testing.T) {
		tok := wantTokens(t, f.exchange(t, f.code(t, nil)))
		if tok.Scope != "openid profile email offline_access read:x" || tok.ExpiresIn != 7200 || tok.IDToken == "" || tok.RefreshToken == "" {
			t.Errorf("response: scope %q, expires_in %d, id_token %t, refresh_token %t", tok.Scope, tok.ExpiresIn, tok.IDToken != "", tok.RefreshToken != "")
		}
		at := e.parse(t, tok.AccessToken, jwt.WithAudience(f.api), jwt.WithAudience(e.issuer+"userinfo"))
		if h := jwsHeader(t, tok.AccessToken); h.Algorithm().String() != "PS256" || h.Type() != "JWT" {
			t.Errorf("access token header alg %s typ %s, want the API's PS256 and JWT", h.Algorithm(), h.Type())
		}
		perms, _ := at["permissions"].([]any)
		if at["sub"] != f.user || at["azp"] != f.spa || at["scope"] != tok.Scope || len(perms) != 2 || perms[0] != "delete:x" || perms[1] != "read:x" {
			t.Errorf("access token claims %v: want sub %s, azp %s, the scope, and every permission of the user", at, f.user, f.spa)
		}
		if _, ok := at["gty"]; ok {
			t.Error("a user's access token has gty")
		}

		p, err := oidc.NewProvider(e.ctx(t), e.issuer)
		if err != nil {
			t.Fatal(err)
		}
		id, err := p.Verifier(&oidc.Config{ClientID: f.spa}).Verify(e.ctx(t), tok.IDToken)
		if err != nil {
			t.Fatalf("go-oidc refused the ID token: %v", err)
		}
		if err := id.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Errorf("at_hash: %v", err)
		}
		if id.Nonce != "n-0S6_WzA2Mj" || id.Subject != f.user {
			t.Errorf("ID token nonce %q sub %q", id.Nonce, id.Subject)
		}
		claims := e.parse(t, tok.IDToken, jwt.WithAudience(f.spa))
		sum := sha256.Sum256([]byte(tok.AccessToken))
		if claims["at_hash"] != base64.RawURLEncoding.EncodeToString(sum[:16]) {
			t.Errorf("at_hash %v, want the left half of SHA-256", claims["at_hash"])
		}
		if claims["azp"] != f.spa || claims["name"] != "Ann Smith" || claims["nickname"] != "ann" || claims["given_name"] != "Ann" ||
			claims["family_name"] != "Smith" || claims["picture"] != "https://pics.example/ann.png" || claims["email_verified"] != true ||
			claims["email"] == nil || claims["updated_at"] == nil || claims["auth_time"] == nil {
			t.Errorf("ID token claims %v", claims)
		}
		if _, ok := claims["sid"]; ok {
			t.Error("the ID token carries sid")
		}
		exp, _ := claims["exp"].(time.Time)
		iat, _ := claims["iat"].(time.Time)
		if exp.Sub(iat) != 36000*time.Second {
			t.Errorf("ID token lifetime %v, want the default 36000 s", exp.Sub(iat))
		}
		if h := jwsHeader(t, tok.IDToken); h.Algorithm().String() != "RS256" || h.Type() != "JWT" || h.KeyID() == "" {
			t.Errorf("ID token header alg %s typ %s kid %q", h.Algorithm(), h.Type(), h.KeyID())
		}
	})

	t.Run("confidential client without PKCE", func(t *testing.T) {
		code := f.code(t, func(c *sessions.AuthorizationCode) {
			c.ClientID, c.RedirectURI, c.CodeChallenge, c.CodeChallengeMethod = f.web.ClientID, webCallback, "", ""
			c.Scopes = []string{"openid", "email", "read:x"}
		})
		tok := wantTokens(t, e.post(t, "oauth/token", nil, "grant_type", "authorization_code", "client_id", f.web.ClientID,
			"client_secret", f.web.ClientSecret, "code", code, "redirect_uri", webCallback))
		if tok.Scope != "openid email read:x" || tok.RefreshToken != "" {
			t.Errorf("scope %q, refresh token %q", tok.Scope, tok.RefreshToken)
		}
		claims := e.parse(t, tok.IDToken, jwt.WithAudience(f.web.ClientID))
		if _, ok := claims["name"]; ok || claims["email"] == nil {
			t.Errorf("claims %v: want email's claims and not profile's", claims)
		}
		exp, _ := claims["exp"].(time.Time)
		iat, _ := claims["iat"].(time.Time)
		if h := jwsHeader(t, tok.IDToken); h.Algorithm().String() != "ES256" || exp.Sub(iat) != 600*time.Second {
			t.Errorf("ID token alg %s lifetime %v, want the client's ES256 and 600 s", h.Algorithm(), exp.Sub(iat))
		}
	})

	t.Run("plain PKCE", func(t *testing.T) {
		code := f.code(t, func(c *sessions.AuthorizationCode) { c.CodeChallenge, c.CodeChallengeMethod = pkceVerifier, "plain" })
		wantTokens(t, f.exchange(t, code))
	})

	t.Run("no audience: a token for userinfo", func(t *testing.T) {
		code := f.code(t, func(c *sessions.AuthorizationCode) {
			c.Audience, c.Scopes = "", []string{"openid", "profile", "read:x"}
		})
		tok := wantTokens(t, f.exchange(t, code))
		at := e.parse(t, tok.AccessToken, jwt.WithAudience(e.issuer+"userinfo"))
		aud, _ := at["aud"].([]string)
		exp, _ := at["exp"].(time.Time)
		iat, _ := at["iat"].(time.Time)
		if tok.Scope != "openid profile" || len(aud) != 1 || tok.ExpiresIn != 86400 || exp.Sub(iat) != 86400*time.Second || jwsHeader(t, tok.AccessToken).Algorithm().String() != "RS256" {
			t.Errorf("scope %q, aud %v, expires_in %d, alg %s", tok.Scope, at["aud"], tok.ExpiresIn, jwsHeader(t, tok.AccessToken).Algorithm())
		}
	})
}

func TestAuthorizationCodeRefused(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	e := f.e
	other := e.createClient(t, obj{"name": "other spa", "app_type": "spa", "callbacks": []string{spaCallback}}).ClientID
	noCode := e.createClient(t, obj{"name": "m2m", "app_type": "non_interactive"})
	blocked := e.createUser(t, newEmail("blocked"), obj{"blocked": true})["user_id"].(string)
	gone := e.createUser(t, newEmail("gone"), nil)["user_id"].(string)
	goneAPI := newAudience("gone")
	goneAPIID := e.createAPI(t, goneAPI, []string{"read:x"}, nil)["id"].(string)
	goneCode := f.code(t, func(c *sessions.AuthorizationCode) { c.UserID = gone })
	goneAPICode := f.code(t, func(c *sessions.AuthorizationCode) { c.Audience = goneAPI })
	e.must(t, "DELETE", userPath(gone), nil, http.StatusNoContent, nil)
	e.must(t, "DELETE", "resource-servers/"+goneAPIID, nil, http.StatusNoContent, nil)

	tests := []struct {
		name   string
		code   func(c *sessions.AuthorizationCode)
		extra  []string
		status int
		err    string
		desc   string
	}{
		{name: "PKCE mismatch", extra: []string{"code_verifier", strings.Repeat("a", 43)}, status: 400, err: "invalid_grant", desc: "Failed to verify code_verifier"},
		{name: "missing pkceVerifier", extra: []string{"code_verifier", ""}, status: 400, err: "invalid_grant", desc: "Missing required parameter: code_verifier"},
		{name: "plain when the code says S256", extra: []string{"code_verifier", pkceChallenge}, status: 400, err: "invalid_grant", desc: "Failed to verify code_verifier"},
		{name: "pkceVerifier too short", extra: []string{"code_verifier", "short"}, status: 400, err: "invalid_request",
			desc: `code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, "-", ".", "_" and "~" (RFC 7636 section 4.1).`},
		{name: "pkceVerifier with a bad character", extra: []string{"code_verifier", strings.Repeat("a", 42) + "+"}, status: 400, err: "invalid_request",
			desc: `code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, "-", ".", "_" and "~" (RFC 7636 section 4.1).`},
		{name: "wrong redirect_uri", extra: []string{"redirect_uri", spaCallback + "/"}, status: 400, err: "invalid_grant", desc: "redirect_uri must be the one of the authorization request."},
		{name: "missing redirect_uri", extra: []string{"redirect_uri", ""}, status: 400, err: "invalid_grant", desc: "redirect_uri must be the one of the authorization request."},
		{name: "another client's code", extra: []string{"client_id", other}, status: 400, err: "invalid_grant", desc: "The authorization code was issued to another client."},
		{name: "expired", code: func(c *sessions.AuthorizationCode) { c.ExpiresAt = e.now().Add(-time.Second) }, status: 400, err: "invalid_grant", desc: "The authorization code has expired."},
		{name: "unknown code", extra: []string{"code", "nope"}, status: 400, err: "invalid_grant", desc: "Invalid authorization code"},
		{name: "missing code", extra: []string{"code", ""}, status: 400, err: "invalid_request", desc: "Missing required parameter: code"},
		{name: "blocked user", code: func(c *sessions.AuthorizationCode) { c.UserID = blocked }, status: 400, err: "invalid_grant", desc: "The user is blocked."},
		{name: "public client without PKCE", code: func(c *sessions.AuthorizationCode) { c.CodeChallenge, c.CodeChallengeMethod = "", "" },
			extra: []string{"code_verifier", ""}, status: 400, err: "invalid_grant", desc: "Public clients must use PKCE: the authorization request had no code_challenge."},
		{name: "unknown challenge method", code: func(c *sessions.AuthorizationCode) { c.CodeChallengeMethod = "S512" }, status: 400, err: "invalid_grant",
			desc: "The authorization request's code_challenge_method is not supported."},
		{name: "grant not allowed", extra: []string{"client_id", noCode.ClientID, "client_secret", noCode.ClientSecret}, status: 400, err: "unauthorized_client",
			desc: "Grant type `authorization_code` not allowed for the client."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantOAuthError(t, f.exchange(t, f.code(t, tc.code), tc.extra...), tc.status, tc.err, tc.desc)
		})
	}
	t.Run("deleted user", func(t *testing.T) {
		// Deleting the user deleted its codes.
		wantOAuthError(t, f.exchange(t, goneCode), 400, "invalid_grant", "Invalid authorization code")
	})
	t.Run("deleted API", func(t *testing.T) {
		wantOAuthError(t, f.exchange(t, goneAPICode), 403, "access_denied", "Service not found: "+goneAPI)
	})
	t.Run("verifier for a code without challenge", func(t *testing.T) {
		code := f.code(t, func(c *sessions.AuthorizationCode) {
			c.ClientID, c.RedirectURI, c.CodeChallenge, c.CodeChallengeMethod = f.web.ClientID, webCallback, "", ""
		})
		r := e.post(t, "oauth/token", nil, "grant_type", "authorization_code", "client_id", f.web.ClientID,
			"client_secret", f.web.ClientSecret, "code", code, "redirect_uri", webCallback, "code_verifier", pkceVerifier)
		wantOAuthError(t, r, 400, "invalid_grant", "The authorization request had no code_challenge, so no code_verifier is expected.")
	})
}

func TestAuthorizationCodeReplay(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	code := f.code(t, nil)
	tok := wantTokens(t, f.exchange(t, code))
	wantOAuthError(t, f.exchange(t, code), 400, "invalid_grant", "The authorization code has been used already; the tokens issued for it are revoked.")
	wantOAuthError(t, f.refresh(t, f.spa, tok.RefreshToken), 400, "invalid_grant", "Unknown or invalid refresh token.")
}

func TestAuthorizationCodeRBAC(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	e := f.e
	// Granted at authorization: read:x and write:x. Since then the user
	// lost read:x and kept delete:x (never requested).
	code := f.code(t, func(c *sessions.AuthorizationCode) { c.Scopes = []string{"openid", "read:x", "write:x"} })
	e.must(t, "DELETE", userPath(f.user)+"/permissions", obj{"permissions": []obj{perm(f.api, "read:x")}}, http.StatusNoContent, nil)
	tok := wantTokens(t, f.exchange(t, code))
	at := e.parse(t, tok.AccessToken, jwt.WithAudience(f.api))
	perms, _ := at["permissions"].([]any)
	if tok.Scope != "openid" || len(perms) != 1 || perms[0] != "delete:x" {
		t.Errorf("scope %q, permissions %v; want openid alone and [delete:x]", tok.Scope, at["permissions"])
	}

	t.Run("offline_access without allow_offline_access", func(t *testing.T) {
		closed := newAudience("closed")
		e.createAPI(t, closed, []string{"read:x"}, nil)
		code := f.code(t, func(c *sessions.AuthorizationCode) {
			c.Audience, c.Scopes = closed, []string{"openid", "offline_access", "read:x"}
		})
		tok := wantTokens(t, f.exchange(t, code))
		if tok.RefreshToken != "" || tok.Scope != "openid read:x" {
			t.Errorf("scope %q, refresh token %q; want no offline access", tok.Scope, tok.RefreshToken)
		}
	})
}

// refresh uses a refresh token of the public client clientID; pairs in
// extra add parameters.
func (f *flows) refresh(t *testing.T, clientID, token string, extra ...string) reply {
	t.Helper()
	return f.e.post(t, "oauth/token", nil, refreshForm(clientID, token, extra...)...)
}

// refreshForm is the form of refresh.
func refreshForm(clientID, token string, extra ...string) []string {
	return append([]string{"grant_type", "refresh_token", "client_id", clientID, "refresh_token", token}, extra...)
}

// spaWith creates a public client with the refresh_token configuration rt
// and returns a refresh token it got from a code exchange.
func (f *flows) spaWith(t *testing.T, rt obj) (clientID, refreshToken string) {
	t.Helper()
	fields := obj{"name": uniq("spa"), "app_type": "spa", "callbacks": []string{spaCallback}}
	if rt != nil {
		fields["refresh_token"] = rt
	}
	id := f.e.createClient(t, fields).ClientID
	tok := wantTokens(t, f.exchange(t, f.code(t, func(c *sessions.AuthorizationCode) { c.ClientID = id }), "client_id", id))
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	return id, tok.RefreshToken
}

func TestRefreshToken(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	e := f.e
	reused := "The refresh token has been used already; every refresh token of its family is revoked."

	t.Run("rotation and reuse detection", func(t *testing.T) {
		id, first := f.spaWith(t, nil)
		tok := wantTokens(t, f.refresh(t, id, first))
		if tok.RefreshToken == "" || tok.RefreshToken == first || tok.IDToken == "" || tok.Scope != "openid profile email offline_access read:x" {
			t.Fatalf("rotated response: scope %q, new refresh token %t, id token %t", tok.Scope, tok.RefreshToken != first, tok.IDToken != "")
		}
		second := wantTokens(t, f.refresh(t, id, tok.RefreshToken)).RefreshToken
		wantOAuthError(t, f.refresh(t, id, first), 400, "invalid_grant", reused)
		// The whole family is gone: the latest successor too.
		wantOAuthError(t, f.refresh(t, id, second), 400, "invalid_grant", "Unknown or invalid refresh token.")
	})

	t.Run("leeway", func(t *testing.T) {
		id, first := f.spaWith(t, obj{"leeway": 30})
		wantTokens(t, f.refresh(t, id, first))
		again := wantTokens(t, f.refresh(t, id, first))
		e.skew.Add(int64(31 * time.Second))
		defer e.skew.Add(-int64(31 * time.Second))
		wantOAuthError(t, f.refresh(t, id, first), 400, "invalid_grant", reused)
		wantOAuthError(t, f.refresh(t, id, again.RefreshToken), 400, "invalid_grant", "Unknown or invalid refresh token.")
	})

	t.Run("idle expiry", func(t *testing.T) {
		id, first := f.spaWith(t, obj{"idle_token_lifetime": 3600, "token_lifetime": 7200})
		e.skew.Add(int64(3601 * time.Second))
		defer e.skew.Add(-int64(3601 * time.Second))
		wantOAuthError(t, f.refresh(t, id, first), 400, "invalid_grant", "The refresh token has expired.")
	})

	t.Run("absolute expiry", func(t *testing.T) {
		id, rt := f.spaWith(t, obj{"idle_token_lifetime": 3600, "token_lifetime": 7200})
		defer func(start int64) { e.skew.Store(start) }(e.skew.Load())
		for _, at := range []time.Duration{3000 * time.Second, 6000 * time.Second} {
			e.skew.Store(int64(at))
			rt = wantTokens(t, f.refresh(t, id, rt)).RefreshToken
		}
		e.skew.Store(int64(7300 * time.Second))
		wantOAuthError(t, f.refresh(t, id, rt), 400, "invalid_grant", "The refresh token has expired.")
	})

	t.Run("narrowing and widening", func(t *testing.T) {
		id, rt := f.spaWith(t, nil)
		tok := wantTokens(t, f.refresh(t, id, rt, "scope", "read:x"))
		if tok.Scope != "read:x" || tok.IDToken != "" || tok.RefreshToken == "" {
			t.Errorf("narrowed: scope %q, id token %t, refresh token %t", tok.Scope, tok.IDToken != "", tok.RefreshToken != "")
		}
		wantOAuthError(t, f.refresh(t, id, tok.RefreshToken, "scope", "read:x delete:x"), 400, "invalid_scope", "The scope delete:x was not granted to the refresh token.")
	})

	t.Run("non-rotating", func(t *testing.T) {
		id, rt := f.spaWith(t, obj{"rotation_type": "non-rotating", "idle_token_lifetime": 3600, "token_lifetime": 7200})
		defer func(start int64) { e.skew.Store(start) }(e.skew.Load())
		// Each use moves the idle end: 6000 s after the first use, with
		// an idle lifetime of 3600 s, the token still works.
		for _, at := range []time.Duration{3000 * time.Second, 6000 * time.Second} {
			e.skew.Store(int64(at))
			if tok := wantTokens(t, f.refresh(t, id, rt)); tok.RefreshToken != "" {
				t.Error("a non-rotating refresh returned a refresh token")
			}
		}
	})

	t.Run("RBAC change applies", func(t *testing.T) {
		id, rt := f.spaWith(t, nil)
		e.must(t, "DELETE", userPath(f.user)+"/permissions", obj{"permissions": []obj{perm(f.api, "read:x")}}, http.StatusNoContent, nil)
		defer e.must(t, "POST", userPath(f.user)+"/permissions", obj{"permissions": []obj{perm(f.api, "read:x")}}, http.StatusCreated, nil)
		if tok := wantTokens(t, f.refresh(t, id, rt)); tok.Scope != "openid profile email offline_access" {
			t.Errorf("scope %q after read:x was taken away", tok.Scope)
		}
	})

	t.Run("blocked user", func(t *testing.T) {
		id, rt := f.spaWith(t, nil)
		e.must(t, "PATCH", userPath(f.user), obj{"blocked": true}, http.StatusOK, nil)
		defer e.must(t, "PATCH", userPath(f.user), obj{"blocked": false}, http.StatusOK, nil)
		wantOAuthError(t, f.refresh(t, id, rt), 400, "invalid_grant", "The user is blocked.")
	})

	t.Run("another client", func(t *testing.T) {
		_, rt := f.spaWith(t, nil)
		wantOAuthError(t, f.refresh(t, f.spa, rt), 400, "invalid_grant", "The refresh token was issued to another client.")
	})

	t.Run("missing token", func(t *testing.T) {
		wantOAuthError(t, f.refresh(t, f.spa, ""), 400, "invalid_request", "Missing required parameter: refresh_token")
	})
}

// userinfo calls /userinfo with an Authorization header and a query.
func (e *env) userinfo(t *testing.T, method, auth, query string) reply {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), method, e.issuer+"userinfo"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return e.send(t, r)
}

func TestUserinfo(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	e := f.e
	withScopes := func(scopes ...string) string {
		code := f.code(t, func(c *sessions.AuthorizationCode) { c.Scopes = scopes })
		return wantTokens(t, f.exchange(t, code)).AccessToken
	}
	profile := withScopes("openid", "profile")
	noOpenID := wantTokens(t, f.exchange(t, f.code(t, func(c *sessions.AuthorizationCode) { c.Audience, c.Scopes = "", []string{"profile"} }))).AccessToken

	t.Run("claims per scope", func(t *testing.T) {
		for _, tc := range []struct {
			token      string
			want, lack []string
		}{
			{profile, []string{"sub", "name", "nickname", "given_name", "family_name", "picture", "updated_at"}, []string{"email", "email_verified"}},
			{withScopes("openid", "email"), []string{"sub", "email", "email_verified"}, []string{"name", "picture"}},
		} {
			for _, method := range []string{"GET", "POST"} {
				r := e.userinfo(t, method, "Bearer "+tc.token, "")
				if r.status != http.StatusOK {
					t.Fatalf("%s /userinfo: %s", method, r)
				}
				m := r.object(t)
				if m["sub"] != f.user {
					t.Errorf("sub %v", m["sub"])
				}
				for _, k := range tc.want {
					if _, ok := m[k]; !ok {
						t.Errorf("%s /userinfo %v lacks %s", method, m, k)
					}
				}
				for _, k := range tc.lack {
					if _, ok := m[k]; ok {
						t.Errorf("%s /userinfo %v has %s", method, m, k)
					}
				}
			}
		}
	})

	fx := e.newFixture(t, "m2m")
	cc := e.token(t, fx.client, fx.audience).AccessToken
	for _, tc := range []struct {
		name, method, auth, query string
		status                    int
		challenge                 string
	}{
		{"a token for another audience", "GET", "Bearer " + cc, "", 401, `Bearer error="invalid_token", error_description="token is not meant for this audience"`},
		{"without openid", "GET", "Bearer " + noOpenID, "", 403, `Bearer error="insufficient_scope", error_description="The token lacks the openid scope.", scope="openid"`},
		{"no token", "GET", "", "", 401, "Bearer"},
		{"token in the query", "GET", "", "?access_token=" + profile, 400, `Bearer error="invalid_request", error_description="Send the access token in the Authorization header, not in the URL."`},
		{"garbage", "POST", "Bearer x.y.z", "", 401, `Bearer error="invalid_token", error_description="malformed token"`},
		{"PUT", "PUT", "Bearer " + profile, "", 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.userinfo(t, tc.method, tc.auth, tc.query)
			if r.status != tc.status || r.header.Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("got %s with WWW-Authenticate %q; want %d, %q", r, r.header.Get("WWW-Authenticate"), tc.status, tc.challenge)
			}
		})
	}

	t.Run("deleted user", func(t *testing.T) {
		u := e.createUser(t, newEmail("bob"), nil)["user_id"].(string)
		code := f.code(t, func(c *sessions.AuthorizationCode) { c.UserID, c.Scopes = u, []string{"openid"} })
		tok := wantTokens(t, f.exchange(t, code)).AccessToken
		e.must(t, "DELETE", userPath(u), nil, http.StatusNoContent, nil)
		if r := e.userinfo(t, "GET", "Bearer "+tok, ""); r.status != 401 {
			t.Errorf("userinfo for a deleted user: %s", r)
		}
	})
}

// passport-auth0 sends the access token to /userinfo in the query
// string: refused by default (TestUserinfo), taken with the opt-in.
func TestUserinfoTokenInQuery(t *testing.T) {
	t.Parallel()
	f := newFlowsOn(t, newEnvWith(t, func(c *authserver.Config) { c.UserinfoTokenInQuery = true }))
	e := f.e
	token := wantTokens(t, f.exchange(t, f.code(t, nil))).AccessToken
	for _, method := range []string{"GET", "POST"} {
		r := e.userinfo(t, method, "", "?access_token="+url.QueryEscape(token))
		if r.status != http.StatusOK || r.object(t)["sub"] != f.user {
			t.Fatalf("%s /userinfo?access_token=: %s", method, r)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
		}
	}
	if r := e.userinfo(t, "GET", "Bearer "+token, ""); r.status != http.StatusOK {
		t.Errorf("the Authorization header with the opt-in: %s", r)
	}

	fx := e.newFixture(t, "m2m")
	cc := e.token(t, fx.client, fx.audience).AccessToken
	for _, tc := range []struct {
		name, auth, query string
		status            int
		challenge         string
	}{
		{"header and query", "Bearer " + token, "?access_token=" + token, 400,
			`Bearer error="invalid_request", error_description="send the access token once: in the Authorization header or in the access_token query parameter"`},
		{"repeated in the query", "", "?access_token=" + token + "&access_token=" + token, 400,
			`Bearer error="invalid_request", error_description="send the access token once: in the Authorization header or in the access_token query parameter"`},
		{"empty", "", "?access_token=", 401, `Bearer error="invalid_token", error_description="empty bearer token"`},
		{"too large", "", "?access_token=" + strings.Repeat("a", 20<<10), 401, `Bearer error="invalid_token", error_description="token is too large"`},
		{"garbage", "", "?access_token=x.y.z", 401, `Bearer error="invalid_token", error_description="malformed token"`},
		{"a token for another audience", "", "?access_token=" + cc, 401, `Bearer error="invalid_token", error_description="token is not meant for this audience"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.userinfo(t, "GET", tc.auth, tc.query)
			if r.status != tc.status || r.header.Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("got %s with WWW-Authenticate %q; want %d, %q", r, r.header.Get("WWW-Authenticate"), tc.status, tc.challenge)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	e := f.e
	revoke := func(t *testing.T, kv ...string) reply {
		t.Helper()
		return e.post(t, "oauth/revoke", nil, kv...)
	}
	wantOK := func(t *testing.T, r reply) {
		t.Helper()
		if r.status != http.StatusOK || len(r.body) != 0 {
			t.Errorf("revoke: %s, want 200 with an empty body", r)
		}
	}

	t.Run("revoke then refresh fails", func(t *testing.T) {
		id, rt := f.spaWith(t, nil)
		successor := wantTokens(t, f.refresh(t, id, rt)).RefreshToken
		wantOK(t, revoke(t, "client_id", id, "token", successor, "token_type_hint", "refresh_token"))
		wantOAuthError(t, f.refresh(t, id, successor), 400, "invalid_grant", "Unknown or invalid refresh token.")
	})
	t.Run("another client's token is left alone", func(t *testing.T) {
		id, rt := f.spaWith(t, nil)
		wantOK(t, revoke(t, "client_id", f.web.ClientID, "client_secret", f.web.ClientSecret, "token", rt))
		wantTokens(t, f.refresh(t, id, rt))
	})
	t.Run("unknown and access tokens", func(t *testing.T) {
		wantOK(t, revoke(t, "client_id", f.spa, "token", "nothing-like-it"))
		at := wantTokens(t, f.exchange(t, f.code(t, nil))).AccessToken
		wantOK(t, revoke(t, "client_id", f.spa, "token", at, "token_type_hint", "access_token"))
	})
	t.Run("errors", func(t *testing.T) {
		wantOAuthError(t, revoke(t, "client_id", f.spa), 400, "invalid_request", "Missing required parameter: token")
		wantOAuthError(t, revoke(t, "client_id", f.web.ClientID, "client_secret", "wrong", "token", "x"), 401, "invalid_client", "Client authentication failed.")
		r := e.do(t, request{method: "GET", path: "oauth/revoke"})
		wantOAuthError(t, r, 405, "invalid_request", "The revocation endpoint accepts only POST.")
	})
}

func TestCORS(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	e := f.e
	origin := func(o string) http.Header { return http.Header{"Origin": {o}} }
	exchange := func(t *testing.T, o string) reply {
		t.Helper()
		return e.post(t, "oauth/token", origin(o), "grant_type", "authorization_code", "client_id", f.spa, "code", f.code(t, nil),
			"redirect_uri", spaCallback, "code_verifier", pkceVerifier)
	}

	for _, o := range []string{"https://spa.example", "https://a.cors.example", "https://SPA.example:443"} {
		t.Run("allowed "+o, func(t *testing.T) {
			r := exchange(t, o)
			wantTokens(t, r)
			if r.header.Get("Access-Control-Allow-Origin") != o || r.header.Get("Vary") != "Origin" || r.header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("CORS headers %v", r.header)
			}
		})
	}
	t.Run("denied", func(t *testing.T) {
		r := exchange(t, "https://evil.example")
		wantOAuthError(t, r, 403, "invalid_request", "Origin https://evil.example is not allowed.")
		if r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Error("a refused origin got Access-Control-Allow-Origin")
		}
	})
	t.Run("userinfo", func(t *testing.T) {
		at := wantTokens(t, f.exchange(t, f.code(t, nil))).AccessToken
		for o, want := range map[string]int{"https://spa.example": 200, "https://web.example": 403} {
			r, _ := http.NewRequestWithContext(t.Context(), "GET", e.issuer+"userinfo", nil)
			r.Header.Set("Authorization", "Bearer "+at)
			r.Header.Set("Origin", o)
			if got := e.send(t, r); got.status != want || (want == 200) != (got.header.Get("Access-Control-Allow-Origin") == o) {
				t.Errorf("userinfo from %s: %s %v", o, got, got.header)
			}
		}
	})

	preflight := func(t *testing.T, path, o string) reply {
		t.Helper()
		r, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, e.issuer+path, nil)
		r.Header.Set("Origin", o)
		r.Header.Set("Access-Control-Request-Method", "POST")
		return e.send(t, r)
	}
	for _, tc := range []struct{ path, origin, methods string }{
		{"oauth/token", "https://spa.example", "POST"},
		{"oauth/token", "https://web.example", "POST"}, // the web app's callback
		{"oauth/revoke", "https://b.cors.example", "POST"},
		{"userinfo", "https://spa.example", "GET, POST"},
		{"oauth/token", "https://evil.example", ""},
	} {
		t.Run("preflight "+tc.path+" "+tc.origin, func(t *testing.T) {
			r := preflight(t, tc.path, tc.origin)
			h := r.header
			if r.status != http.StatusNoContent || h.Get("Access-Control-Allow-Methods") != tc.methods {
				t.Fatalf("preflight: %s %v", r, h)
			}
			if tc.methods != "" && (h.Get("Access-Control-Allow-Origin") != tc.origin || h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type, Auth0-Client" || h.Get("Access-Control-Max-Age") != "600") {
				t.Errorf("preflight headers %v", h)
			}
			if tc.methods == "" && h.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("preflight for an unknown origin allowed it: %v", h)
			}
		})
	}
	// What a browser asks before Auth0's SDKs call: auth0-spa-js posts to
	// the token and revocation endpoints with Content-Type and Auth0-Client
	// (its telemetry), auth0.js calls userinfo with Authorization and
	// Auth0-Client. A browser sends the call only when every requested
	// header is allowed.
	for _, tc := range []struct{ path, requested string }{
		{"oauth/token", "auth0-client,content-type"},
		{"oauth/revoke", "auth0-client,content-type"},
		{"userinfo", "auth0-client,authorization"},
	} {
		t.Run("preflight for Auth0's SDKs "+tc.path, func(t *testing.T) {
			r, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, e.issuer+tc.path, nil)
			r.Header.Set("Origin", "https://spa.example")
			r.Header.Set("Access-Control-Request-Method", "POST")
			r.Header.Set("Access-Control-Request-Headers", tc.requested)
			got := e.send(t, r)
			allowed := map[string]bool{}
			for _, h := range strings.Split(got.header.Get("Access-Control-Allow-Headers"), ",") {
				allowed[strings.ToLower(strings.TrimSpace(h))] = true
			}
			for _, h := range strings.Split(tc.requested, ",") {
				if !allowed[h] {
					t.Errorf("preflight does not allow %s: %s %v", h, got, got.header)
				}
			}
		})
	}
	t.Run("preflight sees a new client", func(t *testing.T) {
		if preflight(t, "oauth/token", "https://late.example").header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatal("allowed before any client has the origin")
		}
		e.createClient(t, obj{"name": "late", "app_type": "spa", "web_origins": []string{"https://late.example"}})
		if preflight(t, "oauth/token", "https://late.example").header.Get("Access-Control-Allow-Origin") != "https://late.example" {
			t.Fatal("not allowed after a client registered the origin")
		}
	})
}

func TestClientRefreshTokenConfiguration(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	get := func(t *testing.T, id string) map[string]any {
		t.Helper()
		var c map[string]any
		e.must(t, "GET", "clients/"+id, nil, http.StatusOK, &c)
		rt, _ := c["refresh_token"].(map[string]any)
		return rt
	}
	id := e.createClient(t, obj{"name": "defaults", "app_type": "spa"}).ClientID
	want := map[string]any{"rotation_type": "rotating", "expiration_type": "expiring", "leeway": 0.0, "token_lifetime": 2592000.0,
		"infinite_token_lifetime": false, "idle_token_lifetime": 1296000.0, "infinite_idle_token_lifetime": false}
	if got := get(t, id); !mapsEqual(got, want) {
		t.Errorf("defaults %v, want %v", got, want)
	}
	e.must(t, "PATCH", "clients/"+id, obj{"refresh_token": obj{"leeway": 10, "rotation_type": "non-rotating"}}, http.StatusOK, nil)
	want["leeway"], want["rotation_type"] = 10.0, "non-rotating"
	if got := get(t, id); !mapsEqual(got, want) {
		t.Errorf("after a partial update %v, want %v", got, want)
	}
	made := e.createClient(t, obj{"name": "set", "refresh_token": obj{"expiration_type": "non-expiring", "rotation_type": "non-rotating", "token_lifetime": 100, "idle_token_lifetime": 50}}).ClientID
	if got := get(t, made); got["expiration_type"] != "non-expiring" || got["token_lifetime"] != 100.0 || got["idle_token_lifetime"] != 50.0 {
		t.Errorf("created %v", got)
	}
	for _, tc := range []struct {
		rt  obj
		msg string
	}{
		{obj{"rotation_type": "sometimes"}, "refresh_token.rotation_type must be one of rotating, non-rotating"},
		{obj{"expiration_type": "never"}, "refresh_token.expiration_type must be one of expiring, non-expiring"},
		{obj{"rotation_type": "rotating", "expiration_type": "non-expiring"}, "rotating refresh tokens must have expiration_type expiring"},
		{obj{"leeway": -1}, "refresh_token.leeway must be between 0 and 3600 seconds"},
		{obj{"token_lifetime": 0}, "refresh_token.token_lifetime must be between 1 and 31557600 seconds"},
		{obj{"idle_token_lifetime": 31557601}, "refresh_token.idle_token_lifetime must be between 1 and 31557600 seconds"},
		{obj{"token_lifetime": 100, "idle_token_lifetime": 200}, "refresh_token.idle_token_lifetime must not exceed token_lifetime"},
		{obj{"leeway": "5"}, "Expected type integer"},
		{obj{"rotate": true}, "Additional properties not allowed: rotate"},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			wantMgmtError(t, e.mgmt(t, "PATCH", "clients/"+id, obj{"refresh_token": tc.rt}), 400, "invalid_body", tc.msg)
		})
	}

	// A client stored before refresh_token existed reads with the
	// defaults and can be changed.
	old, err := e.srv.Store().Client(t.Context(), made)
	if err != nil {
		t.Fatal(err)
	}
	old.RefreshToken = clients.RefreshTokenConfig{}
	if err := e.srv.Store().UpdateClient(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	want["leeway"], want["rotation_type"] = 0.0, "rotating"
	if got := get(t, made); !mapsEqual(got, want) {
		t.Errorf("a client without refresh_token reads %v, want the defaults %v", got, want)
	}
	e.must(t, "PATCH", "clients/"+made, obj{"name": "renamed"}, http.StatusOK, nil)
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestOAuth2ClientLibrary(t *testing.T) {
	t.Parallel()
	f := newFlows(t)
	e := f.e
	cfg := oauth2.Config{
		ClientID:    f.spa,
		RedirectURL: spaCallback,
		Endpoint:    oauth2.Endpoint{TokenURL: e.issuer + "oauth/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	v := oauth2.GenerateVerifier()
	code := f.code(t, func(c *sessions.AuthorizationCode) { c.CodeChallenge = oauth2.S256ChallengeFromVerifier(v) })
	tok, err := cfg.Exchange(e.ctx(t), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if id, _ := tok.Extra("id_token").(string); id == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token %+v: want an ID token, a refresh token and an expiry", tok)
	}
	if _, err := cfg.Exchange(e.ctx(t), code, oauth2.VerifierOption(v)); err == nil {
		t.Fatal("a second Exchange of the code succeeded")
	}
	// The replay revoked the first exchange's refresh token.
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	if _, err := cfg.TokenSource(e.ctx(t), &stale).Token(); err == nil {
		t.Fatal("refreshed with a token the code replay revoked")
	}

	code = f.code(t, func(c *sessions.AuthorizationCode) { c.CodeChallenge = oauth2.S256ChallengeFromVerifier(v) })
	if tok, err = cfg.Exchange(e.ctx(t), code, oauth2.VerifierOption(v)); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(e.ctx(t), tok).Token()
	if err != nil {
		t.Fatalf("TokenSource refresh: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Errorf("refresh did not rotate: %+v", fresh)
	}
}

func TestOwns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for path, want := range map[string]bool{
		"/oauth/token": true, "/oauth/revoke": true, "/userinfo": true, "/.well-known/jwks.json": true, "/api/v2/clients": true,
		"/userinfo/x": false, "/oauth/other": false, "/app": false,
	} {
		if got := e.srv.Owns(path); got != want {
			t.Errorf("Owns(%q) = %t, want %t", path, got, want)
		}
	}
}
