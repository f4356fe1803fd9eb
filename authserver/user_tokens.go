package authserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// UserinfoAudience is the audience of access tokens good at the /userinfo
// endpoint of issuer.
func UserinfoAudience(issuer string) string { return issuer + "userinfo" }

// Access tokens for /userinfo alone (no API audience) are signed with
// RS256 and live a day, as in Auth0.
const (
	userinfoSigningAlg = jwa.RS256
	userinfoLifetime   = 86400
)

// userGrant is what a user flow hands out tokens for.
type userGrant struct {
	client *clients.Client
	user   *users.User
	// audience is the API; empty for /userinfo alone.
	audience string
	// scopes are the scopes to issue, already re-checked (currentScopes).
	scopes   []string
	api      *access.ResourceServer // nil without an audience
	perms    []string               // the user's permissions for the API
	authTime time.Time
	nonce    string
}

// activeUser returns the user a code or refresh token was issued to, as
// long as it exists and is not blocked.
func (s *Server) activeUser(ctx context.Context, userID string) (*users.User, error) {
	u, err := s.store.User(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrInvalidGrant.WithDescription("The user no longer exists.")
	}
	if err != nil {
		return nil, err
	}
	if u.Blocked {
		return nil, ErrInvalidGrant.WithDescription("The user is blocked.")
	}
	return u, nil
}

// currentScopes re-checks scopes granted to u through c for audience
// against what is allowed now: the OpenID Connect scopes among them (and
// offline_access only while offlineAllowed), then the API's permissions
// that access.UserScopes allows with the user's current permissions, so
// that changes to roles, grants and policies since the grant count. A
// deleted API is access_denied.
func (s *Server) currentScopes(ctx context.Context, c *clients.Client, u *users.User, audience string, granted []string) (*userGrant, error) {
	g := &userGrant{client: c, user: u, audience: audience, scopes: []string{}}
	if audience != "" {
		api, err := s.store.ResourceServerByIdentifier(ctx, audience)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, ErrAccessDenied.WithDescription(fmt.Sprintf("Service not found: %s", audience))
		}
		if err != nil {
			return nil, err
		}
		g.api = api
	}
	for _, sc := range access.OIDCScopes {
		if slices.Contains(granted, sc) && (sc != access.ScopeOfflineAccess || offlineAllowed(c, g.api)) {
			g.scopes = append(g.scopes, sc)
		}
	}
	if g.api == nil {
		return g, nil
	}
	grant, err := s.store.FindClientGrant(ctx, c.ClientID, audience, access.SubjectUser)
	if errors.Is(err, storage.ErrNotFound) {
		grant = nil
	} else if err != nil {
		return nil, err
	}
	if g.perms, err = s.store.EffectivePermissions(ctx, u.UserID, audience); err != nil {
		return nil, err
	}
	apiScopes, err := access.UserScopes(g.api, grant, c.ClientID, g.perms, granted)
	var denial *access.Denial
	if errors.As(err, &denial) {
		return nil, ErrAccessDenied.WithDescription(denial.Reason)
	}
	if err != nil {
		return nil, err
	}
	g.scopes = append(g.scopes, apiScopes...)
	return g, nil
}

// offlineAllowed reports whether refresh tokens may be issued to c for
// api (nil: /userinfo alone): the client must have the refresh_token
// grant, and the API must allow offline access.
func offlineAllowed(c *clients.Client, api *access.ResourceServer) bool {
	return c.AllowsGrant(clients.GrantRefreshToken) && (api == nil || api.AllowOfflineAccess)
}

// issue signs the access token of g and, when openid is granted, the ID
// token. The access token's sub is the user and its audience the API,
// with the issuer's /userinfo besides when openid is granted; without an
// API it is for /userinfo alone. Its permissions (in the *_authz
// dialects) are all of the user's permissions for the API, not only those
// requested, as in Auth0. It is bound to the certificate of thumbprint
// (RFC 8705), if any: see binding.
func (s *Server) issue(g *userGrant, grantType, thumbprint string) (*tokenResponse, error) {
	openid := slices.Contains(g.scopes, access.ScopeOpenID)
	alg, lifetime, dialect := userinfoSigningAlg, userinfoLifetime, access.DialectAuth0
	aud := []string{UserinfoAudience(s.issuer)}
	if g.api != nil {
		alg, lifetime, dialect = jwa.SignatureAlgorithm(g.api.SigningAlg), g.api.TokenLifetime, g.api.TokenDialect
		aud = []string{g.api.Identifier}
		if openid {
			aud = append(aud, UserinfoAudience(s.issuer))
		}
	}
	ring := s.keyring.Ring()
	signer, ok := ring.Signer(alg)
	if !ok {
		return nil, fmt.Errorf("no signing key for %s", alg)
	}
	now := s.now()
	at, jti, err := tokens.Issue(signer, tokens.AccessToken{
		Issuer:      s.issuer,
		Subject:     g.user.UserID,
		Audience:    aud,
		ClientID:    g.client.ClientID,
		Scopes:      g.scopes,
		Permissions: g.perms,
		IssuedAt:    now,
		Lifetime:    time.Duration(lifetime) * time.Second,
		Dialect:     dialect,

		CertThumbprint: thumbprint,
	})
	if err != nil {
		return nil, err
	}
	resp := &tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: lifetime, Scope: strings.Join(g.scopes, " ")}
	if openid {
		if resp.IDToken, err = s.signIDToken(g.client, g.user, g.scopes, tokens.IDToken{
			IssuedAt: now, AuthTime: g.authTime, Nonce: g.nonce, AccessToken: at,
		}); err != nil {
			return nil, err
		}
	}
	if s.logger.Core().Enabled(zapcore.InfoLevel) {
		resp.logged = []zap.Field{zap.String("client_id", g.client.ClientID), zap.String("user_id", g.user.UserID), zap.Strings("audience", aud),
			zap.String("grant_type", grantType), zap.String("kid", signer.KID), zap.String("jti", jti), zap.Bool("id_token", openid)}
	}
	return resp, nil
}

// signIDToken signs the ID token t of user u for client c with the
// client's algorithm and lifetime (jwt_configuration): t gets the issuer,
// the subject, the client and the claims of the granted scopes that
// userClaims allows, the same at the token and authorization endpoints.
func (s *Server) signIDToken(c *clients.Client, u *users.User, scopes []string, t tokens.IDToken) (string, error) {
	jc := c.JWTConfiguration
	signer, ok := s.keyring.Ring().Signer(jwa.SignatureAlgorithm(jc.Alg))
	if !ok {
		return "", fmt.Errorf("no signing key for ID tokens with %q", jc.Alg)
	}
	t.Issuer, t.Subject, t.ClientID = s.issuer, u.UserID, c.ClientID
	t.Lifetime = time.Duration(jc.LifetimeInSeconds) * time.Second
	t.UserClaims = userClaims(u, scopes)
	return tokens.IssueIDToken(signer, t)
}

// newRefreshToken returns the secret of a new refresh token of family for
// g, and the token to store for it. The token ends at familyEnd (zero:
// never), or sooner when unused for the client's idle lifetime.
func (s *Server) newRefreshToken(g *userGrant, family string, familyEnd time.Time, scopes []string) (string, *sessions.RefreshToken) {
	secret := sessions.NewSecret()
	now := s.now()
	t := &sessions.RefreshToken{
		ID:        sessions.Key(secret),
		FamilyID:  family,
		ClientID:  g.client.ClientID,
		UserID:    g.user.UserID,
		Audience:  g.audience,
		Scopes:    scopes,
		AuthTime:  g.authTime,
		IssuedAt:  now,
		ExpiresAt: familyEnd,
	}
	cfg := refreshConfig(g.client)
	if _, idle := cfg.Lifetimes(); idle > 0 {
		t.IdleExpiresAt = now.Add(idle)
	}
	return secret, t
}

// familyEnd is the absolute end of a refresh token family of c that
// starts at `start`: zero when c's refresh tokens have none.
func familyEnd(c *clients.Client, start time.Time) time.Time {
	cfg := refreshConfig(c)
	if absolute, _ := cfg.Lifetimes(); absolute > 0 {
		return start.Add(absolute)
	}
	return time.Time{}
}

// refreshConfig is the client's refresh_token configuration, with the
// defaults for clients stored before it existed.
func refreshConfig(c *clients.Client) clients.RefreshTokenConfig {
	cfg := c.RefreshToken
	cfg.ApplyDefaults()
	return cfg
}
