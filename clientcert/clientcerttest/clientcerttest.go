// Package clientcerttest makes throwaway certificate authorities and client
// certificates for tests.
//
// It imports nothing of Portcullis.
package clientcerttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// Cert is a certificate, its key, and the certificates that issued it up
// to (not including) the root.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Intermediates are what a client presents after Cert, nearest first.
	Intermediates []*x509.Certificate
}

// NewCA returns a self-signed root CA named cn.
func NewCA(t testing.TB, cn string) *Cert {
	t.Helper()
	return create(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil)
}

// Intermediate returns a CA named cn issued by ca.
func (ca *Cert) Intermediate(t testing.TB, cn string) *Cert {
	t.Helper()
	return create(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, ca)
}

// Issue returns a certificate made from tmpl, issued by ca. Zero fields of
// tmpl get defaults: valid from an hour ago for a day, key usage digital
// signature, extended key usage client authentication.
func (ca *Cert) Issue(t testing.TB, tmpl *x509.Certificate) *Cert {
	t.Helper()
	return create(t, tmpl, ca)
}

// SelfSigned returns a self-signed certificate made from tmpl, with the
// same defaults as Issue.
func SelfSigned(t testing.TB, tmpl *x509.Certificate) *Cert {
	t.Helper()
	return create(t, tmpl, nil)
}

func create(t testing.TB, tmpl *x509.Certificate, issuer *Cert) *Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = tmpl.NotBefore.Add(25 * time.Hour)
	}
	if !tmpl.IsCA {
		if tmpl.KeyUsage == 0 {
			tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		}
		if tmpl.ExtKeyUsage == nil {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}
	}
	parent, signer := tmpl, crypto.Signer(key)
	var intermediates []*x509.Certificate
	if issuer != nil {
		parent, signer = issuer.Cert, issuer.Key
		if issuer.Cert.CheckSignatureFrom(issuer.Cert) != nil || len(issuer.Intermediates) > 0 {
			// The issuer is not a root: a client presents it too.
			intermediates = append([]*x509.Certificate{issuer.Cert}, issuer.Intermediates...)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: c, Key: key, Intermediates: intermediates}
}

// TLS returns c as a TLS client certificate, presenting its intermediates.
func (c *Cert) TLS() tls.Certificate {
	chain := [][]byte{c.Cert.Raw}
	for _, i := range c.Intermediates {
		chain = append(chain, i.Raw)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: c.Key, Leaf: c.Cert}
}

// PEM returns the PEM of c's certificate alone.
func (c *Cert) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// Pool returns a pool holding c's certificate.
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}

// ConnectionState returns what a server's tls.ConnectionState holds after a
// handshake where c was presented.
func (c *Cert) ConnectionState() *tls.ConnectionState {
	return &tls.ConnectionState{PeerCertificates: append([]*x509.Certificate{c.Cert}, c.Intermediates...)}
}
