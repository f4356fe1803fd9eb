package postgres_test

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/postgres"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlstore"
	"github.com/portcullis-gw/portcullis/authserver/storage/storetest"
	"github.com/portcullis-gw/portcullis/authserver/users"
	"github.com/portcullis-gw/portcullis/internal/pgtest"
)

// open opens the store of dsn, closed when the test ends.
func open(t *testing.T, dsn string) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store {
		s, err := postgres.Open(t.Context(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// The caching decorator meets the whole contract on PostgreSQL too.
func TestCachedStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store {
		s, err := postgres.Open(t.Context(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return storage.Cached(s)
	})
}

// instances opens n stores on one fresh schema, as n gateway processes
// sharing a database would.
func instances(t *testing.T, n int) []*sqlstore.Store {
	t.Helper()
	dsn := pgtest.DSN(t)
	out := make([]*sqlstore.Store, n)
	for i := range out {
		out[i] = open(t, dsn)
	}
	return out
}

// hammer calls fn concurrently perStore times on each store and returns
// the errors.
func hammer(stores []*sqlstore.Store, perStore int, fn func(s *sqlstore.Store, i int) error) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, s := range stores {
		for i := range perStore {
			wg.Go(func() {
				err := fn(s, i)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	return errs
}

// Instances starting at once on a fresh database all succeed, and each
// migration is applied once.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 4
	stores := make([]*sqlstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	want, err := stores[0].SchemaVersion(t.Context())
	if err != nil || want < 4 {
		t.Fatalf("SchemaVersion = %d, %v", want, err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var versions []int
	for v := 1; v <= want; v++ {
		versions = append(versions, v)
	}
	if !slices.Equal(got, versions) {
		t.Errorf("schema_migrations holds %v, want %v", got, versions)
	}
}

// Of concurrent exchanges of one code from several instances, exactly one
// wins; the others see it used.
func TestConcurrentConsumeAuthorizationCode(t *testing.T) {
	ctx := t.Context()
	stores := instances(t, 3)
	now := time.Now().UTC().Truncate(time.Millisecond)
	code := &sessions.AuthorizationCode{ID: "code", ClientID: "c1", UserID: "auth0|u1", ExpiresAt: now.Add(time.Minute)}
	if err := stores[0].CreateAuthorizationCode(ctx, code); err != nil {
		t.Fatal(err)
	}
	errs := hammer(stores, 8, func(s *sqlstore.Store, _ int) error {
		_, err := s.ConsumeAuthorizationCode(ctx, "code", now)
		return err
	})
	wantOneWinner(t, errs)
}

// Of concurrent rotations of one refresh token from several instances,
// exactly one wins and stores its successor; the others see it used, as
// reuse detection needs, and store nothing.
func TestConcurrentRotateRefreshToken(t *testing.T) {
	ctx := t.Context()
	stores := instances(t, 3)
	now := time.Now().UTC().Truncate(time.Millisecond)
	token := func(id string) *sessions.RefreshToken {
		return &sessions.RefreshToken{ID: id, FamilyID: "fam", ClientID: "c1", UserID: "auth0|u1", ExpiresAt: now.Add(time.Hour)}
	}
	if err := stores[0].CreateRefreshToken(ctx, token("rt")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var successors []string
	errs := hammer(stores, 8, func(s *sqlstore.Store, i int) error {
		id := fmt.Sprintf("rt-%p-%d", s, i)
		mu.Lock()
		successors = append(successors, id)
		mu.Unlock()
		return s.RotateRefreshToken(ctx, "rt", now, token(id))
	})
	wantOneWinner(t, errs)
	stored := 0
	for _, id := range successors {
		if _, err := stores[1].RefreshToken(ctx, id); err == nil {
			stored++
		}
	}
	if stored != 1 {
		t.Errorf("%d successors stored, want 1", stored)
	}
}

func wantOneWinner(t *testing.T, errs []error) {
	t.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrUsed):
			t.Errorf("a loser got %v, want storage.ErrUsed", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent calls won, want exactly 1", won, len(errs))
	}
}

// Instances creating one installation secret at once all get the same
// value, both outside and inside transactions.
func TestConcurrentInstallationSecret(t *testing.T) {
	for _, inTx := range []bool{false, true} {
		t.Run(fmt.Sprintf("in transaction %v", inTx), func(t *testing.T) {
			ctx := t.Context()
			stores := instances(t, 3)
			var mu sync.Mutex
			got := map[string]bool{}
			errs := hammer(stores, 8, func(s *sqlstore.Store, i int) error {
				generate := func() []byte { return fmt.Appendf(nil, "secret-%p-%d", s, i) }
				var v []byte
				var err error
				if inTx {
					err = s.Atomically(ctx, func(tx storage.Store) error {
						v, err = tx.InstallationSecret(ctx, "hmac", generate)
						return err
					})
				} else {
					v, err = s.InstallationSecret(ctx, "hmac", generate)
				}
				mu.Lock()
				got[string(v)] = true
				mu.Unlock()
				return err
			})
			for _, err := range errs {
				if err != nil {
					t.Errorf("InstallationSecret: %v", err)
				}
			}
			if len(got) != 1 {
				t.Errorf("concurrent callers got %d different secrets, want 1", len(got))
			}
		})
	}
}

// Hits counted at once by several instances are each counted once, and
// each caller sees a different count.
func TestConcurrentCountHits(t *testing.T) {
	ctx := t.Context()
	stores := instances(t, 3)
	window := time.Now().UTC().Truncate(time.Minute)
	var mu sync.Mutex
	var counts []int
	errs := hammer(stores, 10, func(s *sqlstore.Store, _ int) error {
		n, err := s.CountHits(ctx, "ip|192.0.2.1", window, 1)
		mu.Lock()
		counts = append(counts, n)
		mu.Unlock()
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("CountHit: %v", err)
		}
	}
	slices.Sort(counts)
	for i, n := range counts {
		if n != i+1 {
			t.Fatalf("counts seen %v, want 1 to %d each once", counts, len(counts))
		}
	}
}

// Atomically's functions run one at a time across instances, so that
// read-modify-write functions lose no update and create-if-missing ones
// (as every instance runs at start for the Management API) do not
// conflict.
func TestAtomicallyIsSerializableAcrossInstances(t *testing.T) {
	ctx := t.Context()
	stores := instances(t, 3)
	c := &clients.Client{ClientID: "counter", Name: "Counter", ClientMetadata: map[string]string{"n": ""}}
	if err := stores[0].CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	const perStore = 6
	errs := hammer(stores, perStore, func(s *sqlstore.Store, _ int) error {
		return s.Atomically(ctx, func(tx storage.Store) error {
			c, err := tx.Client(ctx, "counter")
			if err != nil {
				return err
			}
			c.ClientMetadata["n"] += "x"
			if err := tx.UpdateClient(ctx, c); err != nil {
				return err
			}
			if _, err := tx.ResourceServerByIdentifier(ctx, "https://api.example/"); !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			rs := &access.ResourceServer{ID: "api", Identifier: "https://api.example/"}
			rs.ApplyDefaults()
			return tx.CreateResourceServer(ctx, rs)
		})
	})
	for _, err := range errs {
		if err != nil {
			t.Errorf("Atomically: %v", err)
		}
	}
	got, err := stores[1].Client(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.ClientMetadata["n"]); n != len(errs) {
		t.Errorf("%d of %d increments kept", n, len(errs))
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name, dsn, want string
	}{
		{"empty", "", "the DSN is empty"},
		{"bad URL", "postgres://admin:hunter2@db.example:port/auth", "invalid port"},
		{"bad escape", "postgres://admin:hunter2@db.example/auth%zz", "failed to parse as URL"},
		{"bad keyword value", "host=db.example password=hunter2 sslmode=sometimes", "sslmode is invalid"},
		// Nothing listens on port 1.
		{"unreachable", "postgres://admin:hunter2@127.0.0.1:1/auth?connect_timeout=5", `"auth" on 127.0.0.1:1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := postgres.Open(t.Context(), tc.dsn)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.dsn)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// withApplicationName adds the run-time parameter application_name=name to
// dsn, a URL or keyword=value pairs, so that pg_stat_activity tells its
// connections apart.
func withApplicationName(t *testing.T, dsn, name string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " application_name=" + name
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// A user that an Atomically function read stays as read until the
// function ends: a sign-in recorded meanwhile, by another instance, waits
// for it, so that the function's update (a Management API PATCH, say)
// undoes nothing of the sign-in, not even its rehashed password. The test
// watches pg_stat_activity for the sign-in's wait, so it needs no timing.
func TestRecordSignInWaitsForAtomicallyRead(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	admin := open(t, dsn)
	const signinApp = "portcullis-test-signin"
	signins := open(t, withApplicationName(t, dsn, signinApp))
	probe, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	u := &users.User{UserID: "auth0|u1", Email: "u1@example.com", Connection: users.DefaultConnection,
		CreatedAt: time.Now().UTC(), PasswordHash: []byte("old parameters' hash")}
	if err := admin.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	in := storage.SignIn{At: time.Now().UTC(), IP: "192.0.2.7", VerifiedHash: u.PasswordHash, Rehash: []byte("new parameters' hash")}
	recorded := make(chan error, 1)
	err = admin.Atomically(ctx, func(tx storage.Store) error {
		read, err := tx.User(ctx, u.UserID)
		if err != nil {
			return err
		}
		go func() { recorded <- signins.RecordSignIn(ctx, u.UserID, in) }()
		for waiting := false; !waiting; {
			select {
			case err := <-recorded:
				return fmt.Errorf("the sign-in was recorded (%v) while a transaction held the user it had read", err)
			default:
			}
			err := probe.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE application_name = $1 AND wait_event_type = 'Lock')`, signinApp).Scan(&waiting)
			if err != nil {
				return err
			}
		}
		read.Blocked = true
		return tx.UpdateUser(ctx, read)
	})
	if err != nil {
		t.Fatalf("Atomically: %v", err)
	}
	if err := <-recorded; err != nil {
		t.Fatalf("RecordSignIn: %v", err)
	}
	got, err := admin.User(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Blocked || got.LoginsCount != 1 || string(got.PasswordHash) != string(in.Rehash) {
		t.Errorf("after the update and the sign-in: blocked %v, logins_count %d, hash %q; want true, 1, %q",
			got.Blocked, got.LoginsCount, got.PasswordHash, in.Rehash)
	}
}
