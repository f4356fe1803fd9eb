package clientcert

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/dunglas/httpsfv"
)

// RFC9440Headers returns the values of RFC 9440's headers for info:
// Client-Cert is the leaf's DER as a structured-field byte sequence
// (":<base64>:"), Client-Cert-Chain the other presented certificates as a
// list of byte sequences, "" when there are none. Without a certificate
// (or with no Leaf), both are "".
func RFC9440Headers(info Info) (cert, chain string) {
	if !info.Present || info.Leaf == nil {
		return "", ""
	}
	parts := make([]string, len(info.Chain))
	for i, c := range info.Chain {
		parts[i] = byteSequence(c.Raw)
	}
	return byteSequence(info.Leaf.Raw), strings.Join(parts, ", ")
}

func byteSequence(der []byte) string {
	return ":" + base64.StdEncoding.EncodeToString(der) + ":"
}

// ParseRFC9440 reads RFC 9440's headers: Client-Cert must be one byte
// sequence holding a DER certificate, Client-Cert-Chain (when not empty) a
// list of them. Parameters, which RFC 9440 does not define, are ignored. A
// Client-Cert-Chain sent on several lines must be joined with ", " first.
// Without Client-Cert, the error is ErrNoCertificate.
func ParseRFC9440(certHeader, chainHeader string) (Info, error) {
	certHeader, chainHeader = strings.TrimSpace(certHeader), strings.TrimSpace(chainHeader)
	if certHeader == "" {
		if chainHeader != "" {
			return Info{}, fmt.Errorf("%s without %s", HeaderClientCertChain, HeaderClientCert)
		}
		return Info{}, ErrNoCertificate
	}
	item, err := httpsfv.UnmarshalItem([]string{certHeader})
	if err != nil {
		return Info{}, fmt.Errorf("%s is not a structured-field byte sequence: %w", HeaderClientCert, err)
	}
	leaf, err := certificateItem(item)
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", HeaderClientCert, err)
	}
	var chain []*x509.Certificate
	if chainHeader != "" {
		list, err := httpsfv.UnmarshalList([]string{chainHeader})
		if err != nil {
			return Info{}, fmt.Errorf("%s is not a structured-field list: %w", HeaderClientCertChain, err)
		}
		for i, m := range list {
			item, ok := m.(httpsfv.Item)
			if !ok {
				return Info{}, fmt.Errorf("%s: member %d is an inner list, not a byte sequence", HeaderClientCertChain, i+1)
			}
			c, err := certificateItem(item)
			if err != nil {
				return Info{}, fmt.Errorf("%s: member %d: %w", HeaderClientCertChain, i+1, err)
			}
			chain = append(chain, c)
		}
	}
	return fromCerts(leaf, chain), nil
}

// certificateItem parses the DER certificate of a byte-sequence item.
func certificateItem(item httpsfv.Item) (*x509.Certificate, error) {
	var kind string
	switch item.Value.(type) {
	case []byte:
	case httpsfv.Token:
		kind = "a token"
	case string:
		kind = "a string"
	case int64:
		kind = "an integer"
	case float64:
		kind = "a decimal"
	case bool:
		kind = "a boolean"
	default:
		kind = fmt.Sprintf("a %T", item.Value)
	}
	if kind != "" {
		return nil, fmt.Errorf("%s, not a byte sequence", kind)
	}
	der := item.Value.([]byte)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("not a DER certificate: %w", err)
	}
	return c, nil
}
