package tenant

import (
	"fmt"
	"strings"
	"testing"
)

// wantError checks that err is nil when want is empty, and otherwise an
// error containing want.
func wantError(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: %v, want no error", what, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("%s: %v, want an error containing %q", what, err, want)
	}
}

func TestSettingsValidate(t *testing.T) {
	manyURLs := make([]string, 101)
	for i := range manyURLs {
		manyURLs[i] = fmt.Sprintf("https://app.example.com/%d", i)
	}
	for _, tc := range []struct {
		name string
		edit func(s *Settings)
		want string
	}{
		{"defaults", func(*Settings) {}, ""},
		{"everything set", func(s *Settings) {
			s.FriendlyName, s.PictureURL, s.SupportEmail, s.SupportURL = "Acme & Co", "https://cdn.example.com/logo.png", "help@example.com", "https://example.com/help?q=1"
			s.SessionLifetime, s.IdleSessionLifetime = 720, 72
			s.DefaultAudience, s.AllowedLogoutURLs = "https://api.example.com/", []string{"https://app.example.com/bye", "com.example.app://logout"}
		}, ""},
		{"name of 255 characters", func(s *Settings) { s.FriendlyName = strings.Repeat("é", 255) }, ""},
		{"name of 256 characters", func(s *Settings) { s.FriendlyName = strings.Repeat("é", 256) }, "friendly_name must be at most 255 characters"},
		{"name with <", func(s *Settings) { s.FriendlyName = "<script>" }, "friendly_name must not contain < or >"},
		{"name with >", func(s *Settings) { s.FriendlyName = "a > b" }, "friendly_name must not contain < or >"},
		{"name with a control character", func(s *Settings) { s.FriendlyName = "a\nb" }, "friendly_name must not contain control characters"},
		{"http picture on localhost", func(s *Settings) { s.PictureURL = "http://localhost:8080/logo.png" }, ""},
		{"http picture", func(s *Settings) { s.PictureURL = "http://cdn.example.com/logo.png" }, "picture_url must be an https URL (http only for localhost)"},
		{"relative picture", func(s *Settings) { s.PictureURL = "/logo.png" }, "picture_url: the URL must be absolute"},
		{"javascript picture", func(s *Settings) { s.PictureURL = "javascript://alert(1)" }, "picture_url: scheme javascript is not allowed"},
		{"data picture", func(s *Settings) { s.PictureURL = "data:image/png;base64,AAAA" }, "picture_url: scheme data is not allowed"},
		{"picture with a quote", func(s *Settings) { s.PictureURL = `https://cdn.example.com/a"b` }, `picture_url: character '"' is not allowed`},
		{"wildcard picture", func(s *Settings) { s.PictureURL = "https://*.cdn.example.com/logo.png" }, "picture_url must be an https URL (http only for localhost), without a wildcard"},
		{"long support URL", func(s *Settings) { s.SupportURL = "https://example.com/" + strings.Repeat("a", 2048) }, "support_url: the URL is longer than 2048 characters"},
		{"support URL with user info", func(s *Settings) { s.SupportURL = "https://u:p@example.com/" }, "support_url: the URL must not contain user info"},
		{"support email", func(s *Settings) { s.SupportEmail = "not an address" }, "support_email must be an e-mail address"},
		{"support email with a display name", func(s *Settings) { s.SupportEmail = "Help <help@example.com>" }, "support_email must be an e-mail address"},
		{"session lifetime of an hour", func(s *Settings) { s.SessionLifetime, s.IdleSessionLifetime = 1, 1 }, ""},
		{"session lifetime under an hour", func(s *Settings) { s.SessionLifetime, s.IdleSessionLifetime = 0.5, 0.5 }, "session_lifetime must be between 1 and 720 hours"},
		{"negative session lifetime", func(s *Settings) { s.SessionLifetime = -1 }, "session_lifetime must be between 1 and 720 hours"},
		{"session lifetime over 30 days", func(s *Settings) { s.SessionLifetime = 721 }, "session_lifetime must be between 1 and 720 hours"},
		{"idle lifetime under an hour", func(s *Settings) { s.IdleSessionLifetime = 0.9 }, "idle_session_lifetime must be between 1 and 72 hours"},
		{"idle lifetime over 72 hours", func(s *Settings) { s.IdleSessionLifetime = 72.5 }, "idle_session_lifetime must be between 1 and 72 hours"},
		{"idle lifetime above the absolute one", func(s *Settings) { s.SessionLifetime = 24 }, "idle_session_lifetime must not be above session_lifetime"},
		{"100 logout URLs", func(s *Settings) { s.AllowedLogoutURLs = manyURLs[:100] }, ""},
		{"101 logout URLs", func(s *Settings) { s.AllowedLogoutURLs = manyURLs }, "allowed_logout_urls holds at most 100 URLs"},
		{"logout URL with a fragment", func(s *Settings) { s.AllowedLogoutURLs = []string{"https://app.example.com/#x"} }, `allowed_logout_urls: "https://app.example.com/#x": the URL must not have a fragment`},
		{"empty logout URL", func(s *Settings) { s.AllowedLogoutURLs = []string{""} }, "allowed_logout_urls: \"\": the URL is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Settings{}
			s.ApplyDefaults()
			tc.edit(s)
			wantError(t, "Validate", s.Validate(), tc.want)
		})
	}
}

func TestBrandingValidate(t *testing.T) {
	colorError := "must be a CSS hex colour, #rgb or #rrggbb"
	for _, color := range []string{"#fff", "#FFF", "#0059d6", "#A1b2C3"} {
		for _, b := range []*Branding{{Colors: &Colors{Primary: color}}, {Colors: &Colors{PageBackground: color}}} {
			wantError(t, fmt.Sprintf("colour %q", color), b.Validate(), "")
		}
	}
	// The colours go into the login pages' style sheet: anything but a hex
	// colour is refused, first of all what would escape the declaration.
	for _, color := range []string{
		"red", "red;}body{display:none", "#fff;", "#fff;}", "#fff }", "#fff\n", " #fff", "#fff ",
		"url(https://evil.example/x.png)", "expression(alert(1))", "#fff/**/", `#fff"`, "#fff'", "#ff<",
		"#ffff", "#fffff", "#fffffff", "#ffffffff", "#ggg", "fff", "#", "##fff", "rgb(0,0,0)",
		"#\uff46ff", "#fff\x00", "\\23 fff", "var(--x)", "inherit",
	} {
		for _, tc := range []struct {
			property string
			b        *Branding
		}{
			{"colors.primary", &Branding{Colors: &Colors{Primary: color}}},
			{"colors.page_background", &Branding{Colors: &Colors{PageBackground: color}}},
		} {
			wantError(t, fmt.Sprintf("%s %q", tc.property, color), tc.b.Validate(), tc.property+" "+colorError)
		}
	}
	for _, tc := range []struct {
		name string
		b    *Branding
		want string
	}{
		{"empty", &Branding{}, ""},
		{"everything set", &Branding{LogoURL: "https://cdn.example.com/logo.svg", FaviconURL: "https://cdn.example.com/favicon.ico", Colors: &Colors{Primary: "#0059d6", PageBackground: "#000"}}, ""},
		{"http logo", &Branding{LogoURL: "http://cdn.example.com/logo.svg"}, "logo_url must be an https URL"},
		{"logo breaking out of url()", &Branding{LogoURL: "https://cdn.example.com/a)%20;}body{x"}, "logo_url: character '}' is not allowed"},
		{"logo with a space", &Branding{LogoURL: "https://cdn.example.com/a b.png"}, "logo_url: character ' ' is not allowed"},
		{"favicon without a host", &Branding{FaviconURL: "https:favicon.ico"}, "favicon_url: the URL must have a host"},
		{"vbscript favicon", &Branding{FaviconURL: "vbscript://x"}, "favicon_url: scheme vbscript is not allowed"},
	} {
		wantError(t, tc.name, tc.b.Validate(), tc.want)
	}
}
