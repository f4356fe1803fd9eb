package bearerauth

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Rule says what a request needs: every listed scope (from the token's
// scope claim) and every listed RBAC permission (from its permissions
// claim). A request matching several rules needs all of their scopes and
// permissions. The rules are data for the policy (input.route); the policy
// enforces them.
type Rule struct {
	// Method is one HTTP method in upper case, or * for any. A GET rule
	// also covers HEAD, which is GET without the body. CONNECT and TRACE
	// are refused before rules apply, so no rule names them.
	Method string `json:"method"`
	// Path is a path pattern, matched by Caddy's path matcher against the
	// request path: case-insensitively, after percent-decoding (a pattern
	// with % compares in escaped form instead), /orders exactly, /orders*
	// by prefix, *.json by suffix, *admin* by substring, and other * as a
	// glob within one segment (/orders/*/items). A pattern that does not
	// end in * also covers the same path with or without a trailing slash,
	// which many upstreams serve alike.
	Path        string   `json:"path"`
	Scopes      []string `json:"scopes,omitempty"`
	Permissions []string `json:"permissions,omitempty"`

	methods caddyhttp.MatchMethod // nil for *
	paths   caddyhttp.MatchPath
}

func (r *Rule) validate() error {
	if r.Method == "" || r.Path == "" {
		return fmt.Errorf("a rule needs a method and a path")
	}
	if r.Method != "*" && !isUpperToken(r.Method) {
		return fmt.Errorf("rule method %q must be one method in upper case (or *); write a rule for each method", r.Method)
	}
	if _, refused := refusedMethods[r.Method]; refused {
		return fmt.Errorf("rule method %s: bearer_auth refuses %s requests, so the rule would never apply", r.Method, r.Method)
	}
	if !strings.HasPrefix(r.Path, "/") && !strings.HasPrefix(r.Path, "*") {
		return fmt.Errorf("rule path %q must start with / or *", r.Path)
	}
	if strings.Contains(r.Path, "//") {
		return fmt.Errorf("rule path %q would never match: bearer_auth refuses paths with empty segments", r.Path)
	}
	if _, err := path.Match(strings.ToLower(r.Path), "/"); err != nil {
		return fmt.Errorf("rule path %q: %w", r.Path, err)
	}
	if len(r.Scopes) == 0 && len(r.Permissions) == 0 {
		return fmt.Errorf("rule %s %s lists no scopes or permissions", r.Method, r.Path)
	}
	return nil
}

// isUpperToken reports whether s is a method name as registered methods
// are spelled: upper-case letters and dashes.
func isUpperToken(s string) bool {
	for _, c := range []byte(s) {
		if (c < 'A' || c > 'Z') && c != '-' {
			return false
		}
	}
	return s != ""
}

// provision sets up Caddy's method and path matchers for the rule, and
// lists each of its scopes and permissions once.
func (r *Rule) provision(ctx caddy.Context) error {
	r.Scopes, r.Permissions = distinct(r.Scopes), distinct(r.Permissions)
	switch r.Method {
	case "*":
		r.methods = nil
	case http.MethodGet:
		r.methods = caddyhttp.MatchMethod{http.MethodGet, http.MethodHead}
	default:
		r.methods = caddyhttp.MatchMethod{r.Method}
	}
	r.paths = caddyhttp.MatchPath{r.Path}
	if !strings.HasSuffix(r.Path, "*") {
		if trimmed, ok := strings.CutSuffix(r.Path, "/"); ok && trimmed != "" {
			r.paths = append(r.paths, trimmed)
		} else if !ok {
			r.paths = append(r.paths, r.Path+"/")
		}
	}
	if err := r.methods.Provision(ctx); err != nil {
		return err
	}
	return r.paths.Provision(ctx)
}

func (r *Rule) matches(req *http.Request) bool {
	return (r.methods == nil || r.methods.Match(req)) && r.paths.Match(req)
}

// requirements returns the scopes and permissions every rule matching req
// needs, each once. They may be a rule's own lists, not to be changed.
func requirements(rules []Rule, req *http.Request) (scopes, permissions []string) {
	scopes, permissions = []string{}, []string{}
	shared := false // scopes and permissions are a rule's own
	for i := range rules {
		r := &rules[i]
		if !r.matches(req) {
			continue
		}
		if len(scopes) == 0 && len(permissions) == 0 {
			// The common case, one matching rule: its lists, each
			// name once since provision.
			scopes, permissions, shared = r.Scopes, r.Permissions, true
			continue
		}
		if shared {
			scopes, permissions, shared = slices.Clone(scopes), slices.Clone(permissions), false
		}
		for _, s := range r.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
		for _, p := range r.Permissions {
			if !slices.Contains(permissions, p) {
				permissions = append(permissions, p)
			}
		}
	}
	return scopes, permissions
}

// distinct is ss with each string once, in order; never nil.
func distinct(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// refusedMethods are the methods bearer_auth refuses, and why.
var refusedMethods = map[string]string{
	http.MethodConnect: "CONNECT opens a tunnel, which bearer_auth cannot guard",
	http.MethodTrace:   "TRACE would echo the request, bearer token included, back to the client",
}

// errMethod is a request method bearer_auth refuses (501).
var errMethod = errors.New("method not implemented")

// ruleMethod returns the method rules match and the policy sees: the
// request's, but GET for a WebSocket over HTTP/2 or HTTP/3 (an extended
// CONNECT, RFC 8441 and RFC 9220), which reverse_proxy forwards as a GET.
// It refuses, wrapping errMethod, a method with lower-case letters
// (methods are case-sensitive, and some upstreams read get as GET),
// CONNECT, TRACE, and a request that names another method in a method
// override header (X-HTTP-Method-Override, X-HTTP-Method,
// X-Method-Override) or a _method query parameter.
func ruleMethod(r *http.Request) (string, error) {
	if r.Method == http.MethodConnect && ((r.ProtoMajor == 2 && r.Header.Get(":protocol") == "websocket") || (r.ProtoMajor == 3 && r.Proto == "websocket")) {
		return http.MethodGet, nil
	}
	if why, refused := refusedMethods[r.Method]; refused {
		return "", fmt.Errorf("%w: %s", errMethod, why)
	}
	if strings.ToUpper(r.Method) != r.Method {
		return "", fmt.Errorf("%w: methods are case-sensitive, and %q is not one bearer_auth serves", errMethod, r.Method)
	}
	for name := range r.Header {
		if isMethodOverride(name) {
			return "", fmt.Errorf("%w: the %s header would have an upstream read another method", errMethod, name)
		}
	}
	if r.URL.RawQuery != "" && r.URL.Query().Has("_method") {
		return "", fmt.Errorf("%w: the _method parameter would have an upstream read another method", errMethod)
	}
	return r.Method, nil
}

// methodOverrideHeaders are the headers through which web frameworks
// (Express's method-override, Rack, Symfony, ASP.NET, Spring) let a POST
// say which method it means.
var methodOverrideHeaders = []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}

// dashes reads _ and . as -, as some upstreams read header names.
var dashes = strings.NewReplacer("_", "-", ".", "-")

// isMethodOverride reports whether an upstream could read the header name
// as one of methodOverrideHeaders: in any case, with _ or . for a dash.
func isMethodOverride(name string) bool {
	folded := dashes.Replace(name)
	for _, h := range methodOverrideHeaders {
		if strings.EqualFold(folded, h) {
			return true
		}
	}
	return false
}

// checkPath refuses a request whose path an upstream could read as
// another path than the one rules match and the policy sees. The path
// must be "*" for OPTIONS, or else start with / and be in the form
// Caddy's path matcher reduces it to: no empty, "." or ".." segments,
// whether written plainly or percent-encoded. It must not hold what
// some upstreams strip or translate before routing: ; (path parameters,
// which Tomcat, Jetty and Spring drop), \ (a separator on Windows), a
// segment ending in a dot or a space (which Windows drops), control
// characters, an escaped % followed by two hex digits (which an upstream
// that decodes twice reads as another character), a raw # (a fragment has
// no place in a request), or ı or ſ (the letters outside ASCII whose upper
// case is in it, I and S: the rules lower-case paths, but an upstream that
// ignores case by upper-casing, as Java's equalsIgnoreCase does, or by
// folding, as Go's EqualFold does, reads /orderſ as /orders).
func checkPath(r *http.Request) error {
	p := r.URL.Path
	switch {
	case p == "*" && r.Method == http.MethodOptions:
		return nil
	case !strings.HasPrefix(p, "/"):
		return errors.New("the request target must be a path starting with /")
	case strings.Contains(r.RequestURI, "#"):
		return errors.New("the request target must not hold a fragment (#)")
	case caddyhttp.CleanPath(p, true) != p:
		return errors.New("the path must have no empty, . or .. segments")
	case strings.ContainsAny(p, `;\`):
		return errors.New(`the path must not hold ; or \`)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return errors.New("the path must not hold control characters")
		case (c == '.' || c == ' ') && (i+1 == len(p) || p[i+1] == '/'):
			return errors.New("a path segment must not end with a dot or a space")
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			return errors.New("the path must not hold an escaped percent-encoding (%25 and two hex digits)")
		case c >= utf8.RuneSelf:
			if r, _ := utf8.DecodeRuneInString(p[i:]); unicode.ToUpper(r) < utf8.RuneSelf {
				return errors.New("the path must not hold ı or ſ, which upstreams that ignore case read as I and S")
			}
		}
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
