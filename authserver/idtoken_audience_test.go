package authserver_test

import (
	"net/http"
	"testing"
)

// An ID token's audience is its client's client_id, and it is signed like
// an access token (typ JWT, the same keys). An API whose identifier were
// a client_id would therefore take that client's ID tokens, which the
// authorization endpoint now sends through the browser, as access tokens.
func TestIDTokenIsNoAccessToken(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)
	idToken := wantFragment(t, b.login(b.authorize(fx.idTokenParams()), fx.email, userPassword), callback).Get("id_token")
	if idToken == "" {
		t.Fatal("no ID token")
	}

	// Neither /userinfo nor the Management API takes it.
	if r := e.do(t, request{method: "GET", path: "userinfo", auth: "Bearer " + idToken}); r.status != http.StatusUnauthorized {
		t.Errorf("/userinfo with an ID token: %s, want 401", r)
	}
	if r := e.do(t, request{method: "GET", path: "api/v2/clients", auth: "Bearer " + idToken}); r.status != http.StatusUnauthorized {
		t.Errorf("Management API with an ID token: %s, want 401", r)
	}

	// No API can be given a client's client_id as its identifier.
	r := e.mgmt(t, "POST", "resource-servers", obj{"identifier": fx.clientID, "name": uniq("api")})
	wantMgmtError(t, r, http.StatusConflict, "conflict", "client_id")
	e.must(t, "GET", "resource-servers/"+fx.clientID, nil, http.StatusNotFound, nil)
}
