// Package interop_test runs third-party clients against a real Portcullis
// to prove that Auth0's own tooling works with it by changing nothing but
// the domain.
package interop_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// Credentials of the bootstrap admin client the SDK uses for the
// Management API. Test-only values.
const (
	adminClientID     = "interop-admin"
	adminClientSecret = "interop-admin-secret-0123456789abcdef-test-only"
)

// sdkTimeout bounds the whole Node test run.
const sdkTimeout = 3 * time.Minute

// TestAuth0NodeSDK runs interop/auth0-sdk/management.test.mjs, which drives
// Portcullis with Auth0's official Node SDK 4.x (npm package auth0: its
// ManagementClient and AuthenticationClient), configured with nothing but
// the domain and the admin client's credentials.
func TestAuth0NodeSDK(t *testing.T) {
	runNodeTests(t, "auth0-sdk", "auth0", "management.test.mjs")
}

// TestAuth0NodeSDKv7 runs interop/auth0-sdk-v7/management.test.mjs: every
// method of the 7.x SDK's ManagementClient on the resources Portcullis
// implements, with the SDK's default parameters and each of its pagination
// modes, the AuthenticationClient of its legacy entry point and
// @auth0/auth0-auth-js's AuthClient, against objects created with the
// Management API's defaults.
func TestAuth0NodeSDKv7(t *testing.T) {
	runNodeTests(t, "auth0-sdk-v7", "auth0", "management.test.mjs")
}

// runNodeTests starts a fresh Portcullis and runs the Node test file file
// of the npm package interop/pkg, whose dependency dep must be installed,
// with node --test. The file finds Portcullis and the bootstrap admin's
// credentials in PORTCULLIS_DOMAIN, PORTCULLIS_CLIENT_ID and
// PORTCULLIS_CLIENT_SECRET, and a self-signed certificate to register as
// an x509_cert credential in PORTCULLIS_TEST_CERT_PEM.
func runNodeTests(t *testing.T, pkg, dep, file string) {
	t.Helper()
	repo := repoRoot(t)
	node := requireNode(t, pkg, dep)
	c, issuer := startPortcullis(t, "", "")

	// Node cannot make certificates: the self-signed one the SDK registers
	// as an x509_cert credential is made here.
	cert := clientcerttest.SelfSigned(t, &x509.Certificate{Subject: pkix.Name{
		Country: []string{"XX"}, Organization: []string{"Interop"}, CommonName: "interop-mtls-client",
	}})

	ctx, cancel := context.WithTimeout(t.Context(), sdkTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", filepath.Join("interop", pkg, file))
	cmd.Dir = repo
	cmd.Env = append(nodeEnv(),
		"PORTCULLIS_DOMAIN="+domainOf(issuer),
		"PORTCULLIS_CLIENT_ID="+adminClientID,
		"PORTCULLIS_CLIENT_SECRET="+adminClientSecret,
		"PORTCULLIS_TEST_CERT_PEM="+string(cert.PEM()),
		// Trust Caddy's local CA in addition to the usual roots; TLS
		// verification stays on.
		"NODE_EXTRA_CA_CERTS="+c.RootCAPath(),
	)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the tests of interop/%s did not finish within %s:\n%s", pkg, sdkTimeout, out)
	}
	if err != nil {
		t.Fatalf("the tests of interop/%s failed (%v):\n%s", pkg, err, out)
	}
	t.Logf("node --test output:\n%s", out)
}

// repoRoot returns the repository root, found from this file's location so
// that the test does not depend on its working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source file")
	}
	return filepath.Dir(filepath.Dir(file))
}

// nodeEnv is the test's environment without variables that would weaken
// TLS checks or load other code into Node, or that this test sets itself.
func nodeEnv() []string {
	drop := []string{
		"NODE_TLS_REJECT_UNAUTHORIZED=",
		"NODE_EXTRA_CA_CERTS=",
		"NODE_OPTIONS=",
		"PORTCULLIS_DOMAIN=",
		"PORTCULLIS_CLIENT_ID=",
		"PORTCULLIS_CLIENT_SECRET=",
		"PORTCULLIS_TEST_CERT_PEM=",
		// interop/express-oidc/app.mjs
		"ISSUER_BASE_URL=",
		"BASE_URL=",
		"CLIENT_ID=",
		"CLIENT_SECRET=",
		"SECRET=",
		"PORT=",
		"AUDIENCE=",
		"SCOPE=",
		"API_URL=",
		// interop/passport-auth0/app.mjs
		"DOMAIN=",
	}
	var env []string
	for _, kv := range os.Environ() {
		keep := true
		for _, prefix := range drop {
			keep = keep && !strings.HasPrefix(kv, prefix)
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}

// domainOf is the domain of an issuer URL, as Auth0's SDKs take it:
// host and port, without the scheme and the slash.
func domainOf(issuer string) string {
	return strings.TrimSuffix(strings.TrimPrefix(issuer, "https://"), "/")
}

// requireNode fails the test unless interop/pkg has the npm package dep
// installed, and returns the path of node. With go test -short it skips
// the test.
func requireNode(t *testing.T, pkg, dep string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Node.js and npm packages; skipped with -short")
	}
	if _, err := os.Stat(filepath.Join(repoRoot(t), "interop", pkg, "node_modules", dep)); err != nil {
		t.Fatalf("%s is not installed (%v): run `npm ci --prefix interop/%s` from the repository root first", dep, err, pkg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (Node.js 20.19 or later) is required for this test: %v", err)
	}
	return node
}

// startPortcullis runs a Caddy whose portcullis app, with option's lines
// added to its option block, serves the authorization server on a free
// port with the bootstrap admin, and whose other sites are sites (Caddyfile
// site blocks). It waits for discovery and for the URLs of waitFor, and
// returns the Caddy and the issuer.
func startPortcullis(t *testing.T, option, sites string, waitFor ...string) (*testenv.Caddy, string) {
	t.Helper()
	dir := t.TempDir()
	origin := fmt.Sprintf("https://localhost:%d", testenv.FreePort(t))
	issuer := origin + "/"
	caddyfile := fmt.Sprintf(`{
%s
	portcullis {
		issuer %s
		storage sqlite %s
		bootstrap_admin %s %s
		%s
	}
}

%s {
	tls internal
	authorization_server
}

%s`, testenv.TestGlobals(dir), issuer, filepath.Join(dir, "portcullis.db"), adminClientID, adminClientSecret, option, origin, sites)
	c := testenv.Start(t, dir, caddyfile, append([]string{issuer + ".well-known/openid-configuration"}, waitFor...)...)
	return c, issuer
}
