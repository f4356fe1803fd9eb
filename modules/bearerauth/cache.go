package bearerauth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/portcullis-gw/portcullis/authz"
)

// verified is a token that passed verification: its policy description,
// when it stops being valid, and the key that signed it.
type verified struct {
	token     *authz.Token
	notBefore time.Time
	expiry    time.Time
	kid       string
	issuer    *issuer
}

// tokenCache remembers verified tokens by the SHA-256 of the token, so a
// token presented again skips signature verification. It holds at most max
// entries; when full, an arbitrary entry makes room. Callers must still check
// expiry and that the signing key is still published.
type tokenCache struct {
	mu      sync.RWMutex
	max     int
	entries map[[sha256.Size]byte]*verified
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, entries: make(map[[sha256.Size]byte]*verified)}
}

func (c *tokenCache) get(key [sha256.Size]byte) *verified {
	c.mu.RLock()
	v := c.entries[key]
	c.mu.RUnlock()
	return v
}

func (c *tokenCache) put(key [sha256.Size]byte, v *verified) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = v
	c.mu.Unlock()
}

func (c *tokenCache) remove(key [sha256.Size]byte) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}
