package sqlstore

import (
	"errors"
	"strconv"
	"strings"
)

// Placeholder is the way a database engine writes query parameters.
type Placeholder int

// Placeholder styles.
const (
	// QuestionMark writes every parameter as ?, as SQLite and MySQL do.
	QuestionMark Placeholder = iota
	// DollarNumber numbers parameters $1, $2, ..., as PostgreSQL does.
	DollarNumber
)

// Dialect describes what differs between the database engines a Store can
// run on. The schema, the queries and the migrations are shared; a dialect
// only says how to spell parameters and byte-string columns, how to
// recognise a duplicate key and, for engines whose transactions do not lock
// the database, how to make transactions and their reads wait for each
// other.
type Dialect struct {
	// Placeholder is how queries write their parameters.
	Placeholder Placeholder
	// BlobType is the column type for byte strings: BLOB for SQLite, BYTEA
	// for PostgreSQL.
	BlobType string
	// IsUniqueViolation reports whether err, returned by an INSERT or an
	// UPDATE, means the row was refused because a primary key or unique
	// constraint already holds its value. The Store reports such errors as
	// storage.ErrConflict.
	IsUniqueViolation func(err error) bool
	// Lock, when set, is a statement that, run first in a transaction,
	// waits until no other transaction that ran it is open, and holds
	// them off until this one ends: on PostgreSQL, SELECT
	// pg_advisory_xact_lock(key). The Store runs it at the start of the
	// migration transaction and of every Atomically transaction, so that
	// processes starting at once on one database migrate one after the
	// other, and Atomically's functions run one at a time across every
	// process. Engines whose transactions lock the database when they
	// begin (SQLite with immediate transactions) need none.
	Lock string
	// LockRows, when set, is a clause that, appended to a SELECT in a
	// transaction, locks the rows it reads until the transaction ends:
	// FOR UPDATE on PostgreSQL. The Store locks the users that an
	// Atomically function reads, so that no other write to them (a
	// sign-in recorded, say) lands between the function's read and its
	// update. Engines whose transactions lock the database when they begin
	// need none.
	LockRows string
}

func (d Dialect) check() error {
	switch {
	case d.Placeholder != QuestionMark && d.Placeholder != DollarNumber:
		return errors.New("dialect: unknown placeholder style")
	case d.BlobType == "":
		return errors.New("dialect: BlobType is required")
	case d.IsUniqueViolation == nil:
		return errors.New("dialect: IsUniqueViolation is required")
	}
	return nil
}

// rebind rewrites a query written with ? parameters in the dialect's
// placeholder style. The queries of this package hold no ? other than
// parameters.
func (d Dialect) rebind(query string) string {
	if d.Placeholder == QuestionMark {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for _, r := range query {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
