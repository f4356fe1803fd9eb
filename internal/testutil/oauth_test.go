package testutil_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis-gw/portcullis/internal/testutil"
)

// TestClientCredentialsToken sends the grant's form and returns the token.
func TestClientCredentialsToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("grant_type") != "client_credentials" || r.PostFormValue("client_id") != "id" ||
			r.PostFormValue("client_secret") != "secret" || r.PostFormValue("audience") != "https://api/" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		io.WriteString(w, `{"access_token":"tok","token_type":"Bearer"}`)
	}))
	defer srv.Close()
	if got := testutil.ClientCredentialsToken(t, srv.Client(), srv.URL, "id", "secret", "https://api/"); got != "tok" {
		t.Errorf("token = %q, want tok", got)
	}
	f := &failRecorder{TB: t}
	testutil.ClientCredentialsToken(f, srv.Client(), srv.URL, "id", "wrong", "https://api/")
	if f.failed == "" {
		t.Error("a 400 answer did not fail the test")
	}
}

// TestManagementAPI sends the token and the JSON body, checks the status
// and decodes the answer.
func TestManagementAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Path != "/api/v2/clients" ||
			r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&in) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"client_id": "c1", "name": in["name"]})
	}))
	defer srv.Close()
	api := &testutil.ManagementAPI{Base: srv.URL + "/api/v2/", Token: "tok", Client: srv.Client()}
	got := api.Call(t, "POST", "clients", map[string]any{"name": "worker"}, http.StatusCreated)
	if got["client_id"] != "c1" || got["name"] != "worker" {
		t.Errorf("answer = %v", got)
	}
	var typed struct {
		ClientID string `json:"client_id"`
	}
	api.Do(t, "POST", "clients", map[string]any{"name": "worker"}, http.StatusCreated, &typed)
	if typed.ClientID != "c1" {
		t.Errorf("decoded client_id = %q, want c1", typed.ClientID)
	}
	f := &failRecorder{TB: t}
	api.Call(f, "POST", "clients", map[string]any{"name": "worker"}, http.StatusOK)
	if f.failed == "" {
		t.Error("a 201 answer where 200 was wanted did not fail the test")
	}
}
