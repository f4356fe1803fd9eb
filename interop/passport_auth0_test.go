package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
// with the Management API's defaults. passport-auth0 reads the user's
// profile from /userinfo with the access token in the query string: on a
// Portcullis that opted in to that, the user is signed in; on one that did
// not, the default, the sign-in fails there.
func TestPassportAuth0(t *testing.T) {
	t.Run("opted in", func(t *testing.T) {
		text, userID := passportSignIn(t, true)
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
		if shown.Userinfo.Sub != userID || shown.Userinfo.Email != passportEmail {
			t.Errorf("/userinfo answered %q <%s>, want %q <%s>", shown.Userinfo.Sub, shown.Userinfo.Email, userID, passportEmail)
		}
		if shown.Profile.ID != userID || len(shown.Profile.Emails) != 1 || shown.Profile.Emails[0].Value != passportEmail {
			t.Errorf("passport-auth0's profile is %s, want the user %q <%s>", text, userID, passportEmail)
		}
	})
	t.Run("by default", func(t *testing.T) {
		text, _ := passportSignIn(t, false)
		if !strings.Contains(text, "failed to fetch user profile") {
			t.Errorf("without the opt-in, the callback shows %s, want passport-auth0's %q", text, "failed to fetch user profile")
		}
	})
}

// The user that passportSignIn signs in.
const passportEmail, passportPassword = "barbara@example.com", "Liskov-Substitution-1987"

// passportSignIn starts a Portcullis, with userinfoTokenInQueryOption if
// optIn, and interop/passport-auth0/app.mjs for a regular_web application
// created with defaults; signs a new user in with a browser; and returns
// the text of the page the app ends on (/profile once signed in, else the
// error its /callback shows) and the user's ID.
func passportSignIn(t *testing.T, optIn bool) (text, userID string) {
	t.Helper()
	repo := repoRoot(t)
	node := requireNode(t, "passport-auth0", "passport-auth0")
	option := ""
	if optIn {
		option = userinfoTokenInQueryOption
	}
	c, issuer := startPortcullis(t, option, "")
	api := managementAPI(t, c, issuer)

	appPort := testenv.FreePort(t)
	baseURL := fmt.Sprintf("http://localhost:%d", appPort)
	var client struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	api.Do(t, "POST", "clients", map[string]any{
		"name":                "passport-auth0",
		"app_type":            "regular_web",
		"callbacks":           []string{baseURL + "/callback"},
		"allowed_logout_urls": []string{baseURL},
	}, http.StatusCreated, &client)
	var user struct {
		UserID string `json:"user_id"`
	}
	api.Do(t, "POST", "users", map[string]any{
		"connection": "Username-Password-Authentication",
		"email":      passportEmail,
		"password":   passportPassword,
	}, http.StatusCreated, &user)

	startNodeApp(t, node, repo, filepath.Join("interop", "passport-auth0", "app.mjs"), appPort,
		"DOMAIN="+domainOf(issuer),
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
	signInOnPortcullis(t, ctx, browser, issuer, passportEmail, passportPassword)
	// The app ends on /profile, or on /callback showing its error.
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil && (loc == baseURL+"/profile" || strings.HasPrefix(loc, baseURL+"/callback?")) {
			text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			if err != nil {
				t.Fatal(err)
			}
			return text, user.UserID
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the browser did not come back to the app; it is at %s", testenv.Page(browser))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
