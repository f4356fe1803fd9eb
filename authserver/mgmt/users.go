package mgmt

import (
	"cmp"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/authserver/users"
	"github.com/portcullis-gw/portcullis/authserver/users/usersearch"
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
	proj, err := parseProjection(r)
	if err != nil {
		return 0, nil, err
	}
	uq, err := parseUserQuery(r)
	if err != nil {
		return 0, nil, err
	}
	list, total, err := a.Store.ListUsers(r.Context(), uq, q.page)
	if err != nil {
		return 0, nil, err
	}
	items, err := viewUsers(list, proj)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, q.body("users", items, total, ""), nil
}

// viewUsers is the users as a list shows them, with the fields proj
// selects.
func viewUsers(list []*users.User, proj projection) ([]any, error) {
	items := make([]any, len(list))
	for i, u := range list {
		var err error
		if items[i], err = proj.apply(viewUser(u)); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// parseUserQuery reads q (with search_engine, which can only be v3; an
// empty q, as SDKs send for a blank search box, lists every user, as on
// Auth0) and sort.
func parseUserQuery(r *http.Request) (storage.UserQuery, error) {
	var uq storage.UserQuery
	query := r.URL.Query()
	if e := query.Get("search_engine"); query.Has("search_engine") && e != "v3" {
		return uq, errBadRequest("invalid_query_string", "Query validation error: 'search_engine %q is not supported: Portcullis implements v3'.", e)
	}
	if strings.TrimSpace(query.Get("q")) != "" {
		parsed, err := usersearch.Parse(query.Get("q"))
		if err != nil {
			return uq, errBadRequest("invalid_query_string", "Query validation error: 'Invalid q: %s. %s.'", err, usersearch.Supported)
		}
		uq.Match = parsed.Match
	}
	if query.Has("sort") {
		field, order, _ := strings.Cut(query.Get("sort"), ":")
		compare, ok := userOrders[field]
		if !ok || (order != "1" && order != "-1") {
			return uq, errBadRequest("invalid_query_string", "Query validation error: 'sort must be field:1 (ascending) or field:-1 (descending), the field one of %s'.", strings.Join(slices.Sorted(maps.Keys(userOrders)), ", "))
		}
		uq.Compare = compare
		if order == "-1" {
			uq.Compare = func(a, b *users.User) int { return compare(b, a) }
		}
	}
	return uq, nil
}

// userOrders are the fields users can be sorted by, each with its
// ascending order.
var userOrders = map[string]func(a, b *users.User) int{
	"user_id":      func(a, b *users.User) int { return strings.Compare(a.UserID, b.UserID) },
	"email":        func(a, b *users.User) int { return strings.Compare(strings.ToLower(a.Email), strings.ToLower(b.Email)) },
	"name":         func(a, b *users.User) int { return strings.Compare(a.Name, b.Name) },
	"nickname":     func(a, b *users.User) int { return strings.Compare(a.Nickname, b.Nickname) },
	"created_at":   func(a, b *users.User) int { return a.CreatedAt.Compare(b.CreatedAt) },
	"updated_at":   func(a, b *users.User) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
	"last_login":   func(a, b *users.User) int { return a.LastLogin.Compare(b.LastLogin) },
	"logins_count": func(a, b *users.User) int { return cmp.Compare(a.LoginsCount, b.LoginsCount) },
}

func (a *api) getUser(r *http.Request, _ *tokens.Claims) (int, any, error) {
	proj, err := parseProjection(r)
	if err != nil {
		return 0, nil, err
	}
	u, err := a.Store.User(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, storeError(err, kindUser)
	}
	view, err := proj.apply(viewUser(u))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, view, nil
}

// usersByEmail lists the users whose e-mail address is the one asked, of
// every connection, ordered by user_id. As on Auth0, the address is
// compared case included, and matches too the lower-case form Auth0 keeps
// of a database user's address: a user created as Ann@Example.com is found
// by Ann@Example.com and ann@example.com, not by ANN@example.com.
func (a *api) usersByEmail(r *http.Request, _ *tokens.Claims) (int, any, error) {
	proj, err := parseProjection(r)
	if err != nil {
		return 0, nil, err
	}
	query := r.URL.Query()
	email := query.Get("email")
	if email == "" {
		return 0, nil, errBadRequest("invalid_query_string", "Query validation error: 'Missing required property: email'.")
	}
	match := func(u *users.User) bool { return u.Email == email || strings.ToLower(u.Email) == email }
	var found []*users.User
	for page := 0; ; page++ {
		list, total, err := a.Store.ListUsers(r.Context(), storage.UserQuery{Match: match}, storage.Page{Page: page, PerPage: maxPerPage})
		if err != nil {
			return 0, nil, err
		}
		found = append(found, list...)
		if len(found) >= total || len(list) == 0 {
			break
		}
	}
	items, err := viewUsers(found, proj)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, items, nil
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
