package bearerauth_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// TestMethodsAndPaths sends, through a real Caddy, requests whose method or
// path an upstream could read otherwise than the rules do. The orders
// site's rules are
//
//	scopes GET /orders* read:orders
//	scopes POST /orders* create:orders
//	permissions DELETE /orders/* delete:orders
//	scopes * /admin admin:orders
//	scopes PATCH /orders/*/status admin:orders
//
// and the token may create orders only, so every rule but POST's denies it.
func TestMethodsAndPaths(t *testing.T) {
	e := startEdge(t)
	c := e.embedded.m2m(t, "methods-and-paths", ordersAPI, "read:orders", "create:orders")
	creator := e.embedded.token(t, c, ordersAPI, "create:orders")
	reader := e.embedded.token(t, c, ordersAPI, "read:orders")
	host := strings.TrimPrefix(e.ordersURL, "https://")

	for _, tc := range []struct {
		name, method, target string
		status               int
	}{
		// Controls.
		{"GET", "GET", "/orders/1", http.StatusForbidden},
		{"POST, which the token may", "POST", "/orders", http.StatusOK},
		{"a path no rule names", "GET", "/health", http.StatusOK},
		{"a method no rule names", "PROPFIND", "/orders/1", http.StatusOK},
		{"OPTIONS *", "OPTIONS", "*", http.StatusOK},

		// Methods: HEAD is GET without a body; methods are case-sensitive,
		// and some upstreams read get as GET.
		{"HEAD is held to GET's rules", "HEAD", "/orders/1", http.StatusForbidden},
		{"a method a * rule covers", "PROPFIND", "/admin", http.StatusForbidden},
		{"get in lower case", "get", "/orders/1", http.StatusNotImplemented},
		{"Get", "Get", "/orders/1", http.StatusNotImplemented},
		{"head in lower case", "head", "/orders/1", http.StatusNotImplemented},
		{"delete in lower case", "delete", "/orders/1", http.StatusNotImplemented},
		{"TRACE, which would echo the token", "TRACE", "/orders/1", http.StatusNotImplemented},
		{"CONNECT with a path", "CONNECT", "/orders/1", http.StatusNotImplemented},
		{"CONNECT to an authority", "CONNECT", host, http.StatusNotImplemented},

		// Paths as Caddy's path matcher reads them: decoded, case-insensitive.
		{"upper case", "GET", "/ORDERS/1", http.StatusForbidden},
		{"an escaped letter", "GET", "/%6Frders/1", http.StatusForbidden},
		{"an escaped slash", "GET", "/orders%2F1", http.StatusForbidden},
		{"a trailing slash", "GET", "/orders/1/", http.StatusForbidden},
		{"an exact pattern covers its trailing slash", "GET", "/admin/", http.StatusForbidden},
		{"an exact pattern in upper case", "GET", "/ADMIN", http.StatusForbidden},
		{"a glob within a segment", "PATCH", "/orders/1/status", http.StatusForbidden},
		{"a glob within a segment, with a trailing slash", "PATCH", "/orders/1/status/", http.StatusForbidden},
		{"absolute form", "GET", e.ordersURL + "/admin", http.StatusForbidden},
		{"absolute form with the host in upper case", "GET", strings.ToUpper(e.ordersURL) + "/admin", http.StatusForbidden},

		// Paths an upstream could read as another path: refused.
		{"a double slash", "GET", "//admin", http.StatusBadRequest},
		{"a double slash inside", "GET", "/orders//1", http.StatusBadRequest},
		{"a dot segment", "GET", "/./admin", http.StatusBadRequest},
		{"a dot-dot segment", "GET", "/health/../admin", http.StatusBadRequest},
		{"escaped dots", "GET", "/health/%2e%2e/admin", http.StatusBadRequest},
		{"escaped slashes around dots", "GET", "/health%2F..%2Fadmin", http.StatusBadRequest},
		{"a path parameter", "GET", "/admin;x", http.StatusBadRequest},
		{"dot-dot with a path parameter", "GET", "/..;/admin", http.StatusBadRequest},
		{"an escaped semicolon", "GET", "/admin%3Bx", http.StatusBadRequest},
		{"backslashes", "GET", `/health\..\admin`, http.StatusBadRequest},
		{"escaped backslashes", "GET", "/health%5C..%5Cadmin", http.StatusBadRequest},
		{"a trailing dot", "GET", "/admin.", http.StatusBadRequest},
		{"an escaped trailing dot", "GET", "/admin%2E", http.StatusBadRequest},
		{"a trailing space", "GET", "/admin%20", http.StatusBadRequest},
		{"a NUL", "GET", "/admin%00", http.StatusBadRequest},
		{"a control character", "GET", "/admin%0A", http.StatusBadRequest},
		{"a doubly escaped dot", "GET", "/admin%252e", http.StatusBadRequest},
		{"a fragment", "GET", "/health#/../admin", http.StatusBadRequest},
		{"absolute form with a double slash", "GET", e.ordersURL + "//admin", http.StatusBadRequest},
		{"* for another method than OPTIONS", "GET", "*", http.StatusBadRequest},
		// Case-insensitive upstreams that upper-case or fold (Java's
		// equalsIgnoreCase, Go's EqualFold) read these as S and I.
		{"a long s", "GET", "/order%C5%BF/1", http.StatusBadRequest},
		{"a long s, unescaped", "GET", "/order\u017f/1", http.StatusBadRequest},
		{"a dotless i", "GET", "/adm%C4%B1n", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.raw(t, e.ordersURL, tc.method, tc.target, creator)
			if a.status != tc.status {
				t.Fatalf("%s %s: %s, want %d", tc.method, tc.target, a, tc.status)
			}
			if tc.status != http.StatusOK && a.echoed() != nil {
				t.Fatalf("%s %s reached the upstream: %s", tc.method, tc.target, a.body)
			}
		})
	}

	// A WebSocket over HTTP/3 is an extended CONNECT (RFC 9220), which
	// reverse_proxy forwards as a GET with Upgrade: websocket.
	t.Run("a WebSocket over HTTP/3 is held to GET's rules", func(t *testing.T) {
		wantDenied(t, e.websocketH3(t, e.ordersURL+"/orders/1", creator), http.StatusForbidden, insufficientScope(ordersAPI, "read:orders"))
		if got := wantAllowed(t, e.websocketH3(t, e.ordersURL+"/orders/1", reader)); got.Method != "GET" || got.Headers["Upgrade"][0] != "websocket" {
			t.Errorf("upstream got %s with Upgrade %q, want a GET WebSocket upgrade", got.Method, got.Headers["Upgrade"])
		}
	})

	// Express's method-override, Rack, Spring's HiddenHttpMethodFilter,
	// Symfony and ASP.NET let a POST say which method it means.
	t.Run("method overrides are refused", func(t *testing.T) {
		for _, tc := range []struct {
			name, target string
			extra        []string
		}{
			{"X-HTTP-Method-Override", "/orders/1", []string{"X-HTTP-Method-Override", "DELETE"}},
			{"X-HTTP-Method", "/orders/1", []string{"X-HTTP-Method", "DELETE"}},
			{"X-Method-Override in lower case", "/orders/1", []string{"x-method-override", "DELETE"}},
			{"a _method parameter", "/orders/1?_method=DELETE", nil},
			{"an escaped _method parameter", "/orders/1?%5Fmethod=DELETE", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := e.request(t, "POST", e.ordersURL+tc.target, bearer(creator), tc.extra...)
				if a.status != http.StatusNotImplemented || a.echoed() != nil {
					t.Errorf("POST %s with %q: %s, want 501 without reaching the upstream", tc.target, tc.extra, a)
				}
			})
		}
		wantAllowed(t, e.request(t, "POST", e.ordersURL+"/orders/1?method=DELETE", bearer(creator), "X-Method", "DELETE"))
	})

	t.Run("the policy sees the method and path the rules matched", func(t *testing.T) {
		writeFile(t, filepath.Join(e.policyDir, "edge.rego"), `package portcullis.authz

decision := {"allow": true, "headers": {"X-Seen-Method": input.request.method, "X-Seen-Path": input.request.path}}
`)
		e.pollPolicy(t)
		for _, tc := range []struct{ method, target, path string }{
			{"GET", "/Orders/1/", "/Orders/1/"},
			{"GET", "/orders%2F1", "/orders/1"},
			{"PUT", "/%6Frders", "/orders"},
		} {
			got := wantAllowed(t, e.raw(t, e.policyURL, tc.method, tc.target, reader))
			if m, p := got.Headers["X-Seen-Method"], got.Headers["X-Seen-Path"]; len(m) != 1 || m[0] != tc.method || len(p) != 1 || p[0] != tc.path || got.Path != tc.path {
				t.Errorf("%s %s: the policy saw %q %q and the upstream %s, want %s %s", tc.method, tc.target, m, p, got.Path, tc.method, tc.path)
			}
		}
	})
}

// raw sends one HTTP/1.1 request to site with the request line and Host
// written as given, and the bearer token.
func (e *edge) raw(t *testing.T, site, method, target, token string) answer {
	t.Helper()
	conn, authority := e.dial(t, site, "http/1.1")
	defer conn.Close()
	e.presented = append(e.presented, token)
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", method, target, authority, token); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// dial opens a TLS connection to site that negotiates protocol (ALPN),
// closing by itself after 10 seconds, and returns it with site's
// authority.
func (e *edge) dial(t *testing.T, site, protocol string) (*tls.Conn, string) {
	t.Helper()
	cfg := e.caddy.Client.Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{protocol}
	authority := strings.TrimPrefix(site, "https://")
	conn, err := tls.Dial("tcp", authority, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		conn.Close()
		t.Fatal(err)
	}
	return conn, authority
}

// websocketH3 opens a WebSocket to url over HTTP/3, an extended CONNECT,
// and returns the answer without speaking WebSocket.
func (e *edge) websocketH3(t *testing.T, url, token string) answer {
	t.Helper()
	tr := &http3.Transport{TLSClientConfig: e.caddy.Client.Transport.(*http.Transport).TLSClientConfig.Clone()}
	defer tr.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodConnect, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Proto = "websocket"
	req.Header.Set("Authorization", bearer(token))
	e.presented = append(e.presented, token)
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("extended CONNECT over HTTP/3: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}
