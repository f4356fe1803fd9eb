package authserver_test

import (
	"net/http"
	"net/url"
	"testing"
)

// An access token is no id_token_hint, even one whose audience is an API
// whose identifier is also a client's ID and whose subject is the
// signed-in user: it went to the API, which is not the client, so it does
// not show that the client asks for the logout.
func TestLogoutHintMustBeAnIDToken(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	e.createAPI(t, fx.clientID, []string{"read:things"}, obj{"skip_consent_for_verifiable_first_party_clients": true})
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
