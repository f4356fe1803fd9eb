package authserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"slices"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/clientcert"
)

// PKCE code challenge methods (RFC 7636 section 4.2).
const (
	PKCES256  = "S256"
	PKCEPlain = "plain"
)

// authorizationCode is the authorization code grant (RFC 6749 section
// 4.1.3) with PKCE (RFC 7636). The code is consumed before anything else
// is checked, so that each code gets exactly one try: a wrong
// redirect_uri or code_verifier spends it.
//
// A code presented a second time is taken for a stolen one (RFC 6749
// section 4.1.2): the refresh tokens the first exchange issued are
// revoked, and if that exchange has yet to store its refresh token, it
// fails. Its access tokens cannot be revoked: they are self-contained JWTs
// that resource servers verify without asking this server, so they stay
// good until they expire.
//
// The refresh token of a public client whose access token is bound to a
// client certificate (RFC 8705) is bound to that certificate too (section
// 4): only the client holding its key can refresh. A confidential
// client's refresh token is bound to the client by its authentication
// instead, and each refresh binds its access token to the certificate of
// that request.
//
// The scopes issued are those of the code re-checked now (currentScopes),
// so changes to the user's permissions since the authorization apply.
func (s *Server) authorizationCode(ctx context.Context, c *clients.Client, req tokenRequest, cert clientcert.Info) (*tokenResponse, error) {
	if !c.AllowsGrant(clients.GrantAuthorizationCode) {
		return nil, ErrUnauthorizedClient.WithDescription("Grant type `authorization_code` not allowed for the client.")
	}
	secret := req["code"]
	if secret == "" {
		return nil, ErrInvalidRequest.WithDescription("Missing required parameter: code")
	}
	verifier, hasVerifier := req["code_verifier"]
	if hasVerifier && !validPKCEValue(verifier) {
		return nil, ErrInvalidRequest.WithDescription("code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, \"-\", \".\", \"_\" and \"~\" (RFC 7636 section 4.1).")
	}
	now := s.now()
	code, err := s.store.ConsumeAuthorizationCode(ctx, sessions.Key(secret), now)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, ErrInvalidGrant.WithDescription("Invalid authorization code")
	case errors.Is(err, storage.ErrUsed):
		if err := s.revokeCodeFamily(ctx, code); err != nil {
			return nil, err
		}
		return nil, ErrInvalidGrant.WithDescription("The authorization code has been used already; the tokens issued for it are revoked.")
	case err != nil:
		return nil, err
	}
	switch {
	case !now.Before(code.ExpiresAt):
		return nil, ErrInvalidGrant.WithDescription("The authorization code has expired.")
	case code.ClientID != c.ClientID:
		return nil, ErrInvalidGrant.WithDescription("The authorization code was issued to another client.")
	case req["redirect_uri"] != code.RedirectURI:
		return nil, ErrInvalidGrant.WithDescription("redirect_uri must be the one of the authorization request.")
	}
	if err := checkPKCE(c, code, verifier, hasVerifier); err != nil {
		return nil, err
	}
	u, err := s.activeUser(ctx, code.UserID)
	if err != nil {
		return nil, err
	}
	g, err := s.currentScopes(ctx, c, u, code.Audience, code.Scopes)
	if err != nil {
		return nil, err
	}
	g.authTime, g.nonce = code.AuthTime, code.Nonce
	thumbprint, err := binding(c, g.api, cert)
	if err != nil {
		return nil, err
	}
	resp, err := s.issue(g, clients.GrantAuthorizationCode, thumbprint)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(g.scopes, access.ScopeOfflineAccess) {
		return resp, nil
	}
	secret, rt := s.newRefreshToken(g, code.FamilyID, familyEnd(c, now), g.scopes)
	if c.IsPublic() {
		rt.CertThumbprint = thumbprint
	}
	switch err := s.store.CreateRefreshToken(ctx, rt); {
	case errors.Is(err, storage.ErrRevoked):
		return nil, ErrInvalidGrant.WithDescription("The authorization code was presented again during its exchange; the tokens issued for it are revoked.")
	case err != nil:
		return nil, err
	}
	resp.RefreshToken = secret
	return resp, nil
}

// revokeCodeFamily revokes the refresh tokens of the exchange of a
// replayed code, stored or to be stored. The revocation is kept until they
// would end at the latest: the code's client's absolute lifetime after the
// code's expiry (for ever when the client is gone).
func (s *Server) revokeCodeFamily(ctx context.Context, code *sessions.AuthorizationCode) error {
	var until time.Time
	switch c, err := s.store.Client(ctx, code.ClientID); {
	case err == nil:
		until = familyEnd(c, code.ExpiresAt)
	case !errors.Is(err, storage.ErrNotFound):
		return err
	}
	return s.store.RevokeRefreshTokenFamily(ctx, code.FamilyID, until)
}

// checkPKCE checks the code_verifier against the code's challenge (RFC
// 7636 section 4.6). Public clients must have used PKCE; a code without a
// challenge takes no verifier, so that PKCE cannot be downgraded.
func checkPKCE(c *clients.Client, code *sessions.AuthorizationCode, verifier string, hasVerifier bool) error {
	switch {
	case code.CodeChallenge == "" && c.IsPublic():
		return ErrInvalidGrant.WithDescription("Public clients must use PKCE: the authorization request had no code_challenge.")
	case code.CodeChallenge == "" && hasVerifier:
		return ErrInvalidGrant.WithDescription("The authorization request had no code_challenge, so no code_verifier is expected.")
	case code.CodeChallenge == "":
		return nil
	case !hasVerifier:
		return ErrInvalidGrant.WithDescription("Missing required parameter: code_verifier")
	}
	var derived string
	switch code.CodeChallengeMethod {
	case PKCES256:
		sum := sha256.Sum256([]byte(verifier))
		derived = base64.RawURLEncoding.EncodeToString(sum[:])
	case PKCEPlain:
		derived = verifier
	default:
		return ErrInvalidGrant.WithDescription("The authorization request's code_challenge_method is not supported.")
	}
	if subtle.ConstantTimeCompare([]byte(derived), []byte(code.CodeChallenge)) != 1 {
		return ErrInvalidGrant.WithDescription("Failed to verify code_verifier")
	}
	return nil
}
