package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// Fixtures of users, roles and permissions. Every field is set
// (testFixtures checks it).

// newUser returns the user "auth0|"+id with the address id@example.com.
func newUser(id string) *users.User {
	return &users.User{
		UserID:        "auth0|" + id,
		Email:         id + "@example.com",
		EmailVerified: true,
		Blocked:       true,
		Name:          "User " + id,
		Nickname:      id,
		GivenName:     "Given " + id,
		FamilyName:    "Family " + id,
		Picture:       "https://" + id + ".example/me.png",
		// Every kind of JSON value, nested.
		UserMetadata: map[string]any{
			"lang":  "nl",
			"prefs": map[string]any{"theme": "dark", "size": 12.5, "beta": false},
			"list":  []any{"a", true, nil, 3.0, map[string]any{"k": "v"}},
		},
		AppMetadata: map[string]any{"plan": "gold", "owner": id},
		CreatedAt:   created,
		UpdatedAt:   created.Add(time.Hour),
		LastLogin:   created.Add(90*time.Minute + 123456789),
		LastIP:      "192.0.2.1",
		LoginsCount: 7,
		Connection:  users.DefaultConnection,
		// Bytes that are not text: NUL, invalid UTF-8.
		PasswordHash: []byte("$argon2id$hash\x00of\xff" + id),
	}
}

func newRole(id string) *users.Role {
	return &users.Role{ID: id, Name: "Role " + id, Description: "The " + id + " role"}
}

// newPermission returns a permission as lists report it: described by
// the API of newResourceServer with that identifier.
func newPermission(audience, name string) users.Permission {
	return users.Permission{
		ResourceServerIdentifier: audience,
		PermissionName:           name,
		ResourceServerName:       "API " + apiIDs[audience],
		Description:              "Read things",
	}
}

// apiIDs are the ids of the APIs seed creates, by identifier.
var apiIDs = map[string]string{"https://a1": "a1", "https://a2": "a2", "https://a": "a"}

// perm is a permission as it is added: identifier and name only.
func perm(audience, name string) users.Permission {
	return users.Permission{ResourceServerIdentifier: audience, PermissionName: name}
}

// described is perm as lists report it when the API is one of seed's,
// whose permission read:things has a description and write:things none.
func described(audience, name string) users.Permission {
	p := perm(audience, name)
	if id, ok := apiIDs[audience]; ok {
		p.ResourceServerName = "API " + id
		if name == "read:things" {
			p.Description = "Read things"
		}
	}
	return p
}

// rbacState is every user, role and relation a store holds.
type rbacState struct {
	Users     []*users.User
	Roles     []*users.Role
	RolePerms map[string][]users.Permission
	UserRoles map[string][]string
	UserPerms map[string][]users.Permission
}

func rbacSnapshot(t *testing.T, s storage.Store) rbacState {
	t.Helper()
	ctx := t.Context()
	all := storage.Page{PerPage: 1000}
	st := rbacState{
		RolePerms: map[string][]users.Permission{},
		UserRoles: map[string][]string{},
		UserPerms: map[string][]users.Permission{},
	}
	var err error
	st.Users, _, err = s.ListUsers(ctx, storage.UserQuery{}, all)
	must(t, err, "ListUsers")
	st.Roles, _, err = s.ListRoles(ctx, storage.RoleFilter{}, all)
	must(t, err, "ListRoles")
	for _, r := range st.Roles {
		ps, _, err := s.RolePermissions(ctx, r.ID, all)
		must(t, err, "RolePermissions "+r.ID)
		st.RolePerms[r.ID] = ps
	}
	for _, u := range st.Users {
		rs, _, err := s.UserRoles(ctx, u.UserID, all)
		must(t, err, "UserRoles "+u.UserID)
		st.UserRoles[u.UserID] = roleIDs(rs)
		ps, _, err := s.UserPermissions(ctx, u.UserID, all)
		must(t, err, "UserPermissions "+u.UserID)
		st.UserPerms[u.UserID] = ps
	}
	return st
}

// seedRBAC fills s as seed does, then adds three users, three roles and
// permissions of seed's APIs:
//
//	role r1: a1 read:things, a1 write:things, a2 read:things
//	role r2: a1 read:things, a2 write:things
//	role r3: none
//	user u1: roles r1, r2; direct a1 admin (not defined by the API), a2 read:things
//	user u2: role r2; direct a1 write:things
//	user u3: nothing
func seedRBAC(t *testing.T, s storage.Store) {
	t.Helper()
	ctx := t.Context()
	seed(t, s)
	for _, id := range []string{"u1", "u2", "u3"} {
		must(t, s.CreateUser(ctx, newUser(id)), "CreateUser "+id)
	}
	for _, id := range []string{"r1", "r2", "r3"} {
		must(t, s.CreateRole(ctx, newRole(id)), "CreateRole "+id)
	}
	must(t, s.AddRolePermissions(ctx, "r1", []users.Permission{
		perm("https://a1", "read:things"), perm("https://a1", "write:things"), perm("https://a2", "read:things"),
	}), "AddRolePermissions r1")
	must(t, s.AddRolePermissions(ctx, "r2", []users.Permission{
		perm("https://a1", "read:things"), perm("https://a2", "write:things"),
	}), "AddRolePermissions r2")
	must(t, s.AssignUserRoles(ctx, "auth0|u1", []string{"r1", "r2"}), "AssignUserRoles u1")
	must(t, s.AssignUserRoles(ctx, "auth0|u2", []string{"r2"}), "AssignUserRoles u2")
	must(t, s.AddUserPermissions(ctx, "auth0|u1", []users.Permission{
		perm("https://a1", "admin"), perm("https://a2", "read:things"),
	}), "AddUserPermissions u1")
	must(t, s.AddUserPermissions(ctx, "auth0|u2", []users.Permission{perm("https://a1", "write:things")}),
		"AddUserPermissions u2")
}

// seededRBAC is the rbacState seedRBAC leaves.
func seededRBAC() rbacState {
	return rbacState{
		Users: []*users.User{newUser("u1"), newUser("u2"), newUser("u3")},
		Roles: []*users.Role{newRole("r1"), newRole("r2"), newRole("r3")},
		RolePerms: map[string][]users.Permission{
			"r1": {described("https://a1", "read:things"), described("https://a1", "write:things"), described("https://a2", "read:things")},
			"r2": {described("https://a1", "read:things"), described("https://a2", "write:things")},
			"r3": {},
		},
		UserRoles: map[string][]string{"auth0|u1": {"r1", "r2"}, "auth0|u2": {"r2"}, "auth0|u3": {}},
		UserPerms: map[string][]users.Permission{
			"auth0|u1": {described("https://a1", "admin"), described("https://a2", "read:things")},
			"auth0|u2": {described("https://a1", "write:things")},
			"auth0|u3": {},
		},
	}
}

func roleIDs(rs []*users.Role) []string {
	ids := []string{}
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func userIDs(us []*users.User) []string {
	ids := []string{}
	for _, u := range us {
		ids = append(ids, u.UserID)
	}
	return ids
}

func testUsers(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("round trip keeps every field", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		noPassword := newUser("nopw")
		noPassword.PasswordHash = nil
		never := newUser("never")
		never.LastLogin, never.LastIP, never.LoginsCount = time.Time{}, "", 0
		never.UserMetadata, never.AppMetadata = map[string]any{}, map[string]any{}
		for _, tc := range []struct {
			name string
			u    *users.User
		}{
			{"every field", newUser("u1")},
			{"no password hash", noPassword},
			{"never signed in, empty metadata", never},
		} {
			t.Run(tc.name, func(t *testing.T) {
				must(t, s.CreateUser(ctx, tc.u), "CreateUser")
				got, err := s.User(ctx, tc.u.UserID)
				must(t, err, "User")
				wantEqual(t, got, tc.u, "User after CreateUser")
				got, err = s.UserByEmail(ctx, tc.u.Connection, tc.u.Email)
				must(t, err, "UserByEmail")
				wantEqual(t, got, tc.u, "UserByEmail after CreateUser")
			})
		}
		list, _, err := s.ListUsers(ctx, storage.UserQuery{}, storage.Page{PerPage: 10})
		must(t, err, "ListUsers")
		wantEqual(t, list, []*users.User{never, noPassword, newUser("u1")}, "ListUsers")
	})

	t.Run("arguments and results are copies", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		u := newUser("u1")
		must(t, s.CreateUser(ctx, u), "CreateUser")
		u.Name = "changed after create"
		u.UserMetadata["prefs"].(map[string]any)["theme"] = "changed"
		u.PasswordHash[0] = 'X'
		got, err := s.User(ctx, "auth0|u1")
		must(t, err, "User")
		wantEqual(t, got, newUser("u1"), "User after changing the created value")
		got.AppMetadata["plan"] = "changed"
		got.UserMetadata["list"].([]any)[0] = "changed"
		got.PasswordHash[0] = 'Y'
		again, err := s.User(ctx, "auth0|u1")
		must(t, err, "User")
		wantEqual(t, again, newUser("u1"), "User after changing a returned value")
	})

	t.Run("create conflicts", func(t *testing.T) {
		otherConnection := newUser("u2")
		otherConnection.Email = "u1@example.com"
		otherConnection.Connection = "Other-Database"
		for _, tc := range []struct {
			name     string
			existing *users.User
			u        *users.User
			conflict bool
		}{
			{"taken user_id", newUser("u1"), func() *users.User { u := newUser("u1"); u.Email = "other@example.com"; return u }(), true},
			{"same e-mail address", newUser("u1"), func() *users.User { u := newUser("u2"); u.Email = "u1@example.com"; return u }(), true},
			{"e-mail address in another case", newUser("u1"), func() *users.User { u := newUser("u2"); u.Email = "U1@Example.COM"; return u }(), true},
			{"non-ASCII e-mail address in another case",
				func() *users.User { u := newUser("u1"); u.Email = "ÅSA@exämple.com"; return u }(),
				func() *users.User { u := newUser("u2"); u.Email = "åsa@EXÄMPLE.com"; return u }(), true},
			{"same e-mail address in another connection", newUser("u1"), otherConnection, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				ctx := t.Context()
				must(t, s.CreateUser(ctx, tc.existing), "CreateUser")
				err := s.CreateUser(ctx, tc.u)
				if !tc.conflict {
					must(t, err, "CreateUser of the second user")
					return
				}
				wantErr(t, err, storage.ErrConflict, "CreateUser of the second user")
				list, total, err := s.ListUsers(ctx, storage.UserQuery{}, storage.Page{PerPage: 10})
				must(t, err, "ListUsers")
				wantEqual(t, list, []*users.User{tc.existing}, "users after the conflict")
				wantEqual(t, total, 1, "total after the conflict")
			})
		}
	})

	t.Run("lookup by e-mail address ignores case, not connection", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		ann := newUser("ann")
		ann.Email = "Ann.Smith@Example.com"
		other := newUser("other")
		other.Email = "ann.smith@example.com"
		other.Connection = "Other-Database"
		must(t, s.CreateUser(ctx, ann), "CreateUser ann")
		must(t, s.CreateUser(ctx, other), "CreateUser other")
		for _, tc := range []struct {
			connection, email string
			want              *users.User
		}{
			{users.DefaultConnection, "Ann.Smith@Example.com", ann},
			{users.DefaultConnection, "ann.smith@example.com", ann},
			{users.DefaultConnection, "ANN.SMITH@EXAMPLE.COM", ann},
			{"Other-Database", "Ann.Smith@example.com", other},
			{users.DefaultConnection, "ann.smith@example.org", nil},
			{"Third-Database", "ann.smith@example.com", nil},
			{users.DefaultConnection, "ann.smith", nil},
		} {
			got, err := s.UserByEmail(ctx, tc.connection, tc.email)
			if tc.want == nil {
				wantErr(t, err, storage.ErrNotFound, "UserByEmail "+tc.connection+" "+tc.email)
				continue
			}
			must(t, err, "UserByEmail "+tc.connection+" "+tc.email)
			wantEqual(t, got, tc.want, "UserByEmail "+tc.connection+" "+tc.email)
		}
	})

	t.Run("missing user is not found", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		before := rbacSnapshot(t, s)
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"User", func() error { _, err := s.User(ctx, "auth0|nope"); return err }},
			{"UserByEmail", func() error { _, err := s.UserByEmail(ctx, users.DefaultConnection, "nope@example.com"); return err }},
			{"UpdateUser", func() error { return s.UpdateUser(ctx, newUser("nope")) }},
			{"DeleteUser", func() error { return s.DeleteUser(ctx, "auth0|nope") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, tc.call(), storage.ErrNotFound, tc.name)
			})
		}
		wantEqual(t, rbacSnapshot(t, s), before, "store after the failed calls")
	})

	t.Run("update replaces everything but connection, created_at and the sign-in record", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			change func(u *users.User)
		}{
			{"profile, metadata and password", func(u *users.User) {
				u.Email = "new@example.org"
				u.EmailVerified = false
				u.Blocked = false
				u.Name = "Renamed"
				u.Nickname = ""
				u.GivenName = "New"
				u.Picture = ""
				u.UserMetadata = map[string]any{"lang": "fr"}
				u.AppMetadata = map[string]any{}
				u.UpdatedAt = created.Add(48 * time.Hour)
				u.PasswordHash = []byte("rehashed\x00")
			}},
			{"password removed", func(u *users.User) { u.PasswordHash = nil }},
			{"e-mail address in another case", func(u *users.User) { u.Email = "U1@EXAMPLE.COM" }},
			{"nothing", func(u *users.User) {}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				ctx := t.Context()
				seedRBAC(t, s)
				before := rbacSnapshot(t, s)
				u := newUser("u1")
				tc.change(u)
				must(t, s.UpdateUser(ctx, u), "UpdateUser")
				got, err := s.User(ctx, "auth0|u1")
				must(t, err, "User")
				wantEqual(t, got, u, "User after UpdateUser")
				got, err = s.UserByEmail(ctx, users.DefaultConnection, u.Email)
				must(t, err, "UserByEmail of the new address")
				wantEqual(t, got, u, "UserByEmail after UpdateUser")
				if u.Email == "new@example.org" {
					_, err = s.UserByEmail(ctx, users.DefaultConnection, "u1@example.com")
					wantErr(t, err, storage.ErrNotFound, "UserByEmail of the old address")
					// The old address is free for another user.
					v := newUser("u9")
					v.Email = "u1@example.com"
					must(t, s.CreateUser(ctx, v), "CreateUser with the old address")
					must(t, s.DeleteUser(ctx, v.UserID), "DeleteUser")
				}
				// Nothing else changed: roles and permissions are kept.
				want := before
				want.Users = []*users.User{u, newUser("u2"), newUser("u3")}
				wantEqual(t, rbacSnapshot(t, s), want, "store after UpdateUser")
			})
		}
	})

	t.Run("update keeps connection, created_at and the sign-in record", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		must(t, s.CreateUser(ctx, newUser("u1")), "CreateUser")
		u := newUser("u1")
		u.Connection = "Other-Database"
		u.CreatedAt = created.Add(-time.Hour)
		u.LastLogin = created.Add(47 * time.Hour)
		u.LastIP = "2001:db8::7"
		u.LoginsCount = 8
		u.Name = "Renamed"
		must(t, s.UpdateUser(ctx, u), "UpdateUser")
		wantEqual(t, u.Connection, "Other-Database", "the caller's value")
		want := newUser("u1")
		want.Name = "Renamed"
		got, err := s.User(ctx, "auth0|u1")
		must(t, err, "User")
		wantEqual(t, got, want, "User after UpdateUser")
		_, err = s.UserByEmail(ctx, "Other-Database", "u1@example.com")
		wantErr(t, err, storage.ErrNotFound, "UserByEmail in the refused connection")
	})

	t.Run("update to a taken e-mail address conflicts", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		before := rbacSnapshot(t, s)
		u := newUser("u1")
		u.Email = "U2@example.com"
		u.Name = "Impostor"
		wantErr(t, s.UpdateUser(ctx, u), storage.ErrConflict, "UpdateUser")
		wantEqual(t, rbacSnapshot(t, s), before, "store after the conflict")
	})

	t.Run("delete removes the user, its roles and permissions only", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		must(t, s.DeleteUser(ctx, "auth0|u1"), "DeleteUser")
		_, err := s.User(ctx, "auth0|u1")
		wantErr(t, err, storage.ErrNotFound, "User after DeleteUser")
		_, err = s.UserByEmail(ctx, users.DefaultConnection, "u1@example.com")
		wantErr(t, err, storage.ErrNotFound, "UserByEmail after DeleteUser")
		want := seededRBAC()
		want.Users = want.Users[1:]
		delete(want.UserRoles, "auth0|u1")
		delete(want.UserPerms, "auth0|u1")
		wantEqual(t, rbacSnapshot(t, s), want, "store after DeleteUser")
		rs, _, err := s.RoleUsers(ctx, "r1", storage.Page{PerPage: 10})
		must(t, err, "RoleUsers r1")
		wantEqual(t, userIDs(rs), []string{}, "users of r1")
		wantEqual(t, len(snapshot(t, s).Clients), 2, "clients after DeleteUser")
		wantErr(t, s.DeleteUser(ctx, "auth0|u1"), storage.ErrNotFound, "DeleteUser again")

		// The user_id and the address are free again, with no roles or
		// permissions.
		must(t, s.CreateUser(ctx, newUser("u1")), "CreateUser after DeleteUser")
		roles, total, err := s.UserRoles(ctx, "auth0|u1", storage.Page{PerPage: 10})
		wantEmptyPage(t, roles, total, err, "roles of the new u1")
		ps, total, err := s.UserPermissions(ctx, "auth0|u1", storage.Page{PerPage: 10})
		wantEmptyPage(t, ps, total, err, "permissions of the new u1")
		eff, err := s.EffectivePermissions(ctx, "auth0|u1", "https://a1")
		must(t, err, "EffectivePermissions of the new u1")
		wantEqual(t, eff, []string{}, "effective permissions of the new u1")
	})

	t.Run("list", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		empty, total, err := s.ListUsers(ctx, storage.UserQuery{}, storage.Page{PerPage: 10})
		must(t, err, "ListUsers of an empty store")
		wantEqual(t, len(empty), 0, "users of an empty store")
		wantEqual(t, total, 0, "total of an empty store")
		for _, id := range []string{"u3", "u1", "u5", "u2", "u4"} {
			must(t, s.CreateUser(ctx, newUser(id)), "CreateUser "+id)
		}
		for _, tc := range []struct {
			name string
			page storage.Page
			want []string
		}{
			{"everything", storage.Page{PerPage: 50}, []string{"auth0|u1", "auth0|u2", "auth0|u3", "auth0|u4", "auth0|u5"}},
			{"first page", storage.Page{PerPage: 2}, []string{"auth0|u1", "auth0|u2"}},
			{"middle page", storage.Page{Page: 1, PerPage: 2}, []string{"auth0|u3", "auth0|u4"}},
			{"short last page", storage.Page{Page: 2, PerPage: 2}, []string{"auth0|u5"}},
			{"past the end", storage.Page{Page: 3, PerPage: 2}, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := s.ListUsers(ctx, storage.UserQuery{}, tc.page)
				must(t, err, "ListUsers")
				for _, u := range got {
					wantEqual(t, u, newUser(u.UserID[len("auth0|"):]), "listed user")
				}
				wantEqual(t, userIDs(got), tc.want, "user_ids")
				wantEqual(t, total, 5, "total")
			})
		}
		for _, p := range []storage.Page{{PerPage: 0}, {Page: -1, PerPage: 1}, {Page: 1, PerPage: 1, From: "auth0|u1"}} {
			if _, _, err := s.ListUsers(ctx, storage.UserQuery{}, p); err == nil {
				t.Errorf("ListUsers(%+v) succeeded, want an error", p)
			}
		}
		byNickDesc := func(a, b *users.User) int { return strings.Compare(b.Nickname, a.Nickname) }
		odd := func(u *users.User) bool { return u.Nickname != "u2" && u.Nickname != "u4" }
		same := func(a, b *users.User) int { return 0 }
		for _, tc := range []struct {
			name      string
			query     storage.UserQuery
			page      storage.Page
			want      []string
			wantTotal int
		}{
			{"matched", storage.UserQuery{Match: odd}, storage.Page{PerPage: 10}, []string{"auth0|u1", "auth0|u3", "auth0|u5"}, 3},
			{"second page matched", storage.UserQuery{Match: odd}, storage.Page{Page: 1, PerPage: 2}, []string{"auth0|u5"}, 3},
			{"sorted", storage.UserQuery{Compare: byNickDesc}, storage.Page{PerPage: 2}, []string{"auth0|u5", "auth0|u4"}, 5},
			{"matched and sorted", storage.UserQuery{Match: odd, Compare: byNickDesc}, storage.Page{PerPage: 10}, []string{"auth0|u5", "auth0|u3", "auth0|u1"}, 3},
			{"ties by user_id", storage.UserQuery{Compare: same}, storage.Page{PerPage: 10}, []string{"auth0|u1", "auth0|u2", "auth0|u3", "auth0|u4", "auth0|u5"}, 5},
			{"from a user", storage.UserQuery{}, storage.Page{PerPage: 2, From: "auth0|u3"}, []string{"auth0|u3", "auth0|u4"}, 3},
			{"matched from a user", storage.UserQuery{Match: odd}, storage.Page{PerPage: 2, From: "auth0|u2"}, []string{"auth0|u3", "auth0|u5"}, 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := s.ListUsers(ctx, tc.query, tc.page)
				must(t, err, "ListUsers")
				wantEqual(t, userIDs(got), tc.want, "user_ids")
				wantEqual(t, total, tc.wantTotal, "total")
			})
		}
		if _, _, err := s.ListUsers(ctx, storage.UserQuery{Compare: byNickDesc}, storage.Page{PerPage: 1, From: "auth0|u1"}); err == nil {
			t.Error("ListUsers sorted from a user succeeded, want an error")
		}
	})
}

func testRoles(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("round trip keeps every field", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		plain := &users.Role{ID: "r2", Name: "plain"}
		for _, r := range []*users.Role{newRole("r1"), plain} {
			must(t, s.CreateRole(ctx, r), "CreateRole")
			got, err := s.Role(ctx, r.ID)
			must(t, err, "Role")
			wantEqual(t, got, r, "Role after CreateRole")
		}
		list, total, err := s.ListRoles(ctx, storage.RoleFilter{}, storage.Page{PerPage: 10})
		must(t, err, "ListRoles")
		wantEqual(t, list, []*users.Role{newRole("r1"), plain}, "ListRoles")
		wantEqual(t, total, 2, "total")
		for filter, want := range map[string][]*users.Role{"ROLE": {newRole("r1")}, "LaI": {plain}, "l": {newRole("r1"), plain}, "nothing": {}} {
			list, total, err := s.ListRoles(ctx, storage.RoleFilter{NameContains: filter}, storage.Page{PerPage: 10})
			must(t, err, "ListRoles "+filter)
			wantEqual(t, list, want, "ListRoles with the name filter "+filter)
			wantEqual(t, total, len(want), "total with the name filter "+filter)
		}
	})

	t.Run("arguments and results are copies", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		r := newRole("r1")
		must(t, s.CreateRole(ctx, r), "CreateRole")
		r.Name = "changed"
		got, err := s.Role(ctx, "r1")
		must(t, err, "Role")
		wantEqual(t, got, newRole("r1"), "Role after changing the created value")
		got.Description = "changed"
		again, err := s.Role(ctx, "r1")
		must(t, err, "Role")
		wantEqual(t, again, newRole("r1"), "Role after changing a returned value")
	})

	t.Run("create conflicts", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			r    *users.Role
		}{
			{"taken id", &users.Role{ID: "r1", Name: "other"}},
			{"taken name", &users.Role{ID: "r9", Name: "Role r1"}},
			{"both taken", newRole("r1")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				ctx := t.Context()
				must(t, s.CreateRole(ctx, newRole("r1")), "CreateRole")
				wantErr(t, s.CreateRole(ctx, tc.r), storage.ErrConflict, "CreateRole again")
				list, _, err := s.ListRoles(ctx, storage.RoleFilter{}, storage.Page{PerPage: 10})
				must(t, err, "ListRoles")
				wantEqual(t, list, []*users.Role{newRole("r1")}, "roles after the conflict")
			})
		}
	})

	t.Run("missing role is not found", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		before := rbacSnapshot(t, s)
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"Role", func() error { _, err := s.Role(ctx, "nope"); return err }},
			{"UpdateRole", func() error { return s.UpdateRole(ctx, newRole("nope")) }},
			{"DeleteRole", func() error { return s.DeleteRole(ctx, "nope") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, tc.call(), storage.ErrNotFound, tc.name)
			})
		}
		wantEqual(t, rbacSnapshot(t, s), before, "store after the failed calls")
	})

	t.Run("update", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		want := seededRBAC()

		// Keeping the name.
		r := newRole("r1")
		r.Description = ""
		must(t, s.UpdateRole(ctx, r), "UpdateRole of the description")
		want.Roles[0] = r.Clone()
		wantEqual(t, rbacSnapshot(t, s), want, "store after UpdateRole of the description")

		// Renaming; the old name is free again.
		r = newRole("r1")
		r.Name = "Renamed"
		must(t, s.UpdateRole(ctx, r), "UpdateRole of the name")
		want.Roles[0] = r.Clone()
		wantEqual(t, rbacSnapshot(t, s), want, "store after UpdateRole of the name")
		must(t, s.CreateRole(ctx, newRole("r0")), "CreateRole with the old name")
		must(t, s.DeleteRole(ctx, "r0"), "DeleteRole")

		// Taking another role's name.
		taken := newRole("r1")
		taken.Name = "Role r2"
		wantErr(t, s.UpdateRole(ctx, taken), storage.ErrConflict, "UpdateRole to a taken name")
		wantEqual(t, rbacSnapshot(t, s), want, "store after the conflict")
	})

	t.Run("delete removes the role, its permissions and assignments only", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seedRBAC(t, s)
		must(t, s.DeleteRole(ctx, "r2"), "DeleteRole")
		_, err := s.Role(ctx, "r2")
		wantErr(t, err, storage.ErrNotFound, "Role after DeleteRole")
		want := seededRBAC()
		want.Roles = []*users.Role{newRole("r1"), newRole("r3")}
		delete(want.RolePerms, "r2")
		want.UserRoles["auth0|u1"] = []string{"r1"}
		want.UserRoles["auth0|u2"] = []string{}
		wantEqual(t, rbacSnapshot(t, s), want, "store after DeleteRole")
		eff, err := s.EffectivePermissions(ctx, "auth0|u2", "https://a1")
		must(t, err, "EffectivePermissions")
		wantEqual(t, eff, []string{"write:things"}, "effective permissions of u2 without r2")
		wantErr(t, s.DeleteRole(ctx, "r2"), storage.ErrNotFound, "DeleteRole again")

		// The id and name are free again, with no permissions or users.
		must(t, s.CreateRole(ctx, newRole("r2")), "CreateRole after DeleteRole")
		ps, total, err := s.RolePermissions(ctx, "r2", storage.Page{PerPage: 10})
		wantEmptyPage(t, ps, total, err, "permissions of the new r2")
		us, total, err := s.RoleUsers(ctx, "r2", storage.Page{PerPage: 10})
		wantEmptyPage(t, us, total, err, "users of the new r2")
	})

	t.Run("list", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		for _, id := range []string{"r3", "r1", "r2"} {
			must(t, s.CreateRole(ctx, newRole(id)), "CreateRole "+id)
		}
		for _, tc := range []struct {
			name string
			page storage.Page
			want []string
		}{
			{"everything", storage.Page{PerPage: 50}, []string{"r1", "r2", "r3"}},
			{"first page", storage.Page{PerPage: 2}, []string{"r1", "r2"}},
			{"last page", storage.Page{Page: 1, PerPage: 2}, []string{"r3"}},
			{"past the end", storage.Page{Page: 5, PerPage: 2}, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := s.ListRoles(ctx, storage.RoleFilter{}, tc.page)
				must(t, err, "ListRoles")
				for _, r := range got {
					wantEqual(t, r, newRole(r.ID), "listed role")
				}
				wantEqual(t, roleIDs(got), tc.want, "ids")
				wantEqual(t, total, 3, "total")
			})
		}
		for _, p := range []storage.Page{{PerPage: 0}, {Page: -1, PerPage: 1}} {
			if _, _, err := s.ListRoles(ctx, storage.RoleFilter{}, p); err == nil {
				t.Errorf("ListRoles(%+v) succeeded, want an error", p)
			}
		}
	})
}
