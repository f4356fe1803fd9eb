package bearerauth_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/portcullis-gw/portcullis/internal/testenv"
	"github.com/portcullis-gw/portcullis/modules/bearerauth"
)

// TestEdge is the acceptance test of bearer_auth through a real Caddy.
// Caddy is a process-wide singleton, so the steps share one instance and
// run in order as subtests.
func TestEdge(t *testing.T) {
	e := startEdge(t)
	// A client allowed both scopes of the orders API, used by several steps.
	worker := e.embedded.m2m(t, "orders-worker", ordersAPI, "read:orders", "create:orders")
	full := e.embedded.token(t, worker, ordersAPI, "read:orders", "create:orders")
	readOnly := e.embedded.token(t, worker, ordersAPI, "read:orders")

	var decisionID string
	t.Run("valid M2M token reaches the upstream with identity headers", func(t *testing.T) {
		decisionID = e.testValidToken(t, worker, full, readOnly)
	})
	t.Run("identity headers cannot be spoofed with underscores", func(t *testing.T) { e.testUnderscoreSpoofing(t, worker, full) })
	t.Run("unauthorized", func(t *testing.T) { e.testUnauthorized(t, worker, readOnly) })
	t.Run("forbidden", func(t *testing.T) { e.testForbidden(t, readOnly, full) })
	t.Run("live client grants", e.testLiveGrants)
	t.Run("policy directory", func(t *testing.T) { e.testPolicyDirectory(t, full) })
	t.Run("cached tokens expire", e.testCachedExpiry)
	t.Run("remote issuer", e.testRemoteIssuer)
	t.Run("metrics", func(t *testing.T) { e.testMetrics(t, full) })
	t.Run("a token's kid does not choose the failure cause", e.testCauseFromKID)
	t.Run("logs never hold tokens", func(t *testing.T) { e.testLogs(t, decisionID) })
}

func (e *edge) testValidToken(t *testing.T, worker app, full, readOnly string) (decisionID string) {
	for _, tc := range []struct {
		name, method, path, authorization, scope string
		extra                                    []string
	}{
		{name: "GET", method: "GET", path: "/orders/42?page=2", authorization: bearer(full), scope: "read:orders create:orders"},
		{name: "POST", method: "POST", path: "/orders", authorization: bearer(full), scope: "read:orders create:orders"},
		{name: "read-only token reads", method: "GET", path: "/orders", authorization: bearer(readOnly), scope: "read:orders"},
		{name: "scheme is case-insensitive", method: "GET", path: "/orders", authorization: "bearer " + full, scope: "read:orders create:orders"},
		{name: "spoofed identity headers", method: "GET", path: "/orders", authorization: bearer(full), scope: "read:orders create:orders", extra: []string{
			"X-Portcullis-Subject", "admin@clients",
			"X-Portcullis-Client-Id", "someone-else",
			"X-Portcullis-Scope", "delete:orders",
			"X-Portcullis-Issuer", "https://evil.example/",
			"X-Portcullis-Decision-Id", "forged",
			"X-Portcullis-Role", "admin",
			"x-portcullis-lowercase", "spoofed",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := wantAllowed(t, e.request(t, tc.method, e.ordersURL+tc.path, tc.authorization, tc.extra...))
			if got.Method != tc.method || got.Path != strings.SplitN(tc.path, "?", 2)[0] {
				t.Errorf("upstream got %s %s, want %s %s", got.Method, got.Path, tc.method, tc.path)
			}
			want := map[string]string{
				"X-Portcullis-Subject":   worker.id + "@clients",
				"X-Portcullis-Client-Id": worker.id,
				"X-Portcullis-Scope":     tc.scope,
				"X-Portcullis-Issuer":    e.embedded.issuer,
				"Authorization":          tc.authorization,
			}
			for name, value := range want {
				if vs := got.Headers[name]; len(vs) != 1 || vs[0] != value {
					t.Errorf("upstream header %s = %q, want exactly %q", name, vs, value)
				}
			}
			ids := got.Headers["X-Portcullis-Decision-Id"]
			if len(ids) != 1 {
				t.Fatalf("upstream X-Portcullis-Decision-Id = %q, want one", ids)
			}
			if ids[0] == "" || ids[0] == decisionID {
				t.Errorf("decision id %q is empty or repeats the previous request's", ids[0])
			}
			decisionID = ids[0]
			for name := range got.Headers {
				if strings.HasPrefix(name, "X-Portcullis-") && !slices.Contains([]string{"X-Portcullis-Subject", "X-Portcullis-Client-Id", "X-Portcullis-Scope", "X-Portcullis-Issuer", "X-Portcullis-Decision-Id"}, name) {
					t.Errorf("inbound header %s reached the upstream: %q", name, got.Headers[name])
				}
			}
		})
	}
	return decisionID
}

// testUnderscoreSpoofing sends identity headers spelled with underscores,
// which CGI-style upstreams (Caddy's own php_fastcgi, WSGI, Rack) cannot
// tell from the real ones.
func (e *edge) testUnderscoreSpoofing(t *testing.T, worker app, full string) {
	spoof := []string{"X-Portcullis_Subject", "admin@clients", "x_portcullis_client_id", "admin", "X-Portcullis.Scope", "delete:orders"}
	subject := worker.id + "@clients"
	// bearer_auth deletes inbound headers by the exact prefix
	// "X-Portcullis-" only; spellings with '_' or '.' are kept out because
	// Caddy's server drops header names containing them unless they are
	// listed in expected_underscore_headers / expected_dot_headers. This
	// guards that combination: Caddy's FastCGI transport folds '-' and '_'
	// alike into HTTP_X_PORTCULLIS_SUBJECT, where a spoofed value could
	// overwrite the real one.
	got := wantAllowed(t, e.request(t, "GET", e.ordersURL+"/orders", bearer(full), spoof...))
	for name, vs := range got.Headers {
		if folded := strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(name)); strings.HasPrefix(folded, "x-portcullis-") && !strings.HasPrefix(name, "X-Portcullis-") {
			t.Errorf("inbound header %s: %q reached the upstream", name, vs)
		}
	}
	spoofed := 0
	for range 20 {
		got := wantAllowed(t, e.request(t, "GET", e.cgiURL+"/orders", bearer(full), spoof...))
		if fmt.Sprint(got.Headers["X-Portcullis-Subject"]) != "["+subject+"]" || fmt.Sprint(got.Headers["X-Portcullis-Client-Id"]) != "["+worker.id+"]" ||
			fmt.Sprint(got.Headers["X-Portcullis-Scope"]) != "[read:orders create:orders]" {
			spoofed++
		}
	}
	if spoofed > 0 {
		t.Errorf("the FastCGI upstream saw spoofed identity headers in %d of 20 requests", spoofed)
	}
	// Without spoofing, the FastCGI upstream sees the identity.
	got = wantAllowed(t, e.request(t, "GET", e.cgiURL+"/orders", bearer(full)))
	if fmt.Sprint(got.Headers["X-Portcullis-Subject"]) != "["+subject+"]" {
		t.Errorf("FastCGI upstream X-Portcullis-Subject = %q, want %q", got.Headers["X-Portcullis-Subject"], subject)
	}
}

func (e *edge) testUnauthorized(t *testing.T, worker app, readOnly string) {
	now := time.Now()
	// The embedded server's published key that signed readOnly.
	kid := kidOf(t, readOnly)
	set := e.embeddedJWKS(t)
	pub, ok := set.LookupKeyID(kid)
	if !ok {
		t.Fatalf("kid %s of a fresh token is not published", kid)
	}
	var raw any
	if err := pub.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	_, claims := segments(t, readOnly)

	// Tokens of the remote server, which the orders site does not trust
	// and the partner site does.
	remoteApp := e.remote.m2m(t, "remote-worker", partnerAPI, "read:orders")
	e.remote.grant(t, remoteApp, ordersAPI, "read:orders")
	remoteKey, remoteKID := e.remote.currentKey(t, jwa.RS256)
	jwtHeader := func(kid string) map[string]any { return map[string]any{"kid": kid, "typ": "JWT"} }

	// Tampered: the signed token with more scopes in its payload.
	parts := strings.Split(readOnly, ".")
	tamperedClaims := map[string]any{}
	for k, v := range claims {
		tamperedClaims[k] = v
	}
	tamperedClaims["scope"] = "read:orders create:orders delete:orders"
	tampered := parts[0] + "." + b64JSON(t, tamperedClaims) + "." + parts[2]

	// alg none, with a real kid and valid claims.
	algNone := b64JSON(t, map[string]any{"alg": "none", "kid": kid, "typ": "JWT"}) + "." + parts[1] + "."

	// HS256 keyed with the PEM of the RSA public key the kid names.
	hs256 := sign(t, jwa.HS256, publicPEM, jwtHeader(kid), claims)

	// Everything right but the key: the embedded server never published it.
	unknownKID := sign(t, jwa.RS256, newRSAKey(t), jwtHeader("not-a-published-kid"),
		m2mClaims(e.embedded.issuer, ordersAPI, worker.id, now, time.Hour))

	// A real token of the remote server, whose clock is two hours late: it
	// expired an hour ago (lifetime 3600 s).
	expired := e.remote.tokenAt(t, -2*time.Hour, remoteApp, partnerAPI)
	// A real token whose iat is an hour ahead.
	issuedInFuture := e.remote.tokenAt(t, time.Hour, remoteApp, partnerAPI)
	// The remote server issues no nbf: forged with its current key, the
	// token is right in every way but nbf, an hour from now.
	notYetClaims := m2mClaims(e.remote.issuer, partnerAPI, remoteApp.id, now, 2*time.Hour)
	notYetClaims["nbf"] = now.Add(time.Hour).Unix()
	notYetValid := sign(t, jwa.RS256, remoteKey, jwtHeader(remoteKID), notYetClaims)
	// A valid remote token for the very audience of the orders site.
	untrusted := e.remote.token(t, remoteApp, ordersAPI)
	// A token of the embedded server for another of its APIs.
	rbacApp := e.embedded.m2m(t, "rbac-reader", authzAPI, "read:orders")
	otherAudience := e.embedded.token(t, rbacApp, authzAPI, "read:orders")

	// Positive controls: the same servers' good tokens pass where the bad
	// ones are refused.
	wantAllowed(t, e.request(t, "GET", e.partnerURL+"/orders", bearer(e.remote.token(t, remoteApp, partnerAPI))))
	wantAllowed(t, e.request(t, "GET", e.authzURL+"/orders", bearer(otherAudience)))

	type refused struct {
		name string
		a    answer
	}
	var answers []refused
	for _, tc := range []struct {
		name, url, authorization string
		extra                    []string
		realm                    string
		description              []string // fragments of error_description; none for no error at all
	}{
		{name: "missing", url: e.ordersURL, realm: ordersAPI},
		{name: "Basic scheme", url: e.ordersURL, authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(worker.id+":"+worker.secret)), realm: ordersAPI, description: []string{"exactly one Bearer token"}},
		{name: "two Authorization headers", url: e.ordersURL, authorization: bearer(readOnly), extra: []string{"Authorization", bearer(readOnly)}, realm: ordersAPI, description: []string{"exactly one Bearer token"}},
		{name: "token without scheme", url: e.ordersURL, authorization: readOnly, realm: ordersAPI, description: []string{"exactly one Bearer token"}},
		{name: "empty bearer", url: e.ordersURL, authorization: "Bearer ", realm: ordersAPI, description: []string{"empty bearer token"}},
		{name: "malformed", url: e.ordersURL, authorization: "Bearer not-a-jwt", realm: ordersAPI, description: []string{"malformed token"}},
		{name: "malformed payload", url: e.ordersURL, authorization: "Bearer " + parts[0] + ".%%%." + parts[2], realm: ordersAPI, description: []string{"malformed token"}},
		{name: "expired", url: e.partnerURL, authorization: bearer(expired), realm: partnerAPI, description: []string{"token has expired"}},
		{name: "not yet valid", url: e.partnerURL, authorization: bearer(notYetValid), realm: partnerAPI, description: []string{"token is not valid yet"}},
		{name: "issued in the future", url: e.partnerURL, authorization: bearer(issuedInFuture), realm: partnerAPI, description: []string{"issued in the future"}},
		{name: "untrusted issuer", url: e.ordersURL, authorization: bearer(untrusted), realm: ordersAPI, description: []string{"issuer is not trusted"}},
		{name: "wrong audience", url: e.ordersURL, authorization: bearer(otherAudience), realm: ordersAPI, description: []string{"not meant for this audience"}},
		{name: "alg none", url: e.ordersURL, authorization: bearer(algNone), realm: ordersAPI, description: []string{"signing algorithm is not allowed"}},
		{name: "HS256 keyed with the public key", url: e.ordersURL, authorization: bearer(hs256), realm: ordersAPI, description: []string{"signing algorithm is not allowed"}},
		{name: "unknown kid", url: e.ordersURL, authorization: bearer(unknownKID), realm: ordersAPI, description: []string{"unknown signing key"}},
		{name: "tampered payload", url: e.ordersURL, authorization: bearer(tampered), realm: ordersAPI, description: []string{"signature verification failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.request(t, "GET", tc.url+"/orders", tc.authorization, tc.extra...)
			answers = append(answers, refused{tc.name, a})
			if len(tc.description) == 0 {
				wantDenied(t, a, http.StatusUnauthorized, map[string]string{"realm": tc.realm})
				// RFC 6750 section 3.1: no error code without a token.
				if _, params, _ := parseChallenge(a.header.Get("WWW-Authenticate")); len(params) != 1 {
					t.Errorf("WWW-Authenticate %q, want the realm alone", a.header.Get("WWW-Authenticate"))
				}
				return
			}
			wantDenied(t, a, http.StatusUnauthorized, invalidToken(tc.realm), tc.description...)
		})
	}
	// The expired token is refused again, from the cache or not.
	wantDenied(t, e.request(t, "GET", e.partnerURL+"/orders", bearer(expired)), http.StatusUnauthorized, invalidToken(partnerAPI), "expired")

	t.Run("challenges use only the characters RFC 6750 allows", func(t *testing.T) {
		for _, r := range answers {
			www := r.a.header.Get("WWW-Authenticate")
			_, params, err := parseChallenge(www)
			if err != nil {
				t.Errorf("%s: %v", r.name, err)
				continue
			}
			for _, name := range []string{"error", "error_description"} {
				for i, c := range []byte(params[name]) {
					if c < 0x20 || c == 0x22 || c == 0x5c || c > 0x7e {
						t.Errorf("%s: %s %q has %q at %d, outside RFC 6750's set", r.name, name, params[name], c, i)
						break
					}
				}
			}
		}
	})
}

// invalidToken is the challenge of a 401 for a bad token.
func invalidToken(realm string) map[string]string {
	return map[string]string{"realm": realm, "error": "invalid_token"}
}

// insufficientScope is the challenge of a 403 for missing scopes or
// permissions; scope is left out of the comparison when empty.
func insufficientScope(realm, scope string) map[string]string {
	m := map[string]string{"realm": realm, "error": "insufficient_scope"}
	if scope != "" {
		m["scope"] = scope
	}
	return m
}

// embeddedJWKS fetches the embedded server's published keys.
func (e *edge) embeddedJWKS(t *testing.T) jwk.Set {
	t.Helper()
	resp, err := e.caddy.Client.Get(e.embedded.issuer + ".well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func (e *edge) testForbidden(t *testing.T, readOnly, full string) {
	// A plain-dialect token may carry the delete:orders scope, but it has
	// no permissions claim, so the permissions rule denies it.
	deleter := e.embedded.m2m(t, "orders-deleter", ordersAPI, "read:orders", "create:orders", "delete:orders")
	plainDelete := e.embedded.token(t, deleter, ordersAPI, "delete:orders")
	if _, claims := segments(t, plainDelete); claims["permissions"] != nil || claims["scope"] != "delete:orders" {
		t.Fatalf("plain dialect token claims %v", claims)
	}
	// The access_token_authz API adds permissions (the granted scopes).
	rbac := e.embedded.m2m(t, "rbac-deleter", authzAPI, "read:orders", "delete:orders")
	rbacDelete := e.embedded.token(t, rbac, authzAPI, "read:orders", "delete:orders")
	rbacRead := e.embedded.token(t, rbac, authzAPI, "read:orders")
	if _, claims := segments(t, rbacDelete); fmt.Sprint(claims["permissions"]) != "[read:orders delete:orders]" {
		t.Fatalf("authz dialect token permissions = %v", claims["permissions"])
	}

	for _, tc := range []struct {
		name, method, url, token string
		status                   int
		challenge                map[string]string
	}{
		{name: "POST with a read-only token", method: "POST", url: e.ordersURL + "/orders", token: readOnly, status: 403, challenge: insufficientScope(ordersAPI, "create:orders")},
		{name: "POST with a create token", method: "POST", url: e.ordersURL + "/orders", token: full, status: 200},
		{name: "DELETE without the permission", method: "DELETE", url: e.ordersURL + "/orders/1", token: full, status: 403, challenge: insufficientScope(ordersAPI, "")},
		{name: "DELETE with the scope but no permissions claim", method: "DELETE", url: e.ordersURL + "/orders/1", token: plainDelete, status: 403, challenge: insufficientScope(ordersAPI, "")},
		{name: "DELETE with the permission", method: "DELETE", url: e.authzURL + "/orders/1", token: rbacDelete, status: 200},
		{name: "DELETE with permissions lacking delete:orders", method: "DELETE", url: e.authzURL + "/orders/1", token: rbacRead, status: 403, challenge: insufficientScope(authzAPI, "")},
		{name: "GET needs read:orders", method: "GET", url: e.ordersURL + "/orders", token: plainDelete, status: 403, challenge: insufficientScope(ordersAPI, "read:orders")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.request(t, tc.method, tc.url, bearer(tc.token))
			if tc.status == 200 {
				wantAllowed(t, a)
				return
			}
			wantDenied(t, a, tc.status, tc.challenge)
		})
	}
}

func (e *edge) testLiveGrants(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, c app)
		scope  string // the scope of the challenge, if any
	}{
		{name: "grant deleted", change: func(t *testing.T, c app) {
			e.embedded.call(t, "DELETE", "client-grants/"+c.grantID, nil, http.StatusNoContent)
		}},
		{name: "read:orders removed from the grant", change: func(t *testing.T, c app) {
			e.embedded.call(t, "PATCH", "client-grants/"+c.grantID, map[string]any{"scope": []string{"create:orders"}}, http.StatusOK)
		}, scope: "read:orders"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.embedded.m2m(t, "grant-"+strings.ReplaceAll(tc.name, " ", "-"), ordersAPI, "read:orders", "create:orders")
			tok := e.embedded.token(t, c, ordersAPI, "read:orders")
			wantAllowed(t, e.request(t, "GET", e.ordersURL+"/orders", bearer(tok)))
			wantAllowed(t, e.request(t, "GET", e.ordersURL+"/orders", bearer(tok))) // now from the token cache
			tc.change(t, c)
			wantDenied(t, e.request(t, "GET", e.ordersURL+"/orders", bearer(tok)), http.StatusForbidden, insufficientScope(ordersAPI, tc.scope))
		})
	}
	// An M2M token of an access_token_authz API carries its scopes as
	// permissions too (as Auth0's RBAC does for client credentials): a
	// permissions line is held to the live grant like a scopes line.
	t.Run("delete:orders removed from the grant of a permissions route", func(t *testing.T) {
		c := e.embedded.m2m(t, "grant-rbac-deleter", authzAPI, "read:orders", "delete:orders")
		tok := e.embedded.token(t, c, authzAPI, "read:orders", "delete:orders")
		wantAllowed(t, e.request(t, "DELETE", e.authzURL+"/orders/1", bearer(tok)))
		wantAllowed(t, e.request(t, "DELETE", e.authzURL+"/orders/1", bearer(tok))) // now from the token cache
		e.embedded.call(t, "PATCH", "client-grants/"+c.grantID, map[string]any{"scope": []string{"read:orders"}}, http.StatusOK)
		wantDenied(t, e.request(t, "DELETE", e.authzURL+"/orders/1", bearer(tok)), http.StatusForbidden, insufficientScope(authzAPI, ""))
		// What the grant still allows, the token still does.
		wantAllowed(t, e.request(t, "GET", e.authzURL+"/orders/1", bearer(tok)))
		// And a grant given back is honoured again, for the same cached token.
		e.embedded.call(t, "PATCH", "client-grants/"+c.grantID, map[string]any{"scope": []string{"read:orders", "delete:orders"}}, http.StatusOK)
		wantAllowed(t, e.request(t, "DELETE", e.authzURL+"/orders/1", bearer(tok)))
	})
}

func (e *edge) testPolicyDirectory(t *testing.T, token string) {
	get := func(t *testing.T, block string) answer {
		t.Helper()
		if block == "" {
			return e.request(t, "GET", e.policyURL+"/orders", bearer(token))
		}
		return e.request(t, "GET", e.policyURL+"/orders", bearer(token), "X-Block", block)
	}
	file := filepath.Join(e.policyDir, "edge.rego")

	t.Run("the directory's policy decides", func(t *testing.T) {
		wantAllowed(t, get(t, ""))
		wantAllowed(t, get(t, "no"))
		a := get(t, "yes")
		wantDenied(t, a, 451, nil)
		// The default policy would have allowed it: same token, same header.
		wantAllowed(t, e.request(t, "GET", e.ordersURL+"/orders", bearer(token), "X-Block", "yes"))
	})

	t.Run("a broken policy leaves the old one in force", func(t *testing.T) {
		writeFile(t, file, brokenPolicy)
		// Checked once with the change and once more without.
		for range 2 {
			e.pollPolicy(t)
			wantDenied(t, get(t, "yes"), 451, nil)
			wantAllowed(t, get(t, ""))
		}
		if !e.logContains(t, "policy does not compile") {
			t.Error("no failed policy reload logged")
		}
		if !e.logContains(t, file+":3") {
			t.Errorf("the failed reload's log does not name %s:3", file)
		}
	})

	t.Run("a fixed policy is picked up", func(t *testing.T) {
		writeFile(t, file, teapotPolicy)
		e.pollPolicy(t)
		wantDenied(t, get(t, "v2"), http.StatusTeapot, nil)
		got := wantAllowed(t, get(t, "yes"))
		// The policy's headers go upstream, but never over the identity.
		if v := got.Headers["X-Policy-Version"]; fmt.Sprint(v) != "[2]" {
			t.Errorf("upstream X-Policy-Version = %q, want the policy's 2", v)
		}
		if v := got.Headers["X-Portcullis-Subject"]; len(v) != 1 || v[0] == "chosen-by-the-policy" {
			t.Errorf("upstream X-Portcullis-Subject = %q, want the token's subject alone", v)
		}
	})

	t.Run("a broken policy at start fails the load", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad")
		if err := os.MkdirAll(bad, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(bad, "edge.rego"), brokenPolicy)
		err := testenv.LoadErr(e.caddyfile(bad))
		if want := filepath.Join(bad, "edge.rego") + ":3"; err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("load error = %v, want one naming %s", err, want)
		}
		// The running configuration is untouched.
		wantAllowed(t, e.request(t, "GET", e.ordersURL+"/orders", bearer(token)))
		wantDenied(t, get(t, "v2"), http.StatusTeapot, nil)
	})
}

// testCachedExpiry presents a token until past its exp (plus the partner
// site's 1s leeway), by the edge's clock: the verified-token cache must not
// outlive it.
func (e *edge) testCachedExpiry(t *testing.T) {
	c := e.remote.m2m(t, "short-lived", partnerAPI, "read:orders")
	tok := e.remote.token(t, c, partnerAPI)
	_, claims := segments(t, tok)
	exp := time.Unix(int64(claims["exp"].(float64)), 0)
	wantAllowed(t, e.request(t, "GET", e.partnerURL+"/orders", bearer(tok)))
	wantAllowed(t, e.request(t, "GET", e.partnerURL+"/orders", bearer(tok))) // cached
	shift := time.Until(exp) + 1500*time.Millisecond
	bearerauth.ShiftClock(shift)
	defer bearerauth.ShiftClock(-shift)
	wantDenied(t, e.request(t, "GET", e.partnerURL+"/orders", bearer(tok)), http.StatusUnauthorized, invalidToken(partnerAPI), "expired")
}

func (e *edge) testRemoteIssuer(t *testing.T) {
	r := e.remote
	c := r.m2m(t, "partner-reader", partnerAPI, "read:orders")
	partner := func(t *testing.T, token string) answer {
		t.Helper()
		return e.request(t, "GET", e.partnerURL+"/orders", bearer(token))
	}

	first := r.token(t, c, partnerAPI)
	got := wantAllowed(t, partner(t, first))
	if s, i := got.Headers["X-Portcullis-Subject"], got.Headers["X-Portcullis-Issuer"]; fmt.Sprint(s) != "["+c.id+"@clients]" || fmt.Sprint(i) != "["+r.issuer+"]" {
		t.Errorf("upstream identity: subject %q, issuer %q", s, i)
	}
	// (The remote client has no grant on the embedded server: remote
	// tokens are not held to its live grants.) A token of the embedded
	// server is not trusted on a site that lists only the remote issuer.
	wantDenied(t, e.request(t, "GET", e.partnerURL+"/orders", bearer(e.embedded.token(t, e.embedded.m2m(t, "local", partnerAPIOnEmbedded(t, e), "read:orders"), partnerAPI))),
		http.StatusUnauthorized, invalidToken(partnerAPI), "issuer is not trusted")

	// First rotation: the new current key was published as next, so the
	// edge may know it already.
	okBefore := e.jwksFetches(t, "ok")
	if _, err := r.server.Keyring().Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	second := r.token(t, c, partnerAPI)
	if kidOf(t, second) == kidOf(t, first) {
		t.Fatal("rotation did not change the signing key")
	}
	wantAllowed(t, partner(t, second))
	t.Logf("after the first rotation: %v JWKS fetches for the token of the new current key (it was published as next)", e.jwksFetches(t, "ok")-okBefore)

	// Second rotation: the new current key was created by the first one,
	// after the edge's last fetch, so the edge must fetch to know it.
	if _, err := r.server.Keyring().Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	okBefore = e.jwksFetches(t, "ok")
	third := r.token(t, c, partnerAPI)
	wantAllowed(t, partner(t, third))
	if after := e.jwksFetches(t, "ok"); after <= okBefore {
		t.Errorf("a token of an unseen kid was accepted without a JWKS fetch (%v, then %v)", okBefore, after)
	}
	// The first key is now revoked and no longer published: its token,
	// though cached, is refused.
	wantDenied(t, partner(t, first), http.StatusUnauthorized, invalidToken(partnerAPI), "unknown signing key")
	// The previous key is still published.
	wantAllowed(t, partner(t, second))

	// Issued now, presented only once the server is gone.
	unseen := r.token(t, c, partnerAPI)
	r.http.Close()
	// The partner site's unknown_key_refetch is 1ns: a token with an
	// unknown kid makes the edge try, and fail, to fetch at once.
	errBefore := e.jwksFetches(t, "error")
	stranger := sign(t, jwa.RS256, newRSAKey(t), map[string]any{"kid": "rotated-in-elsewhere", "typ": "JWT"},
		m2mClaims(r.issuer, partnerAPI, c.id, time.Now(), time.Hour))
	wantDenied(t, partner(t, stranger), http.StatusUnauthorized, invalidToken(partnerAPI), "unknown signing key")
	if after := e.jwksFetches(t, "error"); after <= errBefore {
		t.Errorf("no failed JWKS fetch recorded after the issuer stopped (%v, then %v)", errBefore, after)
	}
	// The last good keys still verify the issuer's tokens.
	wantAllowed(t, partner(t, unseen))
	wantAllowed(t, partner(t, third))
}

// partnerAPIOnEmbedded defines the partner API on the embedded server too,
// so that it can issue a token for it.
func partnerAPIOnEmbedded(t *testing.T, e *edge) string {
	t.Helper()
	e.embedded.call(t, "POST", "resource-servers", map[string]any{
		"name": "Partner on the embedded server", "identifier": partnerAPI, "scopes": []map[string]string{{"value": "read:orders"}},
	}, http.StatusCreated)
	return partnerAPI
}

func (e *edge) testMetrics(t *testing.T, token string) {
	// Traffic of each kind, so that this step stands on its own.
	e.request(t, "GET", e.ordersURL+"/orders", "")
	fresh := e.embedded.token(t, e.embedded.m2m(t, "metrics", ordersAPI, "read:orders"), ordersAPI, "read:orders")
	wantAllowed(t, e.request(t, "GET", e.ordersURL+"/orders", bearer(fresh)))
	wantAllowed(t, e.request(t, "GET", e.ordersURL+"/orders", bearer(fresh)))
	wantDenied(t, e.request(t, "DELETE", e.ordersURL+"/orders/1", bearer(token)), http.StatusForbidden, insufficientScope(ordersAPI, ""))

	s := e.scrape(t)
	for _, tc := range []struct {
		name   string
		series string
		labels map[string]string
	}{
		{"allow decisions", "portcullis_bearer_decisions_total", map[string]string{"result": "allow", "reason": "allowed"}},
		{"deny decisions", "portcullis_bearer_decisions_total", map[string]string{"result": "deny", "reason": "insufficient permissions"}},
		{"custom policy denials", "portcullis_bearer_decisions_total", map[string]string{"result": "deny", "reason": "blocked"}},
		{"revoked grants", "portcullis_bearer_decisions_total", map[string]string{"result": "deny", "reason": "client grant revoked"}},
		{"missing tokens", "portcullis_bearer_verification_failures_total", map[string]string{"cause": "missing"}},
		{"expired tokens", "portcullis_bearer_verification_failures_total", map[string]string{"cause": "expired"}},
		{"not yet valid tokens", "portcullis_bearer_verification_failures_total", map[string]string{"cause": "not_yet_valid"}},
		{"untrusted issuers", "portcullis_bearer_verification_failures_total", map[string]string{"cause": "untrusted_issuer"}},
		{"wrong audiences", "portcullis_bearer_verification_failures_total", map[string]string{"cause": "wrong_audience"}},
		{"unknown kids", "portcullis_bearer_verification_failures_total", map[string]string{"cause": "unknown_kid"}},
		{"disallowed algorithms", "portcullis_bearer_verification_failures_total", map[string]string{"cause": "algorithm"}},
		{"bad signatures", "portcullis_bearer_verification_failures_total", map[string]string{"cause": "signature"}},
		{"malformed", "portcullis_bearer_verification_failures_total", map[string]string{"cause": "malformed"}},
		{"cache hits", "portcullis_bearer_token_cache_total", map[string]string{"result": "hit"}},
		{"cache misses", "portcullis_bearer_token_cache_total", map[string]string{"result": "miss"}},
		{"good JWKS fetches", "portcullis_jwks_fetches_total", map[string]string{"issuer": e.remote.issuer, "result": "ok"}},
		{"failed JWKS fetches", "portcullis_jwks_fetches_total", map[string]string{"issuer": e.remote.issuer, "result": "error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v := total(s, tc.series, tc.labels); v <= 0 {
				t.Errorf("%s%v = %v, want > 0", tc.series, tc.labels, v)
			}
		})
	}
}

// testCauseFromKID sends a token whose only fault is an unknown kid, a
// kid that happens to contain the word "expired".
func (e *edge) testCauseFromKID(t *testing.T) {
	cause := func(s []sample, c string) float64 {
		return total(s, "portcullis_bearer_verification_failures_total", map[string]string{"cause": c})
	}
	before := e.scrape(t)
	tok := sign(t, jwa.RS256, newRSAKey(t), map[string]any{"kid": "key-expired-2024", "typ": "JWT"},
		m2mClaims(e.embedded.issuer, ordersAPI, "someone", time.Now(), time.Hour))
	wantDenied(t, e.request(t, "GET", e.ordersURL+"/orders", bearer(tok)), http.StatusUnauthorized, invalidToken(ordersAPI), "unknown signing key")
	after := e.scrape(t)
	if d := cause(after, "unknown_kid") - cause(before, "unknown_kid"); d != 1 {
		t.Errorf("unknown_kid failures grew by %v, want 1", d)
	}
	if d := cause(after, "expired") - cause(before, "expired"); d != 0 {
		t.Errorf("expired failures grew by %v for a token that has not expired", d)
	}
}

func (e *edge) testLogs(t *testing.T, decisionID string) {
	// A reload writes every decision line the old handlers still hold.
	testenv.Load(t, e.caddyfile(e.policyDir))
	raw, err := os.ReadFile(e.logPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.presented) < 20 {
		t.Fatalf("only %d tokens presented", len(e.presented))
	}
	for _, tok := range e.presented {
		// The signature alone is enough to tell a token was logged.
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if len(sig) < 20 {
			sig = tok
		}
		if strings.Contains(string(raw), sig) {
			t.Errorf("the log holds the token %.20s…", tok)
		}
	}
	if decisionID == "" {
		t.Skip("no decision id from the first step")
	}
	found := false
	for _, line := range strings.Split(string(raw), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil || entry["msg"] != "decision" || entry["decision_id"] != decisionID {
			continue
		}
		found = true
		if entry["result"] != "allow" || entry["status"] != float64(200) {
			t.Errorf("decision log entry %v", entry)
		}
	}
	if !found {
		t.Errorf("no decision log entry with the upstream's decision id %s", decisionID)
	}
}
