package tokens

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/keys"
)

const (
	issuer   = "https://auth.example.com/"
	audience = "https://api.example.com/"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// testRing is a complete key ring, made once.
var testRing = func() *keys.Ring {
	ks, err := keys.Complete(nil, "tenant.example", now)
	if err != nil {
		panic(err)
	}
	r, err := keys.NewRing(ks)
	if err != nil {
		panic(err)
	}
	return r
}()

func signer(t testing.TB, alg jwa.SignatureAlgorithm) keys.Signer {
	t.Helper()
	s, ok := testRing.Signer(alg)
	if !ok {
		t.Fatalf("no %s signer", alg)
	}
	return s
}

func issue(t testing.TB, alg jwa.SignatureAlgorithm, d access.Dialect, at time.Time) string {
	t.Helper()
	tok, _, err := Issue(signer(t, alg), AccessToken{
		Issuer: issuer, Subject: "c1@clients", Audience: []string{audience}, ClientID: "c1",
		GrantType: GTYClientCC, Scopes: []string{"read:a", "write:a"}, Permissions: []string{"read:a", "write:a"},
		IssuedAt: at, Lifetime: time.Hour, Dialect: d,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func verifier(at time.Time) *Verifier {
	return &Verifier{Issuer: issuer, Keys: testRing, Leeway: MaxLeeway, Now: func() time.Time { return at }}
}

func part(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssueDialects(t *testing.T) {
	for _, tc := range []struct {
		dialect  access.Dialect
		typ      string
		present  []string
		absent   []string
		hasPerms bool
	}{
		{access.DialectAuth0, "JWT", []string{"iss", "sub", "aud", "iat", "exp", "jti", "scope", "gty", "azp"}, []string{"client_id", "permissions"}, false},
		{access.DialectAuth0Authz, "JWT", []string{"gty", "azp", "permissions"}, []string{"client_id"}, true},
		{access.DialectRFC9068, "at+jwt", []string{"iss", "sub", "aud", "iat", "exp", "jti", "scope", "client_id"}, []string{"gty", "azp", "permissions"}, false},
		{access.DialectRFC9068Authz, "at+jwt", []string{"client_id", "permissions"}, []string{"gty", "azp"}, true},
	} {
		for _, alg := range keys.Algorithms {
			t.Run(string(tc.dialect)+"/"+alg.String(), func(t *testing.T) {
				tok := issue(t, alg, tc.dialect, now)
				hdr, claims := part(t, tok, 0), part(t, tok, 1)
				if len(hdr) != 3 || hdr["typ"] != tc.typ || hdr["alg"] != alg.String() || hdr["kid"] != signer(t, alg).KID {
					t.Errorf("header = %v", hdr)
				}
				for _, c := range tc.present {
					if _, ok := claims[c]; !ok {
						t.Errorf("claim %s missing from %v", c, claims)
					}
				}
				for _, c := range tc.absent {
					if _, ok := claims[c]; ok {
						t.Errorf("claim %s present in %v", c, claims)
					}
				}
				if claims["aud"] != audience || claims["sub"] != "c1@clients" || claims["scope"] != "read:a write:a" {
					t.Errorf("claims = %v", claims)
				}
				if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3600 || int64(iat) != now.Unix() {
					t.Errorf("iat %v exp %v", iat, exp)
				}
				c, err := verifier(now).Verify(t.Context(), tok, audience)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.ClientID != "c1" || c.Subject != "c1@clients" || !c.HasScope("write:a") || c.Type != tc.typ {
					t.Errorf("verified claims = %+v", c)
				}
				if got := len(c.Permissions); tc.hasPerms != (got == 2) {
					t.Errorf("permissions = %v", c.Permissions)
				}
			})
		}
	}
}

func TestIssueUniqueJTI(t *testing.T) {
	a, b := issue(t, jwa.ES256, access.DialectAuth0, now), issue(t, jwa.ES256, access.DialectAuth0, now)
	if part(t, a, 1)["jti"] == part(t, b, 1)["jti"] {
		t.Fatal("two tokens share a jti")
	}
}

// forge signs payload with header fields hdr using key and alg.
func forge(t *testing.T, alg jwa.SignatureAlgorithm, key any, hdr map[string]any, payload map[string]any) string {
	t.Helper()
	h := jws.NewHeaders()
	for k, v := range hdr {
		if err := h.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	body, _ := json.Marshal(payload)
	out, err := jws.Sign(body, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// signRS256 signs the JSON texts header and payload as they are, with
// RS256, so that they may hold what json.Marshal never writes.
func signRS256(t *testing.T, s keys.Signer, header, payload string) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.Key.(*rsa.PrivateKey), crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// testCertDER is a self-signed certificate of the ring's RS256 key.
func testCertDER(t *testing.T) []byte {
	t.Helper()
	s := signer(t, jwa.RS256)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.Key.Public(), s.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func validPayload() map[string]any {
	return map[string]any{"iss": issuer, "sub": "c1@clients", "aud": audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "azp": "c1"}
}

func TestVerifyRefuses(t *testing.T) {
	rs := signer(t, jwa.RS256)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	pub, _ := testRing.PublicKeys().LookupKeyID(rs.KID)
	pubJSON, _ := json.Marshal(pub)
	good := issue(t, jwa.RS256, access.DialectAuth0, now)
	b64 := base64.RawURLEncoding.EncodeToString
	unsigned := b64([]byte(`{"alg":"none","typ":"JWT","kid":"`+rs.KID+`"}`)) + "." + strings.Split(good, ".")[1] + "."
	header := fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"JWT"}`, rs.KID)
	times := fmt.Sprintf(`"iat":%d,"exp":%d`, now.Unix(), now.Add(time.Hour).Unix())
	for _, tc := range []struct {
		name  string
		token func() string
		at    time.Time
		aud   string
		want  string
	}{
		{"expired", func() string { return good }, now.Add(time.Hour + 2*time.Minute), audience, "expired"},
		{"within leeway after exp", func() string { return good }, now.Add(time.Hour + 30*time.Second), audience, ""},
		{"issued in the future", func() string { return good }, now.Add(-5 * time.Minute), audience, "future"},
		{"not yet valid", func() string {
			p := validPayload()
			p["nbf"] = now.Add(10 * time.Minute).Unix()
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT"}, p)
		}, now, audience, "not valid yet"},
		{"wrong audience", func() string { return good }, now, "https://api.example.com", "audience"},
		{"wrong issuer", func() string {
			p := validPayload()
			p["iss"] = "https://evil.example.com/"
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT"}, p)
		}, now, audience, "issuer"},
		{"no exp", func() string {
			p := validPayload()
			delete(p, "exp")
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT"}, p)
		}, now, audience, "exp"},
		// RFC 7519 types: jwx read exp 0 as "no expiry", and numeric
		// strings as dates.
		{"exp of 0", func() string {
			p := validPayload()
			p["exp"] = 0
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT"}, p)
		}, now, audience, "expired"},
		{"exp as a string", func() string {
			p := validPayload()
			p["exp"] = fmt.Sprint(now.Add(time.Hour).Unix())
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT"}, p)
		}, now, audience, "claims are invalid"},
		{"exp past year 9999", func() string {
			p := validPayload()
			p["exp"] = 1e300
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT"}, p)
		}, now, audience, "claims are invalid"},
		{"fractional exp, past the leeway", func() string {
			p := validPayload()
			p["exp"] = float64(now.Add(-2*time.Minute).Unix()) + 0.5
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT"}, p)
		}, now, audience, "expired"},
		{"fractional exp, ahead", func() string {
			p := validPayload()
			p["exp"] = float64(now.Add(time.Hour).Unix()) + 0.25
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT"}, p)
		}, now, audience, ""},
		{"sub a number", func() string {
			p := validPayload()
			p["sub"] = 7
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT"}, p)
		}, now, audience, "claims are invalid"},
		{"aud a number", func() string {
			p := validPayload()
			p["aud"] = 7
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT"}, p)
		}, now, audience, "claims are invalid"},
		{"aud a list holding a number", func() string {
			p := validPayload()
			p["aud"] = []any{audience, 7}
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT"}, p)
		}, now, audience, "claims are invalid"},
		{"aud a list", func() string {
			p := validPayload()
			p["aud"] = []any{"https://other.example.com/", audience}
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT"}, p)
		}, now, audience, ""},
		{"claims not an object", func() string {
			return signRS256(t, rs, header, `["not","claims"]`)
		}, now, audience, "claims cannot be read"},
		{"alg not a string", func() string {
			return signRS256(t, rs, fmt.Sprintf(`{"alg":7,"kid":%q,"typ":"JWT"}`, rs.KID), fmt.Sprintf(`{"iss":%q,"sub":"c1@clients","aud":%q,%s}`, issuer, audience, times))
		}, now, audience, "malformed"},
		{"alg none", func() string { return unsigned }, now, audience, "not allowed"},
		{"HS256 keyed with the public key", func() string {
			return forge(t, jwa.HS256, pubJSON, map[string]any{"kid": rs.KID, "typ": "JWT"}, validPayload())
		}, now, audience, "not allowed"},
		{"unknown kid", func() string {
			return forge(t, jwa.RS256, otherRSA, map[string]any{"kid": "nope", "typ": "JWT"}, validPayload())
		}, now, audience, "unknown signing key"},
		{"right kid, wrong key", func() string {
			return forge(t, jwa.RS256, otherRSA, map[string]any{"kid": rs.KID, "typ": "JWT"}, validPayload())
		}, now, audience, "signature"},
		{"kid of another algorithm's key", func() string {
			return forge(t, jwa.PS256, otherRSA, map[string]any{"kid": rs.KID, "typ": "JWT"}, validPayload())
		}, now, audience, "signature"},
		{"missing kid", func() string {
			return forge(t, jwa.RS256, rs.Key, map[string]any{"typ": "JWT"}, validPayload())
		}, now, audience, "kid"},
		{"embedded jwk", func() string {
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT", "jwk": pub}, validPayload())
		}, now, audience, "must not carry keys"},
		{"jku header", func() string {
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT", "jku": "https://evil.example.com/jwks"}, validPayload())
		}, now, audience, "must not carry keys"},
		{"x5u header", func() string {
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "JWT", "x5u": "https://evil.example.com/cert.pem"}, validPayload())
		}, now, audience, "must not carry keys"},
		{"x5c header", func() string {
			return signRS256(t, rs, fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"JWT","x5c":[%q]}`, rs.KID, base64.StdEncoding.EncodeToString(testCertDER(t))), fmt.Sprintf(`{"iss":%q,"sub":"c1@clients","aud":%q,%s}`, issuer, audience, times))
		}, now, audience, "must not carry keys"},
		{"kid that is a path", func() string {
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": "../../etc/passwd", "typ": "JWT"}, validPayload())
		}, now, audience, "unknown signing key"},
		{"kid with a NUL after a real kid", func() string {
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID + "\x00", "typ": "JWT"}, validPayload())
		}, now, audience, "unknown signing key"},
		{"very long kid", func() string {
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": strings.Repeat(rs.KID, 200), "typ": "JWT"}, validPayload())
		}, now, audience, "unknown signing key"},
		{"id token typ", func() string {
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "id+jwt"}, validPayload())
		}, now, audience, "not an access token"},
		{"at+jwt without client_id", func() string {
			return forge(t, jwa.RS256, rs.Key, map[string]any{"kid": rs.KID, "typ": "at+jwt"}, validPayload())
		}, now, audience, "RFC 9068"},
		{"tampered payload", func() string {
			parts := strings.Split(good, ".")
			p := part(t, good, 1)
			p["scope"] = "admin"
			body, _ := json.Marshal(p)
			return parts[0] + "." + b64(body) + "." + parts[2]
		}, now, audience, "signature"},
		{"garbage", func() string { return "not.a.jwt" }, now, audience, "malformed"},
		{"signed raw, as a control", func() string {
			return signRS256(t, rs, header, fmt.Sprintf(`{"iss":%q,"sub":"c1@clients","aud":%q,%s}`, issuer, audience, times))
		}, now, audience, ""},
		{"two sub members", func() string {
			return signRS256(t, rs, header, fmt.Sprintf(`{"iss":%q,"sub":"c1@clients","aud":%q,%s,"sub":"admin@clients"}`, issuer, audience, times))
		}, now, audience, "duplicate"},
		{"two aud members", func() string {
			return signRS256(t, rs, header, fmt.Sprintf(`{"iss":%q,"sub":"c1@clients","aud":"https://other.example.com/","aud":%q,%s}`, issuer, audience, times))
		}, now, audience, "duplicate"},
		{"a duplicate spelled with an escape", func() string {
			return signRS256(t, rs, header, fmt.Sprintf(`{"iss":%q,"sub":"c1@clients","s\u0075b":"admin@clients","aud":%q,%s}`, issuer, audience, times))
		}, now, audience, "duplicate"},
		{"two thumbprints in cnf", func() string {
			return signRS256(t, rs, header, fmt.Sprintf(`{"iss":%q,"sub":"c1@clients","aud":%q,%s,"cnf":{"x5t#S256":"a","x5t#S256":"b"}}`, issuer, audience, times))
		}, now, audience, "duplicate"},
		{"two typ members in the header", func() string {
			return signRS256(t, rs, fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"JWT","typ":"at+jwt"}`, rs.KID), fmt.Sprintf(`{"iss":%q,"sub":"c1@clients","aud":%q,%s}`, issuer, audience, times))
		}, now, audience, "duplicate"},
		{"JSON serialization of a valid token", func() string {
			msg, err := jws.ParseString(good)
			if err != nil {
				t.Fatal(err)
			}
			js, err := msg.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			return string(js)
		}, now, audience, "malformed"},
		{"unused low bits of the signature's last character set", func() string {
			// 256 bytes take 342 characters, the last carrying 4 bits:
			// its lowest 2 are unused, and a lax decoder ignores them.
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			last := strings.IndexByte(alphabet, good[len(good)-1])
			return good[:len(good)-1] + alphabet[last^1:last^1+1]
		}, now, audience, "malformed"},
		{"padded payload", func() string {
			parts := strings.Split(good, ".")
			return parts[0] + "." + parts[1] + strings.Repeat("=", (4-len(parts[1])%4)%4+4) + "." + parts[2]
		}, now, audience, "malformed"},
		{"oversized", func() string { return strings.Repeat("a", MaxTokenSize+1) }, now, audience, "larger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifier(tc.at).Verify(t.Context(), tc.token(), tc.aud)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want ErrInvalidToken containing %q", err, tc.want)
			}
		})
	}
}

// TestVerifyRefusesCriticalHeaders: RFC 7515 section 4.1.11 makes a JWS
// invalid when its crit lists an extension the recipient does not
// understand, and Verify understands none; a malformed crit is refused too.
func TestVerifyRefusesCriticalHeaders(t *testing.T) {
	rs := signer(t, jwa.RS256)
	payload := fmt.Sprintf(`{"iss":%q,"sub":"c1@clients","aud":%q,"iat":%d,"exp":%d}`, issuer, audience, now.Unix(), now.Add(time.Hour).Unix())
	const unsupported, malformed = "critical extensions that are not supported", "malformed crit"
	for _, tc := range []struct {
		name, extra, want string // extra members of the header
	}{
		{"no crit, as a control", `"urn:example:restricted-use":true`, ""},
		{"an extension", `"crit":["urn:example:restricted-use"],"urn:example:restricted-use":true`, unsupported},
		{"two extensions", `"crit":["urn:example:a","urn:example:b"],"urn:example:a":1,"urn:example:b":2`, unsupported},
		{"b64 (RFC 7797)", `"crit":["b64"],"b64":true`, unsupported},
		{"an extension absent from the header", `"crit":["urn:example:restricted-use"]`, malformed},
		{"an empty list", `"crit":[]`, malformed},
		{"null", `"crit":null`, malformed},
		{"a string", `"crit":"urn:example:restricted-use","urn:example:restricted-use":true`, malformed},
		{"an object", `"crit":{"urn:example:restricted-use":true}`, malformed},
		{"a number in the list", `"crit":[1]`, malformed},
		{"a name twice", `"crit":["urn:example:a","urn:example:a"],"urn:example:a":1`, malformed},
		{"alg", `"crit":["alg"]`, malformed},
		{"kid", `"crit":["kid"]`, malformed},
		{"x5t#S256", `"crit":["x5t#S256"],"x5t#S256":"abc"`, malformed},
		{"crit itself", `"crit":["crit"]`, malformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := signRS256(t, rs, fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"JWT",%s}`, rs.KID, tc.extra), payload)
			_, err := verifier(now).Verify(t.Context(), token, audience)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var bad *Error
			if !errors.As(err, &bad) || bad.Cause != CauseHeader || !strings.Contains(bad.Description, tc.want) {
				t.Fatalf("error = %v, want a header refusal containing %q", err, tc.want)
			}
		})
	}
}

func TestVerifyAcceptsAnyPublishedKey(t *testing.T) {
	// A token signed by a key that is published but not current (next,
	// as after a rotation) verifies.
	ks, err := keys.Complete(nil, "tenant.example", now)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keys.NewRing(ks)
	if err != nil {
		t.Fatal(err)
	}
	var next keys.SigningKey
	for _, k := range ks {
		if k.State == keys.StateNext && k.Alg == jwa.ES256 {
			next = k
		}
	}
	priv, err := jwk.ParseKey(next.PrivateJWK)
	if err != nil {
		t.Fatal(err)
	}
	var raw ecdsa.PrivateKey
	if err := priv.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	tok, _, err := Issue(keys.Signer{KID: next.KID, Alg: next.Alg, Key: &raw}, AccessToken{
		Issuer: issuer, Subject: "s", Audience: []string{audience}, ClientID: "c", IssuedAt: now, Lifetime: time.Hour, Dialect: access.DialectAuth0,
	})
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Issuer: issuer, Keys: ring, Now: func() time.Time { return now }}
	if _, err := v.Verify(t.Context(), tok, audience); err != nil {
		t.Fatalf("token signed by the next key: %v", err)
	}
}

// refreshingSource is a KeySource that learns a key only when asked.
type refreshingSource struct {
	keys    jwk.Set
	later   jwk.Key
	refresh []string
}

func (r *refreshingSource) PublicKeys() jwk.Set { return r.keys }

func (r *refreshingSource) RefreshForKID(_ context.Context, kid string) {
	r.refresh = append(r.refresh, kid)
	r.keys.AddKey(r.later)
}

func TestVerifyRefreshesForUnknownKID(t *testing.T) {
	es := signer(t, jwa.ES256)
	pub, _ := testRing.PublicKeys().LookupKeyID(es.KID)
	src := &refreshingSource{keys: jwk.NewSet(), later: pub}
	v := &Verifier{Issuer: issuer, Keys: src, Now: func() time.Time { return now }}
	if _, err := v.Verify(t.Context(), issue(t, jwa.ES256, access.DialectAuth0, now), audience); err != nil {
		t.Fatalf("Verify after a refresh: %v", err)
	}
	if len(src.refresh) != 1 || src.refresh[0] != es.KID {
		t.Fatalf("refreshes = %v, want one for %s", src.refresh, es.KID)
	}
}

// Parse reads the issuer of a token before any Verifier is chosen, and
// VerifyParsed verifies that same parse.
func TestParseIssuer(t *testing.T) {
	tok := issue(t, jwa.ES256, access.DialectAuth0, now)
	p, err := Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	if iss, err := p.Issuer(); err != nil || iss != issuer {
		t.Fatalf("Issuer = %q, %v", iss, err)
	}
	c, err := verifier(now).VerifyParsed(t.Context(), p, audience)
	if err != nil || c.All["iss"] != issuer || c.All["exp"] != json.Number(strconv.FormatInt(now.Add(time.Hour).Unix(), 10)) {
		t.Fatalf("VerifyParsed = %+v, %v", c, err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	sig := strings.Split(tok, ".")[2]
	for _, bad := range []string{"", "abc", "a.!!!.c", "a." + b64([]byte("[1]")) + ".c",
		b64([]byte(`{}`)) + "." + b64([]byte(`[1]`)) + "." + sig,
		b64([]byte(`{}`)) + "." + b64([]byte(`{"iss":1}`)) + "." + sig,
		b64([]byte(`{}`)) + "." + b64([]byte(`{"iss":"a"}{}`)) + "." + sig,
		strings.Repeat("a", MaxTokenSize+1),
	} {
		p, err := Parse(bad)
		if err == nil {
			_, err = p.Issuer()
		}
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("the issuer of %q: %v, want ErrInvalidToken", bad, err)
		}
	}
}

func TestIssueSeveralAudiences(t *testing.T) {
	userinfo := issuer + "userinfo"
	tok, _, err := Issue(signer(t, jwa.RS256), AccessToken{
		Issuer: issuer, Subject: "auth0|u1", Audience: []string{audience, userinfo}, ClientID: "c1",
		Scopes: []string{"openid", "read:a"}, IssuedAt: now, Lifetime: time.Hour, Dialect: access.DialectAuth0,
	})
	if err != nil {
		t.Fatal(err)
	}
	aud, ok := part(t, tok, 1)["aud"].([]any)
	if !ok || len(aud) != 2 || aud[0] != audience || aud[1] != userinfo {
		t.Fatalf("aud = %v, want [%s %s]", part(t, tok, 1)["aud"], audience, userinfo)
	}
	if _, ok := part(t, tok, 1)["gty"]; ok {
		t.Error("a user token without GrantType has a gty claim")
	}
	for _, want := range []string{audience, userinfo} {
		if _, err := verifier(now).Verify(t.Context(), tok, want); err != nil {
			t.Errorf("Verify for audience %s: %v", want, err)
		}
	}
	if _, err := verifier(now).Verify(t.Context(), tok, "https://other.example/"); err == nil {
		t.Error("Verify accepted an audience the token does not name")
	}
	if _, _, err := Issue(signer(t, jwa.RS256), AccessToken{Issuer: issuer, Subject: "s", IssuedAt: now, Lifetime: time.Hour}); err == nil {
		t.Error("Issue signed a token without an audience")
	}
}

func TestIssueIDToken(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.RS256, jwa.PS256, jwa.ES256} {
		t.Run(alg.String(), func(t *testing.T) {
			s := signer(t, alg)
			authTime := now.Add(-time.Minute)
			tok, err := IssueIDToken(s, IDToken{
				Issuer: issuer, Subject: "auth0|u1", ClientID: "c1", IssuedAt: now, Lifetime: 10 * time.Hour,
				AuthTime: authTime, Nonce: "n-0S6", AccessToken: "the.access.token",
				UserClaims: map[string]any{"email": "a@example.com", "iss": "https://evil.example/"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify([]byte(tok), jws.WithKeySet(testRing.PublicKeys(), jws.WithRequireKid(true))); err != nil {
				t.Fatalf("signature: %v", err)
			}
			hdr := part(t, tok, 0)
			if hdr["typ"] != "JWT" || hdr["kid"] != s.KID || hdr["alg"] != alg.String() {
				t.Errorf("header %v, want typ JWT, kid %s, alg %s", hdr, s.KID, alg)
			}
			sum := sha256.Sum256([]byte("the.access.token"))
			c := part(t, tok, 1)
			want := map[string]any{
				"iss": issuer, "sub": "auth0|u1", "aud": "c1", "azp": "c1", "iat": float64(now.Unix()),
				"exp": float64(now.Add(10 * time.Hour).Unix()), "auth_time": float64(authTime.Unix()), "nonce": "n-0S6",
				"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]), "email": "a@example.com",
			}
			if len(c) != len(want) {
				t.Errorf("claims %v, want %v", c, want)
			}
			for k, v := range want {
				if c[k] != v {
					t.Errorf("%s = %v, want %v", k, c[k], v)
				}
			}
		})
	}
	if _, err := HalfHash(jwa.HS512, "x"); err == nil {
		t.Error("HalfHash accepted HS512")
	}
}
