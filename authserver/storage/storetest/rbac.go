package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// permissionOwner is the part of the contract shared by role permissions
// and direct user permissions, so that one set of tests covers both.
type permissionOwner struct {
	// owner is an id seedRBAC creates; other is one it does not.
	owner, other string
	add          func(s storage.Store, ctx context.Context, id string, ps []users.Permission) error
	remove       func(s storage.Store, ctx context.Context, id string, ps []users.Permission) error
	list         func(s storage.Store, ctx context.Context, id string, p storage.Page) ([]users.Permission, int, error)
	// seeded are the permissions seedRBAC gives owner.
	seeded []users.Permission
}

func testRolePermissions(t *testing.T, open func(t *testing.T) storage.Store) {
	testPermissionOwner(t, open, permissionOwner{
		owner: "r2", other: "nope",
		add:    storage.Store.AddRolePermissions,
		remove: storage.Store.RemoveRolePermissions,
		list:   storage.Store.RolePermissions,
		seeded: seededRBAC().RolePerms["r2"],
	})
}

func testUserPermissions(t *testing.T, open func(t *testing.T) storage.Store) {
	testPermissionOwner(t, open, permissionOwner{
		owner: "auth0|u1", other: "auth0|nope",
		add:    storage.Store.AddUserPermissions,
		remove: storage.Store.RemoveUserPermissions,
		list:   storage.Store.UserPermissions,
		seeded: seededRBAC().UserPerms["auth0|u1"],
	})
}

func testPermissionOwner(t *testing.T, open func(t *testing.T) storage.Store, o permissionOwner) {
	all := storage.Page{PerPage: 100}
	listAll := func(t *testing.T, s storage.Store) []users.Permission {
		t.Helper()
		ps, total, err := o.list(s, t.Context(), o.owner, all)
		must(t, err, "list")
		wantEqual(t, total, len(ps), "total")
		return ps
	}

	t.Run("add, list and remove", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		before := rbacSnapshot(t, s)
		wantEqual(t, listAll(t, s), o.seeded, "seeded permissions")

		// Adding: new ones in any order, ones already there, twice in one
		// call, one the API does not define, one of an API that does not
		// exist. Only identifier and name are kept.
		added := newPermission("https://a2", "read:things")
		added.ResourceServerName = "ignored"
		added.Description = "ignored"
		must(t, o.add(s, ctx, o.owner, []users.Permission{
			perm("https://z", "zzz"), added, o.seeded[0], perm("https://a1", "custom"),
			perm("https://a1", "custom"), perm("https://a1", "write:things"),
		}), "add")
		want := []users.Permission{
			described("https://a1", "custom"), described("https://a1", "read:things"), described("https://a1", "write:things"),
			newPermission("https://a2", "read:things"), described("https://a2", "write:things"),
			perm("https://z", "zzz"),
		}
		if o.owner == "auth0|u1" {
			want = []users.Permission{
				described("https://a1", "admin"), described("https://a1", "custom"), described("https://a1", "write:things"),
				newPermission("https://a2", "read:things"), perm("https://z", "zzz"),
			}
		}
		wantEqual(t, listAll(t, s), want, "permissions after add")

		// Adding only what is there changes nothing.
		must(t, o.add(s, ctx, o.owner, want[:2]), "add again")
		wantEqual(t, listAll(t, s), want, "permissions after adding them again")
		must(t, o.add(s, ctx, o.owner, nil), "add nothing")
		wantEqual(t, listAll(t, s), want, "permissions after adding nothing")

		// Removing what is there and what is not.
		must(t, o.remove(s, ctx, o.owner, []users.Permission{
			perm("https://z", "zzz"), perm("https://a1", "custom"), perm("https://a1", "never"), perm("https://nope", "custom"),
		}), "remove")
		kept := []users.Permission{}
		for _, p := range want {
			if p.PermissionName != "zzz" && p.PermissionName != "custom" {
				kept = append(kept, p)
			}
		}
		want = kept
		wantEqual(t, listAll(t, s), want, "permissions after remove")
		must(t, o.remove(s, ctx, o.owner, []users.Permission{perm("https://z", "zzz")}), "remove again")
		wantEqual(t, listAll(t, s), want, "permissions after removing again")

		// Back to the seeded ones; nothing else changed on the way.
		must(t, o.remove(s, ctx, o.owner, listAll(t, s)), "remove all")
		must(t, o.add(s, ctx, o.owner, o.seeded), "add the seeded ones")
		wantEqual(t, rbacSnapshot(t, s), before, "store after adding and removing")
	})

	t.Run("lists describe permissions as the API does now", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		must(t, o.add(s, ctx, o.owner, []users.Permission{perm("https://a2", "read:things")}), "add")
		api := newResourceServer("a2", "https://a2")
		api.Name = "Renamed API"
		api.Scopes = []access.Scope{{Value: "read:things", Description: "Read all things"}}
		must(t, s.UpdateResourceServer(ctx, api), "UpdateResourceServer")
		for _, p := range listAll(t, s) {
			if p.ResourceServerIdentifier != "https://a2" {
				continue
			}
			want := users.Permission{ResourceServerIdentifier: "https://a2", PermissionName: p.PermissionName, ResourceServerName: "Renamed API"}
			if p.PermissionName == "read:things" {
				want.Description = "Read all things"
			}
			wantEqual(t, p, want, "permission of the changed API")
		}
	})

	t.Run("pages", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		must(t, o.remove(s, ctx, o.owner, o.seeded), "remove the seeded ones")
		must(t, o.add(s, ctx, o.owner, []users.Permission{
			perm("https://b", "p2"), perm("https://a", "p3"), perm("https://b", "p1"), perm("https://a", "p1"), perm("https://a", "p2"),
		}), "add")
		for _, tc := range []struct {
			name string
			page storage.Page
			want []users.Permission
		}{
			{"first page", storage.Page{PerPage: 2}, []users.Permission{perm("https://a", "p1"), perm("https://a", "p2")}},
			{"middle page", storage.Page{Page: 1, PerPage: 2}, []users.Permission{perm("https://a", "p3"), perm("https://b", "p1")}},
			{"last page", storage.Page{Page: 2, PerPage: 2}, []users.Permission{perm("https://b", "p2")}},
			{"past the end", storage.Page{Page: 3, PerPage: 2}, []users.Permission{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := o.list(s, ctx, o.owner, tc.page)
				must(t, err, "list")
				wantEqual(t, got, tc.want, "permissions")
				wantEqual(t, total, 5, "total")
			})
		}
		for _, p := range []storage.Page{{PerPage: 0}, {Page: -1, PerPage: 1}} {
			if _, _, err := o.list(s, ctx, o.owner, p); err == nil {
				t.Errorf("list(%+v) succeeded, want an error", p)
			}
		}
	})

	t.Run("unknown owner is not found", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		before := rbacSnapshot(t, s)
		ps := []users.Permission{perm("https://a1", "read:things")}
		wantErr(t, o.add(s, ctx, o.other, ps), storage.ErrNotFound, "add")
		wantErr(t, o.add(s, ctx, o.other, nil), storage.ErrNotFound, "add nothing")
		wantErr(t, o.remove(s, ctx, o.other, ps), storage.ErrNotFound, "remove")
		_, _, err := o.list(s, ctx, o.other, all)
		wantErr(t, err, storage.ErrNotFound, "list")
		wantEqual(t, rbacSnapshot(t, s), before, "store after the failed calls")
	})

	t.Run("an invalid permission adds nothing", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		before := rbacSnapshot(t, s)
		for _, bad := range []users.Permission{perm("", "read:things"), perm("https://a1", ""), perm("https://a1", "two words")} {
			err := o.add(s, ctx, o.owner, []users.Permission{perm("https://a1", "fine"), bad})
			if err == nil {
				t.Errorf("add of %+v succeeded", bad)
			}
		}
		wantEqual(t, rbacSnapshot(t, s), before, "store after the refused adds")
	})

	t.Run("deleting the API removes its permissions", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		must(t, s.DeleteResourceServer(ctx, "a2"), "DeleteResourceServer")
		want := seededRBAC()
		for id, ps := range want.RolePerms {
			want.RolePerms[id] = withoutAudience(ps, "https://a2")
		}
		for id, ps := range want.UserPerms {
			want.UserPerms[id] = withoutAudience(ps, "https://a2")
		}
		wantEqual(t, rbacSnapshot(t, s), want, "store after DeleteResourceServer")
		// An API created again with the identifier starts with none.
		must(t, s.CreateResourceServer(ctx, newResourceServer("a9", "https://a2")), "CreateResourceServer")
		wantEqual(t, rbacSnapshot(t, s), want, "store after CreateResourceServer")
	})
}

func withoutAudience(ps []users.Permission, audience string) []users.Permission {
	out := []users.Permission{}
	for _, p := range ps {
		if p.ResourceServerIdentifier != audience {
			out = append(out, p)
		}
	}
	return out
}

func testUserRoles(t *testing.T, open func(t *testing.T) storage.Store) {
	all := storage.Page{PerPage: 100}
	userRoles := func(t *testing.T, s storage.Store, userID string) []string {
		t.Helper()
		rs, total, err := s.UserRoles(t.Context(), userID, all)
		must(t, err, "UserRoles "+userID)
		wantEqual(t, total, len(rs), "total")
		for _, r := range rs {
			wantEqual(t, r, newRole(r.ID), "listed role")
		}
		return roleIDs(rs)
	}
	roleUsers := func(t *testing.T, s storage.Store, roleID string) []string {
		t.Helper()
		us, total, err := s.RoleUsers(t.Context(), roleID, all)
		must(t, err, "RoleUsers "+roleID)
		wantEqual(t, total, len(us), "total")
		for _, u := range us {
			wantEqual(t, u, newUser(u.UserID[len("auth0|"):]), "listed user")
		}
		return userIDs(us)
	}

	t.Run("assign, list and remove", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		before := rbacSnapshot(t, s)
		wantEqual(t, roleUsers(t, s, "r2"), []string{"auth0|u1", "auth0|u2"}, "users of r2")
		wantEqual(t, roleUsers(t, s, "r3"), []string{}, "users of r3")

		must(t, s.AssignUserRoles(ctx, "auth0|u3", []string{"r3", "r1", "r3"}), "AssignUserRoles")
		wantEqual(t, userRoles(t, s, "auth0|u3"), []string{"r1", "r3"}, "roles of u3")
		wantEqual(t, roleUsers(t, s, "r1"), []string{"auth0|u1", "auth0|u3"}, "users of r1")
		wantEqual(t, roleUsers(t, s, "r3"), []string{"auth0|u3"}, "users of r3")

		// Assigning what is there changes nothing.
		must(t, s.AssignUserRoles(ctx, "auth0|u3", []string{"r1"}), "AssignUserRoles again")
		must(t, s.AssignUserRoles(ctx, "auth0|u3", nil), "AssignUserRoles of nothing")
		wantEqual(t, userRoles(t, s, "auth0|u3"), []string{"r1", "r3"}, "roles of u3 after assigning again")

		// Removing what is there and what is not.
		must(t, s.RemoveUserRoles(ctx, "auth0|u3", []string{"r1", "r2"}), "RemoveUserRoles")
		wantEqual(t, userRoles(t, s, "auth0|u3"), []string{"r3"}, "roles of u3 after remove")
		must(t, s.RemoveUserRoles(ctx, "auth0|u3", []string{"r1"}), "RemoveUserRoles again")
		must(t, s.RemoveUserRoles(ctx, "auth0|u3", []string{"r3"}), "RemoveUserRoles of the last")
		wantEqual(t, rbacSnapshot(t, s), before, "store after assigning and removing")
	})

	t.Run("unknown user or role is not found and changes nothing", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		before := rbacSnapshot(t, s)
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"assign to an unknown user", func() error { return s.AssignUserRoles(ctx, "auth0|nope", []string{"r1"}) }},
			{"assign nothing to an unknown user", func() error { return s.AssignUserRoles(ctx, "auth0|nope", nil) }},
			{"assign an unknown role", func() error { return s.AssignUserRoles(ctx, "auth0|u3", []string{"r1", "nope", "r3"}) }},
			{"remove from an unknown user", func() error { return s.RemoveUserRoles(ctx, "auth0|nope", []string{"r1"}) }},
			{"remove an unknown role", func() error { return s.RemoveUserRoles(ctx, "auth0|u1", []string{"r1", "nope"}) }},
			{"roles of an unknown user", func() error { _, _, err := s.UserRoles(ctx, "auth0|nope", all); return err }},
			{"users of an unknown role", func() error { _, _, err := s.RoleUsers(ctx, "nope", all); return err }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, tc.call(), storage.ErrNotFound, tc.name)
			})
		}
		wantEqual(t, rbacSnapshot(t, s), before, "store after the failed calls")
	})

	t.Run("pages", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		for _, id := range []string{"r5", "r4"} {
			must(t, s.CreateRole(ctx, newRole(id)), "CreateRole "+id)
		}
		for _, id := range []string{"u5", "u4"} {
			must(t, s.CreateUser(ctx, newUser(id)), "CreateUser "+id)
		}
		must(t, s.AssignUserRoles(ctx, "auth0|u1", []string{"r5", "r3", "r4"}), "AssignUserRoles u1")
		for _, id := range []string{"auth0|u5", "auth0|u4", "auth0|u3"} {
			must(t, s.AssignUserRoles(ctx, id, []string{"r2"}), "AssignUserRoles "+id)
		}
		for _, tc := range []struct {
			name string
			page storage.Page
			want []string
		}{
			{"first page", storage.Page{PerPage: 2}, []string{"r1", "r2"}},
			{"middle page", storage.Page{Page: 1, PerPage: 2}, []string{"r3", "r4"}},
			{"last page", storage.Page{Page: 2, PerPage: 2}, []string{"r5"}},
			{"past the end", storage.Page{Page: 3, PerPage: 2}, []string{}},
		} {
			t.Run("roles "+tc.name, func(t *testing.T) {
				got, total, err := s.UserRoles(ctx, "auth0|u1", tc.page)
				must(t, err, "UserRoles")
				wantEqual(t, roleIDs(got), tc.want, "role ids")
				wantEqual(t, total, 5, "total")
			})
		}
		for _, tc := range []struct {
			name string
			page storage.Page
			want []string
		}{
			{"first page", storage.Page{PerPage: 3}, []string{"auth0|u1", "auth0|u2", "auth0|u3"}},
			{"last page", storage.Page{Page: 1, PerPage: 3}, []string{"auth0|u4", "auth0|u5"}},
			{"past the end", storage.Page{Page: 2, PerPage: 3}, []string{}},
		} {
			t.Run("users "+tc.name, func(t *testing.T) {
				got, total, err := s.RoleUsers(ctx, "r2", tc.page)
				must(t, err, "RoleUsers")
				wantEqual(t, userIDs(got), tc.want, "user ids")
				wantEqual(t, total, 5, "total")
			})
		}
		for _, p := range []storage.Page{{PerPage: 0}, {Page: -1, PerPage: 1}} {
			if _, _, err := s.UserRoles(ctx, "auth0|u1", p); err == nil {
				t.Errorf("UserRoles(%+v) succeeded, want an error", p)
			}
			if _, _, err := s.RoleUsers(ctx, "r2", p); err == nil {
				t.Errorf("RoleUsers(%+v) succeeded, want an error", p)
			}
		}
		for _, tc := range []struct {
			from      string
			want      []string
			wantTotal int
		}{
			{"auth0|u2", []string{"auth0|u2", "auth0|u3"}, 4},
			{"auth0|u2a", []string{"auth0|u3", "auth0|u4"}, 3},
			{"auth0|u5", []string{"auth0|u5"}, 1},
			{"auth0|u6", []string{}, 0},
		} {
			got, total, err := s.RoleUsers(ctx, "r2", storage.Page{PerPage: 2, From: tc.from})
			must(t, err, "RoleUsers from "+tc.from)
			wantEqual(t, userIDs(got), tc.want, "users from "+tc.from)
			wantEqual(t, total, tc.wantTotal, "total from "+tc.from)
		}
		if _, _, err := s.RoleUsers(ctx, "r2", storage.Page{Page: 1, PerPage: 2, From: "auth0|u1"}); err == nil {
			t.Error("RoleUsers of page 1 from a user succeeded, want an error")
		}
		if _, _, err := s.UserPermissions(ctx, "auth0|u1", storage.Page{PerPage: 2, From: "https://a"}); err == nil {
			t.Error("UserPermissions from a checkpoint succeeded, want an error: permissions have none")
		}
	})

	t.Run("listed users carry their password hash", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		us, _, err := s.RoleUsers(ctx, "r1", all)
		must(t, err, "RoleUsers")
		wantEqual(t, us, []*users.User{newUser("u1")}, "users of r1")
	})
}

func testEffectivePermissions(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("direct and through roles, sorted, each once", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		for _, tc := range []struct {
			user, audience string
			want           []string
		}{
			// Role r1 and r2 both give read:things; admin is direct.
			{"auth0|u1", "https://a1", []string{"admin", "read:things", "write:things"}},
			// read:things is both direct and from r1.
			{"auth0|u1", "https://a2", []string{"read:things", "write:things"}},
			{"auth0|u2", "https://a1", []string{"read:things", "write:things"}},
			{"auth0|u2", "https://a2", []string{"write:things"}},
			{"auth0|u3", "https://a1", []string{}},
			{"auth0|u1", "https://nope", []string{}},
			// Audiences compare byte for byte.
			{"auth0|u1", "https://a1/", []string{}},
			{"auth0|u1", "HTTPS://A1", []string{}},
		} {
			got, err := s.EffectivePermissions(ctx, tc.user, tc.audience)
			must(t, err, "EffectivePermissions "+tc.user+" "+tc.audience)
			wantEqual(t, got, tc.want, "EffectivePermissions "+tc.user+" "+tc.audience)
		}
	})

	t.Run("follows changes of roles and permissions", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		effective := func(what string) []string {
			t.Helper()
			got, err := s.EffectivePermissions(ctx, "auth0|u3", "https://a1")
			must(t, err, "EffectivePermissions "+what)
			return got
		}
		must(t, s.AssignUserRoles(ctx, "auth0|u3", []string{"r3"}), "AssignUserRoles")
		wantEqual(t, effective("with an empty role"), []string{}, "with an empty role")
		must(t, s.AddRolePermissions(ctx, "r3", []users.Permission{perm("https://a1", "Z:upper"), perm("https://a1", "a:lower")}), "AddRolePermissions")
		// Byte order: upper case before lower case.
		wantEqual(t, effective("with a role"), []string{"Z:upper", "a:lower"}, "with a role")
		must(t, s.AddUserPermissions(ctx, "auth0|u3", []users.Permission{perm("https://a1", "a:lower"), perm("https://a1", "b")}), "AddUserPermissions")
		wantEqual(t, effective("with direct ones too"), []string{"Z:upper", "a:lower", "b"}, "with direct ones too")
		must(t, s.RemoveRolePermissions(ctx, "r3", []users.Permission{perm("https://a1", "a:lower")}), "RemoveRolePermissions")
		wantEqual(t, effective("after removing from the role"), []string{"Z:upper", "a:lower", "b"}, "after removing from the role")
		must(t, s.RemoveUserRoles(ctx, "auth0|u3", []string{"r3"}), "RemoveUserRoles")
		wantEqual(t, effective("without the role"), []string{"a:lower", "b"}, "without the role")
		must(t, s.RemoveUserPermissions(ctx, "auth0|u3", []users.Permission{perm("https://a1", "a:lower"), perm("https://a1", "b")}), "RemoveUserPermissions")
		wantEqual(t, effective("with nothing"), []string{}, "with nothing")
	})

	t.Run("unknown user is not found", func(t *testing.T) {
		s := open(t)
		seedRBAC(t, s)
		_, err := s.EffectivePermissions(t.Context(), "auth0|nope", "https://a1")
		wantErr(t, err, storage.ErrNotFound, "EffectivePermissions")
	})
}

func testAtomicallyUsers(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("commits when fn succeeds", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seed(t, s)
		err := s.Atomically(ctx, func(tx storage.Store) error {
			must(t, tx.CreateUser(ctx, newUser("u1")), "CreateUser")
			must(t, tx.CreateRole(ctx, newRole("r1")), "CreateRole")
			must(t, tx.AddRolePermissions(ctx, "r1", []users.Permission{perm("https://a1", "read:things")}), "AddRolePermissions")
			must(t, tx.AssignUserRoles(ctx, "auth0|u1", []string{"r1"}), "AssignUserRoles")
			must(t, tx.AddUserPermissions(ctx, "auth0|u1", []users.Permission{perm("https://a1", "admin")}), "AddUserPermissions")
			// The transaction reads its own writes.
			got, err := tx.UserByEmail(ctx, users.DefaultConnection, "U1@example.com")
			must(t, err, "UserByEmail inside")
			wantEqual(t, got, newUser("u1"), "UserByEmail inside")
			eff, err := tx.EffectivePermissions(ctx, "auth0|u1", "https://a1")
			must(t, err, "EffectivePermissions inside")
			wantEqual(t, eff, []string{"admin", "read:things"}, "EffectivePermissions inside")
			return nil
		})
		must(t, err, "Atomically")
		wantEqual(t, rbacSnapshot(t, s), rbacState{
			Users:     []*users.User{newUser("u1")},
			Roles:     []*users.Role{newRole("r1")},
			RolePerms: map[string][]users.Permission{"r1": {newPermission("https://a1", "read:things")}},
			UserRoles: map[string][]string{"auth0|u1": {"r1"}},
			UserPerms: map[string][]users.Permission{"auth0|u1": {described("https://a1", "admin")}},
		}, "store after commit")
	})

	t.Run("an error from fn leaves nothing written", func(t *testing.T) {
		changedUser := newUser("u1")
		changedUser.Email = "changed@example.com"
		changedUser.UserMetadata = nil
		changedUser.PasswordHash = []byte("changed")
		changedRole := newRole("r1")
		changedRole.Name = "Changed"
		ps := []users.Permission{perm("https://a1", "new"), perm("https://a2", "read:things")}
		for _, tc := range []struct {
			name  string
			write func(ctx context.Context, tx storage.Store) error
		}{
			{"CreateUser", func(ctx context.Context, tx storage.Store) error { return tx.CreateUser(ctx, newUser("u9")) }},
			{"UpdateUser", func(ctx context.Context, tx storage.Store) error { return tx.UpdateUser(ctx, changedUser) }},
			{"RecordSignIn", func(ctx context.Context, tx storage.Store) error {
				return tx.RecordSignIn(ctx, "auth0|u1", storage.SignIn{At: created, IP: "192.0.2.9", VerifiedHash: newUser("u1").PasswordHash, Rehash: []byte("rehashed")})
			}},
			{"DeleteUser", func(ctx context.Context, tx storage.Store) error { return tx.DeleteUser(ctx, "auth0|u1") }},
			{"CreateRole", func(ctx context.Context, tx storage.Store) error { return tx.CreateRole(ctx, newRole("r9")) }},
			{"UpdateRole", func(ctx context.Context, tx storage.Store) error { return tx.UpdateRole(ctx, changedRole) }},
			{"DeleteRole", func(ctx context.Context, tx storage.Store) error { return tx.DeleteRole(ctx, "r2") }},
			{"AddRolePermissions", func(ctx context.Context, tx storage.Store) error { return tx.AddRolePermissions(ctx, "r3", ps) }},
			{"RemoveRolePermissions", func(ctx context.Context, tx storage.Store) error {
				return tx.RemoveRolePermissions(ctx, "r1", seededRBAC().RolePerms["r1"])
			}},
			{"AssignUserRoles", func(ctx context.Context, tx storage.Store) error {
				return tx.AssignUserRoles(ctx, "auth0|u3", []string{"r1", "r2"})
			}},
			{"RemoveUserRoles", func(ctx context.Context, tx storage.Store) error {
				return tx.RemoveUserRoles(ctx, "auth0|u1", []string{"r1", "r2"})
			}},
			{"AddUserPermissions", func(ctx context.Context, tx storage.Store) error { return tx.AddUserPermissions(ctx, "auth0|u3", ps) }},
			{"RemoveUserPermissions", func(ctx context.Context, tx storage.Store) error {
				return tx.RemoveUserPermissions(ctx, "auth0|u1", seededRBAC().UserPerms["auth0|u1"])
			}},
			{"DeleteResourceServer", func(ctx context.Context, tx storage.Store) error { return tx.DeleteResourceServer(ctx, "a1") }},
			{"several writes", func(ctx context.Context, tx storage.Store) error {
				return errors.Join(
					tx.CreateUser(ctx, newUser("u9")),
					tx.AssignUserRoles(ctx, "auth0|u9", []string{"r1"}),
					tx.DeleteRole(ctx, "r2"),
					tx.DeleteUser(ctx, "auth0|u2"),
					tx.CreateClient(ctx, newClient("c9")),
					tx.SaveSigningKeys(ctx, []keys.SigningKey{newSigningKey("k9", keys.StateNext)}),
				)
			}},
			{"nested Atomically", func(ctx context.Context, tx storage.Store) error {
				return tx.Atomically(ctx, func(inner storage.Store) error {
					return errors.Join(inner.CreateRole(ctx, newRole("r9")), inner.DeleteUser(ctx, "auth0|u1"))
				})
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				ctx := t.Context()
				seedRBAC(t, s)
				before, beforeRBAC := snapshot(t, s), rbacSnapshot(t, s)
				err := s.Atomically(ctx, func(tx storage.Store) error {
					must(t, tc.write(ctx, tx), tc.name)
					return errBoom
				})
				wantErr(t, err, errBoom, "Atomically")
				wantEqual(t, snapshot(t, s), before, "store after rollback")
				wantEqual(t, rbacSnapshot(t, s), beforeRBAC, "users and roles after rollback")
			})
		}
	})

	t.Run("a failed call returned by fn leaves nothing written", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			failing func(ctx context.Context, tx storage.Store) error
			want    error
		}{
			{"e-mail conflict", func(ctx context.Context, tx storage.Store) error {
				u := newUser("u8")
				u.Email = "U2@example.com"
				return tx.CreateUser(ctx, u)
			}, storage.ErrConflict},
			{"role name conflict", func(ctx context.Context, tx storage.Store) error {
				r := newRole("r8")
				r.Name = "Role r1"
				return tx.CreateRole(ctx, r)
			}, storage.ErrConflict},
			{"unknown role", func(ctx context.Context, tx storage.Store) error {
				return tx.AssignUserRoles(ctx, "auth0|u9", []string{"r3", "nope"})
			}, storage.ErrNotFound},
			{"unknown user", func(ctx context.Context, tx storage.Store) error {
				return tx.AddUserPermissions(ctx, "auth0|nope", []users.Permission{perm("https://a1", "x")})
			}, storage.ErrNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				ctx := t.Context()
				seedRBAC(t, s)
				before := rbacSnapshot(t, s)
				err := s.Atomically(ctx, func(tx storage.Store) error {
					must(t, tx.CreateUser(ctx, newUser("u9")), "CreateUser")
					must(t, tx.AssignUserRoles(ctx, "auth0|u9", []string{"r1"}), "AssignUserRoles")
					must(t, tx.DeleteRole(ctx, "r2"), "DeleteRole")
					return tc.failing(ctx, tx)
				})
				wantErr(t, err, tc.want, "Atomically")
				wantEqual(t, rbacSnapshot(t, s), before, "store after rollback")
			})
		}
	})
}
