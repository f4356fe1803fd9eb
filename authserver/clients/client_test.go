package clients

import (
	"fmt"
	"strings"
	"testing"
)

func validClient() *Client {
	c := &Client{
		Name:              "App",
		AppType:           AppSPA,
		Callbacks:         []string{"https://app.example.com/callback", "http://127.0.0.1/cb", "com.example.app://callback"},
		AllowedLogoutURLs: []string{"https://app.example.com/", "https://*.example.com/bye"},
		WebOrigins:        []string{"https://app.example.com", "https://*.example.com:8443"},
		AllowedOrigins:    []string{"https://app.example.com/", "capacitor://localhost"},
	}
	c.ApplyDefaults()
	return c
}

func urls(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("https://app%d.example.com", i)
	}
	return s
}

func TestValidateURLs(t *testing.T) {
	if err := validClient().Validate(); err != nil {
		t.Fatalf("valid client: %v", err)
	}
	full := validClient()
	full.Callbacks, full.AllowedLogoutURLs, full.WebOrigins, full.AllowedOrigins = urls(MaxURLs), urls(MaxURLs), urls(MaxURLs), urls(MaxURLs)
	if err := full.Validate(); err != nil {
		t.Fatalf("client with %d URLs in each list: %v", MaxURLs, err)
	}
	for _, tc := range []struct {
		name   string
		change func(c *Client)
		want   string
	}{
		{"wildcard before a single label", func(c *Client) { c.Callbacks = []string{"https://*.com/cb"} },
			`callbacks: "https://*.com/cb": a wildcard needs at least two labels after it`},
		{"callback with a fragment", func(c *Client) { c.Callbacks = append(c.Callbacks, "https://app.example.com/#x") },
			`callbacks: "https://app.example.com/#x": the URL must not have a fragment`},
		{"javascript logout URL", func(c *Client) { c.AllowedLogoutURLs = []string{"javascript:alert(1)"} },
			`allowed_logout_urls: "javascript:alert(1)": scheme javascript is not allowed`},
		{"web origin with a path", func(c *Client) { c.WebOrigins = []string{"https://app.example.com/login"} },
			`web_origins: "https://app.example.com/login": an origin must not have a path`},
		{"allowed origin with a wildcard in the middle", func(c *Client) { c.AllowedOrigins = []string{"https://sub.*.example.com"} },
			`allowed_origins: "https://sub.*.example.com": the wildcard must be in the left-most label of the host`},
		{"empty callback", func(c *Client) { c.Callbacks = []string{""} }, `callbacks: "": the URL is empty`},
		{"long callback", func(c *Client) { c.Callbacks = []string{"https://app.example.com/" + strings.Repeat("a", 5000)} },
			`callbacks: "https://app.example.com/` + strings.Repeat("a", 100-len("https://app.example.com/")) + `...": the URL is longer than 2048 characters`},
		{"too many callbacks", func(c *Client) { c.Callbacks = urls(MaxURLs + 1) }, "callbacks holds at most 100 URLs"},
		{"too many logout URLs", func(c *Client) { c.AllowedLogoutURLs = urls(MaxURLs + 1) }, "allowed_logout_urls holds at most 100 URLs"},
		{"too many web origins", func(c *Client) { c.WebOrigins = urls(MaxURLs + 1) }, "web_origins holds at most 100 URLs"},
		{"too many allowed origins", func(c *Client) { c.AllowedOrigins = urls(MaxURLs + 1) }, "allowed_origins holds at most 100 URLs"},
	} {
		c := validClient()
		tc.change(c)
		if err := c.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("%s: Validate() = %v, want %s", tc.name, err, tc.want)
		}
	}
}
