package sqlstore

import (
	"context"
	"fmt"
)

// migrations are the schema versions in order: migrations[i] brings the
// database from version i to version i+1. Applied migrations are recorded
// in schema_migrations; never edit one that has shipped, append a new one.
var migrations = []func(d Dialect) []string{
	// 1: the initial schema. Each object is a JSON document (doc) next to
	// the columns that are looked up or must be unique. A client's secret
	// hash is kept out of its JSON form and has its own column.
	func(d Dialect) []string {
		return []string{
			`CREATE TABLE clients (
				client_id TEXT PRIMARY KEY NOT NULL,
				secret_hash ` + d.BlobType + `,
				doc TEXT NOT NULL
			)`,
			`CREATE TABLE resource_servers (
				id TEXT PRIMARY KEY NOT NULL,
				identifier TEXT NOT NULL UNIQUE,
				doc TEXT NOT NULL
			)`,
			`CREATE TABLE client_grants (
				id TEXT PRIMARY KEY NOT NULL,
				client_id TEXT NOT NULL,
				audience TEXT NOT NULL,
				subject_type TEXT NOT NULL,
				doc TEXT NOT NULL,
				UNIQUE (client_id, audience, subject_type)
			)`,
			`CREATE INDEX client_grants_audience ON client_grants (audience)`,
			`CREATE TABLE signing_keys (
				kid TEXT PRIMARY KEY NOT NULL,
				doc TEXT NOT NULL
			)`,
			`CREATE TABLE installation_secrets (
				name TEXT PRIMARY KEY NOT NULL,
				value ` + d.BlobType + ` NOT NULL
			)`,
		}
	},
	// 2: users, roles and their permissions (Auth0's Authorization Core).
	// A user's e-mail key (users.EmailKey: connection and lower-case
	// address) is unique; its password hash has its own column, like a
	// client's secret hash. Permissions are (API identifier, name) pairs.
	// The relation tables cascade deletes of users and roles where the
	// engine enforces foreign keys; the Store deletes the rows itself as
	// well.
	func(d Dialect) []string {
		return []string{
			`CREATE TABLE users (
				user_id TEXT PRIMARY KEY NOT NULL,
				email_key TEXT NOT NULL UNIQUE,
				password_hash ` + d.BlobType + `,
				doc TEXT NOT NULL
			)`,
			`CREATE TABLE roles (
				id TEXT PRIMARY KEY NOT NULL,
				name TEXT NOT NULL UNIQUE,
				doc TEXT NOT NULL
			)`,
			`CREATE TABLE role_permissions (
				role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
				audience TEXT NOT NULL,
				permission TEXT NOT NULL,
				PRIMARY KEY (role_id, audience, permission)
			)`,
			`CREATE INDEX role_permissions_audience ON role_permissions (audience)`,
			`CREATE TABLE user_roles (
				user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
				role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
				PRIMARY KEY (user_id, role_id)
			)`,
			`CREATE INDEX user_roles_role_id ON user_roles (role_id)`,
			`CREATE TABLE user_permissions (
				user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
				audience TEXT NOT NULL,
				permission TEXT NOT NULL,
				PRIMARY KEY (user_id, audience, permission)
			)`,
			`CREATE INDEX user_permissions_audience ON user_permissions (audience)`,
		}
	},
	// 3: sign-in state. Sessions, authorization codes and refresh tokens
	// are keyed by the SHA-256 of their secret and carry the time they end
	// (expires_at, Unix milliseconds) for purging; a code's or a refresh
	// token's used_at (Unix milliseconds, 0 while unused) makes using it
	// once a conditional UPDATE. Failed sign-ins are rows counted by key
	// and time. Settings are JSON documents by name.
	func(d Dialect) []string {
		return []string{
			`CREATE TABLE sessions (
				id TEXT PRIMARY KEY NOT NULL,
				user_id TEXT NOT NULL,
				expires_at BIGINT NOT NULL,
				doc TEXT NOT NULL
			)`,
			`CREATE INDEX sessions_user_id ON sessions (user_id)`,
			`CREATE TABLE authorization_codes (
				id TEXT PRIMARY KEY NOT NULL,
				client_id TEXT NOT NULL,
				user_id TEXT NOT NULL,
				expires_at BIGINT NOT NULL,
				used_at BIGINT NOT NULL,
				doc TEXT NOT NULL
			)`,
			`CREATE TABLE refresh_tokens (
				id TEXT PRIMARY KEY NOT NULL,
				family_id TEXT NOT NULL,
				client_id TEXT NOT NULL,
				user_id TEXT NOT NULL,
				expires_at BIGINT NOT NULL,
				used_at BIGINT NOT NULL,
				doc TEXT NOT NULL
			)`,
			`CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id)`,
			`CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id)`,
			`CREATE TABLE consents (
				user_id TEXT NOT NULL,
				client_id TEXT NOT NULL,
				audience TEXT NOT NULL,
				doc TEXT NOT NULL,
				PRIMARY KEY (user_id, client_id, audience)
			)`,
			`CREATE TABLE login_failures (
				key TEXT NOT NULL,
				at BIGINT NOT NULL
			)`,
			`CREATE INDEX login_failures_key_at ON login_failures (key, at)`,
			`CREATE TABLE settings (
				name TEXT PRIMARY KEY NOT NULL,
				doc TEXT NOT NULL
			)`,
		}
	},
	// 4: several processes on one database. changes holds one row whose
	// version counts the changes to what processes cache; rate_limits
	// counts hits per key and fixed window (window_start, Unix
	// milliseconds).
	func(d Dialect) []string {
		return []string{
			`CREATE TABLE changes (
				id INTEGER PRIMARY KEY NOT NULL,
				version BIGINT NOT NULL
			)`,
			`INSERT INTO changes (id, version) VALUES (1, 0)`,
			`CREATE TABLE rate_limits (
				key TEXT NOT NULL,
				window_start BIGINT NOT NULL,
				hits BIGINT NOT NULL,
				PRIMARY KEY (key, window_start)
			)`,
		}
	},
	// 5: refresh token families. Every transaction that stores or revokes
	// refresh tokens first writes their family's row, so that the two take
	// one row lock and never interleave; revoked (0 or 1) outlives the
	// tokens a revocation deletes, so that a token stored later is
	// refused. expires_at (Unix milliseconds) is when the family and its
	// revocation may be forgotten. Rows are made as families are used, so
	// the families of tokens stored before this version get theirs then.
	func(d Dialect) []string {
		return []string{
			`CREATE TABLE refresh_token_families (
				family_id TEXT PRIMARY KEY NOT NULL,
				revoked INTEGER NOT NULL,
				expires_at BIGINT NOT NULL
			)`,
		}
	},
	// 6: a sign-in attempt records its failure before it checks the
	// password, and forgets it by attempt when the password was right.
	// Failures recorded before this version have none.
	func(d Dialect) []string {
		return []string{`ALTER TABLE login_failures ADD COLUMN attempt TEXT`}
	},
}

// SchemaVersion returns the version of the database's schema, the number
// of migrations applied to it: once Open has succeeded, the latest this
// program knows.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// migrate brings the schema up to date in one transaction, which holds
// off other processes migrating the same database (see Dialect.Lock).
func (s *Store) migrate(ctx context.Context) error {
	return s.serially(ctx, func(tx *Store) error {
		if _, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		current, err := tx.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		if current > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this program knows (%d); upgrade the program", current, len(migrations))
		}
		for v := current + 1; v <= len(migrations); v++ {
			for _, stmt := range migrations[v-1](s.d) {
				if _, err := tx.exec(ctx, stmt); err != nil {
					return fmt.Errorf("migrate to version %d: %w", v, err)
				}
			}
			if _, err := tx.exec(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
				return fmt.Errorf("record schema version %d: %w", v, err)
			}
		}
		return nil
	})
}
