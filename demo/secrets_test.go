package demo_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/portcullis-gw/portcullis/internal/testenv"
	"github.com/portcullis-gw/portcullis/internal/testutil"
)

// TestDemoKeepsSecretsOutOfTheStoredConfig runs the demo with Caddy's admin
// endpoint on, as Caddy's default does: the bootstrap admin's secret works
// at the token endpoint, yet neither the admin endpoint (which a GET-only
// request forgery reaches) nor autosave.json shows it.
func TestDemoKeepsSecretsOutOfTheStoredConfig(t *testing.T) {
	autosave := filepath.Join(t.TempDir(), "autosave.json")
	previous := caddy.ConfigAutosavePath
	caddy.ConfigAutosavePath = autosave
	t.Cleanup(func() { caddy.ConfigAutosavePath = previous })
	adminPort := testenv.FreePort(t)
	c, ports := startDemo(t, fmt.Sprintf("127.0.0.1:%d", adminPort))
	secret := os.Getenv("PORTCULLIS_ADMIN_CLIENT_SECRET")
	if len(secret) < 32 {
		t.Fatalf("the README's demo command sets no admin secret (got %q)", secret)
	}

	// The secret was read at start: the admin client authenticates with it.
	as := fmt.Sprintf("https://localhost:%d/", ports["8443"])
	testutil.ClientCredentialsToken(t, c.Client, as+"oauth/token", "demo-admin", secret, as+"api/v2/")

	for _, path := range []string{"/config/", "/config/apps/portcullis", "/config/apps/portcullis/bootstrap_admin"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", adminPort, path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s on the admin endpoint: %d %s", path, resp.StatusCode, body)
		}
		if strings.Contains(string(body), secret) {
			t.Errorf("GET %s on the admin endpoint shows the admin's secret: %s", path, body)
		}
		if !strings.Contains(string(body), "{env.PORTCULLIS_ADMIN_CLIENT_SECRET}") {
			t.Errorf("GET %s on the admin endpoint does not show the secret's placeholder: %s", path, body)
		}
	}
	saved, err := os.ReadFile(autosave)
	if err != nil {
		t.Fatalf("Caddy saved no config: %v", err)
	}
	if strings.Contains(string(saved), secret) {
		t.Errorf("autosave.json holds the admin's secret")
	}
}
