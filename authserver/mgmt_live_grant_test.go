package authserver_test

import (
	"net/http"
	"testing"
)

// TestManagementGrantReadLive checks that the Management API reads the
// caller's client grant on every request: removing a scope from it, or
// deleting it, stops a token issued before, where Auth0 lets it run until
// it expires.
func TestManagementGrantReadLive(t *testing.T) {
	e := newEnv(t)
	operator := e.createClient(t, obj{"name": "operator", "app_type": "non_interactive"})
	grantID := e.grant(t, operator.ClientID, e.mgmtAudience(), "read:clients", "read:resource_servers")
	tok := e.token(t, operator, e.mgmtAudience()).AccessToken
	call := func(path string) reply {
		t.Helper()
		return e.do(t, request{method: "GET", path: "api/v2/" + path, auth: "Bearer " + tok})
	}
	if r := call("clients"); r.status != http.StatusOK {
		t.Fatalf("GET clients with a fresh token: %s", r)
	}
	e.must(t, "PATCH", "client-grants/"+grantID, obj{"scope": []string{"read:resource_servers"}}, http.StatusOK, nil)
	wantMgmtError(t, call("clients"), 403, "insufficient_scope", "no longer allows read:clients")
	if r := call("resource-servers"); r.status != http.StatusOK {
		t.Fatalf("GET resource-servers, still granted: %s", r)
	}
	e.must(t, "DELETE", "client-grants/"+grantID, nil, http.StatusNoContent, nil)
	wantMgmtError(t, call("resource-servers"), 403, "insufficient_scope", "no longer allows read:resource_servers")
}
