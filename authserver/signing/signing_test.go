package signing_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/signing"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
)

func openKeyring(t *testing.T, now func() time.Time) (*signing.Keyring, storage.Store) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := signing.Open(t.Context(), signing.Config{Store: st, Domain: "auth.example.com", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return kr, st
}

func kidsIn(t *testing.T, st storage.Store, state keys.State) []string {
	t.Helper()
	ks, err := st.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range ks {
		if k.State == state {
			out = append(out, k.KID)
		}
	}
	return out
}

// Only a previous key can be revoked: a current key is
// keys.ErrKeyNotRevocable, an unknown one storage.ErrNotFound. A revoked
// key is stamped with the keyring's clock and leaves the published keys
// at once; revoking it again changes nothing.
func TestRevoke(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	kr, st := openKeyring(t, func() time.Time { return at })
	current := kidsIn(t, st, keys.StateCurrent)
	if len(current) != len(keys.Algorithms) {
		t.Fatalf("a new store holds %d current keys, want %d", len(current), len(keys.Algorithms))
	}
	if err := kr.Revoke(t.Context(), current[0]); !errors.Is(err, keys.ErrKeyNotRevocable) {
		t.Errorf("revoking a current key = %v, want %v", err, keys.ErrKeyNotRevocable)
	}
	if err := kr.Revoke(t.Context(), "no-such-kid"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("revoking an unknown key = %v, want %v", err, storage.ErrNotFound)
	}
	next, err := kr.Rotate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != len(keys.Algorithms) || slices.ContainsFunc(next, func(k keys.SigningKey) bool { return k.State != keys.StateNext }) {
		t.Fatalf("Rotate returned %d keys, not one next key per algorithm", len(next))
	}
	previous := current[0]
	if _, ok := kr.PublicKeys().LookupKeyID(previous); !ok {
		t.Fatal("a previous key is not published")
	}
	at = at.Add(time.Hour)
	revokedAt := at
	for range 2 {
		if err := kr.Revoke(t.Context(), previous); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Hour)
	}
	if _, ok := kr.PublicKeys().LookupKeyID(previous); ok {
		t.Error("a revoked key is still published")
	}
	ks, err := st.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if k.KID == previous && (k.State != keys.StateRevoked || k.RevokedAt == nil || !k.RevokedAt.Equal(revokedAt)) {
			t.Errorf("the revoked key is stored as %s, revoked at %v, want revoked at %v", k.State, k.RevokedAt, revokedAt)
		}
	}
}
