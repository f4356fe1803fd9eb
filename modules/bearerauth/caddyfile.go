package bearerauth

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("bearer_auth", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("bearer_auth", httpcaddyfile.After, "basic_auth")
}

// parseCaddyfile sets up bearer_auth.
//
// Syntax:
//
//	bearer_auth {
//		audience <identifier>
//		scopes <method|*> <path> <scope...>
//		permissions <method|*> <path> <permission...>
//		issuer <url>
//		unknown_key_refetch <duration>
//		policy <dir>
//		policy_timeout <duration>
//		leeway <duration>
//		cache_size <n>|off
//		strip_authorization
//		realm <realm>
//		client_cert_header rfc9440|auth0|xfcc
//	}
//
// scopes, permissions and issuer may be repeated; any other option given
// twice is an error. A scopes or permissions line names one method (in any
// letter case; GET covers HEAD too) or * for every method: repeat the line
// for each method.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	b := new(Handler)
	h.Next() // consume directive name
	if h.NextArg() {
		return nil, h.ArgErr()
	}
	given := map[string]bool{}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		directive := h.Val()
		if given[directive] && directive != "scopes" && directive != "permissions" && directive != "issuer" {
			return nil, h.Errf("%s given twice", directive)
		}
		given[directive] = true
		args := h.RemainingArgs()
		one := func() (string, error) {
			if len(args) != 1 {
				return "", h.Errf("%s takes one argument", directive)
			}
			return args[0], nil
		}
		var err error
		switch directive {
		case "audience":
			b.Audience, err = one()
		case "scopes", "permissions":
			if len(args) < 3 {
				return nil, h.Errf("%s takes a method, a path and at least one name", directive)
			}
			r := Rule{Method: strings.ToUpper(args[0]), Path: args[1]}
			if directive == "scopes" {
				r.Scopes = args[2:]
			} else {
				r.Permissions = args[2:]
			}
			if err := r.validate(); err != nil {
				return nil, h.Errf("%s: %v", directive, err)
			}
			b.Rules = append(b.Rules, r)
		case "issuer":
			var u string
			if u, err = one(); err == nil {
				b.Issuers = append(b.Issuers, u)
			}
		case "policy":
			b.PolicyDir, err = one()
		case "policy_timeout", "leeway", "unknown_key_refetch":
			var s string
			if s, err = one(); err == nil {
				var d caddy.Duration
				dur, perr := caddy.ParseDuration(s)
				if perr != nil {
					return nil, h.Errf("%s: %v", directive, perr)
				}
				d = caddy.Duration(dur)
				switch directive {
				case "leeway":
					b.Leeway = &d
				case "policy_timeout":
					b.PolicyTimeout = d
				default:
					b.UnknownKeyRefetch = d
				}
			}
		case "cache_size":
			var s string
			if s, err = one(); err == nil {
				if s == "off" {
					b.CacheSize = -1
				} else if b.CacheSize, err = strconv.Atoi(s); err != nil || b.CacheSize < 1 {
					return nil, h.Errf("cache_size takes a positive number or off")
				}
			}
		case "strip_authorization":
			if len(args) != 0 {
				return nil, h.ArgErr()
			}
			b.StripAuthorization = true
		case "realm":
			b.Realm, err = one()
		case "client_cert_header":
			b.ClientCertHeader, err = one()
		default:
			return nil, h.Errf("unrecognized bearer_auth option: %s", directive)
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}
