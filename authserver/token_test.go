package authserver_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/authserver"
)

// form encodes name, value pairs as a form body.
func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// basic is an HTTP Basic Authorization header for c, each part
// form-encoded as RFC 6749 section 2.3.1 asks.
func basic(c authserver.Credentials) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ClientID)+":"+url.QueryEscape(c.ClientSecret)))
}

// wantOAuthError checks an RFC 6749 error response: status, error code,
// the exact error_description, JSON, and no caching.
func wantOAuthError(t *testing.T, r reply, status int, code, desc string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	r.decode(t, &body)
	if body.Error != code || body.Description == "" || body.Description != desc {
		t.Errorf("error %q, error_description %q; want %q, %q", body.Error, body.Description, code, desc)
	}
}

// tokenFixture is what the token endpoint tests need: an API, and clients
// of every kind.
type tokenFixture struct {
	api, denyAPI, noGrantAPI string
	post, basic, noCC        authserver.Credentials
	public                   string
}

func newTokenFixture(t *testing.T, e *env) *tokenFixture {
	t.Helper()
	f := &tokenFixture{api: "https://api.example/", denyAPI: "https://deny.example/", noGrantAPI: "https://nogrant.example/"}
	e.createAPI(t, f.api, []string{"read:x", "write:x"}, obj{"token_lifetime": 3600})
	e.createAPI(t, f.denyAPI, []string{"read:x"}, obj{"subject_type_authorization": obj{"client": obj{"policy": "deny_all"}}})
	e.createAPI(t, f.noGrantAPI, []string{"read:x"}, nil)
	f.post = e.createClient(t, obj{"name": "post", "app_type": "non_interactive"})
	e.grant(t, f.post.ClientID, f.api, "read:x")
	e.grant(t, f.post.ClientID, f.denyAPI, "read:x")
	f.basic = e.createClient(t, obj{"name": "basic", "app_type": "non_interactive", "token_endpoint_auth_method": "client_secret_basic"})
	e.grant(t, f.basic.ClientID, f.api, "read:x", "write:x")
	f.noCC = e.createClient(t, obj{"name": "no cc", "app_type": "regular_web", "grant_types": []string{"authorization_code"}})
	e.grant(t, f.noCC.ClientID, f.api, "read:x")
	f.public = e.createClient(t, obj{"name": "spa", "app_type": "spa"}).ClientID
	return f
}

// params are the form parameters of a client_secret_post request for c
// at audience, followed by extra pairs.
func params(c authserver.Credentials, audience string, extra ...string) []string {
	return append([]string{"grant_type", "client_credentials", "client_id", c.ClientID, "client_secret", c.ClientSecret, "audience", audience}, extra...)
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newTokenFixture(t, e)
	wrong := func(c authserver.Credentials) authserver.Credentials {
		c.ClientSecret += "x"
		return c
	}
	valid := form(params(f.post, f.api)...)
	unknown := authserver.Credentials{ClientID: "nobody", ClientSecret: strings.Repeat("n", 43)}

	tests := []struct {
		name        string
		method      string // default POST
		query       string
		contentType string // default form
		auth        string
		body        string
		status      int
		code        string
		desc        string
		challenge   bool   // a WWW-Authenticate: Basic header is required
		allow       string // the Allow header required, if any
	}{
		{name: "GET", method: "GET", status: 405, code: "invalid_request", desc: "The token endpoint accepts only POST.", allow: "POST"},
		{name: "PUT", method: "PUT", body: valid, status: 405, code: "invalid_request", desc: "The token endpoint accepts only POST.", allow: "POST"},
		{name: "text/plain", contentType: "text/plain", body: valid, status: 400, code: "invalid_request",
			desc: "Content-Type must be application/x-www-form-urlencoded or application/json."},
		{name: "multipart", contentType: "multipart/form-data; boundary=x", body: valid, status: 400, code: "invalid_request",
			desc: "Content-Type must be application/x-www-form-urlencoded or application/json."},
		{name: "malformed form", body: valid + "&%zz", status: 400, code: "invalid_request", desc: "The request body is not a valid form."},
		{name: "repeated grant_type", body: valid + "&grant_type=client_credentials", status: 400, code: "invalid_request", desc: "Parameter grant_type is repeated."},
		{name: "repeated audience", body: valid + "&audience=" + url.QueryEscape(f.noGrantAPI), status: 400, code: "invalid_request", desc: "Parameter audience is repeated."},
		{name: "body over 64 KiB", body: valid + "&pad=" + strings.Repeat("a", 64<<10), status: 413, code: "invalid_request",
			desc: "The request body is larger than 65536 bytes."},
		{name: "JSON non-string value", contentType: "application/json",
			body:   `{"grant_type":"client_credentials","client_id":42,"client_secret":"x","audience":"https://api.example/"}`,
			status: 400, code: "invalid_request", desc: "Parameter client_id must be a string."},
		{name: "JSON array", contentType: "application/json", body: `["client_credentials"]`, status: 400, code: "invalid_request", desc: "The request body is not a JSON object."},
		{name: "JSON malformed", contentType: "application/json", body: `{"grant_type":`, status: 400, code: "invalid_request", desc: "The request body is not a JSON object."},
		{name: "missing grant_type", body: form(params(f.post, f.api)[2:]...), status: 400, code: "invalid_request", desc: "Missing required parameter: grant_type"},
		{name: "empty grant_type", body: form(append([]string{"grant_type", ""}, params(f.post, f.api)[2:]...)...), status: 400, code: "invalid_request",
			desc: "Missing required parameter: grant_type"},
		{name: "unsupported grant_type", body: form(append([]string{"grant_type", "password"}, params(f.post, f.api)[2:]...)...), status: 400,
			code: "unsupported_grant_type", desc: "Unsupported grant type: password"},
		{name: "no client credentials", body: form("grant_type", "client_credentials", "audience", f.api), status: 401, code: "invalid_client",
			desc: "Missing client credentials: send client_id and client_secret."},
		{name: "unknown client", body: form(params(unknown, f.api)...), status: 401, code: "invalid_client", desc: "Client authentication failed."},
		{name: "wrong secret", body: form(params(wrong(f.post), f.api)...), status: 401, code: "invalid_client", desc: "Client authentication failed."},
		{name: "wrong secret with Basic", auth: basic(wrong(f.basic)), body: form("grant_type", "client_credentials", "audience", f.api),
			status: 401, code: "invalid_client", desc: "Client authentication failed.", challenge: true},
		{name: "unknown client with Basic", auth: basic(unknown), body: form("grant_type", "client_credentials", "audience", f.api),
			status: 401, code: "invalid_client", desc: "Client authentication failed.", challenge: true},
		{name: "Basic and client_secret in the body", auth: basic(f.basic), body: form("grant_type", "client_credentials", "client_secret", f.basic.ClientSecret, "audience", f.api),
			status: 400, code: "invalid_request", desc: "Use only one client authentication method."},
		{name: "Basic and another client_id in the body", auth: basic(f.basic), body: form("grant_type", "client_credentials", "client_id", f.post.ClientID, "audience", f.api),
			status: 401, code: "invalid_client", desc: "Client authentication failed.", challenge: true},
		{name: "Bearer Authorization header", auth: "Bearer abc", body: valid, status: 400, code: "invalid_request",
			desc: "The Authorization header must use the Basic scheme."},
		{name: "client_secret_post client using Basic with a wrong secret", auth: basic(wrong(f.post)), body: form("grant_type", "client_credentials", "audience", f.api),
			status: 401, code: "invalid_client", desc: "Client authentication failed.", challenge: true},
		{name: "client_secret_basic client using the body with a wrong secret", body: form(params(wrong(f.basic), f.api)...),
			status: 401, code: "invalid_client", desc: "Client authentication failed."},
		{name: "public client using Basic", auth: basic(authserver.Credentials{ClientID: f.public, ClientSecret: strings.Repeat("p", 43)}),
			body: form("grant_type", "client_credentials", "audience", f.api), status: 401, code: "invalid_client", desc: "Client authentication failed.", challenge: true},
		{name: "secret in the URL query", query: "?" + form("client_secret", f.post.ClientSecret), body: form("grant_type", "client_credentials", "client_id", f.post.ClientID, "audience", f.api),
			status: 400, code: "invalid_request", desc: "Client credentials must not be sent in the URL."},
		{name: "missing audience", body: form(params(f.post, "")...), status: 400, code: "invalid_request",
			desc: "No audience parameter was provided, and no default audience has been configured."},
		{name: "unknown audience", body: form(params(f.post, "https://unknown.example/")...), status: 403, code: "access_denied",
			desc: "Service not found: https://unknown.example/"},
		{name: "audience without its trailing slash", body: form(params(f.post, strings.TrimSuffix(f.api, "/"))...), status: 403, code: "access_denied",
			desc: "Service not found: https://api.example"},
		{name: "client without client_credentials", body: form(params(f.noCC, f.api)...), status: 400, code: "unauthorized_client",
			desc: "Grant type `client_credentials` not allowed for the client."},
		{name: "public client", body: form("grant_type", "client_credentials", "client_id", f.public, "audience", f.api), status: 400, code: "unauthorized_client",
			desc: "Grant type `client_credentials` not allowed for the client."},
		{name: "public client with a secret", body: form("grant_type", "client_credentials", "client_id", f.public, "client_secret", strings.Repeat("p", 43), "audience", f.api),
			status: 401, code: "invalid_client", desc: "Client authentication failed."},
		{name: "deny_all API with a grant", body: form(params(f.post, f.denyAPI)...), status: 403, code: "access_denied",
			desc: `Client credentials access to "https://deny.example/" is denied by the API's access policy.`},
		{name: "no client grant", body: form(params(f.post, f.noGrantAPI)...), status: 403, code: "access_denied",
			desc: `Client "` + f.post.ClientID + `" is not authorized to access "https://nogrant.example/". You need to create a "client-grant" associated to this API.`},
		{name: "scope beyond the grant", body: form(params(f.post, f.api, "scope", "read:x write:x")...), status: 403, code: "access_denied",
			desc: "Client has not been granted scopes: write:x"},
		{name: "scopes unknown to the API", body: form(params(f.post, f.api, "scope", "read:x delete:all openid")...), status: 403, code: "access_denied",
			desc: "Client has not been granted scopes: delete:all openid"},
		{name: "scope with a quote", body: form(params(f.post, f.api, "scope", `read:x"`)...), status: 400, code: "invalid_scope",
			desc: "The scope parameter holds a character RFC 6749 does not allow."},
		{name: "scope with a backslash", body: form(params(f.post, f.api, "scope", `read:x\`)...), status: 400, code: "invalid_scope",
			desc: "The scope parameter holds a character RFC 6749 does not allow."},
		{name: "scope with non-ASCII", body: form(params(f.post, f.api, "scope", "réad:x")...), status: 400, code: "invalid_scope",
			desc: "The scope parameter holds a character RFC 6749 does not allow."},
		{name: "scope with a tab", body: form(params(f.post, f.api, "scope", "read:x\twrite:x")...), status: 400, code: "invalid_scope",
			desc: "The scope parameter holds a character RFC 6749 does not allow."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := request{method: tc.method, path: "oauth/token" + tc.query, auth: tc.auth, contentType: tc.contentType, body: tc.body}
			if req.method == "" {
				req.method = "POST"
			}
			if req.contentType == "" {
				req.contentType = "application/x-www-form-urlencoded"
			}
			if tc.body == "" {
				req.body = nil
			}
			r := e.do(t, req)
			wantOAuthError(t, r, tc.status, tc.code, tc.desc)
			if got := r.header.Get("WWW-Authenticate"); tc.challenge != strings.HasPrefix(got, "Basic ") {
				t.Errorf("WWW-Authenticate %q; Basic challenge wanted: %v", got, tc.challenge)
			}
			if got := r.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
}

// tokenClaims verifies a token with go-oidc and returns its claims and
// header.
func (e *env) tokenClaims(t *testing.T, token, audience string) (claims, header map[string]any) {
	t.Helper()
	claims, err := e.verify(t, token, audience)
	if err != nil {
		t.Fatalf("verifying the token for %s: %v", audience, err)
	}
	return claims, decodeSegment(t, token, 0)
}

func TestTokenIssuance(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newTokenFixture(t, e)

	t.Run("response and claims", func(t *testing.T) {
		tok, err := e.fetchToken(t, f.basic, oauth2.AuthStyleInHeader, f.api)
		if err != nil {
			t.Fatalf("Basic authentication of a client_secret_basic client: %v", err)
		}
		if tok.AccessToken == "" || tok.TokenType != "Bearer" || !jsonEqual(tok.Extra("expires_in"), 3600) {
			t.Errorf("token response: type %q, expires_in %v; want Bearer, 3600", tok.TokenType, tok.Extra("expires_in"))
		}
		if got := scopeOf(tok); got != "read:x write:x" {
			t.Errorf("scope without a scope parameter = %q, want every granted scope", got)
		}
		claims, header := e.tokenClaims(t, tok.AccessToken, f.api)
		want := map[string]any{
			"iss": e.issuer, "aud": f.api, "sub": f.basic.ClientID + "@clients", "azp": f.basic.ClientID,
			"gty": "client-credentials", "scope": "read:x write:x",
		}
		for k, v := range want {
			if claims[k] != v {
				t.Errorf("claim %s = %v, want %v", k, claims[k], v)
			}
		}
		if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3600 {
			t.Errorf("exp - iat = %v, want 3600", exp-iat)
		}
		if claims["jti"] == nil || claims["jti"] == "" {
			t.Error("no jti")
		}
		if header["alg"] != "RS256" || header["typ"] != "JWT" || header["kid"] == nil {
			t.Errorf("header %v, want RS256, typ JWT and a kid", header)
		}
	})

	t.Run("requested scopes", func(t *testing.T) {
		for _, tc := range []struct {
			scopes []string
			want   string
		}{
			{[]string{"write:x"}, "write:x"},
			{[]string{"write:x", "read:x"}, "write:x read:x"},
			{[]string{"read:x", "read:x"}, "read:x"},
		} {
			tok, err := e.fetchToken(t, f.basic, oauth2.AuthStyleInHeader, f.api, tc.scopes...)
			if err != nil {
				t.Fatal(err)
			}
			if got := scopeOf(tok); got != tc.want {
				t.Errorf("scope %v: got %q, want %q", tc.scopes, got, tc.want)
			}
		}
	})

	t.Run("JSON body", func(t *testing.T) {
		body, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": f.post.ClientID, "client_secret": f.post.ClientSecret, "audience": f.api})
		r := e.do(t, request{method: "POST", path: "oauth/token", contentType: "application/json; charset=utf-8", body: string(body)})
		if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("JSON token request: %s, Cache-Control %q", r, r.header.Get("Cache-Control"))
		}
		var resp struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			ExpiresIn   int    `json:"expires_in"`
			Scope       string `json:"scope"`
		}
		r.decode(t, &resp)
		if resp.AccessToken == "" || resp.TokenType != "Bearer" || resp.ExpiresIn != 3600 || resp.Scope != "read:x" {
			t.Errorf("response %+v", resp)
		}
		e.tokenClaims(t, resp.AccessToken, f.api)
	})

	// RFC 6749 section 2.3.1: a server must support Basic for clients
	// issued a secret, and Auth0 takes either secret method from a
	// confidential client whatever it is registered for.
	t.Run("either secret method", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			client authserver.Credentials
			style  oauth2.AuthStyle
		}{
			{"client_secret_post client using Basic", f.post, oauth2.AuthStyleInHeader},
			{"client_secret_post client using the body", f.post, oauth2.AuthStyleInParams},
			{"client_secret_basic client using the body", f.basic, oauth2.AuthStyleInParams},
			{"client_secret_basic client using Basic", f.basic, oauth2.AuthStyleInHeader},
		} {
			if _, err := e.fetchToken(t, tc.client, tc.style, f.api); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
	})

	t.Run("form with a charset", func(t *testing.T) {
		r := e.do(t, request{method: "POST", path: "oauth/token", contentType: "application/x-www-form-urlencoded; charset=UTF-8", body: form(params(f.post, f.api)...)})
		if r.status != http.StatusOK {
			t.Errorf("form with charset: %s", r)
		}
	})

	t.Run("form-encoded Basic credentials", func(t *testing.T) {
		c := e.createClient(t, obj{"name": "encoded", "app_type": "non_interactive", "token_endpoint_auth_method": "client_secret_basic",
			"client_secret": "a secret with spaces, +plus+ and %percent% and :colons:"})
		c.ClientSecret = "a secret with spaces, +plus+ and %percent% and :colons:"
		e.grant(t, c.ClientID, f.api, "read:x")
		r := e.do(t, request{method: "POST", path: "oauth/token", auth: basic(c), contentType: "application/x-www-form-urlencoded",
			body: form("grant_type", "client_credentials", "audience", f.api)})
		if r.status != http.StatusOK {
			t.Errorf("Basic with form-encoded parts: %s", r)
		}
	})

	t.Run("signing algorithms and dialects", func(t *testing.T) {
		for _, tc := range []struct {
			alg, dialect string
			typ          string
			permissions  bool
			rfc9068      bool
		}{
			{"RS256", "access_token", "JWT", false, false},
			{"PS256", "access_token_authz", "JWT", true, false},
			{"ES256", "rfc9068_profile", "at+jwt", false, true},
			{"ES256", "rfc9068_profile_authz", "at+jwt", true, true},
		} {
			t.Run(tc.alg+" "+tc.dialect, func(t *testing.T) {
				aud := newAudience("alg")
				e.createAPI(t, aud, []string{"read:x"}, obj{"signing_alg": tc.alg, "token_dialect": tc.dialect, "enforce_policies": tc.permissions})
				e.grant(t, f.post.ClientID, aud, "read:x")
				claims, header := e.tokenClaims(t, e.token(t, f.post, aud).AccessToken, aud)
				if header["alg"] != tc.alg || header["typ"] != tc.typ {
					t.Errorf("header %v, want alg %s, typ %s", header, tc.alg, tc.typ)
				}
				if _, ok := claims["permissions"]; ok != tc.permissions {
					t.Errorf("permissions claim present: %v, want %v (%v)", ok, tc.permissions, claims)
				}
				if tc.permissions && !jsonEqual(claims["permissions"], []string{"read:x"}) {
					t.Errorf("permissions = %v, want [read:x]", claims["permissions"])
				}
				if tc.rfc9068 && (claims["client_id"] != f.post.ClientID || claims["gty"] != nil) {
					t.Errorf("RFC 9068 claims %v: want client_id and no gty", claims)
				}
				if !tc.rfc9068 && (claims["azp"] != f.post.ClientID || claims["gty"] != "client-credentials") {
					t.Errorf("Auth0 claims %v: want azp and gty", claims)
				}
			})
		}
	})
}
