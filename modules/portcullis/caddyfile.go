package portcullis

import (
	"errors"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/portcullis-gw/portcullis/authserver"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("portcullis", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("authorization_server", parseHandler)
	httpcaddyfile.RegisterDirectiveOrder("authorization_server", httpcaddyfile.Before, "reverse_proxy")
}

// parseGlobalOption sets up the portcullis app.
//
// Syntax:
//
//	portcullis {
//		issuer <url>
//		storage sqlite <path>
//		bootstrap_admin <client_id> <client_secret>
//		mtls_endpoint_aliases <base url>
//		client_ca <pem file...>
//		edge_key <cname-api-key>
//	}
//
// bootstrap_admin with no arguments (both environment variables unset) is
// ignored.
func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	d.Next() // consume option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	var err error
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "issuer":
			if app.Issuer, err = oneArg(d); err != nil {
				return nil, err
			}
		case "storage":
			st, err := ParseStorage(d.RemainingArgs())
			if err != nil {
				return nil, d.WrapErr(err)
			}
			app.Storage = st
		case "mtls_endpoint_aliases":
			if app.MTLSEndpointAliases, err = oneArg(d); err != nil {
				return nil, err
			}
		case "client_ca":
			if app.ClientCA = d.RemainingArgs(); len(app.ClientCA) == 0 {
				return nil, d.ArgErr()
			}
		case "edge_key":
			if app.EdgeKey, err = oneArg(d); err != nil {
				return nil, err
			}
		case "bootstrap_admin":
			args := d.RemainingArgs()
			switch len(args) {
			case 0:
			case 2:
				app.BootstrapAdmin = &authserver.Credentials{ClientID: args[0], ClientSecret: args[1]}
			default:
				return nil, d.Errf("bootstrap_admin takes a client id and a client secret, got %d arguments", len(args))
			}
		default:
			return nil, d.Errf("unrecognized portcullis option: %s", d.Val())
		}
	}
	return httpcaddyfile.App{Name: "portcullis", Value: caddyconfig.JSON(app, nil)}, nil
}

// oneArg reads the single argument of an option.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return "", d.ArgErr()
	}
	return args[0], nil
}

var errStorageSyntax = errors.New("storage takes a backend and its argument: storage sqlite <path>")

// ParseStorage reads a storage setting: "sqlite <path>".
func ParseStorage(args []string) (Storage, error) {
	if len(args) != 2 || args[0] != "sqlite" {
		return Storage{}, errStorageSyntax
	}
	return Storage{Backend: args[0], Path: args[1]}, nil
}

// parseHandler sets up the authorization_server handler.
//
// Syntax:
//
//	authorization_server
func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // consume directive name
	if h.NextArg() || h.NextBlock(h.Nesting()) {
		return nil, h.Err("authorization_server takes no arguments; configure it in the portcullis global option")
	}
	return new(Handler), nil
}
