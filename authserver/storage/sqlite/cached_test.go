package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
	"github.com/portcullis-gw/portcullis/authserver/storage/storetest"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// The caching decorator meets the whole contract too.
func TestCachedStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "auth.db"))
		if err != nil {
			t.Fatal(err)
		}
		return storage.Cached(s)
	})
}

// Writes of what a CachedStore holds (clients, APIs, client grants,
// signing keys, tenant settings) record a change, made directly or in a
// transaction, so that every instance empties its cache; other writes
// (users, roles, permissions, sign-in state, installation secrets) and
// failed writes record none, and leave the caches alone.
func TestCachedStoreRecordsOnlyCachedWrites(t *testing.T) {
	u := &users.User{UserID: "auth0|u1", Email: "u1@example.com"}
	u.ApplyDefaults(u.CreatedAt)
	r := &users.Role{ID: "rol_0123456789abcdef", Name: "r"}
	ps := []users.Permission{{ResourceServerIdentifier: "https://a", PermissionName: "read"}}
	c := &clients.Client{ClientID: "c1", Name: "c"}
	api := &access.ResourceServer{ID: "rs1", Identifier: "https://a", Name: "a"}
	g := &access.ClientGrant{ID: "cgr_1", ClientID: "c1", Audience: "https://a", SubjectType: access.SubjectClient}
	for _, tc := range []struct {
		name     string
		recorded bool
		write    func(ctx context.Context, s storage.Store) error
	}{
		{"CreateClient", true, func(ctx context.Context, s storage.Store) error {
			return s.CreateClient(ctx, &clients.Client{ClientID: "c2"})
		}},
		{"UpdateClient", true, func(ctx context.Context, s storage.Store) error { return s.UpdateClient(ctx, c) }},
		{"DeleteClient", true, func(ctx context.Context, s storage.Store) error { return s.DeleteClient(ctx, c.ClientID) }},
		{"CreateResourceServer", true, func(ctx context.Context, s storage.Store) error {
			return s.CreateResourceServer(ctx, &access.ResourceServer{ID: "rs2", Identifier: "https://b"})
		}},
		{"UpdateResourceServer", true, func(ctx context.Context, s storage.Store) error { return s.UpdateResourceServer(ctx, api) }},
		{"DeleteResourceServer", true, func(ctx context.Context, s storage.Store) error { return s.DeleteResourceServer(ctx, api.ID) }},
		{"CreateClientGrant", true, func(ctx context.Context, s storage.Store) error {
			return s.CreateClientGrant(ctx, &access.ClientGrant{ID: "cgr_2", ClientID: "c1", Audience: "https://a", SubjectType: access.SubjectUser})
		}},
		{"UpdateClientGrant", true, func(ctx context.Context, s storage.Store) error { return s.UpdateClientGrant(ctx, g) }},
		{"DeleteClientGrant", true, func(ctx context.Context, s storage.Store) error { return s.DeleteClientGrant(ctx, g.ID) }},
		{"SaveSigningKeys", true, func(ctx context.Context, s storage.Store) error {
			ks, err := s.SigningKeys(ctx)
			if err != nil {
				return err
			}
			return s.SaveSigningKeys(ctx, ks)
		}},
		{"SaveSetting", true, func(ctx context.Context, s storage.Store) error { return s.SaveSetting(ctx, "tenant", []byte("{}")) }},

		{"failed CreateClient", false, func(ctx context.Context, s storage.Store) error {
			if err := s.CreateClient(ctx, c); err == nil {
				t.Error("CreateClient of a taken client_id succeeded")
			}
			return nil
		}},
		{"CreateUser", false, func(ctx context.Context, s storage.Store) error {
			v := u.Clone()
			v.UserID, v.Email = "auth0|u2", "u2@example.com"
			return s.CreateUser(ctx, v)
		}},
		{"UpdateUser", false, func(ctx context.Context, s storage.Store) error { return s.UpdateUser(ctx, u) }},
		{"DeleteUser", false, func(ctx context.Context, s storage.Store) error { return s.DeleteUser(ctx, u.UserID) }},
		{"CreateRole", false, func(ctx context.Context, s storage.Store) error {
			return s.CreateRole(ctx, &users.Role{ID: "rol_x", Name: "x"})
		}},
		{"UpdateRole", false, func(ctx context.Context, s storage.Store) error { return s.UpdateRole(ctx, r) }},
		{"DeleteRole", false, func(ctx context.Context, s storage.Store) error { return s.DeleteRole(ctx, r.ID) }},
		{"AddRolePermissions", false, func(ctx context.Context, s storage.Store) error { return s.AddRolePermissions(ctx, r.ID, ps) }},
		{"RemoveRolePermissions", false, func(ctx context.Context, s storage.Store) error { return s.RemoveRolePermissions(ctx, r.ID, ps) }},
		{"AssignUserRoles", false, func(ctx context.Context, s storage.Store) error {
			return s.AssignUserRoles(ctx, u.UserID, []string{r.ID})
		}},
		{"RemoveUserRoles", false, func(ctx context.Context, s storage.Store) error {
			return s.RemoveUserRoles(ctx, u.UserID, []string{r.ID})
		}},
		{"AddUserPermissions", false, func(ctx context.Context, s storage.Store) error { return s.AddUserPermissions(ctx, u.UserID, ps) }},
		{"RemoveUserPermissions", false, func(ctx context.Context, s storage.Store) error { return s.RemoveUserPermissions(ctx, u.UserID, ps) }},
		{"RecordSignIn", false, func(ctx context.Context, s storage.Store) error {
			return s.RecordSignIn(ctx, u.UserID, storage.SignIn{At: time.Now()})
		}},
		{"InstallationSecret", false, func(ctx context.Context, s storage.Store) error {
			_, err := s.InstallationSecret(ctx, "other", func() []byte { return []byte("x") })
			return err
		}},
		{"ReplaceInstallationSecret", false, func(ctx context.Context, s storage.Store) error {
			return s.ReplaceInstallationSecret(ctx, "secret", []byte("y"))
		}},
	} {
		for _, inTx := range []bool{false, true} {
			name := tc.name
			if inTx {
				name += " in a transaction"
			}
			t.Run(name, func(t *testing.T) {
				ctx := t.Context()
				raw := open(t, filepath.Join(t.TempDir(), "auth.db"))
				cached := storage.Cached(raw)
				defer cached.Close()
				for _, err := range []error{
					raw.CreateClient(ctx, c), raw.CreateResourceServer(ctx, api), raw.CreateClientGrant(ctx, g),
					raw.CreateUser(ctx, u), raw.CreateRole(ctx, r),
				} {
					if err != nil {
						t.Fatal(err)
					}
				}
				if _, err := raw.InstallationSecret(ctx, "secret", func() []byte { return []byte("x") }); err != nil {
					t.Fatal(err)
				}
				if _, err := cached.Refresh(ctx); err != nil {
					t.Fatal(err)
				}
				gen := cached.Generation()
				before, err := raw.ChangeVersion(ctx)
				if err != nil {
					t.Fatal(err)
				}
				write := tc.write
				if inTx {
					write = func(ctx context.Context, s storage.Store) error {
						return s.Atomically(ctx, func(tx storage.Store) error { return tc.write(ctx, tx) })
					}
				}
				if err := write(ctx, cached); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if emptied := cached.Generation() != gen; emptied != tc.recorded {
					t.Errorf("%s emptied this process's cache: %v, want %v", name, emptied, tc.recorded)
				}
				after, err := raw.ChangeVersion(ctx)
				if changed := after != before; err != nil || changed != tc.recorded {
					t.Errorf("%s recorded a change for other processes: %v (%v), want %v", name, changed, err, tc.recorded)
				}
			})
		}
	}
}

// A CachedStore's own writes do not empty its cache a second time at its
// next Refresh: what it cached after the write stays cached, while a
// change by another process on the same database still empties it.
func TestCachedStoreRefreshSkipsItsOwnChanges(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "auth.db")
	open := func() *storage.CachedStore {
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		c := storage.Cached(s)
		if _, err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := open(), open()
	if err := a.CreateClient(ctx, &clients.Client{ClientID: "c1", Name: "one"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	gen := a.Generation()
	if changed, err := a.Refresh(ctx); err != nil || changed || a.Generation() != gen {
		t.Errorf("Refresh after its own write: changed %v, %v, generation %d → %d; want the cache kept", changed, err, gen, a.Generation())
	}
	if err := b.UpdateClient(ctx, &clients.Client{ClientID: "c1", Name: "two"}); err != nil {
		t.Fatal(err)
	}
	if changed, err := a.Refresh(ctx); err != nil || !changed {
		t.Errorf("Refresh after another process's write: changed %v, %v; want true", changed, err)
	}
	if cl, err := a.Client(ctx, "c1"); err != nil || cl.Name != "two" {
		t.Errorf("after the other process's write: %v, %v; want name two", cl, err)
	}
}

// countingStore counts the client reads that reach the store.
type countingStore struct {
	storage.Store
	clientReads int
}

func (s *countingStore) Client(ctx context.Context, id string) (*clients.Client, error) {
	s.clientReads++
	return s.Store.Client(ctx, id)
}

// A CachedStore remembers at most MaxCachedMisses lookups of objects that
// do not exist: past that, made-up ids go to the store each time instead
// of growing the cache, while objects that exist are still cached.
func TestCachedStoreBoundsMisses(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	counted := &countingStore{Store: s}
	c := storage.Cached(counted)
	reads := func(id string, n int) int {
		t.Helper()
		before := counted.clientReads
		for range n {
			if _, err := c.Client(ctx, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
				t.Fatal(err)
			}
		}
		return counted.clientReads - before
	}
	for i := range storage.MaxCachedMisses {
		if got := reads(fmt.Sprintf("made-up-%d", i), 2); got != 1 {
			t.Fatalf("made-up id %d read %d times, want once and then remembered", i, got)
		}
	}
	if got := reads("one-too-many", 3); got != 3 {
		t.Errorf("a made-up id past the bound was read %d times in 3 lookups, want 3 (not remembered)", got)
	}
	if err := s.CreateClient(ctx, &clients.Client{ClientID: "real", Name: "real"}); err != nil {
		t.Fatal(err)
	}
	if got := reads("real", 3); got != 1 {
		t.Errorf("an existing client was read %d times in 3 lookups, want 1 (cached)", got)
	}
	c.Invalidate()
	if got := reads("one-too-many", 2); got != 1 {
		t.Errorf("after an invalidation, a made-up id was read %d times in 2 lookups, want 1", got)
	}
}
