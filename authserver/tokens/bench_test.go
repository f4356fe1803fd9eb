package tokens

import (
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/portcullis-gw/portcullis/authserver/access"
)

// BenchmarkVerify verifies an ES256 access token (what bearer_auth does
// for a token it has not cached), step by step: "parse" is Parse and
// Issuer alone, the read that chooses the Verifier; "signature" is the
// ECDSA verification alone, the floor; "verify" is Verify, which parses
// once, checks the header, the signature and the claims.
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
	b.Run("signature", func(b *testing.B) {
		p, err := Parse(tok)
		if err != nil {
			b.Fatal(err)
		}
		key, _ := testRing.PublicKeys().LookupKeyID(signer(b, jwa.ES256).KID)
		signed := []byte(tok[:strings.LastIndexByte(tok, '.')])
		b.ReportAllocs()
		for b.Loop() {
			if err := verifiers[jwa.ES256].Verify(signed, p.signature, key); err != nil {
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
