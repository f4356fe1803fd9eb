package clientcert_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
)

// pki is the test PKI: a root CA with an intermediate, another CA, and
// client certificates of every kind the tests need.
type pki struct {
	ca, otherCA, intermediate *clientcerttest.Cert

	good       *clientcerttest.Cert // issued by ca for client authentication
	viaInter   *clientcerttest.Cert // issued by the intermediate
	selfSigned *clientcerttest.Cert
	expired    *clientcerttest.Cert
	notYet     *clientcerttest.Cert // not yet valid
	foreign    *clientcerttest.Cert // issued by otherCA
	serverOnly *clientcerttest.Cert // server authentication only
	oddDN      *clientcerttest.Cert // a subject full of characters to escape
	large      *clientcerttest.Cert // over Auth0's 4096-byte header
}

// oddSubject needs escaping in RFC 4514 (',', '+', '"', '\', '<', ';', a
// leading '#' and spaces), is quoted in XFCC, and is not ASCII.
var oddSubject = pkix.Name{
	CommonName:         `#client, "one" + two\three; <four> `,
	Organization:       []string{" Ünïcødé Gmbh, Zürich"},
	OrganizationalUnit: []string{"a=b", "日本語"},
	Country:            []string{"CH"},
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	now := time.Now()
	p := &pki{ca: clientcerttest.NewCA(t, "Test Root CA"), otherCA: clientcerttest.NewCA(t, "Other CA")}
	p.intermediate = p.ca.Intermediate(t, "Test Intermediate CA")
	spiffe, _ := url.Parse("spiffe://example.com/ns/default/sa/client")
	odd, _ := url.Parse("urn:example:a;b=c,d")
	p.good = p.ca.Issue(t, &x509.Certificate{
		Subject:        pkix.Name{CommonName: "client-1", Organization: []string{"Example"}},
		DNSNames:       []string{"client.example.com", "alt.example.com"},
		URIs:           []*url.URL{spiffe},
		EmailAddresses: []string{"client@example.com"},
	})
	p.viaInter = p.intermediate.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "client-2"}})
	p.selfSigned = clientcerttest.SelfSigned(t, &x509.Certificate{Subject: pkix.Name{CommonName: "self"}})
	p.expired = p.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "expired"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	p.notYet = p.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "not yet"}, NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(48 * time.Hour)})
	p.foreign = p.otherCA.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "foreign"}})
	p.serverOnly = p.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "server"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	p.oddDN = p.ca.Issue(t, &x509.Certificate{Subject: oddSubject, URIs: []*url.URL{odd, spiffe}, DNSNames: []string{"odd.example.com"}})
	var names []string
	for i := range 120 {
		names = append(names, fmt.Sprintf("host-%03d.a-rather-long-subdomain.example.com", i))
	}
	p.large = p.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "large"}, DNSNames: names})
	return p
}
