package bearerauth

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/portcullis-gw/portcullis/internal/caddyfiletest"
)

// FuzzParseCaddyfile parses arbitrary bearer_auth blocks: no panic; what
// parses parses again to the same handler, loads from its JSON unchanged,
// and gives each option that takes one value at most once.
func FuzzParseCaddyfile(f *testing.F) {
	for _, s := range []string{
		"bearer_auth",
		"bearer_auth {\n\taudience https://api.example.com/\n}",
		"bearer_auth {\n\taudience https://api.example.com/\n\tscopes GET /orders* read:orders\n\tpermissions * /admin/* admin\n\tissuer https://a.example.com/\n\tissuer https://b.example.com/\n\tpolicy /etc/policy\n\tpolicy_timeout 50ms\n\tleeway 30s\n\tunknown_key_refetch 1m\n\tcache_size 100\n\tstrip_authorization\n\trealm orders\n\tclient_cert_header xfcc\n\tdecision_log sample 10\n\tdecision_log_flush 250ms\n}",
		"bearer_auth {\n\tdecision_log deny\n}",
		"bearer_auth {\n\tdecision_log sample 0\n\tdecision_log_flush 0s\n}",
		"bearer_auth {\n\taudience a\n\taudience b\n}",
		"bearer_auth {\n\tcache_size off\n\tleeway -1s\n}",
		"bearer_auth {\n\tscopes GET /x\n}",
		"bearer_auth {\n\taudience a {\n\t\tb\n\t}\n}",
		"bearer_auth {\n\trealm \"a \\\"b\\\"\"\n\tpolicy `c d`\n}",
		"bearer_auth x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		h, ok := caddyfiletest.Parse(t, func() (caddyhttp.MiddlewareHandler, error) {
			return parseCaddyfile(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser(text)})
		})
		if !ok {
			return
		}
		caddyfiletest.Reloads(t, h, new(Handler))
		caddyfiletest.Singular(t, text, "audience", "policy", "policy_timeout", "leeway", "unknown_key_refetch", "cache_size", "strip_authorization", "realm", "client_cert_header", "decision_log", "decision_log_flush")
	})
}
