package portcullis_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/internal/testenv"
	"github.com/portcullis-gw/portcullis/modules/portcullis"
)

func TestLiteralSecrets(t *testing.T) {
	for _, tc := range []struct {
		name string
		app  portcullis.App
		want []string
	}{
		{"none set", portcullis.App{}, nil},
		{"placeholders", portcullis.App{
			BootstrapAdmin:   &authserver.Credentials{ClientID: "admin", ClientSecret: "{env.ADMIN_SECRET}"},
			KeyEncryptionKey: "{file./run/secrets/kek}",
			EdgeKey:          "{env.EDGE_KEY}",
			Storage:          portcullis.Storage{Backend: "postgres", DSN: "postgres://app:{env.PGPASSWORD}@db/app"},
		}, nil},
		{"written out", portcullis.App{
			BootstrapAdmin:   &authserver.Credentials{ClientID: "admin", ClientSecret: "an-admin-secret-0123456789abcdefghij"},
			KeyEncryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
			EdgeKey:          "edge-key",
			Storage:          portcullis.Storage{Backend: "postgres", DSN: "postgres://app:hunter2@db/app"},
		}, []string{"bootstrap_admin", "key_encryption_key", "edge_key", "storage postgres"}},
		{"a DSN without a password", portcullis.App{Storage: portcullis.Storage{Backend: "postgres", DSN: "postgres://app@db/app?sslmode=verify-full"}}, nil},
		{"a DSN with a password parameter", portcullis.App{Storage: portcullis.Storage{Backend: "postgres", DSN: "postgres://app@db/app?password=x"}}, []string{"storage postgres"}},
		{"a keyword DSN with a password", portcullis.App{Storage: portcullis.Storage{Backend: "postgres", DSN: "host=db user=app password=x"}}, []string{"storage postgres"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := portcullis.LiteralSecrets(&tc.app); !slices.Equal(got, tc.want) {
				t.Fatalf("literal secrets = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDocumentedConfigurationsKeepSecretsOut: Caddyfile.example and every
// Caddyfile in the README that configures the portcullis app give each
// secret through a placeholder read at start, never in the adapted JSON
// that Caddy's admin endpoint shows.
func TestDocumentedConfigurationsKeepSecretsOut(t *testing.T) {
	root := filepath.Join("..", "..")
	example, err := os.ReadFile(filepath.Join(root, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{"Caddyfile.example": string(example)}
	for i, block := range regexp.MustCompile("(?s)```caddyfile\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if strings.Contains(block[1], "portcullis {") {
			documented[fmt.Sprintf("README.md Caddyfile %d", i+1)] = block[1]
		}
	}
	if len(documented) < 2 {
		t.Fatal("the README shows no Caddyfile with the portcullis option")
	}
	// Every commented-out secret option is shown as it would be used, and
	// every environment variable the adapter reads ({$NAME}) is set.
	uncomment := regexp.MustCompile(`(?m)^(\s*)# ((?:storage postgres|edge_key|key_encryption_key|bootstrap_admin) .*)$`)
	adaptTimeVariable := regexp.MustCompile(`\{\$([A-Za-z0-9_]+)(:[^}]*)?\}`)
	for name, caddyfile := range documented {
		t.Run(name, func(t *testing.T) {
			caddyfile = uncomment.ReplaceAllString(caddyfile, "$1$2")
			caddyfile = adaptTimeVariable.ReplaceAllString(caddyfile, "value-of-$1-0123456789abcdefghijklmnopqrstuvwxyz")
			caddyfile = strings.Replace(caddyfile, "storage sqlite", "# storage sqlite", 1)
			adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": name})
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			var cfg struct {
				Apps struct {
					Portcullis *portcullis.App `json:"portcullis"`
				} `json:"apps"`
			}
			if err := json.Unmarshal(adapted, &cfg); err != nil || cfg.Apps.Portcullis == nil {
				t.Fatalf("no portcullis app in %s (%v)", adapted, err)
			}
			if literal := portcullis.LiteralSecrets(cfg.Apps.Portcullis); len(literal) > 0 {
				t.Fatalf("%s writes %q into the configuration", name, literal)
			}
		})
	}
}

// TestBootstrapAdminPlaceholders: placeholders that both resolve to
// nothing leave the option out; one that does is an error, never an admin
// client with an empty secret.
func TestBootstrapAdminPlaceholders(t *testing.T) {
	dir := t.TempDir()
	port := testenv.FreePort(t)
	t.Setenv("PORTCULLIS_ADMIN_CLIENT_ID", "")
	t.Setenv("PORTCULLIS_ADMIN_CLIENT_SECRET", "")
	t.Setenv("PORTCULLIS_TEST_ADMIN_ID", "admin")
	err := testenv.LoadErr(caddyfileWithStorage(dir, port, "sqlite "+filepath.Join(dir, "p.db")))
	t.Cleanup(func() { caddy.Stop() })
	if err != nil {
		t.Fatalf("both placeholders empty: %v", err)
	}
	caddyfile := strings.Replace(caddyfileWithStorage(dir, port, "sqlite "+filepath.Join(dir, "p.db")),
		"{env.PORTCULLIS_ADMIN_CLIENT_ID}", "{env.PORTCULLIS_TEST_ADMIN_ID}", 1)
	if err := testenv.LoadErr(caddyfile); err == nil || !strings.Contains(err.Error(), "needs both a client id and a client secret") {
		t.Fatalf("a client id without a secret: %v", err)
	}
}
