package forwardcert_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/clientcert"
	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
	"github.com/portcullis-gw/portcullis/internal/testenv"
	"github.com/portcullis-gw/portcullis/modules/echo"
)

// edge is a running Caddy with sites in front of the echo upstream:
//
//	all       every format, a trusted CA, client_auth mode request
//	deflt     the default format, no trusted CA, mode require
//	lenient   the default format, mode request, on a server that keeps
//	          some headers with _ and . (Caddy drops them by default),
//	          in front of an echo server that keeps them too (and so
//	          drops their variants with dashes, Client-Cert among them)
//	bare, bareLenient  the same without forward_client_cert, as controls
type edge struct {
	caddy                                  *testenv.Caddy
	all, deflt, lenient, bare, bareLenient string
}

// separated are the inbound names with _ or . that the lenient servers
// keep.
var separated = []string{"Client_Certificate_Ca_Verified", "X_Forwarded_Client_Cert", "Client-Certificate-Ca_Verified", "client.cert"}

func startEdge(t *testing.T, caFile string) *edge {
	t.Helper()
	dir := t.TempDir()
	all, deflt, lenient, bare, bareLenient := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	up, lenientUp := testenv.FreePort(t), testenv.FreePort(t)
	keep := fmt.Sprintf("\t\tprotocols h1 h2\n\t\texpected_underscore_headers %s %s %s\n\t\texpected_dot_headers %s\n", separated[0], separated[1], separated[2], separated[3])
	cfg := fmt.Sprintf(`{
	servers :%[5]d {
%[8]s	}
	servers :%[7]d {
%[8]s	}
	servers 127.0.0.1:%[10]d {
%[8]s	}
%[1]s}

(clientauth) {
	tls internal {
		client_auth {
			mode {args[0]}
		}
	}
}

https://localhost:%[2]d {
	import clientauth request
	forward_client_cert {
		format rfc9440 auth0
		format xfcc
		trusted_ca_certs %[3]s
	}
	reverse_proxy 127.0.0.1:%[4]d {
		header_up X-Cc-Present {http.client_cert.present}
		header_up X-Cc-Verified {http.client_cert.verified}
		header_up X-Cc-Fingerprint {http.client_cert.fingerprint}
		header_up X-Cc-Subject {http.client_cert.subject}
	}
}

https://localhost:%[9]d {
	import clientauth require
	forward_client_cert
	reverse_proxy 127.0.0.1:%[4]d
}

https://localhost:%[5]d {
	import clientauth request
	forward_client_cert
	reverse_proxy 127.0.0.1:%[10]d
}

https://localhost:%[6]d {
	import clientauth request
	reverse_proxy 127.0.0.1:%[4]d
}

https://localhost:%[7]d {
	import clientauth request
	reverse_proxy 127.0.0.1:%[10]d
}

http://:%[4]d {
	bind 127.0.0.1
	echo
}

http://:%[10]d {
	bind 127.0.0.1
	echo
}
`, testenv.TestGlobals(dir), all, caFile, up, lenient, bare, bareLenient, keep, deflt, lenientUp)
	u := func(port int) string { return fmt.Sprintf("https://localhost:%d/", port) }
	e := &edge{all: u(all), deflt: u(deflt), lenient: u(lenient), bare: u(bare), bareLenient: u(bareLenient)}
	e.caddy = testenv.Start(t, dir, cfg, e.all)
	return e
}

// client returns a client that trusts Caddy's local CA, presents cert (if
// any) and speaks HTTP/2 or HTTP/1.1 only.
func (e *edge) client(t *testing.T, cert *clientcerttest.Cert, h2 bool) *http.Client {
	t.Helper()
	root, err := os.ReadFile(e.caddy.RootCAPath())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(root) {
		t.Fatal("no certificate in Caddy's root")
	}
	cfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		c := cert.TLS()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// get sends GET url with the extra headers, set under exactly the names
// given (so their letter case reaches HTTP/1.1 servers as is), and returns
// what the echo upstream received.
func get(t *testing.T, c *http.Client, url string, extra map[string]string, wantProto int) http.Header {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		req.Header[k] = []string{v}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != wantProto {
		t.Fatalf("%s %d, want HTTP/%d 200", resp.Proto, resp.StatusCode, wantProto)
	}
	var got echo.Echo
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	return http.Header(got.Headers)
}

// certHeaders returns the upstream's headers that could pass for a
// certificate header.
func certHeaders(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		if clientcert.IsHeaderName(k) {
			out[k] = v
		}
	}
	return out
}

// TestForwardClientCert is the acceptance test of forward_client_cert
// through a real Caddy. Caddy is a process-wide singleton, so the steps
// share one instance and run in order as subtests.
func TestForwardClientCert(t *testing.T) {
	p := newPKI(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, p.ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startEdge(t, caFile)
	for _, proto := range []struct {
		name  string
		h2    bool
		major int
	}{{"HTTP/2", true, 2}, {"HTTP/1.1", false, 1}} {
		t.Run(proto.name, func(t *testing.T) {
			t.Run("every format", func(t *testing.T) { e.testFormats(t, p, proto.h2, proto.major) })
			t.Run("default format", func(t *testing.T) { e.testDefault(t, p, proto.h2, proto.major) })
			t.Run("spoofed headers never reach the upstream", func(t *testing.T) { e.testSpoofing(t, p, proto.h2, proto.major) })
			t.Run("spoofed trailers never reach the upstream", func(t *testing.T) { e.testSpoofedTrailers(t, p, proto.h2, proto.major) })
		})
	}
	t.Run("certificate headers named in Connection still reach the upstream", func(t *testing.T) { e.testHopByHop(t, p) })
	t.Run("require refuses a connection without a certificate", func(t *testing.T) {
		resp, err := e.client(t, nil, true).Get(e.deflt)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got %s without a client certificate", resp.Status)
		}
	})
}

func (e *edge) testFormats(t *testing.T, p *pki, h2 bool, major int) {
	for _, tc := range []struct {
		name     string
		cert     *clientcerttest.Cert
		verified string // client-certificate-ca-verified
		ok       bool   // {http.client_cert.verified}
	}{
		{"CA-signed", p.good, "SUCCESS", true},
		{"through an intermediate", p.viaInter, "SUCCESS", true},
		{"odd subject", p.oddDN, "SUCCESS", true},
		{"control characters", p.control, "SUCCESS", true},
		{"self-signed", p.selfSigned, "FAILED: self-signed certificate", false},
		{"expired", p.expired, "FAILED: certificate has expired", false},
		{"not yet valid", p.notYet, "FAILED: certificate is not yet valid", false},
		{"another CA", p.foreign, "FAILED: certificate signed by unknown authority", false},
		{"server authentication only", p.serverOnly, "FAILED: certificate is not valid for client authentication", false},
		{"too large for Auth0 (verified all the same)", p.large, "FAILED: certificate too large", true},
		{"no certificate", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := get(t, e.client(t, tc.cert, h2), e.all, nil, major)
			if tc.cert == nil {
				if got := certHeaders(h); len(got) != 0 {
					t.Errorf("certificate headers without a certificate: %v", got)
				}
				if h.Get("X-Cc-Present") != "false" || h.Get("X-Cc-Verified") != "false" || h.Get("X-Cc-Fingerprint") != "" || h.Get("X-Cc-Subject") != "" {
					t.Errorf("placeholders without a certificate: %q %q %q %q", h.Get("X-Cc-Present"), h.Get("X-Cc-Verified"), h.Get("X-Cc-Fingerprint"), h.Get("X-Cc-Subject"))
				}
				return
			}
			want := clientcert.FromTLS(tc.cert.ConnectionState(), p.ca.Pool(), time.Now())
			for name, vs := range certHeaders(h) {
				if len(vs) != 1 {
					t.Errorf("%s has %d values", name, len(vs))
				}
			}

			rfc, err := clientcert.ParseRFC9440(h.Get("Client-Cert"), h.Get("Client-Cert-Chain"))
			if err != nil {
				t.Fatalf("RFC 9440: %v", err)
			}
			checkSame(t, "RFC 9440", rfc, want, len(tc.cert.Intermediates))

			xfcc, err := clientcert.ParseXFCC(h.Get("X-Forwarded-Client-Cert"))
			if err != nil {
				t.Fatalf("XFCC: %v", err)
			}
			checkSame(t, "XFCC", xfcc, want, len(tc.cert.Intermediates))

			if got := h.Get("Client-Certificate-Ca-Verified"); got != tc.verified {
				t.Errorf("client-certificate-ca-verified %q, want %q", got, tc.verified)
			}
			auth0, err := clientcert.ParseAuth0(h.Get("Client-Certificate"), h.Get("Client-Certificate-Ca-Verified"))
			if tc.cert == p.large {
				if _, ok := h["Client-Certificate"]; ok {
					t.Errorf("client-certificate sent though over %d bytes", clientcert.Auth0MaxHeaderBytes)
				}
			} else if err != nil {
				t.Errorf("Auth0: %v", err)
			} else {
				checkSame(t, "Auth0", auth0, want, 0)
				if auth0.Verified != (tc.verified == "SUCCESS") {
					t.Errorf("Auth0 verified %v", auth0.Verified)
				}
			}

			if h.Get("X-Cc-Present") != "true" || h.Get("X-Cc-Verified") != fmt.Sprint(tc.ok) ||
				h.Get("X-Cc-Fingerprint") != want.FingerprintSHA256 || h.Get("X-Cc-Subject") != want.Subject {
				t.Errorf("placeholders %q %q %q %q, want true %v %s %q", h.Get("X-Cc-Present"), h.Get("X-Cc-Verified"), h.Get("X-Cc-Fingerprint"), h.Get("X-Cc-Subject"),
					tc.ok, want.FingerprintSHA256, want.Subject)
			}
		})
	}
}

// checkSame checks that got, parsed from the upstream's headers, is the
// client's certificate, presented with chainLen other certificates.
func checkSame(t *testing.T, format string, got, want clientcert.Info, chainLen int) {
	t.Helper()
	if !got.Present || got.FingerprintSHA256 != want.FingerprintSHA256 || got.Subject != want.Subject || len(got.Chain) != chainLen {
		t.Errorf("%s: fingerprint %s, subject %q, chain %d; want %s, %q, %d", format, got.FingerprintSHA256, got.Subject, len(got.Chain), want.FingerprintSHA256, want.Subject, chainLen)
	}
	for i := 0; i < chainLen && i < len(got.Chain); i++ {
		if !got.Chain[i].Equal(want.Chain[i]) {
			t.Errorf("%s: chain certificate %d differs", format, i)
		}
	}
}

func (e *edge) testDefault(t *testing.T, p *pki, h2 bool, major int) {
	for _, tc := range []struct {
		name string
		cert *clientcerttest.Cert
	}{
		{"CA-signed", p.good},
		{"self-signed", p.selfSigned},
		{"expired", p.expired},
		{"through an intermediate", p.viaInter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := get(t, e.client(t, tc.cert, h2), e.deflt, nil, major)
			got := certHeaders(h)
			want := "Client-Cert"
			if len(tc.cert.Intermediates) > 0 {
				want += " Client-Cert-Chain"
			}
			if names := strings.Join(sortedKeys(got), " "); names != want {
				t.Fatalf("certificate headers %s, want %s", names, want)
			}
			info, err := clientcert.ParseRFC9440(h.Get("Client-Cert"), h.Get("Client-Cert-Chain"))
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, "RFC 9440", info, clientcert.FromTLS(tc.cert.ConnectionState(), nil, time.Now()), len(tc.cert.Intermediates))
		})
	}
}

// spoofed are inbound certificate headers a client might try: the names
// of the formats in odd letter cases, and with _ or . for dashes.
func spoofed() map[string]string {
	h := map[string]string{
		"client-certificate":             "spoofed-auth0",
		"CLIENT-CERTIFICATE-CA-VERIFIED": "SUCCESS spoofed",
		"cLiEnT-cErT":                    ":c3Bvb2ZlZA==:",
		"Client-Cert-CHAIN":              ":c3Bvb2ZlZA==:",
		"x-forwarded-client-cert":        "Hash=spoofed",
	}
	for _, name := range separated {
		h[name] = "spoofed " + name
	}
	return h
}

func (e *edge) testSpoofing(t *testing.T, p *pki, h2 bool, major int) {
	for _, site := range []struct{ name, url string }{{"every format", e.all}, {"default format", e.deflt}, {"headers with _ and . kept", e.lenient}} {
		for _, tc := range []struct {
			name string
			cert *clientcerttest.Cert
		}{{"with a certificate", p.good}, {"without a certificate", nil}} {
			if tc.cert == nil && site.url == e.deflt {
				continue // mode require
			}
			t.Run(site.name+" "+tc.name, func(t *testing.T) {
				h := get(t, e.client(t, tc.cert, h2), site.url, spoofed(), major)
				for name, vs := range h {
					for _, v := range vs {
						if strings.Contains(v, "spoofed") || strings.Contains(v, "c3Bvb2ZlZA") {
							t.Errorf("spoofed %s: %s reached the upstream", name, v)
						}
					}
				}
				for name, vs := range certHeaders(h) {
					if len(vs) != 1 || tc.cert == nil {
						t.Errorf("%s: %q", name, vs)
					}
				}
				if tc.cert != nil && site.url != e.lenient {
					info, err := clientcert.ParseRFC9440(h.Get("Client-Cert"), "")
					if err != nil || info.FingerprintSHA256 != clientcert.FromTLS(tc.cert.ConnectionState(), nil, time.Now()).FingerprintSHA256 {
						t.Errorf("Client-Cert is not the client's: %v", err)
					}
				}
			})
		}
	}
	// The controls: without forward_client_cert, the same headers do
	// reach the upstream, so the tests above do test something.
	t.Run("controls without forward_client_cert", func(t *testing.T) {
		h := get(t, e.client(t, p.good, h2), e.bare, spoofed(), major)
		if got := certHeaders(h); len(got) != 5 {
			t.Errorf("%d spoofed headers reached the upstream of the bare site, want the 5 with dashes: %v", len(got), got)
		}
		h = get(t, e.client(t, p.good, h2), e.bareLenient, spoofed(), major)
		for _, name := range separated {
			if v := h[http.CanonicalHeaderKey(name)]; len(v) != 1 || !strings.Contains(v[0], "spoofed") {
				t.Errorf("%s did not reach the upstream of the lenient bare site: %q", name, v)
			}
		}
	})
}

// testHopByHop names every certificate header in Connection (RFC 9110
// section 7.6.1), which makes reverse_proxy drop the headers named: those
// forward_client_cert sets must reach the upstream all the same. Over
// HTTP/1.1 only: HTTP/2 and HTTP/3 forbid Connection.
func (e *edge) testHopByHop(t *testing.T, p *pki) {
	for _, tc := range []struct{ name, connection string }{
		{"as the formats spell them", "close, Client-Cert, Client-Cert-Chain, client-certificate, client-certificate-ca-verified, X-Forwarded-Client-Cert, X-Hop"},
		{"in other letter cases and spacing", "CLIENT-CERT ,	client-cert-chain,,Client-Certificate , X-Hop,CLIENT-CERTIFICATE-CA-VERIFIED,x-forwarded-client-cert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := get(t, e.client(t, p.viaInter, false), e.all, map[string]string{"Connection": tc.connection, "X-Hop": "named in Connection"}, 1)
			want := "Client-Cert Client-Cert-Chain Client-Certificate Client-Certificate-Ca-Verified X-Forwarded-Client-Cert"
			if names := strings.Join(sortedKeys(certHeaders(h)), " "); names != want {
				t.Errorf("certificate headers at the upstream: %s, want %s", names, want)
			}
			info, err := clientcert.ParseRFC9440(h.Get("Client-Cert"), h.Get("Client-Cert-Chain"))
			if err != nil || info.FingerprintSHA256 != clientcert.FromTLS(p.viaInter.ConnectionState(), nil, time.Now()).FingerprintSHA256 {
				t.Errorf("Client-Cert is not the client's: %v", err)
			}
			if _, ok := h["X-Hop"]; ok {
				t.Error("X-Hop, named in Connection, reached the upstream: the proxy ignored the nominations")
			}
		})
	}
}

func sortedKeys(h http.Header) []string {
	var keys []string
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// pki is the test PKI of the end-to-end tests.
type pki struct {
	ca, intermediate                                 *clientcerttest.Cert
	good, viaInter, oddDN, control                   *clientcerttest.Cert // verified
	selfSigned, expired, notYet, foreign, serverOnly *clientcerttest.Cert // not verified
	large                                            *clientcerttest.Cert // too large for Auth0
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	now := time.Now()
	p := &pki{ca: clientcerttest.NewCA(t, "Edge Test Root CA")}
	p.intermediate = p.ca.Intermediate(t, "Edge Test Intermediate CA")
	p.good = p.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "client-1", Organization: []string{"Example"}}, DNSNames: []string{"client.example.com"}})
	p.viaInter = p.intermediate.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "client-2"}})
	p.oddDN = p.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{
		CommonName:   `#client, "one" + two\three; <four> `,
		Organization: []string{" Ünïcødé Gmbh, Zürich"},
	}})
	p.selfSigned = clientcerttest.SelfSigned(t, &x509.Certificate{Subject: pkix.Name{CommonName: "self"}})
	p.expired = p.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "expired"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	p.notYet = p.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "not yet"}, NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(48 * time.Hour)})
	p.foreign = clientcerttest.NewCA(t, "Other CA").Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "foreign"}})
	p.serverOnly = p.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "server"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	p.control = p.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "evil\r\nX-Injected: 1"}, DNSNames: []string{"bad\n.example.com"}})
	var names []string
	for i := range 120 {
		names = append(names, fmt.Sprintf("host-%03d.a-rather-long-subdomain.example.com", i))
	}
	p.large = p.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "large"}, DNSNames: names})
	return p
}

// testSpoofedTrailers sends certificate headers as trailer fields after a
// chunked body (RFC 9110 section 6.5), which reverse_proxy forwards and
// upstreams often merge into the header: none may reach the upstream, with
// a certificate or without, while other trailers pass.
func (e *edge) testSpoofedTrailers(t *testing.T, p *pki, h2 bool, major int) {
	for _, cert := range []*clientcerttest.Cert{nil, p.good} {
		req, err := http.NewRequest(http.MethodPost, e.all, io.NopCloser(strings.NewReader("abc")))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		req.Trailer = http.Header{"X-Other": {"kept"}}
		for _, name := range []string{clientcert.HeaderClientCert, clientcert.HeaderClientCertChain, clientcert.HeaderAuth0Cert, clientcert.HeaderAuth0Verified, clientcert.HeaderXFCC, "Client_Cert"} {
			req.Trailer[name] = []string{"spoofed"}
		}
		resp, err := e.client(t, cert, h2).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got echo.Echo
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || resp.ProtoMajor != major {
			t.Fatalf("%s %d (%v), want HTTP/%d 200 from the echo upstream", resp.Proto, resp.StatusCode, err, major)
		}
		if spoofed := certHeaders(got.Trailers); len(spoofed) != 0 {
			t.Errorf("with certificate %v, the upstream received the trailers %v", cert != nil, spoofed)
		}
		if vs := got.Trailers["X-Other"]; len(vs) != 1 || vs[0] != "kept" {
			t.Errorf("trailer X-Other = %q, want kept: trailers that are not certificate headers pass", vs)
		}
	}
}
