package authz

import (
	"net/http"
	"testing"

	"github.com/portcullis-gw/portcullis/policies"
)

// BenchmarkDecide evaluates the default policy for an allowed M2M request.
func BenchmarkDecide(b *testing.B) {
	p, err := Load(b.Context(), policies.Default, "policies")
	if err != nil {
		b.Fatal(err)
	}
	in := input()
	in.Request.Header = http.Header{"Accept": {"*/*"}, "User-Agent": {"bench"}, "X-Forwarded-For": {"127.0.0.1"}, "Accept-Encoding": {"gzip"}}
	in.ClientGrant = &Grant{ID: "cgr_1", ClientID: "c1", Audience: "api", Scopes: []string{"read:orders"}}
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.Decide(b.Context(), in)
		if err != nil || !d.Allow {
			b.Fatal(d, err)
		}
	}
}
