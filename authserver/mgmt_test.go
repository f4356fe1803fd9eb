package authserver_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/authserver"
)

func TestManagementScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, ep := range endpoints {
		t.Run(ep.String(), func(t *testing.T) {
			fx := e.newFixture(t, "scope")
			others := slices.DeleteFunc(slices.Clone(mgmtScopes), func(s string) bool { return s == ep.scope })
			lacking := e.token(t, e.admin, e.mgmtAudience(), others...).AccessToken

			before := e.state(t, fx)
			r := ep.call(t, e, fx, "Bearer "+lacking, "")
			wantMgmtError(t, r, http.StatusForbidden, "insufficient_scope", "Insufficient scope, expected any of: "+ep.scope)
			if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") || !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, `scope="`+ep.scope+`"`) {
				t.Errorf("WWW-Authenticate %q, want a Bearer insufficient_scope challenge naming %s", h, ep.scope)
			}
			e.wantUnchanged(t, fx, before)

			only := e.token(t, e.admin, e.mgmtAudience(), ep.scope).AccessToken
			if r := ep.call(t, e, fx, "Bearer "+only, ""); r.status != ep.ok {
				t.Errorf("with only %s: %s, want %d", ep.scope, r, ep.ok)
			}
		})
	}
}

func TestManagementAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// A token that expired a day ago: issued two days ago.
	e.skew.Store(int64(-48 * time.Hour))
	expired := e.token(t, e.admin, e.mgmtAudience()).AccessToken
	e.skew.Store(0)

	header, payload := decodeSegment(t, e.adminToken, 0), decodeSegment(t, e.adminToken, 1)
	none := maps.Clone(header)
	none["alg"] = "none"
	unsigned := forge(none, payload, "")
	payload["scope"] = payload["scope"].(string) + " delete:everything"
	tampered := forge(header, payload, strings.Split(e.adminToken, ".")[2])

	for _, ep := range endpoints {
		t.Run(ep.String(), func(t *testing.T) {
			fx := e.newFixture(t, "authn")
			otherAudience := e.token(t, fx.client, fx.audience).AccessToken
			for _, tc := range []struct {
				name, auth, code, msg string
			}{
				{"missing", "", "missing_token", "Missing authentication"},
				{"Basic scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte(e.admin.ClientID+":"+e.admin.ClientSecret)), "invalid_token", "Bad HTTP authentication header format"},
				{"empty bearer", "Bearer ", "invalid_token", "Bad HTTP authentication header format"},
				{"garbage", "Bearer garbage", "invalid_token", "Invalid token: malformed token"},
				{"tampered payload", "Bearer " + tampered, "invalid_token", "Invalid token: signature verification failed"},
				{"alg none", "Bearer " + unsigned, "invalid_token", `Invalid token: signing algorithm is not allowed`},
				{"expired", "Bearer " + expired, "invalid_token", "Invalid token: token has expired"},
				{"other audience", "Bearer " + otherAudience, "invalid_token", "Invalid token: token is not meant for this audience"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := e.state(t, fx)
					r := ep.call(t, e, fx, tc.auth, "")
					wantMgmtError(t, r, http.StatusUnauthorized, tc.code, tc.msg)
					if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") {
						t.Errorf("WWW-Authenticate %q, want a Bearer challenge", h)
					}
					e.wantUnchanged(t, fx, before)
				})
			}
		})
	}
}

func TestManagementBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, ep := range endpoints {
		if ep.body == nil {
			continue
		}
		t.Run(ep.String(), func(t *testing.T) {
			fx := e.newFixture(t, "body")
			valid, err := json.Marshal(ep.body(fx))
			if err != nil {
				t.Fatal(err)
			}
			withField := func(k string, v any) string {
				b := ep.body(fx)
				b[k] = v
				doc, _ := json.Marshal(b)
				return string(doc)
			}
			for _, tc := range []struct {
				name, contentType, body string
				status                  int
				code, msg               string
			}{
				{"malformed", "", `{"name":`, 400, "invalid_body", "Invalid request payload JSON format"},
				{"not an object", "", `["name"]`, 400, "invalid_body", "'Expected type object but found type array'"},
				{"unknown property", "", withField("bogus_property", 1), 400, "invalid_body", "Additional properties not allowed: bogus_property"},
				{"wrong type", "", withField(ep.badField, "text"), 400, "invalid_body",
					"'Expected type " + ep.badType + " but found type string' on property " + ep.badField},
				{"trailing object", "", string(valid) + ` {}`, 400, "invalid_body", "Invalid request payload JSON format"},
				{"trailing garbage", "", string(valid) + `x`, 400, "invalid_body", "Invalid request payload JSON format"},
				{"trailing brace", "", string(valid) + `}`, 400, "invalid_body", "Invalid request payload JSON format"},
				{"over 1 MiB", "", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, 413, "payload_too_large", "maximum allowed: 1048576"},
				{"text/plain", "text/plain", string(valid), 415, "unsupported_media_type", "application/json"},
				{"form", "application/x-www-form-urlencoded", "name=x", 415, "unsupported_media_type", "application/json"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := e.state(t, fx)
					r := e.do(t, request{method: ep.method, path: "api/v2/" + fx.expand(ep.path), auth: "Bearer " + e.adminToken, contentType: tc.contentType, body: tc.body})
					wantMgmtError(t, r, tc.status, tc.code, tc.msg)
					e.wantUnchanged(t, fx, before)
				})
			}
			t.Run("trailing newline is fine", func(t *testing.T) {
				r := e.do(t, request{method: ep.method, path: "api/v2/" + fx.expand(ep.path), auth: "Bearer " + e.adminToken, body: string(valid) + "\r\n"})
				if r.status != ep.ok {
					t.Errorf("valid body with a trailing newline: %s, want %d", r, ep.ok)
				}
			})
		})
	}
}

func TestManagementRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("unknown query parameter", func(t *testing.T) {
		for _, ep := range endpoints {
			t.Run(ep.String(), func(t *testing.T) {
				fx := e.newFixture(t, "query")
				before := e.state(t, fx)
				r := ep.call(t, e, fx, "Bearer "+e.adminToken, "?bogus_param=1")
				wantMgmtError(t, r, 400, "invalid_query_string", "bogus_param")
				e.wantUnchanged(t, fx, before)
			})
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		for _, path := range []string{"api/v2/nope", "api/v2/clients/x/y", "api/v2/", "api/v2/clients/", "api/v2/userz", "api/v3/clients"} {
			t.Run(path, func(t *testing.T) {
				r := e.do(t, request{method: "GET", path: path, auth: "Bearer " + e.adminToken})
				if r.status != http.StatusNotFound || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
					t.Fatalf("GET /%s: %s (Content-Type %q), want a 404 JSON body", path, r, r.header.Get("Content-Type"))
				}
				r.object(t)
			})
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		fx := e.newFixture(t, "method")
		for _, tc := range []struct{ method, path, allow string }{
			{"PUT", "clients", "GET, POST"},
			{"DELETE", "clients", "GET, POST"},
			{"POST", "clients/{client}", "DELETE, GET, PATCH"},
			{"PUT", "clients/{client}", "DELETE, GET, PATCH"},
			{"GET", "clients/{client}/rotate-secret", "POST"},
			{"DELETE", "resource-servers", "GET, POST"},
			{"PUT", "resource-servers/{api}", "DELETE, GET, PATCH"},
			{"PATCH", "client-grants", "GET, POST"},
			{"POST", "client-grants/{grant}", "DELETE, GET, PATCH"},
		} {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				before := e.state(t, fx)
				r := e.do(t, request{method: tc.method, path: "api/v2/" + fx.expand(tc.path), auth: "Bearer " + e.adminToken, body: obj{"name": "x"}})
				wantMgmtError(t, r, http.StatusMethodNotAllowed, "", "Method Not Allowed")
				if got := r.header.Get("Allow"); got != tc.allow {
					t.Errorf("Allow %q, want %q", got, tc.allow)
				}
				e.wantUnchanged(t, fx, before)
			})
		}
	})
}

// hasKey reports whether a JSON document has a member named key at any
// depth.
func hasKey(v any, key string) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == key || hasKey(x, key) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if hasKey(x, key) {
				return true
			}
		}
	}
	return false
}

// wantNoSecret checks that a response does not carry a client secret.
func wantNoSecret(t *testing.T, r reply, secret string) {
	t.Helper()
	var doc any
	r.decode(t, &doc)
	if hasKey(doc, "client_secret") || strings.Contains(string(r.body), secret) {
		t.Errorf("response carries a client secret: %s", r.body)
	}
}

func TestClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("create, read, update, delete", func(t *testing.T) {
		var created map[string]any
		e.must(t, "POST", "clients", obj{
			"name": "Billing", "description": "bills", "app_type": "non_interactive",
			"client_metadata": obj{"team": "billing"},
		}, http.StatusCreated, &created)
		id, _ := created["client_id"].(string)
		secret, _ := created["client_secret"].(string)
		if id == "" || len(secret) < 32 {
			t.Fatalf("created client %v: want a client_id and a generated secret of at least 32 characters", created)
		}
		if created["token_endpoint_auth_method"] != "client_secret_post" || !slices.Contains(created["grant_types"].([]any), any("client_credentials")) {
			t.Errorf("created non_interactive client %v: want client_secret_post and client_credentials", created)
		}

		get := e.must(t, "GET", "clients/"+id, nil, http.StatusOK, nil)
		wantNoSecret(t, get, secret)
		got := get.object(t)
		for _, k := range []string{"client_id", "name", "description", "app_type", "grant_types", "token_endpoint_auth_method", "client_metadata"} {
			if !jsonEqual(got[k], created[k]) {
				t.Errorf("GET %s = %v, created %v", k, got[k], created[k])
			}
		}
		list := e.must(t, "GET", "clients", nil, http.StatusOK, nil)
		wantNoSecret(t, list, secret)
		if !strings.Contains(string(list.body), id) {
			t.Errorf("the list does not have the new client: %s", list.body)
		}
		wantNoSecret(t, e.must(t, "GET", "clients?include_totals=true", nil, http.StatusOK, nil), secret)
		wantNoSecret(t, e.must(t, "GET", "clients/"+id+"?fields=client_secret,client_id", nil, http.StatusOK, nil), secret)

		patched := e.must(t, "PATCH", "clients/"+id, obj{"name": "Billing 2", "description": ""}, http.StatusOK, nil)
		wantNoSecret(t, patched, secret)
		if m := patched.object(t); m["name"] != "Billing 2" || m["app_type"] != "non_interactive" {
			t.Errorf("PATCH name: %v; want the new name and the rest unchanged", m)
		}
		if m := e.must(t, "GET", "clients/"+id, nil, http.StatusOK, nil).object(t); m["name"] != "Billing 2" {
			t.Errorf("GET after PATCH: name %v", m["name"])
		}

		e.must(t, "DELETE", "clients/"+id, nil, http.StatusNoContent, nil)
		wantMgmtError(t, e.mgmt(t, "GET", "clients/"+id, nil), 404, "inexistent_client", "client")
		wantMgmtError(t, e.mgmt(t, "DELETE", "clients/"+id, nil), 404, "inexistent_client", "client")
		wantMgmtError(t, e.mgmt(t, "PATCH", "clients/"+id, obj{"name": "x"}), 404, "inexistent_client", "client")
		_, err := e.fetchToken(t, authserver.Credentials{ClientID: id, ClientSecret: secret}, oauth2.AuthStyleInParams, e.mgmtAudience())
		wantTokenRefused(t, err, 401, "invalid_client")
	})

	t.Run("defaults by app type", func(t *testing.T) {
		for _, tc := range []struct {
			appType, method string
			cc              bool
		}{
			{"non_interactive", "client_secret_post", true},
			{"regular_web", "client_secret_post", true},
			{"spa", "none", false},
			{"native", "none", false},
		} {
			t.Run(tc.appType, func(t *testing.T) {
				var c map[string]any
				e.must(t, "POST", "clients", obj{"name": tc.appType, "app_type": tc.appType}, http.StatusCreated, &c)
				hasCC := slices.Contains(c["grant_types"].([]any), any("client_credentials"))
				if c["token_endpoint_auth_method"] != tc.method || hasCC != tc.cc {
					t.Errorf("%s client: token_endpoint_auth_method %v, grant_types %v; want %s, client_credentials %v",
						tc.appType, c["token_endpoint_auth_method"], c["grant_types"], tc.method, tc.cc)
				}
			})
		}
	})

	t.Run("refused bodies", func(t *testing.T) {
		fx := e.newFixture(t, "cl")
		for _, tc := range []struct {
			name        string
			post, patch obj // patch nil: not checked on PATCH
			msg         string
		}{
			{"no name", obj{"app_type": "non_interactive"}, nil, "name is required"},
			{"blank name", obj{"name": "  "}, obj{"name": "  "}, "name is required"},
			{"long description", obj{"name": "x", "description": strings.Repeat("d", 141)}, obj{"description": strings.Repeat("d", 141)}, "description"},
			{"unknown app_type", obj{"name": "x", "app_type": "robot"}, obj{"app_type": "robot"}, "app_type"},
			{"unknown auth method", obj{"name": "x", "token_endpoint_auth_method": "private_key_jwt_typo"}, obj{"token_endpoint_auth_method": "private_key_jwt_typo"}, "token_endpoint_auth_method"},
			{"unknown grant type", obj{"name": "x", "grant_types": []string{"magic"}}, obj{"grant_types": []string{"magic"}}, `"magic"`},
			{"public client with client_credentials", obj{"name": "x", "app_type": "spa", "grant_types": []string{"client_credentials"}},
				obj{"token_endpoint_auth_method": "none"}, "client_credentials"},
			{"short chosen secret", obj{"name": "x", "client_secret": "short"}, obj{"client_secret": strings.Repeat("s", 31)}, "client_secret"},
			{"jwt alg", obj{"name": "x", "jwt_configuration": obj{"alg": "HS256"}}, obj{"jwt_configuration": obj{"alg": "none"}}, "jwt_configuration.alg"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.state(t, fx)
				wantMgmtError(t, e.mgmt(t, "POST", "clients", tc.post), 400, "invalid_body", tc.msg)
				if tc.patch != nil {
					wantMgmtError(t, e.mgmt(t, "PATCH", "clients/"+fx.client.ClientID, tc.patch), 400, "invalid_body", tc.msg)
				}
				e.wantUnchanged(t, fx, before)
			})
		}
	})

	t.Run("chosen secret", func(t *testing.T) {
		fx := e.newFixture(t, "chosen")
		chosen := strings.Repeat("c", 40)
		wantNoSecret(t, e.must(t, "PATCH", "clients/"+fx.client.ClientID, obj{"client_secret": chosen}, http.StatusOK, nil), chosen)
		_, err := e.fetchToken(t, fx.client, oauth2.AuthStyleInParams, fx.audience)
		wantTokenRefused(t, err, 401, "invalid_client")
		e.token(t, authserver.Credentials{ClientID: fx.client.ClientID, ClientSecret: chosen}, fx.audience)
	})

	t.Run("fields and include_fields", func(t *testing.T) {
		fx := e.newFixture(t, "fields")
		keys := func(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
		only := e.must(t, "GET", "clients/"+fx.client.ClientID+"?fields=name,client_id", nil, http.StatusOK, nil).object(t)
		if got := keys(only); !slices.Equal(got, []string{"client_id", "name"}) {
			t.Errorf("fields=name,client_id: keys %v", got)
		}
		only = e.must(t, "GET", "clients/"+fx.client.ClientID+"?fields=name,client_id&include_fields=true", nil, http.StatusOK, nil).object(t)
		if got := keys(only); !slices.Equal(got, []string{"client_id", "name"}) {
			t.Errorf("fields=name,client_id&include_fields=true: keys %v", got)
		}
		without := e.must(t, "GET", "clients/"+fx.client.ClientID+"?fields=name,client_id&include_fields=false", nil, http.StatusOK, nil).object(t)
		if _, ok := without["name"]; ok || without["grant_types"] == nil {
			t.Errorf("include_fields=false: keys %v, want every key but name and client_id", keys(without))
		}
		if _, ok := without["client_id"]; ok {
			t.Errorf("include_fields=false: keys %v, want no client_id", keys(without))
		}
		var page struct{ Clients []map[string]any }
		e.must(t, "GET", "clients?fields=client_id&include_totals=true", nil, http.StatusOK, &page)
		for _, c := range page.Clients {
			if got := keys(c); !slices.Equal(got, []string{"client_id"}) {
				t.Errorf("list with fields=client_id: keys %v", got)
			}
		}
		wantMgmtError(t, e.mgmt(t, "GET", "clients/"+fx.client.ClientID+"?fields=name&include_fields=maybe", nil), 400, "invalid_query_string", "include_fields")
	})
}

// jsonEqual compares decoded JSON values.
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestClientSecretRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fx := e.newFixture(t, "rotate")
	e.token(t, fx.client, fx.audience)

	var rotated authserver.Credentials
	r := e.must(t, "POST", "clients/"+fx.client.ClientID+"/rotate-secret", nil, http.StatusOK, &rotated)
	if rotated.ClientID != fx.client.ClientID || len(rotated.ClientSecret) < 32 || rotated.ClientSecret == fx.client.ClientSecret {
		t.Fatalf("rotate-secret returned %s; want the client with a new secret", r.body)
	}
	_, err := e.fetchToken(t, fx.client, oauth2.AuthStyleInParams, fx.audience)
	wantTokenRefused(t, err, 401, "invalid_client")
	e.token(t, rotated, fx.audience)
	wantNoSecret(t, e.must(t, "GET", "clients/"+fx.client.ClientID, nil, http.StatusOK, nil), rotated.ClientSecret)
	wantNoSecret(t, e.must(t, "GET", "clients", nil, http.StatusOK, nil), rotated.ClientSecret)
	wantMgmtError(t, e.mgmt(t, "POST", "clients/nope/rotate-secret", nil), 404, "inexistent_client", "client")
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for range 3 {
		e.newFixture(t, "page")
	}
	// With the bootstrap admin and the Management API, there are four of
	// each.
	for _, tc := range []struct{ path, key, id string }{
		{"clients", "clients", "client_id"},
		{"resource-servers", "resource_servers", "id"},
		{"client-grants", "client_grants", "id"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			var all []map[string]any
			e.must(t, "GET", tc.path, nil, http.StatusOK, &all)
			if len(all) != 4 {
				t.Fatalf("plain list has %d items, want 4", len(all))
			}
			e.must(t, "GET", tc.path+"?include_totals=false", nil, http.StatusOK, &all)

			seen := map[any]bool{}
			for page, want := range []struct{ start, length int }{{0, 2}, {2, 2}, {4, 0}} {
				var body map[string]any
				e.must(t, "GET", tc.path+"?include_totals=true&per_page=2&page="+strconv.Itoa(page), nil, http.StatusOK, &body)
				items, ok := body[tc.key].([]any)
				if !ok || !jsonEqual(body["start"], want.start) || !jsonEqual(body["limit"], 2) || !jsonEqual(body["length"], want.length) ||
					!jsonEqual(body["total"], 4) || len(items) != want.length || len(body) != 5 {
					t.Errorf("page %d: %v; want {start:%d, limit:2, length:%d, total:4, %s:[%d items]}", page, body, want.start, want.length, tc.key, want.length)
				}
				for _, it := range items {
					seen[it.(map[string]any)[tc.id]] = true
				}
			}
			if len(seen) != 4 {
				t.Errorf("the pages hold %d distinct items, want 4", len(seen))
			}
			var body map[string]any
			e.must(t, "GET", tc.path+"?include_totals=true", nil, http.StatusOK, &body)
			if !jsonEqual(body["limit"], 50) || !jsonEqual(body["total"], 4) {
				t.Errorf("default page: %v, want limit 50 and total 4", body)
			}

			for _, q := range []struct {
				query string
				ok    bool
			}{
				{"per_page=1", true}, {"per_page=100", true}, {"page=3", true},
				{"per_page=0", false}, {"per_page=101", false}, {"per_page=-1", false}, {"per_page=x", false},
				{"page=-1", false}, {"page=x", false}, {"include_totals=maybe", false}, {"per_page=1&per_page=2", false},
			} {
				r := e.mgmt(t, "GET", tc.path+"?"+q.query, nil)
				if q.ok && r.status != http.StatusOK {
					t.Errorf("?%s: %s, want 200", q.query, r)
				}
				if !q.ok {
					wantMgmtError(t, r, 400, "invalid_query_string", "")
				}
			}
		})
	}
}

func TestResourceServers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("defaults, read, update, delete", func(t *testing.T) {
		aud := "https://defaults.example/"
		rs := e.createAPI(t, aud, nil, nil)
		id, _ := rs["id"].(string)
		want := map[string]any{
			"name": aud, "identifier": aud, "is_system": false, "scopes": []any{}, "signing_alg": "RS256",
			"token_lifetime": 86400, "token_dialect": "access_token", "enforce_policies": false,
			"subject_type_authorization": obj{"user": obj{"policy": "allow_all"}, "client": obj{"policy": "require_client_grant"}},
		}
		for k, v := range want {
			if !jsonEqual(rs[k], v) {
				t.Errorf("new API %s = %v, want %v", k, rs[k], v)
			}
		}
		if id == "" {
			t.Fatal("new API has no id")
		}
		if got := e.must(t, "GET", "resource-servers/"+id, nil, http.StatusOK, nil).object(t); !jsonEqual(got, rs) {
			t.Errorf("GET = %v, created %v", got, rs)
		}
		// Auth0 also finds an API by its identifier.
		if got := e.must(t, "GET", "resource-servers/"+url.PathEscape(aud), nil, http.StatusOK, nil).object(t); got["id"] != id {
			t.Errorf("GET by identifier = %v", got)
		}
		if got := e.must(t, "PATCH", "resource-servers/"+id, obj{"name": "Defaults"}, http.StatusOK, nil).object(t); got["name"] != "Defaults" || got["identifier"] != aud {
			t.Errorf("PATCH name: %v", got)
		}
		// Tokens last token_lifetime by default.
		c := e.createClient(t, obj{"name": "defaults", "app_type": "non_interactive"})
		e.grant(t, c.ClientID, aud)
		if got := e.token(t, c, aud).Extra("expires_in"); !jsonEqual(got, 86400) {
			t.Errorf("expires_in = %v, want 86400", got)
		}
		e.must(t, "DELETE", "resource-servers/"+id, nil, http.StatusNoContent, nil)
		wantMgmtError(t, e.mgmt(t, "GET", "resource-servers/"+id, nil), 404, "inexistent_resource_server", "resource server")
		wantMgmtError(t, e.mgmt(t, "DELETE", "resource-servers/"+id, nil), 404, "inexistent_resource_server", "resource server")
		wantMgmtError(t, e.mgmt(t, "PATCH", "resource-servers/"+id, obj{"name": "x"}), 404, "inexistent_resource_server", "resource server")
		_, err := e.fetchToken(t, c, oauth2.AuthStyleInParams, aud)
		wantTokenRefused(t, err, 403, "access_denied")
	})

	t.Run("PATCH replaces the scopes", func(t *testing.T) {
		id := e.createAPI(t, newAudience("scopes"), []string{"a:x", "b:x", "c:x"}, nil)["id"].(string)
		for _, tc := range []struct {
			name  string
			patch obj
			want  []string
		}{
			{"omitted scopes disappear", obj{"scopes": scopeList("a:x", "d:x")}, []string{"a:x", "d:x"}},
			{"no scopes property keeps them", obj{"name": "renamed"}, []string{"a:x", "d:x"}},
			{"[] removes all", obj{"scopes": []obj{}}, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := scopeValues(e.must(t, "PATCH", "resource-servers/"+id, tc.patch, http.StatusOK, nil).object(t)); !slices.Equal(got, tc.want) {
					t.Errorf("PATCH response scopes %v, want %v", got, tc.want)
				}
				if got := scopeValues(e.must(t, "GET", "resource-servers/"+id, nil, http.StatusOK, nil).object(t)); !slices.Equal(got, tc.want) {
					t.Errorf("stored scopes %v, want %v", got, tc.want)
				}
			})
		}
	})

	t.Run("reserved scope names", func(t *testing.T) {
		fx := e.newFixture(t, "reserved")
		for _, name := range []string{
			"address", "created_at", "email", "email_verified", "family_name", "given_name", "identities",
			"name", "nickname", "offline_access", "openid", "phone", "picture", "profile",
		} {
			t.Run(name, func(t *testing.T) {
				before := e.state(t, fx)
				r := e.mgmt(t, "POST", "resource-servers", obj{"identifier": newAudience("r"), "scopes": scopeList("read:x", name)})
				wantMgmtError(t, r, 400, "invalid_body", `"`+name+`"`)
				r = e.mgmt(t, "PATCH", "resource-servers/"+fx.apiID, obj{"scopes": scopeList("read:x", "write:x", name)})
				wantMgmtError(t, r, 400, "invalid_body", `"`+name+`"`)
				e.wantUnchanged(t, fx, before)
			})
		}
	})

	t.Run("token_lifetime", func(t *testing.T) {
		fx := e.newFixture(t, "lifetime")
		for _, tc := range []struct {
			lifetime int
			ok       bool
		}{
			{0, false}, {-1, false}, {2592001, false}, {2592000, true}, {1, true},
		} {
			t.Run(strconv.Itoa(tc.lifetime), func(t *testing.T) {
				before := e.state(t, fx)
				post := e.mgmt(t, "POST", "resource-servers", obj{"identifier": newAudience("lt"), "token_lifetime": tc.lifetime})
				patch := e.mgmt(t, "PATCH", "resource-servers/"+fx.apiID, obj{"token_lifetime": tc.lifetime})
				if !tc.ok {
					wantMgmtError(t, post, 400, "invalid_body", "token_lifetime")
					wantMgmtError(t, patch, 400, "invalid_body", "token_lifetime")
					e.wantUnchanged(t, fx, before)
					return
				}
				for _, r := range []reply{post, patch} {
					if r.status/100 != 2 || !jsonEqual(r.object(t)["token_lifetime"], tc.lifetime) {
						t.Errorf("token_lifetime %d: %s", tc.lifetime, r)
					}
				}
				if got := e.token(t, fx.client, fx.audience).Extra("expires_in"); !jsonEqual(got, tc.lifetime) {
					t.Errorf("expires_in = %v, want %d", got, tc.lifetime)
				}
			})
		}
	})

	t.Run("identifier is immutable", func(t *testing.T) {
		fx := e.newFixture(t, "immutable")
		before := e.state(t, fx)
		wantMgmtError(t, e.mgmt(t, "PATCH", "resource-servers/"+fx.apiID, obj{"identifier": "https://other.example/"}), 400, "invalid_body", "identifier")
		wantMgmtError(t, e.mgmt(t, "PATCH", "resource-servers/"+fx.apiID, obj{"identifier": strings.TrimSuffix(fx.audience, "/")}), 400, "invalid_body", "identifier")
		e.wantUnchanged(t, fx, before)
		e.must(t, "PATCH", "resource-servers/"+fx.apiID, obj{"identifier": fx.audience, "name": "same identifier"}, http.StatusOK, nil)
	})

	t.Run("trailing slash is significant", func(t *testing.T) {
		slash := newAudience("ts")
		bare := strings.TrimSuffix(slash, "/")
		a := e.createAPI(t, bare, []string{"read:x"}, nil)
		b := e.createAPI(t, slash, []string{"read:x"}, nil)
		if a["id"] == b["id"] || a["identifier"] != bare || b["identifier"] != slash {
			t.Fatalf("two APIs expected: %v and %v", a, b)
		}
		c := e.createClient(t, obj{"name": "ts", "app_type": "non_interactive"})
		e.grant(t, c.ClientID, bare, "read:x")
		tok := e.token(t, c, bare).AccessToken
		if claims, err := e.verify(t, tok, bare); err != nil || claims["aud"] != bare {
			t.Errorf("token for %s: claims %v, error %v", bare, claims, err)
		}
		if _, err := e.verify(t, tok, slash); err == nil {
			t.Errorf("a token for %s verifies for %s", bare, slash)
		}
		_, err := e.fetchToken(t, c, oauth2.AuthStyleInParams, slash)
		wantTokenRefused(t, err, 403, "access_denied")
	})

	t.Run("duplicate identifier", func(t *testing.T) {
		fx := e.newFixture(t, "dup")
		before := e.state(t, fx)
		for _, id := range []string{fx.audience, e.mgmtAudience()} {
			wantMgmtError(t, e.mgmt(t, "POST", "resource-servers", obj{"identifier": id, "name": "dup"}), 409, "conflict", "already exists")
		}
		e.wantUnchanged(t, fx, before)
	})

	t.Run("access policies", func(t *testing.T) {
		fx := e.newFixture(t, "policy")
		sta := func(user, client string) obj {
			out := obj{}
			if user != "" {
				out["user"] = obj{"policy": user}
			}
			if client != "" {
				out["client"] = obj{"policy": client}
			}
			return obj{"subject_type_authorization": out}
		}
		for _, tc := range []struct {
			name         string
			user, client string
			msg          string
		}{
			{"client allow_all", "", "allow_all", "allow_all"},
			{"client unknown", "", "maybe", "subject_type_authorization.client.policy"},
			{"user unknown", "maybe", "", "subject_type_authorization.user.policy"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.state(t, fx)
				body := sta(tc.user, tc.client)
				body["identifier"] = newAudience("p")
				wantMgmtError(t, e.mgmt(t, "POST", "resource-servers", body), 400, "invalid_body", tc.msg)
				wantMgmtError(t, e.mgmt(t, "PATCH", "resource-servers/"+fx.apiID, sta(tc.user, tc.client)), 400, "invalid_body", tc.msg)
				e.wantUnchanged(t, fx, before)
			})
		}
		t.Run("deny_all and require_client_grant", func(t *testing.T) {
			body := sta("require_client_grant", "deny_all")
			rs := e.createAPI(t, newAudience("deny"), nil, body)
			if !jsonEqual(rs["subject_type_authorization"], body["subject_type_authorization"]) {
				t.Errorf("created with %v: got %v", body, rs["subject_type_authorization"])
			}
			// Patching one subject type leaves the other.
			got := e.must(t, "PATCH", "resource-servers/"+rs["id"].(string), sta("deny_all", ""), http.StatusOK, nil).object(t)
			if want := sta("deny_all", "deny_all")["subject_type_authorization"]; !jsonEqual(got["subject_type_authorization"], want) {
				t.Errorf("after patching user only: %v, want %v", got["subject_type_authorization"], want)
			}
		})
	})

	t.Run("token_dialect", func(t *testing.T) {
		fx := e.newFixture(t, "dialect")
		for _, dialect := range []string{"access_token_authz", "rfc9068_profile_authz"} {
			t.Run(dialect, func(t *testing.T) {
				before := e.state(t, fx)
				wantMgmtError(t, e.mgmt(t, "POST", "resource-servers", obj{"identifier": newAudience("d"), "token_dialect": dialect}), 400, "invalid_body", "enforce_policies")
				wantMgmtError(t, e.mgmt(t, "PATCH", "resource-servers/"+fx.apiID, obj{"token_dialect": dialect}), 400, "invalid_body", "enforce_policies")
				e.wantUnchanged(t, fx, before)
				rs := e.createAPI(t, newAudience("d"), nil, obj{"token_dialect": dialect, "enforce_policies": true})
				wantMgmtError(t, e.mgmt(t, "PATCH", "resource-servers/"+rs["id"].(string), obj{"enforce_policies": false}), 400, "invalid_body", "enforce_policies")
			})
		}
		t.Run("unknown", func(t *testing.T) {
			before := e.state(t, fx)
			wantMgmtError(t, e.mgmt(t, "POST", "resource-servers", obj{"identifier": newAudience("d"), "token_dialect": "jwt"}), 400, "invalid_body", "token_dialect")
			e.wantUnchanged(t, fx, before)
		})
		e.must(t, "PATCH", "resource-servers/"+fx.apiID, obj{"token_dialect": "rfc9068_profile"}, http.StatusOK, nil)
	})

	t.Run("other refused bodies", func(t *testing.T) {
		fx := e.newFixture(t, "other")
		for _, tc := range []struct {
			name string
			body obj
			msg  string
		}{
			{"no identifier", obj{"name": "x"}, "identifier"},
			{"empty identifier", obj{"identifier": ""}, "identifier"},
			{"identifier with a space", obj{"identifier": "https://a b.example/"}, "identifier"},
			{"angle brackets in name", obj{"identifier": "https://n.example/", "name": "<b>"}, "name"},
			{"HS256", obj{"identifier": "https://n.example/", "signing_alg": "HS256"}, "HS256"},
			{"unknown alg", obj{"identifier": "https://n.example/", "signing_alg": "EdDSA"}, "signing_alg"},
			{"web lifetime above the maximum", obj{"identifier": "https://n.example/", "token_lifetime": 60, "token_lifetime_for_web": 61}, "token_lifetime_for_web"},
			{"duplicate scope", obj{"identifier": "https://n.example/", "scopes": scopeList("a:x", "a:x")}, `"a:x"`},
			{"scope with a space", obj{"identifier": "https://n.example/", "scopes": scopeList("a x")}, "white space"},
			{"empty scope", obj{"identifier": "https://n.example/", "scopes": scopeList("")}, "scopes"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.state(t, fx)
				wantMgmtError(t, e.mgmt(t, "POST", "resource-servers", tc.body), 400, "invalid_body", tc.msg)
				e.wantUnchanged(t, fx, before)
			})
		}
	})

	t.Run("the Management API is protected", func(t *testing.T) {
		var list []map[string]any
		e.must(t, "GET", "resource-servers", nil, http.StatusOK, &list)
		i := slices.IndexFunc(list, func(rs map[string]any) bool { return rs["identifier"] == e.mgmtAudience() })
		if i < 0 {
			t.Fatalf("no Management API (%s) in %v", e.mgmtAudience(), list)
		}
		mapi := list[i]
		if mapi["is_system"] != true || !slices.Equal(slices.Sorted(slices.Values(scopeValues(mapi))), slices.Sorted(slices.Values(mgmtScopes))) {
			t.Errorf("Management API %v: want is_system and every management scope", mapi)
		}
		fx := e.newFixture(t, "sys")
		before := e.state(t, fx)
		for _, ref := range []string{mapi["id"].(string), url.PathEscape(e.mgmtAudience())} {
			wantMgmtError(t, e.mgmt(t, "PATCH", "resource-servers/"+ref, obj{"name": "mine"}), 403, "operation_not_supported", "Management API")
			wantMgmtError(t, e.mgmt(t, "PATCH", "resource-servers/"+ref, obj{"scopes": []obj{}}), 403, "operation_not_supported", "Management API")
			wantMgmtError(t, e.mgmt(t, "DELETE", "resource-servers/"+ref, nil), 403, "operation_not_supported", "Management API")
		}
		e.wantUnchanged(t, fx, before)
		e.token(t, e.admin, e.mgmtAudience())
	})
}

func TestClientGrants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("create, read, update, delete", func(t *testing.T) {
		fx := e.newFixture(t, "cg")
		var g map[string]any
		e.must(t, "GET", "client-grants/"+fx.grantID, nil, http.StatusOK, &g)
		want := map[string]any{"id": fx.grantID, "client_id": fx.client.ClientID, "audience": fx.audience, "scope": []string{"read:x"}, "subject_type": "client", "allow_all_scopes": false}
		for k, v := range want {
			if !jsonEqual(g[k], v) {
				t.Errorf("grant %s = %v, want %v", k, g[k], v)
			}
		}
		if got := e.must(t, "PATCH", "client-grants/"+fx.grantID, obj{"scope": []string{"read:x", "write:x"}}, http.StatusOK, nil).object(t); !jsonEqual(got["scope"], []string{"read:x", "write:x"}) || got["client_id"] != fx.client.ClientID {
			t.Errorf("PATCH scope: %v", got)
		}
		if got := scopeOf(e.token(t, fx.client, fx.audience)); got != "read:x write:x" {
			t.Errorf("token scope after widening the grant = %q", got)
		}
		for _, body := range []obj{{"client_id": "other"}, {"audience": "https://other.example/"}, {"subject_type": "user"}} {
			wantMgmtError(t, e.mgmt(t, "PATCH", "client-grants/"+fx.grantID, body), 400, "invalid_body", "cannot be changed")
		}
		e.must(t, "DELETE", "client-grants/"+fx.grantID, nil, http.StatusNoContent, nil)
		wantMgmtError(t, e.mgmt(t, "GET", "client-grants/"+fx.grantID, nil), 404, "inexistent_client_grant", "client grant")
		wantMgmtError(t, e.mgmt(t, "DELETE", "client-grants/"+fx.grantID, nil), 404, "inexistent_client_grant", "client grant")
		wantMgmtError(t, e.mgmt(t, "PATCH", "client-grants/"+fx.grantID, obj{"scope": []string{}}), 404, "inexistent_client_grant", "client grant")
	})

	t.Run("one grant per client, audience and subject type", func(t *testing.T) {
		fx := e.newFixture(t, "one")
		before := e.state(t, fx)
		for _, body := range []obj{
			{"client_id": fx.client.ClientID, "audience": fx.audience, "scope": []string{"write:x"}},
			{"client_id": fx.client.ClientID, "audience": fx.audience, "scope": []string{"write:x"}, "subject_type": "client"},
		} {
			wantMgmtError(t, e.mgmt(t, "POST", "client-grants", body), 409, "conflict", "already exists")
		}
		e.wantUnchanged(t, fx, before)
		user := obj{"client_id": fx.client.ClientID, "audience": fx.audience, "scope": []string{"write:x"}, "subject_type": "user"}
		var g map[string]any
		e.must(t, "POST", "client-grants", user, http.StatusCreated, &g)
		if g["subject_type"] != "user" {
			t.Errorf("user grant: %v", g)
		}
		wantMgmtError(t, e.mgmt(t, "POST", "client-grants", user), 409, "conflict", "already exists")
		// The user grant does not widen client credentials tokens.
		_, err := e.fetchToken(t, fx.client, oauth2.AuthStyleInParams, fx.audience, "write:x")
		wantTokenRefused(t, err, 403, "access_denied")
	})

	t.Run("refused bodies", func(t *testing.T) {
		fx := e.newFixture(t, "refused")
		other := e.createClient(t, obj{"name": "other", "app_type": "non_interactive"})
		base := func(extra obj) obj {
			b := obj{"client_id": other.ClientID, "audience": fx.audience, "scope": []string{"read:x"}}
			for k, v := range extra {
				if v == nil {
					delete(b, k)
				} else {
					b[k] = v
				}
			}
			return b
		}
		for _, tc := range []struct {
			name   string
			post   obj
			patch  obj // nil: not checked on PATCH
			status int
			code   string
			msg    string
		}{
			{"authorization_details_types on a client grant", base(obj{"authorization_details_types": []string{"payment"}}),
				obj{"authorization_details_types": []string{"payment"}}, 400, "invalid_body", "authorization_details_types"},
			{"scope not defined on the API", base(obj{"scope": []string{"read:x", "nope:x"}}),
				obj{"scope": []string{"nope:x"}}, 400, "invalid_body", `"nope:x"`},
			{"scope listed twice", base(obj{"scope": []string{"read:x", "read:x"}}),
				obj{"scope": []string{"read:x", "read:x"}}, 400, "invalid_body", `"read:x"`},
			{"unknown organization_usage", base(obj{"organization_usage": "sometimes"}),
				obj{"organization_usage": "sometimes"}, 400, "invalid_body", "organization_usage"},
			{"unknown subject type", base(obj{"subject_type": "robot"}), nil, 400, "invalid_body", "subject_type"},
			{"no client_id", base(obj{"client_id": nil}), nil, 400, "invalid_body", "client_id"},
			{"no audience", base(obj{"audience": nil}), nil, 400, "invalid_body", "audience"},
			{"no scope", base(obj{"scope": nil}), nil, 400, "invalid_body", "scope"},
			{"unknown client", base(obj{"client_id": "nope"}), nil, 404, "inexistent_client", "nope"},
			{"unknown audience", base(obj{"audience": "https://nope.example/"}), nil, 404, "inexistent_resource_server", "https://nope.example/"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.state(t, fx)
				wantMgmtError(t, e.mgmt(t, "POST", "client-grants", tc.post), tc.status, tc.code, tc.msg)
				if tc.patch != nil {
					wantMgmtError(t, e.mgmt(t, "PATCH", "client-grants/"+fx.grantID, tc.patch), tc.status, tc.code, tc.msg)
				}
				e.wantUnchanged(t, fx, before)
			})
		}
		t.Run("authorization_details_types on a user grant", func(t *testing.T) {
			e.must(t, "POST", "client-grants", base(obj{"subject_type": "user", "authorization_details_types": []string{"payment"}}), http.StatusCreated, nil)
		})
		t.Run("allow_all_scopes without scope", func(t *testing.T) {
			var g map[string]any
			e.must(t, "POST", "client-grants", base(obj{"scope": nil, "allow_all_scopes": true}), http.StatusCreated, &g)
			if g["allow_all_scopes"] != true || !jsonEqual(g["scope"], []string{}) {
				t.Errorf("grant %v: want allow_all_scopes and scope []", g)
			}
		})
	})

	t.Run("list filters", func(t *testing.T) {
		c1 := e.createClient(t, obj{"name": "f1", "app_type": "non_interactive"})
		c2 := e.createClient(t, obj{"name": "f2", "app_type": "non_interactive"})
		a, b := newAudience("fa"), newAudience("fb")
		e.createAPI(t, a, []string{"read:x"}, nil)
		e.createAPI(t, b, []string{"read:x"}, nil)
		g1 := e.grant(t, c1.ClientID, a, "read:x")
		g2 := e.grant(t, c1.ClientID, b, "read:x")
		g3 := e.grant(t, c2.ClientID, a, "read:x")
		var u map[string]any
		e.must(t, "POST", "client-grants", obj{"client_id": c1.ClientID, "audience": a, "scope": []string{"read:x"}, "subject_type": "user"}, http.StatusCreated, &u)
		g4 := u["id"].(string)
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"client_id=" + c1.ClientID, []string{g1, g2, g4}},
			{"client_id=" + c2.ClientID, []string{g3}},
			{"audience=" + url.QueryEscape(a), []string{g1, g3, g4}},
			{"audience=" + url.QueryEscape(a) + "&client_id=" + c1.ClientID, []string{g1, g4}},
			{"audience=" + url.QueryEscape(a) + "&subject_type=client", []string{g1, g3}},
			{"client_id=" + c1.ClientID + "&subject_type=user", []string{g4}},
			{"audience=" + url.QueryEscape(strings.TrimSuffix(a, "/")), nil},
			{"client_id=nobody", nil},
		} {
			t.Run(tc.query, func(t *testing.T) {
				var page struct {
					Total        int              `json:"total"`
					ClientGrants []map[string]any `json:"client_grants"`
				}
				e.must(t, "GET", "client-grants?include_totals=true&"+tc.query, nil, http.StatusOK, &page)
				var got []string
				for _, g := range page.ClientGrants {
					got = append(got, g["id"].(string))
				}
				slices.Sort(got)
				want := slices.Sorted(slices.Values(tc.want))
				if !slices.Equal(got, want) || page.Total != len(want) {
					t.Errorf("grants %v (total %d), want %v", got, page.Total, want)
				}
			})
		}
		wantMgmtError(t, e.mgmt(t, "GET", "client-grants?subject_type=robot", nil), 400, "invalid_query_string", "subject_type")
	})
}

// TestGrantsGovernIssuance checks that changes made through the Management
// API decide the very next token request.
func TestGrantsGovernIssuance(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	refused := func(t *testing.T, c authserver.Credentials, audience string, scopes ...string) {
		t.Helper()
		_, err := e.fetchToken(t, c, oauth2.AuthStyleInParams, audience, scopes...)
		wantTokenRefused(t, err, 403, "access_denied")
	}

	t.Run("allow_all_scopes covers scopes added later", func(t *testing.T) {
		fx := e.newFixture(t, "all")
		e.must(t, "PATCH", "client-grants/"+fx.grantID, obj{"allow_all_scopes": true}, http.StatusOK, nil)
		refused(t, fx.client, fx.audience, "later:x")
		e.must(t, "PATCH", "resource-servers/"+fx.apiID, obj{"scopes": scopeList("read:x", "write:x", "later:x")}, http.StatusOK, nil)
		if got := scopeOf(e.token(t, fx.client, fx.audience, "later:x")); got != "later:x" {
			t.Errorf("scope = %q, want later:x", got)
		}
		if got := scopeOf(e.token(t, fx.client, fx.audience)); got != "read:x write:x later:x" {
			t.Errorf("scope without a scope parameter = %q, want every scope of the API", got)
		}
	})

	t.Run("a scope removed from the API leaves tokens", func(t *testing.T) {
		fx := e.newFixture(t, "removed")
		e.must(t, "PATCH", "client-grants/"+fx.grantID, obj{"scope": []string{"read:x", "write:x"}}, http.StatusOK, nil)
		e.must(t, "PATCH", "resource-servers/"+fx.apiID, obj{"scopes": scopeList("read:x")}, http.StatusOK, nil)
		if got := scopeOf(e.token(t, fx.client, fx.audience)); got != "read:x" {
			t.Errorf("scope = %q, want read:x", got)
		}
		refused(t, fx.client, fx.audience, "write:x")
	})

	t.Run("concurrent issuance while the API changes", func(t *testing.T) {
		fx := e.newFixture(t, "busy")
		errs := make(chan error, 64)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 10 {
					tok, err := e.fetchToken(t, fx.client, oauth2.AuthStyleInParams, fx.audience, "read:x")
					if err == nil && scopeOf(tok) != "read:x" {
						err = fmt.Errorf("scope %q", scopeOf(tok))
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		for i := range 10 {
			e.must(t, "PATCH", "resource-servers/"+fx.apiID, obj{"name": fmt.Sprint("busy ", i)}, http.StatusOK, nil)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("token during API updates: %v", err)
		}
		e.must(t, "DELETE", "client-grants/"+fx.grantID, nil, http.StatusNoContent, nil)
		refused(t, fx.client, fx.audience)
	})

	t.Run("deleting a grant stops issuance", func(t *testing.T) {
		fx := e.newFixture(t, "revoke")
		e.token(t, fx.client, fx.audience)
		e.must(t, "DELETE", "client-grants/"+fx.grantID, nil, http.StatusNoContent, nil)
		refused(t, fx.client, fx.audience)
	})

	t.Run("deny_all applies at once", func(t *testing.T) {
		fx := e.newFixture(t, "deny")
		e.token(t, fx.client, fx.audience)
		policy := func(p string) obj { return obj{"subject_type_authorization": obj{"client": obj{"policy": p}}} }
		e.must(t, "PATCH", "resource-servers/"+fx.apiID, policy("deny_all"), http.StatusOK, nil)
		refused(t, fx.client, fx.audience)
		e.must(t, "PATCH", "resource-servers/"+fx.apiID, policy("require_client_grant"), http.StatusOK, nil)
		e.token(t, fx.client, fx.audience)
	})

	t.Run("deleting a client deletes its grants", func(t *testing.T) {
		fx := e.newFixture(t, "delclient")
		e.must(t, "POST", "client-grants", obj{"client_id": fx.client.ClientID, "audience": fx.audience, "scope": []string{}, "subject_type": "user"}, http.StatusCreated, nil)
		e.must(t, "DELETE", "clients/"+fx.client.ClientID, nil, http.StatusNoContent, nil)
		var grants []map[string]any
		e.must(t, "GET", "client-grants?client_id="+fx.client.ClientID, nil, http.StatusOK, &grants)
		if len(grants) != 0 {
			t.Errorf("grants of a deleted client: %v", grants)
		}
		wantMgmtError(t, e.mgmt(t, "GET", "client-grants/"+fx.grantID, nil), 404, "inexistent_client_grant", "client grant")
		// A new client with the same grant needs a new grant.
		_, err := e.fetchToken(t, fx.client, oauth2.AuthStyleInParams, fx.audience)
		wantTokenRefused(t, err, 401, "invalid_client")
	})

	t.Run("deleting an API deletes its grants", func(t *testing.T) {
		fx := e.newFixture(t, "delapi")
		e.must(t, "DELETE", "resource-servers/"+fx.apiID, nil, http.StatusNoContent, nil)
		var grants []map[string]any
		e.must(t, "GET", "client-grants?audience="+url.QueryEscape(fx.audience), nil, http.StatusOK, &grants)
		if len(grants) != 0 {
			t.Errorf("grants for a deleted API: %v", grants)
		}
		// An API created again with the same identifier starts with no
		// grants.
		e.createAPI(t, fx.audience, []string{"read:x"}, nil)
		refused(t, fx.client, fx.audience)
	})
}
