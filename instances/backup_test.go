package instances_test

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/postgres"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
	"github.com/portcullis-gw/portcullis/internal/pgtest"
	"github.com/portcullis-gw/portcullis/internal/testutil"
)

var testKEK = []byte("0123456789abcdef0123456789abcdef")

// serveOn serves a Server on st, with the test key_encryption_key, and
// checks that the bootstrap admin authenticates at its token endpoint.
func serveOn(t *testing.T, st storage.Store, issuer string) (*authserver.Server, string) {
	t.Helper()
	srv, err := authserver.New(t.Context(), authserver.Config{
		Issuer: issuer, Store: st, KeyEncryptionKey: testKEK,
		BootstrapAdmin: &authserver.Credentials{ClientID: adminID, ClientSecret: adminSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	testutil.ClientCredentialsToken(t, ts.Client(), ts.URL+"/oauth/token", adminID, adminSecret, issuer+"api/v2/")
	return srv, ts.URL
}

// wantSameInstallation checks that restored serves what original did: the
// same published keys, and the client secret still authenticates.
func wantSameInstallation(t *testing.T, original *authserver.Server, restored storage.Store, issuer string) {
	t.Helper()
	srv, _ := serveOn(t, restored, issuer) // authenticates the admin's secret
	kids := func(s *authserver.Server) []string {
		var out []string
		for i := range s.Keyring().PublicKeys().Len() {
			k, _ := s.Keyring().PublicKeys().Key(i)
			out = append(out, k.KeyID())
		}
		slices.Sort(out)
		return out
	}
	if got, want := kids(srv), kids(original); !slices.Equal(got, want) {
		t.Errorf("the restored installation publishes %v, want %v", got, want)
	}
}

// The README's PostgreSQL backup: pg_dump of the schema, restored into an
// empty one, serves the same keys and secrets (with the same
// key_encryption_key).
func TestPostgresBackupRestore(t *testing.T) {
	dsn := pgtest.DSN(t)
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const issuer = "https://auth.example.com/"
	original, _ := serveOn(t, st, issuer)

	schema := regexp.MustCompile(`search_path=([a-z0-9_]+)`).FindStringSubmatch(dsn)
	if schema == nil {
		t.Fatalf("no search_path in the test DSN %q", dsn)
	}
	base := os.Getenv(pgtest.EnvVar)
	dump, err := exec.Command("pg_dump", "--no-owner", "--schema="+schema[1], base).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	target := pgtest.DSN(t)
	into := regexp.MustCompile(`search_path=([a-z0-9_]+)`).FindStringSubmatch(target)[1]
	restoredSQL := strings.ReplaceAll(string(dump), schema[1], into)
	// The empty target schema exists already.
	restoredSQL = strings.Replace(restoredSQL, "CREATE SCHEMA "+into+";", "", 1)
	file := filepath.Join(t.TempDir(), "dump.sql")
	if err := os.WriteFile(file, []byte(restoredSQL), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("psql", "-v", "ON_ERROR_STOP=1", "-q", "-f", file, base).CombinedOutput(); err != nil {
		t.Fatalf("psql restore: %v\n%s", err, out)
	}
	restored, err := postgres.Open(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	wantSameInstallation(t, original, restored, issuer)
}

// The README's SQLite backup: VACUUM INTO while the database is in use.
func TestSQLiteBackupRestore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portcullis.db")
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const issuer = "https://auth.example.com/"
	original, _ := serveOn(t, st, issuer)

	backup := filepath.Join(t.TempDir(), "backup.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), `VACUUM INTO ?`, backup); err != nil {
		t.Fatalf("VACUUM INTO: %v", err)
	}
	restored, err := sqlite.Open(backup)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	wantSameInstallation(t, original, restored, issuer)
}
