// Package tenant holds the tenant-wide settings of the authorization
// server, in the shape of Auth0's Management API v2: tenant settings
// (/api/v2/tenants/settings: the name shown to users, SSO session
// lifetimes, tenant-level logout URLs, the default audience) and branding
// (/api/v2/branding: the logo and colours of the login pages).
package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/storage"
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

// Colors are the branding colours, as CSS hex colours (#rrggbb).
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

// LoadSettings returns the stored tenant settings, with defaults applied.
func LoadSettings(ctx context.Context, s storage.Store) (*Settings, error) {
	out := &Settings{}
	if err := load(ctx, s, settingsName, out); err != nil {
		return nil, err
	}
	out.ApplyDefaults()
	return out, nil
}

// LoadBranding returns the stored branding.
func LoadBranding(ctx context.Context, s storage.Store) (*Branding, error) {
	out := &Branding{}
	if err := load(ctx, s, brandingName, out); err != nil {
		return nil, err
	}
	return out, nil
}

// SaveSettings stores the tenant settings.
func SaveSettings(ctx context.Context, s storage.Store, v *Settings) error {
	return save(ctx, s, settingsName, v)
}

// SaveBranding stores the branding.
func SaveBranding(ctx context.Context, s storage.Store, v *Branding) error {
	return save(ctx, s, brandingName, v)
}

func load(ctx context.Context, s storage.Store, name string, v any) error {
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

func save(ctx context.Context, s storage.Store, name string, v any) error {
	doc, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.SaveSetting(ctx, name, doc)
}
