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
func LiveClientGrant(ctx context.Context, st Catalog, clientID, audience string) (*access.ClientGrant, []string, error) {
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

// UngrantedScope returns the first of scopes that clientID's live client
// grant for audience does not allow, or "" when it allows them all. Without
// a grant (or an API) it allows none.
func UngrantedScope(ctx context.Context, st Catalog, clientID, audience string, scopes ...string) (string, error) {
	if len(scopes) == 0 {
		return "", nil
	}
	_, allowed, err := LiveClientGrant(ctx, st, clientID, audience)
	if err != nil {
		return "", err
	}
	for _, s := range scopes {
		if !slices.Contains(allowed, s) {
			return s, nil
		}
	}
	return "", nil
}
