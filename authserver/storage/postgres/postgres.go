// Package postgres keeps the authorization server's data in a PostgreSQL
// database (version 12 or later), through pgx's database/sql driver.
//
// Several gateway processes may share one database. Each migrates the
// schema when it opens the database; the migrations hold a
// transaction-level advisory lock, so processes starting at once apply them
// one after the other. The same lock makes storage.Store.Atomically run its
// functions one at a time across every process; the store's other
// operations run at PostgreSQL's default isolation level, read committed,
// which suffices for them (see package sqlstore).
//
// The tables are created in the first schema of the connection's
// search_path (public, unless the DSN sets search_path).
//
// Of Portcullis it imports storage and sqlstore.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlstore"
)

// Connection pool settings, for one gateway process: a few connections
// serve many requests, since every operation is short.
const (
	maxOpenConns    = 10
	maxIdleConns    = 5
	connMaxLifetime = 30 * time.Minute
	connMaxIdleTime = 5 * time.Minute
)

// lockKey is the advisory lock (an arbitrary 64-bit number, "portcull" in
// ASCII) that migrations and Atomically hold for their transaction. It is
// database-wide: stores in different schemas of one database share it.
const lockKey = 0x706f727463756c6c

// uniqueViolation is PostgreSQL's SQLSTATE unique_violation.
const uniqueViolation = "23505"

// Open connects to the database that dsn names, a libpq connection string
// either as a URL (postgres://user:password@host:5432/database?sslmode=verify-full)
// or as keyword=value pairs (host=... dbname=...), and brings its schema up
// to date. Errors name the host and the database, never the password.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres database: %w", err)
	}
	db := sql.OpenDB(unavailableOnFailure{stdlib.GetConnector(*cfg)})
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxLifetime(connMaxLifetime)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	s, err := sqlstore.Open(ctx, db, dialect)
	if err != nil {
		_ = db.Close() // the error that matters is Open's
		return nil, fmt.Errorf("open postgres database %s: %w", Describe(cfg), err)
	}
	return s, nil
}

// unavailableOnFailure marks the connections that cannot be made with
// storage.ErrUnavailable: every operation needs one, so an unreachable
// server surfaces through it (database/sql retries an operation whose
// pooled connection broke on a fresh one).
type unavailableOnFailure struct{ driver.Connector }

func (c unavailableOnFailure) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return conn, nil
}

// ParseDSN parses dsn as Open does. Its error quotes dsn with the password
// masked.
func ParseDSN(dsn string) (*pgx.ConnConfig, error) {
	if dsn == "" {
		return nil, errors.New("the DSN is empty")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes dsn with the password masked.
		return nil, fmt.Errorf("invalid DSN: %w", err)
	}
	return cfg, nil
}

// Describe names the host, port and database of cfg, for messages and logs.
func Describe(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%q on %s:%d", cfg.Database, cfg.Host, cfg.Port)
}

var dialect = sqlstore.Dialect{
	Placeholder: sqlstore.DollarNumber,
	BlobType:    "BYTEA",
	IsUniqueViolation: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == uniqueViolation
	},
	Lock:     fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(lockKey)),
	LockRows: " FOR UPDATE",
}
