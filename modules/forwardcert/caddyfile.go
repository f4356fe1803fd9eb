package forwardcert

import (
	"slices"

	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/portcullis-gw/portcullis/clientcert"
	"github.com/portcullis-gw/portcullis/internal/caddyfileopt"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("forward_client_cert", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("forward_client_cert", httpcaddyfile.Before, "reverse_proxy")
}

// parseCaddyfile sets up forward_client_cert.
//
// Syntax:
//
//	forward_client_cert [{
//		format <rfc9440|auth0|xfcc>...
//		trusted_ca_certs <pem_file>...
//	}]
//
// Without a block, the format is rfc9440 and no certificate is verified.
// format and trusted_ca_certs may be repeated.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	f := new(Handler)
	h.Next() // consume directive name
	if err := caddyfileopt.NoArgs(h.Dispenser); err != nil {
		return nil, err
	}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		switch directive := h.Val(); directive {
		case "format":
			args, err := caddyfileopt.SomeArgs(h.Dispenser)
			if err != nil {
				return nil, err
			}
			for _, a := range args {
				format, err := clientcert.ParseFormat(a)
				if err != nil {
					return nil, h.Errf("forward_client_cert: %v", err)
				}
				if !slices.Contains(f.Formats, format) {
					f.Formats = append(f.Formats, format)
				}
			}
		case "trusted_ca_certs":
			args, err := caddyfileopt.SomeArgs(h.Dispenser)
			if err != nil {
				return nil, err
			}
			f.TrustedCACerts = append(f.TrustedCACerts, args...)
		default:
			return nil, h.Errf("unrecognized forward_client_cert option: %s", directive)
		}
	}
	return f, nil
}
