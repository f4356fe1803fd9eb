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
}

// migrate brings the schema up to date in one transaction.
func (s *Store) migrate(ctx context.Context) error {
	return s.atomically(ctx, func(tx *Store) error {
		if _, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
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
