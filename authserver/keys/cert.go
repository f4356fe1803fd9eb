package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// CertificateValidity is how long a signing key's certificate is valid
// from the key's creation: 5000 days, about 13.7 years. Like Auth0's
// tenant certificates it outlives any sensible rotation schedule: the
// certificate only carries the public key to software that wants it in
// X.509 form (x5c, PEM, PKCS#7), and rotation, not expiry, retires keys.
const CertificateValidity = 5000 * 24 * time.Hour

// certify returns sk with its certificate: self-signed (a CA
// certificate, so that it verifies as its own issuer), subject and
// issuer CN=domain, valid from the key's creation for
// CertificateValidity, and signed by the key itself with the algorithm
// of its ring (RSASSA-PSS for a PS256 key). sk's private key must be
// plaintext.
func certify(sk SigningKey, domain string) (SigningKey, error) {
	signer, err := privateKey(sk)
	if err != nil {
		return SigningKey{}, err
	}
	sigAlg := map[jwa.SignatureAlgorithm]x509.SignatureAlgorithm{
		jwa.RS256: x509.SHA256WithRSA, jwa.PS256: x509.SHA256WithRSAPSS, jwa.ES256: x509.ECDSAWithSHA256,
	}[sk.Alg]
	if sigAlg == x509.UnknownSignatureAlgorithm {
		return SigningKey{}, fmt.Errorf("signing key %s: no certificate signature for algorithm %s", sk.KID, sk.Alg)
	}
	name := pkix.Name{CommonName: domain}
	template := &x509.Certificate{
		Subject:   name,
		Issuer:    name,
		NotBefore: sk.CreatedAt,
		NotAfter:  sk.CreatedAt.Add(CertificateValidity),
		KeyUsage:  x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		// A CA, as the certificates of `openssl req -x509` are, so that
		// it verifies as its own issuer.
		BasicConstraintsValid: true,
		IsCA:                  true,
		SignatureAlgorithm:    sigAlg,
	}
	// A nil SerialNumber has crypto/x509 choose a random one.
	der, err := x509.CreateCertificate(rand.Reader, template, template, signer.Public(), signer)
	if err != nil {
		return SigningKey{}, fmt.Errorf("signing key %s: making its certificate: %w", sk.KID, err)
	}
	sk.Certificate = der
	return sk, nil
}

// privateKey returns the raw private key of sk, whose private key must be
// plaintext.
func privateKey(sk SigningKey) (crypto.Signer, error) {
	priv, err := jwk.ParseKey(sk.PrivateJWK)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", sk.KID, err)
	}
	if priv.KeyID() != sk.KID || priv.Algorithm() != sk.Alg {
		return nil, fmt.Errorf("signing key %s: stored kid or alg does not match the key", sk.KID)
	}
	var raw any
	if err := priv.Raw(&raw); err != nil {
		return nil, fmt.Errorf("signing key %s: %w", sk.KID, err)
	}
	signer, ok := raw.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s is not a private key", sk.KID)
	}
	return signer, nil
}

// parseCertificate returns the certificate of sk, checking that it
// certifies sk's own public key pub.
func parseCertificate(sk SigningKey, pub crypto.PublicKey) (*x509.Certificate, error) {
	if len(sk.Certificate) == 0 {
		return nil, fmt.Errorf("signing key %s has no certificate", sk.KID)
	}
	c, err := x509.ParseCertificate(sk.Certificate)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: its certificate: %w", sk.KID, err)
	}
	if k, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(pub) {
		return nil, fmt.Errorf("signing key %s: its certificate is of another key", sk.KID)
	}
	return c, nil
}

// OIDs of PKCS #7 content types (RFC 2315 section 14).
var (
	oidData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
)

// PKCS7 returns the DER of a degenerate PKCS #7 signed-data message that
// carries only the certificate certDER (RFC 2315 section 9.1: no content,
// no signers), the form of Auth0's .p7b and "pkcs7" answers.
func PKCS7(certDER []byte) ([]byte, error) {
	if len(certDER) == 0 {
		return nil, errors.New("no certificate")
	}
	emptySet := asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true}
	signedData, err := asn1.Marshal(struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		ContentInfo      struct{ ContentType asn1.ObjectIdentifier }
		Certificates     asn1.RawValue
		SignerInfos      asn1.RawValue
	}{
		Version:          1,
		DigestAlgorithms: emptySet,
		ContentInfo:      struct{ ContentType asn1.ObjectIdentifier }{oidData},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certDER},
		SignerInfos:      emptySet,
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}{oidSignedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: signedData}})
}
