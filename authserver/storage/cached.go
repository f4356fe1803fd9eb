package storage

import (
	"context"
	"errors"
	"sync"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// Cached wraps a Store with an in-memory cache of the three lookups the
// token endpoint makes on every request: a client by id, an API by
// identifier, and a client grant by (client, audience, subject type),
// including the fact that one does not exist. Every write made through the
// returned Store but a sign-in's (RecordSignIn) empties the cache, so this
// process never serves a stale object, and records a change
// (Store.MarkChanged) in the same transaction; other processes on the same
// database see it at their next Refresh, which empties their caches.
func Cached(s Store) *CachedStore {
	c := &CachedStore{Store: s, seen: -1}
	c.Invalidate()
	return c
}

// Refresh reads the store's change version and empties the cache when
// another process (or this one) changed something since the last Refresh.
// It reports whether it did. A failed read leaves the cache as it is.
func (c *CachedStore) Refresh(ctx context.Context) (bool, error) {
	v, err := c.Store.ChangeVersion(ctx)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	changed := v != c.seen
	c.seen = v
	c.mu.Unlock()
	if changed {
		c.Invalidate()
	}
	return changed, nil
}

// CachedStore is the Store returned by Cached.
type CachedStore struct {
	Store

	mu  sync.RWMutex
	gen uint64 // counts invalidations, so a slow load cannot cache a stale value
	// seen is the change version the cache holds objects of; -1 before
	// the first Refresh.
	seen    int64
	clients map[string]*clients.Client
	apis    map[string]*access.ResourceServer
	grants  map[grantKey]*access.ClientGrant
}

type grantKey struct {
	clientID, audience string
	subject            access.SubjectType
}

// Invalidate empties the cache.
func (c *CachedStore) Invalidate() {
	c.mu.Lock()
	c.gen++
	c.clients = make(map[string]*clients.Client)
	c.apis = make(map[string]*access.ResourceServer)
	c.grants = make(map[grantKey]*access.ClientGrant)
	c.mu.Unlock()
}

// Generation counts the times the cache was emptied, so that a caller may
// keep something derived from the store's objects and rebuild it when the
// number changes.
func (c *CachedStore) Generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// cachedLookup returns a clone of the cached value for key, or loads it.
// A nil value in the map records that the object does not exist.
func cachedLookup[K comparable, V interface{ Clone() V }](c *CachedStore, m func() map[K]V, key K, load func() (V, error)) (V, error) {
	var zero V
	c.mu.RLock()
	v, ok := m()[key]
	gen := c.gen
	c.mu.RUnlock()
	if !ok {
		var err error
		v, err = load()
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return zero, err
		}
		c.mu.Lock()
		if c.gen == gen {
			m()[key] = v
		}
		c.mu.Unlock()
		if err != nil {
			return zero, err
		}
	}
	if any(v) == any(zero) {
		return zero, ErrNotFound
	}
	return v.Clone(), nil
}

// Client returns the client, from the cache when it can.
func (c *CachedStore) Client(ctx context.Context, id string) (*clients.Client, error) {
	return cachedLookup(c, func() map[string]*clients.Client { return c.clients }, id,
		func() (*clients.Client, error) { return c.Store.Client(ctx, id) })
}

// ResourceServerByIdentifier returns the API, from the cache when it can.
func (c *CachedStore) ResourceServerByIdentifier(ctx context.Context, identifier string) (*access.ResourceServer, error) {
	return cachedLookup(c, func() map[string]*access.ResourceServer { return c.apis }, identifier,
		func() (*access.ResourceServer, error) { return c.Store.ResourceServerByIdentifier(ctx, identifier) })
}

// FindClientGrant returns the grant, from the cache when it can.
func (c *CachedStore) FindClientGrant(ctx context.Context, clientID, audience string, subject access.SubjectType) (*access.ClientGrant, error) {
	return cachedLookup(c, func() map[grantKey]*access.ClientGrant { return c.grants }, grantKey{clientID, audience, subject},
		func() (*access.ClientGrant, error) {
			return c.Store.FindClientGrant(ctx, clientID, audience, subject)
		})
}

// write runs a write on the wrapped store in one transaction with
// MarkChanged, then empties the cache, whatever the outcome: a failed
// commit may still have reached the database.
func (c *CachedStore) write(ctx context.Context, fn func(tx Store) error) error {
	err := c.Store.Atomically(ctx, func(tx Store) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.MarkChanged(ctx)
	})
	c.Invalidate()
	return err
}

// The writes: each goes to the wrapped store with a recorded change, then
// empties the cache.

func (c *CachedStore) CreateClient(ctx context.Context, cl *clients.Client) error {
	return c.write(ctx, func(tx Store) error { return tx.CreateClient(ctx, cl) })
}

func (c *CachedStore) UpdateClient(ctx context.Context, cl *clients.Client) error {
	return c.write(ctx, func(tx Store) error { return tx.UpdateClient(ctx, cl) })
}

func (c *CachedStore) DeleteClient(ctx context.Context, id string) error {
	return c.write(ctx, func(tx Store) error { return tx.DeleteClient(ctx, id) })
}

func (c *CachedStore) CreateResourceServer(ctx context.Context, rs *access.ResourceServer) error {
	return c.write(ctx, func(tx Store) error { return tx.CreateResourceServer(ctx, rs) })
}

func (c *CachedStore) UpdateResourceServer(ctx context.Context, rs *access.ResourceServer) error {
	return c.write(ctx, func(tx Store) error { return tx.UpdateResourceServer(ctx, rs) })
}

func (c *CachedStore) DeleteResourceServer(ctx context.Context, id string) error {
	return c.write(ctx, func(tx Store) error { return tx.DeleteResourceServer(ctx, id) })
}

func (c *CachedStore) CreateClientGrant(ctx context.Context, g *access.ClientGrant) error {
	return c.write(ctx, func(tx Store) error { return tx.CreateClientGrant(ctx, g) })
}

func (c *CachedStore) UpdateClientGrant(ctx context.Context, g *access.ClientGrant) error {
	return c.write(ctx, func(tx Store) error { return tx.UpdateClientGrant(ctx, g) })
}

func (c *CachedStore) DeleteClientGrant(ctx context.Context, id string) error {
	return c.write(ctx, func(tx Store) error { return tx.DeleteClientGrant(ctx, id) })
}

func (c *CachedStore) SaveSigningKeys(ctx context.Context, ks []keys.SigningKey) error {
	return c.write(ctx, func(tx Store) error { return tx.SaveSigningKeys(ctx, ks) })
}

func (c *CachedStore) ReplaceInstallationSecret(ctx context.Context, name string, value []byte) error {
	return c.write(ctx, func(tx Store) error { return tx.ReplaceInstallationSecret(ctx, name, value) })
}

// Users, roles and their permissions are not cached, but their writes
// empty the cache all the same: every write does, so that no cached lookup
// ever depends on reasoning about which writes could change it. The one
// exception is RecordSignIn, left to the wrapped store: it writes only a
// user's sign-in record, and sign-ins are too frequent to empty the caches
// of every process.

func (c *CachedStore) CreateUser(ctx context.Context, u *users.User) error {
	return c.write(ctx, func(tx Store) error { return tx.CreateUser(ctx, u) })
}

func (c *CachedStore) UpdateUser(ctx context.Context, u *users.User) error {
	return c.write(ctx, func(tx Store) error { return tx.UpdateUser(ctx, u) })
}

func (c *CachedStore) DeleteUser(ctx context.Context, userID string) error {
	return c.write(ctx, func(tx Store) error { return tx.DeleteUser(ctx, userID) })
}

func (c *CachedStore) CreateRole(ctx context.Context, r *users.Role) error {
	return c.write(ctx, func(tx Store) error { return tx.CreateRole(ctx, r) })
}

func (c *CachedStore) UpdateRole(ctx context.Context, r *users.Role) error {
	return c.write(ctx, func(tx Store) error { return tx.UpdateRole(ctx, r) })
}

func (c *CachedStore) DeleteRole(ctx context.Context, id string) error {
	return c.write(ctx, func(tx Store) error { return tx.DeleteRole(ctx, id) })
}

func (c *CachedStore) AddRolePermissions(ctx context.Context, roleID string, ps []users.Permission) error {
	return c.write(ctx, func(tx Store) error { return tx.AddRolePermissions(ctx, roleID, ps) })
}

func (c *CachedStore) RemoveRolePermissions(ctx context.Context, roleID string, ps []users.Permission) error {
	return c.write(ctx, func(tx Store) error { return tx.RemoveRolePermissions(ctx, roleID, ps) })
}

func (c *CachedStore) AssignUserRoles(ctx context.Context, userID string, roleIDs []string) error {
	return c.write(ctx, func(tx Store) error { return tx.AssignUserRoles(ctx, userID, roleIDs) })
}

func (c *CachedStore) RemoveUserRoles(ctx context.Context, userID string, roleIDs []string) error {
	return c.write(ctx, func(tx Store) error { return tx.RemoveUserRoles(ctx, userID, roleIDs) })
}

func (c *CachedStore) AddUserPermissions(ctx context.Context, userID string, ps []users.Permission) error {
	return c.write(ctx, func(tx Store) error { return tx.AddUserPermissions(ctx, userID, ps) })
}

func (c *CachedStore) RemoveUserPermissions(ctx context.Context, userID string, ps []users.Permission) error {
	return c.write(ctx, func(tx Store) error { return tx.RemoveUserPermissions(ctx, userID, ps) })
}

// Atomically runs fn on the wrapped store's transaction, with a recorded
// change, then empties the cache.
func (c *CachedStore) Atomically(ctx context.Context, fn func(tx Store) error) error {
	return c.write(ctx, fn)
}
