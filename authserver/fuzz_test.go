package authserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
)

// fuzzIssuer is the issuer of the fuzz targets' server, which they call
// in-process, without a network.
const fuzzIssuer = "https://fuzz.example.com/"

// fuzzServer is an authorization server on a fresh database, built once
// per fuzz target and process, and a Management API token of its
// bootstrap admin.
type fuzzServer struct {
	srv        *authserver.Server
	handler    http.Handler
	adminToken string
}

func newFuzzServer(f *testing.F) *fuzzServer {
	st, err := sqlite.Open(filepath.Join(f.TempDir(), "p.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	srv, err := authserver.New(context.Background(), authserver.Config{
		Issuer: fuzzIssuer, Store: st,
		BootstrapAdmin: &authserver.Credentials{ClientID: "portcullis-admin", ClientSecret: adminSecret},
	})
	if err != nil {
		f.Fatal(err)
	}
	s := &fuzzServer{srv: srv, handler: srv.Handler()}
	w := s.do("POST", "oauth/token", "application/x-www-form-urlencoded", "", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"portcullis-admin"}, "client_secret": {adminSecret},
		"audience": {authserver.ManagementAudience(fuzzIssuer)},
	}.Encode())
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil || w.Code != http.StatusOK || tok.AccessToken == "" {
		f.Fatalf("admin token: %d %s", w.Code, w.Body)
	}
	s.adminToken = tok.AccessToken
	return s
}

// do serves one request.
func (s *fuzzServer) do(method, path, contentType, authorization, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, fuzzIssuer+path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, r)
	return w
}

// tokenContentTypes are the Content-Types FuzzTokenEndpoint sends, chosen
// by the input; any other byte sends the input's own.
var tokenContentTypes = []string{"application/x-www-form-urlencoded", "application/json", "application/json; charset=utf-8", ""}

// FuzzTokenEndpoint posts arbitrary bodies, as forms, JSON or any content
// type, with any Authorization header, to /oauth/token: the answer is
// never a 5xx; a 200 is JSON with an access_token, anything else JSON with
// an error.
func FuzzTokenEndpoint(f *testing.F) {
	s := newFuzzServer(f)
	mgmt := authserver.ManagementAudience(fuzzIssuer)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"portcullis-admin"}, "client_secret": {adminSecret}, "audience": {mgmt}}.Encode()
	doc, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": "portcullis-admin", "client_secret": adminSecret, "audience": mgmt})
	for _, seed := range []struct {
		kind                    byte
		contentType, auth, body string
	}{
		{0, "", "", form},
		{1, "", "", string(doc)},
		{0, "", "Basic cG9ydGN1bGxpcy1hZG1pbjp4", "grant_type=client_credentials&audience=" + url.QueryEscape(mgmt)},
		{0, "", "", "grant_type=authorization_code&code=x&redirect_uri=https://a/&client_id=portcullis-admin&code_verifier=abc"},
		{0, "", "", "grant_type=refresh_token&refresh_token=x&client_id=portcullis-admin"},
		{0, "", "", "grant_type=client_credentials&grant_type=password&client_id=a&client_id=b"},
		{1, "", "", `{"grant_type":["client_credentials"],"client_id":1,"audience":null}`},
		{1, "", "", `{"grant_type":"client_credentials","grant_type":"x"}`},
		{4, "multipart/form-data; boundary=x", "", "--x\r\n\r\n--x--"},
		{3, "", "", "%zz=1"},
	} {
		f.Add(seed.kind, seed.contentType, seed.auth, seed.body)
	}
	f.Fuzz(func(t *testing.T, kind byte, contentType, auth, body string) {
		if int(kind) < len(tokenContentTypes) {
			contentType = tokenContentTypes[kind]
		}
		w := s.do("POST", "oauth/token", contentType, auth, body)
		if w.Code >= 500 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%d with a body that is not a JSON object: %q", w.Code, w.Body)
		}
		if w.Code == http.StatusOK {
			if tok, _ := out["access_token"].(string); tok == "" {
				t.Fatalf("200 without an access_token: %s", w.Body)
			}
			return
		}
		if code, _ := out["error"].(string); code == "" {
			t.Fatalf("%d without an error: %s", w.Code, w.Body)
		}
	})
}

// counts are how many of each kind of object the store holds.
type counts struct{ clients, resourceServers, clientGrants, users int }

func (s *fuzzServer) counts(t *testing.T) counts {
	t.Helper()
	ctx, st := t.Context(), s.srv.Store()
	var c counts
	var err [4]error
	_, c.clients, err[0] = st.ListClients(ctx, storage.ClientFilter{}, storage.Page{PerPage: 1})
	_, c.resourceServers, err[1] = st.ListResourceServers(ctx, storage.Page{PerPage: 1})
	_, c.clientGrants, err[2] = st.ListClientGrants(ctx, storage.GrantFilter{}, storage.Page{PerPage: 1})
	_, c.users, err[3] = st.ListUsers(ctx, storage.UserQuery{}, storage.Page{PerPage: 1})
	for _, e := range err {
		if e != nil {
			t.Fatal(e)
		}
	}
	return c
}

// mgmtCollections are the collections FuzzManagementCreate posts to, and
// which count each adds to.
var mgmtCollections = []struct {
	path  string
	count func(*counts) *int
}{
	{"clients", func(c *counts) *int { return &c.clients }},
	{"resource-servers", func(c *counts) *int { return &c.resourceServers }},
	{"client-grants", func(c *counts) *int { return &c.clientGrants }},
	{"users", func(c *counts) *int { return &c.users }},
}

// FuzzManagementCreate posts arbitrary bodies to the Management API's
// collections as the admin: the answer is never a 5xx; a refused body (4xx)
// stores nothing, and a 201 stores exactly one object of its collection.
func FuzzManagementCreate(f *testing.F) {
	s := newFuzzServer(f)
	for _, seed := range []struct {
		collection byte
		body       string
	}{
		{0, `{"name":"worker","app_type":"non_interactive"}`},
		{0, `{"name":"spa","app_type":"spa","callbacks":["https://app.example.com/cb"],"grant_types":["authorization_code","refresh_token"]}`},
		{0, `{"name":"x","client_id":"portcullis-admin"}`},
		{0, `{"name":"x","name":"y","token_endpoint_auth_method":"none"}`},
		{1, `{"name":"Orders","identifier":"https://api.example.com/orders","scopes":[{"value":"read:orders"}],"token_lifetime":3600}`},
		{1, `{"identifier":"https://api.example.com/x","token_dialect":"rfc9068_profile_authz","enforce_policies":true,"proof_of_possession":{"mechanism":"mtls","required":true}}`},
		{1, `{"identifier":"` + fuzzIssuer + `api/v2/"}`},
		{2, `{"client_id":"portcullis-admin","audience":"https://api.example.com/orders","scope":["read:orders"]}`},
		{2, `{"client_id":"nobody","audience":"https://api.example.com/none","scope":[]}`},
		{3, `{"connection":"Username-Password-Authentication","email":"a@example.com","password":"correct horse battery staple 1!"}`},
		{3, `{"connection":"other","email":"not-an-email","password":""}`},
		{3, `{"email":"a@example.com","user_id":"../x","app_metadata":{"a":[1,{"b":null}]}}`},
		{0, `[]`},
		{1, `null`},
		{2, `{"scope":"read:orders"}`},
		{3, `{"email":1e999}`},
	} {
		f.Add(seed.collection, seed.body)
	}
	bearer := "Bearer " + s.adminToken
	f.Fuzz(func(t *testing.T, collection byte, body string) {
		c := mgmtCollections[int(collection)%len(mgmtCollections)]
		before := s.counts(t)
		w := s.do("POST", "api/v2/"+c.path, "application/json", bearer, body)
		after := s.counts(t)
		if w.Code >= 500 {
			t.Fatalf("POST %s %q: %d %s", c.path, body, w.Code, w.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("POST %s: %d with a body that is not a JSON object: %q", c.path, w.Code, w.Body)
		}
		want := before
		if w.Code == http.StatusCreated {
			*c.count(&want)++
		} else if msg, _ := out["message"].(string); w.Code < 400 || msg == "" {
			t.Fatalf("POST %s: %d %s, want 201 or an error with a message", c.path, w.Code, w.Body)
		}
		if after != want {
			t.Fatalf("POST %s %q answered %d; the store went from %+v to %+v", c.path, body, w.Code, before, after)
		}
	})
}
