package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
	"github.com/portcullis-gw/portcullis/authserver/storage/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "auth.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func open(t *testing.T, path string) storage.Store {
	t.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "auth.db")
	c := &clients.Client{ClientID: "c1", Name: "App", SecretHash: []byte("hash\x00")}
	c.ApplyDefaults()
	rs := &access.ResourceServer{ID: "a1", Identifier: "https://a1"}
	rs.ApplyDefaults()
	g := &access.ClientGrant{ID: "g1", ClientID: "c1", Audience: "https://a1"}
	g.ApplyDefaults()
	k := keys.SigningKey{KID: "k1", Alg: "ES256", State: keys.StateCurrent, CreatedAt: time.Unix(1700000000, 0).UTC(), PrivateJWK: []byte(`{"kty":"EC"}`)}

	s := open(t, path)
	err := s.Atomically(ctx, func(tx storage.Store) error {
		if err := tx.CreateClient(ctx, c); err != nil {
			return err
		}
		if err := tx.CreateResourceServer(ctx, rs); err != nil {
			return err
		}
		if err := tx.CreateClientGrant(ctx, g); err != nil {
			return err
		}
		return tx.SaveSigningKeys(ctx, []keys.SigningKey{k})
	})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := s.InstallationSecret(ctx, "hmac", func() []byte { return []byte("first") })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path)
	defer s.Close()
	gotC, err := s.Client(ctx, "c1")
	if err != nil || !reflect.DeepEqual(gotC, c) {
		t.Errorf("client after reopen: %+v, %v; want %+v", gotC, err, c)
	}
	gotRS, err := s.ResourceServerByIdentifier(ctx, "https://a1")
	if err != nil || !reflect.DeepEqual(gotRS, rs) {
		t.Errorf("API after reopen: %+v, %v; want %+v", gotRS, err, rs)
	}
	gotG, err := s.FindClientGrant(ctx, "c1", "https://a1", access.SubjectClient)
	if err != nil || !reflect.DeepEqual(gotG, g) {
		t.Errorf("grant after reopen: %+v, %v; want %+v", gotG, err, g)
	}
	gotK, err := s.SigningKeys(ctx)
	if err != nil || !reflect.DeepEqual(gotK, []keys.SigningKey{k}) {
		t.Errorf("keys after reopen: %+v, %v; want %+v", gotK, err, k)
	}
	gotSecret, err := s.InstallationSecret(ctx, "hmac", func() []byte { return []byte("second") })
	if err != nil || string(gotSecret) != string(secret) {
		t.Errorf("secret after reopen: %q, %v; want %q", gotSecret, err, secret)
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "portcullis")
	path := filepath.Join(dir, "auth db #1?.sqlite")
	s := open(t, path)
	defer s.Close()
	if _, err := s.InstallationSecret(t.Context(), "x", func() []byte { return []byte("y") }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		mode os.FileMode
	}{
		{"directory", dir, os.ModeDir | 0o700},
		{"database", path, 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != tc.mode {
				t.Errorf("mode %v, want %v", fi.Mode(), tc.mode)
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "auth db #1?.sqlite") {
			t.Errorf("unexpected file %q next to the database", e.Name())
		}
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	if err := open(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version) VALUES (1000)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the schema is newer", err)
	}
}

func TestOpenRefusesMemory(t *testing.T) {
	for _, tc := range []struct {
		name string
		path string
	}{
		{"empty", ""},
		{"memory", ":memory:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := sqlite.Open(tc.path); err == nil {
				s.Close()
				t.Errorf("Open(%q) succeeded", tc.path)
			}
		})
	}
}

func TestJournalModeIsWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	if err := open(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode %q, want wal", mode)
	}
}

// Transactions take the write lock when they begin, so concurrent
// read-modify-write transactions queue up instead of failing or losing
// updates.
func TestAtomicallyIsSerializable(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "auth.db"))
	defer s.Close()
	c := &clients.Client{ClientID: "counter", Name: "Counter", ClientMetadata: map[string]string{"n": ""}}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	const n = 20
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			errs <- s.Atomically(ctx, func(tx storage.Store) error {
				c, err := tx.Client(ctx, "counter")
				if err != nil {
					return err
				}
				c.ClientMetadata["n"] += "x"
				return tx.UpdateClient(ctx, c)
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Atomically: %v", err)
		}
	}
	got, err := s.Client(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ClientMetadata["n"]) != n {
		t.Errorf("%d of %d increments kept", len(got.ClientMetadata["n"]), n)
	}
}
