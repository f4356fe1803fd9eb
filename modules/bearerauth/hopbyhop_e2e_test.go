package bearerauth_test

import (
	"bytes"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestHopByHopNominations: a client may name headers in Connection (RFC
// 9110 section 7.6.1) and reverse_proxy then drops them as hop-by-hop. The
// headers bearer_auth sets, its own and the policy's, must reach the
// upstream whatever the client puts in Connection.
func TestHopByHopNominations(t *testing.T) {
	e := startEdge(t)
	worker := e.embedded.m2m(t, "hop-by-hop", ordersAPI, "read:orders")
	tok := e.embedded.token(t, worker, ordersAPI, "read:orders")
	identity := map[string]string{
		"X-Portcullis-Subject":   worker.id + "@clients",
		"X-Portcullis-Client-Id": worker.id,
		"X-Portcullis-Scope":     "read:orders",
		"X-Portcullis-Issuer":    e.embedded.issuer,
	}
	// Each case also names X-Hop, which the client sends: that it does
	// not reach the upstream shows the proxy honoured the nominations.
	for _, tc := range []struct {
		name       string
		connection []string
	}{
		{"the identity headers", []string{"close, X-Portcullis-Subject, X-Portcullis-Client-Id, X-Portcullis-Scope, X-Portcullis-Issuer, X-Hop"}},
		{"in other letter cases and spacing, with the decision id", []string{"x-portcullis-subject ,\tX-PORTCULLIS-CLIENT-ID,,x-portcullis-scope , X-Hop,x-portcullis-issuer,x-portcullis-decision-id"}},
		{"over several Connection headers", []string{"keep-alive, X-Portcullis-Subject", "X-Portcullis-Scope", "X-Hop, X-Portcullis-Issuer, X-Portcullis-Client-Id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := []string{"X-Hop", "named in Connection"}
			for _, c := range tc.connection {
				extra = append(extra, "Connection", c)
			}
			got := wantAllowed(t, e.requestH1(t, "GET", e.ordersURL+"/orders", bearer(tok), extra...))
			for name, value := range identity {
				if vs := got.Headers[name]; len(vs) != 1 || vs[0] != value {
					t.Errorf("upstream header %s = %q, want exactly %q", name, vs, value)
				}
			}
			if ids := got.Headers["X-Portcullis-Decision-Id"]; len(ids) != 1 || ids[0] == "" {
				t.Errorf("upstream X-Portcullis-Decision-Id = %q, want one", ids)
			}
			if vs, ok := got.Headers["X-Hop"]; ok {
				t.Errorf("X-Hop, named in Connection, reached the upstream (%q): the proxy ignored the nominations", vs)
			}
		})
	}

	t.Run("HTTP/2 refuses Connection", func(t *testing.T) {
		if status := e.rawH2(t, e.ordersURL, "/orders", [][2]string{
			{"authorization", bearer(tok)}, {"connection", "x-portcullis-subject"},
		}); status != http.StatusBadRequest {
			t.Errorf("an HTTP/2 request with Connection got %d, want 400 (RFC 9113 section 8.2.2)", status)
		}
		if status := e.rawH2(t, e.ordersURL, "/orders", [][2]string{{"authorization", bearer(tok)}}); status != http.StatusOK {
			t.Errorf("the same request without Connection got %d, want 200", status)
		}
	})

	t.Run("a header the policy adds", func(t *testing.T) {
		writeFile(t, filepath.Join(e.policyDir, "edge.rego"), teapotPolicy)
		e.pollPolicy(t)
		wantDenied(t, e.request(t, "GET", e.policyURL+"/orders", bearer(tok), "X-Block", "v2"), http.StatusTeapot, nil)
		got := wantAllowed(t, e.requestH1(t, "GET", e.policyURL+"/orders", bearer(tok), "Connection", "x-policy-version, X-Hop", "X-Hop", "named in Connection"))
		if vs := got.Headers["X-Policy-Version"]; len(vs) != 1 || vs[0] != "2" {
			t.Errorf("upstream X-Policy-Version = %q, want the policy's 2", vs)
		}
		if _, ok := got.Headers["X-Hop"]; ok {
			t.Error("X-Hop, named in Connection, reached the upstream: the proxy ignored the nominations")
		}
	})
}

// rawH2 sends GET path to site over HTTP/2 with the header fields given,
// as written (Go's HTTP/2 client would refuse or drop some), and returns
// the response's status, or 0 when the server reset the stream.
func (e *edge) rawH2(t *testing.T, site, path string, fields [][2]string) int {
	t.Helper()
	conn, authority := e.dial(t, site, "h2")
	defer conn.Close()
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range append([][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", authority}, {":path", path}}, fields...) {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading HTTP/2 frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := fr.WriteSettingsAck(); err != nil {
					t.Fatal(err)
				}
			}
		case *http2.RSTStreamFrame:
			return 0
		case *http2.HeadersFrame:
			hf, err := dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hf {
				if h.Name == ":status" {
					status, err := strconv.Atoi(h.Value)
					if err != nil {
						t.Fatal(err)
					}
					return status
				}
			}
			t.Fatal("response without :status")
		}
	}
}
