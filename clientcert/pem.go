package clientcert

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

const (
	pemBegin = "-----BEGIN "
	pemEnd   = "-----END "
)

// pemOf is the PEM encoding of the certificates.
func pemOf(certs ...*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return b.String()
}

// escapeComponent is JavaScript's encodeURIComponent for the characters of
// PEM: every byte but ASCII letters, digits and -_.~ (and, for what PEM
// never holds, !'()*) as %XX, space as %20. url.QueryUnescape and
// url.PathUnescape both read it back.
func escapeComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// unescapePEM decodes URL-encoded PEM as edges write it: %XX escapes, and a
// literal + is kept (some encoders leave the + of base64 alone), except in
// the BEGIN and END lines, where it can only be a form-encoded space.
func unescapePEM(s string) (string, error) {
	out, err := url.PathUnescape(s)
	if err != nil {
		return "", err
	}
	return strings.NewReplacer(
		"-----BEGIN+CERTIFICATE-----", "-----BEGIN CERTIFICATE-----",
		"-----END+CERTIFICATE-----", "-----END CERTIFICATE-----",
	).Replace(out), nil
}

// parsePEM parses text made only of PEM CERTIFICATE blocks and whitespace,
// refusing anything else: other block types, text around or between the
// blocks, truncated blocks.
func parsePEM(text string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	s := text
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" {
			break
		}
		if !strings.HasPrefix(s, pemBegin) {
			if len(certs) == 0 {
				return nil, fmt.Errorf("not PEM: %q", excerpt(s))
			}
			return nil, fmt.Errorf("unexpected data after certificate %d: %q", len(certs), excerpt(s))
		}
		// The block runs to the end of its END line; decoding it alone
		// keeps pem.Decode from skipping a broken block to a later one.
		i := strings.Index(s, pemEnd)
		if i < 0 {
			return nil, fmt.Errorf("truncated PEM: block %d has no END line", len(certs)+1)
		}
		j := strings.Index(s[i+len(pemEnd):], "-----")
		if j < 0 {
			return nil, fmt.Errorf("truncated PEM: block %d has no complete END line", len(certs)+1)
		}
		end := i + len(pemEnd) + j + len("-----")
		if nl := strings.IndexByte(s[end:], '\n'); nl >= 0 {
			end += nl + 1
		} else {
			end = len(s)
		}
		seg := s[:end]
		if strings.Count(seg, pemBegin) != 1 {
			return nil, fmt.Errorf("malformed PEM: block %d has no END line", len(certs)+1)
		}
		block, _ := pem.Decode([]byte(seg))
		if block == nil {
			return nil, fmt.Errorf("malformed PEM block %d", len(certs)+1)
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, not a CERTIFICATE", len(certs)+1, excerpt(block.Type))
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
		s = s[end:]
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	return certs, nil
}
