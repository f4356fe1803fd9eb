package authserver_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
)

// failingKeyStore is B's store, whose signing key read fails while fail is set.
type failingKeyStore struct {
	storage.Store
	fail *atomic.Bool
}

func (f failingKeyStore) SigningKeys(ctx context.Context) ([]keys.SigningKey, error) {
	if f.fail.Load() {
		return nil, errors.New("injected: database blip")
	}
	return f.Store.SigningKeys(ctx)
}

// A revokes a key; B's poll sees the change but its key reload hits a
// transient error. The change version is consumed by then, yet the next
// poll retries the reload, so B stops trusting the revoked key.
func TestWatchRetriesAFailedKeyReload(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "p.db")
	const issuer = "https://auth.example/"
	sa, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	a, err := authserver.New(ctx, authserver.Config{Issuer: issuer, Store: sa})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	fail := new(atomic.Bool)
	b, err := authserver.New(ctx, authserver.Config{Issuer: issuer, Store: failingKeyStore{sb, fail}})
	if err != nil {
		t.Fatal(err)
	}
	w := b.ChangeWatcher(0)
	w.Poll(ctx)

	if _, err := a.Keyring().Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := sa.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var old string
	for _, k := range stored {
		if k.State == keys.StatePrevious {
			old = k.KID
		}
	}
	if old == "" {
		t.Fatal("no previous key after a rotation")
	}
	w.Poll(ctx) // B learns the rotation
	if _, ok := b.Keyring().PublicKeys().LookupKeyID(old); !ok {
		t.Fatalf("B does not have the previous key %s", old)
	}
	if err := a.Keyring().Revoke(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Keyring().PublicKeys().LookupKeyID(old); ok {
		t.Fatalf("A still publishes the revoked key %s", old)
	}

	fail.Store(true)
	w.Poll(ctx) // sees the change; the reload fails
	fail.Store(false)
	w.Poll(ctx)
	w.Poll(ctx)
	if _, ok := b.Keyring().PublicKeys().LookupKeyID(old); ok {
		t.Fatalf("after the database answered again, B still trusts key %s that A revoked", old)
	}
}
