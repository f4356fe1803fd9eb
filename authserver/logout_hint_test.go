package authserver_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver/access"
)

// An access token is no id_token_hint, even one whose audience is an API
// whose identifier is also a client's ID (stored before the Management API
// refused such identifiers) and whose subject is the
// signed-in user: it went to the API, which is not the client, so it does
// not show that the client asks for the logout.
func TestLogoutHintMustBeAnIDToken(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	// The Management API now refuses such an API; one stored before it
	// did is still there.
	api := &access.ResourceServer{ID: "named-after-a-client", Identifier: fx.clientID, Scopes: []access.Scope{{Value: "read:things"}}, SkipConsent: true}
	api.ApplyDefaults()
	if err := e.store.CreateResourceServer(t.Context(), api); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)
	// Without openid, the access token's only audience is the API.
	q := wantRedirect(t, b.authorize(fx.params("prompt", "none", "scope", "read:things", "audience", fx.clientID, "nonce", "")), callback)
	var tokens struct {
		AccessToken string `json:"access_token"`
	}
	if r := fx.exchange(t, e, q.Get("code")); r.status != http.StatusOK {
		t.Fatalf("code exchange: %s", r)
	} else {
		r.decode(t, &tokens)
	}

	b.site = "cross-site"
	p := b.send("GET", "/oidc/logout?id_token_hint="+tokens.AccessToken+"&post_logout_redirect_uri="+url.QueryEscape("https://app.example/bye"), nil)
	if p.status != http.StatusBadRequest {
		t.Errorf("an access token as id_token_hint: %s", p)
	}
	b.wantSignedIn(fx, "an access token as id_token_hint")
}
