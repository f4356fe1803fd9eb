package portcullis

import (
	"errors"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/internal/caddyfileopt"
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
//		storage sqlite <path> | postgres <dsn>
//		key_encryption_key <base64 or hex key, or a placeholder>
//		bootstrap_admin <client_id> <client_secret>
//		mtls_endpoint_aliases <base url>
//		client_ca <pem file...>
//		edge_key <cname-api-key>
//		brute_force_protection {
//			user_attempts <n>
//			ip_attempts <n>
//			window <duration>
//		}
//		change_poll_interval <duration>
//		max_stale <duration>
//		rate_limits {
//			token_per_ip <n>|off
//			token_per_client <n>|off
//			login_per_ip <n>|off
//		}
//		password_policy {
//			strength none|low|fair|good|excellent
//			min_length <n>
//			no_personal_info
//		}
//		userinfo_token_in_query
//	}
//
// bootstrap_admin with no arguments (both environment variables unset) is
// ignored. Each option may be given once, and so may each option of the
// blocks. A key_encryption_key without placeholders is checked here; one
// with placeholders when the app is provisioned.
func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	d.Next() // consume option name
	if err := caddyfileopt.NoArgs(d); err != nil {
		return nil, err
	}
	var err error
	given := caddyfileopt.Given{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := given.Once(d); err != nil {
			return nil, err
		}
		switch d.Val() {
		case "issuer":
			if app.Issuer, err = caddyfileopt.OneArg(d); err != nil {
				return nil, err
			}
		case "storage":
			st, err := ParseStorage(d.RemainingArgs())
			if err != nil {
				return nil, d.WrapErr(err)
			}
			app.Storage = st
		case "key_encryption_key":
			if app.KeyEncryptionKey, err = caddyfileopt.OneArg(d); err != nil {
				return nil, err
			}
			if !strings.Contains(app.KeyEncryptionKey, "{") {
				if _, err := decodeKEK(app.KeyEncryptionKey); err != nil {
					return nil, d.WrapErr(err)
				}
			}
		case "mtls_endpoint_aliases":
			if app.MTLSEndpointAliases, err = caddyfileopt.OneArg(d); err != nil {
				return nil, err
			}
		case "client_ca":
			if app.ClientCA, err = caddyfileopt.SomeArgs(d); err != nil {
				return nil, err
			}
		case "edge_key":
			if app.EdgeKey, err = caddyfileopt.OneArg(d); err != nil {
				return nil, err
			}
		case "brute_force_protection":
			if app.BruteForceProtection, err = parseBruteForce(d); err != nil {
				return nil, err
			}
		case "change_poll_interval":
			if app.ChangePollInterval, err = caddyfileopt.PositiveDuration(d); err != nil {
				return nil, err
			}
		case "max_stale":
			if app.MaxStale, err = caddyfileopt.PositiveDuration(d); err != nil {
				return nil, err
			}
		case "rate_limits":
			if app.RateLimits, err = parseRateLimits(d); err != nil {
				return nil, err
			}
		case "password_policy":
			if app.PasswordPolicy, err = parsePasswordPolicy(d); err != nil {
				return nil, err
			}
		case "userinfo_token_in_query":
			if err := caddyfileopt.NoArgs(d); err != nil {
				return nil, err
			}
			app.UserinfoTokenInQuery = true
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

// parseBruteForce reads the brute_force_protection block.
func parseBruteForce(d *caddyfile.Dispenser) (*BruteForceProtection, error) {
	if err := caddyfileopt.NoArgs(d); err != nil {
		return nil, err
	}
	b := new(BruteForceProtection)
	given := caddyfileopt.Given{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := given.Once(d); err != nil {
			return nil, err
		}
		var err error
		switch d.Val() {
		case "user_attempts":
			b.UserAttempts, err = caddyfileopt.PositiveInt(d)
		case "ip_attempts":
			b.IPAttempts, err = caddyfileopt.PositiveInt(d)
		case "window":
			b.Window, err = caddyfileopt.PositiveDuration(d)
		default:
			return nil, d.Errf("unrecognized brute_force_protection option: %s", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// parseRateLimits reads the rate_limits block.
func parseRateLimits(d *caddyfile.Dispenser) (*RateLimits, error) {
	if err := caddyfileopt.NoArgs(d); err != nil {
		return nil, err
	}
	l := new(RateLimits)
	given := caddyfileopt.Given{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := given.Once(d); err != nil {
			return nil, err
		}
		var field *int
		switch d.Val() {
		case "token_per_ip":
			field = &l.TokenPerIP
		case "token_per_client":
			field = &l.TokenPerClient
		case "login_per_ip":
			field = &l.LoginPerIP
		default:
			return nil, d.Errf("unrecognized rate_limits option: %s", d.Val())
		}
		var err error
		if *field, err = caddyfileopt.PositiveIntOrOff(d, int(authserver.RateLimitOff)); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// parsePasswordPolicy reads the password_policy block.
func parsePasswordPolicy(d *caddyfile.Dispenser) (*PasswordPolicy, error) {
	if err := caddyfileopt.NoArgs(d); err != nil {
		return nil, err
	}
	p := new(PasswordPolicy)
	given := caddyfileopt.Given{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := given.Once(d); err != nil {
			return nil, err
		}
		var err error
		switch d.Val() {
		case "strength":
			p.Strength, err = caddyfileopt.OneArg(d)
		case "min_length":
			p.MinLength, err = caddyfileopt.PositiveInt(d)
		case "no_personal_info":
			err = caddyfileopt.NoArgs(d)
			p.NoPersonalInfo = true
		default:
			return nil, d.Errf("unrecognized password_policy option: %s", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	if err := p.policy().Validate(); err != nil {
		return nil, d.WrapErr(err)
	}
	return p, nil
}

var errStorageSyntax = errors.New("storage takes a backend and its argument: storage sqlite <path> or storage postgres <dsn>")

// ParseStorage reads a storage setting: "sqlite <path>" or
// "postgres <dsn>".
func ParseStorage(args []string) (Storage, error) {
	if len(args) != 2 {
		return Storage{}, errStorageSyntax
	}
	switch args[0] {
	case "sqlite":
		return Storage{Backend: args[0], Path: args[1]}, nil
	case "postgres":
		return Storage{Backend: args[0], DSN: args[1]}, nil
	}
	return Storage{}, errStorageSyntax
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
