package authserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// goodPassword passes the default password policy.
const goodPassword = "Corr3ct-Horse-Battery"

// createUser creates a database user with email and goodPassword, plus
// fields, and returns it.
func (e *env) createUser(t *testing.T, email string, fields obj) map[string]any {
	t.Helper()
	body := obj{"email": email, "password": goodPassword, "connection": "Username-Password-Authentication"}
	for k, v := range fields {
		body[k] = v
	}
	var u map[string]any
	r := e.must(t, "POST", "users", body, http.StatusCreated, &u)
	wantNoPassword(t, r, goodPassword)
	return u
}

// newEmail returns an e-mail address no other call returns.
func newEmail(prefix string) string { return uniq(prefix) + "@example.com" }

// userPath is the path of a user, with its id escaped as SDKs send it.
func userPath(id string) string { return "users/" + url.PathEscape(id) }

// passwordKey matches a JSON property named after a password.
var passwordKey = regexp.MustCompile(`(?i)"[a-z_]*password[a-z_]*"\s*:`)

// wantNoPassword fails if a response holds the password, its hash, or any
// property about a password.
func wantNoPassword(t *testing.T, r reply, password string) {
	t.Helper()
	body := string(r.body)
	if strings.Contains(body, password) || strings.Contains(body, "argon2") || passwordKey.MatchString(body) {
		t.Errorf("response shows a password: %s", body)
	}
}

// userLinks are the lists under a user that rbacState takes in, and
// withRoles whether it takes in roles and their lists.
var (
	userLinks = []string{"roles", "permissions"}
	withRoles = true
)

// rbacState is every user (with its password hash), and, once there are
// roles, what they are linked to: what a refused write must leave as it
// was.
func (e *env) rbacState(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	var list []map[string]any
	b.Write(e.must(t, "GET", "users?per_page=100", nil, http.StatusOK, &list).body)
	b.WriteByte('\n')
	for _, u := range list {
		id := u["user_id"].(string)
		stored, err := e.store.User(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s hash %s\n", id, stored.PasswordHash)
		for _, sub := range userLinks {
			b.Write(e.must(t, "GET", userPath(id)+"/"+sub+"?per_page=100", nil, http.StatusOK, nil).body)
			b.WriteByte('\n')
		}
	}
	if withRoles {
		var roles []map[string]any
		b.Write(e.must(t, "GET", "roles?per_page=100", nil, http.StatusOK, &roles).body)
		b.WriteByte('\n')
		for _, r := range roles {
			for _, sub := range []string{"permissions", "users"} {
				b.Write(e.must(t, "GET", "roles/"+r["id"].(string)+"/"+sub+"?per_page=100", nil, http.StatusOK, nil).body)
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

func (e *env) wantRBACUnchanged(t *testing.T, before string) {
	t.Helper()
	wantSameState(t, before, e.rbacState(t))
}

func TestUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	u := e.createUser(t, "Ann.Smith@Example.com", obj{
		"email_verified": true, "given_name": "Ann", "family_name": "Smith",
		"picture": "https://example.com/ann.png", "user_metadata": obj{"lang": "nl", "theme": "dark"},
		"app_metadata": obj{"plan": "gold"},
	})
	id, _ := u["user_id"].(string)
	if !strings.HasPrefix(id, "auth0|") || len(id) != len("auth0|")+24 {
		t.Fatalf("user_id %q, want auth0| and 24 hex digits", id)
	}
	for k, want := range map[string]any{
		"email": "Ann.Smith@Example.com", "email_verified": true, "blocked": false, "name": "Ann.Smith@Example.com",
		"nickname": "Ann.Smith", "given_name": "Ann", "family_name": "Smith", "picture": "https://example.com/ann.png",
		"connection": "Username-Password-Authentication", "logins_count": 0.0,
	} {
		if u[k] != want {
			t.Errorf("%s = %v, want %v", k, u[k], want)
		}
	}
	ids, _ := u["identities"].([]any)
	if len(ids) != 1 || !jsonEqual(ids[0], obj{"connection": "Username-Password-Authentication", "user_id": strings.TrimPrefix(id, "auth0|"), "provider": "auth0", "isSocial": false}) {
		t.Errorf("identities %v", u["identities"])
	}
	for _, k := range []string{"created_at", "updated_at"} {
		if s, _ := u[k].(string); s == "" {
			t.Errorf("no %s", k)
		}
	}
	stored, err := e.store.User(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := users.VerifyPassword(stored.PasswordHash, goodPassword); !ok || err != nil {
		t.Fatalf("stored hash does not verify the password: %v %v", ok, err)
	}

	t.Run("get, escaped or not", func(t *testing.T) {
		for _, path := range []string{userPath(id), "users/" + id, "users/" + strings.Replace(id, "|", "%7c", 1)} {
			var got map[string]any
			r := e.must(t, "GET", path, nil, http.StatusOK, &got)
			wantNoPassword(t, r, goodPassword)
			if !jsonEqual(got, u) {
				t.Errorf("GET %s = %v, want %v", path, got, u)
			}
		}
		wantMgmtError(t, e.mgmt(t, "GET", userPath("auth0|nobody"), nil), 404, "inexistent_user", "The user does not exist")
	})

	t.Run("chosen user_id", func(t *testing.T) {
		c := e.createUser(t, newEmail("chosen"), obj{"user_id": "auth0|legacy-42"})
		if c["user_id"] != "auth0|legacy-42" {
			t.Errorf("user_id %v", c["user_id"])
		}
		wantMgmtError(t, e.mgmt(t, "POST", "users", obj{"email": newEmail("again"), "password": goodPassword,
			"connection": "Username-Password-Authentication", "user_id": "auth0|legacy-42"}), 409, "conflict", "The user already exists.")
		e.must(t, "DELETE", userPath("auth0|legacy-42"), nil, http.StatusNoContent, nil)
	})

	t.Run("list", func(t *testing.T) {
		var list []map[string]any
		r := e.must(t, "GET", "users", nil, http.StatusOK, &list)
		wantNoPassword(t, r, goodPassword)
		if !slices.ContainsFunc(list, func(m map[string]any) bool { return jsonEqual(m, u) }) {
			t.Errorf("list %s lacks the user", r.body)
		}
		var paged map[string]any
		e.must(t, "GET", "users?include_totals=true&per_page=1&page=0", nil, http.StatusOK, &paged)
		if items, _ := paged["users"].([]any); len(items) != 1 || paged["total"] == nil || paged["limit"] != 1.0 || paged["start"] != 0.0 {
			t.Errorf("paged list %v", paged)
		}
		wantMgmtError(t, e.mgmt(t, "GET", "users?q=nickname:x", nil), 400, "invalid_query_string", `field "nickname" is not searchable`)
	})

	t.Run("update", func(t *testing.T) {
		var got map[string]any
		r := e.must(t, "PATCH", userPath(id), obj{
			"name": "Ann S.", "blocked": true, "family_name": nil,
			"user_metadata": obj{"theme": nil, "tz": "CET"}, "connection": "Username-Password-Authentication",
		}, http.StatusOK, &got)
		wantNoPassword(t, r, goodPassword)
		if got["name"] != "Ann S." || got["blocked"] != true || hasKey(got, "family_name") || got["given_name"] != "Ann" {
			t.Errorf("updated user %v", got)
		}
		if !jsonEqual(got["user_metadata"], obj{"lang": "nl", "tz": "CET"}) || !jsonEqual(got["app_metadata"], obj{"plan": "gold"}) {
			t.Errorf("metadata after merge: %v %v", got["user_metadata"], got["app_metadata"])
		}
		if got["created_at"] != u["created_at"] {
			t.Errorf("created_at changed")
		}
		if !jsonEqual(e.must(t, "GET", userPath(id), nil, 200, nil).object(t), got) {
			t.Error("GET differs from the PATCH response")
		}

		const newPassword = "An0ther-Secret-Phrase"
		r = e.must(t, "PATCH", userPath(id), obj{"password": newPassword}, http.StatusOK, nil)
		wantNoPassword(t, r, newPassword)
		after, err := e.store.User(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := users.VerifyPassword(after.PasswordHash, newPassword); !ok {
			t.Error("the new password does not verify")
		}
		if ok, _ := users.VerifyPassword(after.PasswordHash, goodPassword); ok {
			t.Error("the old password still verifies")
		}

		other := e.createUser(t, newEmail("other"), nil)
		r = e.must(t, "PATCH", userPath(other["user_id"].(string)), obj{"email": "renamed-" + other["email"].(string)}, http.StatusOK, nil)
		if r.object(t)["email"] != "renamed-"+other["email"].(string) {
			t.Errorf("email not changed: %s", r)
		}
	})

	t.Run("refused writes", func(t *testing.T) {
		taken := e.createUser(t, newEmail("taken"), nil)
		takenID, takenEmail := taken["user_id"].(string), taken["email"].(string)
		create := func(fields obj) obj {
			b := obj{"email": newEmail("new"), "password": goodPassword, "connection": "Username-Password-Authentication"}
			for k, v := range fields {
				if v == nil {
					delete(b, k)
				} else {
					b[k] = v
				}
			}
			return b
		}
		const weak = "Sh0rt!"
		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			code, msg          string
		}{
			{"weak password", "POST", "users", create(obj{"password": weak}), 400, "invalid_body", "PasswordStrengthError: Password is too weak"},
			{"weak password on update", "PATCH", userPath(takenID), obj{"password": weak}, 400, "invalid_body", "at least 8 characters"},
			{"empty password", "POST", "users", create(obj{"password": ""}), 400, "invalid_body", "PasswordStrengthError"},
			{"no password", "POST", "users", create(obj{"password": nil}), 400, "invalid_body", "Missing required property: password"},
			{"no email", "POST", "users", create(obj{"email": nil}), 400, "invalid_body", "Missing required property: email"},
			{"no connection", "POST", "users", create(obj{"connection": nil}), 400, "invalid_body", "Missing required property: connection"},
			{"other connection", "POST", "users", create(obj{"connection": "google-oauth2"}), 400, "invalid_body", "connection must be Username-Password-Authentication"},
			{"change of connection", "PATCH", userPath(takenID), obj{"connection": "other-db"}, 400, "invalid_body", "connection cannot be changed"},
			{"change of user_id", "PATCH", userPath(takenID), obj{"user_id": "auth0|x"}, 400, "invalid_body", "user_id cannot be changed"},
			{"duplicate email", "POST", "users", create(obj{"email": takenEmail}), 409, "conflict", "The user already exists."},
			{"duplicate email in another case", "POST", "users", create(obj{"email": strings.ToUpper(takenEmail)}), 409, "conflict", "The user already exists."},
			{"email taken on update", "PATCH", userPath(id), obj{"email": strings.ToUpper(takenEmail)}, 409, "conflict", "The user already exists."},
			{"invalid email", "POST", "users", create(obj{"email": "not an address"}), 400, "invalid_body", "email"},
			{"user_id of another provider", "POST", "users", create(obj{"user_id": "google-oauth2|1"}), 400, "invalid_body", "user_id"},
			{"reserved app_metadata", "POST", "users", create(obj{"app_metadata": obj{"clientID": "x"}}), 400, "invalid_body", "app_metadata"},
			{"metadata key with a dot", "PATCH", userPath(takenID), obj{"user_metadata": obj{"a.b": 1}}, 400, "invalid_body", "user_metadata"},
			{"picture not a URL", "PATCH", userPath(takenID), obj{"picture": "me.png"}, 400, "invalid_body", "picture"},
			{"unknown property", "POST", "users", create(obj{"username": "ann"}), 400, "invalid_body", "Additional properties not allowed: username"},
			{"unknown property on update", "PATCH", userPath(takenID), obj{"verify_email": true}, 400, "invalid_body", "Additional properties not allowed: verify_email"},
			{"wrong type", "POST", "users", create(obj{"email_verified": "yes"}), 400, "invalid_body", "'Expected type boolean but found type string' on property email_verified"},
			{"wrong type of metadata", "PATCH", userPath(takenID), obj{"user_metadata": "x"}, 400, "invalid_body", "user_metadata"},
			{"malformed", "POST", "users", `{"email":`, 400, "invalid_body", "Invalid request payload JSON format"},
			{"update of nobody", "PATCH", userPath("auth0|nobody"), obj{"name": "x"}, 404, "inexistent_user", "The user does not exist"},
			{"delete of nobody", "DELETE", userPath("auth0|nobody"), nil, 404, "inexistent_user", "The user does not exist"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.rbacState(t)
				r := e.mgmt(t, tc.method, tc.path, tc.body)
				wantMgmtError(t, r, tc.status, tc.code, tc.msg)
				wantNoPassword(t, r, weak)
				wantNoPassword(t, r, goodPassword)
				e.wantRBACUnchanged(t, before)
			})
		}
	})

	t.Run("delete", func(t *testing.T) {
		gone := e.createUser(t, newEmail("gone"), nil)["user_id"].(string)
		e.must(t, "DELETE", userPath(gone), nil, http.StatusNoContent, nil)
		wantMgmtError(t, e.mgmt(t, "GET", userPath(gone), nil), 404, "inexistent_user", "The user does not exist")
		// The address is free again.
		e.createUser(t, "Ann.Smith+again@Example.com", nil)
	})
}

// rbacEndpoint is one endpoint of users, roles and permissions, for scope
// gating: path holds {user} and {role}, expanded for a fresh user and
// role.
type rbacEndpoint struct {
	method, path, scope string
	ok                  int
	body                func(user, role string) obj
}

var userEndpoints = []rbacEndpoint{
	{"GET", "users", "read:users", 200, nil},
	{"POST", "users", "create:users", 201, func(string, string) obj {
		return obj{"email": newEmail("gated"), "password": goodPassword, "connection": "Username-Password-Authentication"}
	}},
	{"GET", "users/{user}", "read:users", 200, nil},
	{"GET", "users-by-email?email=someone%40example.com", "read:users", 200, nil},
	{"PATCH", "users/{user}", "update:users", 200, func(string, string) obj { return obj{"name": "x"} }},
	{"DELETE", "users/{user}", "delete:users", 204, nil},
}

// testScopeGating checks that each endpoint refuses a token with every
// scope but its own, changing nothing that state takes in, and takes one
// with only its own.
func testScopeGating(t *testing.T, e *env, eps []rbacEndpoint, state func(t *testing.T) string, fixture func(t *testing.T) (user, role string)) {
	for _, ep := range eps {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			user, role := fixture(t)
			path := "api/v2/" + strings.NewReplacer("{user}", url.PathEscape(user), "{role}", role).Replace(ep.path)
			call := func(token string) reply {
				req := request{method: ep.method, path: path, auth: "Bearer " + token}
				if ep.body != nil {
					req.body = ep.body(user, role)
				}
				return e.do(t, req)
			}
			others := slices.DeleteFunc(slices.Clone(mgmtScopes), func(s string) bool { return s == ep.scope })
			before := state(t)
			r := call(e.token(t, e.admin, e.mgmtAudience(), others...).AccessToken)
			wantMgmtError(t, r, http.StatusForbidden, "insufficient_scope", "Insufficient scope, expected any of: "+ep.scope)
			wantSameState(t, before, state(t))
			if r := call(e.token(t, e.admin, e.mgmtAudience(), ep.scope).AccessToken); r.status != ep.ok {
				t.Errorf("with only %s: %s, want %d", ep.scope, r, ep.ok)
			}
		})
	}
}

func TestUserScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	testScopeGating(t, e, userEndpoints, e.rbacState, func(t *testing.T) (string, string) {
		return e.createUser(t, newEmail("scoped"), nil)["user_id"].(string), ""
	})
}

// The configured password policy decides which passwords the Management
// API takes; a policy that is not one stops the server from starting.
func TestConfiguredPasswordPolicy(t *testing.T) {
	e := newEnvWith(t, func(c *authserver.Config) {
		c.PasswordPolicy = users.PasswordPolicy{Strength: users.StrengthExcellent, MinLength: 12, NoPersonalInfo: true}
	})
	for _, tc := range []struct {
		password string
		status   int
		msg      string
	}{
		{"Sh0rt!pass", 400, "at least 12 characters"},
		{"alllowercaseletters", 400, "at least 3 of"},
		{"Maaargaret-1234", 400, "more than twice in a row"},
		{"margaret-Hamilton-1969", 400, "must not contain the user's name"},
		{"Apollo-Guidance-1969", 201, ""},
	} {
		r := e.mgmt(t, "POST", "users", obj{"email": newEmail("margaret"), "password": tc.password, "connection": "Username-Password-Authentication", "name": "Margaret"})
		if tc.status == 201 {
			if r.status != 201 {
				t.Errorf("password %q: %s, want 201", tc.password, r)
			}
			continue
		}
		wantMgmtError(t, r, tc.status, "invalid_body", tc.msg)
	}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "bad.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = authserver.New(t.Context(), authserver.Config{Issuer: "https://auth.example/", Store: st, PasswordPolicy: users.PasswordPolicy{Strength: "mighty"}})
	if err == nil || !strings.Contains(err.Error(), "strength must be one of") {
		t.Errorf("a bad policy: %v", err)
	}
}
