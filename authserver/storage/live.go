package storage

import (
	"context"
	"errors"
	"slices"

	"github.com/portcullis-gw/portcullis/authserver/access"
)

// LiveClientGrant returns clientID's current client grant (subject type
// client) for the API audience and the scopes it allows right now, or nil
// when there is no such grant or API.
func LiveClientGrant(ctx context.Context, st Store, clientID, audience string) (*access.ClientGrant, []string, error) {
	api, err := st.ResourceServerByIdentifier(ctx, audience)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	g, err := st.FindClientGrant(ctx, clientID, audience, access.SubjectClient)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return g, g.Ceiling(api), nil
}

// GrantStillAllows reports whether clientID's live client grant for
// audience still allows scope.
func GrantStillAllows(ctx context.Context, st Store, clientID, audience, scope string) (bool, error) {
	g, scopes, err := LiveClientGrant(ctx, st, clientID, audience)
	if err != nil || g == nil {
		return false, err
	}
	return slices.Contains(scopes, scope), nil
}
