package storage

import (
	"bytes"
	"context"
	"errors"
	"sync"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/keys"
)

// Cached wraps a Store with an in-memory cache of the lookups made on
// every request: a client by id, an API by identifier, a client grant by
// (client, audience, subject type), and a tenant setting by name,
// including the fact that one does not exist. Every write of clients,
// APIs, client grants, signing keys and tenant settings made through the
// returned Store empties the cache, so this process never serves a stale
// object, and records a change (Store.MarkChanged) in the same
// transaction; other processes on the same database see it at their next
// Refresh, which empties their caches and reloads their signing keys.
// Other writes record nothing and leave the caches alone.
func Cached(s Store) *CachedStore {
	c := &CachedStore{Store: s, seen: -1}
	c.Invalidate()
	return c
}

// Refresh reads the store's change version and empties the cache when it
// differs from the version the cache last saw (the first Refresh always
// empties it): another process changed something, or the database was
// restored to an older version. It reports whether it did. A failed read
// leaves the cache as it is.
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
	// settings holds tenant settings by name.
	settings map[string]*document
	// misses counts the not-found lookups held (nil values in the maps).
	misses int
}

// MaxCachedMisses is how many lookups of objects that do not exist the
// cache remembers between two invalidations. Past it, such lookups go to
// the store each time: made-up client ids or audiences in token requests
// cannot grow the cache without bound.
const MaxCachedMisses = 1024

// document is a cached tenant setting.
type document struct{ doc []byte }

func (d *document) Clone() *document { return &document{bytes.Clone(d.doc)} }

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
	c.settings = make(map[string]*document)
	c.misses = 0
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
			put(c, m(), key, v)
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

// put holds v under key, a nil v (not found) only while fewer than
// MaxCachedMisses are held. The caller holds c.mu.
func put[K comparable, V any](c *CachedStore, m map[K]V, key K, v V) {
	if any(v) == any(*new(V)) {
		if c.misses >= MaxCachedMisses {
			return
		}
		if _, held := m[key]; !held {
			c.misses++
		}
	}
	m[key] = v
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

// Setting returns the tenant setting, from the cache when it can.
func (c *CachedStore) Setting(ctx context.Context, name string) ([]byte, error) {
	d, err := cachedLookup(c, func() map[string]*document { return c.settings }, name,
		func() (*document, error) {
			doc, err := c.Store.Setting(ctx, name)
			if err != nil {
				return nil, err
			}
			return &document{doc}, nil
		})
	if err != nil {
		return nil, err
	}
	return d.doc, nil
}

// FindClientGrant returns the grant, from the cache when it can.
func (c *CachedStore) FindClientGrant(ctx context.Context, clientID, audience string, subject access.SubjectType) (*access.ClientGrant, error) {
	return cachedLookup(c, func() map[grantKey]*access.ClientGrant { return c.grants }, grantKey{clientID, audience, subject},
		func() (*access.ClientGrant, error) {
			return c.Store.FindClientGrant(ctx, clientID, audience, subject)
		})
}

// The writes of what the cache holds: each runs in a transaction of
// Atomically, which records the change.

func (c *CachedStore) CreateClient(ctx context.Context, cl *clients.Client) error {
	return c.Atomically(ctx, func(tx Store) error { return tx.CreateClient(ctx, cl) })
}

func (c *CachedStore) UpdateClient(ctx context.Context, cl *clients.Client) error {
	return c.Atomically(ctx, func(tx Store) error { return tx.UpdateClient(ctx, cl) })
}

func (c *CachedStore) DeleteClient(ctx context.Context, id string) error {
	return c.Atomically(ctx, func(tx Store) error { return tx.DeleteClient(ctx, id) })
}

func (c *CachedStore) CreateResourceServer(ctx context.Context, rs *access.ResourceServer) error {
	return c.Atomically(ctx, func(tx Store) error { return tx.CreateResourceServer(ctx, rs) })
}

func (c *CachedStore) UpdateResourceServer(ctx context.Context, rs *access.ResourceServer) error {
	return c.Atomically(ctx, func(tx Store) error { return tx.UpdateResourceServer(ctx, rs) })
}

func (c *CachedStore) DeleteResourceServer(ctx context.Context, id string) error {
	return c.Atomically(ctx, func(tx Store) error { return tx.DeleteResourceServer(ctx, id) })
}

func (c *CachedStore) CreateClientGrant(ctx context.Context, g *access.ClientGrant) error {
	return c.Atomically(ctx, func(tx Store) error { return tx.CreateClientGrant(ctx, g) })
}

func (c *CachedStore) UpdateClientGrant(ctx context.Context, g *access.ClientGrant) error {
	return c.Atomically(ctx, func(tx Store) error { return tx.UpdateClientGrant(ctx, g) })
}

func (c *CachedStore) DeleteClientGrant(ctx context.Context, id string) error {
	return c.Atomically(ctx, func(tx Store) error { return tx.DeleteClientGrant(ctx, id) })
}

func (c *CachedStore) SaveSigningKeys(ctx context.Context, ks []keys.SigningKey) error {
	return c.Atomically(ctx, func(tx Store) error { return tx.SaveSigningKeys(ctx, ks) })
}

func (c *CachedStore) SaveSetting(ctx context.Context, name string, doc []byte) error {
	return c.Atomically(ctx, func(tx Store) error { return tx.SaveSetting(ctx, name, doc) })
}

// Atomically runs fn on a transaction of the wrapped store. When fn wrote
// something the cache holds (a client, an API, a client grant, a signing
// key or a tenant setting), the transaction records a change
// (MarkChanged), and the cache is emptied afterwards, whether the commit
// succeeded or not: a failed commit may still have reached the database.
// Other writes (users, roles, sign-in state, installation secrets) record
// nothing, so that they leave every process's cache alone.
//
// A committed change is this process's own: the next Refresh does not
// empty the cache for it again, unless another process changed something
// in between.
func (c *CachedStore) Atomically(ctx context.Context, fn func(tx Store) error) error {
	changed := false
	var version int64 = -1
	err := c.Store.Atomically(ctx, func(tx Store) error {
		rec := &recorder{Store: tx}
		err := fn(rec)
		changed = changed || rec.changed
		if err != nil || !rec.changed {
			return err
		}
		if err := tx.MarkChanged(ctx); err != nil {
			return err
		}
		version, err = tx.ChangeVersion(ctx)
		return err
	})
	if changed {
		c.Invalidate()
	}
	if err == nil && version >= 0 {
		// Our change is the only one since the version this cache last
		// saw: the Invalidate above covers it.
		c.mu.Lock()
		if c.seen == version-1 {
			c.seen = version
		}
		c.mu.Unlock()
	}
	return err
}

// recorder is a transaction that notes whether a write of what the cache
// holds succeeded in it.
type recorder struct {
	Store
	changed bool
}

func (r *recorder) record(err error) error {
	if err == nil {
		r.changed = true
	}
	return err
}

func (r *recorder) CreateClient(ctx context.Context, cl *clients.Client) error {
	return r.record(r.Store.CreateClient(ctx, cl))
}

func (r *recorder) UpdateClient(ctx context.Context, cl *clients.Client) error {
	return r.record(r.Store.UpdateClient(ctx, cl))
}

func (r *recorder) DeleteClient(ctx context.Context, id string) error {
	return r.record(r.Store.DeleteClient(ctx, id))
}

func (r *recorder) CreateResourceServer(ctx context.Context, rs *access.ResourceServer) error {
	return r.record(r.Store.CreateResourceServer(ctx, rs))
}

func (r *recorder) UpdateResourceServer(ctx context.Context, rs *access.ResourceServer) error {
	return r.record(r.Store.UpdateResourceServer(ctx, rs))
}

func (r *recorder) DeleteResourceServer(ctx context.Context, id string) error {
	return r.record(r.Store.DeleteResourceServer(ctx, id))
}

func (r *recorder) CreateClientGrant(ctx context.Context, g *access.ClientGrant) error {
	return r.record(r.Store.CreateClientGrant(ctx, g))
}

func (r *recorder) UpdateClientGrant(ctx context.Context, g *access.ClientGrant) error {
	return r.record(r.Store.UpdateClientGrant(ctx, g))
}

func (r *recorder) DeleteClientGrant(ctx context.Context, id string) error {
	return r.record(r.Store.DeleteClientGrant(ctx, id))
}

func (r *recorder) SaveSigningKeys(ctx context.Context, ks []keys.SigningKey) error {
	return r.record(r.Store.SaveSigningKeys(ctx, ks))
}

func (r *recorder) SaveSetting(ctx context.Context, name string, doc []byte) error {
	return r.record(r.Store.SaveSetting(ctx, name, doc))
}

// Atomically nests a transaction; what it writes is recorded in r.
func (r *recorder) Atomically(ctx context.Context, fn func(tx Store) error) error {
	return r.Store.Atomically(ctx, func(tx Store) error {
		inner := &recorder{Store: tx}
		err := fn(inner)
		r.changed = r.changed || inner.changed
		return err
	})
}
