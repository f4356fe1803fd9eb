package portcullis

import (
	"errors"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
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
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	var err error
	given := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := once(d, given); err != nil {
			return nil, err
		}
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
		case "key_encryption_key":
			if app.KeyEncryptionKey, err = oneArg(d); err != nil {
				return nil, err
			}
			if !strings.Contains(app.KeyEncryptionKey, "{") {
				if _, err := decodeKEK(app.KeyEncryptionKey); err != nil {
					return nil, d.WrapErr(err)
				}
			}
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
		case "brute_force_protection":
			if app.BruteForceProtection, err = parseBruteForce(d); err != nil {
				return nil, err
			}
		case "change_poll_interval", "max_stale":
			name := d.Val()
			arg, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			dur, err := caddy.ParseDuration(arg)
			if err != nil || dur <= 0 {
				return nil, d.Errf("%s must be a positive duration, got %q", name, arg)
			}
			if name == "max_stale" {
				app.MaxStale = caddy.Duration(dur)
			} else {
				app.ChangePollInterval = caddy.Duration(dur)
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
			if d.NextArg() {
				return nil, d.ArgErr()
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
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	b := new(BruteForceProtection)
	given := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if err := once(d, given); err != nil {
			return nil, err
		}
		arg, err := oneArg(d)
		if err != nil {
			return nil, err
		}
		switch name {
		case "user_attempts", "ip_attempts":
			n, err := strconv.Atoi(arg)
			if err != nil || n < 1 {
				return nil, d.Errf("%s must be a positive number, got %q", name, arg)
			}
			if name == "user_attempts" {
				b.UserAttempts = n
			} else {
				b.IPAttempts = n
			}
		case "window":
			w, err := caddy.ParseDuration(arg)
			if err != nil || w <= 0 {
				return nil, d.Errf("window must be a positive duration such as 15m, got %q", arg)
			}
			b.Window = caddy.Duration(w)
		default:
			return nil, d.Errf("unrecognized brute_force_protection option: %s", name)
		}
	}
	return b, nil
}

// parseRateLimits reads the rate_limits block.
func parseRateLimits(d *caddyfile.Dispenser) (*RateLimits, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	l := new(RateLimits)
	given := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if err := once(d, given); err != nil {
			return nil, err
		}
		var field *int
		switch name {
		case "token_per_ip":
			field = &l.TokenPerIP
		case "token_per_client":
			field = &l.TokenPerClient
		case "login_per_ip":
			field = &l.LoginPerIP
		default:
			return nil, d.Errf("unrecognized rate_limits option: %s", name)
		}
		arg, err := oneArg(d)
		if err != nil {
			return nil, err
		}
		if arg == "off" {
			*field = int(authserver.RateLimitOff)
			continue
		}
		if *field, err = strconv.Atoi(arg); err != nil || *field < 1 {
			return nil, d.Errf("%s must be a positive number of requests per minute, or off, got %q", name, arg)
		}
	}
	return l, nil
}

// parsePasswordPolicy reads the password_policy block.
func parsePasswordPolicy(d *caddyfile.Dispenser) (*PasswordPolicy, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	p := new(PasswordPolicy)
	given := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := once(d, given); err != nil {
			return nil, err
		}
		switch d.Val() {
		case "strength":
			arg, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			p.Strength = arg
		case "min_length":
			arg, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if p.MinLength, err = strconv.Atoi(arg); err != nil || p.MinLength < 1 {
				return nil, d.Errf("min_length must be a positive number, got %q", arg)
			}
		case "no_personal_info":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			p.NoPersonalInfo = true
		default:
			return nil, d.Errf("unrecognized password_policy option: %s", d.Val())
		}
	}
	if err := p.policy().Validate(); err != nil {
		return nil, d.WrapErr(err)
	}
	return p, nil
}

// once refuses the option at d when the block gave it before; given holds
// the options of the block so far.
func once(d *caddyfile.Dispenser, given map[string]bool) error {
	if given[d.Val()] {
		return d.Errf("%s given twice", d.Val())
	}
	given[d.Val()] = true
	return nil
}

// oneArg reads the single argument of an option.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return "", d.ArgErr()
	}
	return args[0], nil
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
