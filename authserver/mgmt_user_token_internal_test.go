package authserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
)

// TestManagementRefusesUserTokens: no flow issues a user a token for the
// Management API, and should one exist (signed with the server's own key,
// for the Management API's audience, with every scope, for a client whose
// grant allows all), the Management API still refuses it: only clients
// manage the tenant.
func TestManagementRefusesUserTokens(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var handler http.Handler
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	admin := Credentials{ClientID: "admin", ClientSecret: "admin-secret-0123456789abcdefghijklmn"}
	s, err := New(t.Context(), Config{Issuer: ts.URL + "/", Store: st, BootstrapAdmin: &admin})
	if err != nil {
		t.Fatal(err)
	}
	handler = s.Handler()

	signer, _ := s.keyring.Ring().Signer(jwa.RS256)
	sign := func(claims map[string]any) string {
		payload, _ := json.Marshal(claims)
		hdr := jws.NewHeaders()
		hdr.Set(jws.KeyIDKey, signer.KID)
		hdr.Set(jws.TypeKey, "JWT")
		token, err := jws.Sign(payload, jws.WithKey(signer.Alg, signer.Key, jws.WithProtectedHeaders(hdr)))
		if err != nil {
			t.Fatal(err)
		}
		return string(token)
	}
	now := time.Now()
	claims := func(sub, gty string) map[string]any {
		c := map[string]any{"iss": s.issuer, "aud": ManagementAudience(s.issuer), "sub": sub, "azp": admin.ClientID,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "read:clients"}
		if gty != "" {
			c["gty"] = gty
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		token string
		want  int
	}{
		{"the admin client's own token", sign(claims(admin.ClientID+"@clients", "client-credentials")), http.StatusOK},
		{"a user's token", sign(claims("auth0|someone", "")), http.StatusForbidden},
		{"a user's token through the admin client's authorization code", sign(claims("auth0|someone", "authorization_code")), http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", s.issuer+"api/v2/clients", nil)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
