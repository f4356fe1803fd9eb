// Package sqlstore implements storage.Store on database/sql, for any engine
// described by a Dialect. Each object is kept as a JSON document beside the
// columns it is looked up by; the schema is created and upgraded by
// versioned migrations when the store is opened.
//
// Operations that take several statements (deleting a client with its
// grants, say) run in one transaction, at the engine's default isolation
// level (read committed on PostgreSQL), which is enough for them: using an
// authorization code or a refresh token is a conditional UPDATE, creating
// an installation secret an INSERT that does nothing when another process
// got there first, counting a hit one upsert, and storing or revoking the
// refresh tokens of a family first locks the family's row (an upsert), so
// that a token is never stored while its family is revoked. Atomically's
// functions, which read and then write whatever their caller chooses, run
// one at a time, across every process sharing the database: on SQLite
// because its immediate transactions lock the database when they begin, on
// other engines because each such transaction first runs the Dialect's
// Lock.
//
// Of Portcullis it imports storage and the model packages.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// Store is a storage.Store on a *sql.DB. Create one with Open.
type Store struct {
	db *sql.DB
	tx *sql.Tx // the transaction of Atomically; nil outside it
	d  Dialect
}

var _ storage.Store = (*Store)(nil)

// Open returns a Store on db, first creating the schema or upgrading it to
// the current version. The Store owns db from then on: Close closes it. If
// Open fails, db is left open for the caller to close.
func Open(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	s := &Store{db: db, d: d}
	if err := s.migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate database schema: %w", err)
	}
	return s, nil
}

// Close closes the database. It must not be called on the Store passed to
// an Atomically function.
func (s *Store) Close() error {
	if s.tx != nil {
		return errors.New("close: called inside Atomically")
	}
	return s.db.Close()
}

// Atomically runs fn with a Store bound to one transaction, committed when
// fn returns nil and rolled back when it returns an error or panics. fn's
// error is returned as it is. Called on the Store of an enclosing
// Atomically, it runs fn in that same transaction, which commits or rolls
// back only as a whole.
func (s *Store) Atomically(ctx context.Context, fn func(tx storage.Store) error) error {
	return s.serially(ctx, func(tx *Store) error { return fn(tx) })
}

// serially is atomically, but its transaction first runs the dialect's
// Lock, so that such transactions run one at a time.
func (s *Store) serially(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil || s.d.Lock == "" {
		return s.atomically(ctx, fn)
	}
	return s.atomically(ctx, func(tx *Store) error {
		if _, err := tx.exec(ctx, s.d.Lock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		return fn(tx)
	})
}

func (s *Store) atomically(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	// Undoes everything when fn fails or panics; after a commit it does
	// nothing. Its own error adds nothing to the one returned or raised.
	defer func() { _ = tx.Rollback() }()
	if err := fn(&Store{db: s.db, tx: tx, d: s.d}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) q() querier {
	if s.tx != nil {
		return s.tx
	}
	return s.db
}

func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.q().ExecContext(ctx, s.d.rebind(query), args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.q().QueryContext(ctx, s.d.rebind(query), args...)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.q().QueryRowContext(ctx, s.d.rebind(query), args...)
}

// insert runs an INSERT and reports a taken key as storage.ErrConflict.
func (s *Store) insert(ctx context.Context, query string, args ...any) error {
	_, err := s.exec(ctx, query, args...)
	if err != nil && s.d.IsUniqueViolation(err) {
		return storage.ErrConflict
	}
	return err
}

// execOne runs an UPDATE or DELETE of one row by key and reports a missing
// row as storage.ErrNotFound.
func (s *Store) execOne(ctx context.Context, query string, args ...any) error {
	res, err := s.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// notFound turns sql.ErrNoRows into storage.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// list returns one page of the rows of table matching where (a WHERE
// clause or ""), ordered by key, and the number of matching rows; with
// p.From, only the rows whose key is p.From or after it. When match or
// compare is set, every such row is read and filtered (match) and ordered
// (compare, then key) here rather than by the database.
func list[T any](ctx context.Context, s *Store, p storage.Page, table, cols, key, where string, args []any, scan func(rowScanner) (T, error), match func(T) bool, compare func(a, b T) int) ([]T, int, error) {
	if p.PerPage <= 0 || p.Page < 0 || (p.From != "" && p.Page != 0) {
		return nil, 0, fmt.Errorf("invalid page %d of %d per page from %q", p.Page, p.PerPage, p.From)
	}
	if p.From != "" && strings.Contains(key, ",") {
		return nil, 0, fmt.Errorf("a list ordered by %s has no checkpoints", key)
	}
	if p.From != "" && compare != nil {
		return nil, 0, fmt.Errorf("a list from %q cannot be ordered otherwise than by %s", p.From, key)
	}
	if p.From != "" {
		if where == "" {
			where = " WHERE "
		} else {
			where += " AND "
		}
		where += key + " >= ?"
		args = append(args[:len(args):len(args)], p.From)
	}
	if match != nil || compare != nil {
		all, err := scanAll(ctx, s, `SELECT `+cols+` FROM `+table+where+` ORDER BY `+key, args, scan)
		if err != nil {
			return nil, 0, err
		}
		if match != nil {
			all = slices.DeleteFunc(all, func(v T) bool { return !match(v) })
		}
		if compare != nil {
			slices.SortStableFunc(all, compare)
		}
		start := min(p.Offset(), len(all))
		return all[start : start+min(p.PerPage, len(all)-start)], len(all), nil
	}
	var total int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM `+table+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count: %w", err)
	}
	pageArgs := append(args[:len(args):len(args)], p.PerPage, p.Offset())
	out, err := scanAll(ctx, s, `SELECT `+cols+` FROM `+table+where+` ORDER BY `+key+` LIMIT ? OFFSET ?`, pageArgs, scan)
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// scanAll runs query and scans every row it returns.
func scanAll[T any](ctx context.Context, s *Store, query string, args []any, scan func(rowScanner) (T, error)) ([]T, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
