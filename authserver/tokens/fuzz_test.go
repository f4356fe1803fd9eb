package tokens

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/keys"
)

// FuzzVerify feeds Verify arbitrary strings, and seed tokens with one byte
// changed. Verify must never panic; whatever it accepts must carry a
// signature that Go's crypto packages, not jwx, verify with the test ring's
// key of its kid, and claims that encoding/json reads as Verify did; and no
// valid token with a byte changed is accepted.
func FuzzVerify(f *testing.F) {
	var valid []string
	for _, alg := range keys.Algorithms {
		for _, d := range []access.Dialect{access.DialectAuth0, access.DialectAuth0Authz, access.DialectRFC9068, access.DialectRFC9068Authz} {
			valid = append(valid, issue(f, alg, d, now))
		}
	}
	b64 := base64.RawURLEncoding.EncodeToString
	parts := strings.Split(valid[0], ".")
	for i, tok := range valid {
		f.Add(tok, i, 0, byte(1))
	}
	for _, s := range []string{
		"", ".", "..", "not.a.jwt", parts[0] + ".." + parts[2],
		b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		b64([]byte(`{"alg":"HS256","typ":"JWT","kid":"x"}`)) + "." + parts[1] + "." + parts[2],
		b64([]byte(`{"alg":"RS256","typ":"JWT","kid":"../../etc/passwd"}`)) + "." + parts[1] + "." + parts[2],
		b64([]byte(`{"alg":"RS256","typ":"JWT","kid":"a","kid":"b"}`)) + "." + parts[1] + "." + parts[2],
		`{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`,
	} {
		f.Add(s, 0, 0, byte(0))
	}
	v := verifier(now)
	f.Fuzz(func(t *testing.T, token string, which, pos int, mask byte) {
		if c, err := v.Verify(t.Context(), token, audience); err == nil {
			checkAccepted(t, token, c)
		}
		if mask == 0 {
			return
		}
		tok := []byte(valid[uint(which)%uint(len(valid))])
		tok[uint(pos)%uint(len(tok))] ^= mask
		if _, err := v.Verify(t.Context(), string(tok), audience); err == nil {
			t.Fatalf("a valid token with byte %d changed was accepted: %s", uint(pos)%uint(len(tok)), tok)
		}
	})
}

// checkAccepted checks, without jwx, that token is signed by the test
// ring's key of its kid, and that its claims say what c says.
func checkAccepted(t *testing.T, token string, c *Claims) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted a token of %d segments", len(parts))
	}
	var header struct{ Alg, Kid string }
	var claims struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud any    `json:"aud"`
	}
	for i, dst := range []any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("segment %d of an accepted token: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("segment %d of an accepted token: %v", i, err)
		}
	}
	pub, ok := testRing.PublicKeys().LookupKeyID(header.Kid)
	if !ok || pub.Algorithm().String() != header.Alg || header.Kid != c.KID {
		t.Fatalf("accepted a token of kid %q alg %q the ring does not have", header.Kid, header.Alg)
	}
	var raw any
	if err := pub.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch header.Alg {
	case jwa.RS256.String():
		err = rsa.VerifyPKCS1v15(raw.(*rsa.PublicKey), crypto.SHA256, sum[:], sig)
	case jwa.PS256.String():
		err = rsa.VerifyPSS(raw.(*rsa.PublicKey), crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case jwa.ES256.String():
		if len(sig) != 64 || !ecdsa.Verify(raw.(*ecdsa.PublicKey), sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			err = fmt.Errorf("bad ES256 signature")
		}
	default:
		err = fmt.Errorf("algorithm %q", header.Alg)
	}
	if err != nil {
		t.Fatalf("accepted a token that is not signed by the ring: %v", err)
	}
	auds, _ := claims.Aud.([]any)
	if s, ok := claims.Aud.(string); ok {
		auds = []any{s}
	}
	if claims.Iss != issuer || claims.Sub != c.Subject || !slices.Contains(auds, any(audience)) {
		t.Fatalf("encoding/json reads iss %q sub %q aud %v; Verify read sub %q", claims.Iss, claims.Sub, claims.Aud, c.Subject)
	}
}

// FuzzDuplicateMembers: on any JSON document, hasDuplicateMembers agrees
// with a reference built on encoding/json's Decoder.
func FuzzDuplicateMembers(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":[1,{"c":1,"c":2}]}}`, `{"sub":"x","s\u0075b":"y"}`, `{"a":"\"","b":"}"}`,
		`[{"a":1},{"a":1}]`, `{}`, `[]`, `1`, `"x"`, `{"a" : [ ] , "b" : { } }`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := hasDuplicateMembers(data)
		if !json.Valid(data) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		want, err := decoderDuplicateIn(dec)
		if err == nil && got != want {
			t.Fatalf("hasDuplicateMembers(%s) = %v, want %v", data, got, want)
		}
	})
}

// decoderDuplicateIn, hasDuplicateMembers as it was written with
// encoding/json's Decoder (correct, but slow), reads one JSON value from dec and reports whether an object
// in it repeats a member name.
func decoderDuplicateIn(dec *json.Decoder) (bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return false, err
	}
	switch tok {
	case json.Delim('{'):
		names := map[string]bool{}
		for dec.More() {
			name, err := dec.Token()
			if err != nil {
				return false, err
			}
			s, _ := name.(string)
			if names[s] {
				return true, nil
			}
			names[s] = true
			if dup, err := decoderDuplicateIn(dec); dup || err != nil {
				return dup, err
			}
		}
	case json.Delim('['):
		for dec.More() {
			if dup, err := decoderDuplicateIn(dec); dup || err != nil {
				return dup, err
			}
		}
	default:
		return false, nil
	}
	_, err = dec.Token() // the closing delimiter
	return false, err
}
