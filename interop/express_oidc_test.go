package interop_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis-gw/portcullis/internal/testenv"
	"github.com/portcullis-gw/portcullis/internal/testutil"
)

// browserTimeout bounds each step of a sign-in in the browser.
const browserTimeout = 30 * time.Second

// TestExpressOpenIDConnect signs a user in with a real browser to the web
// app interop/express-oidc/app.mjs, built on Auth0's express-openid-connect
// in code flow and configured with nothing but Portcullis's issuer URL and
// the credentials of a regular_web client created with the Management
// API's defaults, and reads back who is signed in;
// then the app calls an API behind bearer_auth with the user's access
// token, whose scope RBAC narrowed, and the upstream sees the user; last
// the app signs the user out of itself and of Portcullis.
func TestExpressOpenIDConnect(t *testing.T) {
	repo := repoRoot(t)
	node := requireNode(t, "express-oidc", "express-openid-connect")
	apiOrigin := fmt.Sprintf("https://localhost:%d", testenv.FreePort(t))
	const audience = "https://api.example.com/notes"
	c, issuer := startPortcullis(t, "", fmt.Sprintf(`%s {
	tls internal
	bearer_auth {
		audience %s
		permissions GET /notes* read:notes
	}
	reverse_proxy 127.0.0.1:%[3]d
}

http://:%[3]d {
	bind 127.0.0.1
	echo
}
`, apiOrigin, audience, testenv.FreePort(t)), apiOrigin+"/")
	api := managementAPI(t, c, issuer)

	appPort := testenv.FreePort(t)
	baseURL := fmt.Sprintf("http://localhost:%d", appPort)
	var client struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	// A regular web application as the dashboard makes it, with the URLs
	// the quickstart sets: it authenticates with client_secret_post by
	// default, and express-openid-connect sends its secret with HTTP Basic,
	// which Auth0 takes from such a client too.
	api.Do(t, "POST", "clients", map[string]any{
		"name":                "express-openid-connect",
		"app_type":            "regular_web",
		"callbacks":           []string{baseURL + "/callback"},
		"allowed_logout_urls": []string{baseURL},
	}, http.StatusCreated, &client)
	const email, password = "ada@example.com", "Analytical-Engine-1843"
	var user struct {
		UserID string `json:"user_id"`
	}
	api.Do(t, "POST", "users", map[string]any{
		"connection": "Username-Password-Authentication",
		"email":      email,
		"password":   password,
	}, http.StatusCreated, &user)
	// An API with RBAC whose read:notes the user holds directly.
	var rs map[string]any
	api.Do(t, "POST", "resource-servers", map[string]any{
		"name": "Notes", "identifier": audience, "enforce_policies": true, "token_dialect": "access_token_authz",
		"scopes": []map[string]string{{"value": "read:notes"}, {"value": "write:notes"}},
	}, http.StatusCreated, &rs)
	api.Do(t, "POST", "users/"+url.PathEscape(user.UserID)+"/permissions", map[string]any{"permissions": []map[string]string{
		{"resource_server_identifier": audience, "permission_name": "read:notes"},
	}}, http.StatusCreated, nil)

	startApp(t, node, repo, appPort,
		"ISSUER_BASE_URL="+issuer,
		"BASE_URL="+baseURL,
		"CLIENT_ID="+client.ClientID,
		"CLIENT_SECRET="+client.ClientSecret,
		"SECRET=interop-cookie-secret-0123456789abcdef-test-only",
		"AUDIENCE="+audience,
		"SCOPE=read:notes write:notes",
		"API_URL="+apiOrigin+"/notes/1",
		"IDP_LOGOUT=true",
		// Trust Caddy's local CA in addition to the usual roots; TLS
		// verification stays on.
		"NODE_EXTRA_CA_CERTS="+c.RootCAPath(),
	)
	// A client of the app's that keeps redirects to itself.
	app := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if status, body := get(t, app, baseURL+"/"); status != http.StatusOK || body != "signed out" {
		t.Fatalf("the app's home page: %d %q, want 200 %q", status, body, "signed out")
	}

	var discovery struct {
		AuthorizationEndpoint string `json:"authorization_endpoint"`
	}
	if status, body := get(t, c.Client, issuer+".well-known/openid-configuration"); status != http.StatusOK {
		t.Fatalf("discovery: %d %s", status, body)
	} else if err := json.Unmarshal([]byte(body), &discovery); err != nil {
		t.Fatalf("discovery: %v", err)
	}

	// Signed out, /profile sends the browser to Portcullis with an
	// authorization code request with PKCE.
	resp, err := app.Get(baseURL + "/profile")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authorize, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("signed out, /profile answered %d to %q (%v), want a redirect to %s", resp.StatusCode, resp.Header.Get("Location"), err, discovery.AuthorizationEndpoint)
	}
	q := authorize.Query()
	if got := authorize.Scheme + "://" + authorize.Host + authorize.Path; got != discovery.AuthorizationEndpoint {
		t.Errorf("/profile redirects to %s, want the authorization endpoint %s", got, discovery.AuthorizationEndpoint)
	}
	for name, want := range map[string]string{
		"client_id":             client.ClientID,
		"response_type":         "code",
		"redirect_uri":          baseURL + "/callback",
		"scope":                 "openid profile email read:notes write:notes",
		"audience":              audience,
		"code_challenge_method": "S256",
	} {
		if got := q.Get(name); got != want {
			t.Errorf("the authorization request's %s is %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"code_challenge", "state", "nonce"} {
		if q.Get(name) == "" {
			t.Errorf("the authorization request has no %s: %s", name, authorize)
		}
	}

	// The browser signs in on Portcullis's login page.
	browser := testenv.Browser(t, c)
	ctx, cancel := context.WithTimeout(browser, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/profile"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
	); err != nil {
		t.Fatalf("opening /profile signed out, the browser finds no login form (%v) at %s", err, testenv.Page(browser))
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasPrefix(loc, issuer) {
		t.Fatalf("the login page is at %q (%v), want a page of Portcullis's at %s", loc, err, issuer)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
	); err != nil {
		t.Fatalf("signing in: %v at %s", err, testenv.Page(browser))
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`))); err != nil {
		t.Fatalf("signing in: %v at %s", err, testenv.Page(browser))
	}
	// The app's callback is on localhost, which proves nothing about which
	// application it is, so even this first-party app asks for consent to
	// the API's permissions (as Auth0 does).
	if page := testenv.Page(browser); !strings.Contains(page, "read:notes") || strings.Contains(page, "write:notes") {
		t.Fatalf("want the consent page asking for read:notes only, got %s", page)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="accept"]`))); err != nil {
		t.Fatalf("consenting: %v at %s", err, testenv.Page(browser))
	}
	waitForLocation(t, ctx, browser, baseURL+"/profile")

	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	var profile struct {
		User struct {
			Sub   string `json:"sub"`
			Email string `json:"email"`
		} `json:"user"`
		IDTokenClaims struct {
			Iss string `json:"iss"`
			Aud any    `json:"aud"`
		} `json:"idTokenClaims"`
		AccessTokenScope string `json:"accessTokenScope"`
	}
	if err := json.Unmarshal([]byte(text), &profile); err != nil {
		t.Fatalf("signed in, /profile shows no JSON (%v): %s", err, text)
	}
	if profile.User.Sub != user.UserID || profile.User.Email != email {
		t.Errorf("signed in, /profile shows the user %q <%s>, want %q <%s>", profile.User.Sub, profile.User.Email, user.UserID, email)
	}
	if profile.IDTokenClaims.Iss != issuer || profile.IDTokenClaims.Aud != client.ClientID {
		t.Errorf("the ID token is from %q for %v, want from %q for %q", profile.IDTokenClaims.Iss, profile.IDTokenClaims.Aud, issuer, client.ClientID)
	}
	// RBAC: of the two permissions asked for, the token has the one the
	// user holds.
	if profile.AccessTokenScope != "openid profile email read:notes" {
		t.Errorf("the access token's scope is %q, want %q", profile.AccessTokenScope, "openid profile email read:notes")
	}

	// The app calls the API with the user's access token; bearer_auth lets
	// it through with the user's identity.
	if err := chromedp.Do(ctx, chromedp.Navigate(baseURL+"/call-api")); err != nil {
		t.Fatal(err)
	}
	text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	var call struct {
		Status int `json:"status"`
		Body   struct {
			Headers map[string][]string `json:"headers"`
		} `json:"body"`
	}
	if err := json.Unmarshal([]byte(text), &call); err != nil {
		t.Fatalf("/call-api shows no JSON (%v): %s", err, text)
	}
	if call.Status != http.StatusOK || strings.Join(call.Body.Headers["X-Portcullis-Subject"], ",") != user.UserID {
		t.Errorf("the API call through bearer_auth: %s, want 200 with X-Portcullis-Subject %s", text, user.UserID)
	}

	// The app's /logout sends the browser, from the app's site, to
	// Portcullis's end_session_endpoint with the ID token as
	// id_token_hint: Portcullis ends its session without asking (the hint
	// names the signed-in user) and sends the browser back to the app.
	if err := chromedp.Do(ctx, chromedp.Navigate(baseURL+"/logout")); err != nil {
		t.Fatal(err)
	}
	waitForLocation(t, ctx, browser, baseURL+"/")
	if text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); err != nil || text != "signed out" {
		t.Errorf("after /logout the app shows %q (%v), want %q", text, err, "signed out")
	}
	// Signed out of Portcullis too: signing in again shows the login form.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/profile"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
	); err != nil {
		t.Fatalf("after logout, /profile finds no login form (%v) at %s", err, testenv.Page(browser))
	}
}

// waitForLocation waits until the page of the browser is at want, as long
// as ctx, a context derived from browser, lasts.
func waitForLocation(t *testing.T, ctx, browser context.Context, want string) {
	t.Helper()
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil && loc == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the browser did not come to %s; it is at %s", want, testenv.Page(browser))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// managementAPI calls Portcullis's Management API as the bootstrap admin.
func managementAPI(t *testing.T, c *testenv.Caddy, issuer string) *testutil.ManagementAPI {
	t.Helper()
	token := testutil.ClientCredentialsToken(t, c.Client, issuer+"oauth/token", adminClientID, adminClientSecret, issuer+"api/v2/")
	return &testutil.ManagementAPI{Base: issuer + "api/v2/", Token: token, Client: c.Client}
}

// get fetches u and returns the status and the body.
func get(t *testing.T, client *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// startApp runs interop/express-oidc/app.mjs on port with env until the
// test ends, and waits until it listens. What it prints is logged.
func startApp(t *testing.T, node, repo string, port int, env ...string) {
	t.Helper()
	startNodeApp(t, node, repo, filepath.Join("interop", "express-oidc", "app.mjs"), port, env...)
}

// startNodeApp runs the Node program script, a path from the repository
// root, on port with env until the test ends, and waits until it prints
// "listening on <port>". What it prints is logged.
func startNodeApp(t *testing.T, node, repo, script string, port int, env ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = repo
	cmd.Env = append(nodeEnv(), append(env, fmt.Sprintf("PORT=%d", port))...)
	out, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		output strings.Builder
	)
	listening := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		ready := false
		s := bufio.NewScanner(out)
		for s.Scan() {
			mu.Lock()
			output.WriteString(s.Text() + "\n")
			mu.Unlock()
			if s.Text() == fmt.Sprintf("listening on %d", port) && !ready {
				ready = true
				close(listening)
			}
		}
	}()
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		w.Close()
		exited <- err
	}()
	printed := func() string {
		<-read
		mu.Lock()
		defer mu.Unlock()
		return output.String()
	}
	t.Cleanup(func() {
		cancel()
		<-exited
		t.Logf("the app printed:\n%s", printed())
	})
	select {
	case <-listening:
	case err := <-exited:
		exited <- err
		t.Fatalf("the app exited before it listened (%v):\n%s", err, printed())
	case <-time.After(30 * time.Second):
		t.Fatal("the app did not listen within 30s")
	}
}

// TestExpressOpenIDConnectDefaults signs a user in to
// interop/express-oidc/app.mjs configured as Auth0's quickstart configures
// express-openid-connect (QUICKSTART: no client secret, the library's
// default response_type id_token with response_mode form_post), against
// an application created with the Management API's defaults; then signs
// the user out through Auth0's /v2/logout (auth0Logout).
func TestExpressOpenIDConnectDefaults(t *testing.T) {
	repo := repoRoot(t)
	node := requireNode(t, "express-oidc", "express-openid-connect")
	c, issuer := startPortcullis(t, "", "")
	api := managementAPI(t, c, issuer)

	appPort := testenv.FreePort(t)
	baseURL := fmt.Sprintf("http://localhost:%d", appPort)
	var client struct {
		ClientID string `json:"client_id"`
	}
	// Nothing but what the dashboard asks for: the defaults give a
	// regular_web application the implicit grant.
	api.Do(t, "POST", "clients", map[string]any{
		"name":                "express-openid-connect quickstart",
		"app_type":            "regular_web",
		"callbacks":           []string{baseURL + "/callback"},
		"allowed_logout_urls": []string{baseURL},
	}, http.StatusCreated, &client)
	const email, password = "grace@example.com", "Compiler-A-0-1952"
	var user struct {
		UserID string `json:"user_id"`
	}
	api.Do(t, "POST", "users", map[string]any{
		"connection": "Username-Password-Authentication",
		"email":      email,
		"password":   password,
	}, http.StatusCreated, &user)

	startApp(t, node, repo, appPort,
		"QUICKSTART=true",
		"ISSUER_BASE_URL="+issuer,
		"BASE_URL="+baseURL,
		"CLIENT_ID="+client.ClientID,
		"SECRET=interop-cookie-secret-0123456789abcdef-test-only",
		"NODE_EXTRA_CA_CERTS="+c.RootCAPath(),
	)
	app := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// The library's defaults: an ID token, posted back to the app.
	resp, err := app.Get(baseURL + "/profile")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authorize, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("signed out, /profile answered %d to %q (%v), want a redirect to Portcullis", resp.StatusCode, resp.Header.Get("Location"), err)
	}
	q := authorize.Query()
	for name, want := range map[string]string{
		"client_id":     client.ClientID,
		"response_type": "id_token",
		"response_mode": "form_post",
		"scope":         "openid profile email",
	} {
		if got := q.Get(name); got != want {
			t.Errorf("the authorization request's %s is %q, want %q", name, got, want)
		}
	}
	if q.Get("nonce") == "" {
		t.Errorf("the authorization request has no nonce: %s", authorize)
	}

	browser := testenv.Browser(t, c)
	ctx, cancel := context.WithTimeout(browser, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/profile"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
	); err != nil {
		t.Fatalf("opening /profile signed out, the browser finds no login form (%v) at %s", err, testenv.Page(browser))
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
	); err != nil {
		t.Fatalf("signing in: %v at %s", err, testenv.Page(browser))
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`))); err != nil {
		t.Fatalf("signing in: %v at %s", err, testenv.Page(browser))
	}
	// No API permissions are asked for, so this first-party application
	// asks for no consent: the form_post page posts the ID token to the
	// app, which sends the browser on to /profile.
	waitForLocation(t, ctx, browser, baseURL+"/profile")
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	var profile struct {
		User struct {
			Sub   string `json:"sub"`
			Email string `json:"email"`
		} `json:"user"`
		IDTokenClaims struct {
			Iss   string `json:"iss"`
			Aud   any    `json:"aud"`
			Nonce string `json:"nonce"`
		} `json:"idTokenClaims"`
	}
	if err := json.Unmarshal([]byte(text), &profile); err != nil {
		t.Fatalf("signed in, /profile shows no JSON (%v): %s", err, text)
	}
	if profile.User.Sub != user.UserID || profile.User.Email != email {
		t.Errorf("signed in, /profile shows the user %q <%s>, want %q <%s>", profile.User.Sub, profile.User.Email, user.UserID, email)
	}
	if profile.IDTokenClaims.Iss != issuer || profile.IDTokenClaims.Aud != client.ClientID || profile.IDTokenClaims.Nonce == "" {
		t.Errorf("the ID token is from %q for %v with nonce %q, want from %q for %q with the request's nonce",
			profile.IDTokenClaims.Iss, profile.IDTokenClaims.Aud, profile.IDTokenClaims.Nonce, issuer, client.ClientID)
	}

	// auth0Logout: /logout goes to Portcullis's /v2/logout without an
	// id_token_hint, from the app's site, so Portcullis asks the user
	// before it ends the session (other sites cannot sign users out
	// unseen), then returns to the app.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/logout"),
		chromedp.WaitVisible(chromedp.CSS(`button[value="confirm"]`)),
	); err != nil {
		t.Fatalf("/logout shows no confirmation (%v) at %s", err, testenv.Page(browser))
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasPrefix(loc, issuer+"v2/logout?") {
		t.Fatalf("/logout went to %q (%v), want Portcullis's %sv2/logout", loc, err, issuer)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="confirm"]`))); err != nil {
		t.Fatalf("confirming the sign-out: %v at %s", err, testenv.Page(browser))
	}
	waitForLocation(t, ctx, browser, baseURL+"/")
	if text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); err != nil || text != "signed out" {
		t.Errorf("after /logout the app shows %q (%v), want %q", text, err, "signed out")
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/profile"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
	); err != nil {
		t.Fatalf("after logout, /profile finds no login form (%v) at %s", err, testenv.Page(browser))
	}
}
