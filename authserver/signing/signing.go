// Package signing owns the life of the authorization server's signing
// keys in storage: it creates and certifies the keys a ring lacks, keeps
// their private keys encrypted with the key-encryption key, rotates the
// rings, revokes previous keys, and reloads what other instances on the
// same store changed. A Keyring holds the rings it last loaded, for
// signing tokens and for the JWKS.
//
// It imports only the keys package, for the keys themselves and their
// encryption, and the storage package, for the store's transactions and
// its not-found error; it knows nothing of HTTP, clients or tokens.
package signing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// KeyStore reads and writes the stored signing keys.
type KeyStore interface {
	// SigningKeys returns every stored signing key, revoked ones included.
	SigningKeys(ctx context.Context) ([]keys.SigningKey, error)
	// SaveSigningKeys inserts or replaces the given keys, all or none.
	SaveSigningKeys(ctx context.Context, ks []keys.SigningKey) error
}

// Store is what a Keyring needs of storage: the signing keys, read and
// changed in transactions.
type Store interface {
	KeyStore
	// Atomically runs fn with a store whose changes are committed
	// together, or not at all if fn fails.
	Atomically(ctx context.Context, fn func(tx storage.Store) error) error
}

// Config configures a Keyring.
type Config struct {
	// Store keeps the signing keys.
	Store Store
	// KEK encrypts the private keys in Store; nil stores them in plaintext
	// (see keys.KEK).
	KEK *keys.KEK
	// Domain is the issuer's host, the subject of the keys' certificates.
	Domain string
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Keyring is the signing keys of one authorization server. It is safe for
// concurrent use.
type Keyring struct {
	store  Store
	kek    *keys.KEK
	domain string
	now    func() time.Time
	ring   atomic.Pointer[keys.Ring]
}

// Open loads (on first start, creates) the signing keys in cfg.Store. In
// one transaction, it first encrypts the plaintext keys in place when
// there is a KEK, then completes the rings (see keys.Complete), storing
// the keys it adds encrypted likewise. Without a KEK it fails on
// encrypted keys rather than make new ones, and with a KEK on keys
// encrypted with another one, before anything is written.
func Open(ctx context.Context, cfg Config) (*Keyring, error) {
	if cfg.Store == nil {
		return nil, errors.New("signing keys: no storage configured")
	}
	k := &Keyring{store: cfg.Store, kek: cfg.KEK, domain: cfg.Domain, now: cfg.Now}
	if k.now == nil {
		k.now = time.Now
	}
	if err := k.loadAtomically(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Ring returns the rings to sign with: the ones last loaded.
func (k *Keyring) Ring() *keys.Ring { return k.ring.Load() }

// PublicKeys returns the published verification keys; it makes the
// Keyring a tokens.KeySource for verifiers in the same process.
func (k *Keyring) PublicKeys() jwk.Set { return k.Ring().PublicKeys() }

// Reload reads the signing keys from storage, completing the rings first
// if an algorithm lacks a current or next key or a key lacks its
// certificate, and encrypting plaintext keys when there is a KEK (as Open
// does). On error the Keyring keeps signing with the keys it had.
//
// Most reloads change nothing, and they write nothing: only completing or
// encrypting keys takes a transaction, so that reloading after another
// instance's change records no change of its own.
func (k *Keyring) Reload(ctx context.Context) error {
	stored, plain, err := k.read(ctx, k.store)
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	plaintext, missing, err := k.pending(stored, plain)
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	if len(plaintext) > 0 || len(missing) > 0 {
		return k.loadAtomically(ctx)
	}
	ring, err := keys.NewRing(plain)
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	k.ring.Store(ring)
	return nil
}

// pending returns what loading the stored keys has to write first: with a
// KEK, the keys still stored in plaintext; and the keys that complete the
// rings (see keys.Complete).
func (k *Keyring) pending(stored, plain []keys.SigningKey) (plaintext, missing []keys.SigningKey, err error) {
	if missing, err = keys.Complete(plain, k.domain, k.now()); err != nil {
		return nil, nil, err
	}
	if k.kek != nil {
		plaintext = slices.DeleteFunc(slices.Clone(stored), keys.SigningKey.Encrypted)
	}
	return plaintext, missing, nil
}

// loadAtomically completes and encrypts the stored keys in one
// transaction, then signs with them. Run in a transaction, this happens
// once for all the instances on a store: the others read the completed
// keys.
func (k *Keyring) loadAtomically(ctx context.Context) error {
	var ring *keys.Ring
	err := k.store.Atomically(ctx, func(tx storage.Store) error {
		var err error
		ring, err = k.complete(ctx, tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	k.ring.Store(ring)
	return nil
}

// complete builds the rings of the keys in tx, a transaction, after
// encrypting its plaintext keys (with a KEK) and storing the keys that
// complete the rings.
func (k *Keyring) complete(ctx context.Context, tx KeyStore) (*keys.Ring, error) {
	stored, plain, err := k.read(ctx, tx)
	if err != nil {
		return nil, err
	}
	plaintext, missing, err := k.pending(stored, plain)
	if err != nil {
		return nil, err
	}
	if len(plaintext) == 0 && len(missing) == 0 {
		return keys.NewRing(plain)
	}
	// Encrypting in place comes first, so that a next key Complete
	// promoted is then stored in its new state.
	for _, ks := range [][]keys.SigningKey{plaintext, missing} {
		if err := k.save(ctx, tx, ks); err != nil {
			return nil, err
		}
	}
	if _, plain, err = k.read(ctx, tx); err != nil {
		return nil, err
	}
	return keys.NewRing(plain)
}

// read returns the stored signing keys as stored and decrypted. It fails,
// before anything is written, when a key was encrypted with another KEK or
// there is none.
func (k *Keyring) read(ctx context.Context, st KeyStore) (stored, plain []keys.SigningKey, err error) {
	if stored, err = st.SigningKeys(ctx); err != nil {
		return nil, nil, err
	}
	if plain, err = k.kek.OpenKeys(stored); err != nil {
		return nil, nil, err
	}
	return stored, plain, nil
}

// save stores ks, their private keys encrypted if there is a KEK.
func (k *Keyring) save(ctx context.Context, st KeyStore, ks []keys.SigningKey) error {
	sealed, err := k.kek.SealKeys(ks)
	if err != nil {
		return err
	}
	return st.SaveSigningKeys(ctx, sealed)
}

// Rotate rotates every ring (see keys.Rotate), starts signing with the new
// current keys, and returns the new next key of each ring. With a KEK the
// new keys are stored encrypted.
func (k *Keyring) Rotate(ctx context.Context) ([]keys.SigningKey, error) {
	var next []keys.SigningKey
	err := k.store.Atomically(ctx, func(tx storage.Store) error {
		stored, _, err := k.read(ctx, tx)
		if err != nil {
			return err
		}
		rotated, err := keys.Rotate(stored, k.domain, k.now())
		if err != nil {
			return err
		}
		next = slices.DeleteFunc(slices.Clone(rotated), func(sk keys.SigningKey) bool { return sk.State != keys.StateNext })
		return k.save(ctx, tx, rotated)
	})
	if err != nil {
		return nil, fmt.Errorf("rotating signing keys: %w", err)
	}
	return next, k.Reload(ctx)
}

// Revoke revokes the previous signing key kid: it is no longer published,
// so tokens it signed stop verifying everywhere (other instances once
// they reload). Revoking a revoked key changes nothing; current and next
// keys cannot be revoked (keys.ErrKeyNotRevocable): rotate first. An
// unknown kid is storage.ErrNotFound.
func (k *Keyring) Revoke(ctx context.Context, kid string) error {
	err := k.store.Atomically(ctx, func(tx storage.Store) error {
		stored, err := tx.SigningKeys(ctx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(stored, func(sk keys.SigningKey) bool { return sk.KID == kid })
		if i < 0 {
			return storage.ErrNotFound
		}
		sk := stored[i]
		switch sk.State {
		case keys.StateRevoked:
			return nil
		case keys.StatePrevious:
			sk.State = keys.StateRevoked
			revokedAt := k.now().UTC()
			sk.RevokedAt = &revokedAt
			return tx.SaveSigningKeys(ctx, []keys.SigningKey{sk})
		}
		return keys.ErrKeyNotRevocable
	})
	if err != nil {
		return fmt.Errorf("revoking signing key %s: %w", kid, err)
	}
	return k.Reload(ctx)
}
