package clientcert

import (
	"fmt"
	"strings"
)

// Auth0MaxHeaderBytes is the largest client-certificate header Auth0's
// edge accepts, encoded.
const Auth0MaxHeaderBytes = 4096

// Values of client-certificate-ca-verified.
const (
	Auth0Success = "SUCCESS"
	Auth0Failed  = "FAILED"
)

// Auth0TooLarge is the reason Auth0Headers gives when the leaf's header
// would be over Auth0MaxHeaderBytes.
const Auth0TooLarge = "certificate too large"

// Auth0Headers returns the values of Auth0's customer-edge headers for
// info (see Auth0's "Set up the Customer Edge"):
//
//	client-certificate              the leaf's PEM, URL-component encoded
//	                                (as JavaScript's encodeURIComponent)
//	client-certificate-ca-verified  SUCCESS when info is Verified, else
//	                                FAILED, or "FAILED: <reason>" when
//	                                info has a VerifyError
//
// Only the leaf is sent. When its header would be over
// Auth0MaxHeaderBytes, cert is "" and caVerified is
// "FAILED: certificate too large": the header must then be left out.
// Without a certificate (or with no Leaf), both are "".
func Auth0Headers(info Info) (cert, caVerified string) {
	if !info.Present || info.Leaf == nil {
		return "", ""
	}
	cert = escapeComponent(pemOf(info.Leaf))
	if len(cert) > Auth0MaxHeaderBytes {
		return "", auth0Failed(Auth0TooLarge)
	}
	if info.Verified {
		return cert, Auth0Success
	}
	return cert, auth0Failed(info.VerifyError)
}

func auth0Failed(reason string) string {
	if reason = headerSafe(reason); reason == "" {
		return Auth0Failed
	}
	return Auth0Failed + ": " + reason
}

// ParseAuth0 reads Auth0's customer-edge headers. client-certificate must
// be one URL-encoded PEM certificate of at most Auth0MaxHeaderBytes, and
// client-certificate-ca-verified exactly SUCCESS, FAILED, or FAILED
// followed by ':' or a space and a reason. The Info is Verified on SUCCESS;
// on FAILED its VerifyError is the reason.
//
// With neither header, the error is ErrNoCertificate; with a FAILED flag
// but no certificate (as when Auth0Headers left out a certificate too
// large), it wraps ErrNoCertificate and quotes the flag.
func ParseAuth0(certHeader, caVerifiedHeader string) (Info, error) {
	certHeader = strings.TrimSpace(certHeader)
	caVerifiedHeader = strings.TrimSpace(caVerifiedHeader)
	if certHeader == "" {
		if caVerifiedHeader == "" {
			return Info{}, ErrNoCertificate
		}
		ok, _, err := parseAuth0Verified(caVerifiedHeader)
		if err != nil {
			return Info{}, err
		}
		if ok {
			return Info{}, fmt.Errorf("%s is %s but there is no %s header", HeaderAuth0Verified, Auth0Success, HeaderAuth0Cert)
		}
		return Info{}, fmt.Errorf("%w: the forwarder sent no %s, only %s %q", ErrNoCertificate, HeaderAuth0Cert, HeaderAuth0Verified, excerpt(caVerifiedHeader))
	}
	if len(certHeader) > Auth0MaxHeaderBytes {
		return Info{}, fmt.Errorf("%s header is %d bytes, over the %d-byte limit", HeaderAuth0Cert, len(certHeader), Auth0MaxHeaderBytes)
	}
	if caVerifiedHeader == "" {
		return Info{}, fmt.Errorf("%s header is missing", HeaderAuth0Verified)
	}
	ok, reason, err := parseAuth0Verified(caVerifiedHeader)
	if err != nil {
		return Info{}, err
	}
	text, err := unescapePEM(certHeader)
	if err != nil {
		return Info{}, fmt.Errorf("%s is not URL-encoded: %w", HeaderAuth0Cert, err)
	}
	certs, err := parsePEM(text)
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", HeaderAuth0Cert, err)
	}
	if len(certs) != 1 {
		return Info{}, fmt.Errorf("%s holds %d certificates; only the leaf may be sent", HeaderAuth0Cert, len(certs))
	}
	info := fromCerts(certs[0], nil)
	info.Verified, info.VerifyError = ok, reason
	return info, nil
}

// parseAuth0Verified reads client-certificate-ca-verified.
func parseAuth0Verified(v string) (verified bool, reason string, err error) {
	switch {
	case v == Auth0Success:
		return true, "", nil
	case v == Auth0Failed:
		return false, "", nil
	case strings.HasPrefix(v, Auth0Failed+":"), strings.HasPrefix(v, Auth0Failed+" "):
		return false, strings.TrimSpace(v[len(Auth0Failed)+1:]), nil
	}
	return false, "", fmt.Errorf("%s: unknown value %q (want SUCCESS or FAILED)", HeaderAuth0Verified, excerpt(v))
}
