// Package clientcert describes the TLS client certificate of a request and
// carries it to an upstream in the header formats edges use: Auth0's
// customer-edge headers (client-certificate and
// client-certificate-ca-verified), RFC 9440 (Client-Cert and
// Client-Cert-Chain) and Envoy's X-Forwarded-Client-Cert. Each format has a
// writer and a parser; the parsers refuse anything malformed.
//
// A parsed header is only as trustworthy as whoever wrote it: the caller
// decides whether it trusts the forwarder, and an edge must delete inbound
// copies of every name in HeaderNames before setting its own.
//
// It imports nothing of Portcullis.
package clientcert

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Header names of the three formats.
const (
	// HeaderAuth0Cert is Auth0's client-certificate: the URL-encoded PEM of
	// the leaf certificate.
	HeaderAuth0Cert = "client-certificate"
	// HeaderAuth0Verified is Auth0's client-certificate-ca-verified:
	// SUCCESS, or FAILED with an optional reason.
	HeaderAuth0Verified = "client-certificate-ca-verified"
	// HeaderClientCert is RFC 9440's Client-Cert: the leaf's DER as a
	// structured-field byte sequence.
	HeaderClientCert = "Client-Cert"
	// HeaderClientCertChain is RFC 9440's Client-Cert-Chain: the other
	// certificates the client presented, as a list of byte sequences.
	HeaderClientCertChain = "Client-Cert-Chain"
	// HeaderXFCC is Envoy's X-Forwarded-Client-Cert.
	HeaderXFCC = "X-Forwarded-Client-Cert"
)

// HeaderNames returns every header name of the three formats, so handlers
// can delete inbound copies (see also IsHeaderName).
func HeaderNames() []string {
	return slices.Clone(headerNames[:])
}

var headerNames = [...]string{HeaderAuth0Cert, HeaderAuth0Verified, HeaderClientCert, HeaderClientCertChain, HeaderXFCC}

// IsHeaderName reports whether an inbound header name could pass for one of
// HeaderNames upstream: any letter case, and _ or . for any dash (some
// upstreams, such as CGI, read those as dashes).
func IsHeaderName(name string) bool {
	for _, h := range headerNames {
		if len(name) != len(h) {
			continue
		}
		same := true
		for i := 0; i < len(h) && same; i++ {
			c := name[i]
			if c == '_' || c == '.' {
				c = '-'
			}
			same = lower(c) == lower(h[i])
		}
		if same {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// ErrNoCertificate is returned by the parsers when the headers carry no
// certificate at all. Test for it with errors.Is.
var ErrNoCertificate = errors.New("no client certificate")

// Info describes a client certificate.
type Info struct {
	// Present is true when the client presented a certificate (or a
	// forwarder said so).
	Present bool
	// Verified is true when the certificate chains to a trusted CA and may
	// be used for client authentication. From FromTLS, it is this
	// process's own verification; from ParseAuth0, it is the forwarder's
	// SUCCESS flag; the other parsers never set it.
	Verified bool
	// VerifyError says shortly why the certificate is not verified, for
	// example "certificate has expired" or "self-signed certificate".
	VerifyError string
	// Leaf is the client's certificate. It is nil only when parsed from an
	// X-Forwarded-Client-Cert element that carries a Hash but no Cert.
	Leaf *x509.Certificate
	// Chain is the other certificates the client presented, in the order
	// presented, without the leaf. They are not necessarily a valid chain.
	Chain []*x509.Certificate
	// FingerprintSHA256 is the lower-case hex SHA-256 of the leaf's DER.
	FingerprintSHA256 string
	// Thumbprint is the RFC 8705 x5t#S256 value: the unpadded base64url
	// SHA-256 of the leaf's DER.
	Thumbprint string
	// Subject is the leaf's subject as an RFC 4514 distinguished name
	// string (Go's pkix.Name.String, with control characters escaped as
	// \XX).
	Subject string
	// DNSNames, URIs and Emails are the leaf's subject alternative names.
	DNSNames, URIs, Emails []string
	// NotBefore and NotAfter bound the leaf's validity.
	NotBefore, NotAfter time.Time
}

// FromTLS describes the client certificate of a TLS connection: the leaf
// and the other certificates as presented. It is Verified only when the
// leaf chains to roots, through the presented certificates as
// intermediates, at now, with the client authentication extended key
// usage. A nil roots never verifies. A connection without a client
// certificate gives the zero Info.
func FromTLS(state *tls.ConnectionState, roots *x509.CertPool, now time.Time) Info {
	if state == nil || len(state.PeerCertificates) == 0 {
		return Info{}
	}
	info := fromCerts(state.PeerCertificates[0], state.PeerCertificates[1:])
	info.VerifyError = verify(info.Leaf, info.Chain, roots, now)
	info.Verified = info.VerifyError == ""
	return info
}

// fromCerts describes leaf, presented with chain.
func fromCerts(leaf *x509.Certificate, chain []*x509.Certificate) Info {
	sum := sha256.Sum256(leaf.Raw)
	info := Info{
		Present:           true,
		Leaf:              leaf,
		FingerprintSHA256: hex.EncodeToString(sum[:]),
		Thumbprint:        base64.RawURLEncoding.EncodeToString(sum[:]),
		Subject:           dnString(leaf.Subject),
		DNSNames:          slices.Clone(leaf.DNSNames),
		Emails:            slices.Clone(leaf.EmailAddresses),
		NotBefore:         leaf.NotBefore,
		NotAfter:          leaf.NotAfter,
	}
	if len(chain) > 0 {
		info.Chain = slices.Clone(chain)
	}
	for _, u := range leaf.URIs {
		info.URIs = append(info.URIs, u.String())
	}
	return info
}

// dnString is name as an RFC 4514 string, with control characters (which
// Go leaves as they are, and which cannot go in a header) escaped as \XX.
func dnString(name pkix.Name) string {
	s := name.String()
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, "\\%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// verify returns "" when leaf is valid for client authentication at now
// through roots, or a short reason why not.
func verify(leaf *x509.Certificate, chain []*x509.Certificate, roots *x509.CertPool, now time.Time) string {
	switch {
	case now.Before(leaf.NotBefore):
		return "certificate is not yet valid"
	case now.After(leaf.NotAfter):
		return "certificate has expired"
	case roots == nil:
		return "no trusted certificate authority configured"
	}
	intermediates := x509.NewCertPool()
	for _, c := range chain {
		intermediates.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err == nil {
		return ""
	}
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &invalid):
		switch invalid.Reason {
		case x509.Expired:
			return "an issuing certificate has expired or is not yet valid"
		case x509.IncompatibleUsage:
			return "certificate is not valid for client authentication"
		case x509.NotAuthorizedToSign:
			return "issuer is not authorized to sign certificates"
		case x509.TooManyIntermediates:
			return "certificate chain is too long"
		case x509.CANotAuthorizedForThisName, x509.CANotAuthorizedForExtKeyUsage, x509.NameConstraintsWithoutSANs:
			return "certificate violates its issuer's constraints"
		}
		return "certificate is invalid"
	case errors.As(err, &unknown):
		if selfSigned(leaf) {
			return "self-signed certificate"
		}
		return "certificate signed by unknown authority"
	}
	return "certificate could not be verified"
}

// selfSigned reports whether c is signed by its own key.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// excerpt is s cut to a length fit for an error message.
func excerpt(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// headerSafe keeps the printable ASCII of s (what may go in a header
// value without any doubt), replacing anything else with '?', cut at 200
// bytes.
func headerSafe(s string) string {
	b := []byte(s)
	if len(b) > 200 {
		b = b[:200]
	}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return strings.TrimSpace(string(b))
}

// Format is a way of forwarding a client certificate in request headers,
// as configuration names it.
type Format string

// The formats.
const (
	FormatRFC9440 Format = "rfc9440"
	FormatAuth0   Format = "auth0"
	FormatXFCC    Format = "xfcc"
)

// ParseFormat returns the Format that name names, or an error that lists
// the formats.
func ParseFormat(name string) (Format, error) {
	switch f := Format(name); f {
	case FormatRFC9440, FormatAuth0, FormatXFCC:
		return f, nil
	}
	return "", fmt.Errorf("unknown client certificate format %q (want %s, %s or %s)", name, FormatRFC9440, FormatAuth0, FormatXFCC)
}

// FromHeaders reads a certificate forwarded in format by a trusted proxy.
// It returns ErrNoCertificate when the request carries none.
func FromHeaders(h http.Header, format Format) (Info, error) {
	switch format {
	case FormatRFC9440:
		return ParseRFC9440(strings.Join(h.Values(HeaderClientCert), ", "), strings.Join(h.Values(HeaderClientCertChain), ", "))
	case FormatAuth0:
		return ParseAuth0(h.Get(HeaderAuth0Cert), h.Get(HeaderAuth0Verified))
	case FormatXFCC:
		return ParseXFCC(h.Get(HeaderXFCC))
	}
	_, err := ParseFormat(string(format))
	return Info{}, err
}
