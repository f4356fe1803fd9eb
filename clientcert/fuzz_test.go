package clientcert_test

import (
	"crypto/x509"
	"slices"
	"testing"

	"github.com/portcullis-gw/portcullis/clientcert"
	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
)

// The parsers' fuzz targets: no input panics, and whatever parses is
// written back by the format's writer into headers that parse to the same
// certificate and are written again unchanged.

// fuzzInfos are what the seeds describe: every certificate of the test
// PKI, verified or not, alone and with a chain.
func fuzzInfos(f *testing.F) []clientcert.Info {
	p := newPKI(f)
	roots := p.ca.Pool()
	var infos []clientcert.Info
	for _, c := range []*clientcerttest.Cert{p.good, p.viaInter, p.selfSigned, p.expired, p.foreign, p.serverOnly, p.oddDN, p.large} {
		infos = append(infos, clientcert.FromTLS(c.ConnectionState(), roots, c.Cert.NotBefore))
	}
	// The leaf presented with its intermediate.
	state := p.viaInter.ConnectionState()
	state.PeerCertificates = append(state.PeerCertificates, p.intermediate.Cert)
	return append(infos, clientcert.FromTLS(state, roots, p.viaInter.Cert.NotBefore))
}

// sameCertificate fails t unless got describes what want describes.
func sameCertificate(t *testing.T, got, want clientcert.Info) {
	t.Helper()
	if got.Present != want.Present || got.FingerprintSHA256 != want.FingerprintSHA256 || got.Thumbprint != want.Thumbprint ||
		got.Subject != want.Subject || !slices.Equal(got.DNSNames, want.DNSNames) || !slices.Equal(got.URIs, want.URIs) ||
		!slices.Equal(got.Emails, want.Emails) || !got.NotBefore.Equal(want.NotBefore) || !got.NotAfter.Equal(want.NotAfter) ||
		(got.Leaf == nil) != (want.Leaf == nil) || got.Leaf != nil && !got.Leaf.Equal(want.Leaf) ||
		!slices.EqualFunc(got.Chain, want.Chain, func(a, b *x509.Certificate) bool { return a.Equal(b) }) {
		t.Fatalf("written and parsed again, the certificate is\n%+v\nwant\n%+v", got, want)
	}
}

func FuzzParseRFC9440(f *testing.F) {
	for _, info := range fuzzInfos(f) {
		c, ch := clientcert.RFC9440Headers(info)
		f.Add(c, ch)
	}
	for _, s := range [][2]string{{"", ""}, {"", ":AA==:"}, {":AA==:", ""}, {"?1", ""}, {`"x"`, ""}, {":AA==:;a=1", ":AA==:, (:AA==:)"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cert, chain string) {
		info, err := clientcert.ParseRFC9440(cert, chain)
		if err != nil {
			return
		}
		c, ch := clientcert.RFC9440Headers(info)
		again, err := clientcert.ParseRFC9440(c, ch)
		if err != nil {
			t.Fatalf("the written headers %q, %q do not parse: %v", c, ch, err)
		}
		sameCertificate(t, again, info)
		if c2, ch2 := clientcert.RFC9440Headers(again); c2 != c || ch2 != ch {
			t.Fatalf("written twice, the headers differ: %q, %q then %q, %q", c, ch, c2, ch2)
		}
	})
}

func FuzzParseAuth0(f *testing.F) {
	for _, info := range fuzzInfos(f) {
		c, v := clientcert.Auth0Headers(info)
		f.Add(c, v)
	}
	for _, s := range [][2]string{{"", ""}, {"", "FAILED"}, {"", "SUCCESS"}, {"%ZZ", "SUCCESS"}, {"-----BEGIN+CERTIFICATE-----", "FAILED: x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cert, verified string) {
		info, err := clientcert.ParseAuth0(cert, verified)
		if err != nil {
			return
		}
		c, v := clientcert.Auth0Headers(info)
		if c == "" {
			// Escaped as Auth0Headers escapes, the certificate is over the
			// limit that the input, escaped otherwise, was under.
			if v != "FAILED: "+clientcert.Auth0TooLarge {
				t.Fatalf("no certificate header written, and %q", v)
			}
			return
		}
		again, err := clientcert.ParseAuth0(c, v)
		if err != nil {
			t.Fatalf("the written headers %q, %q do not parse: %v", c, v, err)
		}
		sameCertificate(t, again, info)
		if again.Verified != info.Verified {
			t.Fatalf("verified %t, written %q, read back as %t", info.Verified, v, again.Verified)
		}
		if c2, v2 := clientcert.Auth0Headers(again); c2 != c || v2 != v {
			t.Fatalf("written twice, the headers differ: %q, %q then %q, %q", c, v, c2, v2)
		}
	})
}

func FuzzParseXFCC(f *testing.F) {
	for _, info := range fuzzInfos(f) {
		h := clientcert.XFCCHeader(info)
		f.Add(h)
		f.Add(h + `,By=spiffe://proxy;Hash=` + info.FingerprintSHA256)
		f.Add(`Hash=` + info.FingerprintSHA256 + `;Subject="CN=a, O=\"b\"";URI=spiffe://x;DNS=a.example`)
	}
	for _, s := range []string{"", ";", "Hash=", `Hash="`, `Subject="\`, "By=a;By=b", "Hash=zz", "Cert=%ZZ", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		info, err := clientcert.ParseXFCC(header)
		if err != nil {
			return
		}
		h := clientcert.XFCCHeader(info)
		again, err := clientcert.ParseXFCC(h)
		if err != nil {
			t.Fatalf("the written header %q does not parse: %v", h, err)
		}
		sameCertificate(t, again, info)
		if h2 := clientcert.XFCCHeader(again); h2 != h {
			t.Fatalf("written twice, the header differs: %q then %q", h, h2)
		}
	})
}
