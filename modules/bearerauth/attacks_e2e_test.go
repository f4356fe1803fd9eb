package bearerauth_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/portcullis-gw/portcullis/authserver/tokens"
)

// TestAttacks sends, through a real Caddy, the attacks on bearer_auth that
// TestEdge, TestCertificateBoundTokens and the tokens package's tests do
// not: oversized tokens and headers, and kid tricks on a site whose
// issuer's keys are fetched.
func TestAttacks(t *testing.T) {
	e := startEdge(t)
	worker := e.embedded.m2m(t, "attacked", ordersAPI, "read:orders")
	good := e.embedded.token(t, worker, ordersAPI, "read:orders")
	wantAllowed(t, e.request(t, "GET", e.ordersURL+"/orders", bearer(good)))

	// h1 sends a GET of the orders site with header over HTTP/1.1, where
	// the request goes out whatever its size.
	get := func(t *testing.T, header http.Header) answer {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "GET", e.ordersURL+"/orders", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		resp, err := e.h1.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return answer{status: resp.StatusCode, header: resp.Header, body: body}
	}

	t.Run("a token over the size limit", func(t *testing.T) {
		big := strings.Repeat("a", tokens.MaxTokenSize) + "." + good
		wantDenied(t, get(t, http.Header{"Authorization": {bearer(big)}}), http.StatusUnauthorized, invalidToken(ordersAPI), "too large")
	})
	for _, tc := range []struct {
		name   string
		header http.Header
	}{
		{"a 1 MiB Authorization header", http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 1<<20)}}},
		{"2000 spoofed identity headers of 600 bytes", func() http.Header {
			h := http.Header{"Authorization": {bearer(good)}}
			for i := range 2000 {
				h.Add("X-Portcullis-Subject", strings.Repeat("x", 590)+string(rune('a'+i%26)))
			}
			return h
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantDenied(t, get(t, tc.header), http.StatusRequestHeaderFieldsTooLarge, nil)
		})
	}
	// The edge still serves.
	wantAllowed(t, e.request(t, "GET", e.ordersURL+"/orders", bearer(good)))

	// kid tricks on the remote issuer's site, where an unknown kid makes
	// the edge look for it in the issuer's JWKS: the kid is only ever
	// looked up, never used as a path or URL.
	remoteApp := e.remote.m2m(t, "kid-tricks", partnerAPI, "read:orders")
	remoteJWK, remoteKID := e.remote.currentKey(t, jwa.RS256)
	// The raw key, which (unlike the jwk.Key) lets the header's kid be.
	var remoteKey rsa.PrivateKey
	if err := remoteJWK.Raw(&remoteKey); err != nil {
		t.Fatal(err)
	}
	claims := m2mClaims(e.remote.issuer, partnerAPI, remoteApp.id, time.Now(), time.Hour)
	for _, tc := range []struct{ name, kid string }{
		{"a path", "../../../../etc/passwd"},
		{"a URL", e.remote.issuer + ".well-known/jwks.json"},
		{"a real kid and a NUL", remoteKID + "\x00"},
		{"a real kid twice", remoteKID + remoteKID},
		{"8 KiB", strings.Repeat("k", 8<<10)},
	} {
		t.Run("kid "+tc.name, func(t *testing.T) {
			tok := sign(t, jwa.RS256, &remoteKey, map[string]any{"kid": tc.kid, "typ": "JWT"}, claims)
			wantDenied(t, e.request(t, "GET", e.partnerURL+"/orders", bearer(tok)), http.StatusUnauthorized, invalidToken(partnerAPI), "unknown signing key")
		})
	}
	t.Run("the real kid, as a control", func(t *testing.T) {
		wantAllowed(t, e.request(t, "GET", e.partnerURL+"/orders", bearer(sign(t, jwa.RS256, &remoteKey, map[string]any{"kid": remoteKID, "typ": "JWT"}, claims))))
	})

	// RFC 7515 section 4.1.11: a token whose crit names an extension the
	// edge does not understand (it understands none) is refused, and so is
	// a malformed crit; both are signed with the trusted issuer's key.
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, extra, want string }{
		{"crit naming an extension", `"crit":["urn:example:restricted-use"],"urn:example:restricted-use":true`, "critical extensions that are not supported"},
		{"crit naming an absent extension", `"crit":["urn:example:restricted-use"]`, "malformed crit"},
		{"an empty crit", `"crit":[]`, "malformed crit"},
		{"crit that is not a list", `"crit":"urn:example:restricted-use","urn:example:restricted-use":true`, "malformed crit"},
		{"crit naming a standard header", `"crit":["kid"]`, "malformed crit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := signRS256(t, &remoteKey, fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"JWT",%s}`, remoteKID, tc.extra), string(payload))
			wantDenied(t, e.request(t, "GET", e.partnerURL+"/orders", bearer(tok)), http.StatusUnauthorized, invalidToken(partnerAPI), tc.want)
		})
	}
	t.Run("an unknown header member outside crit, as a control", func(t *testing.T) {
		tok := signRS256(t, &remoteKey, fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"JWT","urn:example:restricted-use":true}`, remoteKID), string(payload))
		wantAllowed(t, e.request(t, "GET", e.partnerURL+"/orders", bearer(tok)))
	})
}

// signRS256 signs the JSON texts header and payload as they are, so that
// the header may hold what the jws package would refuse to write.
func signRS256(t *testing.T, key *rsa.PrivateKey, header, payload string) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}
