package authserver

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/clientcert"
)

// requestCertificate is the client certificate of a token request (RFC
// 8705): forwarded by a trusted customer edge in Auth0's headers
// (client-certificate, client-certificate-ca-verified) with the shared
// cname-api-key, or else the TLS connection's own, verified against the
// configured client CAs. Forwarded headers without the right key refuse the
// request: they are never ignored silently.
func (s *Server) requestCertificate(r *http.Request) (clientcert.Info, error) {
	if r.Header.Get(clientcert.HeaderAuth0Cert) == "" && r.Header.Get(clientcert.HeaderAuth0Verified) == "" {
		return clientcert.FromTLS(r.TLS, s.clientCAs, s.now()), nil
	}
	key := r.Header.Get("cname-api-key")
	if s.edgeKey == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.edgeKey)) != 1 {
		return clientcert.Info{}, ErrInvalidClient.WithDescription("A forwarded client certificate needs the customer edge's cname-api-key.")
	}
	info, err := clientcert.ParseAuth0(r.Header.Get(clientcert.HeaderAuth0Cert), r.Header.Get(clientcert.HeaderAuth0Verified))
	if errors.Is(err, clientcert.ErrNoCertificate) {
		return clientcert.Info{}, nil
	}
	if err != nil {
		return clientcert.Info{}, ErrInvalidRequest.WithDescription("The forwarded client certificate is malformed: " + err.Error())
	}
	return info, nil
}

// authenticateCertificate checks cert against a certificate client's
// enabled credentials that have not expired: tls_client_auth wants a
// CA-verified certificate whose subject is a registered cert_subject_dn;
// self_signed_tls_client_auth wants exactly a registered x509_cert.
func (s *Server) authenticateCertificate(c *clients.Client, cert clientcert.Info) error {
	if !cert.Present {
		return ErrInvalidClient.WithDescription("The client authenticates with a TLS client certificate; none was presented.")
	}
	now := s.now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return ErrInvalidClient.WithDescription("The client certificate is expired or not yet valid.")
	}
	m := c.ClientAuthenticationMethods
	if m.TLSClientAuth != nil && cert.Verified && cert.Leaf != nil {
		for _, ref := range m.TLSClientAuth.Credentials {
			if cr, ok := c.Credential(ref.ID); ok && cr.ActiveAt(now) && clients.MatchesDN(cert.Leaf, cr.SubjectDN) {
				return nil
			}
		}
	}
	if m.SelfSignedTLSClientAuth != nil {
		for _, ref := range m.SelfSignedTLSClientAuth.Credentials {
			cr, ok := c.Credential(ref.ID)
			if ok && cr.ActiveAt(now) && cr.ThumbprintSHA256 != "" && subtle.ConstantTimeCompare([]byte(cr.ThumbprintSHA256), []byte(cert.Thumbprint)) == 1 {
				return nil
			}
		}
	}
	return ErrInvalidClient.WithDescription("The client certificate matches none of the client's credentials.")
}
