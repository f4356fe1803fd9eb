// Package redirects holds Auth0's rules for the URLs registered with an
// application: which Allowed Callback URLs, Allowed Logout URLs, Allowed Web
// Origins and Allowed Origins (CORS) may be registered, and whether a
// redirect_uri, returnTo or Origin presented at run time matches one of them.
//
// Matching is exact (RFC 9700 §2.1): the path and query compare byte for
// byte, with no percent-decoding or other normalisation, so
// "https://app.example.com/cb" and "https://app.example.com/cb/" are
// different URLs. Only the scheme and host compare case-insensitively. Two
// exceptions are made, both as Auth0 and the RFCs describe them:
//
//   - A wildcard: the left-most label of the host may hold one "*", possibly
//     with a prefix and a suffix ("https://*.example.com",
//     "https://prefix-*-suffix.example.com"). It stands for at least one
//     letter, digit or hyphen within that one label, never for a dot, so
//     "https://*.example.com" matches "https://a.example.com" but neither
//     "https://a.b.example.com" nor "https://example.com". Wildcards are
//     allowed only with http and https, and need at least two labels after
//     them ("https://*.com" is refused). Auth0 advises against them in
//     production.
//   - Loopback callbacks (RFC 8252 §7.3): for "http://127.0.0.1" and
//     "http://[::1]" the port is ignored, since a native app listens on
//     whatever port it is given. "localhost" gets no such exception.
//
// Auth0's {organization_name} and custom domain placeholders are not
// supported: their braces are refused.
//
// It imports nothing of Portcullis.
package redirects

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// MaxURLLength is the longest URL accepted, in bytes. Longer ones are
// refused when registered and never match.
const MaxURLLength = 2048

// ValidateCallback checks one Allowed Callback URL or Allowed Logout URL: an
// absolute URL with a scheme and a host, with neither a fragment nor user
// info. Custom schemes of native apps ("com.example.app://callback") are
// allowed; javascript, data and vbscript are not. A wildcard must follow
// the rules in the package documentation. The error says what is wrong.
func ValidateCallback(raw string) error {
	_, err := parse(raw)
	return err
}

// ValidateOrigin checks one Allowed Web Origin or Allowed Origin (CORS):
// scheme://host with an optional port, and no path (other than "/"), query
// or fragment. The scheme and wildcard rules are those of ValidateCallback.
func ValidateOrigin(raw string) error {
	_, err := parseOrigin(raw)
	return err
}

// MatchCallback reports whether got, a redirect_uri or returnTo, matches
// one of the allowed callback URLs: exactly, except for the case of the
// scheme and host, a wildcard in the host and the port of a loopback URL.
// An allowed URL that ValidateCallback would refuse never matches, and
// neither does a got with a fragment.
func MatchCallback(allowed []string, got string) bool {
	g, err := parse(got)
	if err != nil || g.wildcard {
		return false
	}
	for _, raw := range allowed {
		a, err := parse(raw)
		if err != nil || a.scheme != g.scheme || !a.matchHost(g.host) || a.rest != g.rest {
			continue
		}
		if a.port == g.port || a.scheme == "http" && isLoopback(a.host) {
			return true
		}
	}
	return false
}

// MatchOrigin reports whether origin, the value of a browser's Origin
// header (scheme://host with an optional port), matches one of the allowed
// origins. The scheme and host compare case-insensitively, a wildcard
// stands for one label, and a port left out is the scheme's default (443
// for https, 80 for http). The opaque origin "null" never matches, nor does
// an allowed origin that ValidateOrigin would refuse.
func MatchOrigin(allowed []string, origin string) bool {
	o, err := parse(origin)
	if err != nil || o.wildcard || o.rest != "" {
		return false
	}
	for _, raw := range allowed {
		a, err := parseOrigin(raw)
		if err == nil && a.scheme == o.scheme && a.matchHost(o.host) && a.effectivePort() == o.effectivePort() {
			return true
		}
	}
	return false
}

// parsed is a URL split into the parts the rules look at.
type parsed struct {
	scheme   string // lower case
	host     string // lower case; an IPv6 literal keeps its brackets
	port     string // empty when left out
	rest     string // path and query, as written
	wildcard bool   // the host's left-most label holds a "*"
}

func parseOrigin(raw string) (*parsed, error) {
	u, err := parse(raw)
	if err != nil {
		return nil, err
	}
	if strings.Contains(u.rest, "?") {
		return nil, errors.New("an origin must not have a query")
	}
	if u.rest != "" && u.rest != "/" {
		return nil, errors.New("an origin must not have a path")
	}
	return u, nil
}

func parse(raw string) (*parsed, error) {
	if raw == "" {
		return nil, errors.New("the URL is empty")
	}
	if len(raw) > MaxURLLength {
		return nil, fmt.Errorf("the URL is longer than %d characters", MaxURLLength)
	}
	if err := checkCharacters(raw); err != nil {
		return nil, err
	}
	if strings.Contains(raw, "#") {
		return nil, errors.New("the URL must not have a fragment")
	}
	scheme, after, ok := strings.Cut(raw, ":")
	if !ok || !validScheme(scheme) {
		return nil, errors.New("the URL must be absolute, starting with a scheme such as \"https:\"")
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case "javascript", "data", "vbscript":
		return nil, fmt.Errorf("scheme %s is not allowed", scheme)
	}
	stars := strings.Count(raw, "*")
	if stars > 1 {
		return nil, errors.New("a URL may hold at most one wildcard")
	}
	if stars == 1 && scheme != "http" && scheme != "https" {
		return nil, errors.New("a wildcard needs scheme http or https")
	}
	after, ok = strings.CutPrefix(after, "//")
	if !ok {
		return nil, errors.New("the URL must have a host: scheme://host")
	}
	end := strings.IndexAny(after, "/?")
	if end < 0 {
		end = len(after)
	}
	authority, rest := after[:end], after[end:]
	if strings.Contains(authority, "@") {
		return nil, errors.New("the URL must not contain user info")
	}
	if strings.Contains(rest, "*") {
		return nil, errors.New("a wildcard is allowed only in the host, not in the path or query")
	}
	host, port, err := splitHostPort(authority)
	if err != nil {
		return nil, err
	}
	wildcard, err := checkHost(host)
	if err != nil {
		return nil, err
	}
	return &parsed{scheme: scheme, host: strings.ToLower(host), port: port, rest: rest, wildcard: wildcard}, nil
}

// checkCharacters allows the characters of RFC 3986, and a percent sign
// only before two hexadecimal digits.
func checkCharacters(raw string) error {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= 0x80:
			return errors.New("the URL holds a non-ASCII character: percent-encode it, or write an internationalised host name in its xn-- form")
		case c == '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return errors.New("a percent sign must be followed by two hexadecimal digits")
			}
		case !isAlnum(c) && !strings.ContainsRune("-._~:/?#[]@!$&'()*+,;=", rune(c)):
			return fmt.Errorf("character %q is not allowed in a URL", c)
		}
	}
	return nil
}

// validScheme checks RFC 3986's ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.' {
			return false
		}
	}
	return true
}

func splitHostPort(authority string) (host, port string, err error) {
	host, port, hasPort := authority, "", false
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", errors.New("the IPv6 address of the host lacks its closing ]")
		}
		host = authority[:end+1]
		if tail := authority[end+1:]; tail != "" {
			port, hasPort = strings.CutPrefix(tail, ":")
			if !hasPort {
				return "", "", errors.New("the IPv6 address of the host must be followed by nothing or :port")
			}
		}
	} else {
		host, port, hasPort = strings.Cut(authority, ":")
	}
	if host == "" {
		return "", "", errors.New("the URL must have a host: scheme://host")
	}
	if !hasPort {
		return host, "", nil
	}
	if strings.Contains(port, "*") {
		return "", "", errors.New("a wildcard is allowed only in the host, not in the port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] < '1' || port[0] > '9' {
		return "", "", errors.New("the port must be a number from 1 to 65535, without leading zeros")
	}
	return host, port, nil
}

// checkHost checks an IP address literal or a name of dot-separated labels
// of letters, digits, hyphens and underscores, and the wildcard rules. It
// reports whether the host holds a wildcard.
func checkHost(host string) (wildcard bool, err error) {
	if strings.HasPrefix(host, "[") {
		if strings.Contains(host, "*") {
			return false, errors.New("a wildcard must be in a domain name, not an IP address")
		}
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false, fmt.Errorf("host %s is not an IPv6 address", host)
		}
		return false, nil
	}
	if len(host) > 253 {
		return false, errors.New("the host is longer than 253 characters")
	}
	labels := strings.Split(host, ".")
	for i, l := range labels {
		if l == "" {
			return false, errors.New("the host has an empty label")
		}
		if len(l) > 63 {
			return false, errors.New("a label of the host is longer than 63 characters")
		}
		if strings.Contains(l, "*") {
			if i > 0 {
				return false, errors.New("the wildcard must be in the left-most label of the host")
			}
			if strings.ContainsFunc(l, func(r rune) bool { return r != '*' && r != '-' && !isAlnum(byte(r)) }) {
				return false, errors.New("around the wildcard, the label may hold only letters, digits and hyphens")
			}
			wildcard = true
			continue
		}
		if strings.ContainsFunc(l, func(r rune) bool { return r != '-' && r != '_' && !isAlnum(byte(r)) }) {
			return false, errors.New("the host may hold only letters, digits, hyphens, underscores and dots")
		}
	}
	// Browsers read a host that ends in a number as an IPv4 address.
	if last := labels[len(labels)-1]; !strings.ContainsFunc(last, func(r rune) bool { return !isDigit(byte(r)) }) {
		if wildcard {
			return false, errors.New("a wildcard must be in a domain name, not an IP address")
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is4() {
			return false, fmt.Errorf("host %s ends in a number but is not an IPv4 address", host)
		}
	}
	if wildcard && len(labels) < 3 {
		return false, errors.New("a wildcard needs at least two labels after it")
	}
	return wildcard, nil
}

// matchHost reports whether host, in lower case and without a wildcard, is
// u's host or, for a wildcard, one its wildcard stands for.
func (u *parsed) matchHost(host string) bool {
	if !u.wildcard {
		return u.host == host
	}
	label, parent, _ := strings.Cut(u.host, ".")
	prefix, suffix, _ := strings.Cut(label, "*")
	got, ok := strings.CutSuffix(host, "."+parent)
	if !ok {
		return false
	}
	got, ok = strings.CutPrefix(got, prefix)
	if !ok {
		return false
	}
	got, ok = strings.CutSuffix(got, suffix)
	return ok && got != "" && !strings.ContainsFunc(got, func(r rune) bool {
		return r != '-' && (r < 'a' || r > 'z') && !isDigit(byte(r))
	})
}

// effectivePort is the port, or the scheme's default when it is left out.
func (u *parsed) effectivePort() string {
	switch {
	case u.port != "":
		return u.port
	case u.scheme == "https":
		return "443"
	case u.scheme == "http":
		return "80"
	}
	return ""
}

func isLoopback(host string) bool { return host == "127.0.0.1" || host == "[::1]" }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
