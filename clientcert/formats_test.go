package clientcert_test

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/clientcert"
	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
)

// cases are the certificates every format must carry.
func (p *pki) cases() []struct {
	name string
	cert *clientcerttest.Cert
} {
	return []struct {
		name string
		cert *clientcerttest.Cert
	}{
		{"CA-signed", p.good},
		{"through an intermediate", p.viaInter},
		{"self-signed", p.selfSigned},
		{"expired", p.expired},
		{"not yet valid", p.notYet},
		{"another CA", p.foreign},
		{"odd subject", p.oddDN},
		{"large", p.large},
	}
}

// checkRoundTrip checks that got, parsed from headers, describes what want
// described.
func checkRoundTrip(t *testing.T, got, want clientcert.Info) {
	t.Helper()
	checkDescribes(t, got, want.Leaf)
	if len(got.Chain) != len(want.Chain) {
		t.Fatalf("chain has %d certificates, want %d", len(got.Chain), len(want.Chain))
	}
	for i := range want.Chain {
		if !got.Chain[i].Equal(want.Chain[i]) {
			t.Errorf("chain certificate %d is %q, want %q", i, got.Chain[i].Subject, want.Chain[i].Subject)
		}
	}
}

// uriComponent is what encodeURIComponent leaves alone, and its escapes.
var uriComponent = regexp.MustCompile(`^([A-Za-z0-9\-_.!~*'()]|%[0-9A-F]{2})*$`)

func TestAuth0RoundTrip(t *testing.T) {
	p := newPKI(t)
	roots := p.ca.Pool()
	for _, tc := range p.cases() {
		t.Run(tc.name, func(t *testing.T) {
			info := clientcert.FromTLS(tc.cert.ConnectionState(), roots, time.Now())
			cert, verified := clientcert.Auth0Headers(info)
			if tc.cert == p.large {
				if cert != "" || verified != "FAILED: certificate too large" {
					t.Fatalf("headers %d bytes, %q; want none and FAILED: certificate too large", len(cert), verified)
				}
				_, err := clientcert.ParseAuth0(cert, verified)
				if !errors.Is(err, clientcert.ErrNoCertificate) || !strings.Contains(err.Error(), "too large") {
					t.Fatalf("ParseAuth0 error %v, want ErrNoCertificate quoting the flag", err)
				}
				return
			}
			if len(cert) > clientcert.Auth0MaxHeaderBytes || !uriComponent.MatchString(cert) || !strings.HasPrefix(cert, "-----BEGIN%20CERTIFICATE-----%0A") {
				t.Fatalf("client-certificate is not encodeURIComponent of a PEM: %.80s", cert)
			}
			wantVerified := "SUCCESS"
			if !info.Verified {
				wantVerified = "FAILED: " + info.VerifyError
			}
			if verified != wantVerified {
				t.Fatalf("client-certificate-ca-verified %q, want %q", verified, wantVerified)
			}
			got, err := clientcert.ParseAuth0(cert, verified)
			if err != nil {
				t.Fatal(err)
			}
			// Only the leaf is sent.
			info.Chain = nil
			checkRoundTrip(t, got, info)
			if got.Verified != info.Verified || got.VerifyError != info.VerifyError {
				t.Errorf("verified %v %q, want %v %q", got.Verified, got.VerifyError, info.Verified, info.VerifyError)
			}
		})
	}
}

func TestParseAuth0Accepts(t *testing.T) {
	p := newPKI(t)
	pemText := string(p.good.PEM())
	for _, tc := range []struct {
		name, cert, verified string
		ok                   bool
		reason               string
	}{
		{"encodeURIComponent", strings.ReplaceAll(url.QueryEscape(pemText), "+", "%20"), "SUCCESS", true, ""},
		{"form encoding (+ for space)", url.QueryEscape(pemText), "SUCCESS", true, ""},
		{"base64 + left alone, lower-case escapes", strings.NewReplacer("\n", "%0a", " ", "%20", "/", "%2f", "=", "%3d").Replace(pemText), "FAILED", false, ""},
		{"FAILED without a reason", url.QueryEscape(pemText), "FAILED", false, ""},
		{"FAILED: reason", url.QueryEscape(pemText), "FAILED: certificate has expired", false, "certificate has expired"},
		{"FAILED reason", url.QueryEscape(pemText), "FAILED self signed", false, "self signed"},
		{"surrounding white space", " " + url.QueryEscape(pemText) + " ", " SUCCESS ", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := clientcert.ParseAuth0(tc.cert, tc.verified)
			if err != nil {
				t.Fatal(err)
			}
			checkDescribes(t, info, p.good.Cert)
			if info.Verified != tc.ok || info.VerifyError != tc.reason {
				t.Errorf("verified %v %q, want %v %q", info.Verified, info.VerifyError, tc.ok, tc.reason)
			}
		})
	}
}

func TestParseAuth0Refuses(t *testing.T) {
	p := newPKI(t)
	good := string(p.good.PEM())
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	key := "-----BEGIN EC PRIVATE KEY-----\naGVsbG8=\n-----END EC PRIVATE KEY-----\n"
	notDER := "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n"
	for _, tc := range []struct {
		name, cert, verified string
		want                 []string
		noCert               bool
	}{
		{name: "nothing", noCert: true, want: []string{"no client certificate"}},
		{name: "FAILED but no certificate", verified: "FAILED: certificate too large", noCert: true, want: []string{"no client certificate", "FAILED: certificate too large"}},
		{name: "SUCCESS but no certificate", verified: "SUCCESS", want: []string{"client-certificate-ca-verified is SUCCESS but there is no client-certificate"}},
		{name: "garbage", cert: "not a certificate", verified: "SUCCESS", want: []string{"client-certificate: not PEM"}},
		{name: "base64 DER, not PEM", cert: base64.StdEncoding.EncodeToString(p.good.Cert.Raw), verified: "SUCCESS", want: []string{"not PEM"}},
		{name: "bad escape", cert: "%zz" + enc(good), verified: "SUCCESS", want: []string{"client-certificate is not URL-encoded"}},
		{name: "truncated", cert: enc(good[:len(good)/2]), verified: "SUCCESS", want: []string{"truncated PEM"}},
		{name: "END line cut", cert: enc(good[:len(good)-8]), verified: "SUCCESS", want: []string{"truncated PEM"}},
		{name: "broken block before a good one", cert: enc(good[:len(good)/2] + "\n" + good), verified: "SUCCESS", want: []string{"malformed PEM"}},
		{name: "two certificates", cert: enc(good + string(p.ca.PEM())), verified: "SUCCESS", want: []string{"holds 2 certificates; only the leaf"}},
		{name: "trailing data", cert: enc(good + "trailer"), verified: "SUCCESS", want: []string{"unexpected data after certificate 1"}},
		{name: "leading data", cert: enc("leader\n" + good), verified: "SUCCESS", want: []string{"not PEM"}},
		{name: "private key", cert: enc(key), verified: "SUCCESS", want: []string{`"EC PRIVATE KEY", not a CERTIFICATE`}},
		{name: "not DER", cert: enc(notDER), verified: "SUCCESS", want: []string{"certificate 1:"}},
		{name: "oversize", cert: enc(string(p.large.PEM())), verified: "SUCCESS", want: []string{"over the 4096-byte limit"}},
		{name: "no verified flag", cert: enc(good), want: []string{"client-certificate-ca-verified header is missing"}},
		{name: "unknown verified flag", cert: enc(good), verified: "MAYBE", want: []string{`unknown value "MAYBE" (want SUCCESS or FAILED)`}},
		{name: "lower-case success", cert: enc(good), verified: "success", want: []string{"unknown value"}},
		{name: "SUCCESS with a reason", cert: enc(good), verified: "SUCCESS: trust me", want: []string{"unknown value"}},
		{name: "FAILEDX", cert: enc(good), verified: "FAILEDX", want: []string{"unknown value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := clientcert.ParseAuth0(tc.cert, tc.verified)
			wantErr(t, err, tc.want...)
			if errors.Is(err, clientcert.ErrNoCertificate) != tc.noCert {
				t.Errorf("errors.Is(err, ErrNoCertificate) = %v, want %v", !tc.noCert, tc.noCert)
			}
			if info.Present {
				t.Error("a refused header gave a present certificate")
			}
		})
	}
}

func TestAuth0HeadersReason(t *testing.T) {
	p := newPKI(t)
	info := clientcert.FromTLS(p.good.ConnectionState(), nil, time.Now())
	info.VerifyError = "bad\r\nInjected: yes\tö"
	if _, v := clientcert.Auth0Headers(info); v != "FAILED: bad??Injected: yes???" {
		t.Errorf("client-certificate-ca-verified %q", v)
	}
	info.VerifyError = ""
	if _, v := clientcert.Auth0Headers(info); v != "FAILED" {
		t.Errorf("client-certificate-ca-verified %q, want FAILED", v)
	}
	if c, v := clientcert.Auth0Headers(clientcert.Info{}); c != "" || v != "" {
		t.Errorf("no certificate gave %q, %q", c, v)
	}
}

func TestRFC9440RoundTrip(t *testing.T) {
	p := newPKI(t)
	for _, tc := range p.cases() {
		t.Run(tc.name, func(t *testing.T) {
			info := clientcert.FromTLS(tc.cert.ConnectionState(), p.ca.Pool(), time.Now())
			cert, chain := clientcert.RFC9440Headers(info)
			if want := ":" + base64.StdEncoding.EncodeToString(tc.cert.Cert.Raw) + ":"; cert != want {
				t.Fatalf("Client-Cert %.40s..., want %.40s...", cert, want)
			}
			if (chain != "") != (len(tc.cert.Intermediates) > 0) {
				t.Fatalf("Client-Cert-Chain %q with %d intermediates", chain, len(tc.cert.Intermediates))
			}
			got, err := clientcert.ParseRFC9440(cert, chain)
			if err != nil {
				t.Fatal(err)
			}
			checkRoundTrip(t, got, info)
			if got.Verified || got.VerifyError != "" {
				t.Errorf("parsed RFC 9440 headers claim verification: %v %q", got.Verified, got.VerifyError)
			}
		})
	}
	t.Run("longer chain", func(t *testing.T) {
		second := p.intermediate.Intermediate(t, "Second Intermediate")
		leaf := second.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "client-3"}})
		info := clientcert.FromTLS(leaf.ConnectionState(), p.ca.Pool(), time.Now())
		if !info.Verified || len(info.Chain) != 2 {
			t.Fatalf("verified %v (%s), chain %d", info.Verified, info.VerifyError, len(info.Chain))
		}
		cert, chain := clientcert.RFC9440Headers(info)
		if strings.Count(chain, ", :") != 1 {
			t.Errorf("Client-Cert-Chain is not a two-member list: %.100s", chain)
		}
		// A list may also arrive without spaces, or split and rejoined.
		got, err := clientcert.ParseRFC9440(cert, strings.ReplaceAll(chain, ", ", ","))
		if err != nil {
			t.Fatal(err)
		}
		checkRoundTrip(t, got, info)
	})
}

func TestParseRFC9440Refuses(t *testing.T) {
	p := newPKI(t)
	cert := ":" + base64.StdEncoding.EncodeToString(p.good.Cert.Raw) + ":"
	ca := ":" + base64.StdEncoding.EncodeToString(p.ca.Cert.Raw) + ":"
	for _, tc := range []struct {
		name, cert, chain string
		want              []string
		noCert            bool
	}{
		{name: "nothing", noCert: true, want: []string{"no client certificate"}},
		{name: "chain without certificate", chain: ca, want: []string{"Client-Cert-Chain without Client-Cert"}},
		{name: "a token", cert: "garbage", want: []string{"Client-Cert: a token, not a byte sequence"}},
		{name: "a string", cert: `"abc"`, want: []string{"Client-Cert: a string, not a byte sequence"}},
		{name: "an integer", cert: `42`, want: []string{"Client-Cert: an integer, not a byte sequence"}},
		{name: "bad base64", cert: ":not base64!:", want: []string{"Client-Cert is not a structured-field byte sequence"}},
		{name: "unterminated", cert: cert[:len(cert)-1], want: []string{"Client-Cert is not a structured-field byte sequence"}},
		{name: "raw base64", cert: cert[1 : len(cert)-1], want: []string{"Client-Cert", "byte sequence"}}, // a token unless padded
		{name: "two certificates", cert: cert + ", " + ca, want: []string{"Client-Cert is not a structured-field byte sequence"}},
		{name: "not DER", cert: ":" + base64.StdEncoding.EncodeToString([]byte("hello")) + ":", want: []string{"Client-Cert: not a DER certificate"}},
		{name: "truncated DER", cert: ":" + base64.StdEncoding.EncodeToString(p.good.Cert.Raw[:100]) + ":", want: []string{"Client-Cert: not a DER certificate"}},
		{name: "chain garbage", cert: cert, chain: ca + ", %%%", want: []string{"Client-Cert-Chain is not a structured-field list"}},
		{name: "chain trailing comma", cert: cert, chain: ca + ",", want: []string{"Client-Cert-Chain is not a structured-field list"}},
		{name: "chain inner list", cert: cert, chain: "(" + ca + ")", want: []string{"Client-Cert-Chain: member 1 is an inner list"}},
		{name: "chain member not DER", cert: cert, chain: ca + ", :aGVsbG8=:", want: []string{"Client-Cert-Chain: member 2: not a DER certificate"}},
		{name: "chain member a token", cert: cert, chain: "abc", want: []string{"Client-Cert-Chain: member 1: a token, not a byte sequence"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := clientcert.ParseRFC9440(tc.cert, tc.chain)
			wantErr(t, err, tc.want...)
			if errors.Is(err, clientcert.ErrNoCertificate) != tc.noCert {
				t.Errorf("errors.Is(err, ErrNoCertificate) = %v, want %v", !tc.noCert, tc.noCert)
			}
			if info.Present {
				t.Error("a refused header gave a present certificate")
			}
		})
	}
}

func TestXFCCRoundTrip(t *testing.T) {
	p := newPKI(t)
	for _, tc := range p.cases() {
		t.Run(tc.name, func(t *testing.T) {
			info := clientcert.FromTLS(tc.cert.ConnectionState(), p.ca.Pool(), time.Now())
			h := clientcert.XFCCHeader(info)
			if !strings.HasPrefix(h, "Hash="+info.FingerprintSHA256+`;Cert="-----BEGIN%20CERTIFICATE-----%0A`) {
				t.Fatalf("XFCC does not start with Hash and Cert: %.120s", h)
			}
			if strings.Contains(h, ";Chain=") != (len(tc.cert.Intermediates) > 0) {
				t.Errorf("XFCC Chain present = %v with %d intermediates", !(len(tc.cert.Intermediates) > 0), len(tc.cert.Intermediates))
			}
			got, err := clientcert.ParseXFCC(h)
			if err != nil {
				t.Fatal(err)
			}
			checkRoundTrip(t, got, info)
			if got.Verified || got.VerifyError != "" {
				t.Errorf("parsed XFCC claims verification: %v %q", got.Verified, got.VerifyError)
			}
			// Later elements (from later proxies) are not read.
			if got2, err := clientcert.ParseXFCC(h + `,By=spiffe://proxy;Hash=zz;"broken`); err != nil || got2.FingerprintSHA256 != info.FingerprintSHA256 {
				t.Errorf("with a second element: %v, %s", err, got2.FingerprintSHA256)
			}

			// Without Cert and Chain, the element's own Subject, URI and
			// DNS values are the description.
			hashOnly := info
			hashOnly.Leaf, hashOnly.Chain = nil, nil
			h = clientcert.XFCCHeader(hashOnly)
			if strings.Contains(h, "Cert=") {
				t.Fatalf("hash-only XFCC has a Cert: %s", h)
			}
			got, err = clientcert.ParseXFCC(h)
			if err != nil {
				t.Fatalf("%s: %v", h, err)
			}
			if got.Leaf != nil || !got.Present || got.FingerprintSHA256 != info.FingerprintSHA256 || got.Thumbprint != info.Thumbprint ||
				got.Subject != info.Subject || strings.Join(got.URIs, "|") != strings.Join(info.URIs, "|") || strings.Join(got.DNSNames, "|") != strings.Join(info.DNSNames, "|") {
				t.Errorf("hash-only XFCC %s\nparsed as %+v\nwant %+v", h, got, info)
			}
		})
	}
}

func TestXFCCQuoting(t *testing.T) {
	p := newPKI(t)
	info := clientcert.FromTLS(p.oddDN.ConnectionState(), nil, time.Now())
	h := clientcert.XFCCHeader(info)
	want := `;Subject="CN=\\#client\\, \\\"one\\\" \\+ two\\\\three\\; \\<four\\>\\ ,OU=a=b+OU=日本語,O=\\ Ünïcødé Gmbh\\, Zürich,C=CH";URI="urn:example:a;b=c,d";URI=spiffe://example.com/ns/default/sa/client;DNS=odd.example.com`
	if !strings.HasSuffix(h, want) {
		t.Errorf("XFCC ends\n %s\nwant\n %s", h[strings.Index(h, ";Subject="):], want)
	}
}

func TestParseXFCCAccepts(t *testing.T) {
	p := newPKI(t)
	pemText := string(p.good.PEM())
	sum := sha256.Sum256(p.good.Cert.Raw)
	hash := hex.EncodeToString(sum[:])
	envoy := strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D").Replace(pemText)
	for _, tc := range []struct{ name, header string }{
		{"Envoy's escaping", `By=spiffe://cluster.local/ns/default/sa/edge;Hash=` + hash + `;Cert="` + envoy + `";Subject="CN=client-1,O=Example";URI=spiffe://example.com/ns/default/sa/client;DNS=client.example.com`},
		{"lower-case keys, upper-case hash", `hash=` + strings.ToUpper(hash) + `;cert="` + envoy + `"`},
		{"Cert alone, unquoted", `Cert=` + envoy},
		{"base64 + left alone", `Cert="` + strings.NewReplacer("\n", "%0a", " ", "%20").Replace(pemText) + `"`},
		{"white space and a trailing ;", ` Hash=` + hash + ` ; Cert="` + envoy + `" ;`},
		{"Chain alone", `Chain="` + envoy + `"`},
		{"unknown keys", `Hash=` + hash + `;Future="a,b;c=d";Cert="` + envoy + `"`},
		{"header Subject disagrees (the certificate wins)", `Hash=` + hash + `;Cert="` + envoy + `";Subject="CN=admin"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := clientcert.ParseXFCC(tc.header)
			if err != nil {
				t.Fatal(err)
			}
			checkDescribes(t, info, p.good.Cert)
		})
	}
}

func TestParseXFCCRefuses(t *testing.T) {
	p := newPKI(t)
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	good := string(p.good.PEM())
	sum := sha256.Sum256(p.good.Cert.Raw)
	hash := hex.EncodeToString(sum[:])
	other := sha256.Sum256(p.ca.Cert.Raw)
	for _, tc := range []struct {
		name, header string
		want         []string
		noCert       bool
	}{
		{name: "nothing", header: " ", noCert: true, want: []string{"no client certificate"}},
		{name: "empty first element", header: `,Hash=` + hash, want: []string{"the first element is empty"}},
		{name: "not key=value", header: `garbage`, want: []string{"malformed pair at byte 0"}},
		{name: "key without value separator", header: `Hash=` + hash + `;Cert`, want: []string{"malformed pair"}},
		{name: "no Hash, Cert or Chain", header: `By=spiffe://edge;Subject="CN=x"`, want: []string{"the first element has no Hash, Cert or Chain"}},
		{name: "Hash not hex", header: `Hash=zz`, want: []string{`Hash "zz" is not a hex SHA-256`}},
		{name: "Hash too short", header: `Hash=abcd`, want: []string{"not a hex SHA-256"}},
		{name: "Hash does not match Cert", header: `Hash=` + hex.EncodeToString(other[:]) + `;Cert="` + enc(good) + `"`, want: []string{"Hash does not match the certificate"}},
		{name: "duplicate Hash", header: `Hash=` + hash + `;hash=` + hash, want: []string{"hash appears twice"}},
		{name: "duplicate Cert", header: `Cert="` + enc(good) + `";Cert="` + enc(good) + `"`, want: []string{"Cert appears twice"}},
		{name: "unterminated quote", header: `Hash=` + hash + `;Subject="CN=x`, want: []string{"unterminated quoted value of Subject"}},
		{name: "trailing backslash", header: `Subject="CN=x\`, want: []string{"unterminated quoted value of Subject"}},
		{name: "unquoted =", header: `Hash=` + hash + `;Subject=CN=x`, want: []string{`value of Subject holds '=' and is not quoted`}},
		{name: "stray quote", header: `Hash=` + hash + `;Subject=a"b"`, want: []string{`holds '"'`}},
		{name: "junk after a quoted value", header: `Subject="CN=x"y;Hash=` + hash, want: []string{`unexpected 'y' after the value of Subject`}},
		{name: "Cert garbage", header: `Cert="hello"`, want: []string{"Cert: not PEM"}},
		{name: "Cert bad escape", header: `Cert="%zz"`, want: []string{"Cert: not URL-encoded"}},
		{name: "Cert truncated", header: `Cert="` + enc(good[:len(good)/2]) + `"`, want: []string{"Cert: truncated PEM"}},
		{name: "Cert with two certificates", header: `Cert="` + enc(good+string(p.ca.PEM())) + `"`, want: []string{"Cert holds 2 certificates"}},
		{name: "Chain does not start with Cert", header: `Cert="` + enc(good) + `";Chain="` + enc(string(p.ca.PEM())+good) + `"`, want: []string{"Chain does not start with Cert"}},
		{name: "control character in a URI", header: `Hash=` + hash + ";URI=\x00", want: []string{"control character at byte 74"}},
		{name: "line break in a quoted Subject", header: `Hash=` + hash + ";Subject=\"CN=x\r\nX-Evil: 1\"", want: []string{"control character"}},
		{name: "Chain garbage", header: `Chain="` + enc(good+"junk") + `"`, want: []string{"Chain: unexpected data after certificate 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := clientcert.ParseXFCC(tc.header)
			wantErr(t, err, tc.want...)
			if errors.Is(err, clientcert.ErrNoCertificate) != tc.noCert {
				t.Errorf("errors.Is(err, ErrNoCertificate) = %v, want %v", !tc.noCert, tc.noCert)
			}
			if info.Present {
				t.Error("a refused header gave a present certificate")
			}
		})
	}
}
