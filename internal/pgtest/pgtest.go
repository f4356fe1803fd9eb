// Package pgtest gives tests a PostgreSQL schema of their own, in the
// database that the environment variable PORTCULLIS_TEST_POSTGRES names
// (a DSN such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable).
//
// Without that variable the tests that need PostgreSQL are skipped, except
// when CI is "true": there they fail, so that CI cannot pass without them.
// With go test -short they are skipped always.
//
// It imports nothing of Portcullis.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// EnvVar names the environment variable that holds the test database's
// DSN.
const EnvVar = "PORTCULLIS_TEST_POSTGRES"

// DSN creates a new, empty schema in the test database and returns a DSN
// whose search_path is that schema; the schema and everything in it are
// dropped when the test ends. Without a test database it skips the test,
// or fails it when CI is "true".
func DSN(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL; skipped with -short")
	}
	base := os.Getenv(EnvVar)
	if base == "" {
		const msg = EnvVar + " is not set to a PostgreSQL DSN such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI must run the PostgreSQL tests")
		}
		t.Skip(msg)
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	schema := "portcullis_test_" + strings.ToLower(rand.Text())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		db.Close()
		t.Fatalf("creating a test schema in the database of %s: %v", EnvVar, err)
	}
	t.Cleanup(func() {
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
		}
	})
	dsn, err := withSearchPath(base, schema)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	return dsn
}

// withSearchPath adds the run-time parameter search_path=schema to dsn, a
// URL or keyword=value pairs.
func withSearchPath(dsn, schema string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("not a valid URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
