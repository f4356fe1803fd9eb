package authz

import (
	"net/http"
	"testing"

	"github.com/portcullis-gw/portcullis/policies"
)

// BenchmarkDecide decides an allowed M2M request with the default policy:
// "memo hit" answers a request decided before from the token's recent
// decisions, as for every repeat of a token, method, path and host;
// "new token, shape seen" answers it for a token seen for the first time
// from the decisions of an earlier token alike in all the policy reads (the
// same client's next token); "evaluation" evaluates the policy every time,
// as for a request seen first or a policy that reads request headers and
// so remembers nothing.
func BenchmarkDecide(b *testing.B) {
	in := input()
	in.Request.Header = http.Header{"Accept": {"*/*"}, "User-Agent": {"bench"}, "X-Forwarded-For": {"127.0.0.1"}, "Accept-Encoding": {"gzip"}}
	in.ClientGrant = &Grant{ID: "cgr_1", ClientID: "c1", Audience: "api", Scopes: []string{"read:orders"}}
	decide := func(b *testing.B, p *Policy) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := p.Decide(b.Context(), in)
			if err != nil || !d.Allow {
				b.Fatal(d, err)
			}
		}
	}
	b.Run("memo hit", func(b *testing.B) {
		p := loadDefault(b)
		if !p.memoizable {
			b.Fatal("the default policy is not memoizable")
		}
		decide(b, p)
	})
	b.Run("new token, shape seen", func(b *testing.B) {
		p := loadDefault(b)
		if p.shared == nil {
			b.Fatal("the default policy does not share decisions by token shape")
		}
		fresh := make([]*Token, b.N) // as bearer_auth makes one per token it verifies
		for i := range fresh {
			fresh[i] = input().Token
		}
		i := 0
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			in.Token = fresh[i]
			i++
			if d, err := p.Decide(b.Context(), in); err != nil || !d.Allow {
				b.Fatal(d, err)
			}
		}
	})
	b.Run("evaluation", func(b *testing.B) {
		p := loadDefault(b)
		p.memoizable = false
		decide(b, p)
	})
}

func loadDefault(b *testing.B) *Policy {
	b.Helper()
	p, err := Load(b.Context(), policies.Default, "policies")
	if err != nil {
		b.Fatal(err)
	}
	return p
}
