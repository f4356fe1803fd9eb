package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

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

// Every write of users, roles and permissions through a CachedStore
// empties its cache: a client changed behind the cache's back is seen
// afterwards.
func TestCachedStoreUserWritesInvalidate(t *testing.T) {
	u := &users.User{UserID: "auth0|u1", Email: "u1@example.com"}
	u.ApplyDefaults(u.CreatedAt)
	r := &users.Role{ID: "rol_0123456789abcdef", Name: "r"}
	ps := []users.Permission{{ResourceServerIdentifier: "https://a", PermissionName: "read"}}
	for _, tc := range []struct {
		name  string
		write func(ctx context.Context, s storage.Store) error
	}{
		{"CreateUser", func(ctx context.Context, s storage.Store) error {
			v := u.Clone()
			v.UserID, v.Email = "auth0|u2", "u2@example.com"
			return s.CreateUser(ctx, v)
		}},
		{"UpdateUser", func(ctx context.Context, s storage.Store) error { return s.UpdateUser(ctx, u) }},
		{"DeleteUser", func(ctx context.Context, s storage.Store) error { return s.DeleteUser(ctx, u.UserID) }},
		{"CreateRole", func(ctx context.Context, s storage.Store) error {
			return s.CreateRole(ctx, &users.Role{ID: "rol_x", Name: "x"})
		}},
		{"UpdateRole", func(ctx context.Context, s storage.Store) error { return s.UpdateRole(ctx, r) }},
		{"DeleteRole", func(ctx context.Context, s storage.Store) error { return s.DeleteRole(ctx, r.ID) }},
		{"AddRolePermissions", func(ctx context.Context, s storage.Store) error { return s.AddRolePermissions(ctx, r.ID, ps) }},
		{"RemoveRolePermissions", func(ctx context.Context, s storage.Store) error { return s.RemoveRolePermissions(ctx, r.ID, ps) }},
		{"AssignUserRoles", func(ctx context.Context, s storage.Store) error {
			return s.AssignUserRoles(ctx, u.UserID, []string{r.ID})
		}},
		{"RemoveUserRoles", func(ctx context.Context, s storage.Store) error {
			return s.RemoveUserRoles(ctx, u.UserID, []string{r.ID})
		}},
		{"AddUserPermissions", func(ctx context.Context, s storage.Store) error { return s.AddUserPermissions(ctx, u.UserID, ps) }},
		{"RemoveUserPermissions", func(ctx context.Context, s storage.Store) error { return s.RemoveUserPermissions(ctx, u.UserID, ps) }},
		// A failed write empties the cache as well.
		{"failed CreateUser", func(ctx context.Context, s storage.Store) error {
			if err := s.CreateUser(ctx, u); err == nil {
				t.Error("CreateUser of a taken user_id succeeded")
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			raw := open(t, filepath.Join(t.TempDir(), "auth.db"))
			cached := storage.Cached(raw)
			defer cached.Close()
			c := &clients.Client{ClientID: "c1", Name: "before"}
			if err := raw.CreateClient(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := raw.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			if err := raw.CreateRole(ctx, r); err != nil {
				t.Fatal(err)
			}
			if got, err := cached.Client(ctx, "c1"); err != nil || got.Name != "before" {
				t.Fatalf("Client = %+v, %v", got, err)
			}
			c.Name = "after"
			if err := raw.UpdateClient(ctx, c); err != nil {
				t.Fatal(err)
			}
			if got, _ := cached.Client(ctx, "c1"); got.Name != "before" {
				t.Fatal("the cache did not hold the client, so this test shows nothing")
			}
			if err := tc.write(ctx, cached); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got, _ := cached.Client(ctx, "c1"); got.Name != "after" {
				t.Errorf("after %s the cache still serves the stale client", tc.name)
			}
		})
	}
}
