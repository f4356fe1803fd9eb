package portcullis_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// kekCaddyfile is the contract Caddyfile with key_encryption_key kek.
func kekCaddyfile(dir string, port int, kek string) string {
	return strings.Replace(contractCaddyfile(dir, port), "\t\tbootstrap_admin", "\t\tkey_encryption_key "+kek+"\n\t\tbootstrap_admin", 1)
}

// TestKeyEncryptionEndToEnd runs Portcullis with key_encryption_key from
// the environment, checks that the database holds no plaintext private
// key, and reloads with the key from a file, another key and none.
func TestKeyEncryptionEndToEnd(t *testing.T) {
	dir := t.TempDir()
	port := testenv.FreePort(t)
	kek := make([]byte, 32)
	rand.Read(kek)
	t.Setenv("PORTCULLIS_DATA", filepath.Join(dir, "data"))
	t.Setenv("PORTCULLIS_ADMIN_CLIENT_ID", adminID)
	t.Setenv("PORTCULLIS_ADMIN_CLIENT_SECRET", adminSecret)
	t.Setenv("PORTCULLIS_TEST_KEK", base64.StdEncoding.EncodeToString(kek))
	s := runCaddyfile(t, dir, port, kekCaddyfile(dir, port, "{env.PORTCULLIS_TEST_KEK}"))

	tok, err := s.token(adminID, adminSecret, s.issuer+"api/v2/")
	if err != nil {
		t.Fatal(err)
	}
	s.verify(tok.AccessToken, s.issuer+"api/v2/", "RS256")

	dbPath := filepath.Join(dir, "data", "portcullis.db")
	st, err := sqlite.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, err := st.SigningKeys(t.Context())
	if err != nil || len(stored) != 6 {
		t.Fatalf("%d stored signing keys (%v)", len(stored), err)
	}
	for _, k := range stored {
		if !k.Encrypted() || bytes.Contains(k.PrivateJWK, []byte(`"d"`)) {
			t.Errorf("signing key %s is stored as %.40s…", k.KID, k.PrivateJWK)
		}
	}

	// The same key, as hex in a file with a trailing newline, reloads.
	kekFile := filepath.Join(dir, "kek")
	if err := os.WriteFile(kekFile, []byte(" "+hex.EncodeToString(kek)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.Load(t, kekCaddyfile(dir, port, "{file."+kekFile+"}"))
	s.verify(tok.AccessToken, s.issuer+"api/v2/", "RS256")

	// The command line needs the key too.
	out, err := runCommand(t, "create-admin", "--issuer", s.issuer, "--storage", "sqlite "+dbPath, "--key-encryption-key", "{env.PORTCULLIS_TEST_KEK}")
	if err != nil || !bytes.Contains(out, []byte("client_secret")) {
		t.Fatalf("create-admin with the key = %s, %v", out, err)
	}
	if _, err := runCommand(t, "create-admin", "--issuer", s.issuer, "--storage", "sqlite "+dbPath); err == nil || !errors.Is(err, keys.ErrNoKEK) {
		t.Errorf("create-admin without the key = %v, want %v", err, keys.ErrNoKEK)
	}

	other := make([]byte, 32)
	rand.Read(other)
	t.Setenv("PORTCULLIS_OTHER_KEK", base64.RawURLEncoding.EncodeToString(other))
	t.Setenv("PORTCULLIS_SHORT_KEK", base64.StdEncoding.EncodeToString(kek[:16]))
	for _, tc := range []struct{ name, kek, want string }{
		{"another key", "{env.PORTCULLIS_OTHER_KEK}", "encrypted with another key_encryption_key"},
		{"an unset variable", "{env.PORTCULLIS_UNSET_KEK}", "key_encryption_key: evaluated placeholder {env.PORTCULLIS_UNSET_KEK} is empty"},
		{"a short key", "{env.PORTCULLIS_SHORT_KEK}", "key_encryption_key must be 32 bytes, but its base64 is 16 bytes"},
	} {
		err := testenv.LoadErr(kekCaddyfile(dir, port, tc.kek))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: load error = %v, want one containing %q", tc.name, err, tc.want)
		} else if strings.Contains(err.Error(), os.Getenv("PORTCULLIS_OTHER_KEK")) || strings.Contains(err.Error(), os.Getenv("PORTCULLIS_SHORT_KEK")) {
			t.Errorf("%s: the load error shows the key", tc.name)
		}
	}
	// Caddy's errors keep only the text of the server's.
	if err := testenv.LoadErr(contractCaddyfile(dir, port)); err == nil || !strings.Contains(err.Error(), keys.ErrNoKEK.Error()) {
		t.Errorf("load without key_encryption_key = %v, want %v", err, keys.ErrNoKEK)
	}
	// The running configuration is the last good one.
	if _, err := s.token(adminID, adminSecret, s.issuer+"api/v2/"); err != nil {
		t.Fatalf("token after the refused reloads: %v", err)
	}
	after, err := st.SigningKeys(t.Context())
	if err != nil || len(after) != len(stored) {
		t.Fatalf("refused reloads changed the keys: %d keys (%v)", len(after), err)
	}
}
