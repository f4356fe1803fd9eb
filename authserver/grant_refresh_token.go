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
// reuse interval), when it is exchanged again. A non-rotating token stays
// the same and each use moves its idle end; no refresh_token is returned.
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
		return nil, ErrInvalidGrant.WithDescription("Unknown or invalid refresh token.")
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
	rotating := cfg.RotationType == clients.RefreshRotating
	if rt.UsedAt.IsZero() && rotating {
		switch err := s.store.UseRefreshToken(ctx, id, now); {
		case errors.Is(err, storage.ErrUsed):
			// Used concurrently: judge this use by the other's time.
			if rt, err = s.store.RefreshToken(ctx, id); errors.Is(err, storage.ErrNotFound) {
				return nil, ErrInvalidGrant.WithDescription("Unknown or invalid refresh token.")
			} else if err != nil {
				return nil, err
			}
		case err != nil:
			return nil, err
		}
	}
	if !rt.UsedAt.IsZero() && !now.Before(rt.UsedAt.Add(time.Duration(cfg.Leeway)*time.Second)) {
		if err := s.store.RevokeRefreshTokenFamily(ctx, rt.FamilyID); err != nil {
			return nil, err
		}
		return nil, ErrInvalidGrant.WithDescription("The refresh token has been used already; every refresh token of its family is revoked.")
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
		if err := s.store.RevokeRefreshTokenFamily(ctx, rt.FamilyID); err != nil {
			return nil, err
		}
		return nil, ErrAccessDenied.WithDescription("Offline access is no longer allowed for this client and API; the refresh token is revoked.")
	}
	g.authTime = rt.AuthTime
	resp, err := s.issue(g, clients.GrantRefreshToken, cert)
	if err != nil {
		return nil, err
	}
	if rotating {
		resp.RefreshToken, err = s.newRefreshToken(ctx, g, rt.FamilyID, rt.ExpiresAt, rt.Scopes)
		return resp, err
	}
	if _, idle := cfg.Lifetimes(); idle > 0 {
		if err := s.store.TouchRefreshToken(ctx, id, now.Add(idle)); err != nil {
			return nil, err
		}
	}
	return resp, nil
}
