package authserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/internal/randid"
	"github.com/portcullis-gw/portcullis/authserver/mgmt"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// ManagementAudience is the identifier of the Management API of issuer,
// as in Auth0: {issuer}api/v2/.
func ManagementAudience(issuer string) string { return issuer + "api/v2/" }

// EnsureManagementAPI creates the Management API resource server if it
// does not exist, and adds to an existing one any management scope it lacks.
func EnsureManagementAPI(ctx context.Context, st storage.Store, issuer string) error {
	err := st.Atomically(ctx, func(tx storage.Store) error {
		rs, err := tx.ResourceServerByIdentifier(ctx, ManagementAudience(issuer))
		if errors.Is(err, storage.ErrNotFound) {
			rs = &access.ResourceServer{
				ID:         randid.New("", 24),
				Name:       "Portcullis Management API",
				Identifier: ManagementAudience(issuer),
				IsSystem:   true,
				Scopes:     managementScopes(),
			}
			rs.ApplyDefaults()
			return tx.CreateResourceServer(ctx, rs)
		}
		if err != nil {
			return err
		}
		added := false
		for _, sc := range managementScopes() {
			if !rs.HasScope(sc.Value) {
				rs.Scopes = append(rs.Scopes, sc)
				added = true
			}
		}
		if !added {
			return nil
		}
		return tx.UpdateResourceServer(ctx, rs)
	})
	if err != nil {
		return fmt.Errorf("creating the Management API: %w", err)
	}
	return nil
}

func managementScopes() []access.Scope {
	out := make([]access.Scope, len(mgmt.Scopes))
	for i, s := range mgmt.Scopes {
		out[i] = access.Scope{Value: s.Value, Description: s.Description}
	}
	return out
}

// EnsureAdminClient creates the machine-to-machine client cred with a
// client grant for every Management API scope (allow_all_scopes, so scopes
// added by later versions are included), unless a client with that id
// exists; an existing client is left as it is. It reports whether it created
// the client.
func EnsureAdminClient(ctx context.Context, st storage.Store, h *clients.Hasher, issuer string, cred Credentials) (created bool, err error) {
	if cred.ClientID == "" || len(cred.ClientID) > 128 {
		return false, errors.New("the admin client id must be 1 to 128 characters")
	}
	if err := clients.CheckChosenSecret(cred.ClientSecret); err != nil {
		return false, fmt.Errorf("the admin client secret: %w", err)
	}
	err = st.Atomically(ctx, func(tx storage.Store) error {
		if _, err := tx.Client(ctx, cred.ClientID); err == nil {
			return nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		c := &clients.Client{
			ClientID:                cred.ClientID,
			Name:                    "Portcullis admin",
			Description:             "Machine-to-machine client with every Management API scope.",
			AppType:                 clients.AppNonInteractive,
			IsFirstParty:            true,
			OIDCConformant:          true,
			GrantTypes:              []string{clients.GrantClientCredentials},
			TokenEndpointAuthMethod: clients.AuthSecretPost,
			SecretHash:              h.Hash(cred.ClientSecret),
		}
		c.ApplyDefaults()
		if err := tx.CreateClient(ctx, c); err != nil {
			return err
		}
		api, err := tx.ResourceServerByIdentifier(ctx, ManagementAudience(issuer))
		if err != nil {
			return err
		}
		created = true
		return tx.CreateClientGrant(ctx, &access.ClientGrant{
			ID:             randid.New("cgr_", 16),
			ClientID:       c.ClientID,
			Audience:       api.Identifier,
			Scope:          api.ScopeValues(),
			SubjectType:    access.SubjectClient,
			AllowAllScopes: true,
		})
	})
	return created, err
}

// CreateAdminClient makes a new admin client with a generated id and
// secret on st (see EnsureAdminClient), creating the Management API first
// if needed, and returns its credentials. keyEncryptionKey is the
// Server's Config.KeyEncryptionKey: the client secret hashing key is
// stored encrypted with it.
func CreateAdminClient(ctx context.Context, st storage.Store, issuer string, keyEncryptionKey []byte) (Credentials, error) {
	if err := ValidateIssuer(issuer); err != nil {
		return Credentials{}, err
	}
	kek, err := newKEK(keyEncryptionKey)
	if err != nil {
		return Credentials{}, err
	}
	h, err := loadHasher(ctx, st, kek)
	if err != nil {
		return Credentials{}, err
	}
	if err := EnsureManagementAPI(ctx, st, issuer); err != nil {
		return Credentials{}, err
	}
	cred := Credentials{ClientID: randid.New("", 32), ClientSecret: clients.NewSecret()}
	if _, err := EnsureAdminClient(ctx, st, h, issuer, cred); err != nil {
		return Credentials{}, err
	}
	return cred, nil
}
