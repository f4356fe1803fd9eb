// Package forwardcert is the forward_client_cert handler: it tells the
// upstream which TLS client certificate the request came with, in the
// header formats of RFC 9440, Auth0's customer edge or Envoy, and makes sure
// a client can never send those headers itself.
//
// Of Portcullis it imports clientcert and internal packages.
package forwardcert

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/portcullis-gw/portcullis/clientcert"
	"github.com/portcullis-gw/portcullis/internal/hopbyhop"
	"github.com/portcullis-gw/portcullis/internal/inbound"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler forwards the request's TLS client certificate to the next
// handler (typically reverse_proxy) as request headers.
//
// Inbound copies of every certificate header of every format are always
// deleted first, whatever the configured formats and whether or not the
// connection has a client certificate: client-certificate,
// client-certificate-ca-verified, Client-Cert, Client-Cert-Chain and
// X-Forwarded-Client-Cert, in any letter case and with _ or . for any
// dash, and trailer fields of those names after the body, and so are their
// names in the Connection header, which would have reverse_proxy drop them
// as hop-by-hop. Then, when the TLS connection
// carried a client certificate, the headers of each configured format are
// set:
//
//	rfc9440  Client-Cert        the leaf, :base64(DER):
//	         Client-Cert-Chain  the other presented certificates, when any
//	auth0    client-certificate              the leaf's URL-encoded PEM
//	         client-certificate-ca-verified  SUCCESS or FAILED: <reason>
//	xfcc     X-Forwarded-Client-Cert  Hash, Cert, Chain (when the client
//	                                  presented more than the leaf),
//	                                  Subject, URI and DNS
//
// Auth0's edge takes client-certificate headers of at most 4096 bytes.
// When the leaf's is larger, it is left out and
// client-certificate-ca-verified is "FAILED: certificate too large".
//
// The certificate is verified against TrustedCACerts on each request,
// whatever Caddy's own client_auth verified. Caddy's TLS layer must ask for
// the certificate (client_auth mode request or require; the verify modes
// refuse the self-signed certificates Auth0 clients may use).
//
// Placeholders:
//
//	{http.client_cert.present}      true when the client sent a certificate
//	{http.client_cert.verified}     true when it chains to trusted_ca_certs
//	{http.client_cert.fingerprint}  hex SHA-256 of its DER
//	{http.client_cert.subject}      its subject, RFC 4514
type Handler struct {
	// Formats are the header formats to set: rfc9440, auth0 and xfcc.
	// Default: rfc9440.
	Formats []clientcert.Format `json:"formats,omitempty"`
	// TrustedCACerts are PEM files of the certificate authorities a client
	// certificate must chain to (with the client authentication extended
	// key usage) to be verified. Default: none, so no certificate is ever
	// verified.
	TrustedCACerts []string `json:"trusted_ca_certs,omitempty"`

	rfc9440, auth0, xfcc bool
	roots                *x509.CertPool
	logger               *zap.Logger
	now                  func() time.Time
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.forward_client_cert",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision reads the trusted CA certificates.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.now = time.Now
	if err := h.Validate(); err != nil {
		return err
	}
	formats := h.Formats
	if len(formats) == 0 {
		formats = []clientcert.Format{clientcert.FormatRFC9440}
	}
	h.rfc9440 = slices.Contains(formats, clientcert.FormatRFC9440)
	h.auth0 = slices.Contains(formats, clientcert.FormatAuth0)
	h.xfcc = slices.Contains(formats, clientcert.FormatXFCC)
	if len(h.TrustedCACerts) > 0 {
		repl := caddy.NewReplacer()
		files := make([]string, len(h.TrustedCACerts))
		for i, name := range h.TrustedCACerts {
			files[i] = repl.ReplaceKnown(name, "")
		}
		var err error
		if h.roots, err = clientcert.LoadPool(files...); err != nil {
			return fmt.Errorf("forward_client_cert: trusted_ca_certs: %w", err)
		}
	}
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	for _, f := range h.Formats {
		if _, err := clientcert.ParseFormat(string(f)); err != nil {
			return fmt.Errorf("forward_client_cert: %w", err)
		}
	}
	if slices.Contains(h.TrustedCACerts, "") {
		return errors.New("forward_client_cert: empty trusted_ca_certs file name")
	}
	return nil
}

// ServeHTTP deletes inbound certificate headers, and trailer fields of
// those names, sets them from the TLS client certificate, and calls the
// next handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	inbound.Delete(r, clientcert.IsHeaderName)
	// Headers named in Connection would be dropped by reverse_proxy.
	hopbyhop.Protect(r.Header, clientcert.IsHeaderName)
	var info clientcert.Info
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		info = clientcert.FromTLS(r.TLS, h.roots, h.now())
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.client_cert.present", info.Present)
	repl.Set("http.client_cert.verified", info.Verified)
	repl.Set("http.client_cert.fingerprint", info.FingerprintSHA256)
	repl.Set("http.client_cert.subject", info.Subject)
	if !info.Present {
		return next.ServeHTTP(w, r)
	}
	if c := h.logger.Check(zapcore.DebugLevel, "forwarding client certificate"); c != nil {
		c.Write(zap.String("fingerprint", info.FingerprintSHA256), zap.String("subject", info.Subject),
			zap.Bool("verified", info.Verified), zap.String("verify_error", info.VerifyError))
	}
	if h.rfc9440 {
		cert, chain := clientcert.RFC9440Headers(info)
		r.Header.Set(clientcert.HeaderClientCert, cert)
		if chain != "" {
			r.Header.Set(clientcert.HeaderClientCertChain, chain)
		}
	}
	if h.auth0 {
		cert, verified := clientcert.Auth0Headers(info)
		if cert != "" {
			r.Header.Set(clientcert.HeaderAuth0Cert, cert)
		}
		r.Header.Set(clientcert.HeaderAuth0Verified, verified)
	}
	if h.xfcc {
		r.Header.Set(clientcert.HeaderXFCC, clientcert.XFCCHeader(info))
	}
	return next.ServeHTTP(w, r)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
