package bearerauth

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/portcullis-gw/portcullis/clientcert"
	"github.com/portcullis-gw/portcullis/internal/caddyfileopt"
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
//		decision_log all|deny|sample <n>
//		decision_log_flush <duration>
//		identity_headers <name...>|none
//	}
//
// scopes, permissions and issuer may be repeated; any other option given
// twice is an error. A scopes or permissions line names one method (in any
// letter case; GET covers HEAD too) or * for every method: repeat the line
// for each method.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	b := new(Handler)
	h.Next() // consume directive name
	if err := caddyfileopt.NoArgs(h.Dispenser); err != nil {
		return nil, err
	}
	given := caddyfileopt.Given{}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		option := h.Val()
		if option != "scopes" && option != "permissions" && option != "issuer" {
			if err := given.Once(h.Dispenser); err != nil {
				return nil, err
			}
		}
		var err error
		switch option {
		case "audience":
			b.Audience, err = caddyfileopt.OneArg(h.Dispenser)
		case "scopes", "permissions":
			args := h.RemainingArgs()
			if len(args) < 3 {
				return nil, h.Errf("%s takes a method, a path and at least one name", option)
			}
			r := Rule{Method: strings.ToUpper(args[0]), Path: args[1]}
			if option == "scopes" {
				r.Scopes = args[2:]
			} else {
				r.Permissions = args[2:]
			}
			if err := r.validate(); err != nil {
				return nil, h.Errf("%s: %v", option, err)
			}
			b.Rules = append(b.Rules, r)
		case "issuer":
			var u string
			if u, err = caddyfileopt.OneArg(h.Dispenser); err == nil {
				b.Issuers = append(b.Issuers, u)
			}
		case "policy":
			b.PolicyDir, err = caddyfileopt.OneArg(h.Dispenser)
		case "policy_timeout":
			b.PolicyTimeout, err = caddyfileopt.Duration(h.Dispenser)
		case "leeway":
			var leeway caddy.Duration
			if leeway, err = caddyfileopt.Duration(h.Dispenser); err == nil {
				b.Leeway = &leeway
			}
		case "unknown_key_refetch":
			b.UnknownKeyRefetch, err = caddyfileopt.Duration(h.Dispenser)
		case "cache_size":
			b.CacheSize, err = caddyfileopt.PositiveIntOrOff(h.Dispenser, CacheOff)
		case "strip_authorization":
			err = caddyfileopt.NoArgs(h.Dispenser)
			b.StripAuthorization = true
		case "realm":
			b.Realm, err = caddyfileopt.OneArg(h.Dispenser)
		case "client_cert_header":
			var name string
			if name, err = caddyfileopt.OneArg(h.Dispenser); err == nil {
				if b.ClientCertHeader, err = clientcert.ParseFormat(name); err != nil {
					return nil, h.Errf("client_cert_header: %v", err)
				}
			}
		case "decision_log":
			err = parseDecisionLogMode(h.Dispenser, decisionLogOf(b))
		case "decision_log_flush":
			decisionLogOf(b).FlushInterval, err = caddyfileopt.PositiveDuration(h.Dispenser)
		case "identity_headers":
			var names []string
			if names, err = caddyfileopt.SomeArgs(h.Dispenser); err == nil {
				if names, err = identityHeaderNames(names); err != nil {
					return nil, h.Errf("identity_headers: %v", err)
				}
				b.IdentityHeaderNames = &names
			}
		default:
			return nil, h.Errf("unrecognized bearer_auth option: %s", option)
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// decisionLogOf is b's DecisionLog, made when it has none yet.
func decisionLogOf(b *Handler) *DecisionLog {
	if b.DecisionLog == nil {
		b.DecisionLog = new(DecisionLog)
	}
	return b.DecisionLog
}

// parseDecisionLogMode reads decision_log all|deny|sample <n>.
func parseDecisionLogMode(d *caddyfile.Dispenser, l *DecisionLog) error {
	args, err := caddyfileopt.SomeArgs(d)
	if err != nil {
		return err
	}
	switch {
	case len(args) == 1 && (args[0] == DecisionLogAll || args[0] == DecisionLogDeny):
		l.Mode = args[0]
	case len(args) == 2 && args[0] == DecisionLogSample:
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 {
			return d.Errf("decision_log sample takes a positive whole number, got %q", args[1])
		}
		l.Mode, l.Sample = DecisionLogSample, n
	case args[0] == DecisionLogSample:
		return d.Errf("decision_log sample takes one number n (every denial and 1 in n allowed requests are logged), got %d arguments", len(args)-1)
	default:
		return d.Errf("decision_log takes all, deny or sample <n>, got %q", strings.Join(args, " "))
	}
	return nil
}
