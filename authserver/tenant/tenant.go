// Package tenant holds the tenant-wide settings of the authorization
// server, in the shape of Auth0's Management API v2: tenant settings
// (/api/v2/tenants/settings: the name shown to users, SSO session
// lifetimes, tenant-level logout URLs, the default audience) and branding
// (/api/v2/branding: the logo and colours of the login pages).
//
// Of Portcullis it imports clients, redirects, storage and users.
package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/redirects"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// Names of the settings documents in storage.
const (
	settingsName = "tenant"
	brandingName = "branding"
)

// Default SSO session lifetimes, in hours: Auth0's recommended 7 days
// absolute ("Require log in after") and 3 days of inactivity.
const (
	DefaultSessionLifetime     = 168
	DefaultIdleSessionLifetime = 72
)

// Settings are Auth0's tenant settings that Portcullis uses.
type Settings struct {
	// FriendlyName is the name shown on the login pages.
	FriendlyName string `json:"friendly_name,omitempty"`
	// PictureURL is the logo shown on the login pages when branding has
	// none.
	PictureURL   string `json:"picture_url,omitempty"`
	SupportEmail string `json:"support_email,omitempty"`
	SupportURL   string `json:"support_url,omitempty"`
	// SessionLifetime is how long, in hours, a login session lasts however
	// active it is; IdleSessionLifetime how long it lasts unused.
	SessionLifetime     float64 `json:"session_lifetime"`
	IdleSessionLifetime float64 `json:"idle_session_lifetime"`
	// DefaultAudience is the API of authorization requests that name none.
	DefaultAudience string `json:"default_audience,omitempty"`
	// AllowedLogoutURLs are the returnTo URLs of logouts that name no
	// client.
	AllowedLogoutURLs []string `json:"allowed_logout_urls,omitempty"`
}

// SessionDurations returns the absolute and idle lifetimes of login
// sessions.
func (s *Settings) SessionDurations() (absolute, idle time.Duration) {
	return time.Duration(s.SessionLifetime * float64(time.Hour)), time.Duration(s.IdleSessionLifetime * float64(time.Hour))
}

// ApplyDefaults fills unset lifetimes with the defaults.
func (s *Settings) ApplyDefaults() {
	if s.SessionLifetime == 0 {
		s.SessionLifetime = DefaultSessionLifetime
	}
	if s.IdleSessionLifetime == 0 {
		s.IdleSessionLifetime = DefaultIdleSessionLifetime
	}
}

// Limits of the tenant settings. The lifetimes, in hours, are Auth0's
// maxima outside Enterprise plans: 30 days, and 4320 minutes unused.
const (
	MaxFriendlyNameLength  = 255
	MaxSessionLifetime     = 720
	MaxIdleSessionLifetime = 72
)

// Validate checks settings that have their defaults applied, and returns
// an error that names the offending property:
//
//   - friendly_name: at most 255 characters, without control characters,
//     "<" or ">";
//   - picture_url and support_url: absolute https URLs (http only for
//     localhost) of at most 2048 characters, with neither a wildcard nor a
//     fragment;
//   - support_email: an e-mail address;
//   - session_lifetime: 1 to 720 hours; idle_session_lifetime: 1 to 72
//     hours, and not above session_lifetime;
//   - allowed_logout_urls: at most clients.MaxURLs, each following the
//     rules of package redirects for logout URLs.
//
// Whether default_audience is the identifier of an API is left to the
// caller.
func (s *Settings) Validate() error {
	if err := users.CheckText("friendly_name", s.FriendlyName, MaxFriendlyNameLength); err != nil {
		return err
	}
	if strings.ContainsAny(s.FriendlyName, "<>") {
		return errors.New("friendly_name must not contain < or >")
	}
	if err := checkPageURL("picture_url", s.PictureURL); err != nil {
		return err
	}
	if err := checkPageURL("support_url", s.SupportURL); err != nil {
		return err
	}
	if s.SupportEmail != "" && users.ValidateEmail(s.SupportEmail) != nil {
		return errors.New("support_email must be an e-mail address")
	}
	if s.SessionLifetime < 1 || s.SessionLifetime > MaxSessionLifetime {
		return fmt.Errorf("session_lifetime must be between 1 and %d hours", MaxSessionLifetime)
	}
	if s.IdleSessionLifetime < 1 || s.IdleSessionLifetime > MaxIdleSessionLifetime {
		return fmt.Errorf("idle_session_lifetime must be between 1 and %d hours", MaxIdleSessionLifetime)
	}
	if s.IdleSessionLifetime > s.SessionLifetime {
		return errors.New("idle_session_lifetime must not be above session_lifetime")
	}
	if len(s.AllowedLogoutURLs) > clients.MaxURLs {
		return fmt.Errorf("allowed_logout_urls holds at most %d URLs", clients.MaxURLs)
	}
	for _, u := range s.AllowedLogoutURLs {
		if err := redirects.ValidateCallback(u); err != nil {
			if len(u) > 100 {
				u = u[:100] + "..."
			}
			return fmt.Errorf("allowed_logout_urls: %q: %w", u, err)
		}
	}
	return nil
}

// checkPageURL checks the optional URL property name of an image or a page
// that the login pages show or link to: the rules of
// redirects.ValidateCallback, with scheme https (http only for localhost)
// and no wildcard.
func checkPageURL(name, raw string) error {
	if raw == "" {
		return nil
	}
	if err := redirects.ValidateCallback(raw); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	u, err := url.Parse(raw)
	if err != nil || strings.Contains(raw, "*") || !(u.Scheme == "https" || u.Scheme == "http" && strings.EqualFold(u.Hostname(), "localhost")) {
		return fmt.Errorf("%s must be an https URL (http only for localhost), without a wildcard", name)
	}
	return nil
}

// Colors are the branding colours, as CSS hex colours: #rgb or #rrggbb.
type Colors struct {
	Primary        string `json:"primary,omitempty"`
	PageBackground string `json:"page_background,omitempty"`
}

// Branding is Auth0's branding: how the login pages look.
type Branding struct {
	LogoURL    string  `json:"logo_url,omitempty"`
	FaviconURL string  `json:"favicon_url,omitempty"`
	Colors     *Colors `json:"colors,omitempty"`
}

// Validate checks the branding and returns an error that names the
// offending property. logo_url and favicon_url follow the rules of
// picture_url in Settings.Validate. The colours must be CSS hex colours,
// #rgb or #rrggbb, and nothing else, since the login pages write them into
// their style sheet.
func (b *Branding) Validate() error {
	if err := checkPageURL("logo_url", b.LogoURL); err != nil {
		return err
	}
	if err := checkPageURL("favicon_url", b.FaviconURL); err != nil {
		return err
	}
	if b.Colors == nil {
		return nil
	}
	for _, c := range []struct{ name, value string }{
		{"colors.primary", b.Colors.Primary},
		{"colors.page_background", b.Colors.PageBackground},
	} {
		if c.value != "" && !isHexColor(c.value) {
			return fmt.Errorf("%s must be a CSS hex colour, #rgb or #rrggbb", c.name)
		}
	}
	return nil
}

// isHexColor reports whether s is "#" followed by 3 or 6 hexadecimal
// digits.
func isHexColor(s string) bool {
	if (len(s) != 4 && len(s) != 7) || s[0] != '#' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// LoadSettings returns the stored tenant settings, with defaults applied.
func LoadSettings(ctx context.Context, s storage.Settings) (*Settings, error) {
	out := &Settings{}
	if err := load(ctx, s, settingsName, out); err != nil {
		return nil, err
	}
	out.ApplyDefaults()
	return out, nil
}

// LoadBranding returns the stored branding.
func LoadBranding(ctx context.Context, s storage.Settings) (*Branding, error) {
	out := &Branding{}
	if err := load(ctx, s, brandingName, out); err != nil {
		return nil, err
	}
	return out, nil
}

// SaveSettings stores the tenant settings.
func SaveSettings(ctx context.Context, s storage.Settings, v *Settings) error {
	return save(ctx, s, settingsName, v)
}

// SaveBranding stores the branding.
func SaveBranding(ctx context.Context, s storage.Settings, v *Branding) error {
	return save(ctx, s, brandingName, v)
}

func load(ctx context.Context, s storage.Settings, name string, v any) error {
	doc, err := s.Setting(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(doc, v); err != nil {
		return fmt.Errorf("%s settings: %w", name, err)
	}
	return nil
}

func save(ctx context.Context, s storage.Settings, name string, v any) error {
	doc, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.SaveSetting(ctx, name, doc)
}
