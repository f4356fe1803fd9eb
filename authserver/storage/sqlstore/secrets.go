package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// SigningKeys returns every stored signing key, revoked ones included,
// ordered by kid.
func (s *Store) SigningKeys(ctx context.Context) ([]keys.SigningKey, error) {
	rows, err := s.query(ctx, `SELECT doc FROM signing_keys ORDER BY kid`)
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	defer rows.Close()
	out := []keys.SigningKey{}
	for rows.Next() {
		k, err := scanDoc[keys.SigningKey](rows)
		if err != nil {
			return nil, fmt.Errorf("read signing keys: %w", err)
		}
		out = append(out, *k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	return out, nil
}

// SaveSigningKeys stores ks, replacing stored keys with the same kid, all
// in one transaction: on error none is saved.
func (s *Store) SaveSigningKeys(ctx context.Context, ks []keys.SigningKey) error {
	docs := make([]string, len(ks))
	for i, k := range ks {
		doc, err := json.Marshal(k)
		if err != nil {
			return fmt.Errorf("save signing key %q: encode: %w", k.KID, err)
		}
		docs[i] = string(doc)
	}
	return s.atomically(ctx, func(tx *Store) error {
		for i, k := range ks {
			_, err := tx.exec(ctx, `INSERT INTO signing_keys (kid, doc) VALUES (?, ?)
				ON CONFLICT (kid) DO UPDATE SET doc = excluded.doc`, k.KID, docs[i])
			if err != nil {
				return fmt.Errorf("save signing key %q: %w", k.KID, err)
			}
		}
		return nil
	})
}

// InstallationSecret returns the secret stored under name, first storing
// generate() if there is none. When several callers, in this process or
// others, race to create it, one value wins and every caller gets it.
// generate must return a non-empty value.
func (s *Store) InstallationSecret(ctx context.Context, name string, generate func() []byte) ([]byte, error) {
	const read = `SELECT value FROM installation_secrets WHERE name = ?`
	var v []byte
	err := s.queryRow(ctx, read, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("installation secret %q: %w", name, err)
	}
	fresh := generate()
	if len(fresh) == 0 {
		return nil, fmt.Errorf("installation secret %q: generate returned an empty secret", name)
	}
	// Whoever inserts first wins; everyone then reads the winner.
	_, err = s.exec(ctx, `INSERT INTO installation_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, fresh)
	if err != nil {
		return nil, fmt.Errorf("installation secret %q: store: %w", name, err)
	}
	if err := s.queryRow(ctx, read, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("installation secret %q: %w", name, err)
	}
	return v, nil
}

// ReplaceInstallationSecret stores value as the existing secret name, or
// returns storage.ErrNotFound.
func (s *Store) ReplaceInstallationSecret(ctx context.Context, name string, value []byte) error {
	if len(value) == 0 {
		return fmt.Errorf("installation secret %q: the replacement is empty", name)
	}
	err := s.execOne(ctx, `UPDATE installation_secrets SET value = ? WHERE name = ?`, value, name)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("installation secret %q: replace: %w", name, err)
	}
	return err
}
