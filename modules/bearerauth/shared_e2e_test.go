package bearerauth_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// TestRemoteIssuerShared runs two sites trusting one remote issuer through
// a real Caddy and counts the issuer's discovery and key set requests:
// sites with the same settings fetch once, a config reload fetches nothing
// and leaves the keys refreshing, and a site whose settings change gets
// keys of its own.
func TestRemoteIssuerShared(t *testing.T) {
	dir := t.TempDir()
	r := startRemote(t)
	r.call(t, "POST", "resource-servers", map[string]any{
		"name": "Partner", "identifier": partnerAPI, "token_lifetime": 3600, "scopes": []map[string]string{{"value": "read:orders"}},
	}, http.StatusCreated)
	client := r.m2m(t, "shared-reader", partnerAPI, "read:orders")
	token := r.token(t, client, partnerAPI)
	ports := []int{testenv.FreePort(t), testenv.FreePort(t)}
	urls := []string{fmt.Sprintf("https://localhost:%d", ports[0]), fmt.Sprintf("https://localhost:%d", ports[1])}
	// caddyfile trusts r on both sites, with the second site's extra
	// bearer_auth options.
	caddyfile := func(second string) string {
		site := func(port int, options string) string {
			return fmt.Sprintf("https://localhost:%d {\n\ttls internal\n\tbearer_auth {\n\t\taudience %s\n\t\tissuer %s\n%s\t}\n\trespond ok\n}\n",
				port, partnerAPI, r.issuer, options)
		}
		return "{\n" + testenv.TestGlobals(dir) + "}\n" + site(ports[0], "") + site(ports[1], second)
	}
	discoveryBefore, jwksBefore := r.discoveryServed.Load(), r.jwksServed.Load()
	caddy := testenv.Start(t, dir, caddyfile(""), urls...)
	// allowedOnBoth presents the token to both sites, which must have the
	// issuer's keys to let it through.
	allowedOnBoth := func(t *testing.T, token string) {
		t.Helper()
		for _, u := range urls {
			req, err := http.NewRequestWithContext(t.Context(), "GET", u+"/orders", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", bearer(token))
			resp, err := caddy.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "ok" {
				t.Fatalf("%s = %d %q, want 200 ok", u, resp.StatusCode, body)
			}
		}
	}
	wantFetches := func(t *testing.T, wantDiscovery, wantJWKS int64) {
		t.Helper()
		discovery, jwks := r.discoveryServed.Load()-discoveryBefore, r.jwksServed.Load()-jwksBefore
		if discovery != wantDiscovery || jwks != wantJWKS {
			t.Fatalf("the issuer served %d discovery documents and %d key sets, want %d and %d", discovery, jwks, wantDiscovery, wantJWKS)
		}
	}

	t.Run("two sites fetch once", func(t *testing.T) {
		allowedOnBoth(t, token)
		wantFetches(t, 1, 1)
	})
	t.Run("a reload fetches nothing", func(t *testing.T) {
		testenv.Load(t, caddyfile(""))
		allowedOnBoth(t, token)
		wantFetches(t, 1, 1)
	})
	t.Run("the keys kept over a reload are still refreshed", func(t *testing.T) {
		// The second rotation's current key was made after the last
		// fetch: only a fetcher still running can learn it.
		for range 2 {
			if _, err := r.server.Keyring().Rotate(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		token = r.token(t, client, partnerAPI)
		allowedOnBoth(t, token)
		wantFetches(t, 1, 2)
	})
	t.Run("the default spelled out is the same setting", func(t *testing.T) {
		testenv.Load(t, caddyfile("\t\tunknown_key_refetch 5s\n"))
		allowedOnBoth(t, token)
		wantFetches(t, 1, 2)
	})
	t.Run("sites with different settings do not share", func(t *testing.T) {
		testenv.Load(t, caddyfile("\t\tunknown_key_refetch 1m\n"))
		allowedOnBoth(t, token)
		wantFetches(t, 2, 3)
	})
}
