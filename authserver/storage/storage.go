// Package storage defines what the authorization server keeps and the
// contract every backend meets. Backends live in subpackages (sqlite, and
// any database/sql engine through sqlstore); storetest checks a backend
// against the contract.
package storage

import (
	"context"
	"errors"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/keys"
)

// Errors every backend returns (possibly wrapped); test with errors.Is.
var (
	// ErrNotFound: no object with that key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key is taken (a client_id, an API identifier,
	// or a grant for the same client, audience and subject type).
	ErrConflict = errors.New("conflict")
)

// Page selects part of a list: Page is zero-based, PerPage > 0.
type Page struct {
	Page    int
	PerPage int
}

// GrantFilter narrows ListClientGrants; empty fields match everything.
type GrantFilter struct {
	ClientID    string
	Audience    string
	SubjectType access.SubjectType
}

// Store is a backend. Every method is atomic on its own; Atomically groups
// several. Objects returned are the caller's to modify.
type Store interface {
	CreateClient(ctx context.Context, c *clients.Client) error
	Client(ctx context.Context, clientID string) (*clients.Client, error)
	// ListClients returns one page and the total number of clients.
	ListClients(ctx context.Context, p Page) ([]*clients.Client, int, error)
	UpdateClient(ctx context.Context, c *clients.Client) error
	// DeleteClient deletes the client and its client grants.
	DeleteClient(ctx context.Context, clientID string) error

	CreateResourceServer(ctx context.Context, rs *access.ResourceServer) error
	ResourceServer(ctx context.Context, id string) (*access.ResourceServer, error)
	ResourceServerByIdentifier(ctx context.Context, identifier string) (*access.ResourceServer, error)
	ListResourceServers(ctx context.Context, p Page) ([]*access.ResourceServer, int, error)
	// UpdateResourceServer replaces the API; its identifier never changes.
	UpdateResourceServer(ctx context.Context, rs *access.ResourceServer) error
	// DeleteResourceServer deletes the API and every client grant for it.
	DeleteResourceServer(ctx context.Context, id string) error

	CreateClientGrant(ctx context.Context, g *access.ClientGrant) error
	ClientGrant(ctx context.Context, id string) (*access.ClientGrant, error)
	// FindClientGrant returns the grant of clientID for audience and
	// subject type, or ErrNotFound.
	FindClientGrant(ctx context.Context, clientID, audience string, subject access.SubjectType) (*access.ClientGrant, error)
	ListClientGrants(ctx context.Context, f GrantFilter, p Page) ([]*access.ClientGrant, int, error)
	// UpdateClientGrant replaces the grant; client, audience and subject
	// type never change.
	UpdateClientGrant(ctx context.Context, g *access.ClientGrant) error
	DeleteClientGrant(ctx context.Context, id string) error

	// SigningKeys returns every stored signing key, revoked ones included.
	SigningKeys(ctx context.Context) ([]keys.SigningKey, error)
	// SaveSigningKeys inserts or replaces the given keys, all or none.
	SaveSigningKeys(ctx context.Context, ks []keys.SigningKey) error

	// InstallationSecret returns the secret stored under name, first
	// storing generate() if there is none. Concurrent callers get the same
	// value.
	InstallationSecret(ctx context.Context, name string, generate func() []byte) ([]byte, error)

	// Atomically runs fn with a Store whose changes are committed together
	// when fn returns nil and discarded otherwise.
	Atomically(ctx context.Context, fn func(tx Store) error) error

	// Close releases the backend.
	Close() error
}
