package mgmt

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/internal/randid"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
)

// kindCredential names a client credential in inexistent_credential.
const kindCredential = "credential"

// credentialFields define a new certificate credential: the body of
// POST /clients/{id}/credentials, and an entry of client_authentication_methods
// on POST /clients.
type credentialFields struct {
	Name           *string `json:"name"`
	CredentialType *string `json:"credential_type"`
	PEM            *string `json:"pem"`
	SubjectDN      *string `json:"subject_dn"`
}

// newCredential builds the credential f defines, with a new id. where
// prefixes its messages when it is not the whole body.
func (a *api) newCredential(f credentialFields, where string) (*clients.Credential, error) {
	if f.CredentialType == nil {
		return nil, errBadRequest("invalid_body", "Payload validation error: 'Missing required property: %scredential_type'.", where)
	}
	cr, err := clients.NewCredential(randid.New("cred_", 16), deref(f.Name), *f.CredentialType, deref(f.PEM), deref(f.SubjectDN), a.now())
	if err != nil {
		return nil, errBadRequest("invalid_body", "Payload validation error: %s%s.", where, err)
	}
	return cr, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// addCredential adds cr to c, refusing a credential beyond
// clients.MaxCredentials and one c already holds: the same certificate
// (x509_cert) or the same subject (cert_subject_dn).
func addCredential(c *clients.Client, cr *clients.Credential) error {
	for _, old := range c.Credentials {
		if old.CredentialType != cr.CredentialType {
			continue
		}
		if cr.CredentialType == clients.CredentialX509Cert && old.ThumbprintSHA256 == cr.ThumbprintSHA256 ||
			cr.CredentialType == clients.CredentialSubjectDN && clients.SameDN(old.SubjectDN, cr.SubjectDN) {
			return errConflict("The client already has this credential: %s", old.ID)
		}
	}
	if len(c.Credentials) >= clients.MaxCredentials {
		return errBadRequest("invalid_body", "A client holds at most %d credentials: delete one before adding another", clients.MaxCredentials)
	}
	c.Credentials = append(c.Credentials, *cr)
	return nil
}

// credentialRefs lists the methods of client_authentication_methods that
// name credential id.
func credentialRefs(c *clients.Client, id string) []string {
	var out []string
	m := c.ClientAuthenticationMethods
	if m == nil {
		return nil
	}
	for _, method := range []struct {
		name string
		m    *clients.MethodCredentials
	}{
		{"tls_client_auth", m.TLSClientAuth},
		{"self_signed_tls_client_auth", m.SelfSignedTLSClientAuth},
	} {
		if method.m != nil && slices.ContainsFunc(method.m.Credentials, func(r clients.CredentialRef) bool { return r.ID == id }) {
			out = append(out, method.name)
		}
	}
	return out
}

// clientCredential returns the credential of the path's client and
// credential ids from tx.
func clientCredential(r *http.Request, tx storage.Catalog) (*clients.Client, *clients.Credential, error) {
	c, err := tx.Client(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, nil, storeError(err, kindClient)
	}
	cr, ok := c.Credential(r.PathValue("credential_id"))
	if !ok {
		return nil, nil, errNotFound("inexistent_"+kindCredential, "The credential does not exist")
	}
	return c, cr, nil
}

func (a *api) listCredentials(r *http.Request, _ *tokens.Claims) (int, any, error) {
	c, err := a.Store.Client(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, storeError(err, kindClient)
	}
	out := c.Credentials
	if out == nil {
		out = []clients.Credential{}
	}
	return http.StatusOK, out, nil
}

func (a *api) getCredential(r *http.Request, _ *tokens.Claims) (int, any, error) {
	_, cr, err := clientCredential(r, a.Store)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, cr, nil
}

func (a *api) createCredential(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f credentialFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	cr, err := a.newCredential(f, "")
	if err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	err = a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		c, err := tx.Client(r.Context(), id)
		if err != nil {
			return storeError(err, kindClient)
		}
		if err := addCredential(c, cr); err != nil {
			return err
		}
		if err := c.Validate(); err != nil {
			return invalid(err)
		}
		return tx.UpdateClient(r.Context(), c)
	})
	if err != nil {
		return 0, nil, storeError(err, kindClient)
	}
	a.audit("client credential created", caller, zap.String("client_id", id), zap.String("credential_id", cr.ID),
		zap.String("credential_type", cr.CredentialType), zap.String("subject_dn", cr.SubjectDN), zap.String("thumbprint_sha256", cr.ThumbprintSHA256))
	return http.StatusCreated, cr, nil
}

// credentialUpdate is the body of PATCH /clients/{id}/credentials/{cid}.
// Only expires_at may change, as in Auth0; the other properties of a
// credential are accepted only to refuse them with a clear message.
type credentialUpdate struct {
	ExpiresAt nullable[string] `json:"expires_at"`

	ID               *any `json:"id"`
	Name             *any `json:"name"`
	CredentialType   *any `json:"credential_type"`
	PEM              *any `json:"pem"`
	SubjectDN        *any `json:"subject_dn"`
	ThumbprintSHA256 *any `json:"thumbprint_sha256"`
	CreatedAt        *any `json:"created_at"`
}

// immutable names the first property sent that cannot change.
func (f *credentialUpdate) immutable() string {
	for _, p := range []struct {
		name string
		v    *any
	}{
		{"id", f.ID}, {"name", f.Name}, {"credential_type", f.CredentialType}, {"pem", f.PEM},
		{"subject_dn", f.SubjectDN}, {"thumbprint_sha256", f.ThumbprintSHA256}, {"created_at", f.CreatedAt},
	} {
		if p.v != nil {
			return p.name
		}
	}
	return ""
}

func (a *api) updateCredential(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f credentialUpdate
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	if name := f.immutable(); name != "" {
		return 0, nil, errBadRequest("invalid_body", "Payload validation error: '%s cannot be changed: only expires_at can be updated; create a new credential instead'.", name)
	}
	var expires *time.Time
	if v := f.ExpiresAt.Value; v != nil {
		t, err := time.Parse(time.RFC3339Nano, *v)
		if err != nil {
			return 0, nil, errBadRequest("invalid_body", "Payload validation error: 'expires_at must be an ISO 8601 date and time, such as 2030-01-31T12:00:00.000Z'.")
		}
		t = t.UTC()
		expires = &t
	}
	var out clients.Credential
	err := a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		c, cr, err := clientCredential(r, tx)
		if err != nil {
			return err
		}
		if f.ExpiresAt.Sent && extends(cr.ExpiresAt, expires) && len(credentialRefs(c, cr.ID)) > 0 {
			// An enabled credential past its expiry is retired; bringing
			// it back changes how the client authenticates.
			if err := a.requireControlOf(r.Context(), tx, caller, c.ClientID); err != nil {
				return err
			}
		}
		if f.ExpiresAt.Sent {
			cr.ExpiresAt = expires
		}
		out = *cr
		return tx.UpdateClient(r.Context(), c)
	})
	if err != nil {
		return 0, nil, storeError(err, kindClient)
	}
	fields := []zap.Field{zap.String("client_id", r.PathValue("id")), zap.String("credential_id", out.ID)}
	if f.ExpiresAt.Sent {
		fields = append(fields, zap.Timep("expires_at", out.ExpiresAt))
	}
	a.audit("client credential updated", caller, fields...)
	return http.StatusOK, out, nil
}

// extends reports whether the expiry after lets a credential be used for
// longer than the expiry before did; nil is never.
func extends(before, after *time.Time) bool {
	return before != nil && (after == nil || after.After(*before))
}

func (a *api) deleteCredential(r *http.Request, caller *tokens.Claims) (int, any, error) {
	err := a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		c, cr, err := clientCredential(r, tx)
		if err != nil {
			return err
		}
		if used := credentialRefs(c, cr.ID); len(used) > 0 {
			return errBadRequest("credential_in_use",
				"The credential is enabled for client authentication (client_authentication_methods.%s) and must be unassociated first", strings.Join(used, ", "))
		}
		c.Credentials = slices.DeleteFunc(c.Credentials, func(x clients.Credential) bool { return x.ID == cr.ID })
		return tx.UpdateClient(r.Context(), c)
	})
	if err != nil {
		return 0, nil, storeError(err, kindClient)
	}
	a.audit("client credential deleted", caller, zap.String("client_id", r.PathValue("id")), zap.String("credential_id", r.PathValue("credential_id")))
	return http.StatusNoContent, nil, nil
}

// authMethodsFields is client_authentication_methods in a request body.
// On POST /clients each credential is defined in full and created with
// the client; on PATCH each names an existing credential of the client by
// id.
type authMethodsFields struct {
	TLSClientAuth           *methodFields `json:"tls_client_auth"`
	SelfSignedTLSClientAuth *methodFields `json:"self_signed_tls_client_auth"`
}

type methodFields struct {
	Credentials []credentialRefFields `json:"credentials"`
}

// credentialRefFields is an entry of a method's credentials: an id, or a
// definition.
type credentialRefFields struct {
	ID *string `json:"id"`
	credentialFields
}

func (f *credentialRefFields) defines() bool {
	return f.Name != nil || f.CredentialType != nil || f.PEM != nil || f.SubjectDN != nil
}

// each calls fn for each method sent, with its name and the credential
// type it takes.
func (m *authMethodsFields) each(fn func(name, credentialType string, f *methodFields) error) error {
	for _, method := range []struct {
		name, credentialType string
		f                    *methodFields
	}{
		{"tls_client_auth", clients.CredentialSubjectDN, m.TLSClientAuth},
		{"self_signed_tls_client_auth", clients.CredentialX509Cert, m.SelfSignedTLSClientAuth},
	} {
		if method.f == nil {
			continue
		}
		if err := fn(method.name, method.credentialType, method.f); err != nil {
			return err
		}
	}
	return nil
}

// createAuthMethods creates the credentials m defines on the new client c
// and enables them.
func (a *api) createAuthMethods(c *clients.Client, m *authMethodsFields) error {
	out := &clients.AuthenticationMethods{}
	err := m.each(func(name, credentialType string, f *methodFields) error {
		refs := &clients.MethodCredentials{Credentials: []clients.CredentialRef{}}
		for i, entry := range f.Credentials {
			where := fmt.Sprintf("client_authentication_methods.%s.credentials[%d]: ", name, i)
			if entry.ID != nil {
				return errBadRequest("invalid_body", "Payload validation error: '%sa new client has no credentials to name by id: define the credential (credential_type, name, and pem or subject_dn)'.", where)
			}
			if entry.CredentialType == nil {
				entry.CredentialType = &credentialType
			} else if *entry.CredentialType != credentialType {
				return errBadRequest("invalid_body", "Payload validation error: '%s%s takes %s credentials, not %s'.", where, name, credentialType, *entry.CredentialType)
			}
			cr, err := a.newCredential(entry.credentialFields, where)
			if err != nil {
				return err
			}
			if err := addCredential(c, cr); err != nil {
				if e, ok := err.(*Error); ok && e.Status == http.StatusConflict {
					return errConflict("%sthe same credential is defined twice", where)
				}
				return err
			}
			refs.Credentials = append(refs.Credentials, clients.CredentialRef{ID: cr.ID})
		}
		if name == "tls_client_auth" {
			out.TLSClientAuth = refs
		} else {
			out.SelfSignedTLSClientAuth = refs
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.ClientAuthenticationMethods = out
	return nil
}

// referAuthMethods turns m, sent on PATCH, into references to the
// client's credentials. Whether they exist and are of the right type is
// for Client.Validate.
func referAuthMethods(m *authMethodsFields) (*clients.AuthenticationMethods, error) {
	out := &clients.AuthenticationMethods{}
	err := m.each(func(name, _ string, f *methodFields) error {
		refs := &clients.MethodCredentials{Credentials: []clients.CredentialRef{}}
		for i, entry := range f.Credentials {
			where := fmt.Sprintf("client_authentication_methods.%s.credentials[%d]: ", name, i)
			if entry.ID == nil || entry.defines() {
				return errBadRequest("invalid_body", "Payload validation error: '%san update names an existing credential of the client by id alone; create new credentials with POST /api/v2/clients/{id}/credentials'.", where)
			}
			if slices.Contains(refs.Credentials, clients.CredentialRef{ID: *entry.ID}) {
				return errBadRequest("invalid_body", "Payload validation error: '%scredential %q is listed twice'.", where, *entry.ID)
			}
			refs.Credentials = append(refs.Credentials, clients.CredentialRef{ID: *entry.ID})
		}
		if name == "tls_client_auth" {
			out.TLSClientAuth = refs
		} else {
			out.SelfSignedTLSClientAuth = refs
		}
		return nil
	})
	return out, err
}
