package mgmt

import (
	"errors"
	"maps"
	"net/http"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// userFields are the writable properties of a user, with the names of
// Auth0's UserCreate and UserUpdate. A nil field is left as it is (PATCH)
// or defaulted (POST). The password is only ever hashed, never stored or
// returned as sent.
type userFields struct {
	UserID        *string                  `json:"user_id"`
	Email         *string                  `json:"email"`
	Password      *string                  `json:"password"`
	Connection    *string                  `json:"connection"`
	EmailVerified *bool                    `json:"email_verified"`
	Blocked       *bool                    `json:"blocked"`
	Name          nullable[string]         `json:"name"`
	Nickname      nullable[string]         `json:"nickname"`
	GivenName     nullable[string]         `json:"given_name"`
	FamilyName    nullable[string]         `json:"family_name"`
	Picture       nullable[string]         `json:"picture"`
	UserMetadata  nullable[map[string]any] `json:"user_metadata"`
	AppMetadata   nullable[map[string]any] `json:"app_metadata"`
}

// setNullable sets *dst to the value sent, or clears it for null.
func setNullable[T any](dst *T, n nullable[T]) {
	if n.Sent {
		var zero T
		*dst = zero
		set(dst, n.Value)
	}
}

// mergeMetadata applies a PATCH of metadata as Auth0 does: the properties
// sent replace those stored, one level deep, a property sent as null is
// removed, and null for the whole object empties it.
func mergeMetadata(dst *map[string]any, n nullable[map[string]any]) {
	if !n.Sent {
		return
	}
	if n.Value == nil {
		*dst = map[string]any{}
		return
	}
	out := maps.Clone(*dst)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range *n.Value {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	*dst = out
}

// apply sets the fields on u, but neither user_id, connection nor the
// password, which create and update treat themselves.
func (f *userFields) apply(u *users.User, merge bool) {
	set(&u.Email, f.Email)
	set(&u.EmailVerified, f.EmailVerified)
	set(&u.Blocked, f.Blocked)
	setNullable(&u.Name, f.Name)
	setNullable(&u.Nickname, f.Nickname)
	setNullable(&u.GivenName, f.GivenName)
	setNullable(&u.FamilyName, f.FamilyName)
	setNullable(&u.Picture, f.Picture)
	if merge {
		mergeMetadata(&u.UserMetadata, f.UserMetadata)
		mergeMetadata(&u.AppMetadata, f.AppMetadata)
		return
	}
	if f.UserMetadata.Value != nil {
		u.UserMetadata = *f.UserMetadata.Value
	}
	if f.AppMetadata.Value != nil {
		u.AppMetadata = *f.AppMetadata.Value
	}
}

// userView is a user as the Management API returns it: with its
// identities, and never a password or its hash.
type userView struct {
	*users.User
	Identities []users.Identity `json:"identities"`
}

func viewUser(u *users.User) userView { return userView{u, u.Identities()} }

// checkConnection refuses any connection but the database one.
func checkConnection(name string) error {
	if name != users.DefaultConnection {
		return errBadRequest("invalid_body", "Payload validation error: 'connection must be %s, the only connection'.", users.DefaultConnection)
	}
	return nil
}

// setPassword checks password against the connection's policy and stores
// its hash in u. The error never holds the password.
func (a *api) setPassword(u *users.User, password string) error {
	if err := a.PasswordPolicy.Check(password, u); err != nil {
		var pe *users.PasswordError
		if errors.As(err, &pe) {
			return errBadRequest("invalid_body", "PasswordStrengthError: Password is too weak: %s.", pe.Error())
		}
		return errBadRequest("invalid_body", "PasswordStrengthError: Password is too weak.")
	}
	h, err := users.HashPassword(password)
	if err != nil {
		return errBadRequest("invalid_body", "PasswordStrengthError: Password is too weak.")
	}
	u.PasswordHash = h
	return nil
}

// userConflict is Auth0's answer to a taken e-mail address or user_id.
func userConflict(err error) error {
	if errors.Is(err, storage.ErrConflict) {
		return errConflict("The user already exists.")
	}
	return storeError(err, kindUser)
}

func (a *api) createUser(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f userFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	switch {
	case f.Connection == nil:
		return 0, nil, errBadRequest("invalid_body", "Payload validation error: 'Missing required property: connection'.")
	case f.Email == nil:
		return 0, nil, errBadRequest("invalid_body", "Payload validation error: 'Missing required property: email'.")
	case f.Password == nil:
		return 0, nil, errBadRequest("invalid_body", "Payload validation error: 'Missing required property: password'.")
	}
	if err := checkConnection(*f.Connection); err != nil {
		return 0, nil, err
	}
	u := &users.User{UserID: users.NewUserID(), Connection: *f.Connection}
	if f.UserID != nil {
		u.UserID = *f.UserID
	}
	f.apply(u, false)
	u.ApplyDefaults(a.now())
	if err := u.Validate(); err != nil {
		return 0, nil, invalid(err)
	}
	if err := a.setPassword(u, *f.Password); err != nil {
		return 0, nil, err
	}
	if err := a.Store.CreateUser(r.Context(), u); err != nil {
		return 0, nil, userConflict(err)
	}
	a.audit("user created", caller, zap.String("user_id", u.UserID))
	return http.StatusCreated, viewUser(u), nil
}

func (a *api) listUsers(r *http.Request, _ *tokens.Claims) (int, any, error) {
	q, err := parseListQuery(r)
	if err != nil {
		return 0, nil, err
	}
	list, total, err := a.Store.ListUsers(r.Context(), storage.UserQuery{}, q.page)
	if err != nil {
		return 0, nil, err
	}
	items := make([]userView, len(list))
	for i, u := range list {
		items[i] = viewUser(u)
	}
	return http.StatusOK, q.body("users", items, total, ""), nil
}

func (a *api) getUser(r *http.Request, _ *tokens.Claims) (int, any, error) {
	u, err := a.Store.User(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, storeError(err, kindUser)
	}
	return http.StatusOK, viewUser(u), nil
}

func (a *api) updateUser(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f userFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	if f.UserID != nil {
		return 0, nil, errBadRequest("invalid_body", "Payload validation error: 'user_id cannot be changed'.")
	}
	var u *users.User
	err := a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		var err error
		if u, err = tx.User(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		if f.Connection != nil && *f.Connection != u.Connection {
			return errBadRequest("invalid_body", "Payload validation error: 'connection cannot be changed'.")
		}
		f.apply(u, true)
		u.UpdatedAt = a.now().UTC().Truncate(1e6)
		if err := u.Validate(); err != nil {
			return invalid(err)
		}
		if f.Password != nil {
			if err := a.setPassword(u, *f.Password); err != nil {
				return err
			}
		}
		return tx.UpdateUser(r.Context(), u)
	})
	if err != nil {
		return 0, nil, userConflict(err)
	}
	a.audit("user updated", caller, zap.String("user_id", u.UserID), zap.Bool("password_changed", f.Password != nil))
	return http.StatusOK, viewUser(u), nil
}

func (a *api) deleteUser(r *http.Request, caller *tokens.Claims) (int, any, error) {
	id := r.PathValue("id")
	if err := a.Store.DeleteUser(r.Context(), id); err != nil {
		return 0, nil, storeError(err, kindUser)
	}
	a.audit("user deleted", caller, zap.String("user_id", id))
	return http.StatusNoContent, nil, nil
}
