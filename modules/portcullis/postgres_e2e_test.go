package portcullis_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/portcullis-gw/portcullis/internal/pgtest"
	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// TestPostgresEndToEnd runs Portcullis on PostgreSQL, the DSN read from
// the environment at start: `portcullis migrate` and `create-admin` on the
// same database, then the M2M setup through the Management API, then a
// reload that keeps the data.
func TestPostgresEndToEnd(t *testing.T) {
	t.Setenv("PORTCULLIS_E2E_PG_DSN", pgtest.DSN(t))
	t.Setenv("PORTCULLIS_ADMIN_CLIENT_ID", adminID)
	t.Setenv("PORTCULLIS_ADMIN_CLIENT_SECRET", adminSecret)
	const spec = "postgres {env.PORTCULLIS_E2E_PG_DSN}"

	out, err := runCommand(t, "migrate", "--storage", spec)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !regexp.MustCompile(`^schema version [1-9][0-9]*\n$`).Match(out) {
		t.Fatalf("migrate printed %q", out)
	}
	dir := t.TempDir()
	port := testenv.FreePort(t)
	caddyfile := caddyfileWithStorage(dir, port, spec)
	s := runCaddyfile(t, dir, port, caddyfile)

	out, err = runCommand(t, "create-admin", "--issuer", s.issuer, "--storage", spec)
	if err != nil {
		t.Fatalf("create-admin: %v", err)
	}
	var cli struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &cli); err != nil || cli.ClientID == "" {
		t.Fatalf("create-admin printed %q (%v)", out, err)
	}

	admin := s.admin()
	audience := "https://api.example.com/pg"
	s.call(admin, "POST", "resource-servers", map[string]any{
		"identifier": audience, "scopes": []map[string]string{{"value": "read:x"}},
	}, http.StatusCreated)
	app := s.call(admin, "POST", "clients", map[string]any{"name": "pg-worker", "app_type": "non_interactive"}, http.StatusCreated)
	id, secret := app["client_id"].(string), app["client_secret"].(string)
	s.call(admin, "POST", "client-grants", map[string]any{"client_id": id, "audience": audience, "scope": []string{"read:x"}}, http.StatusCreated)
	tok, err := s.token(id, secret, audience, "read:x")
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	s.verify(tok.AccessToken, audience, "RS256")

	// The admin client that create-admin stored meanwhile is seen after
	// a reload, and what was created before it is kept.
	kids := s.jwksKIDs()
	testenv.Load(t, caddyfile+"\n# reloaded\n")
	if after := s.jwksKIDs(); !slices.Equal(kids, after) {
		t.Fatalf("keys changed across reload: %v, then %v", kids, after)
	}
	list := s.call(s.clientFor(cli.ClientID, cli.ClientSecret, s.issuer+"api/v2/"), "GET", "clients?include_totals=true", nil, http.StatusOK)
	if list["total"].(float64) != 3 {
		t.Fatalf("clients = %v, want the bootstrap admin, the CLI's admin and pg-worker", list)
	}
	tok, err = s.token(id, secret, audience, "read:x")
	if err != nil {
		t.Fatalf("client credentials after reload: %v", err)
	}
	s.verify(tok.AccessToken, audience, "RS256")
}
