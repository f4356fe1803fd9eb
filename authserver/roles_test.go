package authserver_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// perm is a permission of a request body.
func perm(identifier, name string) obj {
	return obj{"resource_server_identifier": identifier, "permission_name": name}
}

// permNames returns "identifier name" for each permission of a list.
func permNames(t *testing.T, r reply) []string {
	t.Helper()
	var list []map[string]any
	r.decode(t, &list)
	out := []string{}
	for _, p := range list {
		out = append(out, p["resource_server_identifier"].(string)+" "+p["permission_name"].(string))
	}
	return out
}

// ids returns the values of key in a list response.
func ids(t *testing.T, r reply, key string) []string {
	t.Helper()
	var list []map[string]any
	r.decode(t, &list)
	out := []string{}
	for _, m := range list {
		out = append(out, m[key].(string))
	}
	return out
}

func (e *env) createRole(t *testing.T, name string) string {
	t.Helper()
	var role map[string]any
	e.must(t, "POST", "roles", obj{"name": name, "description": "the " + name}, http.StatusOK, &role)
	id, _ := role["id"].(string)
	if !strings.HasPrefix(id, "rol_") || len(id) != 20 || role["name"] != name || role["description"] != "the "+name {
		t.Fatalf("created role %v", role)
	}
	return id
}

func TestRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createRole(t, "editor")

	var got map[string]any
	e.must(t, "GET", "roles/"+id, nil, http.StatusOK, &got)
	if !jsonEqual(got, obj{"id": id, "name": "editor", "description": "the editor"}) {
		t.Errorf("GET role %v", got)
	}
	e.must(t, "PATCH", "roles/"+id, obj{"description": "edits"}, http.StatusOK, &got)
	if got["name"] != "editor" || got["description"] != "edits" {
		t.Errorf("PATCH role %v", got)
	}
	other := e.createRole(t, "viewer")
	if list := ids(t, e.must(t, "GET", "roles", nil, 200, nil), "id"); !slices.Contains(list, id) || !slices.Contains(list, other) {
		t.Errorf("roles %v", list)
	}
	var paged map[string]any
	e.must(t, "GET", "roles?include_totals=true&per_page=1", nil, 200, &paged)
	if items, _ := paged["roles"].([]any); len(items) != 1 || paged["total"] != 2.0 {
		t.Errorf("paged roles %v", paged)
	}

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code, msg          string
	}{
		{"no name", "POST", "roles", obj{"description": "x"}, 400, "invalid_body", "Missing required property: name"},
		{"blank name", "POST", "roles", obj{"name": "  "}, 400, "invalid_body", "name is required"},
		{"description too long", "POST", "roles", obj{"name": "x", "description": strings.Repeat("d", 141)}, 400, "invalid_body", "description"},
		{"taken name", "POST", "roles", obj{"name": "viewer"}, 409, "conflict", "already exists"},
		{"rename to a taken name", "PATCH", "roles/" + id, obj{"name": "viewer"}, 409, "conflict", "already exists"},
		{"unknown property", "POST", "roles", obj{"name": "x", "permissions": []string{}}, 400, "invalid_body", "Additional properties not allowed: permissions"},
		{"wrong type", "PATCH", "roles/" + id, obj{"name": 1}, 400, "invalid_body", "'Expected type string but found type number' on property name"},
		{"get of none", "GET", "roles/rol_0000000000000000", nil, 404, "inexistent_role", "The role does not exist"},
		{"update of none", "PATCH", "roles/rol_0000000000000000", obj{"name": "y"}, 404, "inexistent_role", "The role does not exist"},
		{"delete of none", "DELETE", "roles/rol_0000000000000000", nil, 404, "inexistent_role", "The role does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.rbacState(t)
			wantMgmtError(t, e.mgmt(t, tc.method, tc.path, tc.body), tc.status, tc.code, tc.msg)
			e.wantRBACUnchanged(t, before)
		})
	}

	e.must(t, "DELETE", "roles/"+other, nil, http.StatusNoContent, nil)
	wantMgmtError(t, e.mgmt(t, "GET", "roles/"+other, nil), 404, "inexistent_role", "The role does not exist")
}

func TestRolePermissionsAndMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	docs := newAudience("docs")
	e.createAPI(t, docs, []string{"read:docs", "write:docs", "delete:docs"}, obj{"name": "Docs"})
	mail := newAudience("mail")
	e.createAPI(t, mail, []string{"send:mail"}, nil)

	editor, reader := e.createRole(t, "editor"), e.createRole(t, "reader")
	ann := e.createUser(t, newEmail("ann"), obj{"name": "Ann", "picture": "https://example.com/a.png"})["user_id"].(string)
	bob := e.createUser(t, newEmail("bob"), nil)["user_id"].(string)

	t.Run("role permissions", func(t *testing.T) {
		e.must(t, "POST", "roles/"+editor+"/permissions", obj{"permissions": []obj{perm(docs, "write:docs"), perm(docs, "read:docs"), perm(docs, "read:docs")}}, http.StatusCreated, nil)
		e.must(t, "POST", "roles/"+reader+"/permissions", obj{"permissions": []obj{perm(docs, "read:docs")}}, http.StatusCreated, nil)
		r := e.must(t, "GET", "roles/"+editor+"/permissions", nil, 200, nil)
		if got := permNames(t, r); !slices.Equal(got, []string{docs + " read:docs", docs + " write:docs"}) {
			t.Errorf("editor's permissions %v", got)
		}
		var list []map[string]any
		r.decode(t, &list)
		if list[0]["resource_server_name"] != "Docs" || list[0]["description"] != "may read:docs" {
			t.Errorf("permission %v lacks the API's name and description", list[0])
		}
		var paged map[string]any
		e.must(t, "GET", "roles/"+editor+"/permissions?include_totals=true&per_page=1&page=1", nil, 200, &paged)
		if items, _ := paged["permissions"].([]any); len(items) != 1 || paged["total"] != 2.0 || paged["start"] != 1.0 {
			t.Errorf("paged permissions %v", paged)
		}
		// Add and remove a permission.
		e.must(t, "POST", "roles/"+editor+"/permissions", obj{"permissions": []obj{perm(docs, "delete:docs")}}, http.StatusCreated, nil)
		e.must(t, "DELETE", "roles/"+editor+"/permissions", obj{"permissions": []obj{perm(docs, "delete:docs")}}, http.StatusNoContent, nil)
		if got := permNames(t, e.must(t, "GET", "roles/"+editor+"/permissions", nil, 200, nil)); len(got) != 2 {
			t.Errorf("after removal: %v", got)
		}
	})

	t.Run("members", func(t *testing.T) {
		// Users to a role, roles to a user.
		e.must(t, "POST", "roles/"+reader+"/users", obj{"users": []string{ann, bob}}, http.StatusOK, nil)
		e.must(t, "POST", userPath(ann)+"/roles", obj{"roles": []string{editor}}, http.StatusOK, nil)
		r := e.must(t, "GET", "roles/"+reader+"/users", nil, 200, nil)
		if got := ids(t, r, "user_id"); !slices.Equal(got, slices.Sorted(slices.Values([]string{ann, bob}))) {
			t.Errorf("reader's users %v", got)
		}
		var members []map[string]any
		e.must(t, "GET", "roles/"+editor+"/users", nil, 200, &members)
		if len(members) != 1 || !jsonEqual(members[0], obj{"user_id": ann, "name": "Ann", "picture": "https://example.com/a.png", "email": members[0]["email"]}) || members[0]["email"] == nil {
			t.Errorf("editor's users %v", members)
		}
		wantNoPassword(t, r, goodPassword)
		if got := ids(t, e.must(t, "GET", userPath(ann)+"/roles", nil, 200, nil), "id"); !slices.Equal(got, slices.Sorted(slices.Values([]string{editor, reader}))) {
			t.Errorf("ann's roles %v", got)
		}
		var paged map[string]any
		e.must(t, "GET", userPath(ann)+"/roles?include_totals=true", nil, 200, &paged)
		if paged["total"] != 2.0 {
			t.Errorf("paged roles %v", paged)
		}
		e.must(t, "GET", "roles/"+reader+"/users?include_totals=true", nil, 200, &paged)
		if paged["total"] != 2.0 {
			t.Errorf("paged users %v", paged)
		}
	})

	t.Run("direct permissions", func(t *testing.T) {
		e.must(t, "POST", userPath(bob)+"/permissions", obj{"permissions": []obj{perm(mail, "send:mail")}}, http.StatusCreated, nil)
		if got := permNames(t, e.must(t, "GET", userPath(bob)+"/permissions", nil, 200, nil)); !slices.Equal(got, []string{mail + " send:mail"}) {
			t.Errorf("bob's permissions %v", got)
		}
	})

	t.Run("effective permissions", func(t *testing.T) {
		e.must(t, "POST", userPath(ann)+"/permissions", obj{"permissions": []obj{perm(docs, "delete:docs"), perm(docs, "read:docs")}}, http.StatusCreated, nil)
		for _, tc := range []struct {
			user, audience string
			want           []string
		}{
			{ann, docs, []string{"delete:docs", "read:docs", "write:docs"}},
			{ann, mail, []string{}},
			{bob, docs, []string{"read:docs"}},
			{bob, mail, []string{"send:mail"}},
		} {
			got, err := e.store.EffectivePermissions(t.Context(), tc.user, tc.audience)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("EffectivePermissions(%s, %s) = %v, %v; want %v", tc.user, tc.audience, got, err, tc.want)
			}
		}
		// Removing a role and a direct permission shows at once.
		e.must(t, "DELETE", userPath(ann)+"/roles", obj{"roles": []string{editor}}, http.StatusNoContent, nil)
		e.must(t, "DELETE", userPath(ann)+"/permissions", obj{"permissions": []obj{perm(docs, "delete:docs")}}, http.StatusNoContent, nil)
		if got, _ := e.store.EffectivePermissions(t.Context(), ann, docs); !slices.Equal(got, []string{"read:docs"}) {
			t.Errorf("after removals: %v", got)
		}
		if got := ids(t, e.must(t, "GET", userPath(ann)+"/roles", nil, 200, nil), "id"); !slices.Equal(got, []string{reader}) {
			t.Errorf("ann's roles %v", got)
		}
	})

	t.Run("refused writes", func(t *testing.T) {
		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			code, msg          string
		}{
			{"undefined scope on a role", "POST", "roles/" + editor + "/permissions", obj{"permissions": []obj{perm(docs, "read:docs"), perm(docs, "admin:docs")}}, 400, "invalid_body", `"admin:docs"`},
			{"unknown API on a role", "POST", "roles/" + editor + "/permissions", obj{"permissions": []obj{perm("https://nowhere.example/", "read:docs")}}, 400, "invalid_body", `"https://nowhere.example/"`},
			{"Management API permission", "POST", "roles/" + editor + "/permissions", obj{"permissions": []obj{perm(e.mgmtAudience(), "read:users")}}, 400, "invalid_body", "Management API"},
			{"undefined scope on a user", "POST", userPath(bob) + "/permissions", obj{"permissions": []obj{perm(mail, "read:mail")}}, 400, "invalid_body", `"read:mail"`},
			{"unknown API on a user", "POST", userPath(bob) + "/permissions", obj{"permissions": []obj{perm("urn:none", "x")}}, 400, "invalid_body", `"urn:none"`},
			{"no permissions", "POST", "roles/" + editor + "/permissions", obj{}, 400, "invalid_body", "Missing required property: permissions"},
			{"empty permissions", "DELETE", "roles/" + editor + "/permissions", obj{"permissions": []obj{}}, 400, "invalid_body", "between 1 and"},
			{"permission without name", "POST", userPath(bob) + "/permissions", obj{"permissions": []obj{{"resource_server_identifier": mail}}}, 400, "invalid_body", "permission_name"},
			{"permission with an unknown property", "POST", "roles/" + editor + "/permissions", obj{"permissions": []obj{{"resource_server_identifier": docs, "permission_name": "read:docs", "x": 1}}}, 400, "invalid_body", "Additional properties not allowed: x"},
			{"permissions of the wrong type", "POST", "roles/" + editor + "/permissions", obj{"permissions": "read:docs"}, 400, "invalid_body", "'Expected type array but found type string' on property permissions"},
			{"permissions of a missing role", "POST", "roles/rol_0000000000000000/permissions", obj{"permissions": []obj{perm(docs, "read:docs")}}, 404, "inexistent_role", "does not exist"},
			{"permissions of a missing user", "POST", userPath("auth0|nobody") + "/permissions", obj{"permissions": []obj{perm(docs, "read:docs")}}, 404, "inexistent_user", "does not exist"},
			{"missing user to a role", "POST", "roles/" + editor + "/users", obj{"users": []string{bob, "auth0|nobody"}}, 404, "inexistent_user", "auth0|nobody"},
			{"users to a missing role", "POST", "roles/rol_0000000000000000/users", obj{"users": []string{bob}}, 404, "inexistent_role", "does not exist"},
			{"missing role to a user", "POST", userPath(bob) + "/roles", obj{"roles": []string{editor, "rol_0000000000000000"}}, 404, "inexistent_role", "rol_0000000000000000"},
			{"roles to a missing user", "POST", userPath("auth0|nobody") + "/roles", obj{"roles": []string{editor}}, 404, "inexistent_user", "does not exist"},
			{"roles of the wrong type", "POST", userPath(bob) + "/roles", obj{"roles": editor}, 400, "invalid_body", "'Expected type array but found type string' on property roles"},
			{"empty role id", "DELETE", userPath(bob) + "/roles", obj{"roles": []string{""}}, 400, "invalid_body", "roles[0]"},
			{"no users", "POST", "roles/" + editor + "/users", obj{"users": []string{}}, 400, "invalid_body", "between 1 and"},
			{"unknown property", "POST", "roles/" + editor + "/users", obj{"users": []string{bob}, "roles": []string{editor}}, 400, "invalid_body", "Additional properties not allowed: roles"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.rbacState(t)
				wantMgmtError(t, e.mgmt(t, tc.method, tc.path, tc.body), tc.status, tc.code, tc.msg)
				e.wantRBACUnchanged(t, before)
			})
		}
	})

	t.Run("deleting a role or a user unlinks it", func(t *testing.T) {
		e.must(t, "DELETE", "roles/"+reader, nil, http.StatusNoContent, nil)
		if got := ids(t, e.must(t, "GET", userPath(bob)+"/roles", nil, 200, nil), "id"); len(got) != 0 {
			t.Errorf("bob's roles after deleting the role: %v", got)
		}
		e.must(t, "DELETE", userPath(bob), nil, http.StatusNoContent, nil)
		wantMgmtError(t, e.mgmt(t, "GET", userPath(bob)+"/permissions", nil), 404, "inexistent_user", "does not exist")
	})
}

var roleEndpoints = []rbacEndpoint{
	{"GET", "roles", "read:roles", 200, nil},
	{"POST", "roles", "create:roles", 200, func(string, string) obj { return obj{"name": uniq("role")} }},
	{"GET", "roles/{role}", "read:roles", 200, nil},
	{"PATCH", "roles/{role}", "update:roles", 200, func(string, string) obj { return obj{"description": "x"} }},
	{"DELETE", "roles/{role}", "delete:roles", 204, nil},
	{"GET", "roles/{role}/permissions", "read:roles", 200, nil},
	{"POST", "roles/{role}/permissions", "update:roles", 201, func(string, string) obj { return obj{"permissions": []obj{perm(gatedAPI, "read:x")}} }},
	{"DELETE", "roles/{role}/permissions", "update:roles", 204, func(string, string) obj { return obj{"permissions": []obj{perm(gatedAPI, "read:x")}} }},
	{"GET", "roles/{role}/users", "read:role_members", 200, nil},
	{"POST", "roles/{role}/users", "create:role_members", 200, func(user, _ string) obj { return obj{"users": []string{user}} }},
	{"GET", "users/{user}/roles", "read:role_members", 200, nil},
	{"POST", "users/{user}/roles", "create:role_members", 200, func(_, role string) obj { return obj{"roles": []string{role}} }},
	{"DELETE", "users/{user}/roles", "delete:role_members", 204, func(_, role string) obj { return obj{"roles": []string{role}} }},
	{"GET", "users/{user}/permissions", "read:users", 200, nil},
	{"POST", "users/{user}/permissions", "update:users", 201, func(string, string) obj { return obj{"permissions": []obj{perm(gatedAPI, "read:x")}} }},
	{"DELETE", "users/{user}/permissions", "update:users", 204, func(string, string) obj { return obj{"permissions": []obj{perm(gatedAPI, "read:x")}} }},
}

// gatedAPI is the API whose permissions roleEndpoints assign.
const gatedAPI = "https://gated.example/"

func TestRoleScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createAPI(t, gatedAPI, []string{"read:x"}, nil)
	testScopeGating(t, e, roleEndpoints, e.rbacState, func(t *testing.T) (string, string) {
		return e.createUser(t, newEmail("scoped"), nil)["user_id"].(string), e.createRole(t, uniq("role"))
	})
}
