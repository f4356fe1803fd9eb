// Package testenv runs a real Caddy with Portcullis's modules inside a
// test: free ports, its own storage and local CA, and HTTP clients that
// trust that CA.
//
// For tests only: it imports the modules, to run them in a real Caddy.
package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	// The same modules as cmd/portcullis.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/portcullis-gw/portcullis/modules/bearerauth"
	_ "github.com/portcullis-gw/portcullis/modules/echo"
	_ "github.com/portcullis-gw/portcullis/modules/forwardcert"
	_ "github.com/portcullis-gw/portcullis/modules/portcullis"
)

// Caddy is a running Caddy configuration.
type Caddy struct {
	// Dir holds Caddy's storage (certificates, the local CA).
	Dir string
	// Client trusts Caddy's local CA.
	Client *http.Client
}

// TestGlobals are global options every test Caddyfile needs: storage in
// dir, no admin endpoint, no trust store changes, no port 80, HTTP/1.1 and
// HTTP/2 only.
func TestGlobals(dir string) string {
	return fmt.Sprintf(`	storage file_system %s
	admin off
	skip_install_trust
	auto_https disable_redirects
	servers {
		protocols h1 h2
	}
`, filepath.Join(dir, "caddy"))
}

// Start adapts caddyfile and runs it until the test ends. The Caddyfile's
// global block must include TestGlobals(dir). waitFor lists https URLs to
// wait for until they complete a TLS handshake.
func Start(t testing.TB, dir, caddyfile string, waitFor ...string) *Caddy {
	t.Helper()
	c := &Caddy{Dir: dir}
	Load(t, caddyfile)
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("stopping caddy: %v", err)
		}
	})
	c.Client = c.waitReady(t, waitFor)
	return c
}

// Load adapts caddyfile and loads it into the running Caddy (a reload when
// one is running), failing the test on error.
func Load(t testing.TB, caddyfile string) {
	t.Helper()
	if err := LoadErr(caddyfile); err != nil {
		t.Fatal(err)
	}
}

// LoadErr adapts caddyfile and loads it, returning what went wrong.
func LoadErr(caddyfile string) error {
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return fmt.Errorf("adapting Caddyfile: %w", err)
	}
	for _, w := range warnings {
		if !strings.Contains(w.Message, "not formatted") {
			return fmt.Errorf("warning adapting the Caddyfile: %s", w.String())
		}
	}
	return caddy.Load(cfg, true)
}

func (c *Caddy) waitReady(t testing.TB, urls []string) *http.Client {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	rootPath := filepath.Join(c.Dir, "caddy", "pki", "authorities", "local", "root.crt")
	for {
		client, err := c.trustingClient(rootPath)
		if err == nil {
			for _, u := range urls {
				var resp *http.Response
				if resp, err = client.Get(u); err != nil {
					break
				}
				resp.Body.Close()
			}
		}
		if err == nil {
			return client
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy did not become ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Caddy) trustingClient(rootPath string) (*http.Client, error) {
	pem, err := os.ReadFile(rootPath)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", rootPath)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// RootCAPath returns the file of Caddy's local CA root certificate.
func (c *Caddy) RootCAPath() string {
	return filepath.Join(c.Dir, "caddy", "pki", "authorities", "local", "root.crt")
}
