package portcullis_test

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// userinfoCaddyfile is the contract Caddyfile with extra portcullis
// options.
func userinfoCaddyfile(dir string, port int, options string) string {
	return fmt.Sprintf(`{
%s
	portcullis {
		issuer https://localhost:%[2]d/
		storage sqlite %[3]s/portcullis.db
		bootstrap_admin %[4]s %[5]s
%[6]s
	}
}
https://localhost:%[2]d {
	tls internal
	authorization_server
}
`, testenv.TestGlobals(dir), port, dir, adminID, adminSecret, options)
}

var (
	loginAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	loginCSRF   = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
)

// TestUserinfoTokenInQueryThroughCaddy signs a user in through Caddy as
// a relying party that posts its authorization request does, for an
// application created with the Management API's defaults
// (client_secret_post) that exchanges the code with HTTP Basic, as
// express-openid-connect does; then it sends the access token to
// /userinfo in the query, as passport-auth0 does: refused without
// userinfo_token_in_query, taken with it.
func TestUserinfoTokenInQueryThroughCaddy(t *testing.T) {
	dir, port := t.TempDir(), testenv.FreePort(t)
	s := runCaddyfile(t, dir, port, userinfoCaddyfile(dir, port, ""))
	admin := s.admin()
	const redirectURI = "https://app.example/callback"
	app := s.call(admin, "POST", "clients", map[string]any{"name": "Passport app", "app_type": "regular_web", "callbacks": []string{redirectURI}}, http.StatusCreated)
	if app["token_endpoint_auth_method"] != "client_secret_post" {
		t.Fatalf("a new regular_web application authenticates with %v, want client_secret_post", app["token_endpoint_auth_method"])
	}
	const email, password = "ada@example.com", "Analytical-Engine-1843!"
	s.call(admin, "POST", "users", map[string]any{"connection": "Username-Password-Authentication", "email": email, "password": password, "name": "Ada Lovelace"}, http.StatusCreated)

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Transport: s.caddy.Client.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(target string, form url.Values) (*http.Response, string) {
		t.Helper()
		resp, err := browser.PostForm(target, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, page := post(s.issuer+"authorize", url.Values{
		"response_type": {"code"}, "client_id": {app["client_id"].(string)}, "redirect_uri": {redirectURI},
		"scope": {"openid profile email"}, "state": {"st"}, "nonce": {"n"},
	})
	action, csrf := loginAction.FindStringSubmatch(page), loginCSRF.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || action == nil || csrf == nil {
		t.Fatalf("POST /authorize: %d %s", resp.StatusCode, page)
	}
	resp, page = post(s.issuer+strings.TrimPrefix(html.UnescapeString(action[1]), "/"), url.Values{
		"csrf": {html.UnescapeString(csrf[1])}, "username": {email}, "password": {password},
	})
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("signing in: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	conf := &oauth2.Config{ClientID: app["client_id"].(string), ClientSecret: app["client_secret"].(string), RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{TokenURL: s.provider.Endpoint().TokenURL, AuthStyle: oauth2.AuthStyleInHeader}}
	tok, err := conf.Exchange(s.ctx, loc.Query().Get("code"))
	if err != nil {
		t.Fatalf("exchanging the code with HTTP Basic: %v", err)
	}
	userinfo := func() (int, string) {
		t.Helper()
		resp, err := s.caddy.Client.Get(s.issuer + "userinfo?access_token=" + url.QueryEscape(tok.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	if status, body := userinfo(); status != http.StatusBadRequest || !strings.Contains(body, `"error":"invalid_request"`) {
		t.Errorf("token in the query without the opt-in: %d %s", status, body)
	}
	testenv.Load(t, userinfoCaddyfile(dir, port, "\t\tuserinfo_token_in_query"))
	status, body := userinfo()
	if status != http.StatusOK || !strings.Contains(body, `"email":"`+email+`"`) {
		t.Fatalf("token in the query with userinfo_token_in_query: %d %s", status, body)
	}
	// The ID token of the same sign-in names the same user.
	idToken, _ := tok.Extra("id_token").(string)
	verified, err := s.provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(s.ctx, idToken)
	if err != nil || !strings.Contains(body, `"sub":"`+verified.Subject+`"`) {
		t.Errorf("userinfo %s for the ID token of %v (%v)", body, verified, err)
	}
}
