package authz

import (
	"strconv"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/policies"
)

// Every way a policy can read a claim must keep two tokens of one shape
// from sharing decisions: a token whose jti is "revoked" is denied after
// a token of the same client, subject and issuer was allowed.
func TestSharedDecisionsNeverHideAClaim(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
	}{
		{"a claim", policy(`decision := {"allow": input.token.claims.jti != "revoked"}`)},
		{"walk over input", policy(`decision := {"allow": count([v | walk(input, [_, v]); v == "revoked"]) == 0}`)},
		{"object.get on input", policy(`decision := {"allow": object.get(input, ["token", "claims", "jti"], "") != "revoked"}`)},
		{"json.marshal of input", policy(`decision := {"allow": indexof(json.marshal(input), "revoked") == -1}`)},
		{"input.token imported under an alias", policy("import input.token as t\ndecision := {\"allow\": t.claims.jti != \"revoked\"}")},
		{"input.token.claims imported", policy("import input.token.claims\ndecision := {\"allow\": claims.jti != \"revoked\"}")},
		{"a function of the token", policy("f(tok) := tok.claims.jti\ndecision := {\"allow\": f(input.token) != \"revoked\"}")},
		{"iteration over the token", policy("default decision := {\"allow\": true}\ndecision := {\"allow\": false} if { some v in input.token; v.jti == \"revoked\" }")},
		{"every over the token", policy("revoked_claims(\"claims\", v) if v.jti == \"revoked\"\nok if { every k, v in input.token { not revoked_claims(k, v) } }\ndefault decision := {\"allow\": false}\ndecision := {\"allow\": true} if ok")},
		{"a template string", policy("decision := {\"allow\": $\"{input.token.claims.jti}\" != \"revoked\"}")},
		{"a comprehension over input", policy("default decision := {\"allow\": true}\ndecision := {\"allow\": false} if { some x in [input[k] | some k in [\"token\"]]; x.claims.jti == \"revoked\" }")},
		{"a multi-value rule", policy("jtis contains input.token.claims.jti\ndefault decision := {\"allow\": true}\ndecision := {\"allow\": false} if \"revoked\" in jtis")},
		{"a partial object rule", policy("jtis[input.token.claims.jti] := true\ndefault decision := {\"allow\": true}\ndecision := {\"allow\": false} if jtis.revoked")},
		{"another package", fstest.MapFS{
			"p.rego":   {Data: []byte("package portcullis.authz\nimport data.lib\ndefault decision := {\"allow\": true}\ndecision := {\"allow\": false} if lib.revoked")},
			"lib.rego": {Data: []byte("package lib\nrevoked if input.token.claims.jti == \"revoked\"")},
		}},
		// A ref head longer than name[key] keeps its key only in
		// Head.Reference, which ast.WalkRefs does not visit.
		{"a claim in a rule head ref", policy("seen.jti[input.token.claims.jti] := true\ndefault decision := {\"allow\": true}\ndecision := {\"allow\": false} if seen.jti.revoked")},
		{"a claim in a rule head ref of another package", fstest.MapFS{
			"p.rego":   {Data: []byte("package portcullis.authz\nimport data.lib\ndefault decision := {\"allow\": true}\ndecision := {\"allow\": false} if lib.seen.jti.revoked")},
			"lib.rego": {Data: []byte("package lib\nseen.jti[input.token.claims.jti] := true")},
		}},
		{"the whole token in a rule head ref", policy("seen.tok[input.token] := true\ndefault decision := {\"allow\": true}\ndecision := {\"allow\": false} if { some tok, _ in seen.tok; tok.claims.jti == \"revoked\" }")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load(t.Context(), tc.fsys, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				jti   string
				allow bool
			}{{"ok", true}, {"revoked", false}, {"ok-too", true}, {"revoked", false}} {
				in := input()
				in.Token = newToken(c.jti, "read:orders")
				if d, err := p.Decide(t.Context(), in); err != nil || d.Allow != c.allow {
					t.Fatalf("jti %s: %+v, %v; want allow %v (decisions shared: %v)", c.jti, d, err, c.allow, p.shared != nil)
				}
			}
		})
	}
}

// A policy reading a header (or the query) only in a rule head ref is
// given the headers (the query) and is not memoized on them.
func TestRuleHeadRefReadsTheRequest(t *testing.T) {
	p, err := Load(t.Context(), policy("blocked.by[input.request.headers[\"x-block\"]] := true\ndefault decision := {\"allow\": true}\ndecision := {\"allow\": false} if blocked.by[\"1\"]"), "")
	if err != nil {
		t.Fatal(err)
	}
	in := input()
	if d, err := p.Decide(t.Context(), in); err != nil || !d.Allow {
		t.Fatalf("no x-block header: %+v, %v", d, err)
	}
	in.Request.Header.Set("X-Block", "1")
	if d, err := p.Decide(t.Context(), in); err != nil || d.Allow {
		t.Fatalf("x-block: 1 was not seen by the policy: %+v, %v", d, err)
	}

	q, err := Load(t.Context(), policy("wants.q[input.request.query.q[0]] := true\ndefault decision := {\"allow\": false}\ndecision := {\"allow\": true} if wants.q.a"), "")
	if err != nil {
		t.Fatal(err)
	}
	in = input()
	if d, err := q.Decide(t.Context(), in); err != nil || !d.Allow {
		t.Fatalf("q=a: %+v, %v", d, err)
	}
	in.Request.RawQuery = "q=b"
	if d, err := q.Decide(t.Context(), in); err != nil || d.Allow {
		t.Fatalf("q=b answered like q=a: %+v, %v", d, err)
	}
}

// A nondeterministic builtin called only in a rule head ref still makes
// the policy's decisions unfit to remember.
func TestRuleHeadRefNondeterministic(t *testing.T) {
	p, err := Load(t.Context(), policy("at.ns[time.now_ns()] := true\ndecision := {\"allow\": count(at.ns) == 1}"), "")
	if err != nil {
		t.Skipf("a call in a rule head ref does not compile: %v", err)
	}
	if p.memoizable {
		t.Fatal("a policy calling time.now_ns in a rule head ref is memoized")
	}
}

// Many goroutines decide new tokens of one shape that differ in their
// scopes and certificate binding, with grants, certificates and routes
// that vary: each decision is the one the policy makes for its own input,
// never a remembered one of a token or request that decides otherwise.
func TestSharedDecisionsConcurrentMixed(t *testing.T) {
	p, err := Load(t.Context(), policies.Default, "policies")
	if err != nil {
		t.Fatal(err)
	}
	want := func(tokScope, bound bool, grant int, cert bool, route int) string {
		switch {
		case bound && !cert:
			return "certificate-bound token without its certificate"
		case grant == 0:
			return "client grant revoked"
		case route == 1 && grant == 1:
			return "client grant no longer covers the route"
		case route == 1 && !tokScope:
			return "insufficient scope"
		}
		return "allowed"
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 400 {
				n := g*7919 + i*31
				tokScope, bound, grant, cert, route := n%2 == 0, n/2%3 == 0, n/6%3, n/18%2 == 0, n/36%2
				scopes := []string{}
				if tokScope {
					scopes = []string{"read:orders"}
				}
				claims := &tokens.Claims{Subject: "c1@clients", ClientID: "c1", Issuer: "https://auth/", GrantType: "client_credentials",
					Scopes: scopes, All: map[string]any{"jti": strconv.Itoa(n)}}
				if bound {
					claims.CertThumbprint = "thumb"
				}
				tok := NewToken(claims, true)
				in := input()
				in.Token = tok
				in.Route.RequiredScopes = [][]string{{}, {"read:orders"}}[route]
				in.Request.Path = "/p/" + strconv.Itoa(route)
				switch grant {
				case 1:
					in.ClientGrant = &Grant{ID: "cgr_1", ClientID: "c1", Audience: "api", Scopes: []string{}}
				case 2:
					in.ClientGrant = &Grant{ID: "cgr_1", ClientID: "c1", Audience: "api", Scopes: []string{"read:orders"}}
				}
				if cert {
					in.ClientCert = &ClientCert{Verified: true, Thumbprint: "thumb"}
				}
				w := want(tokScope, bound, grant, cert, route)
				if d, err := p.Decide(t.Context(), in); err != nil || d.Reason != w || d.Allow != (w == "allowed") {
					t.Errorf("token scope %v, bound %v, grant %d, cert %v, route %d: %+v, %v; want %q", tokScope, bound, grant, cert, route, d, err, w)
					return
				}
			}
		})
	}
	wg.Wait()
	if p.shared.Len() != 1 {
		t.Errorf("%d token shapes remembered, want 1", p.shared.Len())
	}
}

// A reloaded policy answers neither a token the old one decided for nor a
// new token of the same shape with the old policy's decision, and the old
// policy, still deciding requests in flight, keeps its own.
func TestSharedDecisionsAcrossReload(t *testing.T) {
	open, err := Load(t.Context(), policy(`decision := {"allow": true, "reason": "open"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	closed, err := Load(t.Context(), policy(`decision := {"allow": false, "reason": "closed"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	decide := func(p *Policy, tok *Token, want string) {
		t.Helper()
		in := input()
		in.Token = tok
		if d, err := p.Decide(t.Context(), in); err != nil || d.Reason != want {
			t.Fatalf("%+v, %v; want %s", d, err, want)
		}
	}
	a := newToken("a", "read:orders")
	decide(open, a, "open")
	decide(closed, a, "closed")
	decide(closed, newToken("b", "read:orders"), "closed")
	decide(open, newToken("c", "read:orders"), "open")
	decide(open, a, "open")
}

// Verifying a certificate chain answers with the time (x509 verification
// at the current time), so a policy doing it is not memoized: a remembered
// allow would outlive the chain's expiry.
func TestCertificateVerificationIsNotMemoized(t *testing.T) {
	for _, src := range []string{
		`decision := {"allow": crypto.x509.parse_and_verify_certificates(data.chain)[0]}`,
		`decision := {"allow": crypto.x509.parse_and_verify_certificates_with_options(data.chain, {})[0]}`,
	} {
		p, err := Load(t.Context(), policy(src), "")
		if err != nil {
			t.Fatal(err)
		}
		if p.memoizable {
			t.Errorf("memoized: %s", src)
		}
	}
}
