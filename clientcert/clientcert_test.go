package clientcert_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/clientcert"
	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
)

func TestFromTLS(t *testing.T) {
	p := newPKI(t)
	roots := p.ca.Pool()
	now := time.Now()
	for _, tc := range []struct {
		name       string
		state      *tls.ConnectionState
		roots      *x509.CertPool
		present    bool
		verified   bool
		verifyErr  string
		chainLen   int
		wantLeaf   *clientcerttest.Cert
		wantSubj   string
		wantExpiry time.Time
	}{
		{name: "no connection state", state: nil, roots: roots},
		{name: "no client certificate", state: &tls.ConnectionState{}, roots: roots},
		{name: "CA-signed", state: p.good.ConnectionState(), roots: roots, present: true, verified: true, wantLeaf: p.good, wantSubj: "CN=client-1,O=Example"},
		{name: "through an intermediate", state: p.viaInter.ConnectionState(), roots: roots, present: true, verified: true, chainLen: 1, wantLeaf: p.viaInter},
		{name: "intermediate not presented", state: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{p.viaInter.Cert}}, roots: roots, present: true, verifyErr: "certificate signed by unknown authority", wantLeaf: p.viaInter},
		{name: "odd subject", state: p.oddDN.ConnectionState(), roots: roots, present: true, verified: true, wantLeaf: p.oddDN},
		{name: "self-signed", state: p.selfSigned.ConnectionState(), roots: roots, present: true, verifyErr: "self-signed certificate", wantLeaf: p.selfSigned},
		{name: "self-signed and trusted", state: p.selfSigned.ConnectionState(), roots: p.selfSigned.Pool(), present: true, verified: true, wantLeaf: p.selfSigned},
		{name: "expired", state: p.expired.ConnectionState(), roots: roots, present: true, verifyErr: "certificate has expired", wantLeaf: p.expired},
		{name: "not yet valid", state: p.notYet.ConnectionState(), roots: roots, present: true, verifyErr: "certificate is not yet valid", wantLeaf: p.notYet},
		{name: "another CA", state: p.foreign.ConnectionState(), roots: roots, present: true, verifyErr: "certificate signed by unknown authority", wantLeaf: p.foreign},
		{name: "server authentication only", state: p.serverOnly.ConnectionState(), roots: roots, present: true, verifyErr: "certificate is not valid for client authentication", wantLeaf: p.serverOnly},
		{name: "no roots", state: p.good.ConnectionState(), roots: nil, present: true, verifyErr: "no trusted certificate authority configured", wantLeaf: p.good},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := clientcert.FromTLS(tc.state, tc.roots, now)
			if info.Present != tc.present || info.Verified != tc.verified || info.VerifyError != tc.verifyErr {
				t.Fatalf("present, verified, error = %v, %v, %q; want %v, %v, %q", info.Present, info.Verified, info.VerifyError, tc.present, tc.verified, tc.verifyErr)
			}
			if !tc.present {
				if info.Leaf != nil || info.FingerprintSHA256 != "" {
					t.Fatalf("no certificate, but got %+v", info)
				}
				return
			}
			if len(info.Chain) != tc.chainLen {
				t.Errorf("chain has %d certificates, want %d", len(info.Chain), tc.chainLen)
			}
			checkDescribes(t, info, tc.wantLeaf.Cert)
			if tc.wantSubj != "" && info.Subject != tc.wantSubj {
				t.Errorf("subject %q, want %q", info.Subject, tc.wantSubj)
			}
		})
	}
}

// checkDescribes checks that info's certificate fields describe c.
func checkDescribes(t *testing.T, info clientcert.Info, c *x509.Certificate) {
	t.Helper()
	sum := sha256.Sum256(c.Raw)
	if !info.Present || info.Leaf == nil || !info.Leaf.Equal(c) {
		t.Fatalf("info does not hold the certificate %q", c.Subject)
	}
	if want := hex.EncodeToString(sum[:]); info.FingerprintSHA256 != want {
		t.Errorf("fingerprint %s, want %s", info.FingerprintSHA256, want)
	}
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); info.Thumbprint != want {
		t.Errorf("thumbprint %s, want %s", info.Thumbprint, want)
	}
	if info.Subject != c.Subject.String() {
		t.Errorf("subject %q, want %q", info.Subject, c.Subject.String())
	}
	var uris []string
	for _, u := range c.URIs {
		uris = append(uris, u.String())
	}
	if !slices.Equal(info.DNSNames, c.DNSNames) || !slices.Equal(info.URIs, uris) || !slices.Equal(info.Emails, c.EmailAddresses) {
		t.Errorf("SANs %q %q %q, want %q %q %q", info.DNSNames, info.URIs, info.Emails, c.DNSNames, uris, c.EmailAddresses)
	}
	if !info.NotBefore.Equal(c.NotBefore) || !info.NotAfter.Equal(c.NotAfter) {
		t.Errorf("validity %s..%s, want %s..%s", info.NotBefore, info.NotAfter, c.NotBefore, c.NotAfter)
	}
}

func TestSubjectEscaping(t *testing.T) {
	p := newPKI(t)
	info := clientcert.FromTLS(p.oddDN.ConnectionState(), nil, time.Now())
	// RFC 4514: ',', '+', '"', '\', '<', '>', ';' escaped, and a leading
	// '#' or space, and a trailing space; UTF-8 as is; most specific
	// attribute first.
	want := `CN=\#client\, \"one\" \+ two\\three\; \<four\>\ ,OU=a=b+OU=日本語,O=\ Ünïcødé Gmbh\, Zürich,C=CH`
	if info.Subject != want {
		t.Errorf("subject\n %s\nwant\n %s", info.Subject, want)
	}
}

func TestControlCharacters(t *testing.T) {
	ca := clientcerttest.NewCA(t, "CA")
	c := ca.Issue(t, &x509.Certificate{
		Subject:  pkix.Name{CommonName: "evil\r\nX-Injected: 1\x7f"},
		DNSNames: []string{"ok.example.com", "bad\n.example.com"},
	})
	info := clientcert.FromTLS(c.ConnectionState(), ca.Pool(), time.Now())
	if want := `CN=evil\0D\0AX-Injected: 1\7F`; info.Subject != want {
		t.Errorf("subject %q, want %q", info.Subject, want)
	}
	xfcc := clientcert.XFCCHeader(info)
	if !strings.HasSuffix(xfcc, `;DNS=ok.example.com`) {
		t.Errorf("XFCC ends %q", xfcc[strings.LastIndex(xfcc, ";"):])
	}
	cert, chain := clientcert.RFC9440Headers(info)
	a0, verified := clientcert.Auth0Headers(info)
	for _, v := range []string{xfcc, cert, chain, a0, verified} {
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("control character in header value %q", v)
		}
	}
}

func TestIsHeaderName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"client-certificate", true},
		{"Client-Certificate", true},
		{"CLIENT-CERTIFICATE-CA-VERIFIED", true},
		{"Client-Cert", true},
		{"client_cert_chain", true},
		{"X-Forwarded-Client-Cert", true},
		{"x.forwarded.client.cert", true},
		{"X-Forwarded-Client-Certs", false},
		{"Client-Cert-", false},
		{"Client", false},
		{"X-Portcullis-Subject", false},
	} {
		if got := clientcert.IsHeaderName(tc.name); got != tc.want {
			t.Errorf("IsHeaderName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, n := range clientcert.HeaderNames() {
		if !clientcert.IsHeaderName(n) {
			t.Errorf("IsHeaderName(%q) = false", n)
		}
	}
	if got := len(clientcert.HeaderNames()); got != 5 {
		t.Errorf("%d header names, want 5", got)
	}
}

// wantErr checks that err is not nil and says all of want.
func wantErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one saying %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}
