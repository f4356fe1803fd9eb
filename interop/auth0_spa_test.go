package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// spaSDK is the UMD build of @auth0/auth0-spa-js in interop/spa-js, served
// unchanged to the page.
const spaSDK = "node_modules/@auth0/auth0-spa-js/dist/auth0-spa-js.production.js"

// TestAuth0SPAJS signs a user in with a real browser to the single-page
// application interop/spa-js/index.html, built on Auth0's @auth0/auth0-spa-js
// as its quickstart builds one (with refresh tokens), against an spa
// application created with the Management API's defaults and its callback
// URL, web origin and logout URL set as the quickstart says: login with
// redirect, the callback's code exchange, getUser, getTokenSilently, a
// refresh with the refresh token, and logout, each a cross-origin call from
// the page to Portcullis.
func TestAuth0SPAJS(t *testing.T) {
	if testing.Short() {
		t.Skip("needs an npm package and headless Chromium; skipped with -short")
	}
	repo := repoRoot(t)
	sdk, err := os.ReadFile(filepath.Join(repo, "interop", "spa-js", spaSDK))
	if err != nil {
		t.Fatalf("@auth0/auth0-spa-js is not installed (%v): run `npm ci --prefix interop/spa-js` from the repository root first", err)
	}
	page, err := os.ReadFile(filepath.Join(repo, "interop", "spa-js", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	site := t.TempDir()
	for name, content := range map[string][]byte{"index.html": page, "auth0-spa-js.production.js": sdk} {
		if err := os.WriteFile(filepath.Join(site, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	spaOrigin := fmt.Sprintf("https://localhost:%d", testenv.FreePort(t))
	c, issuer := startPortcullis(t, "", fmt.Sprintf(`%s {
	tls internal
	root * %s
	file_server
}
`, spaOrigin, site), spaOrigin+"/index.html")
	api := managementAPI(t, c, issuer)

	var client struct {
		ClientID string `json:"client_id"`
	}
	api.Do(t, "POST", "clients", map[string]any{
		"name":                "auth0-spa-js",
		"app_type":            "spa",
		"callbacks":           []string{spaOrigin},
		"web_origins":         []string{spaOrigin},
		"allowed_logout_urls": []string{spaOrigin},
	}, http.StatusCreated, &client)
	// Auth0 issues refresh tokens only for an API that allows offline
	// access, a setting of the API's (Dashboard > APIs > Settings > Allow
	// Offline Access); the API is otherwise as created with defaults.
	const audience = "https://api.example.com/spa"
	api.Do(t, "POST", "resource-servers", map[string]any{"name": "SPA API", "identifier": audience, "allow_offline_access": true}, http.StatusCreated, nil)
	config, err := json.Marshal(map[string]string{
		"domain":   domainOf(issuer),
		"clientId": client.ClientID,
		"audience": audience,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(site, "config.json"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	const email, password = "grace@example.com", "Compiler-A-0-1952"
	var user struct {
		UserID string `json:"user_id"`
	}
	api.Do(t, "POST", "users", map[string]any{
		"connection": "Username-Password-Authentication",
		"email":      email,
		"password":   password,
	}, http.StatusCreated, &user)

	browser := testenv.Browser(t, c)
	ctx, cancel := context.WithTimeout(browser, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(spaOrigin+"/")); err != nil {
		t.Fatal(err)
	}
	if state := waitForSPA(t, ctx, browser, "state"); state != "signed out" {
		t.Fatalf("the app starts %q, want %q", state, "signed out")
	}

	// loginWithRedirect sends the browser to Portcullis's login page.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
	); err != nil {
		t.Fatalf("loginWithRedirect shows no login form (%v) at %s", err, testenv.Page(browser))
	}
	signInOnPortcullis(t, ctx, browser, issuer, email, password)

	// handleRedirectCallback exchanges the code at /oauth/token, from the
	// page's origin; then getUser and getTokenSilently answer from what it
	// got.
	var signedIn struct {
		User struct {
			Sub   string `json:"sub"`
			Email string `json:"email"`
		} `json:"user"`
		AccessToken   string `json:"accessToken"`
		IDTokenClaims struct {
			Iss string `json:"iss"`
			Aud any    `json:"aud"`
		} `json:"idTokenClaims"`
	}
	readSPAResult(t, ctx, browser, &signedIn)
	if signedIn.User.Sub != user.UserID || signedIn.User.Email != email {
		t.Errorf("getUser answers %q <%s>, want %q <%s>", signedIn.User.Sub, signedIn.User.Email, user.UserID, email)
	}
	if signedIn.IDTokenClaims.Iss != issuer || signedIn.IDTokenClaims.Aud != client.ClientID {
		t.Errorf("the ID token is from %q for %v, want from %q for %q", signedIn.IDTokenClaims.Iss, signedIn.IDTokenClaims.Aud, issuer, client.ClientID)
	}
	if signedIn.AccessToken == "" {
		t.Error("getTokenSilently answers no access token")
	}
	if state := waitForSPA(t, ctx, browser, "state"); state != "signed in" {
		t.Errorf("after the callback the app is %q, want %q", state, "signed in")
	}

	// getTokenSilently, the cache bypassed, redeems the refresh token.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('result').textContent = ''`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#refresh"))); err != nil {
		t.Fatal(err)
	}
	var refreshed struct {
		Refreshed struct {
			AccessToken   string `json:"accessToken"`
			IDTokenClaims struct {
				Sub string `json:"sub"`
			} `json:"idTokenClaims"`
		} `json:"refreshed"`
	}
	readSPAResult(t, ctx, browser, &refreshed)
	if refreshed.Refreshed.AccessToken == "" || refreshed.Refreshed.AccessToken == signedIn.AccessToken {
		t.Errorf("the refresh gave the access token %q, want a new one", refreshed.Refreshed.AccessToken)
	}
	if refreshed.Refreshed.IDTokenClaims.Sub != user.UserID {
		t.Errorf("the refreshed ID token is for %q, want %q", refreshed.Refreshed.IDTokenClaims.Sub, user.UserID)
	}

	// logout goes to Portcullis's /v2/logout, which, called from another
	// site without an id_token_hint, asks the user to confirm (a documented
	// difference from Auth0); it ends the session and comes back to the app.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS(`button[value="confirm"]`)),
	); err != nil {
		t.Fatalf("logout shows no confirmation (%v) at %s", err, testenv.Page(browser))
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasPrefix(loc, issuer+"v2/logout?") {
		t.Fatalf("logout went to %q (%v), want Portcullis's /v2/logout", loc, err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="confirm"]`))); err != nil {
		t.Fatalf("confirming the logout: %v at %s", err, testenv.Page(browser))
	}
	waitForLocation(t, ctx, browser, spaOrigin+"/")
	if state := waitForSPA(t, ctx, browser, "state"); state != "signed out" {
		t.Errorf("after logout the app is %q, want %q", state, "signed out")
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
	); err != nil {
		t.Fatalf("after logout, loginWithRedirect finds no login form (%v) at %s", err, testenv.Page(browser))
	}
}

// waitForSPA waits until the app's element id shows text or the app shows
// an error, and returns the text; an error fails the test.
func waitForSPA(t *testing.T, ctx, browser context.Context, id string) string {
	t.Helper()
	for {
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(
			`[document.getElementById(%q)?.textContent ?? '', document.getElementById('error')?.textContent ?? '']`, id)))
		if err == nil && len(shown) == 2 {
			if shown[1] != "" {
				t.Fatalf("the app shows the error %q at %s", shown[1], testenv.Page(browser))
			}
			if shown[0] != "" {
				return shown[0]
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the app shows no %s; the browser is at %s", id, testenv.Page(browser))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readSPAResult waits for the app's result and decodes it into out.
func readSPAResult(t *testing.T, ctx, browser context.Context, out any) {
	t.Helper()
	text := waitForSPA(t, ctx, browser, "result")
	if err := json.Unmarshal([]byte(text), out); err != nil {
		t.Fatalf("the app's result is no JSON (%v): %s", err, text)
	}
}

// signInOnPortcullis fills in and submits the login form that the browser
// shows, and consents if Portcullis then asks for it: applications whose
// callback is on localhost prove nothing about which application they are,
// so Portcullis, as Auth0, asks even for first-party ones.
func signInOnPortcullis(t *testing.T, ctx, browser context.Context, issuer, email, password string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
	); err != nil {
		t.Fatalf("signing in: %v at %s", err, testenv.Page(browser))
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`))); err != nil {
		t.Fatalf("signing in: %v at %s", err, testenv.Page(browser))
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil && strings.HasPrefix(loc, issuer) {
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="accept"]`))); err != nil {
			t.Fatalf("consenting: %v at %s", err, testenv.Page(browser))
		}
	}
}
