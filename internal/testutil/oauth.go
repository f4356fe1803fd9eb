package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// ClientCredentialsToken runs the client credentials grant at tokenURL
// through client, the secret sent in the form body as Auth0's
// machine-to-machine quickstarts send it, and returns the access token. It
// fails the test unless the answer is 200 with an access token.
func ClientCredentialsToken(t testing.TB, client *http.Client, tokenURL, clientID, clientSecret, audience string) string {
	t.Helper()
	resp, err := client.PostForm(tokenURL, url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientID},
		"client_secret": {clientSecret},
		"audience":      {audience},
	})
	if err != nil {
		t.Fatalf("client credentials token for %s: %v", clientID, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("client credentials token for %s: %d %s", clientID, resp.StatusCode, raw)
	}
	return tok.AccessToken
}

// ManagementAPI calls a Management API through Client, sending Token as
// the bearer token unless it is empty (for a client that adds its own).
type ManagementAPI struct {
	Base   string // the API's URL ending in a slash, such as issuer+"api/v2/"
	Token  string
	Client *http.Client
}

// Do sends method to Base+path with body as JSON (no body if nil), fails
// the test unless the answer's status is want, and decodes a non-empty
// answer into out unless out is nil.
func (m *ManagementAPI) Do(t testing.TB, method, path string, body any, want int, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, m.Base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if m.Token != "" {
		req.Header.Set("Authorization", "Bearer "+m.Token)
	}
	resp, err := m.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
}

// Call is Do decoding the answer into a map, nil if the answer is empty.
func (m *ManagementAPI) Call(t testing.TB, method, path string, body any, want int) map[string]any {
	t.Helper()
	var out map[string]any
	m.Do(t, method, path, body, want, &out)
	return out
}
