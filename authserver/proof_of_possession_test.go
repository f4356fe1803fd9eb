package authserver_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
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
