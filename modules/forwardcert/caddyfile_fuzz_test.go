package forwardcert

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/portcullis-gw/portcullis/internal/caddyfiletest"
)

// FuzzParseCaddyfile parses arbitrary forward_client_cert blocks: no
// panic; what parses parses again to the same handler, loads from its JSON
// unchanged and passes Validate.
func FuzzParseCaddyfile(f *testing.F) {
	for _, s := range []string{
		"forward_client_cert",
		"forward_client_cert {\n}",
		"forward_client_cert {\n\tformat rfc9440 auth0\n\tformat xfcc auth0\n\ttrusted_ca_certs /a.pem \"/b c.pem\"\n\ttrusted_ca_certs /a.pem\n}",
		"forward_client_cert {\n\tformat pem\n}",
		"forward_client_cert {\n\tformat {\n\t}\n}",
		"forward_client_cert rfc9440",
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
		if err := h.(*Handler).Validate(); err != nil {
			t.Fatalf("parsed %+v, which Validate refuses: %v", h, err)
		}
	})
}
