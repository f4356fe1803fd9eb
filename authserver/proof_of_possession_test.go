package authserver_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwt"
	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
)

// TestProofOfPossessionSettings covers the Management API side of RFC 8705
// binding: Auth0's proof_of_possession on APIs (mtls only, cleared with
// null) and require_proof_of_possession on clients.
func TestProofOfPossessionSettings(t *testing.T) {
	e := newEnv(t)
	aud := newAudience("pop")
	var rs map[string]any
	e.must(t, "POST", "resource-servers", obj{"identifier": aud, "proof_of_possession": obj{"mechanism": "mtls", "required": true}}, http.StatusCreated, &rs)
	if pop, _ := rs["proof_of_possession"].(map[string]any); pop["mechanism"] != "mtls" || pop["required"] != true {
		t.Fatalf("proof_of_possession = %v", rs["proof_of_possession"])
	}
	id := rs["id"].(string)
	wantMgmtError(t, e.mgmt(t, "PATCH", "resource-servers/"+id, obj{"proof_of_possession": obj{"mechanism": "dpop", "required": true}}), 400, "invalid_body", "dpop is not supported")
	wantMgmtError(t, e.mgmt(t, "PATCH", "resource-servers/"+id, obj{"proof_of_possession": obj{"mechanism": "mtls", "bogus": 1}}), 400, "invalid_body", "bogus")
	e.must(t, "PATCH", "resource-servers/"+id, obj{"proof_of_possession": nil}, http.StatusOK, &rs)
	if rs["proof_of_possession"] != nil {
		t.Fatalf("proof_of_possession after null = %v", rs["proof_of_possession"])
	}

	// A client that requires binding gets no token without a certificate
	// (the test server asks for none), and a clear error.
	c := e.createClient(t, obj{"name": "bound", "app_type": "non_interactive", "require_proof_of_possession": true})
	e.grant(t, c.ClientID, aud)
	if _, err := e.fetchToken(t, c, oauth2.AuthStyleInParams, aud); err == nil || !strings.Contains(err.Error(), "Certificate-bound tokens are required") {
		t.Fatalf("a client requiring proof of possession, without a certificate: %v", err)
	}
	var got map[string]any
	e.must(t, "GET", "clients/"+c.ClientID, nil, http.StatusOK, &got)
	if got["require_proof_of_possession"] != true {
		t.Fatalf("require_proof_of_possession = %v", got["require_proof_of_possession"])
	}
}

// viaCert is an HTTP client of e's server that presents cert in the TLS
// handshake.
func (e *env) viaCert(cert *clientcerttest.Cert) *http.Client {
	tr := e.ts.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{cert.TLS()}
	return &http.Client{Transport: tr}
}

// cnfOf returns the x5t#S256 confirmation of an access token for the API
// audience, verified with the JWKS.
func (e *env) cnfOf(t *testing.T, token, audience string) string {
	t.Helper()
	cnf, _ := e.parse(t, token, jwt.WithAudience(audience))["cnf"].(map[string]any)
	x5t, _ := cnf["x5t#S256"].(string)
	return x5t
}

// TestRefreshTokenCertificateBinding: a public client's refresh token is
// bound to the certificate of the exchange that issued it (RFC 8705
// section 4). Refreshing over mTLS with another certificate, or none, is
// invalid_grant, issues nothing and spends nothing; with the same
// certificate it works, the new access token is bound to it, and so is
// the successor. A confidential client's refresh token is bound by the
// client's authentication instead: its access tokens follow the
// certificate of each request.
func TestRefreshTokenCertificateBinding(t *testing.T) {
	t.Parallel()
	e := newEnvFrom(t, envSetup{clientCerts: true})
	f := newFlowsOn(t, e)
	a, b := selfSigned(t, "device A"), selfSigned(t, "device B")
	viaA, viaB := e.viaCert(a), e.viaCert(b)
	post := func(t *testing.T, c *http.Client, kv ...string) reply {
		t.Helper()
		return e.sendWith(t, c, e.formRequest(t, "oauth/token", nil, kv...))
	}
	const bound = "The refresh token is bound to another client certificate (RFC 8705 section 4)."

	t.Run("public client", func(t *testing.T) {
		id := e.createClient(t, obj{"name": "bound-spa", "app_type": "spa", "callbacks": []string{spaCallback}, "require_proof_of_possession": true}).ClientID
		code := f.code(t, func(c *sessions.AuthorizationCode) { c.ClientID = id })
		tok := wantTokens(t, post(t, viaA, f.exchangeForm(code, "client_id", id)...))
		if got := e.cnfOf(t, tok.AccessToken, f.api); got != thumbprint(a) {
			t.Fatalf("exchange with A: cnf %q, want A's thumbprint", got)
		}
		for name, c := range map[string]*http.Client{"another certificate": viaB, "no certificate": e.ts.Client()} {
			r := post(t, c, refreshForm(id, tok.RefreshToken)...)
			wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant", bound)
			if hasKey(r.object(t), "access_token") {
				t.Errorf("refresh with %s issued a token", name)
			}
		}
		next := wantTokens(t, post(t, viaA, refreshForm(id, tok.RefreshToken)...))
		if got := e.cnfOf(t, next.AccessToken, f.api); got != thumbprint(a) {
			t.Fatalf("refresh with A: cnf %q, want A's thumbprint", got)
		}
		wantOAuthError(t, post(t, viaB, refreshForm(id, next.RefreshToken)...), http.StatusBadRequest, "invalid_grant", bound)
		wantTokens(t, post(t, viaA, refreshForm(id, next.RefreshToken)...))
	})

	t.Run("confidential client", func(t *testing.T) {
		web := e.createClient(t, obj{"name": "bound-web", "app_type": "regular_web", "callbacks": []string{webCallback}, "require_proof_of_possession": true})
		code := f.code(t, func(c *sessions.AuthorizationCode) { c.ClientID, c.RedirectURI = web.ClientID, webCallback })
		auth := []string{"client_id", web.ClientID, "client_secret", web.ClientSecret}
		tok := wantTokens(t, post(t, viaA, f.exchangeForm(code, append(auth, "redirect_uri", webCallback)...)...))
		next := wantTokens(t, post(t, viaB, refreshForm(web.ClientID, tok.RefreshToken, auth[2:]...)...))
		if got := e.cnfOf(t, next.AccessToken, f.api); got != thumbprint(b) {
			t.Fatalf("confidential refresh with B: cnf %q, want B's thumbprint", got)
		}
	})
}
