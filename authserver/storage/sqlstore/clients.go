package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// CreateClient stores a new client; a taken client_id is
// storage.ErrConflict.
func (s *Store) CreateClient(ctx context.Context, c *clients.Client) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("create client %q: encode: %w", c.ClientID, err)
	}
	err = s.insert(ctx, `INSERT INTO clients (client_id, secret_hash, doc) VALUES (?, ?, ?)`,
		c.ClientID, secretHash(c.SecretHash), string(doc))
	if err != nil {
		return fmt.Errorf("create client %q: %w", c.ClientID, err)
	}
	return nil
}

// Client returns the client with clientID, or storage.ErrNotFound.
func (s *Store) Client(ctx context.Context, clientID string) (*clients.Client, error) {
	c, err := scanClient(s.queryRow(ctx, `SELECT secret_hash, doc FROM clients WHERE client_id = ?`, clientID))
	if err != nil {
		return nil, fmt.Errorf("client %q: %w", clientID, notFound(err))
	}
	return c, nil
}

// ListClients returns one page of the clients f matches, ordered by
// client_id, and their number. A filter is applied as the clients are
// read, not by the database.
func (s *Store) ListClients(ctx context.Context, f storage.ClientFilter, p storage.Page) ([]*clients.Client, int, error) {
	var match func(*clients.Client) bool
	if !f.IsZero() {
		match = f.Matches
	}
	out, total, err := list(ctx, s, p, "clients", "secret_hash, doc", "client_id", "", nil, scanClient, match, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("list clients: %w", err)
	}
	return out, total, nil
}

// UpdateClient replaces the client with c.ClientID, secret hash included;
// a missing client is storage.ErrNotFound.
func (s *Store) UpdateClient(ctx context.Context, c *clients.Client) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("update client %q: encode: %w", c.ClientID, err)
	}
	err = s.execOne(ctx, `UPDATE clients SET secret_hash = ?, doc = ? WHERE client_id = ?`,
		secretHash(c.SecretHash), string(doc), c.ClientID)
	if err != nil {
		return fmt.Errorf("update client %q: %w", c.ClientID, err)
	}
	return nil
}

// DeleteClient deletes the client with its client grants, codes, refresh
// tokens and consents, together; a missing client is storage.ErrNotFound.
func (s *Store) DeleteClient(ctx context.Context, clientID string) error {
	err := s.atomically(ctx, func(tx *Store) error {
		if err := tx.execOne(ctx, `DELETE FROM clients WHERE client_id = ?`, clientID); err != nil {
			return err
		}
		for _, table := range []string{"client_grants", "authorization_codes", "refresh_tokens", "consents"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+table+` WHERE client_id = ?`, clientID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete client %q: %w", clientID, err)
	}
	return nil
}

// secretHash stores a public client's empty hash as NULL.
func secretHash(h []byte) any {
	if len(h) == 0 {
		return nil
	}
	return h
}

func scanClient(r rowScanner) (*clients.Client, error) {
	var hash, doc []byte
	if err := r.Scan(&hash, &doc); err != nil {
		return nil, err
	}
	c := new(clients.Client)
	if err := json.Unmarshal(doc, c); err != nil {
		return nil, fmt.Errorf("decode client: %w", err)
	}
	if len(hash) > 0 {
		c.SecretHash = hash
	}
	return c, nil
}
