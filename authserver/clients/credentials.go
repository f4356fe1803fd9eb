package clients

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Credential types (Auth0's credential_type) usable for mTLS client
// authentication.
const (
	// CredentialX509Cert is a self-signed certificate, matched exactly
	// (self_signed_tls_client_auth).
	CredentialX509Cert = "x509_cert"
	// CredentialSubjectDN is a subject distinguished name that CA-signed
	// certificates must carry (tls_client_auth).
	CredentialSubjectDN = "cert_subject_dn"
)

// MaxCredentials is how many credentials a client may hold.
const MaxCredentials = 2

// Credential is a certificate credential of a client, in the shape of
// Auth0's client credential object. The certificate itself is not kept:
// an x509_cert credential keeps its SHA-256 thumbprint, a cert_subject_dn
// credential its subject.
type Credential struct {
	ID             string `json:"id"`
	Name           string `json:"name,omitempty"`
	CredentialType string `json:"credential_type"`
	// SubjectDN is the subject, one attribute per line, most significant
	// first, as Auth0 writes it: "C=XX\nO=Acme\nCN=worker".
	SubjectDN string `json:"subject_dn,omitempty"`
	// ThumbprintSHA256 is the RFC 8705 x5t#S256 of an x509_cert credential:
	// base64url(SHA-256(DER)).
	ThumbprintSHA256 string     `json:"thumbprint_sha256,omitempty"`
	ExpiresAt        *time.Time `json:"expires_at,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
}

// ActiveAt reports whether the credential may authenticate its client at
// now: before its expires_at, if it has one.
func (c *Credential) ActiveAt(now time.Time) bool {
	return c.ExpiresAt == nil || now.Before(*c.ExpiresAt)
}

// CredentialRef names a credential in client_authentication_methods.
type CredentialRef struct {
	ID string `json:"id"`
}

// MethodCredentials lists the credentials enabled for one method.
type MethodCredentials struct {
	Credentials []CredentialRef `json:"credentials"`
}

// AuthenticationMethods is Auth0's client_authentication_methods: the
// certificate methods a client authenticates with instead of a secret.
type AuthenticationMethods struct {
	TLSClientAuth           *MethodCredentials `json:"tls_client_auth,omitempty"`
	SelfSignedTLSClientAuth *MethodCredentials `json:"self_signed_tls_client_auth,omitempty"`
}

// NewCredential builds a credential from what the Management API was
// sent: an x509_cert needs pem (one self-signed certificate); a
// cert_subject_dn needs pem (its subject is taken) or subject_dn.
func NewCredential(id, name, credentialType, pemText, subjectDN string, now time.Time) (*Credential, error) {
	c := &Credential{ID: id, Name: name, CredentialType: credentialType, CreatedAt: now.UTC()}
	var cert *x509.Certificate
	if pemText != "" {
		var err error
		if cert, err = parseOneCertificate(pemText); err != nil {
			return nil, err
		}
		exp := cert.NotAfter.UTC()
		c.ExpiresAt = &exp
	}
	switch credentialType {
	case CredentialX509Cert:
		if cert == nil || subjectDN != "" {
			return nil, errors.New("an x509_cert credential takes pem, the certificate, and no subject_dn")
		}
		sum := sha256.Sum256(cert.Raw)
		c.ThumbprintSHA256 = base64.RawURLEncoding.EncodeToString(sum[:])
		c.SubjectDN = FormatDN(cert)
	case CredentialSubjectDN:
		switch {
		case cert != nil && subjectDN != "":
			return nil, errors.New("a cert_subject_dn credential takes pem or subject_dn, not both")
		case cert != nil:
			c.SubjectDN = FormatDN(cert)
		case subjectDN != "":
			if _, err := parseDN(subjectDN); err != nil {
				return nil, err
			}
			c.SubjectDN = subjectDN
		default:
			return nil, errors.New("a cert_subject_dn credential needs pem or subject_dn")
		}
	default:
		return nil, fmt.Errorf("credential_type must be x509_cert or cert_subject_dn")
	}
	return c, nil
}

func parseOneCertificate(text string) (*x509.Certificate, error) {
	block, rest := pem.Decode([]byte(strings.TrimSpace(text)))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("pem must hold one PEM certificate")
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("pem must hold exactly one certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pem: invalid certificate: %v", err)
	}
	return cert, nil
}

// dnTypes maps the attribute names a subject_dn may use to OIDs.
var dnTypes = map[string]string{
	"C": "2.5.4.6", "ST": "2.5.4.8", "L": "2.5.4.7", "O": "2.5.4.10", "OU": "2.5.4.11",
	"CN": "2.5.4.3", "STREET": "2.5.4.9", "SERIALNUMBER": "2.5.4.5", "DC": "0.9.2342.19200300.100.1.25",
	"EMAILADDRESS": "1.2.840.113549.1.9.1", "UID": "0.9.2342.19200300.100.1.1",
}

var oidNames = func() map[string]string {
	m := make(map[string]string, len(dnTypes))
	for name, oid := range dnTypes {
		m[oid] = name
	}
	m["2.5.4.8"], m["1.2.840.113549.1.9.1"] = "ST", "emailAddress"
	return m
}()

// FormatDN writes a certificate's subject as Auth0's subject_dn: one
// attribute per line, most significant first.
func FormatDN(cert *x509.Certificate) string {
	var lines []string
	for _, rdn := range cert.Subject.ToRDNSequence() {
		for _, atv := range rdn {
			name, ok := oidNames[atv.Type.String()]
			if !ok {
				name = atv.Type.String()
			}
			lines = append(lines, fmt.Sprintf("%s=%v", name, atv.Value))
		}
	}
	return strings.Join(lines, "\n")
}

// dnPair is one attribute of a distinguished name.
type dnPair struct{ oid, value string }

// parseDN reads a subject_dn: attributes separated by new lines (Auth0's
// form), most significant first. Values are taken literally up to the end
// of the line, so commas, plus signs and quotes need no escaping.
func parseDN(s string) ([]dnPair, error) {
	var out []dnPair
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || value == "" {
			return nil, fmt.Errorf("subject_dn: %q is not NAME=value", line)
		}
		oid, ok := dnTypes[strings.ToUpper(strings.TrimSpace(name))]
		if !ok {
			return nil, fmt.Errorf("subject_dn: unknown attribute %q", strings.TrimSpace(name))
		}
		out = append(out, dnPair{oid, value})
	}
	if len(out) == 0 {
		return nil, errors.New("subject_dn is empty")
	}
	return out, nil
}

// SameDN reports whether two subject_dn strings name the same subject:
// the same attributes (whatever the spelling of their names) with the same
// values, in the same order.
func SameDN(a, b string) bool {
	pa, errA := parseDN(a)
	pb, errB := parseDN(b)
	return errA == nil && errB == nil && slices.Equal(pa, pb)
}

// MatchesDN reports whether cert's subject is exactly the distinguished
// name dn: the same attributes with the same values, in the same order.
func MatchesDN(cert *x509.Certificate, dn string) bool {
	want, err := parseDN(dn)
	if err != nil {
		return false
	}
	var got []dnPair
	for _, rdn := range cert.Subject.ToRDNSequence() {
		for _, atv := range rdn {
			got = append(got, dnPair{atv.Type.String(), fmt.Sprint(atv.Value)})
		}
	}
	return slices.Equal(got, want)
}

// Credential returns the client's credential id.
func (c *Client) Credential(id string) (*Credential, bool) {
	i := slices.IndexFunc(c.Credentials, func(cr Credential) bool { return cr.ID == id })
	if i < 0 {
		return nil, false
	}
	return &c.Credentials[i], true
}

// UsesCertificates reports whether the client authenticates by
// certificate rather than by secret.
func (c *Client) UsesCertificates() bool { return c.ClientAuthenticationMethods != nil }

// validateAuthenticationMethods checks client_authentication_methods
// against the client's credentials and token_endpoint_auth_method.
func (c *Client) validateAuthenticationMethods() error {
	if len(c.Credentials) > MaxCredentials {
		return fmt.Errorf("a client holds at most %d credentials", MaxCredentials)
	}
	m := c.ClientAuthenticationMethods
	if m == nil {
		if c.TokenEndpointAuthMethod == "" {
			return errors.New("token_endpoint_auth_method is required unless client_authentication_methods is set")
		}
		return nil
	}
	if c.TokenEndpointAuthMethod != "" {
		return errors.New("client_authentication_methods requires token_endpoint_auth_method to be null")
	}
	if m.TLSClientAuth == nil && m.SelfSignedTLSClientAuth == nil {
		return errors.New("client_authentication_methods must enable tls_client_auth or self_signed_tls_client_auth")
	}
	for _, method := range []struct {
		name, credentialType string
		m                    *MethodCredentials
	}{
		{"tls_client_auth", CredentialSubjectDN, m.TLSClientAuth},
		{"self_signed_tls_client_auth", CredentialX509Cert, m.SelfSignedTLSClientAuth},
	} {
		if method.m == nil {
			continue
		}
		if len(method.m.Credentials) == 0 {
			return fmt.Errorf("client_authentication_methods.%s.credentials must name at least one credential", method.name)
		}
		for _, ref := range method.m.Credentials {
			cr, ok := c.Credential(ref.ID)
			if !ok {
				return fmt.Errorf("client_authentication_methods.%s: no credential %q on this client", method.name, ref.ID)
			}
			if cr.CredentialType != method.credentialType {
				return fmt.Errorf("client_authentication_methods.%s takes %s credentials, and %q is %s", method.name, method.credentialType, ref.ID, cr.CredentialType)
			}
		}
	}
	return nil
}
