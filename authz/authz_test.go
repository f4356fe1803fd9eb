package authz

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/policies"
)

func policy(src string) fstest.MapFS {
	return fstest.MapFS{"p.rego": {Data: []byte("package portcullis.authz\n" + src)}}
}

func input() *Input {
	return &Input{
		Request: Request{Method: "GET", Path: "/orders", Host: "api", Header: http.Header{"X-Trace": {"1"}, "Authorization": {"Bearer secret"}}, RawQuery: "q=a&q=b"},
		Token:   &Token{Subject: "c1@clients", ClientID: "c1", Scopes: []string{"read:orders"}, Permissions: []string{}, IsM2M: true, LocalIssuer: true},
		Route:   Route{RequiredScopes: []string{"read:orders"}},
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"syntax error names file and line", fstest.MapFS{"dir/bad.rego": {Data: []byte("package portcullis.authz\n\ndecision := {\"allow\" true}\n")}}, "policies/dir/bad.rego:3"},
		{"compile error names file and line", policy("decision := x if { y == 1 }\n"), "policies/p.rego:2"},
		{"no rego files", fstest.MapFS{"README": {Data: []byte("x")}}, "no .rego files"},
		{"only tests", fstest.MapFS{"a_test.rego": {Data: []byte("package x\n")}}, "no .rego files"},
		{"bad data.json", fstest.MapFS{"p.rego": {Data: []byte("package portcullis.authz\n")}, "data.json": {Data: []byte("{")}}, "data.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(t.Context(), tc.fsys, "policies")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDecideFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"undefined", `decision := {"allow": true} if { false }`, "undefined decision"},
		{"not an object", `decision := true`, "not an object"},
		{"allow not boolean", `decision := {"allow": "yes"}`, "boolean allow"},
		{"status not a number", `decision := {"allow": false, "status": "403"}`, "status"},
		{"header not a string", `decision := {"allow": true, "headers": {"x-a": 1}}`, "header"},
		{"header with a newline", `decision := {"allow": true, "headers": {"x-a": "a\nb"}}`, "header"},
		{"conflicting rules", "decision := {\"allow\": true}\ndecision := {\"allow\": false} if { input.token.is_m2m }", "evaluating policy"},
		{"division by zero leaves it undefined", `decision := {"allow": 1 / 0 > 0}`, "undefined decision"},
		{"timeout", `decision := {"allow": count([x | some x in numbers.range(1, 100000000)]) > 0}`, "evaluating policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load(t.Context(), policy(tc.src), "")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			d, err := p.Decide(ctx, input())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decide error = %v, want %q", err, tc.want)
			}
			if d.Allow || d.Status != 403 {
				t.Fatalf("failed decision %+v does not deny", d)
			}
		})
	}
}

func TestDecideReadsTheDecision(t *testing.T) {
	p, err := Load(t.Context(), fstest.MapFS{
		"p.rego": {Data: []byte(`package portcullis.authz
decision := {"allow": false, "status": 429, "reason": "quota", "error": "insufficient_scope", "scope": "a b"} if {
	input.request.headers["x-trace"] == "1"
	not input.request.headers.authorization
	input.request.query.q == ["a", "b"]
	input.route.required_scopes == ["read:orders"]
	input.token.client_id == data.blocked
	input.client_grant == null
	input.client_cert == null
}`)},
		"data.json": {Data: []byte(`{"blocked": "c1"}`)},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Decide(t.Context(), input())
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow || d.Status != 429 || d.Reason != "quota" || d.Error != "insufficient_scope" || d.Scope != "a b" {
		t.Fatalf("decision = %+v", d)
	}
}

func TestDefaultPolicy(t *testing.T) {
	p, err := Load(t.Context(), policies.Default, "policies")
	if err != nil {
		t.Fatal(err)
	}
	in := input()
	if d, err := p.Decide(t.Context(), in); err != nil || d.Allow || d.Reason != "client grant revoked" {
		t.Fatalf("M2M token without grant: %+v, %v", d, err)
	}
	in.ClientGrant = &Grant{ID: "cgr_1", ClientID: "c1", Audience: "api", Scopes: []string{"read:orders"}}
	if d, err := p.Decide(t.Context(), in); err != nil || !d.Allow {
		t.Fatalf("M2M token with grant: %+v, %v", d, err)
	}
	in.Route.RequiredScopes = []string{"write:orders"}
	in.ClientGrant.Scopes = []string{"read:orders", "write:orders"}
	if d, err := p.Decide(t.Context(), in); err != nil || d.Allow || d.Error != "insufficient_scope" || d.Scope != "write:orders" {
		t.Fatalf("missing scope: %+v, %v", d, err)
	}
}

func TestMemo(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		memo      bool
	}{
		{"deterministic", `decision := {"allow": input.token.is_m2m}`, true},
		{"time in a call term", `decision := {"allow": time.now_ns() > 0}`, false},
		{"random in a statement", "decision := {\"allow\": true} if { rand.intn(\"x\", 10, n); n >= 0 }", false},
		{"http.send", `decision := {"allow": http.send({"method": "GET", "url": "http://127.0.0.1:1/"}).status_code == 200}`, false},
		{"reads a header", `decision := {"allow": input.request.headers["x-a"] == "1"}`, false},
		{"reads all of the request", `decision := {"allow": count(input.request) > 0}`, false},
		{"reads the query", `decision := {"allow": input.request.query.q == ["a"]}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load(t.Context(), policy(tc.src), "")
			if err != nil {
				t.Fatal(err)
			}
			if p.memoizable != tc.memo {
				t.Fatalf("memoizable = %v, want %v", p.memoizable, tc.memo)
			}
		})
	}
	// Decisions are shared by tokens alike only when the policy cannot
	// tell them apart by their claims.
	for _, tc := range []struct {
		name, src string
		shared    bool
	}{
		{"reads described fields", `decision := {"allow": "read" in input.token.scopes}`, true},
		{"reads a claim", `decision := {"allow": input.token.claims.jti != "revoked"}`, false},
		{"reads all the claims", `decision := {"allow": count(input.token.claims) > 0}`, false},
		{"reads the whole token", `decision := {"allow": count(input.token) > 0}`, false},
		{"reads the token through a variable", "decision := {\"allow\": t.claims.jti != \"x\"} if { t := input.token }", false},
		{"reads the token by a computed key", "decision := {\"allow\": input.token[k] == \"x\"} if { k := \"claims\" }", false},
		{"reads the whole input", `decision := {"allow": count(input) > 0}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load(t.Context(), policy(tc.src), "")
			if err != nil {
				t.Fatal(err)
			}
			if shared := p.shared != nil; shared != tc.shared {
				t.Fatalf("decisions shared by tokens alike = %v, want %v", shared, tc.shared)
			}
		})
	}
	if p, err := Load(t.Context(), policies.Default, "policies"); err != nil || p.shared == nil {
		t.Fatalf("the default policy does not share decisions by token shape (%v)", err)
	}
	// The remembered decision is the one for that exact input.
	p, err := Load(t.Context(), policy(`decision := {"allow": input.request.path == "/ok", "reason": input.request.path}`), "")
	if err != nil {
		t.Fatal(err)
	}
	ok, other := input(), input()
	ok.Request.Path, other.Request.Path = "/ok", "/other"
	for range 3 {
		if d, err := p.Decide(t.Context(), ok); err != nil || !d.Allow || d.Reason != "/ok" {
			t.Fatalf("/ok: %+v, %v", d, err)
		}
		if d, err := p.Decide(t.Context(), other); err != nil || d.Allow || d.Reason != "/other" {
			t.Fatalf("/other: %+v, %v", d, err)
		}
	}
	for _, in := range []*Input{ok, other} {
		if n := remembers(in.Token); n != 1 {
			t.Fatalf("the token of %s remembers %d decisions, want 1", in.Request.Path, n)
		}
	}
}

// remembers counts the decisions t remembers.
func remembers(t *Token) int {
	n := 0
	for i := range t.recent {
		if t.recent[i].Load() != nil {
			n++
		}
	}
	return n
}

// A token's remembered decisions answer only the request, route and grant
// they were made for, and only for the policy that made them; past
// RecentDecisions requests, the oldest is forgotten, never mixed up.
func TestRecentDecisions(t *testing.T) {
	p, err := Load(t.Context(), policies.Default, "policies")
	if err != nil {
		t.Fatal(err)
	}
	in := input()
	in.ClientGrant = &Grant{ID: "cgr_1", ClientID: "c1", Audience: "api", Scopes: []string{"read:orders"}}
	decide := func(want bool, what string) {
		t.Helper()
		if d, err := p.Decide(t.Context(), in); err != nil || d.Allow != want {
			t.Fatalf("%s: %+v, %v; want allow %v", what, d, err, want)
		}
	}
	decide(true, "covered route")
	in.Route.RequiredScopes = []string{"write:orders"}
	decide(false, "route needing a scope the token lacks")
	in.Route.RequiredScopes[0] = "read:orders" // changed in place: nothing remembered changes with it
	decide(true, "covered route again")
	in.Route.RequiredScopes = []string{"write:orders"}
	decide(false, "route needing a scope the token lacks, again")
	in.Route.RequiredScopes = []string{"read:orders"}
	in.ClientGrant = &Grant{ID: "cgr_1", ClientID: "c1", Audience: "api", Scopes: []string{}}
	decide(false, "grant without the scope")
	in.ClientGrant = &Grant{ID: "cgr_1", ClientID: "c1", Audience: "api", Scopes: []string{"read:orders"}}
	decide(true, "grant with the scope back")
	if n := remembers(in.Token); n != 3 {
		t.Fatalf("the token remembers %d decisions, want 3", n)
	}
	// More requests than slots: each answer is still its own.
	for round := range 3 {
		for i := range RecentDecisions + 2 {
			in.Request.Path = "/orders/" + strconv.Itoa(i)
			if d, err := p.Decide(t.Context(), in); err != nil || !d.Allow {
				t.Fatalf("round %d, %s: %+v, %v", round, in.Request.Path, d, err)
			}
		}
	}
	if n := remembers(in.Token); n != RecentDecisions {
		t.Fatalf("the token remembers %d decisions, want %d", n, RecentDecisions)
	}

	// A new policy does not answer with the old one's decisions.
	deny, err := Load(t.Context(), policy(`decision := {"allow": false, "reason": "closed"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := deny.Decide(t.Context(), in); err != nil || d.Allow || d.Reason != "closed" {
		t.Fatalf("new policy: %+v, %v", d, err)
	}
	decide(true, "the first policy again")
}

// Concurrent requests with one token each get their own decision.
func TestRecentDecisionsConcurrent(t *testing.T) {
	token := input().Token
	decideConcurrently(t, func(g, i int) *Token { return token })
}

// decideConcurrently decides, from 4 goroutines at once, 200 requests each
// with token(goroutine, request) on 7 paths, with a policy that answers the
// path: each must get its own path back.
func decideConcurrently(t *testing.T, token func(g, i int) *Token) {
	t.Helper()
	p, err := Load(t.Context(), policy(`decision := {"allow": true, "reason": input.request.path}`), "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				in := input()
				in.Token = token(g, i)
				in.Request.Path = "/p/" + strconv.Itoa((g+i)%7)
				if d, err := p.Decide(t.Context(), in); err != nil || d.Reason != in.Request.Path {
					t.Errorf("%s: %+v, %v", in.Request.Path, d, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestSameDecisionIsUnambiguous(t *testing.T) {
	a, b := input(), input()
	b.Token = a.Token
	a.Route.RequiredScopes, b.Route.RequiredScopes = []string{"a b"}, []string{"a", "b"}
	if sameDecision(inputUse{}, a, b) {
		t.Fatal("one scope \"a b\" and two scopes a, b decide alike")
	}
	a.Route.RequiredScopes, a.Route.RequiredPermissions = []string{"x"}, nil
	b.Route.RequiredScopes, b.Route.RequiredPermissions = nil, []string{"x"}
	if sameDecision(inputUse{}, a, b) {
		t.Fatal("a scope and a permission of the same name decide alike")
	}
	b.Route = a.Route
	b.Request.RawQuery = "q=other"
	if sameDecision(inputUse{query: true}, a, b) {
		t.Fatal("two queries decide alike for a policy that reads the query")
	}
	if !sameDecision(inputUse{}, a, b) {
		t.Fatal("two queries decide differently for a policy that does not read the query")
	}
	b.Request.RawQuery = a.Request.RawQuery
	b.Token = input().Token // another token, alike in every described field
	if sameDecision(inputUse{claims: true}, a, b) {
		t.Fatal("two tokens decide alike for a policy that reads the claims, which may tell them apart")
	}
	if !sameDecision(inputUse{}, a, b) {
		t.Fatal("two tokens equal in every described field decide differently for a policy that does not read the claims")
	}
}

func TestMemoForgetsNothingItShouldNot(t *testing.T) {
	// A grant losing a scope gets a new decision, not the remembered one.
	p, err := Load(t.Context(), policies.Default, "policies")
	if err != nil {
		t.Fatal(err)
	}
	in := input()
	in.ClientGrant = &Grant{ID: "cgr_1", ClientID: "c1", Audience: "api", Scopes: []string{"read:orders"}}
	if d, _ := p.Decide(t.Context(), in); !d.Allow {
		t.Fatal("covered route denied")
	}
	in.ClientGrant = &Grant{ID: "cgr_1", ClientID: "c1", Audience: "api", Scopes: []string{}}
	if d, _ := p.Decide(t.Context(), in); d.Allow {
		t.Fatal("remembered allow served after the grant lost the scope")
	}
}

// input.token.subject_type tells user tokens from machine-to-machine ones.
func TestSubjectType(t *testing.T) {
	p, err := Load(t.Context(), policy(`decision := {"allow": true, "reason": input.token.subject_type}`), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		m2m  bool
		want string
	}{{true, "client"}, {false, "user"}} {
		in := input()
		in.Token = &Token{Subject: "auth0|u1", ClientID: "app", IsM2M: tc.m2m}
		if d, err := p.Decide(t.Context(), in); err != nil || d.Reason != tc.want {
			t.Errorf("is_m2m %v: subject_type %q, %v; want %q", tc.m2m, d.Reason, err, tc.want)
		}
	}
}

// sameDecisionExclusions are the fields of Input, by path, that
// sameDecision leaves out, each with the reason it is safe.
var sameDecisionExclusions = map[string]string{
	"Request.Header": "a policy that reads input.request.headers is never memoized",
}

// TestSameDecisionCoversEveryInputField: for every field of Input, at any
// depth, two inputs that differ only in it must not decide alike (for a
// policy that reads all a memoized policy may: everything but the
// headers), unless memoKeyExclusions says why not. A field added to Input
// and forgotten in the key would let one input's remembered decision answer
// another.
func TestSameDecisionCoversEveryInputField(t *testing.T) {
	full := Input{
		Request: Request{Method: "GET", Path: "/orders", Host: "api", Header: http.Header{"X-Trace": {"1"}}, RawQuery: "q=a"},
		Token: &Token{Subject: "c1@clients", ClientID: "c1", Issuer: "https://auth/", Scopes: []string{"read"}, Permissions: []string{"delete"},
			CertThumbprint: "thumb", IsM2M: true, LocalIssuer: true},
		Route:       Route{RequiredScopes: []string{"read"}, RequiredPermissions: []string{"delete"}},
		ClientGrant: &Grant{ID: "cgr", ClientID: "c1", Audience: "api", Scopes: []string{"read"}, AllowAllScopes: true},
		ClientCert: &ClientCert{Verified: true, Fingerprint: "f1", Thumbprint: "t1", Subject: "CN=c1", DNSNames: []string{"c1.example"},
			URIs: []string{"spiffe://c1"}, NotAfter: 1},
	}
	uses := inputUse{query: true}
	fields := map[string]bool{}
	forEachVariant(t, reflect.ValueOf(full), "", func(path string, variant reflect.Value) {
		fields[path] = true
		if _, ok := sameDecisionExclusions[path]; ok {
			return
		}
		in := variant.Interface().(Input)
		if sameDecision(uses, &full, &in) {
			t.Errorf("inputs differing only in %s decide alike", path)
		}
	})
	for path := range sameDecisionExclusions {
		if !fields[path] {
			t.Errorf("sameDecisionExclusions names %s, which Input does not have", path)
		}
	}
	if len(fields) < 25 {
		t.Fatalf("only %d fields walked: %v", len(fields), fields)
	}
}

// forEachVariant calls fn, for each exported field of the struct v at any
// depth (through pointers to structs, and for such a pointer itself, nil),
// with a copy of v in which only that field differs. Structs on the way
// are copied and pointers to them point to copies; everything else is
// shared with v.
func forEachVariant(t *testing.T, v reflect.Value, prefix string, fn func(path string, variant reflect.Value)) {
	t.Helper()
	with := func(i int, field reflect.Value) reflect.Value {
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		c.Field(i).Set(field)
		return c
	}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		path, fv := prefix+f.Name, v.Field(i)
		switch {
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct:
			if fv.IsNil() {
				t.Fatalf("%s is nil: set it so its fields are walked", path)
			}
			fn(path, with(i, reflect.Zero(f.Type)))
			forEachVariant(t, fv.Elem(), path+".", func(p string, inner reflect.Value) {
				ptr := reflect.New(inner.Type())
				ptr.Elem().Set(inner)
				fn(p, with(i, ptr))
			})
		case f.Type.Kind() == reflect.Struct:
			forEachVariant(t, fv, path+".", func(p string, inner reflect.Value) { fn(p, with(i, inner)) })
		default:
			fn(path, with(i, changed(t, path, fv)))
		}
	}
}

// changed returns a value of v's type that differs from v.
func changed(t *testing.T, path string, v reflect.Value) reflect.Value {
	t.Helper()
	out := reflect.New(v.Type()).Elem()
	switch {
	case v.Kind() == reflect.String:
		out.SetString(v.String() + "'")
	case v.Kind() == reflect.Bool:
		out.SetBool(!v.Bool())
	case v.CanInt():
		out.SetInt(v.Int() + 1)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		out.Set(reflect.Append(reflect.AppendSlice(reflect.MakeSlice(v.Type(), 0, v.Len()+1), v), reflect.ValueOf("another")))
	case v.Type() == reflect.TypeFor[http.Header]():
		h := http.Header{"X-Another": {"1"}}
		for k, vs := range v.Interface().(http.Header) {
			h[k] = vs
		}
		out.Set(reflect.ValueOf(h))
	default:
		t.Fatalf("%s is a %s, which this test cannot change yet: teach changed how", path, v.Type())
	}
	return out
}

// input.token.claims are the token's claims as it has them: exp a number,
// aud a string when the token has one.
func TestTokenClaims(t *testing.T) {
	p, err := Load(t.Context(), policy(`decision := {"allow": true, "reason": sprintf("%v %v", [input.token.claims.exp + 1, input.token.claims.aud])}`), "")
	if err != nil {
		t.Fatal(err)
	}
	tok := NewToken(&tokens.Claims{Subject: "c1@clients", All: map[string]any{"exp": json.Number("1795686400"), "aud": "https://api/"}}, true)
	in := input()
	in.Token = tok
	if d, err := p.Decide(t.Context(), in); err != nil || d.Reason != "1795686401 https://api/" {
		t.Fatalf("claims: %+v, %v", d, err)
	}
}

// newToken is a verified token of client c1 with the given scopes and jti.
func newToken(jti string, scopes ...string) *Token {
	return NewToken(&tokens.Claims{Subject: "c1@clients", ClientID: "c1", Issuer: "https://auth/", GrantType: "client_credentials",
		Scopes: scopes, All: map[string]any{"jti": jti, "scope": strings.Join(scopes, " ")}}, true)
}

// A token new to the edge is answered with the decision made for an
// earlier token alike in all the policy reads, when the policy does not
// read the claims; a token of the same client with other scopes gets its
// own decision (a policy reading the claims, in every way it can, is
// TestSharedDecisionsNeverHideAClaim's).
func TestSharedDecisions(t *testing.T) {
	p, err := Load(t.Context(), policies.Default, "policies")
	if err != nil {
		t.Fatal(err)
	}
	decide := func(tok *Token, want bool) *remembered {
		t.Helper()
		in := input()
		in.Token = tok
		in.ClientGrant = &Grant{ID: "cgr_1", ClientID: "c1", Audience: "api", Scopes: []string{"read:orders"}}
		if d, err := p.Decide(t.Context(), in); err != nil || d.Allow != want {
			t.Fatalf("token %p: %+v, %v; want allow %v", tok, d, err, want)
		}
		return tok.recent[tok.next.Load()%RecentDecisions].Load()
	}
	first := newToken("jti-1", "read:orders")
	made := decide(first, true)
	if made == nil || made.in.Token != first {
		t.Fatal("the first token's decision is not its own")
	}
	if alike := decide(newToken("jti-2", "read:orders"), true); alike != made {
		t.Fatal("a token alike in all the policy reads was evaluated again, not answered with the first one's decision")
	}
	if narrower := decide(newToken("jti-3"), false); narrower == made || narrower.in.Token.Scopes != nil {
		t.Fatal("a token of the same client without the scope was answered with the first one's decision")
	}
}

// Concurrent requests with many tokens of one shape, on several paths,
// each get the decision for their own path.
func TestSharedDecisionsConcurrent(t *testing.T) {
	var toks [4][200]*Token
	for g := range toks {
		for i := range toks[g] {
			toks[g][i] = newToken(strconv.Itoa(g*1000+i), "read:orders")
		}
	}
	decideConcurrently(t, func(g, i int) *Token { return toks[g][i] })
}

// The token's claims become policy input only when the policy is first
// evaluated for it; claims that cannot be are a policy error, a denial.
func TestUnreadableClaimsDeny(t *testing.T) {
	p, err := Load(t.Context(), policy(`decision := {"allow": true}`), "")
	if err != nil {
		t.Fatal(err)
	}
	in := input()
	in.Token = NewToken(&tokens.Claims{Subject: "c1@clients", All: map[string]any{"x": make(chan int)}}, true)
	if d, err := p.Decide(t.Context(), in); err == nil || d.Allow || d.Status != http.StatusForbidden {
		t.Fatalf("unreadable claims: %+v, %v; want a denial and an error", d, err)
	}
}
