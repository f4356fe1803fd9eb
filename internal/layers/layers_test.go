// Package layers holds no code: its test checks that every package of
// Portcullis imports only the packages of this module its layer allows,
// as the README's Layout table says. A new package, or a new import
// across layers, fails the test until the rule below names it.
package layers

import (
	"bufio"
	"bytes"
	"os/exec"
	"path"
	"strings"
	"testing"
)

const module = "github.com/portcullis-gw/portcullis"

// mayImport lists, for each package pattern of this module ("x/..."
// matches x and everything below it), the patterns of this module's
// packages its non-test code may import. The first matching row rules;
// every package must match one.
var mayImport = []struct {
	pkg     string
	imports []string
}{
	// The leaves: packages that import nothing of this module.
	{"authserver/access", nil},
	{"authserver/internal/...", nil},
	{"authserver/keys", nil},
	{"authserver/signing", []string{"authserver/keys", "authserver/storage"}},
	{"authserver/redirects", nil},
	{"authserver/sessions", nil},
	{"authserver/ui", nil},
	{"clientcert", nil},
	{"clientcert/...", nil},
	{"internal/...", nil},
	{"policies", nil},

	// The authorization server's parts import each other and the leaves,
	// never the authserver package itself nor anything with Caddy.
	{"authserver/users", []string{"authserver/internal/..."}},
	{"authserver/users/usersearch", []string{"authserver/users"}},
	{"authserver/clients", []string{"authserver/redirects"}},
	{"authserver/tokens", []string{"authserver/access", "authserver/keys"}},
	{"authserver/bearer", []string{"authserver/tokens", "clientcert"}},
	{"authserver/storage", []string{"authserver/access", "authserver/clients", "authserver/keys", "authserver/sessions", "authserver/users"}},
	{"authserver/storage/...", []string{"authserver/access", "authserver/clients", "authserver/keys", "authserver/sessions", "authserver/users", "authserver/storage", "authserver/storage/sqlstore"}},
	{"authserver/tenant", []string{"authserver/clients", "authserver/redirects", "authserver/storage", "authserver/users"}},
	{"authserver/mgmt", []string{"authserver/access", "authserver/bearer", "authserver/clients", "authserver/internal/...", "authserver/keys", "authserver/storage", "authserver/tenant", "authserver/tokens", "authserver/users", "authserver/users/usersearch"}},
	// The authorization server: every part of it, and client certificates.
	{"authserver", []string{"authserver/...", "clientcert", "internal/auditlog", "internal/issuerurl", "internal/spans"}},

	// The edge's libraries: the token verifier, never the server.
	{"authz", []string{"authserver/tokens", "internal/bounded", "internal/spans"}},
	{"remoteissuer", []string{"authserver/tokens", "internal/issuerurl"}},

	// The Caddy adapters and the binary may import anything below them.
	{"modules/...", []string{"authserver", "authserver/...", "authz", "clientcert", "internal/...", "modules/portcullis", "policies", "remoteissuer"}},
	{"cmd/...", []string{"modules/..."}},
}

// testOnly are packages whose job is to run a real Caddy inside tests,
// so they may import the modules; no production package may import them.
var testOnly = map[string][]string{
	"internal/testenv": {"modules/..."},
}

// caddyImporters are the only packages that may import Caddy itself.
var caddyImporters = []string{"modules/...", "cmd/...", "internal/testenv", "internal/caddyfiletest", "internal/caddyfileopt"}

func matches(pattern, pkg string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
	}
	return pattern == pkg
}

func matchesAny(patterns []string, pkg string) bool {
	for _, p := range patterns {
		if matches(p, pkg) {
			return true
		}
	}
	return false
}

func TestImportsFollowTheLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	scanner := bufio.NewScanner(bytes.NewReader(out))
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		pkg, imports := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/"), fields[1:]
		if pkg == "" || pkg == "demo" || pkg == "instances" || pkg == "interop" || matches("internal/layers", pkg) {
			continue // test-only packages with no code of their own
		}
		checked++
		allowed, ruled := rule(pkg)
		if !ruled {
			t.Errorf("%s matches no row of mayImport: add one, and a row to the README's Layout table", pkg)
			continue
		}
		allowed = append(allowed, testOnly[pkg]...)
		for _, imp := range imports {
			if strings.HasPrefix(imp, "github.com/caddyserver/caddy/") && !matchesAny(caddyImporters, pkg) {
				t.Errorf("%s imports Caddy (%s); only %v may", pkg, imp, caddyImporters)
			}
			local, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if !matchesAny(allowed, local) {
				t.Errorf("%s imports %s, which its layer does not allow (it may import %v)", pkg, local, allowed)
			}
			if _, isTestOnly := testOnly[local]; isTestOnly {
				t.Errorf("%s imports %s, which is for tests only", pkg, local)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d packages: is go list's output what this test expects?", checked)
	}
}

func rule(pkg string) ([]string, bool) {
	for _, row := range mayImport {
		if matches(row.pkg, pkg) {
			return row.imports, true
		}
	}
	return nil, false
}

// TestRulesMatchTheirPatterns keeps the helpers above honest.
func TestRulesMatchTheirPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern, pkg string
		want         bool
	}{
		{"authserver/...", "authserver", true},
		{"authserver/...", "authserver/keys", true},
		{"authserver/...", "authserverx", false},
		{"authserver", "authserver/keys", false},
		{"authserver/keys", "authserver/keys", true},
	} {
		if got := matches(c.pattern, c.pkg); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.pattern, c.pkg, got, c.want)
		}
	}
	if _, ok := rule(path.Join("authserver", "nothing")); ok {
		t.Error("an unknown package below authserver matched a rule")
	}
}
