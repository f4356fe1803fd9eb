package authserver_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// secretHashKeyName is the installation secret of client secret hashes.
const secretHashKeyName = "client_secret_hmac"

// atRest is what the store holds of the keys: what must not change when a
// start is refused.
type atRest struct {
	signingKeys []keys.SigningKey
	hashKey     []byte
}

func readAtRest(t *testing.T, st storage.Store) atRest {
	t.Helper()
	ks, err := st.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	secret, err := st.InstallationSecret(t.Context(), secretHashKeyName, func() []byte {
		t.Error("the client secret hashing key is missing")
		return []byte("x")
	})
	if err != nil {
		t.Fatal(err)
	}
	return atRest{ks, secret}
}

// wantEncrypted checks that no private key or hashing key is stored in
// plaintext, and that plainHashKey, the hashing key from before, is not in
// the store (nil for none).
func wantEncrypted(t *testing.T, st storage.Store, plainHashKey []byte) {
	t.Helper()
	r := readAtRest(t, st)
	for _, k := range r.signingKeys {
		if !k.Encrypted() || bytes.Contains(k.PrivateJWK, []byte(`"d"`)) {
			t.Errorf("signing key %s (%s) is stored as %.40s…", k.KID, k.State, k.PrivateJWK)
		}
	}
	if !keys.IsEncryptedSecret(r.hashKey) || (plainHashKey != nil && bytes.Contains(r.hashKey, plainHashKey)) {
		t.Errorf("the client secret hashing key is stored as %q", r.hashKey)
	}
}

// A store made without a key_encryption_key is encrypted in place when one
// is set; it then starts with that key only, and rotation keeps it
// encrypted.
func TestKeyEncryptionMigration(t *testing.T) {
	t.Parallel()
	kek := bytes.Repeat([]byte{7}, 32)
	e := newEnv(t)
	fx := e.newFixture(t, "kek")
	before := readAtRest(t, e.store)
	for _, k := range before.signingKeys {
		if k.Encrypted() {
			t.Fatalf("without a key_encryption_key, signing key %s is encrypted", k.KID)
		}
	}
	kidsBefore := kids(e.jwks(t))
	apiToken := e.token(t, fx.client, fx.audience).AccessToken

	// (a) Encrypted in place at start.
	e.configure = func(c *authserver.Config) { c.KeyEncryptionKey = kek }
	e.restart(t)
	wantEncrypted(t, e.store, before.hashKey)
	after := readAtRest(t, e.store)
	if len(after.signingKeys) != len(before.signingKeys) {
		t.Fatalf("%d signing keys after encryption, %d before", len(after.signingKeys), len(before.signingKeys))
	}
	if got := kids(e.jwks(t)); !reflect.DeepEqual(got, kidsBefore) {
		t.Errorf("kids after encryption = %v, want %v", got, kidsBefore)
	}
	if _, err := e.verify(t, apiToken, fx.audience); err != nil {
		t.Errorf("a token signed before encryption does not verify: %v", err)
	}
	e.token(t, fx.client, fx.audience) // the client secret still matches

	// (b) Started with the same key again: nothing to change.
	e.restart(t)
	if got := readAtRest(t, e.store); !reflect.DeepEqual(got, after) {
		t.Error("a start with the same key_encryption_key changed the stored keys")
	}
	e.token(t, fx.client, fx.audience)

	// (c) Another key, and (d) no key: refused, the store untouched.
	for _, tc := range []struct {
		name string
		kek  []byte
		want error
	}{
		{"another key", bytes.Repeat([]byte{8}, 32), keys.ErrWrongKEK},
		{"no key", nil, keys.ErrNoKEK},
	} {
		_, err := authserver.New(t.Context(), authserver.Config{Issuer: e.issuer, Store: e.store, KeyEncryptionKey: tc.kek})
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "signing key") {
			t.Errorf("%s: New = %v, want %v about the signing keys", tc.name, err, tc.want)
		}
		if got := readAtRest(t, e.store); !reflect.DeepEqual(got, after) {
			t.Errorf("%s: a refused start changed the stored keys", tc.name)
		}
	}
	if _, err := authserver.New(t.Context(), authserver.Config{Issuer: e.issuer, Store: e.store, KeyEncryptionKey: kek[:16]}); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Errorf("New with a 16-byte key_encryption_key = %v", err)
	}

	// (e) Rotation stores the new keys encrypted; tokens from before
	// still verify.
	if _, err := e.srv.Keyring().Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	rotated := readAtRest(t, e.store)
	if len(rotated.signingKeys) != len(after.signingKeys)+len(keys.Algorithms) {
		t.Fatalf("%d signing keys after a rotation, want %d", len(rotated.signingKeys), len(after.signingKeys)+len(keys.Algorithms))
	}
	wantEncrypted(t, e.store, before.hashKey)
	if _, err := e.verify(t, apiToken, fx.audience); err != nil {
		t.Errorf("a token signed before the rotation does not verify: %v", err)
	}
	if _, err := e.verify(t, e.token(t, fx.client, fx.audience).AccessToken, fx.audience); err != nil {
		t.Errorf("a token signed with the new key does not verify: %v", err)
	}
	e.restart(t)
	e.token(t, fx.client, fx.audience)
}

// A new store with a key_encryption_key holds no plaintext key from the
// start.
func TestKeyEncryptionFromTheStart(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *authserver.Config) { c.KeyEncryptionKey = bytes.Repeat([]byte{9}, 32) })
	wantEncrypted(t, e.store, nil)
	fx := e.newFixture(t, "kek")
	if _, err := e.verify(t, e.token(t, fx.client, fx.audience).AccessToken, fx.audience); err != nil {
		t.Fatal(err)
	}
}
