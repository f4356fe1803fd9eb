package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// CreateResourceServer stores a new API; a taken id or identifier is
// storage.ErrConflict.
func (s *Store) CreateResourceServer(ctx context.Context, rs *access.ResourceServer) error {
	doc, err := json.Marshal(rs)
	if err != nil {
		return fmt.Errorf("create resource server %q: encode: %w", rs.Identifier, err)
	}
	err = s.insert(ctx, `INSERT INTO resource_servers (id, identifier, doc) VALUES (?, ?, ?)`,
		rs.ID, rs.Identifier, string(doc))
	if err != nil {
		return fmt.Errorf("create resource server %q: %w", rs.Identifier, err)
	}
	return nil
}

// ResourceServer returns the API with id, or storage.ErrNotFound.
func (s *Store) ResourceServer(ctx context.Context, id string) (*access.ResourceServer, error) {
	rs, err := scanDoc[access.ResourceServer](s.queryRow(ctx, `SELECT doc FROM resource_servers WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("resource server %q: %w", id, notFound(err))
	}
	return rs, nil
}

// ResourceServerByIdentifier returns the API whose identifier (audience) is
// identifier, compared byte for byte, or storage.ErrNotFound.
func (s *Store) ResourceServerByIdentifier(ctx context.Context, identifier string) (*access.ResourceServer, error) {
	rs, err := scanDoc[access.ResourceServer](s.queryRow(ctx, `SELECT doc FROM resource_servers WHERE identifier = ?`, identifier))
	if err != nil {
		return nil, fmt.Errorf("resource server with identifier %q: %w", identifier, notFound(err))
	}
	return rs, nil
}

// ListResourceServers returns one page of APIs ordered by id, and the
// number of APIs.
func (s *Store) ListResourceServers(ctx context.Context, p storage.Page) ([]*access.ResourceServer, int, error) {
	out, total, err := list(ctx, s, p, "resource_servers", "doc", "id", "", nil, scanDoc[access.ResourceServer], nil, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("list resource servers: %w", err)
	}
	return out, total, nil
}

// UpdateResourceServer replaces the API with rs.ID, keeping the identifier
// it was created with: a different rs.Identifier is not stored (rs itself
// is left as it is). A missing API is storage.ErrNotFound.
func (s *Store) UpdateResourceServer(ctx context.Context, rs *access.ResourceServer) error {
	err := s.atomically(ctx, func(tx *Store) error {
		var identifier string
		if err := tx.queryRow(ctx, `SELECT identifier FROM resource_servers WHERE id = ?`, rs.ID).Scan(&identifier); err != nil {
			return notFound(err)
		}
		kept := rs.Clone()
		kept.Identifier = identifier
		doc, err := json.Marshal(kept)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		return tx.execOne(ctx, `UPDATE resource_servers SET doc = ? WHERE id = ?`, string(doc), rs.ID)
	})
	if err != nil {
		return fmt.Errorf("update resource server %q: %w", rs.ID, err)
	}
	return nil
}

// DeleteResourceServer deletes the API, every client grant whose audience
// is its identifier and every permission of it assigned to roles or users,
// together; a missing API is storage.ErrNotFound.
func (s *Store) DeleteResourceServer(ctx context.Context, id string) error {
	err := s.atomically(ctx, func(tx *Store) error {
		var identifier string
		if err := tx.queryRow(ctx, `SELECT identifier FROM resource_servers WHERE id = ?`, id).Scan(&identifier); err != nil {
			return notFound(err)
		}
		if err := tx.execOne(ctx, `DELETE FROM resource_servers WHERE id = ?`, id); err != nil {
			return err
		}
		for _, table := range []string{"client_grants", "role_permissions", "user_permissions"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+table+` WHERE audience = ?`, identifier); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete resource server %q: %w", id, err)
	}
	return nil
}

// CreateClientGrant stores a new client grant; a taken id, or an existing
// grant for the same client, audience and subject type, is
// storage.ErrConflict. The client and the API are not checked.
func (s *Store) CreateClientGrant(ctx context.Context, g *access.ClientGrant) error {
	doc, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("create client grant %q: encode: %w", g.ID, err)
	}
	err = s.insert(ctx, `INSERT INTO client_grants (id, client_id, audience, subject_type, doc) VALUES (?, ?, ?, ?, ?)`,
		g.ID, g.ClientID, g.Audience, string(g.SubjectType), string(doc))
	if err != nil {
		return fmt.Errorf("create client grant %q: %w", g.ID, err)
	}
	return nil
}

// ClientGrant returns the client grant with id, or storage.ErrNotFound.
func (s *Store) ClientGrant(ctx context.Context, id string) (*access.ClientGrant, error) {
	g, err := scanDoc[access.ClientGrant](s.queryRow(ctx, `SELECT doc FROM client_grants WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("client grant %q: %w", id, notFound(err))
	}
	return g, nil
}

// FindClientGrant returns the grant of clientID for audience and subject
// type, or storage.ErrNotFound.
func (s *Store) FindClientGrant(ctx context.Context, clientID, audience string, subject access.SubjectType) (*access.ClientGrant, error) {
	g, err := scanDoc[access.ClientGrant](s.queryRow(ctx,
		`SELECT doc FROM client_grants WHERE client_id = ? AND audience = ? AND subject_type = ?`,
		clientID, audience, string(subject)))
	if err != nil {
		return nil, fmt.Errorf("client grant of %q for %q (%s): %w", clientID, audience, subject, notFound(err))
	}
	return g, nil
}

// ListClientGrants returns one page of the client grants matching every
// non-empty field of f, ordered by id, and the number of matching grants.
func (s *Store) ListClientGrants(ctx context.Context, f storage.GrantFilter, p storage.Page) ([]*access.ClientGrant, int, error) {
	where := ""
	var args []any
	for _, c := range []struct{ col, val string }{
		{"client_id", f.ClientID},
		{"audience", f.Audience},
		{"subject_type", string(f.SubjectType)},
	} {
		if c.val == "" {
			continue
		}
		if where == "" {
			where = " WHERE "
		} else {
			where += " AND "
		}
		where += c.col + " = ?"
		args = append(args, c.val)
	}
	out, total, err := list(ctx, s, p, "client_grants", "doc", "id", where, args, scanDoc[access.ClientGrant], nil, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("list client grants: %w", err)
	}
	return out, total, nil
}

// UpdateClientGrant replaces the grant with g.ID, keeping the client,
// audience and subject type it was created with: different values in g are
// not stored (g itself is left as it is). A missing grant is
// storage.ErrNotFound.
func (s *Store) UpdateClientGrant(ctx context.Context, g *access.ClientGrant) error {
	err := s.atomically(ctx, func(tx *Store) error {
		kept := g.Clone()
		var subject string
		err := tx.queryRow(ctx, `SELECT client_id, audience, subject_type FROM client_grants WHERE id = ?`, g.ID).
			Scan(&kept.ClientID, &kept.Audience, &subject)
		if err != nil {
			return notFound(err)
		}
		kept.SubjectType = access.SubjectType(subject)
		doc, err := json.Marshal(kept)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		return tx.execOne(ctx, `UPDATE client_grants SET doc = ? WHERE id = ?`, string(doc), g.ID)
	})
	if err != nil {
		return fmt.Errorf("update client grant %q: %w", g.ID, err)
	}
	return nil
}

// DeleteClientGrant deletes the grant with id; a missing grant is
// storage.ErrNotFound.
func (s *Store) DeleteClientGrant(ctx context.Context, id string) error {
	if err := s.execOne(ctx, `DELETE FROM client_grants WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete client grant %q: %w", id, err)
	}
	return nil
}

// scanDoc reads a row holding one JSON document column.
func scanDoc[T any](r rowScanner) (*T, error) {
	var doc []byte
	if err := r.Scan(&doc); err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(doc, v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return v, nil
}
