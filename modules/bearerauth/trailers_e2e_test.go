package bearerauth_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSpoofedTrailers: a request body can be followed by trailer fields
// (RFC 9110 section 6.5), which reverse_proxy forwards after the body and
// upstreams often merge into the header. None with the name of a header
// bearer_auth sets may reach the upstream, declared in Trailer or not,
// over HTTP/1.1 or HTTP/2, and other trailers still pass.
func TestSpoofedTrailers(t *testing.T) {
	e := startEdge(t)
	worker := e.embedded.m2m(t, "trailers", ordersAPI, "read:orders")
	tok := e.embedded.token(t, worker, ordersAPI, "read:orders")
	spoofed := []string{"X-Portcullis-Subject", "x-portcullis-scope", "X-Portcullis-Client-Id", "X-Portcullis-Issuer", "X_Portcullis_Decision_Id"}
	wantClean := func(t *testing.T, a answer) {
		t.Helper()
		got := wantAllowed(t, a)
		for name, values := range got.Trailers {
			if isOurs(name) {
				t.Errorf("the upstream received the trailer %s: %q", name, values)
			}
		}
		if vs := got.Trailers["X-Other"]; len(vs) != 1 || vs[0] != "kept" {
			t.Errorf("trailer X-Other = %q, want kept: trailers that are not ours pass", vs)
		}
		if vs := got.Headers["X-Portcullis-Subject"]; len(vs) != 1 || vs[0] != worker.id+"@clients" {
			t.Errorf("X-Portcullis-Subject = %q, want the token's subject", vs)
		}
	}
	var fields strings.Builder
	for _, name := range spoofed {
		fmt.Fprintf(&fields, "%s: admin\r\n", name)
	}
	fields.WriteString("X-Other: kept\r\n")

	t.Run("HTTP/1.1, declared", func(t *testing.T) {
		wantClean(t, e.chunkedH1(t, e.ordersURL, "/health", tok, "Trailer: "+strings.Join(spoofed, ", ")+", X-Other", fields.String()))
	})
	t.Run("HTTP/1.1, not declared", func(t *testing.T) {
		wantClean(t, e.chunkedH1(t, e.ordersURL, "/health", tok, "Trailer: X-Other", fields.String()))
	})
	t.Run("HTTP/2", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), "POST", e.ordersURL+"/health", io.NopCloser(strings.NewReader("abc")))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		req.Header.Set("Authorization", bearer(tok))
		req.Trailer = http.Header{"X-Other": {"kept"}}
		for _, name := range spoofed {
			req.Trailer[name] = []string{"admin"}
		}
		e.presented = append(e.presented, tok)
		resp, err := e.caddy.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("the request went over %s, want HTTP/2", resp.Proto)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		wantClean(t, answer{status: resp.StatusCode, header: resp.Header, body: body})
	})
}

// isOurs reports whether an upstream could read name as one of the headers
// bearer_auth sets (CGI folds _ and . into dashes).
func isOurs(name string) bool {
	folded := strings.NewReplacer("_", "-", ".", "-").Replace(name)
	return strings.HasPrefix(strings.ToLower(folded), "x-portcullis-")
}

// chunkedH1 sends, over HTTP/1.1 and as written, a POST of path to site
// with the bearer token, the header line extra, a chunked body and the
// trailer fields (each line ending in CRLF).
func (e *edge) chunkedH1(t *testing.T, site, path, token, extra, trailer string) answer {
	t.Helper()
	cfg := e.caddy.Client.Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	authority := strings.TrimPrefix(site, "https://")
	conn, err := tls.Dial("tcp", authority, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	e.presented = append(e.presented, token)
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n%s\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n%s\r\n",
		path, authority, token, extra, trailer); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}
