package authserver_test

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// The front-channel response types of OpenID Connect: id_token (the
// implicit flow without an access token, express-openid-connect's
// default) and the hybrid code id_token (FAPI 1.0).

// wantFragment checks a redirect to the client that carries its answer in
// the fragment, and returns the fragment's parameters.
func wantFragment(t *testing.T, p page, redirectURI string) url.Values {
	t.Helper()
	if p.status != http.StatusFound || p.location == nil {
		t.Fatalf("want a redirect to %s, got %s", redirectURI, p)
	}
	target := *p.location
	target.Fragment, target.RawFragment = "", ""
	if target.String() != redirectURI {
		t.Fatalf("redirected to %s, want %s", p.location, redirectURI)
	}
	q, err := url.ParseQuery(p.location.EscapedFragment())
	if err != nil || p.location.Fragment == "" {
		t.Fatalf("the redirect %s has no parameters in its fragment (%v)", p.location, err)
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Error("a response with an ID token may be cached")
	}
	return q
}

// wantFragmentError checks an error sent to the client in the fragment.
func wantFragmentError(t *testing.T, e *env, p page, redirectURI, code, description string) {
	t.Helper()
	q := wantFragment(t, p, redirectURI)
	if q.Get("error") != code || !strings.Contains(q.Get("error_description"), description) {
		t.Errorf("error %q %q, want %q containing %q", q.Get("error"), q.Get("error_description"), code, description)
	}
	if q.Get("state") != "st-1" || q.Get("iss") != e.issuer {
		t.Errorf("error response state %q iss %q, want st-1 and %s", q.Get("state"), q.Get("iss"), e.issuer)
	}
	if q.Has("id_token") || q.Has("code") {
		t.Error("an error response carries a token")
	}
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// formPostFields checks a form_post response to redirectURI and returns
// the fields the browser would post.
func formPostFields(t *testing.T, p page, redirectURI string) url.Values {
	t.Helper()
	if p.status != http.StatusOK || !strings.Contains(p.body, `action="`+redirectURI+`"`) {
		t.Fatalf("want a form posting to %s, got %s", redirectURI, p)
	}
	fields := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(p.body, -1) {
		fields.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return fields
}

// halfHash computes at_hash, c_hash and s_hash for RS256 independently of
// the server: the left half of SHA-256, base64url without padding.
func halfHash(value string) string {
	sum := sha256.Sum256([]byte(value))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// idTokenParams is an id_token request of the fixture's client.
func (fx signinFixture) idTokenParams(extra ...string) url.Values {
	return fx.params(append([]string{"response_type", "id_token", "code_challenge", "", "code_challenge_method", ""}, extra...)...)
}

// verifyIDToken verifies an ID token as a relying party would, with
// go-oidc against the discovery document and JWKS, and returns its claims.
func (e *env) verifyIDToken(t *testing.T, clientID, raw string) map[string]any {
	t.Helper()
	p, err := oidc.NewProvider(e.ctx(t), e.issuer)
	if err != nil {
		t.Fatalf("oidc.NewProvider: %v", err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: clientID, Now: e.now}).Verify(e.ctx(t), raw)
	if err != nil {
		t.Fatalf("go-oidc refuses the ID token: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestAuthorizeIDTokenFormPost(t *testing.T) {
	e := newEnv(t)
	// Management API defaults: a regular_web application has the implicit
	// grant.
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)

	p := b.login(b.authorize(fx.idTokenParams("response_mode", "form_post")), fx.email, userPassword)
	fields := formPostFields(t, p, callback)
	if fields.Get("state") != "st-1" || fields.Get("iss") != e.issuer || fields.Has("code") || fields.Has("access_token") {
		t.Errorf("form_post fields %v: want id_token, state and iss only", fields)
	}
	claims := e.verifyIDToken(t, fx.clientID, fields.Get("id_token"))
	if claims["sub"] != fx.userID || claims["nonce"] != "n-1" || claims["azp"] != fx.clientID || claims["email"] != fx.email {
		t.Errorf("ID token claims %v", claims)
	}
	authTime, ok := claims["auth_time"].(float64)
	if !ok || time.Since(time.Unix(int64(authTime), 0)) > time.Minute {
		t.Errorf("auth_time %v, want the sign-in's", claims["auth_time"])
	}
	for _, absent := range []string{"at_hash", "c_hash", "s_hash"} {
		if _, ok := claims[absent]; ok {
			t.Errorf("the ID token alone carries %s", absent)
		}
	}
	// The claims are those the token endpoint puts in its ID token.
	q := wantRedirect(t, b.authorize(fx.params()), callback)
	tok := wantTokens(t, fx.exchange(t, e, q.Get("code")))
	fromToken := e.verifyIDToken(t, fx.clientID, tok.IDToken)
	for _, name := range []string{"sub", "email", "email_verified", "name", "nickname", "picture", "updated_at", "auth_time", "nonce", "aud", "azp", "iss"} {
		if a, b := claims[name], fromToken[name]; !mapsEqual(map[string]any{name: a}, map[string]any{name: b}) {
			t.Errorf("claim %s: %v at the authorization endpoint, %v at the token endpoint", name, a, b)
		}
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 36000 {
		t.Errorf("ID token lifetime %vs, want the client's 36000s", exp-iat)
	}
}

func TestAuthorizeIDTokenFragment(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)

	// A fresh browser: prompt=none is login_required, in the fragment.
	wantFragmentError(t, e, b.authorize(fx.idTokenParams("prompt", "none")), callback, "login_required", "not signed in")

	// The fragment is the default response mode of id_token.
	q := wantFragment(t, b.login(b.authorize(fx.idTokenParams()), fx.email, userPassword), callback)
	if q.Get("state") != "st-1" || q.Get("iss") != e.issuer || q.Has("code") {
		t.Errorf("fragment %v", q)
	}
	if claims := e.verifyIDToken(t, fx.clientID, q.Get("id_token")); claims["sub"] != fx.userID || claims["nonce"] != "n-1" {
		t.Errorf("ID token claims %v", claims)
	}
	// Single sign-on, prompt=none and max_age with the session.
	for _, extra := range [][]string{nil, {"prompt", "none"}, {"max_age", "3600"}, {"nonce", "n-2"}} {
		q := wantFragment(t, b.authorize(fx.idTokenParams(extra...)), callback)
		if q.Get("id_token") == "" {
			t.Errorf("%v with a session: %v", extra, q)
		}
	}
	// Another client of the same session.
	other := e.createClient(t, obj{"name": uniq("other"), "app_type": "regular_web", "callbacks": []string{"https://other.example/cb"}})
	q = wantFragment(t, b.authorize(fx.idTokenParams("client_id", other.ClientID, "redirect_uri", "https://other.example/cb", "nonce", "n-3")), "https://other.example/cb")
	if claims := e.verifyIDToken(t, other.ClientID, q.Get("id_token")); claims["sub"] != fx.userID || claims["nonce"] != "n-3" {
		t.Errorf("SSO ID token claims %v", claims)
	}
	// prompt=login and an expired max_age sign the user in again.
	wantLoginPage(t, b.authorize(fx.idTokenParams("prompt", "login")))
	e.skew.Store(int64(2 * time.Second))
	wantLoginPage(t, b.authorize(fx.idTokenParams("max_age", "1")))
}

func TestAuthorizeHybrid(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)

	for _, mode := range []string{"", "form_post"} {
		t.Run("mode "+mode, func(t *testing.T) {
			p := b.authorize(fx.params("response_type", "code id_token", "response_mode", mode, "state", "st-1"))
			if p.status == http.StatusOK && strings.Contains(p.body, `name="password"`) {
				p = b.login(p, fx.email, userPassword)
			}
			var q url.Values
			if mode == "form_post" {
				q = formPostFields(t, p, callback)
			} else {
				q = wantFragment(t, p, callback)
			}
			code, idToken := q.Get("code"), q.Get("id_token")
			if code == "" || idToken == "" || q.Has("access_token") {
				t.Fatalf("hybrid response %v: want a code and an ID token", q)
			}
			claims := e.verifyIDToken(t, fx.clientID, idToken)
			if claims["c_hash"] != halfHash(code) || claims["s_hash"] != halfHash("st-1") || claims["nonce"] != "n-1" {
				t.Errorf("c_hash %v s_hash %v nonce %v; want %s, %s, n-1", claims["c_hash"], claims["s_hash"], claims["nonce"], halfHash(code), halfHash("st-1"))
			}
			if _, ok := claims["at_hash"]; ok {
				t.Error("the hybrid ID token carries at_hash without an access token")
			}
			// Core section 3.3.3.6: the code's ID token has the same sub.
			tok := wantTokens(t, fx.exchange(t, e, code))
			if fromToken := e.verifyIDToken(t, fx.clientID, tok.IDToken); fromToken["sub"] != claims["sub"] || fromToken["nonce"] != "n-1" {
				t.Errorf("the code's ID token: sub %v nonce %v, want %v and n-1", fromToken["sub"], fromToken["nonce"], claims["sub"])
			}
		})
	}
	// A code alone may go to the fragment too.
	if q := wantFragment(t, b.authorize(fx.params("response_mode", "fragment")), callback); q.Get("code") == "" || q.Has("id_token") {
		t.Errorf("response_type code in the fragment: %v", q)
	}
	// Without state there is no s_hash.
	q := wantFragment(t, b.authorize(fx.params("response_type", "id_token code", "state", "")), callback)
	if claims := e.verifyIDToken(t, fx.clientID, q.Get("id_token")); claims["c_hash"] != halfHash(q.Get("code")) || claims["s_hash"] != nil {
		t.Errorf("without state: c_hash %v s_hash %v", claims["c_hash"], claims["s_hash"])
	}
}

func TestAuthorizeFrontChannelRefusals(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	codeOnly := e.createClient(t, obj{"name": uniq("web"), "app_type": "regular_web", "callbacks": []string{callback}, "grant_types": []string{"authorization_code"}})
	implicitOnly := e.createClient(t, obj{"name": uniq("web"), "app_type": "regular_web", "callbacks": []string{callback}, "grant_types": []string{"implicit"}})
	b := e.browser(t)

	for _, tc := range []struct {
		name       string
		params     url.Values
		code, desc string
	}{
		{"token", fx.idTokenParams("response_type", "token"), "unsupported_response_type", "RFC 9700"},
		{"id_token token", fx.idTokenParams("response_type", "id_token token"), "unsupported_response_type", "RFC 9700"},
		{"code token", fx.params("response_type", "code token"), "unsupported_response_type", "RFC 9700"},
		{"code id_token token", fx.params("response_type", "code id_token token"), "unsupported_response_type", "RFC 9700"},
		{"repeated id_token", fx.idTokenParams("response_type", "id_token id_token"), "unsupported_response_type", "Unsupported response_type"},
		{"id_token none", fx.idTokenParams("response_type", "id_token none"), "unsupported_response_type", "Unsupported response_type"},
		{"id_token without nonce", fx.idTokenParams("nonce", ""), "invalid_request", "Missing required parameter: nonce"},
		{"hybrid without nonce", fx.params("response_type", "code id_token", "nonce", ""), "invalid_request", "Missing required parameter: nonce"},
		{"id_token without openid", fx.idTokenParams("scope", "profile email"), "invalid_scope", "requires the openid scope"},
		{"id_token with an audience", fx.idTokenParams("audience", fx.api), "invalid_request", "audience needs a response_type with code"},
		{"id_token without implicit", fx.idTokenParams("client_id", codeOnly.ClientID), "unauthorized_client", "Grant type `implicit` not allowed"},
		{"hybrid without implicit", fx.params("client_id", codeOnly.ClientID, "response_type", "code id_token"), "unauthorized_client", "Grant type `implicit` not allowed"},
		{"hybrid without authorization_code", fx.params("client_id", implicitOnly.ClientID, "response_type", "code id_token"), "unauthorized_client", "Grant type `authorization_code` not allowed"},
		{"hybrid public client without PKCE", fx.params("response_type", "code id_token", "code_challenge", "", "code_challenge_method", "", "client_id", e.createClient(t, obj{"name": uniq("spa"), "app_type": "spa", "callbacks": []string{callback}}).ClientID), "invalid_request", "public client must use PKCE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantFragmentError(t, e, b.authorize(tc.params), callback, tc.code, tc.desc)
		})
	}
	// A token in the query is refused, the error going to the fragment.
	for _, rt := range []string{"id_token", "code id_token", "token"} {
		wantFragmentError(t, e, b.authorize(fx.idTokenParams("response_type", rt, "response_mode", "query")), callback, "invalid_request", "response_mode=query")
	}
	// form_post carries the errors of form_post requests.
	fields := formPostFields(t, b.authorize(fx.idTokenParams("response_type", "id_token token", "response_mode", "form_post")), callback)
	if fields.Get("error") != "unsupported_response_type" || fields.Get("state") != "st-1" {
		t.Errorf("form_post error %v", fields)
	}
	// The implicit grant alone is enough for id_token.
	wantLoginPage(t, b.authorize(fx.idTokenParams("client_id", implicitOnly.ClientID)))
}

// The tenant's default audience does not apply to an ID token alone: an
// API's user access policy cannot refuse a sign-in that gives no access to
// it, and no API permissions are asked for.
func TestAuthorizeIDTokenIgnoresDefaultAudience(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, obj{"is_first_party": false})
	closed := newAudience("closed")
	e.createAPI(t, closed, []string{"read:all"}, obj{"subject_type_authorization": obj{"user": obj{"policy": "deny_all"}}})
	e.must(t, "PATCH", "tenants/settings", obj{"default_audience": closed}, http.StatusOK, nil)
	b := e.browser(t)
	wantAuthorizeError(t, e, b.login(b.authorize(fx.params()), fx.email, userPassword), callback, "access_denied", "")

	consent := b.authorize(fx.idTokenParams("scope", "openid email read:all"))
	if consent.status != http.StatusOK || strings.Contains(consent.body, "read:all") {
		t.Fatalf("want the consent page for openid and email only, got %s", consent)
	}
	q := wantFragment(t, b.submit(consent, url.Values{"action": {"accept"}}), callback)
	if claims := e.verifyIDToken(t, fx.clientID, q.Get("id_token")); claims["sub"] != fx.userID || claims["email"] != fx.email {
		t.Errorf("ID token claims %v", claims)
	}
}

// A single-page application (public, Management API defaults) may ask for
// an ID token alone: no access token crosses the browser, and no PKCE is
// needed without a code.
func TestAuthorizeIDTokenPublicClient(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	spa := e.createClient(t, obj{"name": uniq("spa"), "app_type": "spa", "callbacks": []string{"https://spa.example/cb"}})
	b := e.browser(t)
	p := b.authorize(url.Values{"client_id": {spa.ClientID}, "redirect_uri": {"https://spa.example/cb"}, "response_type": {"id_token"},
		"scope": {"openid email"}, "state": {"st-1"}, "nonce": {"n-1"}})
	q := wantFragment(t, b.login(p, fx.email, userPassword), "https://spa.example/cb")
	if claims := e.verifyIDToken(t, spa.ClientID, q.Get("id_token")); claims["sub"] != fx.userID || claims["email"] != fx.email {
		t.Errorf("ID token claims %v", claims)
	}
}

// Consent works as for codes: a third-party application asks, and the
// user's answer goes to the fragment.
func TestAuthorizeIDTokenConsent(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, obj{"is_first_party": false})
	b := e.browser(t)
	consent := b.login(b.authorize(fx.idTokenParams()), fx.email, userPassword)
	if consent.status != http.StatusOK || !strings.Contains(consent.body, `value="accept"`) {
		t.Fatalf("want the consent page, got %s", consent)
	}
	wantFragmentError(t, e, b.submit(consent, url.Values{"action": {"deny"}}), callback, "access_denied", "did not authorize")
	// prompt=none cannot ask.
	wantFragmentError(t, e, b.authorize(fx.idTokenParams("prompt", "none")), callback, "consent_required", "not consented")

	q := wantFragment(t, b.submit(b.authorize(fx.idTokenParams()), url.Values{"action": {"accept"}}), callback)
	if claims := e.verifyIDToken(t, fx.clientID, q.Get("id_token")); claims["sub"] != fx.userID {
		t.Errorf("after consent, ID token claims %v", claims)
	}
	// Blocked since: the consent form signs the user in again instead of
	// issuing an ID token.
	consent = b.authorize(fx.idTokenParams("prompt", "consent"))
	e.must(t, "PATCH", "users/"+url.PathEscape(fx.userID), obj{"blocked": true}, http.StatusOK, nil)
	wantLoginPage(t, b.submit(consent, url.Values{"action": {"accept"}}))
}
