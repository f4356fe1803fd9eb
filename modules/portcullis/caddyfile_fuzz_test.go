package portcullis

import (
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/portcullis-gw/portcullis/internal/caddyfiletest"
)

// FuzzParseGlobalOption parses arbitrary portcullis global options: no
// panic; what parses parses again to the same app, loads from its JSON
// unchanged, and gives each option at most once.
func FuzzParseGlobalOption(f *testing.F) {
	for _, s := range []string{
		"portcullis",
		"portcullis {\n\tissuer https://auth.example.com/\n\tstorage sqlite /var/lib/p.db\n\tbootstrap_admin admin secret\n\tmtls_endpoint_aliases https://mtls.example.com/\n\tclient_ca /a.pem /b.pem\n\tedge_key k\n\tbrute_force_protection {\n\t\tuser_attempts 5\n\t\tip_attempts 50\n\t\twindow 15m\n\t}\n\tpassword_policy {\n\t\tstrength good\n\t\tmin_length 12\n\t\tno_personal_info\n\t}\n}",
		"portcullis {\n\tbootstrap_admin\n\tstorage sqlite\n}",
		"portcullis {\n\tissuer a\n\tissuer b\n}",
		"portcullis {\n\tbrute_force_protection {\n\t\twindow -1s\n\t}\n}",
		"portcullis {\n\tpassword_policy x {\n\t}\n}",
		"portcullis x",
	} {
		f.Add(s)
	}
	parse := func(text string) (httpcaddyfile.App, error) {
		v, err := parseGlobalOption(caddyfile.NewTestDispenser(text), nil)
		app, _ := v.(httpcaddyfile.App)
		return app, err
	}
	f.Fuzz(func(t *testing.T, text string) {
		app, ok := caddyfiletest.Parse(t, func() (httpcaddyfile.App, error) { return parse(text) })
		if !ok {
			return
		}
		if app.Name != "portcullis" {
			t.Fatalf("parsed as the app %q", app.Name)
		}
		var decoded App
		if err := json.Unmarshal(app.Value, &decoded); err != nil {
			t.Fatalf("the adapted JSON %s does not load: %v", app.Value, err)
		}
		caddyfiletest.Reloads(t, &decoded, new(App))
		caddyfiletest.Singular(t, text, "issuer", "storage", "mtls_endpoint_aliases", "client_ca", "edge_key", "brute_force_protection", "password_policy", "bootstrap_admin")
	})
}
