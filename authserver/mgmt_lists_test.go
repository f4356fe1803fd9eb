package authserver_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkpointPage is one page of a list paged by checkpoint.
type checkpointPage struct {
	ids  []string
	next string
}

// getCheckpointPage reads one checkpoint page of path (whose query is
// query), checking that the body holds the items under key, next when
// there is one, and nothing else.
func (e *env) getCheckpointPage(t *testing.T, path, query, key, id string) checkpointPage {
	t.Helper()
	var body map[string]any
	e.must(t, "GET", path+"?"+query, nil, http.StatusOK, &body)
	items, ok := body[key].([]any)
	next, _ := body["next"].(string)
	want := 1
	if next != "" {
		want = 2
	}
	if !ok || len(body) != want {
		t.Fatalf("%s?%s: %v, want {%s: [...], next} or {%s: [...]}", path, query, body, key, key)
	}
	var page checkpointPage
	for _, it := range items {
		page.ids = append(page.ids, it.(map[string]any)[id].(string))
	}
	page.next = next
	return page
}

// walkCheckpoints follows a checkpoint list from its first page to its
// last, as auth0@7 does (include_totals=true&take=n, then from=next), and
// returns the ids in the order seen; between pages it calls between with
// the number of pages read.
func (e *env) walkCheckpoints(t *testing.T, path, key, id string, take int, between func(pages int)) []string {
	t.Helper()
	var seen []string
	query := "include_totals=true&take=" + strconv.Itoa(take)
	for pages := 1; ; pages++ {
		page := e.getCheckpointPage(t, path, query, key, id)
		if len(page.ids) > take || (page.next != "" && len(page.ids) != take) {
			t.Fatalf("page %d holds %d items (next %q), want %d", pages, len(page.ids), page.next, take)
		}
		seen = append(seen, page.ids...)
		if page.next == "" {
			return seen
		}
		if pages > 100 {
			t.Fatal("the list does not end")
		}
		between(pages)
		query = "include_totals=true&take=" + strconv.Itoa(take) + "&from=" + url.QueryEscape(page.next)
	}
}

// listIDs returns the ids of a plain list.
func (e *env) listIDs(t *testing.T, path, id string) []string {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return ids(t, e.must(t, "GET", path+sep+"per_page=100", nil, http.StatusOK, nil), id)
}

// Auth0's checkpoint pagination (from, take → {items, next}) on the lists
// that offer it: clients, client grants and a role's users. auth0@7 sends
// include_totals=true&take=50 on every call of clientGrants.list and
// roles.users.list.
func TestCheckpointPagination(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, e *env) {
		role := e.createRole(t, uniq("members"))
		var members []string
		for range 5 {
			u := e.createUser(t, newEmail("member"), nil)["user_id"].(string)
			members = append(members, u)
		}
		e.must(t, "POST", "roles/"+role+"/users", obj{"users": members}, http.StatusOK, nil)
		for range 4 { // with the bootstrap admin's grant, 5 grants
			e.newFixture(t, "checkpoint")
		}
		lists := []struct {
			path, key, id string
			insert        func(t *testing.T)
			remove        func(t *testing.T, id string)
		}{
			{"client-grants", "client_grants", "id",
				func(t *testing.T) { e.newFixture(t, "inserted") },
				func(t *testing.T, id string) {
					e.must(t, "DELETE", "client-grants/"+id, nil, http.StatusNoContent, nil)
				}},
			{"roles/" + role + "/users", "users", "user_id",
				func(t *testing.T) {
					u := e.createUser(t, newEmail("inserted"), nil)["user_id"].(string)
					e.must(t, "POST", "roles/"+role+"/users", obj{"users": []string{u}}, http.StatusOK, nil)
				},
				func(t *testing.T, id string) {
					e.must(t, "DELETE", userPath(id), nil, http.StatusNoContent, nil)
				}},
			// Last: deleting a client deletes its grants.
			{"clients", "clients", "client_id",
				func(t *testing.T) { e.createClient(t, obj{"name": "inserted", "app_type": "non_interactive"}) },
				func(t *testing.T, id string) {
					e.must(t, "DELETE", "clients/"+id, nil, http.StatusNoContent, nil)
				}},
		}
		// The admin and its grant stay, or the test loses its access.
		keep := append(e.listIDs(t, "client-grants?client_id="+e.admin.ClientID, "id"), e.admin.ClientID)
		for _, l := range lists {
			t.Run(l.key, func(t *testing.T) {
				all := e.listIDs(t, l.path, l.id)
				if len(all) < 5 {
					t.Fatalf("the list holds %d items, want at least 5", len(all))
				}
				for _, take := range []int{1, 2, len(all), 50} {
					if got := e.walkCheckpoints(t, l.path, l.key, l.id, take, func(int) {}); !slices.Equal(got, all) {
						t.Errorf("take=%d: the pages hold %v, want %v", take, got, all)
					}
				}
				if p := e.getCheckpointPage(t, l.path, "take=100", l.key, l.id); !slices.Equal(p.ids, all) || p.next != "" {
					t.Errorf("take=100 without include_totals: %+v, want every item and no next", p)
				}

				// Items inserted while a client walks the list never make it
				// skip or repeat one that was there throughout.
				before := all
				got := e.walkCheckpoints(t, l.path, l.key, l.id, 2, func(int) { l.insert(t) })
				for _, id := range before {
					if n := count(got, id); n != 1 {
						t.Errorf("%s was listed %d times while items were inserted; pages %v", id, n, got)
					}
				}
				if kept := slices.DeleteFunc(slices.Clone(got), func(id string) bool { return !slices.Contains(before, id) }); !slices.Equal(kept, before) {
					t.Errorf("the items listed before the inserts come in the order %v, want %v", kept, before)
				}

				// The item a checkpoint names may be deleted before it is
				// used: the list goes on from the next one.
				all = e.listIDs(t, l.path, l.id)
				k := slices.IndexFunc(all[1:len(all)-1], func(id string) bool { return !slices.Contains(keep, id) }) + 1
				first := e.getCheckpointPage(t, l.path, "take="+strconv.Itoa(k), l.key, l.id)
				l.remove(t, all[k])
				rest := e.getCheckpointPage(t, l.path, "take=2&from="+url.QueryEscape(first.next), l.key, l.id)
				if len(rest.ids) == 0 || rest.ids[0] != all[k+1] {
					t.Errorf("from a deleted item: %v, want to start at %s", rest.ids, all[k+1])
				}
			})
		}

		t.Run("walks while members are added at once", func(t *testing.T) {
			const rounds, perRound = 20, 2
			var outsiders []string
			for range rounds * perRound {
				outsiders = append(outsiders, e.createUser(t, newEmail("outsider"), nil)["user_id"].(string))
			}
			path := "roles/" + role + "/users"
			for round := range rounds {
				before := e.listIDs(t, path, "user_id")
				done := make(chan struct{})
				go func() {
					defer close(done)
					for _, u := range outsiders[round*perRound : (round+1)*perRound] {
						if r := e.mgmt(t, "POST", path, obj{"users": []string{u}}); r.status != http.StatusOK {
							t.Errorf("assigning %s: %s", u, r)
						}
					}
				}()
				got := e.walkCheckpoints(t, path, "users", "user_id", 2, func(int) {})
				<-done
				kept := slices.DeleteFunc(slices.Clone(got), func(id string) bool { return !slices.Contains(before, id) })
				if !slices.Equal(kept, before) {
					t.Fatalf("round %d: the members there throughout were listed as %v, want %v", round, kept, before)
				}
				if after := e.listIDs(t, path, "user_id"); len(got) > len(after) {
					t.Fatalf("round %d: %d members listed, more than the %d there are", round, len(got), len(after))
				}
			}
		})

		t.Run("bounds", func(t *testing.T) {
			next := e.getCheckpointPage(t, "client-grants", "take=1", "client_grants", "id").next
			for _, path := range []string{"clients", "client-grants", "roles/" + role + "/users"} {
				for _, tc := range []struct{ query, msg string }{
					{"take=0", "take must be between 1 and 100"},
					{"take=101", "take must be between 1 and 100"},
					{"take=-1", "Expected type integer of at least 0' on property take"},
					{"take=x", "Expected type integer of at least 0' on property take"},
					{"take=1&take=2", "Parameter take is repeated"},
					{"from=nope", "'from' is not a checkpoint"},
					{"from=", "'from' is not a checkpoint"},
					{"from=" + base64.RawURLEncoding.EncodeToString([]byte("cp1:")), "'from' is not a checkpoint"},
					{"from=" + base64.RawURLEncoding.EncodeToString([]byte("cgr_123")), "'from' is not a checkpoint"},
					{"from=" + url.QueryEscape(next) + "&page=1", "cannot be combined with page and per_page"},
					{"take=2&per_page=2", "cannot be combined with page and per_page"},
					{"per_page=101", "per_page must be between 1 and 100"},
					{"page=-1", "Expected type integer of at least 0' on property page"},
				} {
					wantMgmtError(t, e.mgmt(t, "GET", path+"?"+tc.query, nil), 400, "invalid_query_string", tc.msg)
				}
			}
			wantMgmtError(t, e.mgmt(t, "GET", "roles/rol_0000000000000000/users?take=2", nil), 404, "inexistent_role", "role")
			// The other lists take no checkpoints, as on Auth0.
			for _, path := range []string{"resource-servers", "users", "roles", "roles/" + role + "/permissions"} {
				wantMgmtError(t, e.mgmt(t, "GET", path+"?take=2", nil), 400, "invalid_query_string", "Additional properties not allowed: take")
				wantMgmtError(t, e.mgmt(t, "GET", path+"?from="+url.QueryEscape(next), nil), 400, "invalid_query_string", "Additional properties not allowed: from")
			}
		})
	})
}

func count(list []string, v string) int {
	n := 0
	for _, s := range list {
		if s == v {
			n++
		}
	}
	return n
}

// clients?app_type=…&is_first_party=…&is_global=…, with both kinds of
// pagination.
func TestClientListFilters(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, e *env) {
		spa := e.createClient(t, obj{"name": "spa", "app_type": "spa"}).ClientID
		web := e.createClient(t, obj{"name": "web", "app_type": "regular_web", "is_first_party": false}).ClientID
		native := e.createClient(t, obj{"name": "native", "app_type": "native"}).ClientID
		all := e.listIDs(t, "clients", "client_id")
		if len(all) != 4 { // with the bootstrap admin
			t.Fatalf("clients %v, want 4", all)
		}
		sorted := func(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }
		others := slices.DeleteFunc(slices.Clone(all), func(id string) bool { return id == web })
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"app_type=spa", []string{spa}},
			{"app_type=spa,regular_web", sorted(spa, web)},
			{"app_type=native,%20spa", sorted(native, spa)},
			{"is_first_party=false", []string{web}},
			{"is_first_party=true", others},
			{"app_type=regular_web&is_first_party=true", []string{}},
			{"is_global=false", all},
			{"is_global=true", []string{}},
			{"app_type=spa,regular_web,native&fields=client_id", sorted(spa, web, native)},
		} {
			if got := e.listIDs(t, "clients?"+tc.query, "client_id"); !slices.Equal(got, tc.want) {
				t.Errorf("clients?%s: %v, want %v", tc.query, got, tc.want)
			}
		}
		var page map[string]any
		e.must(t, "GET", "clients?app_type=spa,regular_web,native&include_totals=true&per_page=2&page=1", nil, http.StatusOK, &page)
		if items, _ := page["clients"].([]any); len(items) != 1 || !jsonEqual(page["total"], 3) || !jsonEqual(page["start"], 2) {
			t.Errorf("second page of the filtered clients: %v, want 1 of 3 from 2", page)
		}
		for _, tc := range []struct{ query, msg string }{
			{"app_type=bogus", `app_type "bogus" is not one of native, spa, regular_web, non_interactive`},
			{"app_type=spa,", `app_type "" is not one of`},
			{"is_first_party=maybe", "Expected type boolean' on property is_first_party"},
			{"is_global=2", "Expected type boolean' on property is_global"},
			{"app_type=spa&app_type=native", "Parameter app_type is repeated"},
		} {
			wantMgmtError(t, e.mgmt(t, "GET", "clients?"+tc.query, nil), 400, "invalid_query_string", tc.msg)
		}
	})
}

// roles?name_filter=… matches names containing the filter, in any case.
func TestRoleNameFilter(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, e *env) {
		editor := e.createRole(t, "Site Editor")
		editorial := e.createRole(t, "editorial board")
		e.createRole(t, "Reader")
		want := slices.Sorted(slices.Values([]string{editor, editorial}))
		if got := e.listIDs(t, "roles?name_filter=EDITOR", "id"); !slices.Equal(got, want) {
			t.Errorf("name_filter=EDITOR: %v, want %v", got, want)
		}
		if got := e.listIDs(t, "roles?name_filter=nobody", "id"); len(got) != 0 {
			t.Errorf("name_filter=nobody: %v, want none", got)
		}
		if got := e.listIDs(t, "roles?name_filter=", "id"); len(got) != 3 {
			t.Errorf("an empty name_filter: %v, want every role", got)
		}
		var page map[string]any
		e.must(t, "GET", "roles?name_filter=edit&include_totals=true&per_page=1", nil, http.StatusOK, &page)
		if items, _ := page["roles"].([]any); len(items) != 1 || !jsonEqual(page["total"], 2) {
			t.Errorf("a page of the filtered roles: %v, want 1 of 2", page)
		}
	})
}

// users?q=…&search_engine=v3 in the documented subset, sort, and fields on
// the list and on one user.
func TestUserSearch(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, e *env) {
		ann := e.createUser(t, "Ann.Smith@Example.com", obj{"name": "Ann Smith", "email_verified": true,
			"app_metadata": obj{"plan": "gold", "seats": 5, "org": obj{"id": "o-1"}, "tags": []string{"vip"}}})["user_id"].(string)
		e.skew.Add(int64(time.Second)) // created_at orders them
		bob := e.createUser(t, "bob@example.com", obj{"name": "Bob", "app_metadata": obj{"plan": "Gold"}})["user_id"].(string)
		e.skew.Add(int64(time.Second))
		cat := e.createUser(t, "cat@example.com", obj{"name": "cat", "app_metadata": obj{"plan": "silver"}})["user_id"].(string)
		sorted := func(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }
		for _, tc := range []struct {
			q    string
			want []string
		}{
			{`email:"ann.smith@example.com"`, []string{ann}},
			{`email:BOB@EXAMPLE.COM`, []string{bob}},
			{`name:"ann smith"`, []string{ann}},
			{`user_id:"` + bob + `"`, []string{bob}},
			{`email_verified:true`, []string{ann}},
			{`email_verified:false`, sorted(bob, cat)},
			{`app_metadata.plan:gold`, []string{ann}},
			{`app_metadata.plan:"Gold" OR app_metadata.plan:silver`, sorted(bob, cat)},
			{`app_metadata.seats:5 AND app_metadata.org.id:"o-1"`, []string{ann}},
			{`app_metadata.tags:vip`, []string{ann}},
			{`(name:bob OR name:cat) AND email_verified:false`, sorted(bob, cat)},
			{`app_metadata.plan:platinum`, []string{}},
		} {
			for _, engine := range []string{"&search_engine=v3", ""} {
				path := "users?q=" + url.QueryEscape(tc.q) + engine
				if got := e.listIDs(t, path, "user_id"); !slices.Equal(got, tc.want) {
					t.Errorf("%s: %v, want %v", path, got, tc.want)
				}
			}
		}
		var page map[string]any
		e.must(t, "GET", "users?q="+url.QueryEscape("email_verified:false")+"&search_engine=v3&include_totals=true&per_page=1&page=1", nil, http.StatusOK, &page)
		if items, _ := page["users"].([]any); len(items) != 1 || !jsonEqual(page["total"], 2) || items[0].(map[string]any)["user_id"] != sorted(bob, cat)[1] {
			t.Errorf("second page of a search: %v", page)
		}

		for _, tc := range []struct {
			sort string
			want []string
		}{
			{"email:1", []string{ann, bob, cat}},
			{"email:-1", []string{cat, bob, ann}},
			{"name:1", []string{ann, bob, cat}}, // byte order: capitals first
			{"name:-1", []string{cat, bob, ann}},
			{"created_at:1", []string{ann, bob, cat}},
			{"created_at:-1", []string{cat, bob, ann}},
			{"user_id:1", sorted(ann, bob, cat)},
		} {
			if got := e.listIDs(t, "users?sort="+tc.sort, "user_id"); !slices.Equal(got, tc.want) {
				t.Errorf("sort=%s: %v, want %v", tc.sort, got, tc.want)
			}
		}
		for _, blank := range []string{"q=", "q=%20%20", "q=&search_engine=v3"} {
			if got := e.listIDs(t, "users?"+blank, "user_id"); len(got) != 3 {
				t.Errorf("users?%s: %v, want every user", blank, got)
			}
		}
		if got := e.listIDs(t, "users?sort=email:-1&q="+url.QueryEscape("email_verified:false"), "user_id"); !slices.Equal(got, []string{cat, bob}) {
			t.Errorf("a sorted search: %v", got)
		}

		// fields and include_fields, on the list and on one user.
		var list []map[string]any
		e.must(t, "GET", "users?fields=user_id,email&q="+url.QueryEscape("name:bob"), nil, http.StatusOK, &list)
		if len(list) != 1 || !jsonEqual(list[0], obj{"user_id": bob, "email": "bob@example.com"}) {
			t.Errorf("users?fields=user_id,email: %v", list)
		}
		one := map[string]any{}
		e.must(t, "GET", userPath(ann)+"?fields=email,app_metadata&include_fields=true", nil, http.StatusOK, &one)
		if len(one) != 2 || one["email"] != "Ann.Smith@Example.com" || one["app_metadata"] == nil {
			t.Errorf("one user with fields=email,app_metadata: %v", one)
		}
		one = map[string]any{}
		e.must(t, "GET", userPath(ann)+"?fields=app_metadata,user_metadata,identities&include_fields=false", nil, http.StatusOK, &one)
		if one["app_metadata"] != nil || one["identities"] != nil || one["email"] != "Ann.Smith@Example.com" {
			t.Errorf("one user without app_metadata, user_metadata and identities: %v", one)
		}

		for _, tc := range []struct{ query, msg string }{
			{"q=ann", `Invalid q: "ann" is not a field:value term`},
			{"q=" + url.QueryEscape("email:ann*"), "wildcards"},
			{"q=" + url.QueryEscape("nickname:ann"), `field "nickname" is not searchable. Portcullis supports field:value terms on email, name, user_id, email_verified and app_metadata.<key>`},
			{"q=" + url.QueryEscape("logins_count:[1 TO 5]"), "not searchable"},
			{"q=" + url.QueryEscape("name:a OR name:b AND name:c"), "mixed only inside parentheses"},
			{"q=name:bob&search_engine=v2", `search_engine "v2" is not supported: Portcullis implements v3`},
			{"search_engine=v1", `search_engine "v1" is not supported`},
			{"sort=email", "sort must be field:1 (ascending) or field:-1 (descending), the field one of created_at, email, last_login, logins_count, name, nickname, updated_at, user_id"},
			{"sort=email:2", "sort must be field:1"},
			{"sort=password:1", "sort must be field:1"},
			{"include_fields=maybe", "Expected type boolean' on property include_fields"},
			{"per_page=101", "per_page must be between 1 and 100"},
			{"page=-1", "Expected type integer of at least 0' on property page"},
			{"connection=Username-Password-Authentication", "Additional properties not allowed: connection"},
		} {
			wantMgmtError(t, e.mgmt(t, "GET", "users?"+tc.query, nil), 400, "invalid_query_string", tc.msg)
		}
		wantMgmtError(t, e.mgmt(t, "GET", userPath(ann)+"?include_fields=maybe", nil), 400, "invalid_query_string", "on property include_fields")
		wantMgmtError(t, e.mgmt(t, "GET", userPath(ann)+"?q=x", nil), 400, "invalid_query_string", "Additional properties not allowed: q")
	})
}

// GET /users-by-email: an array of the users with the address, case
// included, or the lower-case form Auth0 keeps of database users'.
func TestUsersByEmail(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, e *env) {
		ann := e.createUser(t, "Ann.Jones@Example.com", obj{"name": "Ann"})["user_id"].(string)
		e.createUser(t, "someone.else@example.com", nil)
		for _, tc := range []struct {
			email string
			want  []string
		}{
			{"Ann.Jones@Example.com", []string{ann}},
			{"ann.jones@example.com", []string{ann}},
			{"ANN.JONES@EXAMPLE.COM", []string{}},
			{"ann.jones@example.co", []string{}},
			{"nobody@example.com", []string{}},
		} {
			r := e.must(t, "GET", "users-by-email?email="+url.QueryEscape(tc.email), nil, http.StatusOK, nil)
			if got := ids(t, r, "user_id"); !slices.Equal(got, tc.want) {
				t.Errorf("users-by-email?email=%s: %v, want %v", tc.email, got, tc.want)
			}
			wantNoPassword(t, r, goodPassword)
		}
		var found []map[string]any
		e.must(t, "GET", "users-by-email?email=ann.jones%40example.com", nil, http.StatusOK, &found)
		if len(found) != 1 || found[0]["name"] != "Ann" || found[0]["identities"] == nil || found[0]["connection"] != "Username-Password-Authentication" {
			t.Errorf("the user found: %v, want the whole user", found)
		}
		found = nil
		e.must(t, "GET", "users-by-email?email=ann.jones%40example.com&fields=user_id,name", nil, http.StatusOK, &found)
		if len(found) != 1 || !jsonEqual(found[0], obj{"user_id": ann, "name": "Ann"}) {
			t.Errorf("with fields=user_id,name: %v", found)
		}
		found = nil
		e.must(t, "GET", "users-by-email?email=ann.jones%40example.com&fields=identities&include_fields=false", nil, http.StatusOK, &found)
		if len(found) != 1 || found[0]["identities"] != nil || found[0]["user_id"] != ann {
			t.Errorf("with identities excluded: %v", found)
		}
		for _, tc := range []struct{ query, msg string }{
			{"", "Missing required property: email"},
			{"email=", "Missing required property: email"},
			{"email=a%40b.c&email=d%40e.f", "Parameter email is repeated"},
			{"email=a%40b.c&page=1", "Additional properties not allowed: page"},
			{"email=a%40b.c&include_fields=x", "on property include_fields"},
		} {
			wantMgmtError(t, e.mgmt(t, "GET", "users-by-email?"+tc.query, nil), 400, "invalid_query_string", tc.msg)
		}
		wantMgmtError(t, e.mgmt(t, "POST", "users-by-email?email=a%40b.c", nil), 405, "", "Method Not Allowed")
	})
}

// Every list endpoint refuses a page out of bounds with Auth0's error
// shape, and takes the largest page there is.
func TestListBounds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	user := e.createUser(t, newEmail("bounds"), nil)["user_id"].(string)
	role := e.createRole(t, uniq("bounds"))
	for _, path := range []string{
		"clients", "resource-servers", "client-grants", "users", "roles",
		userPath(user) + "/roles", userPath(user) + "/permissions",
		"roles/" + role + "/permissions", "roles/" + role + "/users",
	} {
		for _, tc := range []struct{ query, msg string }{
			{"per_page=101", "per_page must be between 1 and 100"},
			{"per_page=0", "per_page must be between 1 and 100"},
			{"page=-1", "Expected type integer of at least 0' on property page"},
			{"page=1.5", "Expected type integer of at least 0' on property page"},
			{"include_totals=maybe", "Expected type boolean' on property include_totals"},
		} {
			wantMgmtError(t, e.mgmt(t, "GET", path+"?"+tc.query, nil), 400, "invalid_query_string", tc.msg)
		}
		var page map[string]any
		e.must(t, "GET", path+"?per_page=100&page=0&include_totals=true", nil, http.StatusOK, &page)
		if !jsonEqual(page["limit"], 100) || !jsonEqual(page["start"], 0) {
			t.Errorf("%s?per_page=100: %v, want limit 100 from 0", path, page)
		}
	}
}

// TestListPageOverflow: a page number whose first item lies beyond any
// integer (page × per_page overflows) is a page past the end, never a
// server error, on every list endpoint and with the filters evaluated in
// Go as with those the database evaluates.
func TestListPageOverflow(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, e *env) {
		user := e.createUser(t, newEmail("overflow"), nil)["user_id"].(string)
		role := e.createRole(t, uniq("overflow"))
		for _, path := range []string{
			"clients?", "clients?app_type=spa&", "resource-servers?", "client-grants?", "users?", `users?q=email:"a@b.c"&`,
			"users?sort=email:1&", "roles?", "roles?name_filter=over&", userPath(user) + "/roles?", userPath(user) + "/permissions?",
			"roles/" + role + "/permissions?", "roles/" + role + "/users?",
		} {
			for _, query := range []string{"page=92233720368547759&per_page=100", "page=9223372036854775807&per_page=2"} {
				var page map[string]any
				e.must(t, "GET", path+query+"&include_totals=true", nil, http.StatusOK, &page)
				for k, v := range page {
					if list, ok := v.([]any); ok && len(list) != 0 {
						t.Errorf("%s%s: %s holds %d items, want none", path, query, k, len(list))
					}
				}
			}
		}
	})
}

// TestForgedCheckpoints: a from value crafted to decode to a key no list
// holds (bytes that are not UTF-8, a NUL, a key past every id) is either
// refused with Auth0's error shape or resumes the list at that point;
// never a server error.
func TestForgedCheckpoints(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, e *env) {
		role := e.createRole(t, uniq("forged"))
		for _, path := range []string{"clients", "client-grants", "roles/" + role + "/users"} {
			for _, key := range []string{"\xff\xfe", "a\x00b", "\U0010FFFF\U0010FFFF", strings.Repeat("z", 4096)} {
				from := base64.RawURLEncoding.EncodeToString([]byte("cp1:" + key))
				r := e.mgmt(t, "GET", path+"?take=5&from="+from, nil)
				switch r.status {
				case http.StatusOK:
				case http.StatusBadRequest:
					wantMgmtError(t, r, http.StatusBadRequest, "invalid_query_string", "from")
				default:
					t.Errorf("%s from %q: %s, want 200 or 400", path, key, r)
				}
			}
		}
	})
}
