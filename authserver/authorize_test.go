package authserver_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/tenant"
)

// browser is a user agent for the login pages: it keeps cookies and does
// not follow redirects, so that tests see each step.
type browser struct {
	t      *testing.T
	e      *env
	client *http.Client
	// site, when set, is the Sec-Fetch-Site header of the requests: where
	// the browser says they come from (same-origin, same-site,
	// cross-site, or none for the user's own, typed in).
	site string
}

func (e *env) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, e: e, client: &http.Client{
		Transport:     e.ts.Client().Transport,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is a response of the login pages.
type page struct {
	status int
	header http.Header
	body   string
	// location is the redirect target, parsed, for a 302.
	location *url.URL
}

func (p page) String() string { return http.StatusText(p.status) + " " + p.body }

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	csrfField  = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	alertText  = regexp.MustCompile(`(?s)role="alert" id="error">(.*?)</div>`)
)

// message returns the page's error message.
func (p page) message() string {
	m := alertText.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func (b *browser) send(method, target string, form url.Values) page {
	b.t.Helper()
	if !strings.HasPrefix(target, "https://") {
		target = b.e.ts.URL + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.site != "" {
		req.Header.Set("Sec-Fetch-Site", b.site)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := page{status: resp.StatusCode, header: resp.Header, body: string(data)}
	if resp.StatusCode >= 500 {
		b.t.Errorf("%s %s: server error %s", method, target, data)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		if p.location, err = url.Parse(loc); err != nil {
			b.t.Fatalf("Location %q: %v", loc, err)
		}
	}
	return p
}

// authorize opens /authorize with the parameters.
func (b *browser) authorize(params url.Values) page {
	b.t.Helper()
	return b.send("GET", "/authorize?"+params.Encode(), nil)
}

// submit posts the page's form with fields and its CSRF token.
func (b *browser) submit(p page, fields url.Values) page {
	b.t.Helper()
	action := formAction.FindStringSubmatch(p.body)
	csrf := csrfField.FindStringSubmatch(p.body)
	if action == nil || csrf == nil {
		b.t.Fatalf("the page has no form with a CSRF token: %s", p)
	}
	form := url.Values{"csrf": {html.UnescapeString(csrf[1])}}
	for k, v := range fields {
		form[k] = v
	}
	return b.send("POST", html.UnescapeString(action[1]), form)
}

// login submits the login page.
func (b *browser) login(p page, email, password string) page {
	b.t.Helper()
	return b.submit(p, url.Values{"username": {email}, "password": {password}})
}

// wantLoginPage checks that p is the login form.
func wantLoginPage(t *testing.T, p page) {
	t.Helper()
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("want the login page, got %s", p)
	}
}

// wantRedirect checks a redirect to the client and returns its query.
func wantRedirect(t *testing.T, p page, redirectURI string) url.Values {
	t.Helper()
	if p.status != http.StatusFound || p.location == nil {
		t.Fatalf("want a redirect to %s, got %s", redirectURI, p)
	}
	target := *p.location
	target.RawQuery = ""
	if target.String() != redirectURI {
		t.Fatalf("redirected to %s, want %s", p.location, redirectURI)
	}
	return p.location.Query()
}

// wantAuthorizeError checks an error sent to the client.
func wantAuthorizeError(t *testing.T, e *env, p page, redirectURI, code, description string) {
	t.Helper()
	q := wantRedirect(t, p, redirectURI)
	if q.Get("error") != code || !strings.Contains(q.Get("error_description"), description) {
		t.Errorf("error %q %q, want %q containing %q", q.Get("error"), q.Get("error_description"), code, description)
	}
	if q.Get("state") != "st-1" || q.Get("iss") != e.issuer {
		t.Errorf("error response state %q iss %q, want st-1 and %s", q.Get("state"), q.Get("iss"), e.issuer)
	}
	if q.Has("code") {
		t.Error("an error response carries a code")
	}
}

const (
	callback     = "https://app.example/callback"
	userPassword = "correct horse battery staple"
	challenge    = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" // RFC 7636 appendix B
	verifier     = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// signinFixture is a regular web client, a user and an API with RBAC.
type signinFixture struct {
	clientID, clientSecret, userID, email, api string
}

func (e *env) newSigninFixture(t *testing.T, clientFields obj) signinFixture {
	t.Helper()
	fx := signinFixture{email: uniq("ann") + "@example.com", api: newAudience("events")}
	fields := obj{"name": uniq("web"), "app_type": "regular_web", "callbacks": []string{callback},
		"allowed_logout_urls": []string{"https://app.example/bye"}}
	for k, v := range clientFields {
		fields[k] = v
	}
	creds := e.createClient(t, fields)
	fx.clientID, fx.clientSecret = creds.ClientID, creds.ClientSecret
	e.createAPI(t, fx.api, []string{"create:events", "read:events", "update:events", "delete:events"},
		obj{"enforce_policies": true, "allow_offline_access": true, "skip_consent_for_verifiable_first_party_clients": true})
	var u struct {
		UserID string `json:"user_id"`
	}
	e.must(t, "POST", "users", obj{"email": fx.email, "password": userPassword, "connection": "Username-Password-Authentication"}, http.StatusCreated, &u)
	fx.userID = u.UserID
	var role struct{ ID string }
	e.must(t, "POST", "roles", obj{"name": uniq("organizer")}, http.StatusOK, &role)
	e.must(t, "POST", "roles/"+role.ID+"/permissions", obj{"permissions": []obj{
		{"resource_server_identifier": fx.api, "permission_name": "create:events"},
		{"resource_server_identifier": fx.api, "permission_name": "update:events"},
	}}, http.StatusCreated, nil)
	e.must(t, "POST", "users/"+url.PathEscape(fx.userID)+"/roles", obj{"roles": []string{role.ID}}, http.StatusOK, nil)
	return fx
}

func (fx signinFixture) params(extra ...string) url.Values {
	q := url.Values{
		"client_id": {fx.clientID}, "redirect_uri": {callback}, "response_type": {"code"},
		"scope": {"openid profile email"}, "state": {"st-1"}, "nonce": {"n-1"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return q
}

// storedCode consumes the code from the store, to inspect it.
func (e *env) storedCode(t *testing.T, code string) *sessions.AuthorizationCode {
	t.Helper()
	c, err := e.store.ConsumeAuthorizationCode(t.Context(), sessions.Key(code), time.Now())
	if err != nil {
		t.Fatalf("the code %q is not stored: %v", code, err)
	}
	return c
}

func TestAuthorizeSignInAndCode(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)

	p := b.authorize(fx.params("audience", fx.api, "scope", "openid profile create:events read:events update:events delete:events"))
	wantLoginPage(t, p)
	for name, want := range map[string]string{
		"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Referrer-Policy": "same-origin",
	} {
		if got := p.header.Get(name); got != want {
			t.Errorf("login page %s = %q, want %q", name, got, want)
		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("login page CSP %q", csp)
	}
	if strings.Contains(p.body, "<script") {
		t.Error("the login page needs JavaScript")
	}

	done := b.login(p, strings.ToUpper(fx.email), userPassword)
	q := wantRedirect(t, done, callback)
	if q.Get("state") != "st-1" || q.Get("iss") != e.issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %v", q)
	}
	var sessionCookie *http.Cookie
	for _, c := range (&http.Response{Header: done.header}).Cookies() {
		if c.Name == "portcullis_session" {
			sessionCookie = c
		}
	}
	if sessionCookie == nil || !sessionCookie.HttpOnly || !sessionCookie.Secure || sessionCookie.SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Lax", sessionCookie)
	}
	code := e.storedCode(t, q.Get("code"))
	// RBAC: requested ∩ the user's permissions; the profile scopes stay.
	if want := []string{"openid", "profile", "create:events", "update:events"}; !slices.Equal(code.Scopes, want) {
		t.Errorf("granted scopes %v, want %v", code.Scopes, want)
	}
	if code.ClientID != fx.clientID || code.UserID != fx.userID || code.Audience != fx.api || code.RedirectURI != callback ||
		code.Nonce != "n-1" || code.CodeChallenge != challenge || code.CodeChallengeMethod != "S256" || code.FamilyID == "" {
		t.Errorf("stored code %+v", code)
	}
	if d := code.ExpiresAt.Sub(code.AuthTime); d < 50*time.Second || d > 70*time.Second {
		t.Errorf("code lifetime %v, want 60s", d)
	}
	var user struct {
		LoginsCount int    `json:"logins_count"`
		LastIP      string `json:"last_ip"`
	}
	e.must(t, "GET", "users/"+url.PathEscape(fx.userID), nil, http.StatusOK, &user)
	if user.LoginsCount != 1 || user.LastIP != "127.0.0.1" {
		t.Errorf("after sign-in: logins_count %d, last_ip %q", user.LoginsCount, user.LastIP)
	}

	// Single sign-on: the session answers the next request at once, for
	// another client too.
	second := e.createClient(t, obj{"name": uniq("other"), "app_type": "regular_web", "callbacks": []string{"https://other.example/cb"}})
	q = wantRedirect(t, b.authorize(fx.params("client_id", second.ClientID, "redirect_uri", "https://other.example/cb")), "https://other.example/cb")
	if q.Get("code") == "" {
		t.Errorf("SSO gave no code: %v", q)
	}
	if got := e.storedCode(t, q.Get("code")); !got.AuthTime.Equal(code.AuthTime) {
		t.Errorf("SSO auth_time %v, want the sign-in's %v", got.AuthTime, code.AuthTime)
	}
	// prompt=none with a session gives a code; prompt=login asks again;
	// max_age shorter than the session's age asks again.
	q = wantRedirect(t, b.authorize(fx.params("prompt", "none")), callback)
	if q.Get("code") == "" {
		t.Errorf("prompt=none with a session: %v", q)
	}
	wantLoginPage(t, b.authorize(fx.params("prompt", "login")))
	e.skew.Store(int64(2 * time.Second))
	wantLoginPage(t, b.authorize(fx.params("max_age", "1")))
	// max_age=0 asks every time, and signing in satisfies it.
	q = wantRedirect(t, b.login(b.authorize(fx.params("max_age", "0")), fx.email, userPassword), callback)
	if q.Get("code") == "" {
		t.Errorf("max_age=0 after signing in: %v", q)
	}
	q = wantRedirect(t, b.authorize(fx.params("max_age", "3600")), callback)
	if q.Get("code") == "" {
		t.Errorf("max_age within the session's age: %v", q)
	}

	// A fresh browser has no session: prompt=none is login_required.
	wantAuthorizeError(t, e, e.browser(t).authorize(fx.params("prompt", "none")), callback, "login_required", "not signed in")
}

func TestAuthorizeRequestErrors(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	public := e.createClient(t, obj{"name": uniq("spa"), "app_type": "spa", "callbacks": []string{"https://spa.example/cb"}})
	plain := e.createClient(t, obj{"name": uniq("tv"), "app_type": "native", "callbacks": []string{"https://tv.example/cb"}, "allow_pkce_plain": true})
	m2m := e.createClient(t, obj{"name": uniq("m2m"), "app_type": "non_interactive", "callbacks": []string{callback}})
	b := e.browser(t)

	// Errors that cannot go back to the client are shown on a page.
	for _, tc := range []struct {
		name   string
		query  string
		status int
		msg    string
	}{
		{"no client_id", "response_type=code", 400, "Missing required parameter: client_id"},
		{"unknown client", "client_id=nope&redirect_uri=" + url.QueryEscape(callback), 400, "Unknown client: nope"},
		{"unregistered redirect_uri", "client_id=" + fx.clientID + "&redirect_uri=" + url.QueryEscape("https://evil.example/callback"), 400, "not in the Allowed Callback URLs"},
		{"redirect_uri with a different path", "client_id=" + fx.clientID + "&redirect_uri=" + url.QueryEscape(callback+"/x"), 400, "not in the Allowed Callback URLs"},
		{"repeated redirect_uri", "client_id=" + fx.clientID + "&redirect_uri=" + url.QueryEscape(callback) + "&redirect_uri=" + url.QueryEscape(callback), 400, "The parameter redirect_uri is repeated."},
	} {
		// OpenID Connect Core section 3.1.2.1: POST, form-encoded, is
		// answered as GET is.
		for _, method := range []string{"GET", "POST"} {
			t.Run(method+" "+tc.name, func(t *testing.T) {
				var p page
				if method == "GET" {
					p = b.send("GET", "/authorize?"+tc.query, nil)
				} else {
					form, err := url.ParseQuery(tc.query)
					if err != nil {
						t.Fatal(err)
					}
					p = b.send("POST", "/authorize", form)
				}
				if p.status != tc.status || p.location != nil || !strings.Contains(p.message(), tc.msg) {
					t.Errorf("got %d %q (Location %v), want %d %q", p.status, p.message(), p.location, tc.status, tc.msg)
				}
				if p.header.Get("X-Frame-Options") != "DENY" {
					t.Error("the error page may be framed")
				}
			})
		}
	}
	// The single registered callback stands in for a missing redirect_uri.
	wantLoginPage(t, b.authorize(fx.params("redirect_uri", "")))
	wantLoginPage(t, b.send("POST", "/authorize", fx.params("redirect_uri", "")))

	// The others go back to the redirect URI.
	for _, tc := range []struct {
		name        string
		params      url.Values
		redirectURI string
		code, desc  string
	}{
		{"response_type none", fx.params("response_type", "none"), callback, "unsupported_response_type", "use code, id_token or code id_token"},
		{"no response_type", fx.params("response_type", ""), callback, "invalid_request", "Missing required parameter: response_type"},
		{"response_mode web_message", fx.params("response_mode", "web_message"), callback, "invalid_request", "Unsupported response_mode"},
		{"request object", fx.params("request", "eyJhbGciOiJub25lIn0.e30."), callback, "request_not_supported", "not supported"},
		{"pushed request", fx.params("request_uri", "urn:ietf:params:oauth:request_uri:x"), callback, "request_uri_not_supported", "not supported"},
		{"client without the code grant", fx.params("client_id", m2m.ClientID), callback, "unauthorized_client", "Grant type `authorization_code` not allowed for the client."},
		{"unknown audience", fx.params("audience", "https://nowhere.example"), callback, "access_denied", "Service not found: https://nowhere.example"},
		{"the Management API", fx.params("audience", e.mgmtAudience()), callback, "access_denied", "Management API"},
		{"bad scope characters", fx.params("scope", "openid \"x\""), callback, "invalid_scope", "RFC 6749"},
		{"unknown prompt", fx.params("prompt", "select_account"), callback, "invalid_request", "Unsupported prompt"},
		{"bad max_age", fx.params("max_age", "-1"), callback, "invalid_request", "max_age"},
		{"short code_challenge", fx.params("code_challenge", "abc"), callback, "invalid_request", "43 to 128"},
		{"unknown PKCE method", fx.params("code_challenge_method", "S512"), callback, "invalid_request", "Unsupported code_challenge_method"},
		{"method without challenge", fx.params("code_challenge", ""), callback, "invalid_request", "without code_challenge"},
		{"plain refused", fx.params("code_challenge_method", "plain"), callback, "invalid_request", "plain is not allowed"},
		{"public client without PKCE", url.Values{"client_id": {public.ClientID}, "redirect_uri": {"https://spa.example/cb"}, "response_type": {"code"}, "state": {"st-1"}}, "https://spa.example/cb", "invalid_request", "public client must use PKCE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAuthorizeError(t, e, b.authorize(tc.params), tc.redirectURI, tc.code, tc.desc)
		})
		t.Run("POST "+tc.name, func(t *testing.T) {
			wantAuthorizeError(t, e, b.send("POST", "/authorize", tc.params), tc.redirectURI, tc.code, tc.desc)
		})
	}
	// A client that allows plain may use it.
	wantLoginPage(t, b.authorize(url.Values{"client_id": {plain.ClientID}, "redirect_uri": {"https://tv.example/cb"}, "response_type": {"code"},
		"code_challenge": {verifier}, "code_challenge_method": {"plain"}}))
	// Confidential clients may leave PKCE out.
	wantLoginPage(t, b.authorize(fx.params("code_challenge", "", "code_challenge_method", "")))
}

// OpenID Connect Core section 3.1.2.1: the authorization endpoint takes
// POST, form-encoded, as it takes GET; a whole sign-in starts with it.
func TestAuthorizeWithPost(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)

	p := b.send("POST", "/authorize", fx.params("audience", fx.api, "scope", "openid profile create:events"))
	wantLoginPage(t, p)
	q := wantRedirect(t, b.login(p, fx.email, userPassword), callback)
	if q.Get("state") != "st-1" || q.Get("iss") != e.issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %v", q)
	}
	r := fx.exchange(t, e, q.Get("code"))
	tok := wantTokens(t, r)
	claims, err := e.verify(t, tok.AccessToken, fx.api)
	if err != nil || claims["sub"] != fx.userID || claims["scope"] != "openid profile create:events" {
		t.Errorf("access token from a sign-in started with POST: %v %v", claims, err)
	}
	// The session answers the next POST at once, as it answers a GET.
	if q := wantRedirect(t, b.send("POST", "/authorize", fx.params("prompt", "none")), callback); q.Get("code") == "" {
		t.Errorf("prompt=none with a session: %v", q)
	}
	// Parameters may be split between the query and the body, but none
	// may be in both.
	split := fx.params()
	split.Del("client_id")
	if q := wantRedirect(t, b.send("POST", "/authorize?client_id="+url.QueryEscape(fx.clientID), split), callback); q.Get("code") == "" {
		t.Errorf("client_id in the query, the rest in the body: %v", q)
	}

	for _, tc := range []struct {
		name        string
		query       string
		contentType string // default form
		body        string
		status      int
		msg         string
		allow       string
	}{
		{name: "client_id in the query and the body", query: "?client_id=" + url.QueryEscape(fx.clientID), body: fx.params().Encode(),
			status: 400, msg: "The parameter client_id is repeated."},
		{name: "state in the query and the body", query: "?state=other", body: fx.params().Encode(),
			status: 400, msg: "The parameter state is repeated."},
		{name: "JSON body", contentType: "application/json", body: `{"client_id":"` + fx.clientID + `"}`,
			status: 415, msg: "The authorization endpoint takes a form (application/x-www-form-urlencoded)."},
		{name: "no Content-Type", contentType: "-", body: fx.params().Encode(),
			status: 415, msg: "The authorization endpoint takes a form (application/x-www-form-urlencoded)."},
		{name: "malformed form", body: fx.params().Encode() + "&%zz", status: 400, msg: "The request body is not a valid form."},
		{name: "body over 64 KiB", body: fx.params().Encode() + "&pad=" + strings.Repeat("a", 64<<10), status: 413,
			msg: "The request body is larger than 65536 bytes."},
		{name: "PUT", query: "?" + fx.params().Encode(), status: 405, msg: "The authorization endpoint accepts only GET and POST.", allow: "GET, HEAD, POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			if tc.allow != "" {
				method = "PUT"
			}
			req, err := http.NewRequestWithContext(t.Context(), method, e.ts.URL+"/authorize"+tc.query, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			switch tc.contentType {
			case "":
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "-":
			default:
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := b.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			p := page{status: resp.StatusCode, header: resp.Header, body: string(data)}
			if p.status != tc.status || resp.Header.Get("Location") != "" || p.message() != tc.msg {
				t.Errorf("got %d %q (Location %q), want %d %q", p.status, p.message(), resp.Header.Get("Location"), tc.status, tc.msg)
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestLoginFailuresAndLockout(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)
	p := b.authorize(fx.params())
	wantLoginPage(t, p)

	// Without the CSRF token (another site's form), nothing is checked.
	forged := b.send("POST", "/u/login?"+fx.params().Encode(), url.Values{"username": {fx.email}, "password": {userPassword}})
	if forged.status != http.StatusForbidden || forged.location != nil {
		t.Errorf("login without the CSRF token: %s", forged)
	}
	// Wrong password and unknown address read the same.
	for _, email := range []string{fx.email, "nobody@example.com"} {
		r := b.login(p, email, "wrong password!")
		if r.status != http.StatusUnauthorized || r.message() != "Wrong email or password." {
			t.Errorf("wrong credentials for %s: %d %q", email, r.status, r.message())
		}
		if strings.Contains(r.body, "wrong password!") {
			t.Error("the page echoes the password")
		}
	}
	// Ten failures in all lock the account from this address; the right
	// password does not get through either.
	for range 9 {
		b.login(p, fx.email, "wrong password!")
	}
	locked := b.login(p, fx.email, userPassword)
	if locked.status != http.StatusTooManyRequests || locked.message() != "Your account has been blocked after multiple consecutive login attempts. Try again in 15 minutes." {
		t.Fatalf("after 10 failures: %d %q", locked.status, locked.message())
	}
	// Another account from the same address is not locked.
	other := e.newSigninFixture(t, nil)
	ob := e.browser(t)
	wantRedirect(t, ob.login(ob.authorize(other.params()), other.email, userPassword), callback)
	// The lock-out ends with its window; success then clears the count.
	e.skew.Store(int64(16 * time.Minute))
	wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)

	// A blocked user is told so, but only with the right password.
	e.must(t, "PATCH", "users/"+url.PathEscape(fx.userID), obj{"blocked": true}, http.StatusOK, nil)
	fresh := e.browser(t)
	r := fresh.login(fresh.authorize(fx.params()), fx.email, userPassword)
	if r.status != http.StatusForbidden || r.message() != "This account is blocked. Contact the administrator." {
		t.Errorf("blocked user: %d %q", r.status, r.message())
	}
	// A session of a user blocked since then no longer signs in.
	wantLoginPage(t, b.authorize(fx.params()))
}

func TestLoginLockoutPerIP(t *testing.T) {
	// Without the rate limit, which would refuse most of the attempts
	// before their passwords are checked.
	e := newEnvWith(t, func(cfg *authserver.Config) { cfg.RateLimits.LoginPerIP = authserver.RateLimitOff })
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)
	p := b.authorize(fx.params())
	// 100 failures from one address, each for another account, lock the
	// address out for every account.
	for i := range 100 {
		b.login(p, uniq("guess")+"@example.com", "wrong password!")
		if t.Failed() {
			t.Fatalf("failure %d", i)
		}
	}
	r := b.login(p, fx.email, userPassword)
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.message(), "Too many failed sign-ins from your network") {
		t.Errorf("after 100 failures from one address: %d %q", r.status, r.message())
	}
}

func TestConsent(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, obj{"is_first_party": false})
	b := e.browser(t)
	params := fx.params("audience", fx.api, "scope", "openid email create:events read:events")

	consent := b.login(b.authorize(params), fx.email, userPassword)
	if consent.status != http.StatusOK || !strings.Contains(consent.body, `value="accept"`) {
		t.Fatalf("a third-party client must ask for consent, got %s", consent)
	}
	for _, want := range []string{"openid", "email", "create:events", "may create:events", fx.email} {
		if !strings.Contains(consent.body, want) {
			t.Errorf("the consent page does not list %q", want)
		}
	}
	if strings.Contains(consent.body, "read:events") {
		t.Error("the consent page lists a scope RBAC does not grant")
	}
	wantAuthorizeError(t, e, b.submit(consent, url.Values{"action": {"deny"}}), callback, "access_denied", "User did not authorize the request")
	// prompt=none while consent is missing.
	wantAuthorizeError(t, e, b.authorize(url.Values(mergeParams(params, "prompt", "none"))), callback, "consent_required", "not consented")

	q := wantRedirect(t, b.submit(b.authorize(params), url.Values{"action": {"accept"}}), callback)
	if q.Get("code") == "" {
		t.Fatalf("consent accepted: %v", q)
	}
	// Consent given is remembered; prompt=consent asks again; more
	// scopes ask again.
	wantRedirect(t, b.authorize(params), callback)
	if p := b.authorize(mergeParams(params, "prompt", "consent")); !strings.Contains(p.body, `value="accept"`) {
		t.Errorf("prompt=consent: %s", p)
	}
	if p := b.authorize(mergeParams(params, "scope", "openid email profile create:events")); !strings.Contains(p.body, `value="accept"`) {
		t.Errorf("a new scope: %s", p)
	}
	// The consent form posted from another browser (without the CSRF
	// cookie) is refused.
	p := e.browser(t).submit(consent, url.Values{"action": {"accept"}})
	if p.status != http.StatusForbidden || p.location != nil {
		t.Errorf("a consent form posted from another browser: %s", p)
	}
}

func mergeParams(q url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// First-party clients skip consent for APIs that allow it, but not on
// localhost callbacks (not verifiable), nor for APIs that do not.
func TestFirstPartyConsent(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, obj{"callbacks": []string{callback, "http://localhost:3000/cb"}})
	strict := newAudience("strict")
	e.createAPI(t, strict, []string{"read:x"}, nil)
	b := e.browser(t)
	wantRedirect(t, b.login(b.authorize(fx.params("audience", fx.api, "scope", "openid create:events")), fx.email, userPassword), callback)
	for _, tc := range []struct {
		name   string
		params url.Values
	}{
		{"localhost callback", fx.params("audience", fx.api, "scope", "openid create:events", "redirect_uri", "http://localhost:3000/cb")},
		{"API that does not skip consent", fx.params("audience", strict, "scope", "openid read:x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p := b.authorize(tc.params); !strings.Contains(p.body, `value="accept"`) {
				t.Errorf("want the consent page, got %s", p)
			}
		})
	}
	// OpenID Connect scopes alone never ask a first-party client.
	wantRedirect(t, b.authorize(fx.params("redirect_uri", "http://localhost:3000/cb")), "http://localhost:3000/cb")
}

func TestFormPostResponseMode(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)
	p := b.login(b.authorize(fx.params("response_mode", "form_post")), fx.email, userPassword)
	if p.status != http.StatusOK || !strings.Contains(p.body, `action="`+callback+`"`) || !strings.Contains(p.body, `name="code"`) || !strings.Contains(p.body, `name="state" value="st-1"`) {
		t.Fatalf("form_post response: %s", p)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example") {
		t.Errorf("form_post CSP %q must allow posting to the client", csp)
	}
}

// Logout checks where it sends the user afterwards: an Allowed Logout URL
// of the client, or of the tenant without client_id. (The browser here
// says the requests come from the server's own pages: see logout_test.go
// for requests from other sites.)
func TestLogout(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)
	b.site = "same-origin"
	wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)

	// returnTo must be an Allowed Logout URL of the client; nothing ends
	// otherwise.
	bad := b.send("GET", "/v2/logout?client_id="+fx.clientID+"&returnTo="+url.QueryEscape("https://evil.example/"), nil)
	if bad.status != http.StatusBadRequest || !strings.Contains(bad.message(), "not in the application's Allowed Logout URLs") {
		t.Errorf("logout to an unlisted URL: %s", bad)
	}
	wantRedirect(t, b.authorize(fx.params()), callback)

	wantRedirect(t, b.send("GET", "/v2/logout?client_id="+fx.clientID+"&returnTo="+url.QueryEscape("https://app.example/bye"), nil), "https://app.example/bye")
	wantLoginPage(t, b.authorize(fx.params()))

	// Without client_id, the tenant's Allowed Logout URLs decide.
	if err := tenant.SaveSettings(t.Context(), e.srv.Store(), &tenant.Settings{AllowedLogoutURLs: []string{"https://portal.example/"}}); err != nil {
		t.Fatal(err)
	}
	wantRedirect(t, b.send("GET", "/v2/logout?returnTo="+url.QueryEscape("https://portal.example/"), nil), "https://portal.example/")
	if p := b.send("GET", "/v2/logout?returnTo="+url.QueryEscape("https://app.example/bye"), nil); p.status != http.StatusBadRequest {
		t.Errorf("a client's logout URL without client_id: %s", p)
	}
	if p := b.send("GET", "/v2/logout", nil); p.status != http.StatusOK || !strings.Contains(p.body, "You are signed out.") {
		t.Errorf("logout without returnTo: %s", p)
	}

	// RP-initiated logout goes back with state, to an Allowed Logout URL
	// of the client.
	wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)
	if p := b.send("GET", "/oidc/logout?client_id="+fx.clientID+"&post_logout_redirect_uri="+url.QueryEscape("https://portal.example/"), nil); p.status != http.StatusBadRequest {
		t.Errorf("the tenant's logout URL with client_id: %s", p)
	}
	q := wantRedirect(t, b.send("GET", "/oidc/logout?client_id="+fx.clientID+"&post_logout_redirect_uri="+url.QueryEscape("https://app.example/bye")+"&state=s9", nil), "https://app.example/bye")
	if q.Get("state") != "s9" {
		t.Errorf("state %q after logout", q.Get("state"))
	}
	wantLoginPage(t, b.authorize(fx.params()))
	if p := b.send("GET", "/oidc/logout?id_token_hint=not-a-token", nil); p.status != http.StatusBadRequest {
		t.Errorf("a bad id_token_hint: %s", p)
	}
	if p := b.send("PUT", "/v2/logout", nil); p.status != http.StatusMethodNotAllowed || p.header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("PUT /v2/logout: %s (Allow %q)", p, p.header.Get("Allow"))
	}
}

func TestSessionLifetimes(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	if err := tenant.SaveSettings(t.Context(), e.srv.Store(), &tenant.Settings{SessionLifetime: 10, IdleSessionLifetime: 1}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)
	// Used every 50 minutes, the session lives on past its idle timeout...
	for i := 1; i <= 3; i++ {
		e.skew.Store(int64(time.Duration(i) * 50 * time.Minute))
		wantRedirect(t, b.authorize(fx.params()), callback)
	}
	// ... but not 61 minutes unused, nor past its absolute lifetime.
	e.skew.Store(int64(150*time.Minute + 61*time.Minute))
	wantLoginPage(t, b.authorize(fx.params()))
	wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)
	for i := 1; i <= 12; i++ {
		e.skew.Store(int64(211*time.Minute + time.Duration(i)*50*time.Minute))
		p := b.authorize(fx.params())
		if i*50 >= 600 {
			wantLoginPage(t, p)
		} else {
			wantRedirect(t, p, callback)
		}
	}
}

func TestBrandingOnLoginPage(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	ctx := t.Context()
	if err := tenant.SaveSettings(ctx, e.srv.Store(), &tenant.Settings{FriendlyName: "Acme <Corp>"}); err != nil {
		t.Fatal(err)
	}
	if err := tenant.SaveBranding(ctx, e.srv.Store(), &tenant.Branding{LogoURL: "https://cdn.acme.example/logo.png", Colors: &tenant.Colors{Primary: "#0059d6"}}); err != nil {
		t.Fatal(err)
	}
	p := e.browser(t).authorize(fx.params())
	for _, want := range []string{"Acme &lt;Corp&gt;", `src="https://cdn.acme.example/logo.png"`, "--primary: #0059d6"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the login page lacks %q", want)
		}
	}
	// A colour that is not one is never written into the CSS.
	if err := tenant.SaveBranding(ctx, e.srv.Store(), &tenant.Branding{Colors: &tenant.Colors{Primary: "red;}body{display:none"}}); err != nil {
		t.Fatal(err)
	}
	if p := e.browser(t).authorize(fx.params()); strings.Contains(p.body, "display:none") {
		t.Error("branding injected CSS")
	}
}

// exchange redeems a code of the fixture's client (code_verifier verifier).
func (fx signinFixture) exchange(t *testing.T, e *env, code string) reply {
	t.Helper()
	return e.post(t, "oauth/token", nil, "grant_type", "authorization_code", "client_id", fx.clientID, "client_secret", fx.clientSecret,
		"code", code, "redirect_uri", callback, "code_verifier", verifier)
}

// The API's user access policy applies to every user flow: at the
// authorization request, at the code exchange and at each refresh.
func TestUserAccessPolicies(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	setPolicy := func(policy string) {
		e.must(t, "PATCH", "resource-servers/"+url.PathEscape(fx.api), obj{"subject_type_authorization": obj{
			"user": obj{"policy": policy}, "client": obj{"policy": "require_client_grant"},
		}}, http.StatusOK, nil)
	}
	params := fx.params("audience", fx.api, "scope", "openid offline_access create:events read:events update:events")
	b := e.browser(t)
	wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)

	// require_client_grant: no user grant, no token.
	setPolicy("require_client_grant")
	wantAuthorizeError(t, e, b.authorize(params), callback, "access_denied", "subject_type user")
	// A client grant of subject_type client does not count.
	e.grant(t, fx.clientID, fx.api, "create:events")
	wantAuthorizeError(t, e, b.authorize(params), callback, "access_denied", "subject_type user")
	// A user grant is the ceiling, within the user's permissions (RBAC).
	e.must(t, "POST", "client-grants", obj{"client_id": fx.clientID, "audience": fx.api, "scope": []string{"create:events", "read:events"}, "subject_type": "user"}, http.StatusCreated, nil)
	q := wantRedirect(t, b.authorize(params), callback)
	tok := fx.exchange(t, e, q.Get("code"))
	if tok.status != http.StatusOK || tok.object(t)["scope"] != "openid offline_access create:events" {
		t.Fatalf("under require_client_grant: %s", tok)
	}
	refresh := tok.object(t)["refresh_token"].(string)

	// deny_all refuses the authorization, a pending code and refreshes.
	pending := wantRedirect(t, b.authorize(params), callback).Get("code")
	setPolicy("deny_all")
	wantAuthorizeError(t, e, b.authorize(params), callback, "access_denied", "denied by the API's access policy")
	if r := fx.exchange(t, e, pending); r.status != http.StatusForbidden || r.object(t)["error"] != "access_denied" {
		t.Errorf("exchanging a code under deny_all: %s", r)
	}
	r := e.post(t, "oauth/token", nil, "grant_type", "refresh_token", "client_id", fx.clientID, "client_secret", fx.clientSecret, "refresh_token", refresh)
	if r.status != http.StatusForbidden || r.object(t)["error"] != "access_denied" {
		t.Errorf("refreshing under deny_all: %s", r)
	}
}

// A session whose user was blocked since signs in to no client, and
// prompt=none then answers login_required, as for no session, rather than
// showing the login page that prompt=none forbids.
func TestSessionOfABlockedUserAtAnotherClient(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)
	wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)
	other := fx
	creds := e.createClient(t, obj{"name": uniq("other"), "app_type": "regular_web", "callbacks": []string{callback}})
	other.clientID, other.clientSecret = creds.ClientID, creds.ClientSecret
	b.wantSignedIn(other, "signing in at the first client")

	e.must(t, "PATCH", "users/"+url.PathEscape(fx.userID), obj{"blocked": true}, http.StatusOK, nil)
	b.wantSignedOut(other)
	wantLoginPage(t, b.authorize(fx.params()))
}
