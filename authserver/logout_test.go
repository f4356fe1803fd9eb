package authserver_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// idToken signs the browser's user in to the fixture's client with
// prompt=none (the browser has a session) and returns the ID token.
func (b *browser) idToken(fx signinFixture) string {
	b.t.Helper()
	q := wantRedirect(b.t, b.authorize(fx.params("prompt", "none")), callback)
	var tokens struct {
		IDToken string `json:"id_token"`
	}
	r := fx.exchange(b.t, b.e, q.Get("code"))
	r.decode(b.t, &tokens)
	if r.status != http.StatusOK || tokens.IDToken == "" {
		b.t.Fatalf("code exchange: %s", r)
	}
	return tokens.IDToken
}

// wantSignedIn checks that the browser's session lives: prompt=none
// answers with a code.
func (b *browser) wantSignedIn(fx signinFixture, after string) {
	b.t.Helper()
	if q := wantRedirect(b.t, b.authorize(fx.params("prompt", "none")), callback); q.Get("code") == "" {
		b.t.Errorf("after %s: prompt=none answered %v, want a code", after, q)
	}
}

// wantSignedOut checks that the browser has no session: prompt=none
// answers login_required.
func (b *browser) wantSignedOut(fx signinFixture) {
	b.t.Helper()
	wantAuthorizeError(b.t, b.e, b.authorize(fx.params("prompt", "none")), callback, "login_required", "")
}

const logoutQuestion = "Do you want to sign out?"

// Another site can send a signed-in user's browser to /oidc/logout or
// /v2/logout: the session cookie is SameSite=Lax, so a top-level GET
// carries it. Such a request ends the session at once only when a
// verified id_token_hint names the signed-in user; otherwise a page asks
// the user, whose answer alone ends the session, and whom another site
// cannot answer for.
func TestLogoutFromAnotherSiteAsks(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	// Another user, signed in on another browser, with an ID token.
	other := fx
	other.email = uniq("bob") + "@example.com"
	e.must(t, "POST", "users", obj{"email": other.email, "password": userPassword, "connection": "Username-Password-Authentication"}, http.StatusCreated, nil)
	ob := e.browser(t)
	wantRedirect(t, ob.login(ob.authorize(other.params()), other.email, userPassword), callback)
	othersIDToken := ob.idToken(other)

	b := e.browser(t)
	wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)
	bye := url.QueryEscape("https://app.example/bye")
	for _, tc := range []struct {
		name, site, target string
	}{
		{"OIDC logout with client_id", "cross-site", "/oidc/logout?client_id=" + fx.clientID},
		{"OIDC logout with client_id and post_logout_redirect_uri", "cross-site", "/oidc/logout?client_id=" + fx.clientID + "&post_logout_redirect_uri=" + bye + "&state=s9"},
		{"OIDC logout with no parameters", "cross-site", "/oidc/logout"},
		{"OIDC logout with another user's ID token", "cross-site", "/oidc/logout?id_token_hint=" + othersIDToken},
		{"Auth0 logout with client_id and returnTo", "cross-site", "/v2/logout?client_id=" + fx.clientID + "&returnTo=" + bye},
		{"Auth0 logout from a sibling site", "same-site", "/v2/logout"},
		{"Auth0 logout from a browser without Fetch Metadata", "", "/v2/logout?client_id=" + fx.clientID},
		// A link opened from outside the browser (an e-mail) to another
		// site that redirects here: the browser says none, as it does for
		// an address typed in.
		{"Auth0 logout at the end of a navigation the user started", "none", "/v2/logout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.t, b.site = t, tc.site
			p := b.send("GET", tc.target, nil)
			if p.status != http.StatusOK || !strings.Contains(p.body, logoutQuestion) {
				t.Errorf("want the question, got %s", p)
			}
			b.site = ""
			b.wantSignedIn(fx, tc.name)
		})
	}
	b.t = t

	b.site = "cross-site"
	confirm := b.send("GET", "/oidc/logout?client_id="+fx.clientID+"&post_logout_redirect_uri="+bye+"&state=s9", nil)
	if csp := confirm.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example;") {
		t.Errorf("the question's CSP %q must let its answer redirect to the logout URL", csp)
	}
	// Declining keeps the session.
	if p := b.submit(confirm, url.Values{"action": {"cancel"}}); p.status != http.StatusOK || !strings.Contains(p.body, "You are still signed in.") {
		t.Errorf("declining: %s", p)
	}
	b.wantSignedIn(fx, "declining")
	// Another site's form cannot answer: it has no CSRF token of this
	// server's.
	for _, target := range []string{"/oidc/logout?client_id=" + fx.clientID, "/v2/logout"} {
		if p := b.send("POST", target, url.Values{"action": {"confirm"}}); p.status != http.StatusForbidden {
			t.Errorf("POST %s without the CSRF token: %s", target, p)
		}
	}
	b.wantSignedIn(fx, "other sites' forms")
	// Confirming ends the session and goes back with state.
	q := wantRedirect(t, b.submit(confirm, url.Values{"action": {"confirm"}}), "https://app.example/bye")
	if q.Get("state") != "s9" {
		t.Errorf("state %q after the confirmed logout", q.Get("state"))
	}
	b.wantSignedOut(fx)
	// The post-logout URL is checked before anything is asked.
	if p := b.send("GET", "/oidc/logout?client_id="+fx.clientID+"&post_logout_redirect_uri="+url.QueryEscape("https://evil.example/"), nil); p.status != http.StatusBadRequest || strings.Contains(p.body, logoutQuestion) {
		t.Errorf("an unlisted post_logout_redirect_uri: %s", p)
	}
	// Without a session there is nothing to ask about.
	wantRedirect(t, b.send("GET", "/v2/logout?client_id="+fx.clientID+"&returnTo="+bye, nil), "https://app.example/bye")
}

// A logout request ends the session at once, from anywhere, when a
// verified ID token of this server's names the signed-in user (expired or
// not: it is a hint); and from this server's own pages (Sec-Fetch-Site
// same-origin, or an Origin of the issuer's) without one.
func TestLogoutAtOnceWhenSure(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, obj{"jwt_configuration": obj{"lifetime_in_seconds": 60}})
	b := e.browser(t)
	bye := url.QueryEscape("https://app.example/bye")

	wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)
	idToken := b.idToken(fx)
	e.skew.Store(int64(2 * time.Minute)) // the ID token expired
	b.site = "cross-site"
	q := wantRedirect(t, b.send("GET", "/oidc/logout?id_token_hint="+idToken+"&post_logout_redirect_uri="+bye+"&state=s1", nil), "https://app.example/bye")
	if q.Get("state") != "s1" {
		t.Errorf("state %q after logout", q.Get("state"))
	}
	b.wantSignedOut(fx)

	// The hint must be for client_id, when both are sent.
	wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)
	other := e.createClient(t, obj{"name": uniq("other"), "app_type": "regular_web", "callbacks": []string{callback}})
	if p := b.send("GET", "/oidc/logout?id_token_hint="+idToken+"&client_id="+other.ClientID, nil); p.status != http.StatusBadRequest {
		t.Errorf("a hint for another client: %s", p)
	}
	b.wantSignedIn(fx, "a hint for another client")

	b.site = "same-origin"
	for _, target := range []string{"/oidc/logout?client_id=" + fx.clientID, "/v2/logout"} {
		if p := b.send("GET", target, nil); p.status != http.StatusOK || !strings.Contains(p.body, "You are signed out.") {
			t.Errorf("GET %s from the server's own page: %s", target, p)
		}
		b.wantSignedOut(fx)
		wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)
	}
	// A browser without Fetch Metadata tells with Origin.
	b.site = ""
	r, err := http.NewRequestWithContext(t.Context(), "GET", e.ts.URL+"/v2/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Origin", strings.TrimSuffix(e.issuer, "/"))
	resp, err := b.client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/logout with the issuer's Origin: %s", resp.Status)
	}
	b.wantSignedOut(fx)
}
