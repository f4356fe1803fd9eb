package portcullis_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// TestRateLimitsThroughCaddy checks that rate_limits reach the
// authorization server, which counts by Caddy's client IP.
func TestRateLimitsThroughCaddy(t *testing.T) {
	dir := t.TempDir()
	port := testenv.FreePort(t)
	issuer := fmt.Sprintf("https://localhost:%d/", port)
	c := testenv.Start(t, dir, fmt.Sprintf(`{
%s
	portcullis {
		issuer %s
		storage sqlite %s/portcullis.db
		bootstrap_admin %s %s
		rate_limits {
			token_per_ip 2
			token_per_client off
		}
	}
}
https://localhost:%d {
	tls internal
	authorization_server
}
`, testenv.TestGlobals(dir), issuer, dir, adminID, adminSecret, port), issuer+".well-known/jwks.json")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {adminID}, "client_secret": {adminSecret},
		"audience": {issuer + "api/v2/"}}.Encode()
	// Two requests pass, the third is refused; when a new minute starts
	// in between, the count starts over, so five requests are enough.
	for i := range 5 {
		resp, err := c.Client.Post(issuer+"oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			continue
		case resp.StatusCode != http.StatusTooManyRequests || i < 2:
			t.Fatalf("token request %d: %d %s", i+1, resp.StatusCode, body)
		}
		if retry, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || retry < 1 || retry > 60 {
			t.Errorf("Retry-After %q, want 1 to 60 seconds", resp.Header.Get("Retry-After"))
		}
		if !strings.Contains(string(body), `"error":"too_many_requests"`) {
			t.Errorf("body %s, want too_many_requests", body)
		}
		return
	}
	t.Fatal("five token requests in a row with token_per_ip 2, and none refused")
}
