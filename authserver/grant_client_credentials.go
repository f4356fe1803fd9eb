package authserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/clientcert"
)

// clientCredentials is the client credentials grant (RFC 6749 section
// 4.4) with Auth0's rules: the audience parameter names the API; the API's
// client access policy and the client's subject_type client grant decide
// the scopes (access.ClientCredentialsScopes). When the client or the API
// asks for proof of possession, the token is bound to the TLS client
// certificate of the request (RFC 8705).
func (s *Server) clientCredentials(ctx context.Context, c *clients.Client, req tokenRequest, cert clientcert.Info) (*tokenResponse, error) {
	if c.IsPublic() || !c.AllowsGrant(clients.GrantClientCredentials) {
		return nil, ErrUnauthorizedClient.WithDescription("Grant type `client_credentials` not allowed for the client.")
	}
	audience := req["audience"]
	if audience == "" {
		return nil, ErrInvalidRequest.WithDescription("No audience parameter was provided, and no default audience has been configured.")
	}
	if err := checkScopeSyntax(req["scope"]); err != nil {
		return nil, err
	}
	api, err := s.store.ResourceServerByIdentifier(ctx, audience)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrAccessDenied.WithDescription(fmt.Sprintf("Service not found: %s", audience))
	}
	if err != nil {
		return nil, err
	}
	grant, err := s.store.FindClientGrant(ctx, c.ClientID, api.Identifier, access.SubjectClient)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	scopes, err := access.ClientCredentialsScopes(api, grant, c.ClientID, req["scope"])
	var denial *access.Denial
	if errors.As(err, &denial) {
		return nil, ErrAccessDenied.WithDescription(denial.Reason)
	}
	if err != nil {
		return nil, err
	}
	thumbprint, err := binding(c, api, cert)
	if err != nil {
		return nil, err
	}
	signer, ok := s.keyring.Ring().Signer(jwa.SignatureAlgorithm(api.SigningAlg))
	if !ok {
		return nil, fmt.Errorf("no signing key for %s", api.SigningAlg)
	}
	lifetime := time.Duration(api.TokenLifetime) * time.Second
	token, jti, err := tokens.Issue(signer, tokens.AccessToken{
		Issuer:      s.issuer,
		Subject:     c.ClientID + "@clients",
		Audience:    []string{api.Identifier},
		ClientID:    c.ClientID,
		GrantType:   tokens.GTYClientCC,
		Scopes:      scopes,
		Permissions: scopes,
		IssuedAt:    s.now(),
		Lifetime:    lifetime,
		Dialect:     api.TokenDialect,

		CertThumbprint: thumbprint,
	})
	if err != nil {
		return nil, err
	}
	resp := &tokenResponse{
		AccessToken: token,
		TokenType:   "Bearer",
		ExpiresIn:   api.TokenLifetime,
		Scope:       strings.Join(scopes, " "),
	}
	if s.logger.Core().Enabled(zapcore.InfoLevel) {
		resp.logged = []zap.Field{zap.String("client_id", c.ClientID), zap.String("audience", api.Identifier),
			zap.String("grant_type", clients.GrantClientCredentials), zap.String("kid", signer.KID), zap.String("jti", jti)}
	}
	return resp, nil
}

// binding returns the certificate thumbprint to bind the token to: the
// request's client certificate when the client requires proof of
// possession or the API has an mtls proof_of_possession, nothing otherwise.
// A required binding without a certificate is an error, never an unbound
// token. api is nil for tokens good only at /userinfo.
func binding(c *clients.Client, api *access.ResourceServer, cert clientcert.Info) (string, error) {
	var pop *access.ProofOfPossession
	if api != nil {
		pop = api.ProofOfPossession
	}
	wanted := c.RequireProofOfPossession || pop != nil
	required := c.RequireProofOfPossession || (pop != nil && pop.Required)
	switch {
	case !wanted:
		return "", nil
	case cert.Present:
		return cert.Thumbprint, nil
	case required:
		return "", ErrInvalidRequest.WithDescription("Certificate-bound tokens are required (RFC 8705): send the token request over TLS with a client certificate.")
	}
	return "", nil
}

// checkScopeSyntax checks a scope parameter against RFC 6749 section 3.3:
// space-separated tokens of printable ASCII other than " and \.
func checkScopeSyntax(scope string) error {
	for _, r := range scope {
		if r != ' ' && (r < 0x21 || r > 0x7e || r == '"' || r == '\\') {
			return ErrInvalidScope.WithDescription("The scope parameter holds a character RFC 6749 does not allow.")
		}
	}
	return nil
}
