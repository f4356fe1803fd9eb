package mgmt

import (
	"errors"
	"net/http"

	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tenant"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
)

// settingsFields are the writable tenant settings: the properties of
// Auth0's TenantSettingsUpdate that Portcullis uses. Its other properties
// are refused, as unknown ones are everywhere in this API. A property left
// out keeps its value; null resets it (the lifetimes to their defaults).
type settingsFields struct {
	FriendlyName        nullable[string]   `json:"friendly_name"`
	PictureURL          nullable[string]   `json:"picture_url"`
	SupportEmail        nullable[string]   `json:"support_email"`
	SupportURL          nullable[string]   `json:"support_url"`
	SessionLifetime     nullable[float64]  `json:"session_lifetime"`
	IdleSessionLifetime nullable[float64]  `json:"idle_session_lifetime"`
	DefaultAudience     nullable[string]   `json:"default_audience"`
	AllowedLogoutURLs   nullable[[]string] `json:"allowed_logout_urls"`
}

func (f *settingsFields) apply(s *tenant.Settings) {
	setNullable(&s.FriendlyName, f.FriendlyName)
	setNullable(&s.PictureURL, f.PictureURL)
	setNullable(&s.SupportEmail, f.SupportEmail)
	setNullable(&s.SupportURL, f.SupportURL)
	setNullable(&s.SessionLifetime, withDefault(f.SessionLifetime, tenant.DefaultSessionLifetime))
	setNullable(&s.IdleSessionLifetime, withDefault(f.IdleSessionLifetime, tenant.DefaultIdleSessionLifetime))
	setNullable(&s.DefaultAudience, f.DefaultAudience)
	setNullable(&s.AllowedLogoutURLs, f.AllowedLogoutURLs)
}

// withDefault turns a lifetime sent as null into its default, so that a 0
// sent stays 0, for Validate to refuse.
func withDefault(n nullable[float64], def float64) nullable[float64] {
	if n.Sent && n.Value == nil {
		n.Value = &def
	}
	return n
}

func (a *api) getTenantSettings(r *http.Request, _ *tokens.Claims) (int, any, error) {
	proj, err := parseProjection(r)
	if err != nil {
		return 0, nil, err
	}
	s, err := tenant.LoadSettings(r.Context(), a.Store)
	if err != nil {
		return 0, nil, err
	}
	out, err := proj.apply(s)
	return http.StatusOK, out, err
}

func (a *api) updateTenantSettings(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f settingsFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	var s *tenant.Settings
	err := a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		var err error
		if s, err = tenant.LoadSettings(r.Context(), tx); err != nil {
			return err
		}
		f.apply(s)
		if err := s.Validate(); err != nil {
			return invalid(err)
		}
		// Only a default_audience sent is looked up, so that deleting its
		// API does not block changes to the other settings.
		if aud := f.DefaultAudience.Value; aud != nil && *aud != "" {
			if _, err := tx.ResourceServerByIdentifier(r.Context(), *aud); errors.Is(err, storage.ErrNotFound) {
				return errBadRequest("invalid_body", "Payload validation error: 'default_audience must be the identifier of an API'.")
			} else if err != nil {
				return err
			}
		}
		return tenant.SaveSettings(r.Context(), tx, s)
	})
	if err != nil {
		return 0, nil, err
	}
	a.audit("tenant settings updated", caller)
	return http.StatusOK, s, nil
}

// brandingFields are the writable properties of Auth0's branding, less its
// font; the colours merge one level deep. A property left out keeps its
// value; null removes it.
type brandingFields struct {
	LogoURL    nullable[string]       `json:"logo_url"`
	FaviconURL nullable[string]       `json:"favicon_url"`
	Colors     nullable[colorsFields] `json:"colors"`
}

// colorsFields are Auth0's branding colours. Stricter than Auth0:
// page_background is a colour, not a gradient object.
type colorsFields struct {
	Primary        nullable[string] `json:"primary"`
	PageBackground nullable[string] `json:"page_background"`
}

func (f *brandingFields) apply(b *tenant.Branding) {
	setNullable(&b.LogoURL, f.LogoURL)
	setNullable(&b.FaviconURL, f.FaviconURL)
	if !f.Colors.Sent {
		return
	}
	c := f.Colors.Value
	if c == nil {
		b.Colors = nil
		return
	}
	if b.Colors == nil {
		b.Colors = &tenant.Colors{}
	}
	setNullable(&b.Colors.Primary, c.Primary)
	setNullable(&b.Colors.PageBackground, c.PageBackground)
	if *b.Colors == (tenant.Colors{}) {
		b.Colors = nil
	}
}

func (a *api) getBranding(r *http.Request, _ *tokens.Claims) (int, any, error) {
	b, err := tenant.LoadBranding(r.Context(), a.Store)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, b, nil
}

func (a *api) updateBranding(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f brandingFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	var b *tenant.Branding
	err := a.Store.Atomically(r.Context(), func(tx storage.Store) error {
		var err error
		if b, err = tenant.LoadBranding(r.Context(), tx); err != nil {
			return err
		}
		f.apply(b)
		if err := b.Validate(); err != nil {
			return invalid(err)
		}
		return tenant.SaveBranding(r.Context(), tx, b)
	})
	if err != nil {
		return 0, nil, err
	}
	a.audit("branding updated", caller)
	return http.StatusOK, b, nil
}
