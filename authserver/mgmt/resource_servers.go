package mgmt

import (
	"context"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/internal/randid"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
)

type policyFields struct {
	Policy *access.Policy `json:"policy"`
}

// resourceServerFields are the writable properties of an API. Identifier
// is accepted on PATCH only to refuse a change with a clear message.
type resourceServerFields struct {
	Name                     *string                            `json:"name"`
	Identifier               *string                            `json:"identifier"`
	Scopes                   *[]access.Scope                    `json:"scopes"`
	SigningAlg               *string                            `json:"signing_alg"`
	TokenLifetime            *int                               `json:"token_lifetime"`
	TokenLifetimeForWeb      *int                               `json:"token_lifetime_for_web"`
	TokenDialect             *access.Dialect                    `json:"token_dialect"`
	EnforcePolicies          *bool                              `json:"enforce_policies"`
	AllowOfflineAccess       *bool                              `json:"allow_offline_access"`
	SkipConsent              *bool                              `json:"skip_consent_for_verifiable_first_party_clients"`
	ProofOfPossession        nullable[access.ProofOfPossession] `json:"proof_of_possession"`
	SubjectTypeAuthorization *struct {
		User   *policyFields `json:"user"`
		Client *policyFields `json:"client"`
	} `json:"subject_type_authorization"`
}

func (f *resourceServerFields) apply(rs *access.ResourceServer) {
	set(&rs.Name, f.Name)
	set(&rs.Scopes, f.Scopes)
	set(&rs.SigningAlg, f.SigningAlg)
	set(&rs.TokenLifetime, f.TokenLifetime)
	set(&rs.TokenLifetimeForWeb, f.TokenLifetimeForWeb)
	set(&rs.TokenDialect, f.TokenDialect)
	set(&rs.EnforcePolicies, f.EnforcePolicies)
	set(&rs.AllowOfflineAccess, f.AllowOfflineAccess)
	set(&rs.SkipConsent, f.SkipConsent)
	if f.ProofOfPossession.Sent {
		rs.ProofOfPossession = f.ProofOfPossession.Value
	}
	if sta := f.SubjectTypeAuthorization; sta != nil {
		if sta.User != nil {
			set(&rs.SubjectTypeAuthorization.User.Policy, sta.User.Policy)
		}
		if sta.Client != nil {
			set(&rs.SubjectTypeAuthorization.Client.Policy, sta.Client.Policy)
		}
	}
	// An unset web lifetime follows a shorter maximum lifetime down.
	if f.TokenLifetimeForWeb == nil && rs.TokenLifetime > 0 && rs.TokenLifetimeForWeb > rs.TokenLifetime {
		rs.TokenLifetimeForWeb = rs.TokenLifetime
	}
	if rs.Scopes == nil {
		rs.Scopes = []access.Scope{}
	}
}

func (a *api) createResourceServer(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f resourceServerFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	if f.Identifier == nil {
		return 0, nil, errBadRequest("invalid_body", "Payload validation error: 'Missing required property: identifier'.")
	}
	rs := &access.ResourceServer{ID: randid.New("", 24), Identifier: *f.Identifier}
	// Defaults first, so that an explicit zero is checked, not replaced.
	rs.ApplyDefaults()
	f.apply(rs)
	if err := rs.Validate(); err != nil {
		return 0, nil, invalid(err)
	}
	// An ID token's aud is its client's client_id, and it is signed like
	// an access token: an API named after a client would take that
	// client's ID tokens as access tokens. Client IDs are random, so no
	// client created later takes an API's identifier.
	if _, err := a.Store.Client(r.Context(), rs.Identifier); err == nil {
		return 0, nil, errConflict("The identifier %s is the client_id of an application: that application's ID tokens would pass as access tokens for the API", rs.Identifier)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return 0, nil, err
	}
	if err := a.Store.CreateResourceServer(r.Context(), rs); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return 0, nil, errConflict("A resource server with the same identifier already exists")
		}
		return 0, nil, err
	}
	a.audit("resource server created", caller, zap.String("id", rs.ID), zap.String("identifier", rs.Identifier))
	return http.StatusCreated, rs, nil
}

func (a *api) listResourceServers(r *http.Request, _ *tokens.Claims) (int, any, error) {
	q, err := parseListQuery(r)
	if err != nil {
		return 0, nil, err
	}
	list, total, err := a.Store.ListResourceServers(r.Context(), q.page)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, q.body("resource_servers", list, total, ""), nil
}

// findResourceServer looks an API up by id or, as Auth0 allows, by its
// identifier.
func findResourceServer(ctx context.Context, st storage.Catalog, idOrIdentifier string) (*access.ResourceServer, error) {
	rs, err := st.ResourceServer(ctx, idOrIdentifier)
	if errors.Is(err, storage.ErrNotFound) {
		rs, err = st.ResourceServerByIdentifier(ctx, idOrIdentifier)
	}
	if err != nil {
		return nil, storeError(err, kindResourceServer)
	}
	return rs, nil
}

func (a *api) getResourceServer(r *http.Request, _ *tokens.Claims) (int, any, error) {
	rs, err := findResourceServer(r.Context(), a.Store, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rs, nil
}

// changeableResourceServer finds the API named in the path, refusing the
// Management API itself, which no request may change.
func changeableResourceServer(r *http.Request, tx storage.Catalog, verb string) (*access.ResourceServer, error) {
	rs, err := findResourceServer(r.Context(), tx, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if rs.IsSystem {
		return nil, &Error{Status: http.StatusForbidden, ErrorCode: "operation_not_supported", Message: "You cannot " + verb + " the Management API, a system resource server"}
	}
	return rs, nil
}

func (a *api) updateResourceServer(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f resourceServerFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	var rs *access.ResourceServer
	err := a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		var err error
		if rs, err = changeableResourceServer(r, tx, "update"); err != nil {
			return err
		}
		if f.Identifier != nil && *f.Identifier != rs.Identifier {
			return errBadRequest("invalid_body", "Payload validation error: 'identifier cannot be changed'.")
		}
		f.apply(rs)
		if err := rs.Validate(); err != nil {
			return invalid(err)
		}
		return tx.UpdateResourceServer(r.Context(), rs)
	})
	if err != nil {
		return 0, nil, storeError(err, kindResourceServer)
	}
	a.audit("resource server updated", caller, zap.String("id", rs.ID), zap.String("identifier", rs.Identifier))
	return http.StatusOK, rs, nil
}

func (a *api) deleteResourceServer(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var rs *access.ResourceServer
	err := a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		var err error
		if rs, err = changeableResourceServer(r, tx, "delete"); err != nil {
			return err
		}
		return tx.DeleteResourceServer(r.Context(), rs.ID)
	})
	if err != nil {
		return 0, nil, storeError(err, kindResourceServer)
	}
	a.audit("resource server deleted", caller, zap.String("id", rs.ID), zap.String("identifier", rs.Identifier))
	return http.StatusNoContent, nil, nil
}
