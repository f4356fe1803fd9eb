package redirects

import (
	"strings"
	"testing"
)

// long is a valid URL of exactly MaxURLLength bytes.
var long = "https://app.example.com/" + strings.Repeat("a", MaxURLLength-len("https://app.example.com/"))

func TestValidateCallback(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want string // part of the error; empty when the URL is valid
	}{
		{"https://app.example.com/callback", ""},
		{"https://app.example.com", ""},
		{"https://app.example.com/", ""},
		{"https://app.example.com/cb?x=1&y=%2F", ""},
		{"https://app.example.com/cb?", ""},
		{"HTTPS://App.Example.COM/CB", ""},
		{"http://localhost:3000/callback", ""},
		{"http://127.0.0.1/callback", ""},
		{"http://127.0.0.1:8080/callback", ""},
		{"http://[::1]/callback", ""},
		{"http://[::1]:8080/callback", ""},
		{"https://[2001:db8::1]:8443/cb", ""},
		{"https://app.example.com:65535/cb", ""},
		{"https://my_host.example.com/cb", ""},
		{"https://intranet/cb", ""},
		{"com.example.app://callback", ""},
		{"com.example.app://tenant.auth0.com/ios/com.example.app/callback", ""},
		{"myapp+dev-1.x://cb", ""},
		{"https://*.example.com/callback", ""},
		{"https://*.example.com", ""},
		{"https://prefix-*-suffix.example.com", ""},
		{"https://app-*.example.com/cb", ""},
		{"https://*-app.example.com/cb", ""},
		{"http://*.example.com:8080/cb", ""},
		{"https://*.example.co.uk/cb", ""},
		{long, ""},

		{"", "empty"},
		{long + "a", "longer than 2048"},
		{"https://app.example.com/" + strings.Repeat("a", 1<<20), "longer than 2048"},
		{"javascript:alert(1)", "scheme javascript is not allowed"},
		{"JavaScript://%0aalert(1)", "scheme javascript is not allowed"},
		{"data:text/html,<script>alert(1)</script>", "character '<'"},
		{"data:text/html;base64,PHNjcmlwdD4=", "scheme data is not allowed"},
		{"vbscript:msgbox(1)", "scheme vbscript is not allowed"},
		{"app.example.com/callback", "absolute"},
		{"/callback", "absolute"},
		{"://app.example.com", "absolute"},
		{"1app://callback", "absolute"},
		{"ht tp://app.example.com", "character ' '"},
		{"https://app.example.com/call back", "character ' '"},
		{"https://app.example.com/cb\n", "character '\\n'"},
		{"https://app.example.com/cb\x00", "character '\\x00'"},
		{"https://app.example.com\\@evil.example/cb", "character '\\\\'"},
		{"https://app.example.com/{organization_name}", "character '{'"},
		{"https://{organization_name}.example.com", "character '{'"},
		{"https://app.example.com/caf\u00e9", "non-ASCII"},
		{"https://b\u00fccher.example/cb", "non-ASCII"},
		{"https://app.example.com/%", "percent sign"},
		{"https://app.example.com/%4", "percent sign"},
		{"https://app.example.com/%zz", "percent sign"},
		{"https://app.example.com/cb#frag", "fragment"},
		{"https://app.example.com/cb#", "fragment"},
		{"https:app.example.com/cb", "must have a host"},
		{"https:/app.example.com/cb", "must have a host"},
		{"https://", "must have a host"},
		{"https:///cb", "must have a host"},
		{"https://:443/cb", "must have a host"},
		{"com.example.app:/oauth2redirect", "must have a host"},
		{"https://user:pass@app.example.com/cb", "user info"},
		{"https://evil.example@app.example.com/cb", "user info"},
		{"https://app.example.com:/cb", "port"},
		{"https://app.example.com:0/cb", "port"},
		{"https://app.example.com:65536/cb", "port"},
		{"https://app.example.com:0443/cb", "port"},
		{"https://app.example.com:+443/cb", "port"},
		{"https://app.example.com:https/cb", "port"},
		{"https://app.example.com:443:443/cb", "port"},
		{"https://app..example.com/cb", "empty label"},
		{"https://app.example.com./cb", "empty label"},
		{"https://.example.com/cb", "empty label"},
		{"https://" + strings.Repeat("a", 64) + ".example.com/cb", "longer than 63"},
		{"https://" + strings.Repeat("a.", 127) + "example/cb", "longer than 253"},
		{"https://app!.example.com/cb", "the host may hold only"},
		{"https://a[b].example.com/cb", "the host may hold only"},
		{"https://[::1/cb", "closing ]"},
		{"https://[::1]x/cb", "followed by nothing or :port"},
		{"https://[127.0.0.1]/cb", "not an IPv6 address"},
		{"https://[]/cb", "not an IPv6 address"},
		{"https://[fe80::1%25eth0]/cb", "not an IPv6 address"},
		{"https://127.1/cb", "not an IPv4 address"},
		{"https://256.0.0.1/cb", "not an IPv4 address"},
		{"https://app.123/cb", "not an IPv4 address"},

		// Wildcards.
		{"https://*.com", "a wildcard needs at least two labels after it"},
		{"https://*.com/cb", "a wildcard needs at least two labels after it"},
		{"https://*", "a wildcard needs at least two labels after it"},
		{"https://sub.*.example.com", "left-most label"},
		{"https://sub.example.*", "left-most label"},
		{"https://*.*.example.com", "at most one wildcard"},
		{"https://**.example.com", "at most one wildcard"},
		{"https://*.example.com/*", "at most one wildcard"},
		{"https://app.example.com/*", "only in the host, not in the path or query"},
		{"https://app.example.com/cb?x=*", "only in the host, not in the path or query"},
		{"https://app.example.com:*/cb", "only in the host, not in the port"},
		{"com.example.app://*.example.com", "a wildcard needs scheme http or https"},
		{"com.example.app://callback/*", "a wildcard needs scheme http or https"},
		{"service:jmx:rmi://*.example.com", "a wildcard needs scheme http or https"},
		{"https://a_*.example.com", "letters, digits and hyphens"},
		{"https://*.168.1.1/cb", "not an IP address"},
		{"https://[*::1]/cb", "not an IP address"},
		{"https://user@*.example.com", "user info"},
	} {
		err := ValidateCallback(tc.raw)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ValidateCallback(%.80q): %v", tc.raw, err)
		case tc.want != "" && err == nil:
			t.Errorf("ValidateCallback(%.80q) accepted it, want an error about %q", tc.raw, tc.want)
		case tc.want != "" && !strings.Contains(err.Error(), tc.want):
			t.Errorf("ValidateCallback(%.80q) = %q, want it to say %q", tc.raw, err, tc.want)
		}
	}
}

func TestValidateOrigin(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want string // part of the error; empty when the origin is valid
	}{
		{"https://app.example.com", ""},
		{"https://app.example.com/", ""},
		{"https://app.example.com:8443", ""},
		{"http://localhost:3000", ""},
		{"http://[::1]:3000", ""},
		{"capacitor://localhost", ""},
		{"https://*.example.com", ""},
		{"https://prefix-*-suffix.example.com:8443/", ""},

		{"", "empty"},
		{"null", "absolute"},
		{"app.example.com", "absolute"},
		{"https://app.example.com/path", "must not have a path"},
		{"https://app.example.com//", "must not have a path"},
		{"https://app.example.com?x=1", "must not have a query"},
		{"https://app.example.com/?", "must not have a query"},
		{"https://app.example.com#x", "fragment"},
		{"https://app.example.com/#", "fragment"},
		{"https://user@app.example.com", "user info"},
		{"https://app.example.com:0", "port"},
		{"javascript://app.example.com", "scheme javascript is not allowed"},
		{"https://*.com", "a wildcard needs at least two labels after it"},
		{"https://sub.*.example.com", "left-most label"},
		{"https://*.*.example.com", "at most one wildcard"},
		{"https://app.example.com/*", "only in the host"},
		{"capacitor://*.example.com", "a wildcard needs scheme http or https"},
		{"https://app.example.com/" + strings.Repeat("a", MaxURLLength), "longer than 2048"},
	} {
		err := ValidateOrigin(tc.raw)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ValidateOrigin(%.80q): %v", tc.raw, err)
		case tc.want != "" && err == nil:
			t.Errorf("ValidateOrigin(%.80q) accepted it, want an error about %q", tc.raw, tc.want)
		case tc.want != "" && !strings.Contains(err.Error(), tc.want):
			t.Errorf("ValidateOrigin(%.80q) = %q, want it to say %q", tc.raw, err, tc.want)
		}
	}
}

func TestMatchCallback(t *testing.T) {
	for _, tc := range []struct {
		allowed []string
		got     string
		want    bool
	}{
		// Exact matches, and near misses of the path and query.
		{[]string{"https://a.example.com/cb"}, "https://a.example.com/cb", true},
		{[]string{"https://x.example.com/cb", "https://a.example.com/cb"}, "https://a.example.com/cb", true},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com/cb/", false},
		{[]string{"https://a.example.com/cb/"}, "https://a.example.com/cb", false},
		{[]string{"https://a.example.com"}, "https://a.example.com/", false},
		{[]string{"https://a.example.com/"}, "https://a.example.com", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com/cb2", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com/c", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com/cb?x=1", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com/cb?", false},
		{[]string{"https://a.example.com/cb?x=1"}, "https://a.example.com/cb?x=1", true},
		{[]string{"https://a.example.com/cb?x=1"}, "https://a.example.com/cb?x=2", false},
		{[]string{"https://a.example.com/cb?x=1&y=2"}, "https://a.example.com/cb?y=2&x=1", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com/cb#", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com/cb#frag", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com/x/../cb", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com/./cb", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com//cb", false},

		// No percent-decoding.
		{[]string{"https://a.example.com/cb"}, "https://a.example.com/c%62", false},
		{[]string{"https://a.example.com/c%62"}, "https://a.example.com/cb", false},
		{[]string{"https://a.example.com/c%62"}, "https://a.example.com/c%62", true},
		{[]string{"https://a.example.com/c%2F"}, "https://a.example.com/c%2f", false},
		{[]string{"https://a.example.com/cb"}, "https://%61.example.com/cb", false},

		// Case: the scheme and host only.
		{[]string{"https://a.example.com/cb"}, "HTTPS://A.Example.COM/cb", true},
		{[]string{"HTTPS://A.EXAMPLE.COM/cb"}, "https://a.example.com/cb", true},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com/CB", false},
		{[]string{"https://a.example.com/cb?x=a"}, "https://a.example.com/cb?x=A", false},
		{[]string{"https://k.example.com/cb"}, "https://\u212a.example.com/cb", false}, // Kelvin sign
		{[]string{"http://[::a]/cb"}, "http://[::A]/cb", true},

		// Scheme and port.
		{[]string{"https://a.example.com/cb"}, "http://a.example.com/cb", false},
		{[]string{"http://a.example.com/cb"}, "https://a.example.com/cb", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com:443/cb", false},
		{[]string{"https://a.example.com:443/cb"}, "https://a.example.com/cb", false},
		{[]string{"https://a.example.com:8443/cb"}, "https://a.example.com:8443/cb", true},
		{[]string{"https://a.example.com:8443/cb"}, "https://a.example.com:8444/cb", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com.evil.example/cb", false},
		{[]string{"https://a.example.com/cb"}, "https://evil.example/a.example.com/cb", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com@evil.example/cb", false},
		{[]string{"https://a.example.com/cb"}, "https://a.example.com./cb", false},

		// Loopback: any port, RFC 8252 §7.3.
		{[]string{"http://127.0.0.1/cb"}, "http://127.0.0.1:51234/cb", true},
		{[]string{"http://127.0.0.1:3000/cb"}, "http://127.0.0.1:51234/cb", true},
		{[]string{"http://127.0.0.1:3000/cb"}, "http://127.0.0.1/cb", true},
		{[]string{"http://[::1]/cb"}, "http://[::1]:51234/cb", true},
		{[]string{"http://[::1]:3000/cb"}, "http://[::1]:4000/cb", true},
		{[]string{"http://127.0.0.1/cb"}, "http://127.0.0.1:51234/other", false},
		{[]string{"http://127.0.0.1/cb"}, "http://[::1]:51234/cb", false},
		{[]string{"http://[::1]/cb"}, "http://[0:0:0:0:0:0:0:1]:51234/cb", false},
		{[]string{"http://127.0.0.1/cb"}, "http://127.0.0.2:51234/cb", false},
		{[]string{"https://127.0.0.1/cb"}, "https://127.0.0.1:51234/cb", false},
		{[]string{"http://localhost/cb"}, "http://localhost:51234/cb", false},
		{[]string{"http://localhost:3000/cb"}, "http://localhost:3000/cb", true},
		{[]string{"http://localhost:3000/cb"}, "http://localhost:3001/cb", false},

		// Custom schemes of native apps.
		{[]string{"com.example.app://callback"}, "com.example.app://callback", true},
		{[]string{"com.example.app://callback"}, "COM.EXAMPLE.APP://CALLBACK", true},
		{[]string{"com.example.app://callback"}, "com.example.evil://callback", false},
		{[]string{"com.example.app://callback"}, "com.example.app://callback/x", false},

		// Wildcards: one label, prefix and suffix, nothing else varies.
		{[]string{"https://*.example.com/cb"}, "https://a.example.com/cb", true},
		{[]string{"https://*.example.com/cb"}, "https://A-1.Example.com/cb", true},
		{[]string{"https://*.example.com/cb"}, "https://a.b.example.com/cb", false},
		{[]string{"https://*.example.com/cb"}, "https://example.com/cb", false},
		{[]string{"https://*.example.com/cb"}, "https://.example.com/cb", false},
		{[]string{"https://*.example.com/cb"}, "https://*.example.com/cb", false},
		{[]string{"https://*.example.com/cb"}, "https://a_b.example.com/cb", false},
		{[]string{"https://*.example.com/cb"}, "https://aexample.com/cb", false},
		{[]string{"https://*.example.com/cb"}, "https://a.example.com.evil.example/cb", false},
		{[]string{"https://*.example.com/cb"}, "https://evil.example/.example.com/cb", false},
		{[]string{"https://*.example.com/cb"}, "https://a.example.com/cb2", false},
		{[]string{"https://*.example.com/cb"}, "https://a.example.com/cb?x", false},
		{[]string{"https://*.example.com/cb"}, "http://a.example.com/cb", false},
		{[]string{"https://*.example.com/cb"}, "https://a.example.com:443/cb", false},
		{[]string{"https://*.example.com:8443/cb"}, "https://a.example.com:8443/cb", true},
		{[]string{"https://*.example.com:8443/cb"}, "https://a.example.com/cb", false},
		{[]string{"https://*.example.com"}, "https://a.example.com", true},
		{[]string{"https://*.example.com"}, "https://a.example.com/", false},
		{[]string{"https://prefix-*-suffix.example.com/cb"}, "https://prefix-a-suffix.example.com/cb", true},
		{[]string{"https://prefix-*-suffix.example.com/cb"}, "https://prefix-a-b-suffix.example.com/cb", true},
		{[]string{"https://prefix-*-suffix.example.com/cb"}, "https://prefix--suffix.example.com/cb", false},
		{[]string{"https://prefix-*-suffix.example.com/cb"}, "https://prefix-a.example.com/cb", false},
		{[]string{"https://prefix-*-suffix.example.com/cb"}, "https://a-suffix.example.com/cb", false},
		{[]string{"https://prefix-*-suffix.example.com/cb"}, "https://prefix-a.b-suffix.example.com/cb", false},
		{[]string{"https://ab*ba.example.com/cb"}, "https://aba.example.com/cb", false},
		{[]string{"https://ab*ba.example.com/cb"}, "https://abxba.example.com/cb", true},
		{[]string{"http://*.example.com/cb"}, "http://a.example.com:8080/cb", false},

		// Entries that are not valid never match, nor do invalid got URLs.
		{[]string{"https://*.com/cb"}, "https://example.com/cb", false},
		{[]string{"https://sub.*.example.com/cb"}, "https://sub.a.example.com/cb", false},
		{[]string{"https://a.example.com/cb#x"}, "https://a.example.com/cb#x", false},
		{[]string{"https://user@a.example.com/cb"}, "https://user@a.example.com/cb", false},
		{[]string{"javascript://a.example.com/%0aalert(1)"}, "javascript://a.example.com/%0aalert(1)", false},
		{[]string{"javascript:alert(1)"}, "javascript:alert(1)", false},
		{[]string{""}, "", false},
		{[]string{"https://a.example.com/cb"}, "", false},
		{nil, "https://a.example.com/cb", false},
		{[]string{long}, long, true},
		{[]string{long + "a"}, long + "a", false},
	} {
		if got := MatchCallback(tc.allowed, tc.got); got != tc.want {
			t.Errorf("MatchCallback(%.80q, %.80q) = %v, want %v", tc.allowed, tc.got, got, tc.want)
		}
	}
}

func TestMatchOrigin(t *testing.T) {
	for _, tc := range []struct {
		allowed []string
		origin  string
		want    bool
	}{
		{[]string{"https://a.example.com"}, "https://a.example.com", true},
		{[]string{"https://a.example.com/"}, "https://a.example.com", true},
		{[]string{"https://x.example.com", "https://a.example.com"}, "https://a.example.com", true},
		{[]string{"https://a.example.com"}, "https://A.EXAMPLE.COM", true},
		{[]string{"HTTPS://A.Example.com"}, "https://a.example.com", true},
		{[]string{"https://a.example.com"}, "http://a.example.com", false},
		{[]string{"https://a.example.com"}, "https://b.example.com", false},
		{[]string{"https://a.example.com"}, "https://a.example.com.evil.example", false},

		// Ports, with the defaults filled in.
		{[]string{"https://a.example.com"}, "https://a.example.com:443", true},
		{[]string{"https://a.example.com:443"}, "https://a.example.com", true},
		{[]string{"http://a.example.com"}, "http://a.example.com:80", true},
		{[]string{"http://a.example.com:80"}, "http://a.example.com", true},
		{[]string{"https://a.example.com"}, "https://a.example.com:80", false},
		{[]string{"http://a.example.com"}, "http://a.example.com:443", false},
		{[]string{"https://a.example.com:8443"}, "https://a.example.com:8443", true},
		{[]string{"https://a.example.com:8443"}, "https://a.example.com", false},
		{[]string{"https://a.example.com"}, "https://a.example.com:8443", false},
		{[]string{"http://localhost:3000"}, "http://localhost:3000", true},
		{[]string{"http://localhost:3000"}, "http://localhost:3001", false},
		{[]string{"http://127.0.0.1:3000"}, "http://127.0.0.1:3001", false},
		{[]string{"http://[::1]:3000"}, "http://[::1]:3000", true},
		{[]string{"capacitor://localhost"}, "capacitor://localhost", true},
		{[]string{"capacitor://localhost"}, "capacitor://localhost:80", false},

		// Wildcards.
		{[]string{"https://*.example.com"}, "https://a.example.com", true},
		{[]string{"https://*.example.com"}, "https://a.example.com:443", true},
		{[]string{"https://*.example.com"}, "https://a.b.example.com", false},
		{[]string{"https://*.example.com"}, "https://example.com", false},
		{[]string{"https://*.example.com"}, "https://*.example.com", false},
		{[]string{"https://prefix-*-suffix.example.com"}, "https://prefix-x-suffix.example.com", true},
		{[]string{"https://prefix-*-suffix.example.com"}, "https://prefix--suffix.example.com", false},
		{[]string{"https://*.com"}, "https://example.com", false},

		// Not origins.
		{[]string{"https://a.example.com"}, "null", false},
		{[]string{"null"}, "null", false},
		{[]string{"https://a.example.com"}, "", false},
		{[]string{""}, "", false},
		{[]string{"https://a.example.com"}, "https://a.example.com/", false},
		{[]string{"https://a.example.com"}, "https://a.example.com/path", false},
		{[]string{"https://a.example.com/path"}, "https://a.example.com", false},
		{[]string{"https://a.example.com?x"}, "https://a.example.com", false},
		{[]string{"https://a.example.com"}, "https://a.example.com#", false},
		{[]string{"https://a.example.com"}, "https://user@a.example.com", false},
		{nil, "https://a.example.com", false},
	} {
		if got := MatchOrigin(tc.allowed, tc.origin); got != tc.want {
			t.Errorf("MatchOrigin(%q, %q) = %v, want %v", tc.allowed, tc.origin, got, tc.want)
		}
	}
}
