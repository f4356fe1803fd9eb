package bearerauth

import (
	"encoding/base64"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis-gw/portcullis/authserver/bearer"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
)

func TestMatchPath(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"/orders", "/orders", true},
		{"/orders", "/orders/1", false},
		{"/orders*", "/orders", true},
		{"/orders*", "/orders/1/items", true},
		{"/orders*", "/ordersx", true},
		{"/orders/*", "/orders/1/items", true},
		{"/orders/*", "/orders", false},
		{"*.json", "/a/b.json", true},
		{"*admin*", "/x/admin/y", true},
		{"/orders/*/items", "/orders/7/items", true},
		{"/orders/*/items", "/orders/7/8/items", false},
		{"*", "/anything", true},
	} {
		if got := matchPath(tc.pattern, tc.path); got != tc.want {
			t.Errorf("matchPath(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

func TestRequirements(t *testing.T) {
	rules := []Rule{
		{Method: "GET", Path: "/orders*", Scopes: []string{"read:orders"}},
		{Method: "POST", Path: "/orders*", Scopes: []string{"create:orders"}},
		{Method: "DELETE", Path: "/orders/*", Permissions: []string{"delete:orders"}},
		{Method: "*", Path: "/orders/admin*", Scopes: []string{"admin", "read:orders"}},
	}
	for _, tc := range []struct {
		name, method, path string
		scopes, perms      []string
	}{
		{"get", "GET", "/orders/1", []string{"read:orders"}, []string{}},
		{"post", "POST", "/orders", []string{"create:orders"}, []string{}},
		{"delete needs a permission", "DELETE", "/orders/1", []string{}, []string{"delete:orders"}},
		{"all matching rules add up, each once", "GET", "/orders/admin/x", []string{"read:orders", "admin"}, []string{}},
		{"case does not hide a path", "GET", "/ORDERS/1", []string{"read:orders"}, []string{}},
		{"no rule", "GET", "/health", []string{}, []string{}},
		{"other method", "PUT", "/orders/1", []string{}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, p := requirements(rules, tc.method, cleanPath(tc.path))
			if !slices.Equal(s, tc.scopes) || !slices.Equal(p, tc.perms) {
				t.Fatalf("requirements = %q %q, want %q %q", s, p, tc.scopes, tc.perms)
			}
		})
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "/",
		"/orders/../admin":  "/admin",
		"//orders//1":       "/orders/1",
		"/orders/./1/":      "/orders/1/",
		"/a/b/../../../etc": "/etc",
	} {
		if got := cleanPath(in); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	for _, r := range []Rule{
		{Method: "", Path: "/a", Scopes: []string{"x"}},
		{Method: "get", Path: "/a", Scopes: []string{"x"}},
		{Method: "GET", Path: "a", Scopes: []string{"x"}},
		{Method: "GET", Path: "/a[", Scopes: []string{"x"}},
		{Method: "GET", Path: "/a"},
	} {
		if err := r.validate(); err == nil {
			t.Errorf("rule %+v validated", r)
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
