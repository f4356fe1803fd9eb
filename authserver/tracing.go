package authserver

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/clientcert"
	"github.com/portcullis-gw/portcullis/internal/spans"
)

// The names of the authorization server's spans, started only as children
// of a recording span in the request's context (Caddy's tracing handler).
const (
	// SpanTokenIssuance is a token request: portcullis.grant_type,
	// portcullis.audience and portcullis.client_id once the client is
	// authenticated, portcullis.error (the OAuth error code) when refused.
	SpanTokenIssuance = "token_issuance"
	// SpanClientAuthentication is the client's authentication at the token
	// and revocation endpoints: portcullis.client_auth_method (the method
	// the request used: client_secret_basic, client_secret_post, none, or
	// tls_client_auth for a client registered for certificates, either
	// RFC 8705 method), portcullis.client_id when authenticated,
	// portcullis.error when not.
	SpanClientAuthentication = "client_authentication"
)

// tracedToken is token in the span token_issuance.
func (s *Server) tracedToken(w http.ResponseWriter, r *http.Request) (*tokenResponse, error) {
	ctx, span := spans.Start(r.Context(), SpanTokenIssuance)
	if !span.IsRecording() {
		return s.token(w, r)
	}
	defer span.End()
	resp, err := s.token(w, r.WithContext(ctx))
	traceError(span, err)
	return resp, err
}

// authenticateClient identifies the client by HTTP Basic credentials, by
// client_id and client_secret in the body, by a TLS client certificate, or
// (public clients) by client_id alone. A client registered for a secret
// method may use either secret method; public and certificate clients must
// use the method they are registered for. It is the span
// client_authentication.
func (s *Server) authenticateClient(ctx context.Context, r *http.Request, req tokenRequest, cert clientcert.Info) (*clients.Client, error) {
	ctx, span := spans.Start(ctx, SpanClientAuthentication)
	if !span.IsRecording() {
		return s.identifyClient(ctx, r, req, cert)
	}
	defer span.End()
	c, err := s.identifyClient(ctx, r, req, cert)
	if c != nil && c.UsesCertificates() {
		span.SetAttributes(attribute.String("portcullis.client_auth_method", "tls_client_auth"))
	}
	if err == nil {
		span.SetAttributes(attribute.String("portcullis.client_id", c.ClientID))
	}
	traceError(span, err)
	return c, err
}

// traceTokenRequest sets what a token request asks for on ctx's span.
func traceTokenRequest(ctx context.Context, grantType, audience, clientID string) {
	if span := spans.Recording(ctx); span != nil {
		span.SetAttributes(attribute.String("portcullis.grant_type", grantType), attribute.String("portcullis.audience", audience),
			attribute.String("portcullis.client_id", clientID))
	}
}

// traceClientAuthMethod sets the client authentication method a request
// used on ctx's span.
func traceClientAuthMethod(ctx context.Context, method clients.AuthMethod) {
	if span := spans.Recording(ctx); span != nil {
		span.SetAttributes(attribute.String("portcullis.client_auth_method", string(method)))
	}
}

// traceError sets the OAuth error code answered for err, if any, on span
// (never the error's text, which may quote the request), and the span's
// status to Error when the fault is the server's (a 5xx answer).
func traceError(span trace.Span, err error) {
	if err == nil {
		return
	}
	e := asError(err)
	span.SetAttributes(attribute.String("portcullis.error", e.Code))
	if e.Status >= http.StatusInternalServerError {
		span.SetStatus(codes.Error, e.Code)
	}
}
