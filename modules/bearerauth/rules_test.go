package bearerauth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis-gw/portcullis/authserver/bearer"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
)

// request is a request as Caddy hands it to handlers, with a replacer.
func request(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
}

func provisioned(t testing.TB, rules ...Rule) []Rule {
	t.Helper()
	for i := range rules {
		if err := rules[i].provision(caddy.Context{}); err != nil {
			t.Fatal(err)
		}
	}
	return rules
}

func TestRuleMatches(t *testing.T) {
	for _, tc := range []struct {
		method, pattern, reqMethod, path string
		want                             bool
	}{
		{"GET", "/orders", "GET", "/orders", true},
		{"GET", "/orders", "GET", "/orders/", true},
		{"GET", "/orders/", "GET", "/orders", true},
		{"GET", "/orders", "GET", "/orders/1", false},
		{"GET", "/orders", "GET", "/ORDERS", true},
		{"GET", "/orders*", "GET", "/orders", true},
		{"GET", "/orders*", "GET", "/orders/1/items", true},
		{"GET", "/orders*", "GET", "/ordersx", true},
		{"GET", "/orders/*", "GET", "/orders/1/items", true},
		{"GET", "/orders/*", "GET", "/orders", false},
		{"GET", "*.json", "GET", "/a/b.json", true},
		{"GET", "*admin*", "GET", "/x/admin/y", true},
		{"GET", "/orders/*/items", "GET", "/orders/7/items", true},
		{"GET", "/orders/*/items", "GET", "/orders/7/8/items", false},
		{"GET", "*", "GET", "/anything", true},
		{"GET", "/", "GET", "/", true},
		{"GET", "/orders/1", "GET", "/orders%2F1", true},
		{"GET", "/orders%2F1", "GET", "/orders%2F1", true},
		{"GET", "/orders%2F1", "GET", "/orders/1", false},
		{"GET", "/orders*", "HEAD", "/orders", true},
		{"GET", "/orders*", "POST", "/orders", false},
		{"HEAD", "/orders*", "GET", "/orders", false},
		{"POST", "/orders*", "POST", "/orders", true},
		{"POST", "/orders*", "post", "/orders", false},
		{"*", "/orders*", "PROPFIND", "/orders", true},
		{"*", "*", "OPTIONS", "*", true},
		{"*", "/*", "OPTIONS", "*", false},
	} {
		rule := provisioned(t, Rule{Method: tc.method, Path: tc.pattern, Scopes: []string{"s"}})[0]
		if got := rule.matches(request(tc.reqMethod, tc.path)); got != tc.want {
			t.Errorf("rule %s %s matches %s %s = %v, want %v", tc.method, tc.pattern, tc.reqMethod, tc.path, got, tc.want)
		}
	}
}

func TestRequirements(t *testing.T) {
	rules := provisioned(t,
		Rule{Method: "GET", Path: "/orders*", Scopes: []string{"read:orders"}},
		Rule{Method: "POST", Path: "/orders*", Scopes: []string{"create:orders"}},
		Rule{Method: "DELETE", Path: "/orders/*", Permissions: []string{"delete:orders"}},
		Rule{Method: "*", Path: "/orders/admin*", Scopes: []string{"admin", "read:orders"}},
		Rule{Method: "PATCH", Path: "/orders/*", Scopes: []string{"write:orders", "write:orders"}, Permissions: []string{"edit", "edit"}},
	)
	for _, tc := range []struct {
		name, method, path string
		scopes, perms      []string
	}{
		{"get", "GET", "/orders/1", []string{"read:orders"}, []string{}},
		{"head", "HEAD", "/orders/1", []string{"read:orders"}, []string{}},
		{"post", "POST", "/orders", []string{"create:orders"}, []string{}},
		{"delete needs a permission", "DELETE", "/orders/1", []string{}, []string{"delete:orders"}},
		{"all matching rules add up, each once", "GET", "/orders/admin/x", []string{"read:orders", "admin"}, []string{}},
		{"case does not hide a path", "GET", "/ORDERS/1", []string{"read:orders"}, []string{}},
		{"no rule", "GET", "/health", []string{}, []string{}},
		{"one rule naming a scope twice", "PATCH", "/orders/1", []string{"write:orders"}, []string{"edit"}},
		{"and with another rule", "PATCH", "/orders/admin", []string{"admin", "read:orders", "write:orders"}, []string{"edit"}},
		{"other method", "PUT", "/orders/1", []string{}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, p := requirements(rules, request(tc.method, tc.path))
			if !slices.Equal(s, tc.scopes) || !slices.Equal(p, tc.perms) {
				t.Fatalf("requirements = %q %q, want %q %q", s, p, tc.scopes, tc.perms)
			}
		})
	}
}

func TestRuleMethod(t *testing.T) {
	h2WebSocket := request("CONNECT", "/chat")
	h2WebSocket.ProtoMajor, h2WebSocket.Proto = 2, "HTTP/2.0"
	h2WebSocket.Header.Set(":protocol", "websocket")
	h2Other := request("CONNECT", "/udp")
	h2Other.ProtoMajor, h2Other.Proto = 2, "HTTP/2.0"
	h2Other.Header.Set(":protocol", "connect-udp")
	h3WebSocket := request("CONNECT", "/chat")
	h3WebSocket.ProtoMajor, h3WebSocket.Proto = 3, "websocket"
	h1Pretender := request("CONNECT", "/chat")
	h1Pretender.Header.Set(":protocol", "websocket")
	for _, tc := range []struct {
		name string
		r    *http.Request
		want string // "" for refused
	}{
		{"GET", request("GET", "/"), "GET"},
		{"HEAD", request("HEAD", "/"), "HEAD"},
		{"an unregistered method", request("PURGE", "/"), "PURGE"},
		{"a WebSocket over HTTP/2", h2WebSocket, "GET"},
		{"a WebSocket over HTTP/3", h3WebSocket, "GET"},
		{"another extended CONNECT", h2Other, ""},
		{":protocol over HTTP/1.1", h1Pretender, ""},
		{"CONNECT", request("CONNECT", "/"), ""},
		{"TRACE", request("TRACE", "/"), ""},
		{"get", request("get", "/"), ""},
		{"Post", request("Post", "/"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ruleMethod(tc.r)
			if tc.want == "" {
				if !errors.Is(err, errMethod) {
					t.Fatalf("ruleMethod = %q, %v; want errMethod", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ruleMethod = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCheckPath(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		ok             bool
	}{
		{"GET", "/", true},
		{"GET", "/orders/1", true},
		{"GET", "/orders/1/", true},
		{"GET", "/.well-known/jwks.json", true},
		{"GET", "/a.b/c", true},
		{"GET", "/orders%2F1", true},
		{"GET", "/100%25", true},
		{"GET", "/100%25x", true},
		{"OPTIONS", "*", true},
		{"GET", "*", false},
		{"GET", "//orders", false},
		{"GET", "/orders//1", false},
		{"GET", "/./orders", false},
		{"GET", "/a/../orders", false},
		{"GET", "/a/%2e%2e/orders", false},
		{"GET", "/a%2F..%2Forders", false},
		{"GET", "/orders/.", false},
		{"GET", "/orders;x", false},
		{"GET", "/..;/orders", false},
		{"GET", "/a%5Corders", false},
		{"GET", "/orders.", false},
		{"GET", "/orders./1", false},
		{"GET", "/orders%20", false},
		{"GET", "/orders%20/1", false},
		{"GET", "/.../orders", false},
		{"GET", "/orders%00", false},
		{"GET", "/orders%7F", false},
		{"GET", "/orders%252e", false},
		{"GET", "/orders%2541", false},
	} {
		err := checkPath(request(tc.method, tc.target))
		if (err == nil) != tc.ok {
			t.Errorf("checkPath(%s %s) = %v, want ok %v", tc.method, tc.target, err, tc.ok)
		}
	}
	// Absolute form, and a target with no path.
	for _, tc := range []struct {
		r  *http.Request
		ok bool
	}{
		{&http.Request{Method: "GET", RequestURI: "https://h/orders", URL: &url.URL{Scheme: "https", Host: "h", Path: "/orders"}}, true},
		{&http.Request{Method: "GET", RequestURI: "https://h", URL: &url.URL{Scheme: "https", Host: "h"}}, false},
		{&http.Request{Method: "GET", RequestURI: "/a#/../orders", URL: &url.URL{Path: "/a#/../orders"}}, false},
	} {
		if err := checkPath(tc.r); (err == nil) != tc.ok {
			t.Errorf("checkPath(%s) = %v, want ok %v", tc.r.RequestURI, err, tc.ok)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	for _, r := range []Rule{
		{Method: "", Path: "/a", Scopes: []string{"x"}},
		{Method: "get", Path: "/a", Scopes: []string{"x"}},
		{Method: "GET,POST", Path: "/a", Scopes: []string{"x"}},
		{Method: "GET|POST", Path: "/a", Scopes: []string{"x"}},
		{Method: "GET POST", Path: "/a", Scopes: []string{"x"}},
		{Method: "CONNECT", Path: "/a", Scopes: []string{"x"}},
		{Method: "TRACE", Path: "/a", Scopes: []string{"x"}},
		{Method: "GET", Path: "a", Scopes: []string{"x"}},
		{Method: "GET", Path: "/a[", Scopes: []string{"x"}},
		{Method: "GET", Path: "//a*", Scopes: []string{"x"}},
		{Method: "GET", Path: "/a"},
	} {
		if err := r.validate(); err == nil {
			t.Errorf("rule %+v validated", r)
		}
	}
	for _, r := range []Rule{
		{Method: "*", Path: "/a", Scopes: []string{"x"}},
		{Method: "PROPFIND", Path: "*", Scopes: []string{"x"}},
		{Method: "VERSION-CONTROL", Path: "/a*", Permissions: []string{"x"}},
	} {
		if err := r.validate(); err != nil {
			t.Errorf("rule %+v: %v", r, err)
		}
	}
}

func TestIsIdentityHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Portcullis-Subject": true,
		"x-portcullis-scope":   true,
		"X-Portcullis_Subject": true,
		"X_Portcullis.Scope":   true,
		"X-Portcullis":         false,
		"X-Forwarded-For":      false,
		"Authorization":        false,
	} {
		if got := isIdentityHeader(name); got != want {
			t.Errorf("isIdentityHeader(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestAuthenticateRefusesBeforeVerifying(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{cache: newTokenCache(10), now: time.Now, issuers: map[string]*issuer{}, metrics: m}
	h.guard = &bearer.Guard[*verified]{Verify: h.verify, Certificate: h.requestCertificate}
	for _, tc := range []struct {
		name, authorization, want string
	}{
		{"oversized token", "Bearer " + strings.Repeat("a", tokens.MaxTokenSize+1), "too large"},
		{"empty token", "Bearer ", "empty bearer token"},
		{"basic scheme", "Basic abc", "exactly one Bearer token"},
		{"untrusted issuer", "Bearer " + unsignedToken(`{"iss":"https://elsewhere.example/"}`), "not trusted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", tc.authorization)
			_, err := h.guard.Authenticate(r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("authenticate = %v, want %q", err, tc.want)
			}
		})
	}
}

func unsignedToken(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256","kid":"k"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

// identity_headers in JSON: unset is all five, an empty list none, and an
// unknown or repeated name stops the config.
func TestProvisionIdentityHeaders(t *testing.T) {
	for _, tc := range []struct {
		names *[]string
		want  []string
		err   string
	}{
		{nil, []string{"X-Portcullis-Subject", "X-Portcullis-Client-Id", "X-Portcullis-Scope", "X-Portcullis-Issuer", "X-Portcullis-Decision-Id"}, ""},
		{&[]string{}, nil, ""},
		{&[]string{"decision_id", "issuer"}, []string{"X-Portcullis-Decision-Id", "X-Portcullis-Issuer"}, ""},
		{&[]string{"subject", "Subject"}, nil, `unknown header "Subject"`},
		{&[]string{"issuer", "issuer"}, nil, "issuer is listed twice"},
	} {
		h := &Handler{IdentityHeaderNames: tc.names}
		err := h.provisionIdentityHeaders()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.names, err, tc.err)
			}
			continue
		}
		var got []string
		for _, ih := range h.identity {
			got = append(got, ih.header)
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%v: headers %q, %v; want %q", tc.names, got, err, tc.want)
		}
	}
}
