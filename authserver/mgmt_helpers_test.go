package authserver_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/authserver"
)

// mgmtScopes are the Management API's permissions, with Auth0's names.
var mgmtScopes = []string{
	"read:clients", "create:clients", "update:clients", "delete:clients",
	"read:client_keys", "update:client_keys",
	"read:client_credentials", "create:client_credentials", "update:client_credentials", "delete:client_credentials",
	"read:resource_servers", "create:resource_servers", "update:resource_servers", "delete:resource_servers",
	"read:client_grants", "create:client_grants", "update:client_grants", "delete:client_grants",
	"read:users", "create:users", "update:users", "delete:users",
	"read:roles", "create:roles", "update:roles", "delete:roles",
	"read:role_members", "create:role_members", "delete:role_members",
	"read:tenant_settings", "update:tenant_settings", "read:branding", "update:branding",
	"read:signing_keys", "create:signing_keys", "update:signing_keys",
}

var counter atomic.Int64

// uniq returns a name no other call returns.
func uniq(prefix string) string { return fmt.Sprintf("%s%d", prefix, counter.Add(1)) }

// newAudience returns an API identifier no other call returns.
func newAudience(prefix string) string { return "https://" + uniq(prefix) + ".example/" }

// mgmt calls the Management API as the bootstrap admin.
func (e *env) mgmt(t *testing.T, method, path string, body any) reply {
	t.Helper()
	return e.do(t, request{method: method, path: "api/v2/" + path, auth: "Bearer " + e.adminToken, body: body})
}

// must calls the Management API as the admin, requires status want and
// decodes the response into out unless out is nil.
func (e *env) must(t *testing.T, method, path string, body any, want int, out any) reply {
	t.Helper()
	r := e.mgmt(t, method, path, body)
	if r.status != want {
		t.Fatalf("%s /api/v2/%s: got %s, want %d", method, path, r, want)
	}
	if out != nil {
		r.decode(t, out)
	}
	return r
}

// wantMgmtError checks an Auth0-shaped Management API error: the status,
// errorCode, and a message containing msg.
func wantMgmtError(t *testing.T, r reply, status int, code, msg string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %s, want %d %s", r, status, code)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q, want JSON", ct)
	}
	var body struct {
		StatusCode int    `json:"statusCode"`
		Error      string `json:"error"`
		Message    string `json:"message"`
		ErrorCode  string `json:"errorCode"`
	}
	r.decode(t, &body)
	if body.StatusCode != status || body.Error != http.StatusText(status) || body.ErrorCode != code || body.Message == "" || !strings.Contains(body.Message, msg) {
		t.Errorf("error body %s: want statusCode %d, error %q, errorCode %q and a message containing %q", r.body, status, http.StatusText(status), code, msg)
	}
}

// createClient creates a client and returns its credentials.
func (e *env) createClient(t *testing.T, fields obj) authserver.Credentials {
	t.Helper()
	var c authserver.Credentials
	e.must(t, "POST", "clients", fields, http.StatusCreated, &c)
	if c.ClientID == "" {
		t.Fatal("created client has no client_id")
	}
	return c
}

// createAPI creates a resource server with the given permissions.
func (e *env) createAPI(t *testing.T, identifier string, scopes []string, fields obj) map[string]any {
	t.Helper()
	body := obj{"identifier": identifier, "scopes": scopeList(scopes...)}
	for k, v := range fields {
		body[k] = v
	}
	var rs map[string]any
	e.must(t, "POST", "resource-servers", body, http.StatusCreated, &rs)
	return rs
}

// grant creates a client grant of subject type client.
func (e *env) grant(t *testing.T, clientID, audience string, scopes ...string) string {
	t.Helper()
	if scopes == nil {
		scopes = []string{}
	}
	var g struct{ ID string }
	e.must(t, "POST", "client-grants", obj{"client_id": clientID, "audience": audience, "scope": scopes}, http.StatusCreated, &g)
	return g.ID
}

func scopeList(values ...string) []obj {
	out := []obj{}
	for _, v := range values {
		out = append(out, obj{"value": v, "description": "may " + v})
	}
	return out
}

// scopeValues returns the permission names of a resource server object.
func scopeValues(rs map[string]any) []string {
	list, _ := rs["scopes"].([]any)
	out := []string{}
	for _, s := range list {
		out = append(out, s.(map[string]any)["value"].(string))
	}
	return out
}

// fixture is a machine-to-machine client with a grant of read:x on an API
// defining read:x and write:x.
type fixture struct {
	client   authserver.Credentials
	audience string
	apiID    string
	grantID  string
}

// newFixture makes one, named after prefix.
func (e *env) newFixture(t *testing.T, prefix string) *fixture {
	t.Helper()
	name := uniq(prefix)
	fx := &fixture{
		client:   e.createClient(t, obj{"name": name, "app_type": "non_interactive"}),
		audience: "https://" + name + ".example/",
	}
	fx.apiID = e.createAPI(t, fx.audience, []string{"read:x", "write:x"}, nil)["id"].(string)
	fx.grantID = e.grant(t, fx.client.ClientID, fx.audience, "read:x")
	return fx
}

// expand replaces {client}, {api}, {grant} and {audience} in s.
func (fx *fixture) expand(s string) string {
	return strings.NewReplacer("{client}", fx.client.ClientID, "{api}", fx.apiID, "{grant}", fx.grantID, "{audience}", fx.audience).Replace(s)
}

// state is every client, API and client grant as the Management API lists
// them, and whether fx's client still gets its token with its secret: what
// a refused request must leave as it was.
func (e *env) state(t *testing.T, fx *fixture) string {
	t.Helper()
	var b strings.Builder
	for _, list := range []string{"clients", "resource-servers", "client-grants"} {
		b.Write(e.must(t, "GET", list+"?per_page=100", nil, http.StatusOK, nil).body)
		b.WriteByte('\n')
	}
	if fx != nil {
		_, err := e.fetchToken(t, fx.client, oauth2.AuthStyleInParams, fx.audience)
		fmt.Fprintf(&b, "fixture token error: %v\n", err)
	}
	return b.String()
}

// wantUnchanged fails if the state differs from before.
func (e *env) wantUnchanged(t *testing.T, fx *fixture, before string) {
	t.Helper()
	wantSameState(t, before, e.state(t, fx))
}

// wantSameState fails if after, what is stored after a refused request,
// differs from before.
func wantSameState(t *testing.T, before, after string) {
	t.Helper()
	if after != before {
		t.Errorf("a refused request changed what is stored:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// endpoint is one method of one Management API path.
type endpoint struct {
	method string
	path   string // with {client}, {api}, {grant} for the fixture's
	scope  string
	ok     int // status of a successful call
	// body returns a valid body for the fixture; nil for none.
	body func(fx *fixture) obj
	// badField is a property of body that must not be a string, and
	// badType the JSON type it must have.
	badField, badType string
}

func (ep endpoint) String() string { return ep.method + " " + ep.path }

// call makes the request for fx with the Authorization header auth.
func (ep endpoint) call(t *testing.T, e *env, fx *fixture, auth, query string) reply {
	t.Helper()
	req := request{method: ep.method, path: "api/v2/" + fx.expand(ep.path) + query, auth: auth}
	if ep.body != nil {
		req.body = ep.body(fx)
	}
	return e.do(t, req)
}

// endpoints lists every Management API endpoint.
var endpoints = []endpoint{
	{method: "GET", path: "clients", scope: "read:clients", ok: 200},
	{method: "POST", path: "clients", scope: "create:clients", ok: 201,
		body:     func(*fixture) obj { return obj{"name": "new app", "app_type": "non_interactive"} },
		badField: "grant_types", badType: "array"},
	{method: "GET", path: "clients/{client}", scope: "read:clients", ok: 200},
	{method: "PATCH", path: "clients/{client}", scope: "update:clients", ok: 200,
		body:     func(*fixture) obj { return obj{"name": "renamed"} },
		badField: "is_first_party", badType: "boolean"},
	{method: "DELETE", path: "clients/{client}", scope: "delete:clients", ok: 204},
	{method: "POST", path: "clients/{client}/rotate-secret", scope: "update:client_keys", ok: 200},
	{method: "GET", path: "resource-servers", scope: "read:resource_servers", ok: 200},
	{method: "POST", path: "resource-servers", scope: "create:resource_servers", ok: 201,
		body:     func(*fixture) obj { return obj{"identifier": newAudience("new")} },
		badField: "token_lifetime", badType: "integer"},
	{method: "GET", path: "resource-servers/{api}", scope: "read:resource_servers", ok: 200},
	{method: "PATCH", path: "resource-servers/{api}", scope: "update:resource_servers", ok: 200,
		body:     func(*fixture) obj { return obj{"name": "renamed"} },
		badField: "scopes", badType: "array"},
	{method: "DELETE", path: "resource-servers/{api}", scope: "delete:resource_servers", ok: 204},
	{method: "GET", path: "client-grants", scope: "read:client_grants", ok: 200},
	{method: "POST", path: "client-grants", scope: "create:client_grants", ok: 201,
		body: func(fx *fixture) obj {
			return obj{"client_id": fx.client.ClientID, "audience": fx.audience, "subject_type": "user", "scope": []string{"read:x"}}
		},
		badField: "scope", badType: "array"},
	{method: "GET", path: "client-grants/{grant}", scope: "read:client_grants", ok: 200},
	{method: "PATCH", path: "client-grants/{grant}", scope: "update:client_grants", ok: 200,
		body:     func(*fixture) obj { return obj{"scope": []string{"read:x", "write:x"}} },
		badField: "allow_all_scopes", badType: "boolean"},
	{method: "DELETE", path: "client-grants/{grant}", scope: "delete:client_grants", ok: 204},
}
