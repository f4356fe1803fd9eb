package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// userinfoTokenInQueryOption is the option of Portcullis's global
// portcullis block that lets /userinfo take the access token in the query
// string (RFC 6750 §2.3), which passport-auth0 sends it in. It is off by
// default, as the RFCs advise.
const userinfoTokenInQueryOption = "userinfo_token_in_query"

// TestPassportAuth0 signs a user in with a real browser to the web app
// interop/passport-auth0/app.mjs, built on passport-auth0 as Auth0's
// quickstart for it builds one, against a regular_web application created
// with the Management API's defaults, on a Portcullis that opted in to
// access tokens in /userinfo's query string; the app reads the user's
// profile from /userinfo.
func TestPassportAuth0(t *testing.T) {
	repo := repoRoot(t)
	if _, err := os.Stat(filepath.Join(repo, "interop", "passport-auth0", "node_modules", "passport-auth0")); err != nil {
		t.Fatalf("passport-auth0 is not installed (%v): run `npm ci --prefix interop/passport-auth0` from the repository root first", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (Node.js 20 or later) is required for this test: %v", err)
	}

	dir := t.TempDir()
	port := testenv.FreePort(t)
	origin := fmt.Sprintf("https://localhost:%d", port)
	issuer := origin + "/"
	caddyfile := fmt.Sprintf(`{
%s
	portcullis {
		issuer %s
		storage sqlite %s
		bootstrap_admin %s %s
		%s
	}
}

%s {
	tls internal
	authorization_server
}
`, testenv.TestGlobals(dir), issuer, filepath.Join(dir, "portcullis.db"), adminClientID, adminClientSecret,
		userinfoTokenInQueryOption, origin)
	c := testenv.Start(t, dir, caddyfile, issuer+".well-known/openid-configuration")
	api := managementAPI(t, c, issuer)

	appPort := testenv.FreePort(t)
	baseURL := fmt.Sprintf("http://localhost:%d", appPort)
	var client struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	api.post(t, "clients", map[string]any{
		"name":                "passport-auth0",
		"app_type":            "regular_web",
		"callbacks":           []string{baseURL + "/callback"},
		"allowed_logout_urls": []string{baseURL},
	}, &client)
	const email, password = "barbara@example.com", "Liskov-Substitution-1987"
	var user struct {
		UserID string `json:"user_id"`
	}
	api.post(t, "users", map[string]any{
		"connection": "Username-Password-Authentication",
		"email":      email,
		"password":   password,
	}, &user)

	startNodeApp(t, node, repo, filepath.Join("interop", "passport-auth0", "app.mjs"), appPort,
		fmt.Sprintf("DOMAIN=localhost:%d", port),
		"BASE_URL="+baseURL,
		"CLIENT_ID="+client.ClientID,
		"CLIENT_SECRET="+client.ClientSecret,
		"SECRET=interop-session-secret-0123456789abcdef-test-only",
		// Trust Caddy's local CA in addition to the usual roots; TLS
		// verification stays on.
		"NODE_EXTRA_CA_CERTS="+c.RootCAPath(),
	)

	browser := testenv.Browser(t, c)
	ctx, cancel := context.WithTimeout(browser, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
	); err != nil {
		t.Fatalf("/login shows no login form (%v) at %s", err, testenv.Page(browser))
	}
	signInOnPortcullis(t, ctx, browser, issuer, email, password)
	waitForLocation(t, ctx, browser, baseURL+"/profile")

	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	var shown struct {
		Profile struct {
			ID     string `json:"id"`
			Emails []struct {
				Value string `json:"value"`
			} `json:"emails"`
		} `json:"profile"`
		Userinfo struct {
			Sub   string `json:"sub"`
			Email string `json:"email"`
		} `json:"userinfo"`
	}
	if err := json.Unmarshal([]byte(text), &shown); err != nil {
		t.Fatalf("signed in, /profile shows no JSON (%v): %s", err, text)
	}
	if shown.Userinfo.Sub != user.UserID || shown.Userinfo.Email != email {
		t.Errorf("/userinfo answered %q <%s>, want %q <%s>", shown.Userinfo.Sub, shown.Userinfo.Email, user.UserID, email)
	}
	if shown.Profile.ID != user.UserID || len(shown.Profile.Emails) != 1 || shown.Profile.Emails[0].Value != email {
		t.Errorf("passport-auth0's profile is %s, want the user %q <%s>", text, user.UserID, email)
	}
	if status, body := get(t, c.Client, baseURL+"/"); !strings.Contains(body, "signed out") {
		// Another client has no session with the app.
		t.Errorf("the app's home page for a stranger: %d %q", status, body)
	}
}
