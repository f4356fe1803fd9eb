package tokens

import (
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/portcullis-gw/portcullis/authserver/access"
)

// BenchmarkVerify verifies an ES256 access token (what bearer_auth does
// for a token it has not cached): "parse" is Parse and Issuer alone, the
// read that chooses the Verifier; "verify" is Verify, which parses once
// and verifies.
func BenchmarkVerify(b *testing.B) {
	tok := issue(b, jwa.ES256, access.DialectAuth0, now)
	v := verifier(now)
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := Parse(tok)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Issuer(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(b.Context(), tok, audience); err != nil {
				b.Fatal(err)
			}
		}
	})
}
