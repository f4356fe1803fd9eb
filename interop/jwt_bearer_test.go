package interop_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/internal/testenv"
	"github.com/portcullis-gw/portcullis/internal/testutil"
)

// TestExpressJWTBearer calls interop/jwt-bearer/api.mjs, an Express API
// protected by Auth0's express-oauth2-jwt-bearer as its quickstart writes
// it (auth({audience, issuerBaseURL}) and requiredScopes), with access
// tokens that machine-to-machine applications created with the Management
// API's defaults get from Portcullis: a token with the scope is let in, one
// without it is refused 403, and no token is 401.
func TestExpressJWTBearer(t *testing.T) {
	repo := repoRoot(t)
	node := requireNode(t, "jwt-bearer", "express-oauth2-jwt-bearer")
	const audience = "https://api.example.com/messages"
	c, issuer := startPortcullis(t, "", "")
	api := managementAPI(t, c, issuer)

	api.Do(t, "POST", "resource-servers", map[string]any{
		"name": "Messages", "identifier": audience,
		"scopes": []map[string]string{{"value": "read:messages"}, {"value": "write:messages"}},
	}, http.StatusCreated, nil)
	// Two applications as the dashboard makes them, one granted
	// read:messages, the other only write:messages.
	reader := newM2MApp(t, api, "reader")
	writer := newM2MApp(t, api, "writer")
	api.Do(t, "POST", "client-grants", map[string]any{"client_id": reader.ClientID, "audience": audience, "scope": []string{"read:messages"}}, http.StatusCreated, nil)
	api.Do(t, "POST", "client-grants", map[string]any{"client_id": writer.ClientID, "audience": audience, "scope": []string{"write:messages"}}, http.StatusCreated, nil)

	appPort := testenv.FreePort(t)
	startNodeApp(t, node, repo, filepath.Join("interop", "jwt-bearer", "api.mjs"), appPort,
		"ISSUER_BASE_URL="+issuer,
		"AUDIENCE="+audience,
		// Trust Caddy's local CA in addition to the usual roots; TLS
		// verification stays on.
		"NODE_EXTRA_CA_CERTS="+c.RootCAPath(),
	)
	base := fmt.Sprintf("http://127.0.0.1:%d/api/", appPort)
	tokenClient := *c.Client
	tokenClient.Timeout = 30 * time.Second
	readToken := testutil.ClientCredentialsToken(t, &tokenClient, issuer+"oauth/token", reader.ClientID, reader.ClientSecret, audience)
	writeToken := testutil.ClientCredentialsToken(t, &tokenClient, issuer+"oauth/token", writer.ClientID, writer.ClientSecret, audience)

	for _, tc := range []struct {
		name, path, token string
		want              int
	}{
		{"public, no token", "public", "", http.StatusOK},
		{"private, no token", "private", "", http.StatusUnauthorized},
		{"private, a token", "private", writeToken, http.StatusOK},
		{"private, a forged token", "private", readToken[:len(readToken)-4] + "AAAA", http.StatusUnauthorized},
		{"scoped, no token", "private-scoped", "", http.StatusUnauthorized},
		{"scoped, a token with the scope", "private-scoped", readToken, http.StatusOK},
		{"scoped, a token without the scope", "private-scoped", writeToken, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, base+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("GET /api/%s: %d and no JSON: %v", tc.path, resp.StatusCode, err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("GET /api/%s: %d %v, want %d", tc.path, resp.StatusCode, body, tc.want)
			}
			switch {
			case tc.want == http.StatusOK && tc.token != "":
				if sub, _ := body["sub"].(string); !strings.HasSuffix(sub, "@clients") {
					t.Errorf("GET /api/%s: the API sees the subject %q, want <client_id>@clients", tc.path, sub)
				}
			case tc.want == http.StatusUnauthorized:
				if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("GET /api/%s: WWW-Authenticate %q, want a Bearer challenge", tc.path, got)
				}
			case tc.want == http.StatusForbidden:
				if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="insufficient_scope"`) {
					t.Errorf("GET /api/%s: WWW-Authenticate %q, want error=\"insufficient_scope\"", tc.path, got)
				}
			}
		})
	}
}

// m2mApp is an application's credentials.
type m2mApp struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// newM2MApp creates a machine-to-machine application as the dashboard
// does: a name and the application type, every other property the
// Management API's default.
func newM2MApp(t *testing.T, api *testutil.ManagementAPI, name string) m2mApp {
	t.Helper()
	var app m2mApp
	api.Do(t, "POST", "clients", map[string]any{"name": name, "app_type": "non_interactive"}, http.StatusCreated, &app)
	return app
}
