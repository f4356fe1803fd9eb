// Package sqlite keeps the authorization server's data in a SQLite database
// file, through the pure-Go driver modernc.org/sqlite (no cgo needed).
//
// The database runs in WAL mode, so reads never wait for writes. Every
// transaction takes the write lock when it begins, which makes
// storage.Store.Atomically serializable: two servers sharing the file, or
// two requests in one server, never interleave inside it. A writer waits up
// to 5 seconds for the lock before failing.
//
// Of Portcullis it imports storage and sqlstore.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlstore"
)

// Open opens the database file at path, creating it (mode 0600, since it
// holds private keys and secret hashes) and its parent directory (mode
// 0700) if they do not exist, and brings its schema up to date. Only files
// are supported: ":memory:" is refused.
func Open(path string) (storage.Store, error) {
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("open sqlite database: need a file path, not %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	// Create the file ourselves so that it is private; SQLite would create
	// it readable by everyone (less the umask). Its -wal and -shm files
	// take the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	dsn, err := dataSourceName(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	s, err := sqlstore.Open(context.Background(), db, dialect)
	if err != nil {
		_ = db.Close() // the error that matters is Open's
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	return s, nil
}

// dataSourceName is the driver's name for the file at path: a file: URI
// (so that any character may appear in the path) with the connection
// settings as parameters the driver applies to every connection.
func dataSourceName(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String(), nil
}

var dialect = sqlstore.Dialect{
	Placeholder: sqlstore.QuestionMark,
	BlobType:    "BLOB",
	IsUniqueViolation: func(err error) bool {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		// The driver turns on extended result codes.
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	},
}
