package clientcert

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// XFCCHeader returns an X-Forwarded-Client-Cert element for info, with
// Envoy's keys in Envoy's order:
//
//	Hash     hex SHA-256 of the leaf's DER
//	Cert     the leaf's PEM, URL-encoded
//	Chain    the leaf and the other presented certificates, URL-encoded
//	         PEM; only when the client presented more than the leaf
//	Subject  the leaf's subject, RFC 4514
//	URI      each URI subject alternative name
//	DNS      each DNS subject alternative name
//
// Cert, Chain and Subject are always double-quoted; URI and DNS when they
// hold ',', ';', '=', '"', '\' or white space. Inside quotes, '"' and '\'
// are escaped with '\'. URI and DNS values with control characters (no
// valid name has any) are left out. Without a certificate, it returns "".
func XFCCHeader(info Info) string {
	if !info.Present {
		return ""
	}
	if info.Leaf != nil {
		// The element describes the certificate it carries.
		chain := info.Chain
		info = fromCerts(info.Leaf, nil)
		info.Chain = chain
	}
	var pairs []string
	add := func(key, value string, quote bool) {
		if quote || needsQuotes(value) {
			value = quoteXFCC(value)
		}
		pairs = append(pairs, key+"="+value)
	}
	if info.FingerprintSHA256 != "" {
		add("Hash", info.FingerprintSHA256, false)
	}
	if info.Leaf != nil {
		add("Cert", escapeComponent(pemOf(info.Leaf)), true)
		if len(info.Chain) > 0 {
			add("Chain", escapeComponent(pemOf(append([]*x509.Certificate{info.Leaf}, info.Chain...)...)), true)
		}
	}
	if info.Subject != "" {
		add("Subject", info.Subject, true)
	}
	for _, u := range info.URIs {
		if !strings.ContainsFunc(u, isControl) {
			add("URI", u, false)
		}
	}
	for _, d := range info.DNSNames {
		if !strings.ContainsFunc(d, isControl) {
			add("DNS", d, false)
		}
	}
	return strings.Join(pairs, ";")
}

func needsQuotes(v string) bool {
	return v == "" || strings.ContainsAny(v, ",;=\"\\ \t")
}

func quoteXFCC(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// ParseXFCC reads the first element of an X-Forwarded-Client-Cert header
// (the one the first proxy added; later ones are not looked at). Keys are
// case-insensitive; By and unknown keys are ignored. Hash must be 64 hex
// digits and match Cert when both are given; Chain, when given, must start
// with Cert. When the element holds a certificate (Cert, or Chain), the
// Info is read from it and the Subject, URI and DNS values are not used;
// with only a Hash, the Info has no Leaf and takes Subject, URI and DNS
// from the element. A header with a control character other than HTAB is
// refused. Without a header, the error is ErrNoCertificate.
func ParseXFCC(header string) (Info, error) {
	if strings.TrimSpace(header) == "" {
		return Info{}, ErrNoCertificate
	}
	// No field value holds them (RFC 9110 section 5.5), and the Subject,
	// URI and DNS values read here would otherwise carry them on.
	if i := strings.IndexFunc(header, func(r rune) bool { return r != '\t' && isControl(r) }); i >= 0 {
		return Info{}, fmt.Errorf("%s: control character at byte %d", HeaderXFCC, i)
	}
	pairs, err := firstXFCCElement(header)
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", HeaderXFCC, err)
	}
	var hash, cert, chain, subject string
	var uris, dns []string
	seen := map[string]bool{}
	for _, p := range pairs {
		key := strings.ToLower(p.key)
		switch key {
		case "hash", "cert", "chain", "subject", "by":
			if seen[key] {
				return Info{}, fmt.Errorf("%s: %s appears twice in the first element", HeaderXFCC, p.key)
			}
			seen[key] = true
		}
		switch key {
		case "hash":
			hash = p.value
		case "cert":
			cert = p.value
		case "chain":
			chain = p.value
		case "subject":
			subject = p.value
		case "uri":
			uris = append(uris, p.value)
		case "dns":
			dns = append(dns, p.value)
		}
	}
	if hash == "" && cert == "" && chain == "" {
		return Info{}, fmt.Errorf("%s: the first element has no Hash, Cert or Chain", HeaderXFCC)
	}
	var sum []byte
	if hash != "" {
		if sum, err = hex.DecodeString(hash); err != nil || len(sum) != 32 {
			return Info{}, fmt.Errorf("%s: Hash %q is not a hex SHA-256", HeaderXFCC, excerpt(hash))
		}
	}
	var leaf *x509.Certificate
	var presented []*x509.Certificate
	if cert != "" {
		certs, err := xfccPEM(cert)
		if err != nil {
			return Info{}, fmt.Errorf("%s: Cert: %w", HeaderXFCC, err)
		}
		if len(certs) != 1 {
			return Info{}, fmt.Errorf("%s: Cert holds %d certificates, want one", HeaderXFCC, len(certs))
		}
		leaf = certs[0]
	}
	if chain != "" {
		certs, err := xfccPEM(chain)
		if err != nil {
			return Info{}, fmt.Errorf("%s: Chain: %w", HeaderXFCC, err)
		}
		if leaf != nil && !bytes.Equal(certs[0].Raw, leaf.Raw) {
			return Info{}, fmt.Errorf("%s: Chain does not start with Cert", HeaderXFCC)
		}
		leaf, presented = certs[0], certs[1:]
	}
	if leaf == nil {
		return Info{
			Present:           true,
			FingerprintSHA256: hex.EncodeToString(sum),
			Thumbprint:        base64.RawURLEncoding.EncodeToString(sum),
			Subject:           subject,
			URIs:              uris,
			DNSNames:          dns,
		}, nil
	}
	info := fromCerts(leaf, presented)
	if sum != nil && hex.EncodeToString(sum) != info.FingerprintSHA256 {
		return Info{}, fmt.Errorf("%s: Hash does not match the certificate", HeaderXFCC)
	}
	return info, nil
}

func xfccPEM(v string) ([]*x509.Certificate, error) {
	text, err := unescapePEM(v)
	if err != nil {
		return nil, fmt.Errorf("not URL-encoded: %w", err)
	}
	return parsePEM(text)
}

type xfccPair struct{ key, value string }

// firstXFCCElement splits the first element of an XFCC header into its
// key=value pairs: pairs are separated by ';', elements by ','; a value is
// either bare (no ',', ';', '=' or '"') or double-quoted, where '\' escapes
// the next character.
func firstXFCCElement(s string) ([]xfccPair, error) {
	var pairs []xfccPair
	i := 0
	skipOWS := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for {
		skipOWS()
		if i == len(s) || s[i] == ',' {
			break // end of the element (a trailing ';' is tolerated)
		}
		start := i
		for i < len(s) && isKeyByte(s[i]) {
			i++
		}
		key := s[start:i]
		if key == "" || i == len(s) || s[i] != '=' {
			return nil, fmt.Errorf("malformed pair at byte %d: want key=value", start)
		}
		i++ // '='
		var value string
		if i < len(s) && s[i] == '"' {
			var b strings.Builder
			i++
			closed := false
			for i < len(s) && !closed {
				switch c := s[i]; c {
				case '\\':
					if i+1 == len(s) {
						return nil, errors.New("unterminated quoted value of " + key)
					}
					b.WriteByte(s[i+1])
					i += 2
				case '"':
					closed = true
					i++
				default:
					b.WriteByte(c)
					i++
				}
			}
			if !closed {
				return nil, errors.New("unterminated quoted value of " + key)
			}
			value = b.String()
		} else {
			start := i
			for i < len(s) && s[i] != ';' && s[i] != ',' {
				if s[i] == '"' || s[i] == '=' {
					return nil, fmt.Errorf("value of %s holds %q and is not quoted", key, s[i])
				}
				i++
			}
			value = strings.TrimRight(s[start:i], " \t")
		}
		pairs = append(pairs, xfccPair{key, value})
		skipOWS()
		if i == len(s) || s[i] == ',' {
			break
		}
		if s[i] != ';' {
			return nil, fmt.Errorf("unexpected %q after the value of %s", s[i], key)
		}
		i++ // ';'
	}
	if len(pairs) == 0 {
		return nil, errors.New("the first element is empty")
	}
	return pairs, nil
}

func isKeyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
