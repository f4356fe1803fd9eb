package bearerauth_test

import (
	"strings"
	"testing"
)

// TestIdentityHeaders: identity_headers chooses which X-Portcullis-
// headers reach the upstream (in any order it is listed), or none; spoofed
// ones are deleted either way, and the placeholders keep answering, the
// same for the token's first request (verified) and the next (cached).
func TestIdentityHeaders(t *testing.T) {
	e := startEdge(t)
	worker := e.embedded.m2m(t, "identity-headers", ordersAPI, "read:orders", "create:orders")
	tok := e.embedded.token(t, worker, ordersAPI, "read:orders", "create:orders")
	spoofed := []string{"X-Portcullis-Issuer", "https://evil.example/", "X-Portcullis-Decision-Id", "forged", "X-Portcullis-Subject", "admin@clients"}
	portcullisHeaders := func(headers map[string][]string) map[string][]string {
		out := map[string][]string{}
		for name, vs := range headers {
			if strings.HasPrefix(name, "X-Portcullis-") {
				out[name] = vs
			}
		}
		return out
	}
	for _, request := range []string{"first (verified)", "second (cached)"} {
		t.Run("subject and scope, "+request, func(t *testing.T) {
			a := wantAllowed(t, e.request(t, "GET", e.identityURL+"/orders/1", bearer(tok), spoofed...))
			got := portcullisHeaders(a.Headers)
			want := map[string]string{"X-Portcullis-Subject": worker.id + "@clients", "X-Portcullis-Scope": "read:orders create:orders"}
			if len(got) != len(want) {
				t.Errorf("upstream X-Portcullis- headers %q, want only %v", got, want)
			}
			for name, value := range want {
				if vs := got[name]; len(vs) != 1 || vs[0] != value {
					t.Errorf("upstream %s = %q, want %q", name, vs, value)
				}
			}
			placeholders := strings.Join([]string{worker.id + "@clients", worker.id, "read:orders create:orders", e.embedded.issuer, "allowed"}, " ")
			if vs := a.Headers["X-Placeholders"]; len(vs) != 1 || vs[0] != placeholders {
				t.Errorf("placeholders %q, want %q", vs, placeholders)
			}
		})
		t.Run("none, "+request, func(t *testing.T) {
			a := wantAllowed(t, e.request(t, "GET", e.noIdentityURL+"/orders/1", bearer(tok), spoofed...))
			if got := portcullisHeaders(a.Headers); len(got) != 0 {
				t.Errorf("upstream X-Portcullis- headers %q, want none", got)
			}
			if vs := a.Headers["X-Decision-Id"]; len(vs) != 1 || vs[0] == "" || vs[0] == "forged" {
				t.Errorf("{http.auth.bearer.decision_id} = %q, want the decision's id", vs)
			}
		})
	}
}
