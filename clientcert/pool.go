package clientcert

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// LoadPool reads a trust pool from PEM files, each of which must hold at
// least one certificate and nothing else.
func LoadPool(files ...string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, name := range files {
		certs, err := readPEMCertificates(name)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return pool, nil
}

func readPEMCertificates(name string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: holds a %q block; want only CERTIFICATE blocks", name, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", name, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", name)
	}
	return certs, nil
}
