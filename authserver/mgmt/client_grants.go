package mgmt

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/internal/randid"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
)

// clientGrantFields are the properties of a client grant in a request
// body. client_id, audience and subject_type are set on create only.
type clientGrantFields struct {
	ClientID                  *string             `json:"client_id"`
	Audience                  *string             `json:"audience"`
	SubjectType               *access.SubjectType `json:"subject_type"`
	Scope                     *[]string           `json:"scope"`
	AllowAllScopes            *bool               `json:"allow_all_scopes"`
	OrganizationUsage         *string             `json:"organization_usage"`
	AllowAnyOrganization      *bool               `json:"allow_any_organization"`
	AuthorizationDetailsTypes *[]string           `json:"authorization_details_types"`
}

// apply sets the properties a PATCH may change.
func (f *clientGrantFields) apply(g *access.ClientGrant) {
	set(&g.Scope, f.Scope)
	set(&g.AllowAllScopes, f.AllowAllScopes)
	set(&g.OrganizationUsage, f.OrganizationUsage)
	set(&g.AllowAnyOrganization, f.AllowAnyOrganization)
	set(&g.AuthorizationDetailsTypes, f.AuthorizationDetailsTypes)
}

// immutable refuses a change of what identifies the grant.
func (f *clientGrantFields) immutable(g *access.ClientGrant) error {
	for _, p := range []struct {
		name   string
		sent   *string
		stored string
	}{
		{"client_id", f.ClientID, g.ClientID},
		{"audience", f.Audience, g.Audience},
		{"subject_type", (*string)(f.SubjectType), string(g.SubjectType)},
	} {
		if p.sent != nil && *p.sent != p.stored {
			return errBadRequest("invalid_body", "Payload validation error: '%s cannot be changed'.", p.name)
		}
	}
	return nil
}

// checkGrant validates after, a new grant or one changed from before (nil
// for a new one), against its API, which must exist. On the Management API
// the caller must hold, reading tx, every scope after gives that before did
// not (see grantedScopes).
func (a *api) checkGrant(ctx context.Context, tx storage.Store, caller *tokens.Claims, before, after *access.ClientGrant) error {
	api, err := tx.ResourceServerByIdentifier(ctx, after.Audience)
	if errors.Is(err, storage.ErrNotFound) {
		return errNotFound("inexistent_resource_server", "No resource server with identifier %s", after.Audience)
	}
	if err != nil {
		return err
	}
	if err := after.Validate(api); err != nil {
		return invalid(err)
	}
	if !api.IsSystem {
		return nil
	}
	// Stricter than Auth0, where create:client_grants or
	// update:client_grants give any scope: a caller could give itself, or a
	// client it controls, every scope.
	err = a.requireScopes(ctx, tx, caller, grantedScopes(api, before, after)...)
	return because(err, "a client grant for the Management API can give only scopes the caller holds")
}

// grantedScopes lists the scopes of api that after allows and before (nil
// for none) did not. Turning allow_all_scopes on gives every scope of api,
// and those it will define, so it lists them all.
func grantedScopes(api *access.ResourceServer, before, after *access.ClientGrant) []string {
	if before == nil {
		before = &access.ClientGrant{}
	}
	if after.AllowAllScopes && !before.AllowAllScopes {
		return api.ScopeValues()
	}
	had := before.Ceiling(api)
	return slices.DeleteFunc(after.Ceiling(api), func(s string) bool { return slices.Contains(had, s) })
}

func (a *api) createClientGrant(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f clientGrantFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	for name, v := range map[string]*string{"client_id": f.ClientID, "audience": f.Audience} {
		if v == nil || *v == "" {
			return 0, nil, errBadRequest("invalid_body", "Payload validation error: 'Missing required property: %s'.", name)
		}
	}
	if f.Scope == nil && (f.AllowAllScopes == nil || !*f.AllowAllScopes) {
		return 0, nil, errBadRequest("invalid_body", "Payload validation error: 'Missing required property: scope'.")
	}
	g := &access.ClientGrant{ID: randid.New("cgr_", 16), ClientID: *f.ClientID, Audience: *f.Audience}
	set(&g.SubjectType, f.SubjectType)
	f.apply(g)
	g.ApplyDefaults()
	err := a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		if _, err := tx.Client(r.Context(), g.ClientID); errors.Is(err, storage.ErrNotFound) {
			return errNotFound("inexistent_client", "No client with id %s", g.ClientID)
		} else if err != nil {
			return err
		}
		if err := a.checkGrant(r.Context(), tx, caller, nil, g); err != nil {
			return err
		}
		return tx.CreateClientGrant(r.Context(), g)
	})
	if errors.Is(err, storage.ErrConflict) {
		return 0, nil, errConflict("A client grant for this client, audience and subject_type already exists")
	}
	if err != nil {
		return 0, nil, err
	}
	a.audit("client grant created", caller, zap.String("id", g.ID), zap.String("client_id", g.ClientID), zap.String("audience", g.Audience), zap.Strings("scope", g.Scope))
	return http.StatusCreated, g, nil
}

func (a *api) listClientGrants(r *http.Request, _ *tokens.Claims) (int, any, error) {
	q, err := parseListQuery(r)
	if err != nil {
		return 0, nil, err
	}
	query := r.URL.Query()
	f := storage.GrantFilter{ClientID: query.Get("client_id"), Audience: query.Get("audience"), SubjectType: access.SubjectType(query.Get("subject_type"))}
	switch f.SubjectType {
	case "", access.SubjectClient, access.SubjectUser:
	default:
		return 0, nil, errBadRequest("invalid_query_string", "Query validation error: 'subject_type must be client or user'.")
	}
	list, total, err := a.Store.ListClientGrants(r.Context(), f, q.page)
	if err != nil {
		return 0, nil, err
	}
	list, next := cut(q, list, func(g *access.ClientGrant) string { return g.ID })
	return http.StatusOK, q.body("client_grants", list, total, next), nil
}

func (a *api) getClientGrant(r *http.Request, _ *tokens.Claims) (int, any, error) {
	g, err := a.Store.ClientGrant(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, storeError(err, kindClientGrant)
	}
	return http.StatusOK, g, nil
}

func (a *api) updateClientGrant(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f clientGrantFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	var g *access.ClientGrant
	err := a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		var err error
		if g, err = tx.ClientGrant(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		if err := f.immutable(g); err != nil {
			return err
		}
		before := g.Clone()
		f.apply(g)
		if err := a.checkGrant(r.Context(), tx, caller, before, g); err != nil {
			return err
		}
		return tx.UpdateClientGrant(r.Context(), g)
	})
	if err != nil {
		return 0, nil, storeError(err, kindClientGrant)
	}
	a.audit("client grant updated", caller, zap.String("id", g.ID), zap.Strings("scope", g.Scope), zap.Bool("allow_all_scopes", g.AllowAllScopes))
	return http.StatusOK, g, nil
}

func (a *api) deleteClientGrant(r *http.Request, caller *tokens.Claims) (int, any, error) {
	id := r.PathValue("id")
	if err := a.Store.DeleteClientGrant(r.Context(), id); err != nil {
		return 0, nil, storeError(err, kindClientGrant)
	}
	a.audit("client grant deleted", caller, zap.String("id", id))
	return http.StatusNoContent, nil, nil
}
