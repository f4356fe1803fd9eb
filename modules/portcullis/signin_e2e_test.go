package portcullis_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// signinStack is Portcullis with the authorization server, an API behind
// bearer_auth and an echo upstream, as Caddyfile.example has them, with
// a lock-out after three failed sign-ins so that the test reaches it soon.
type signinStack struct {
	*stack
	apiURL string
}

const eventsAPI = "https://api.example.com/events"

func startSigninStack(t *testing.T) *signinStack {
	t.Helper()
	dir := t.TempDir()
	port, apiPort, upstreamPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	s := &stack{t: t, issuer: fmt.Sprintf("https://localhost:%d/", port)}
	caddyfile := fmt.Sprintf(`{
%[1]s
	portcullis {
		issuer %[2]s
		storage sqlite %[3]s/portcullis.db
		bootstrap_admin %[4]s %[5]s
		brute_force_protection {
			user_attempts 3
		}
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
		scopes GET /events* read:events
		permissions POST /events* create:events
		permissions DELETE /events/* delete:events
	}
	reverse_proxy 127.0.0.1:%[9]d
}
http://:%[9]d {
	bind 127.0.0.1
	echo
}
`, testenv.TestGlobals(dir), s.issuer, dir, adminID, adminSecret, port, apiPort, eventsAPI, upstreamPort)
	s.caddy = testenv.Start(t, dir, caddyfile, s.issuer+".well-known/jwks.json", fmt.Sprintf("https://localhost:%d/", apiPort))
	s.ctx = context.WithValue(oidc.ClientContext(t.Context(), s.caddy.Client), oauth2.HTTPClient, s.caddy.Client)
	var err error
	if s.provider, err = oidc.NewProvider(s.ctx, s.issuer); err != nil {
		t.Fatalf("OIDC discovery: %v", err)
	}
	return &signinStack{stack: s, apiURL: fmt.Sprintf("https://localhost:%d", apiPort)}
}

// callbackServer is the client application: its redirect URI records
// what each authorization response brought; /bye is where it has users
// come back after logout; /leave?to=URL is a page of this other site
// with a link to URL.
type callbackServer struct {
	*httptest.Server
	responses chan map[string]string
}

func newCallbackServer(t *testing.T) *callbackServer {
	cb := &callbackServer{responses: make(chan map[string]string, 8)}
	cb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/callback":
			q := r.URL.Query()
			cb.responses <- map[string]string{"code": q.Get("code"), "state": q.Get("state"), "error": q.Get("error"), "iss": q.Get("iss")}
			fmt.Fprint(w, "<!DOCTYPE html><title>Back at the app</title><p id=done>Back at the app.</p>")
		case "/bye":
			fmt.Fprint(w, "<!DOCTYPE html><title>Signed out</title><p id=bye>Signed out of the app.</p>")
		case "/leave":
			fmt.Fprintf(w, "<!DOCTYPE html><title>Another site</title><a id=leave href=\"%s\">Leave</a>", html.EscapeString(r.URL.Query().Get("to")))
		default:
			http.NotFound(w, r) // such as the browser's /favicon.ico
		}
	}))
	t.Cleanup(cb.Close)
	return cb
}

func (cb *callbackServer) next(t *testing.T) map[string]string {
	t.Helper()
	select {
	case r := <-cb.responses:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("the browser never came back to the callback")
		return nil
	}
}

// TestBrowserSignIn signs a user in with headless Chromium on the login
// and consent pages, exchanges the code with golang.org/x/oauth2 (PKCE),
// verifies the ID token with go-oidc, and calls the API through
// bearer_auth with the user's permissions. Then the failures: a wrong
// password, the lock-out, a PKCE mismatch and a replayed code.
func TestBrowserSignIn(t *testing.T) {
	s := startSigninStack(t)
	admin := s.admin()
	cb := newCallbackServer(t)
	redirectURI := cb.URL + "/callback"

	s.call(admin, "POST", "resource-servers", map[string]any{
		"name": "Events", "identifier": eventsAPI, "token_dialect": "access_token_authz", "enforce_policies": true,
		"allow_offline_access": true,
		"scopes": []map[string]string{
			{"value": "read:events", "description": "See your events"}, {"value": "create:events", "description": "Create events"},
			{"value": "delete:events", "description": "Delete events"},
		},
	}, http.StatusCreated)
	// A third-party application, so the user is asked for consent.
	app := s.call(admin, "POST", "clients", map[string]any{
		"name": "Event Planner", "app_type": "regular_web", "is_first_party": false,
		"callbacks": []string{redirectURI}, "grant_types": []string{"authorization_code", "refresh_token"},
		"allowed_logout_urls": []string{cb.URL + "/bye"},
	}, http.StatusCreated)
	const email, password = "grace@example.com", "Compiler-A-0-1952!"
	user := s.call(admin, "POST", "users", map[string]any{"connection": "Username-Password-Authentication", "email": email, "password": password, "name": "Grace Hopper"}, http.StatusCreated)
	userID := user["user_id"].(string)
	role := s.call(admin, "POST", "roles", map[string]any{"name": "planner"}, http.StatusOK)
	s.call(admin, "POST", "roles/"+role["id"].(string)+"/permissions", map[string]any{"permissions": []map[string]string{
		{"resource_server_identifier": eventsAPI, "permission_name": "read:events"},
		{"resource_server_identifier": eventsAPI, "permission_name": "create:events"},
	}}, http.StatusCreated)
	s.call(admin, "POST", "users/"+userID+"/roles", map[string]any{"roles": []string{role["id"].(string)}}, http.StatusOK)

	conf := &oauth2.Config{
		ClientID: app["client_id"].(string), ClientSecret: app["client_secret"].(string),
		Endpoint: s.provider.Endpoint(), RedirectURL: redirectURI,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess, "read:events", "create:events", "delete:events"},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"),
		oauth2.SetAuthURLParam("audience", eventsAPI))

	browser := testenv.Browser(t, s.caddy)
	// ctx is the browser for one step, bounded in time.
	var ctx context.Context
	step := func(t *testing.T) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(browser, 30*time.Second)
		t.Cleanup(cancel)
	}
	login := func(t *testing.T, email, password string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(authURL),
			chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), email),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
		); err != nil {
			t.Fatalf("the login page: %v at %s", err, testenv.Page(browser))
		}
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`))); err != nil {
			t.Fatalf("signing in: %v at %s", err, testenv.Page(browser))
		}
	}
	alert := func(t *testing.T) string {
		t.Helper()
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[role="alert"]`)))
		if err != nil {
			t.Fatalf("no message on the page: %v at %s", err, testenv.Page(browser))
		}
		return strings.TrimSpace(text)
	}

	t.Run("wrong password", func(t *testing.T) {
		step(t)
		login(t, email, "not the password")
		if got := alert(t); got != "Wrong email or password." {
			t.Errorf("message %q", got)
		}
		testenv.Screenshot(t, ctx, "wrong-password")
	})

	var first *oauth2.Token
	t.Run("sign in, consent, exchange, call the API", func(t *testing.T) {
		step(t)
		login(t, email, password)
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`button[value="accept"]`))); err != nil {
			t.Fatalf("no consent page: %v at %s", err, testenv.Page(browser))
		}
		page := testenv.Page(browser)
		for _, want := range []string{"Event Planner", "read:events", "See your events", "create:events", "offline_access"} {
			if !strings.Contains(page, want) {
				t.Errorf("the consent page does not show %q: %s", want, page)
			}
		}
		if strings.Contains(page, "delete:events") {
			t.Errorf("the consent page asks for a permission the user does not hold: %s", page)
		}
		testenv.Screenshot(t, ctx, "consent")
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="accept"]`))); err != nil {
			t.Fatalf("accepting: %v at %s", err, testenv.Page(browser))
		}
		resp := cb.next(t)
		if resp["state"] != "state-1" || resp["code"] == "" || resp["iss"] != s.issuer {
			t.Fatalf("authorization response %v", resp)
		}

		tok, err := conf.Exchange(s.ctx, resp["code"], oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("code exchange: %v", err)
		}
		first = tok
		rawID, _ := tok.Extra("id_token").(string)
		idToken, err := s.provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(s.ctx, rawID)
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		var claims struct {
			Email string `json:"email"`
			Name  string `json:"name"`
		}
		if err := idToken.Claims(&claims); err != nil || idToken.Subject != userID || idToken.Nonce != "nonce-1" || claims.Email != email || claims.Name != "Grace Hopper" {
			t.Errorf("ID token sub %q nonce %q claims %+v (%v)", idToken.Subject, idToken.Nonce, claims, err)
		}
		if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Errorf("at_hash: %v", err)
		}
		if scope := tok.Extra("scope"); scope != "openid profile email offline_access read:events create:events" {
			t.Errorf("granted scope %q", scope)
		}
		if tok.RefreshToken == "" {
			t.Error("no refresh token for offline_access")
		}

		api := conf.Client(s.ctx, tok)
		status, body := callAPI(t, api, "GET", s.apiURL+"/events/1")
		if status != http.StatusOK || !strings.Contains(body, `"X-Portcullis-Subject":["`+userID+`"]`) {
			t.Errorf("GET /events/1 as the user: %d %s", status, body)
		}
		if status, body := callAPI(t, api, "POST", s.apiURL+"/events"); status != http.StatusOK {
			t.Errorf("POST /events with the create:events permission: %d %s", status, body)
		}
		if status, body := callAPI(t, api, "DELETE", s.apiURL+"/events/1"); status != http.StatusForbidden {
			t.Errorf("DELETE /events/1 without the delete:events permission: %d %s", status, body)
		}
	})

	t.Run("SSO: no login the second time; PKCE mismatch and code replay", func(t *testing.T) {
		step(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(authURL)); err != nil {
			t.Fatal(err)
		}
		resp := cb.next(t)
		if resp["code"] == "" {
			t.Fatalf("SSO: %v", resp)
		}
		if _, err := conf.Exchange(s.ctx, resp["code"], oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("exchange with the wrong verifier: %v, want invalid_grant", err)
		}
		// The code was spent by the failed attempt; a replay of the first
		// code revokes the refresh token it gave.
		if _, err := conf.Exchange(s.ctx, resp["code"], oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("second use of a code: %v, want invalid_grant", err)
		}
	})

	t.Run("replayed code revokes its refresh token", func(t *testing.T) {
		step(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(authURL)); err != nil {
			t.Fatal(err)
		}
		code := cb.next(t)["code"]
		tok, err := conf.Exchange(s.ctx, code, oauth2.VerifierOption(verifier))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("exchange: %v", err)
		}
		if _, err := conf.Exchange(s.ctx, code, oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("replay: %v, want invalid_grant", err)
		}
		stale := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}
		if _, err := conf.TokenSource(s.ctx, stale).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("refresh after the code's replay: %v, want invalid_grant", err)
		}
		// The first sign-in's refresh token is of another family and still
		// works.
		if first != nil {
			refreshed, err := conf.TokenSource(s.ctx, &oauth2.Token{RefreshToken: first.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
			if err != nil || refreshed.AccessToken == "" {
				t.Errorf("refreshing the first sign-in's token: %v", err)
			}
		}
	})

	// Another site's link to /v2/logout does not sign the user out
	// unseen: the browser says the request is cross-site, and the user is
	// asked. Staying keeps the session; signing out goes to the app's
	// logout URL, which the page's form-action allows.
	t.Run("logout from another site asks", func(t *testing.T) {
		step(t)
		logoutURL := s.issuer + "v2/logout?client_id=" + url.QueryEscape(app["client_id"].(string)) + "&returnTo=" + url.QueryEscape(cb.URL+"/bye")
		question := func(t *testing.T) {
			t.Helper()
			if err := chromedp.Do(ctx, chromedp.Navigate(cb.URL+"/leave?to="+url.QueryEscape(logoutURL))); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#leave`))); err != nil {
				t.Fatalf("following the other site's link: %v at %s", err, testenv.Page(browser))
			}
			if page := testenv.Page(browser); !strings.Contains(page, "Do you want to sign out?") {
				t.Fatalf("want the question, got %s", page)
			}
		}
		question(t)
		testenv.Screenshot(t, ctx, "logout-question")
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="cancel"]`))); err != nil {
			t.Fatalf("staying signed in: %v at %s", err, testenv.Page(browser))
		}
		if page := testenv.Page(browser); !strings.Contains(page, "You are still signed in.") {
			t.Errorf("after staying signed in: %s", page)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(authURL)); err != nil {
			t.Fatal(err)
		}
		if resp := cb.next(t); resp["code"] == "" {
			t.Fatalf("signed in still, the authorization request answered %v", resp)
		}

		question(t)
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="confirm"]`))); err != nil {
			t.Fatalf("signing out: %v at %s", err, testenv.Page(browser))
		}
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#bye`))); err != nil {
			t.Fatalf("signing out does not come back to the app: %v at %s", err, testenv.Page(browser))
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`))); err != nil {
			t.Fatalf("signed out, the authorization request shows no login page: %v at %s", err, testenv.Page(browser))
		}
	})

	t.Run("lock-out", func(t *testing.T) {
		step(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(s.issuer+"v2/logout")); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			login(t, email, "still not the password")
		}
		login(t, email, password)
		if got := alert(t); !strings.Contains(got, "blocked after multiple consecutive login attempts") {
			t.Errorf("after three failures the right password gets %q", got)
		}
		testenv.Screenshot(t, ctx, "locked-out")
	})
}

func callAPI(t *testing.T, c *http.Client, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
