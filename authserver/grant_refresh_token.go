package authserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/clientcert"
)

// refreshToken is the refresh token grant (RFC 6749 section 6) with the
// client's refresh_token configuration.
//
// A rotating token is good once: the response carries its successor, of
// the same family and absolute end. Using a token a second time revokes
// its whole family, successors included (RFC 9700 section 4.14.2), unless
// it happens within the client's leeway after the first use (Auth0's
// reuse interval), when it gets a successor of its own. Of uses at once,
// the first to store its successor rotates the token and the others count
// as second uses. A non-rotating token stays the same and each use moves
// its idle end; no refresh_token is returned.
//
// A family bound to a client certificate (a public client's, see
// authorizationCode) is refreshed only with that certificate (RFC 8705
// section 4).
//
// The scope parameter may narrow the scopes to a subset of those the
// family was granted; either way each is re-checked now (currentScopes),
// so changes to the user's permissions apply at the next refresh.
func (s *Server) refreshToken(ctx context.Context, c *clients.Client, req tokenRequest, cert clientcert.Info) (*tokenResponse, error) {
	if !c.AllowsGrant(clients.GrantRefreshToken) {
		return nil, ErrUnauthorizedClient.WithDescription("Grant type `refresh_token` not allowed for the client.")
	}
	secret := req["refresh_token"]
	if secret == "" {
		return nil, ErrInvalidRequest.WithDescription("Missing required parameter: refresh_token")
	}
	if err := checkScopeSyntax(req["scope"]); err != nil {
		return nil, err
	}
	id := sessions.Key(secret)
	rt, err := s.store.RefreshToken(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errUnknownRefreshToken
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	switch {
	case rt.ClientID != c.ClientID:
		return nil, ErrInvalidGrant.WithDescription("The refresh token was issued to another client.")
	case rt.ExpiredAt(now):
		return nil, ErrInvalidGrant.WithDescription("The refresh token has expired.")
	case rt.CertThumbprint != "" && (!cert.Present || cert.Thumbprint != rt.CertThumbprint):
		return nil, ErrInvalidGrant.WithDescription("The refresh token is bound to another client certificate (RFC 8705 section 4).")
	}
	requested := rt.Scopes
	if scope := req["scope"]; scope != "" {
		requested = strings.Fields(scope)
		for _, sc := range requested {
			if !slices.Contains(rt.Scopes, sc) {
				return nil, ErrInvalidScope.WithDescription(fmt.Sprintf("The scope %s was not granted to the refresh token.", sc))
			}
		}
	}
	cfg := refreshConfig(c)
	if err := s.refuseReuse(ctx, rt, cfg, now); err != nil {
		return nil, err
	}
	u, err := s.activeUser(ctx, rt.UserID)
	if err != nil {
		return nil, err
	}
	g, err := s.currentScopes(ctx, c, u, rt.Audience, requested)
	if err != nil {
		return nil, err
	}
	if !offlineAllowed(c, g.api) {
		if err := s.store.RevokeRefreshTokenFamily(ctx, rt.FamilyID, rt.ExpiresAt); err != nil {
			return nil, err
		}
		return nil, ErrAccessDenied.WithDescription("Offline access is no longer allowed for this client and API; the refresh token is revoked.")
	}
	g.authTime = rt.AuthTime
	thumbprint, err := binding(c, g.api, cert)
	if err != nil {
		return nil, err
	}
	resp, err := s.issue(g, clients.GrantRefreshToken, thumbprint)
	if err != nil {
		return nil, err
	}
	if cfg.RotationType == clients.RefreshRotating {
		if resp.RefreshToken, err = s.rotate(ctx, g, rt, cfg, now); err != nil {
			return nil, err
		}
		return resp, nil
	}
	if _, idle := cfg.Lifetimes(); idle > 0 {
		switch err := s.store.TouchRefreshToken(ctx, id, now.Add(idle)); {
		case errors.Is(err, storage.ErrNotFound):
			return nil, errRevokedRefreshToken
		case err != nil:
			return nil, err
		}
	}
	return resp, nil
}

var (
	errUnknownRefreshToken = ErrInvalidGrant.WithDescription("Unknown or invalid refresh token.")
	// errRevokedRefreshToken: revoked while the request was served, by a
	// concurrent reuse of the token, say.
	errRevokedRefreshToken = ErrInvalidGrant.WithDescription("The refresh token has been revoked.")
)

// refuseReuse revokes the family of rt and refuses the request when rt
// was used before (rotated) and the client's leeway after that first use
// has passed. With no leeway every second use is refused, even one whose
// request began before the first use was recorded.
func (s *Server) refuseReuse(ctx context.Context, rt *sessions.RefreshToken, cfg clients.RefreshTokenConfig, now time.Time) error {
	leeway := time.Duration(cfg.Leeway) * time.Second
	if rt.UsedAt.IsZero() || (leeway > 0 && now.Before(rt.UsedAt.Add(leeway))) {
		return nil
	}
	if err := s.store.RevokeRefreshTokenFamily(ctx, rt.FamilyID, rt.ExpiresAt); err != nil {
		return err
	}
	return ErrInvalidGrant.WithDescription("The refresh token has been used already; every refresh token of its family is revoked.")
}

// rotate stores the successor of the rotating token rt, bound as rt is,
// and returns its secret. A token used before (within the leeway, or by a
// request that rotated it meanwhile, which refuseReuse then judges) gets
// a successor without being rotated again.
func (s *Server) rotate(ctx context.Context, g *userGrant, rt *sessions.RefreshToken, cfg clients.RefreshTokenConfig, now time.Time) (string, error) {
	secret, successor := s.newRefreshToken(g, rt.FamilyID, rt.ExpiresAt, rt.Scopes)
	successor.CertThumbprint = rt.CertThumbprint
	err := s.store.RotateRefreshToken(ctx, rt.ID, now, successor)
	if errors.Is(err, storage.ErrUsed) {
		err = s.reuse(ctx, rt.ID, successor, cfg, now)
	}
	switch {
	case errors.Is(err, storage.ErrRevoked), errors.Is(err, storage.ErrNotFound):
		return "", errRevokedRefreshToken
	case err != nil:
		return "", err
	}
	return secret, nil
}

// reuse stores successor for the token id that was used before, if
// refuseReuse allows it.
func (s *Server) reuse(ctx context.Context, id string, successor *sessions.RefreshToken, cfg clients.RefreshTokenConfig, now time.Time) error {
	rt, err := s.store.RefreshToken(ctx, id)
	if err != nil {
		return err
	}
	if err := s.refuseReuse(ctx, rt, cfg, now); err != nil {
		return err
	}
	return s.store.CreateRefreshToken(ctx, successor)
}
