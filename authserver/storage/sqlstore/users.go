package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// CreateUser stores a new user; a taken user_id, or an e-mail address that
// another user of the connection has (in any case), is
// storage.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u *users.User) error {
	doc, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("create user %q: encode: %w", u.UserID, err)
	}
	err = s.insert(ctx, `INSERT INTO users (user_id, email_key, password_hash, doc) VALUES (?, ?, ?, ?)`,
		u.UserID, users.EmailKey(u.Connection, u.Email), secretHash(u.PasswordHash), string(doc))
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.UserID, err)
	}
	return nil
}

// User returns the user with userID, or storage.ErrNotFound. In a
// transaction, the user is locked until it ends.
func (s *Store) User(ctx context.Context, userID string) (*users.User, error) {
	u, err := s.readUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", userID, err)
	}
	return u, nil
}

// readUser is User, its error not wrapped.
func (s *Store) readUser(ctx context.Context, userID string) (*users.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT password_hash, doc FROM users WHERE user_id = ?`+s.lockRows(), userID))
	return u, notFound(err)
}

// UserByEmail returns the user of connection whose e-mail address is email
// in any case, or storage.ErrNotFound. In a transaction, the user is
// locked until it ends.
func (s *Store) UserByEmail(ctx context.Context, connection, email string) (*users.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT password_hash, doc FROM users WHERE email_key = ?`+s.lockRows(),
		users.EmailKey(connection, email)))
	if err != nil {
		return nil, fmt.Errorf("user with email %q in %q: %w", email, connection, notFound(err))
	}
	return u, nil
}

// ListUsers returns one page of the users q matches, in q's order, and
// their number. A query is evaluated as the users are read, not by the
// database: it reads every user.
func (s *Store) ListUsers(ctx context.Context, q storage.UserQuery, p storage.Page) ([]*users.User, int, error) {
	out, total, err := list(ctx, s, p, "users", "password_hash, doc", "user_id", "", nil, scanUser, q.Match, q.Compare)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return out, total, nil
}

// UpdateUser replaces the user with u.UserID, password hash included,
// keeping the connection and created_at it was created with and its
// sign-in record (last_login, last_ip, logins_count): other values in u
// are not stored (u itself is left as it is). A missing user is
// storage.ErrNotFound; an e-mail address another user of the connection
// has is storage.ErrConflict.
func (s *Store) UpdateUser(ctx context.Context, u *users.User) error {
	err := s.atomically(ctx, func(tx *Store) error {
		old, err := tx.readUser(ctx, u.UserID)
		if err != nil {
			return err
		}
		kept := u.Clone()
		kept.Connection = old.Connection
		kept.CreatedAt = old.CreatedAt
		kept.LastLogin, kept.LastIP, kept.LoginsCount = old.LastLogin, old.LastIP, old.LoginsCount
		return tx.writeUser(ctx, kept)
	})
	if err != nil {
		return fmt.Errorf("update user %q: %w", u.UserID, err)
	}
	return nil
}

// RecordSignIn records a successful sign-in on the user: last_login,
// last_ip and logins_count, and the rehashed password when the user's hash
// is still the one the password was checked against. The user is read
// and written in one transaction that locks it, so that nothing else of
// it changes, whatever was written since the sign-in read it. A missing
// user is storage.ErrNotFound.
func (s *Store) RecordSignIn(ctx context.Context, userID string, in storage.SignIn) error {
	err := s.atomically(ctx, func(tx *Store) error {
		u, err := tx.readUser(ctx, userID)
		if err != nil {
			return err
		}
		u.LastLogin, u.LastIP = in.At, in.IP
		u.LoginsCount++
		if len(in.Rehash) > 0 && bytes.Equal(u.PasswordHash, in.VerifiedHash) {
			u.PasswordHash = in.Rehash
		}
		return tx.writeUser(ctx, u)
	})
	if err != nil {
		return fmt.Errorf("record sign-in of user %q: %w", userID, err)
	}
	return nil
}

// writeUser stores u over the user with u.UserID, as it is.
func (s *Store) writeUser(ctx context.Context, u *users.User) error {
	doc, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return s.update(ctx, `UPDATE users SET email_key = ?, password_hash = ?, doc = ? WHERE user_id = ?`,
		users.EmailKey(u.Connection, u.Email), secretHash(u.PasswordHash), string(doc), u.UserID)
}

// DeleteUser deletes the user with its role assignments, direct
// permissions and sign-in state, together; a missing user is
// storage.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	err := s.atomically(ctx, func(tx *Store) error {
		if err := tx.execOne(ctx, `DELETE FROM users WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, table := range []string{"user_roles", "user_permissions", "sessions", "authorization_codes", "refresh_tokens", "consents"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+table+` WHERE user_id = ?`, userID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete user %q: %w", userID, err)
	}
	return nil
}

// CreateRole stores a new role; a taken id or name is
// storage.ErrConflict.
func (s *Store) CreateRole(ctx context.Context, r *users.Role) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("create role %q: encode: %w", r.ID, err)
	}
	err = s.insert(ctx, `INSERT INTO roles (id, name, doc) VALUES (?, ?, ?)`, r.ID, r.Name, string(doc))
	if err != nil {
		return fmt.Errorf("create role %q: %w", r.ID, err)
	}
	return nil
}

// Role returns the role with id, or storage.ErrNotFound.
func (s *Store) Role(ctx context.Context, id string) (*users.Role, error) {
	r, err := scanDoc[users.Role](s.queryRow(ctx, `SELECT doc FROM roles WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("role %q: %w", id, notFound(err))
	}
	return r, nil
}

// ListRoles returns one page of the roles f matches, ordered by id, and
// their number.
func (s *Store) ListRoles(ctx context.Context, f storage.RoleFilter, p storage.Page) ([]*users.Role, int, error) {
	var match func(*users.Role) bool
	if f.NameContains != "" {
		match = f.Matches
	}
	out, total, err := list(ctx, s, p, "roles", "doc", "id", "", nil, scanDoc[users.Role], match, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("list roles: %w", err)
	}
	return out, total, nil
}

// UpdateRole replaces the role with r.ID; a missing role is
// storage.ErrNotFound, a name another role has storage.ErrConflict.
func (s *Store) UpdateRole(ctx context.Context, r *users.Role) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("update role %q: encode: %w", r.ID, err)
	}
	if err := s.update(ctx, `UPDATE roles SET name = ?, doc = ? WHERE id = ?`, r.Name, string(doc), r.ID); err != nil {
		return fmt.Errorf("update role %q: %w", r.ID, err)
	}
	return nil
}

// DeleteRole deletes the role with its permissions and its assignments to
// users, together; a missing role is storage.ErrNotFound.
func (s *Store) DeleteRole(ctx context.Context, id string) error {
	err := s.atomically(ctx, func(tx *Store) error {
		if err := tx.execOne(ctx, `DELETE FROM roles WHERE id = ?`, id); err != nil {
			return err
		}
		for _, table := range []string{"role_permissions", "user_roles"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+table+` WHERE role_id = ?`, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete role %q: %w", id, err)
	}
	return nil
}

// AddRolePermissions gives the role the permissions it does not have yet;
// a missing role is storage.ErrNotFound.
func (s *Store) AddRolePermissions(ctx context.Context, roleID string, ps []users.Permission) error {
	err := s.addPermissions(ctx, "role_permissions", "role_id", roleID, (*Store).roleExists, ps)
	if err != nil {
		return fmt.Errorf("add permissions to role %q: %w", roleID, err)
	}
	return nil
}

// RemoveRolePermissions takes the permissions from the role, those it has;
// a missing role is storage.ErrNotFound.
func (s *Store) RemoveRolePermissions(ctx context.Context, roleID string, ps []users.Permission) error {
	err := s.removePermissions(ctx, "role_permissions", "role_id", roleID, (*Store).roleExists, ps)
	if err != nil {
		return fmt.Errorf("remove permissions from role %q: %w", roleID, err)
	}
	return nil
}

// RolePermissions returns one page of the role's permissions and their
// number; a missing role is storage.ErrNotFound.
func (s *Store) RolePermissions(ctx context.Context, roleID string, p storage.Page) ([]users.Permission, int, error) {
	out, total, err := s.listPermissions(ctx, "role_permissions", "role_id", roleID, (*Store).roleExists, p)
	if err != nil {
		return nil, 0, fmt.Errorf("permissions of role %q: %w", roleID, err)
	}
	return out, total, nil
}

// AddUserPermissions gives the user the direct permissions it does not
// have yet; a missing user is storage.ErrNotFound.
func (s *Store) AddUserPermissions(ctx context.Context, userID string, ps []users.Permission) error {
	err := s.addPermissions(ctx, "user_permissions", "user_id", userID, (*Store).userExists, ps)
	if err != nil {
		return fmt.Errorf("add permissions to user %q: %w", userID, err)
	}
	return nil
}

// RemoveUserPermissions takes the direct permissions from the user, those
// it has; a missing user is storage.ErrNotFound.
func (s *Store) RemoveUserPermissions(ctx context.Context, userID string, ps []users.Permission) error {
	err := s.removePermissions(ctx, "user_permissions", "user_id", userID, (*Store).userExists, ps)
	if err != nil {
		return fmt.Errorf("remove permissions from user %q: %w", userID, err)
	}
	return nil
}

// UserPermissions returns one page of the user's direct permissions and
// their number; a missing user is storage.ErrNotFound.
func (s *Store) UserPermissions(ctx context.Context, userID string, p storage.Page) ([]users.Permission, int, error) {
	out, total, err := s.listPermissions(ctx, "user_permissions", "user_id", userID, (*Store).userExists, p)
	if err != nil {
		return nil, 0, fmt.Errorf("permissions of user %q: %w", userID, err)
	}
	return out, total, nil
}

// AssignUserRoles assigns the user the roles it does not have yet; a
// missing user or role is storage.ErrNotFound, and then none is assigned.
func (s *Store) AssignUserRoles(ctx context.Context, userID string, roleIDs []string) error {
	err := s.atomically(ctx, func(tx *Store) error {
		if err := tx.userExists(ctx, userID); err != nil {
			return err
		}
		for _, id := range roleIDs {
			if err := tx.roleExists(ctx, id); err != nil {
				return err
			}
			_, err := tx.exec(ctx, `INSERT INTO user_roles (user_id, role_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, userID, id)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("assign roles to user %q: %w", userID, err)
	}
	return nil
}

// RemoveUserRoles takes the roles from the user, those it has; a missing
// user or role is storage.ErrNotFound, and then none is removed.
func (s *Store) RemoveUserRoles(ctx context.Context, userID string, roleIDs []string) error {
	err := s.atomically(ctx, func(tx *Store) error {
		if err := tx.userExists(ctx, userID); err != nil {
			return err
		}
		for _, id := range roleIDs {
			if err := tx.roleExists(ctx, id); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `DELETE FROM user_roles WHERE user_id = ? AND role_id = ?`, userID, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove roles from user %q: %w", userID, err)
	}
	return nil
}

// UserRoles returns one page of the user's roles ordered by id, and their
// number; a missing user is storage.ErrNotFound.
func (s *Store) UserRoles(ctx context.Context, userID string, p storage.Page) ([]*users.Role, int, error) {
	if err := s.userExists(ctx, userID); err != nil {
		return nil, 0, fmt.Errorf("roles of user %q: %w", userID, err)
	}
	out, total, err := list(ctx, s, p, "user_roles JOIN roles ON roles.id = user_roles.role_id", "roles.doc", "roles.id",
		" WHERE user_roles.user_id = ?", []any{userID}, scanDoc[users.Role], nil, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("roles of user %q: %w", userID, err)
	}
	return out, total, nil
}

// RoleUsers returns one page of the users the role is assigned to, ordered
// by user_id, and their number; a missing role is storage.ErrNotFound.
func (s *Store) RoleUsers(ctx context.Context, roleID string, p storage.Page) ([]*users.User, int, error) {
	if err := s.roleExists(ctx, roleID); err != nil {
		return nil, 0, fmt.Errorf("users of role %q: %w", roleID, err)
	}
	out, total, err := list(ctx, s, p, "user_roles JOIN users ON users.user_id = user_roles.user_id",
		"users.password_hash, users.doc", "users.user_id", " WHERE user_roles.role_id = ?", []any{roleID}, scanUser, nil, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("users of role %q: %w", roleID, err)
	}
	return out, total, nil
}

// EffectivePermissions returns the names of the permissions of audience the
// user has directly or through a role, sorted byte-wise (in Go, so that
// every engine's collation gives the same order), each once; a missing
// user is storage.ErrNotFound.
func (s *Store) EffectivePermissions(ctx context.Context, userID, audience string) ([]string, error) {
	if err := s.userExists(ctx, userID); err != nil {
		return nil, fmt.Errorf("permissions of user %q for %q: %w", userID, audience, err)
	}
	rows, err := s.query(ctx, `SELECT permission FROM user_permissions WHERE user_id = ? AND audience = ?
		UNION
		SELECT role_permissions.permission FROM user_roles
			JOIN role_permissions ON role_permissions.role_id = user_roles.role_id
			WHERE user_roles.user_id = ? AND role_permissions.audience = ?`,
		userID, audience, userID, audience)
	if err != nil {
		return nil, fmt.Errorf("permissions of user %q for %q: %w", userID, audience, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("permissions of user %q for %q: %w", userID, audience, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("permissions of user %q for %q: %w", userID, audience, err)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Helpers.

// update runs an UPDATE of one row by key: a missing row is
// storage.ErrNotFound, a taken unique value storage.ErrConflict.
func (s *Store) update(ctx context.Context, query string, args ...any) error {
	err := s.execOne(ctx, query, args...)
	if err != nil && !errors.Is(err, storage.ErrNotFound) && s.d.IsUniqueViolation(err) {
		return storage.ErrConflict
	}
	return err
}

// exists returns storage.ErrNotFound, naming what, unless table has a row
// whose column col is key.
func (s *Store) exists(ctx context.Context, what, table, col, key string) error {
	var one int
	err := s.queryRow(ctx, `SELECT 1 FROM `+table+` WHERE `+col+` = ?`, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %q: %w", what, key, storage.ErrNotFound)
	}
	return err
}

// lockRows is the dialect's clause that locks the rows a SELECT reads, in
// a transaction; outside one, nothing.
func (s *Store) lockRows() string {
	if s.tx == nil {
		return ""
	}
	return s.d.LockRows
}

func (s *Store) userExists(ctx context.Context, id string) error {
	return s.exists(ctx, "user", "users", "user_id", id)
}

func (s *Store) roleExists(ctx context.Context, id string) error {
	return s.exists(ctx, "role", "roles", "id", id)
}

// addPermissions inserts the permissions of owner (a role or a user, as
// the key col of table role_permissions or user_permissions) that it does
// not have yet, in one transaction, after checking with exists that the
// owner exists. Invalid permissions are refused before anything is
// written.
func (s *Store) addPermissions(ctx context.Context, table, col, owner string, exists func(*Store, context.Context, string) error, ps []users.Permission) error {
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return err
		}
	}
	return s.atomically(ctx, func(tx *Store) error {
		if err := exists(tx, ctx, owner); err != nil {
			return err
		}
		for _, p := range ps {
			_, err := tx.exec(ctx, `INSERT INTO `+table+` (`+col+`, audience, permission) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
				owner, p.ResourceServerIdentifier, p.PermissionName)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// removePermissions deletes those of the permissions the owner has, in one
// transaction, after checking with exists that the owner exists.
func (s *Store) removePermissions(ctx context.Context, table, col, owner string, exists func(*Store, context.Context, string) error, ps []users.Permission) error {
	return s.atomically(ctx, func(tx *Store) error {
		if err := exists(tx, ctx, owner); err != nil {
			return err
		}
		for _, p := range ps {
			_, err := tx.exec(ctx, `DELETE FROM `+table+` WHERE `+col+` = ? AND audience = ? AND permission = ?`,
				owner, p.ResourceServerIdentifier, p.PermissionName)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// listPermissions returns one page of the owner's permissions, ordered by
// audience and name, described from the APIs that define them.
func (s *Store) listPermissions(ctx context.Context, table, col, owner string, exists func(*Store, context.Context, string) error, p storage.Page) ([]users.Permission, int, error) {
	if err := exists(s, ctx, owner); err != nil {
		return nil, 0, err
	}
	out, total, err := list(ctx, s, p, table, "audience, permission", "audience, permission",
		" WHERE "+col+" = ?", []any{owner}, scanPermission, nil, nil)
	if err != nil {
		return nil, 0, err
	}
	if err := s.describePermissions(ctx, out); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

func scanPermission(r rowScanner) (users.Permission, error) {
	var p users.Permission
	err := r.Scan(&p.ResourceServerIdentifier, &p.PermissionName)
	return p, err
}

// describePermissions fills in the name of each permission's API and the
// description the API gives the permission, reading each API once. An API
// that no longer exists, or a permission it no longer defines, leaves them
// empty.
func (s *Store) describePermissions(ctx context.Context, ps []users.Permission) error {
	apis := map[string]*access.ResourceServer{}
	for i := range ps {
		p := &ps[i]
		rs, seen := apis[p.ResourceServerIdentifier]
		if !seen {
			var err error
			rs, err = scanDoc[access.ResourceServer](s.queryRow(ctx,
				`SELECT doc FROM resource_servers WHERE identifier = ?`, p.ResourceServerIdentifier))
			if errors.Is(err, sql.ErrNoRows) {
				rs, err = nil, nil
			}
			if err != nil {
				return fmt.Errorf("resource server %q: %w", p.ResourceServerIdentifier, err)
			}
			apis[p.ResourceServerIdentifier] = rs
		}
		if rs == nil {
			continue
		}
		p.ResourceServerName = rs.Name
		for _, sc := range rs.Scopes {
			if sc.Value == p.PermissionName {
				p.Description = sc.Description
				break
			}
		}
	}
	return nil
}

func scanUser(r rowScanner) (*users.User, error) {
	var hash, doc []byte
	if err := r.Scan(&hash, &doc); err != nil {
		return nil, err
	}
	u := new(users.User)
	if err := json.Unmarshal(doc, u); err != nil {
		return nil, fmt.Errorf("decode user: %w", err)
	}
	if len(hash) > 0 {
		u.PasswordHash = hash
	}
	return u, nil
}
