package tokens

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/keys"
)

// staticKeys is a KeySource of fixed keys.
type staticKeys struct{ set jwk.Set }

func (s staticKeys) PublicKeys() jwk.Set { return s.set }

// TestIssuedTokensVerifyEverywhere signs with each algorithm under a kid
// that JSON must escape, and verifies the token with this package's
// verifier, jwx (jws and jwt), go-jose and go-oidc: each must accept it,
// read the same kid and typ, and see exactly alg, kid and typ in the
// protected header, which must be the header jws.Sign writes for them.
func TestIssuedTokensVerifyEverywhere(t *testing.T) {
	const kid = "k\"\\<&>\u2028\u00e9/1"
	for _, alg := range keys.Algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			s := signer(t, alg)
			s.KID = kid
			pub, err := jwk.FromRaw(s.Key.Public())
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: alg, jwk.KeyUsageKey: "sig"} {
				if err := pub.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			set := jwk.NewSet()
			if err := set.AddKey(pub); err != nil {
				t.Fatal(err)
			}
			tok, _, err := Issue(s, AccessToken{
				Issuer: issuer, Subject: "c1@clients", Audience: []string{audience}, ClientID: "c1",
				GrantType: GTYClientCC, Scopes: []string{"read:a"}, IssuedAt: now, Lifetime: time.Hour, Dialect: access.DialectRFC9068,
			})
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok, ".")
			if len(parts) != 3 || strings.ContainsAny(tok, "=+/ \n") {
				t.Fatalf("not a compact JWS in unpadded base64url: %q", tok)
			}
			rawHeader, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
			if err != nil {
				t.Fatal(err)
			}
			var hdr map[string]any
			dec := json.NewDecoder(bytes.NewReader(rawHeader))
			if err := dec.Decode(&hdr); err != nil || dec.More() {
				t.Fatalf("header %s: %v", rawHeader, err)
			}
			if len(hdr) != 3 || hdr["alg"] != alg.String() || hdr["kid"] != kid || hdr["typ"] != "at+jwt" {
				t.Fatalf("header = %s", rawHeader)
			}

			// The same header, as jwx would have written it for jws.Sign.
			want := jws.NewHeaders()
			for k, v := range map[string]any{jws.AlgorithmKey: alg, jws.KeyIDKey: kid, jws.TypeKey: "at+jwt"} {
				if err := want.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			wantRaw, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			var wantHdr map[string]any
			if err := json.Unmarshal(wantRaw, &wantHdr); err != nil {
				t.Fatal(err)
			}
			if !equalJSON(hdr, wantHdr) {
				t.Errorf("header %s, jws.Sign's %s", rawHeader, wantRaw)
			}

			// This package's verifier.
			v := &Verifier{Issuer: issuer, Keys: staticKeys{set}, Leeway: MaxLeeway, Now: func() time.Time { return now }}
			c, err := v.Verify(t.Context(), tok, audience)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.KID != kid || c.Type != "at+jwt" || c.ClientID != "c1" {
				t.Errorf("verified: kid %q typ %q client %q", c.KID, c.Type, c.ClientID)
			}

			// jwx.
			msg, err := jws.Parse([]byte(tok))
			if err != nil {
				t.Fatal(err)
			}
			if h := msg.Signatures()[0].ProtectedHeaders(); h.KeyID() != kid || h.Type() != "at+jwt" || h.Algorithm() != alg {
				t.Errorf("jwx reads kid %q typ %q alg %s", h.KeyID(), h.Type(), h.Algorithm())
			}
			if _, err := jws.Verify([]byte(tok), jws.WithKeySet(set, jws.WithRequireKid(true))); err != nil {
				t.Errorf("jws.Verify with the key set: %v", err)
			}
			if _, err := jwt.Parse([]byte(tok), jwt.WithKey(alg, pub), jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
				jwt.WithIssuer(issuer), jwt.WithAudience(audience)); err != nil {
				t.Errorf("jwt.Parse: %v", err)
			}

			// go-jose.
			js, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg.String())})
			if err != nil {
				t.Fatal(err)
			}
			if h := js.Signatures[0].Protected; h.KeyID != kid || h.ExtraHeaders[jose.HeaderType] != "at+jwt" || h.Algorithm != alg.String() {
				t.Errorf("go-jose reads %+v", h)
			}
			if _, err := js.Verify(s.Key.Public()); err != nil {
				t.Errorf("go-jose Verify: %v", err)
			}

			// go-oidc.
			ov := oidc.NewVerifier(issuer, &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{s.Key.Public()}},
				&oidc.Config{ClientID: audience, SupportedSigningAlgs: []string{alg.String()}, Now: func() time.Time { return now }})
			if _, err := ov.Verify(t.Context(), tok); err != nil {
				t.Errorf("go-oidc: %v", err)
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestIssuedTokenPartsAreBound: a token signed once cannot be made into
// another that verifies by re-encoding its parts: padding, standard
// base64, a changed header or payload byte, or another token's signature.
func TestIssuedTokenPartsAreBound(t *testing.T) {
	for _, alg := range keys.Algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			a, b := issue(t, alg, access.DialectRFC9068, now), issue(t, alg, access.DialectRFC9068, now)
			pa, pb := strings.Split(a, "."), strings.Split(b, ".")
			hdr, _ := base64.RawURLEncoding.DecodeString(pa[0])
			for name, forged := range map[string]string{
				"padded signature":        pa[0] + "." + pa[1] + "." + base64.URLEncoding.EncodeToString(mustDecode(t, pa[2])),
				"other token's signature": pa[0] + "." + pa[1] + "." + pb[2],
				"header with a space":     base64.RawURLEncoding.EncodeToString(append([]byte(" "), hdr...)) + "." + pa[1] + "." + pa[2],
				"other token's payload":   pa[0] + "." + pb[1] + "." + pa[2],
				"signature's unused bits": pa[0] + "." + pa[1] + "." + flipLastBit(pa[2]),
			} {
				if _, err := verifier(now).Verify(t.Context(), forged, audience); err == nil {
					t.Errorf("%s verifies", name)
				}
			}
			if _, err := verifier(now).Verify(t.Context(), a, audience); err != nil {
				t.Fatalf("the token itself: %v", err)
			}
		})
	}
}

// flipLastBit changes the last character's lowest bit: one of the unused
// bits of a signature that does not fill its last character (all three
// algorithms' signatures), which a lenient decoder ignores.
func flipLastBit(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i^1])
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
