package mgmt

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// roleFields are the writable properties of a role (Auth0's RoleCreate and
// RoleUpdate).
type roleFields struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

func (f *roleFields) apply(r *users.Role) {
	set(&r.Name, f.Name)
	set(&r.Description, f.Description)
}

// roleConflict is the answer to a taken role name.
func roleConflict(err error) error {
	if errors.Is(err, storage.ErrConflict) {
		return errConflict("A role with the same name already exists")
	}
	return storeError(err, kindRole)
}

func (a *api) createRole(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f roleFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	if f.Name == nil {
		return 0, nil, errBadRequest("invalid_body", "Payload validation error: 'Missing required property: name'.")
	}
	role := &users.Role{ID: users.NewRoleID()}
	f.apply(role)
	if err := role.Validate(); err != nil {
		return 0, nil, invalid(err)
	}
	if err := a.Store.CreateRole(r.Context(), role); err != nil {
		return 0, nil, roleConflict(err)
	}
	a.audit("role created", caller, zap.String("role_id", role.ID), zap.String("name", role.Name))
	return http.StatusOK, role, nil
}

func (a *api) listRoles(r *http.Request, _ *tokens.Claims) (int, any, error) {
	q, err := parseListQuery(r)
	if err != nil {
		return 0, nil, err
	}
	list, total, err := a.Store.ListRoles(r.Context(), storage.RoleFilter{NameContains: r.URL.Query().Get("name_filter")}, q.page)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, q.body("roles", list, total, ""), nil
}

func (a *api) getRole(r *http.Request, _ *tokens.Claims) (int, any, error) {
	role, err := a.Store.Role(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, storeError(err, kindRole)
	}
	return http.StatusOK, role, nil
}

func (a *api) updateRole(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f roleFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	var role *users.Role
	err := a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		var err error
		if role, err = tx.Role(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		f.apply(role)
		if err := role.Validate(); err != nil {
			return invalid(err)
		}
		return tx.UpdateRole(r.Context(), role)
	})
	if err != nil {
		return 0, nil, roleConflict(err)
	}
	a.audit("role updated", caller, zap.String("role_id", role.ID), zap.String("name", role.Name))
	return http.StatusOK, role, nil
}

func (a *api) deleteRole(r *http.Request, caller *tokens.Claims) (int, any, error) {
	id := r.PathValue("id")
	if err := a.Store.DeleteRole(r.Context(), id); err != nil {
		return 0, nil, storeError(err, kindRole)
	}
	a.audit("role deleted", caller, zap.String("role_id", id))
	return http.StatusNoContent, nil, nil
}

// permissionRef is one permission of a request body (Auth0's
// PostRolePermissionAssignmentRequestPermissionsInner).
type permissionRef struct {
	ResourceServerIdentifier *string `json:"resource_server_identifier"`
	PermissionName           *string `json:"permission_name"`
}

// permissionsBody is Auth0's PostRolePermissionAssignmentRequest,
// PostPermissionsRequest and DeletePermissionsRequest.
type permissionsBody struct {
	Permissions *[]permissionRef `json:"permissions"`
}

// maxListItems bounds the items of one request's list.
const maxListItems = 1000

// decodePermissions reads a permissions body and checks that every
// permission is one an API defines. Removing checks only their form, so
// that permissions an API no longer defines can still be removed.
func decodePermissions(r *http.Request, st storage.Catalog, mustBeDefined bool) ([]users.Permission, error) {
	var b permissionsBody
	if err := decodeBody(r, &b); err != nil {
		return nil, err
	}
	if b.Permissions == nil {
		return nil, errBadRequest("invalid_body", "Payload validation error: 'Missing required property: permissions'.")
	}
	if n := len(*b.Permissions); n == 0 || n > maxListItems {
		return nil, errBadRequest("invalid_body", "Payload validation error: 'permissions must have between 1 and %d items'.", maxListItems)
	}
	out := make([]users.Permission, 0, len(*b.Permissions))
	apis := map[string]*access.ResourceServer{}
	for i, ref := range *b.Permissions {
		if ref.ResourceServerIdentifier == nil || ref.PermissionName == nil {
			return nil, errBadRequest("invalid_body", "Payload validation error: 'Missing required property: resource_server_identifier and permission_name' on property permissions[%d].", i)
		}
		p := users.Permission{ResourceServerIdentifier: *ref.ResourceServerIdentifier, PermissionName: *ref.PermissionName}
		if err := p.Validate(); err != nil {
			return nil, errBadRequest("invalid_body", "Payload validation error: permissions[%d]: %s.", i, err)
		}
		if mustBeDefined {
			if err := checkDefined(r.Context(), st, apis, p); err != nil {
				return nil, err
			}
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// checkDefined checks that p is a scope of an API other than the
// Management API, caching the APIs looked up in apis.
func checkDefined(ctx context.Context, st storage.Catalog, apis map[string]*access.ResourceServer, p users.Permission) error {
	rs, ok := apis[p.ResourceServerIdentifier]
	if !ok {
		var err error
		rs, err = st.ResourceServerByIdentifier(ctx, p.ResourceServerIdentifier)
		if errors.Is(err, storage.ErrNotFound) {
			return errBadRequest("invalid_body", "The resource server %q does not exist", p.ResourceServerIdentifier)
		}
		if err != nil {
			return err
		}
		apis[p.ResourceServerIdentifier] = rs
	}
	if rs.IsSystem {
		// Stricter than Auth0: Management API permissions are for clients
		// only, through their grants.
		return errBadRequest("invalid_body", "Permissions of the Management API (%q) cannot be assigned to roles or users", p.ResourceServerIdentifier)
	}
	if !slices.ContainsFunc(rs.Scopes, func(s access.Scope) bool { return s.Value == p.PermissionName }) {
		return errBadRequest("invalid_body", "The permission %q is not defined by the resource server %q", p.PermissionName, p.ResourceServerIdentifier)
	}
	return nil
}

// changePermissions adds (add) or removes the permissions of the body,
// checked inside the transaction, with change.
func (a *api) changePermissions(r *http.Request, add bool, kind string, change func(tx storage.Store, ps []users.Permission) error) (int, error) {
	var n int
	err := a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		ps, err := decodePermissions(r, tx, add)
		if err != nil {
			return err
		}
		n = len(ps)
		return change(tx, ps)
	})
	if err != nil {
		return 0, storeError(err, kind)
	}
	return n, nil
}

func (a *api) listRolePermissions(r *http.Request, _ *tokens.Claims) (int, any, error) {
	q, err := parseListQuery(r)
	if err != nil {
		return 0, nil, err
	}
	list, total, err := a.Store.RolePermissions(r.Context(), r.PathValue("id"), q.page)
	if err != nil {
		return 0, nil, storeError(err, kindRole)
	}
	return http.StatusOK, q.body("permissions", list, total, ""), nil
}

func (a *api) rolePermissions(add bool) func(r *http.Request, caller *tokens.Claims) (int, any, error) {
	return func(r *http.Request, caller *tokens.Claims) (int, any, error) {
		id := r.PathValue("id")
		n, err := a.changePermissions(r, add, kindRole, func(tx storage.Store, ps []users.Permission) error {
			if add {
				return tx.AddRolePermissions(r.Context(), id, ps)
			}
			return tx.RemoveRolePermissions(r.Context(), id, ps)
		})
		if err != nil {
			return 0, nil, err
		}
		msg, status := "role permissions removed", http.StatusNoContent
		if add {
			msg, status = "role permissions added", http.StatusCreated
		}
		a.audit(msg, caller, zap.String("role_id", id), zap.Int("permissions", n))
		return status, nil, nil
	}
}

func (a *api) listUserPermissions(r *http.Request, _ *tokens.Claims) (int, any, error) {
	q, err := parseListQuery(r)
	if err != nil {
		return 0, nil, err
	}
	list, total, err := a.Store.UserPermissions(r.Context(), r.PathValue("id"), q.page)
	if err != nil {
		return 0, nil, storeError(err, kindUser)
	}
	return http.StatusOK, q.body("permissions", list, total, ""), nil
}

func (a *api) userPermissions(add bool) func(r *http.Request, caller *tokens.Claims) (int, any, error) {
	return func(r *http.Request, caller *tokens.Claims) (int, any, error) {
		id := r.PathValue("id")
		n, err := a.changePermissions(r, add, kindUser, func(tx storage.Store, ps []users.Permission) error {
			if add {
				return tx.AddUserPermissions(r.Context(), id, ps)
			}
			return tx.RemoveUserPermissions(r.Context(), id, ps)
		})
		if err != nil {
			return 0, nil, err
		}
		msg, status := "user permissions removed", http.StatusNoContent
		if add {
			msg, status = "user permissions added", http.StatusCreated
		}
		a.audit(msg, caller, zap.String("user_id", id), zap.Int("permissions", n))
		return status, nil, nil
	}
}

// decodeIDs reads {key: [ids]}, Auth0's PostRoleUsersRequest,
// PostUserRolesRequest and DeleteUserRolesRequest.
func decodeIDs(r *http.Request, key string) ([]string, error) {
	var ids *[]string
	var err error
	switch key {
	case "users":
		var b struct {
			Users *[]string `json:"users"`
		}
		err = decodeBody(r, &b)
		ids = b.Users
	default:
		var b struct {
			Roles *[]string `json:"roles"`
		}
		err = decodeBody(r, &b)
		ids = b.Roles
	}
	if err != nil {
		return nil, err
	}
	if ids == nil {
		return nil, errBadRequest("invalid_body", "Payload validation error: 'Missing required property: %s'.", key)
	}
	if n := len(*ids); n == 0 || n > maxListItems {
		return nil, errBadRequest("invalid_body", "Payload validation error: '%s must have between 1 and %d items'.", key, maxListItems)
	}
	out := []string{}
	for i, id := range *ids {
		if id == "" {
			return nil, errBadRequest("invalid_body", "Payload validation error: 'String is too short (0 chars), minimum 1' on property %s[%d].", key, i)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// roleMember is a user as the list of a role's users shows it (Auth0's
// GetRoleUser200ResponseOneOfInner).
type roleMember struct {
	UserID  string `json:"user_id"`
	Picture string `json:"picture,omitempty"`
	Name    string `json:"name,omitempty"`
	Email   string `json:"email"`
}

func (a *api) listRoleUsers(r *http.Request, _ *tokens.Claims) (int, any, error) {
	q, err := parseListQuery(r)
	if err != nil {
		return 0, nil, err
	}
	list, total, err := a.Store.RoleUsers(r.Context(), r.PathValue("id"), q.page)
	if err != nil {
		return 0, nil, storeError(err, kindRole)
	}
	list, next := cut(q, list, func(u *users.User) string { return u.UserID })
	items := make([]roleMember, len(list))
	for i, u := range list {
		items[i] = roleMember{u.UserID, u.Picture, u.Name, u.Email}
	}
	return http.StatusOK, q.body("users", items, total, next), nil
}

func (a *api) assignRoleUsers(r *http.Request, caller *tokens.Claims) (int, any, error) {
	ids, err := decodeIDs(r, "users")
	if err != nil {
		return 0, nil, err
	}
	roleID := r.PathValue("id")
	err = a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		if _, err := tx.Role(r.Context(), roleID); err != nil {
			return storeError(err, kindRole)
		}
		for _, id := range ids {
			if _, err := tx.User(r.Context(), id); err != nil {
				if errors.Is(err, storage.ErrNotFound) {
					return errNotFound("inexistent_user", "The user %s does not exist", id)
				}
				return err
			}
			if err := tx.AssignUserRoles(r.Context(), id, []string{roleID}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, storeError(err, kindRole)
	}
	a.audit("role assigned to users", caller, zap.String("role_id", roleID), zap.Strings("user_ids", ids))
	return http.StatusOK, nil, nil
}

func (a *api) listUserRoles(r *http.Request, _ *tokens.Claims) (int, any, error) {
	q, err := parseListQuery(r)
	if err != nil {
		return 0, nil, err
	}
	list, total, err := a.Store.UserRoles(r.Context(), r.PathValue("id"), q.page)
	if err != nil {
		return 0, nil, storeError(err, kindUser)
	}
	return http.StatusOK, q.body("roles", list, total, ""), nil
}

func (a *api) userRoles(add bool) func(r *http.Request, caller *tokens.Claims) (int, any, error) {
	return func(r *http.Request, caller *tokens.Claims) (int, any, error) {
		ids, err := decodeIDs(r, "roles")
		if err != nil {
			return 0, nil, err
		}
		userID := r.PathValue("id")
		err = a.Store.Atomically(r.Context(), func(tx storage.Store) error {
			if _, err := tx.User(r.Context(), userID); err != nil {
				return storeError(err, kindUser)
			}
			for _, id := range ids {
				if _, err := tx.Role(r.Context(), id); err != nil {
					if errors.Is(err, storage.ErrNotFound) {
						return errNotFound("inexistent_role", "The role %s does not exist", id)
					}
					return err
				}
			}
			if add {
				return tx.AssignUserRoles(r.Context(), userID, ids)
			}
			return tx.RemoveUserRoles(r.Context(), userID, ids)
		})
		if err != nil {
			return 0, nil, storeError(err, kindUser)
		}
		msg, status := "roles removed from user", http.StatusNoContent
		if add {
			msg, status = "roles assigned to user", http.StatusOK
		}
		a.audit(msg, caller, zap.String("user_id", userID), zap.Strings("role_ids", ids))
		return status, nil, nil
	}
}
