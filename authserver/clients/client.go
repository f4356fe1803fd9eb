// Package clients holds the application (OAuth client) model of the
// authorization server: Auth0's fields and defaults, the rules a client must
// satisfy, and client secrets.
//
// Of Portcullis it imports only redirects.
package clients

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/redirects"
)

// AppType is Auth0's application type.
type AppType string

// Application types accepted by the Management API.
const (
	AppNative         AppType = "native"
	AppSPA            AppType = "spa"
	AppRegularWeb     AppType = "regular_web"
	AppNonInteractive AppType = "non_interactive"
)

// AppTypes are the application types accepted by the Management API.
var AppTypes = []AppType{AppNative, AppSPA, AppRegularWeb, AppNonInteractive}

// AuthMethod is how a client authenticates at the token endpoint
// (RFC 7591 token_endpoint_auth_method).
type AuthMethod string

// Token endpoint authentication methods.
const (
	// AuthNone marks a public client: it presents only its client_id.
	AuthNone AuthMethod = "none"
	// AuthSecretPost sends client_id and client_secret in the form body.
	AuthSecretPost AuthMethod = "client_secret_post"
	// AuthSecretBasic sends them in an HTTP Basic Authorization header.
	AuthSecretBasic AuthMethod = "client_secret_basic"
)

// IsSecret reports whether m is one of the client secret methods,
// client_secret_post or client_secret_basic.
func (m AuthMethod) IsSecret() bool { return m == AuthSecretPost || m == AuthSecretBasic }

// Grant types a client may be allowed to use.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantImplicit          = "implicit"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

var knownGrantTypes = []string{
	GrantClientCredentials, GrantAuthorizationCode, GrantImplicit,
	GrantRefreshToken, GrantPassword, GrantDeviceCode,
}

// JWTConfiguration is Auth0's jwt_configuration: how ID tokens for the
// client are signed.
type JWTConfiguration struct {
	// Alg is the ID token signing algorithm. Default: RS256.
	Alg string `json:"alg,omitempty"`
	// LifetimeInSeconds is the ID token lifetime. Default: 36000.
	LifetimeInSeconds int `json:"lifetime_in_seconds,omitempty"`
}

// Refresh token rotation and expiration types (refresh_token.rotation_type
// and refresh_token.expiration_type).
const (
	RefreshRotating    = "rotating"
	RefreshNonRotating = "non-rotating"
	RefreshExpiring    = "expiring"
	RefreshNonExpiring = "non-expiring"
)

// Limits and defaults of a client's refresh_token configuration, in
// seconds. The default lifetimes are Auth0's; MaxRefreshTokenLifetime (a
// year) bounds both lifetimes and MaxRefreshTokenLeeway (an hour) the
// reuse interval.
const (
	DefaultRefreshTokenLifetime     = 2592000 // 30 days
	DefaultRefreshTokenIdleLifetime = 1296000 // 15 days
	MaxRefreshTokenLifetime         = 31557600
	MaxRefreshTokenLeeway           = 3600
)

// RefreshTokenConfig is Auth0's refresh_token: how the client's refresh
// tokens rotate and expire.
type RefreshTokenConfig struct {
	// RotationType "rotating" replaces a refresh token by a new one at each
	// use, and a second use of the old one revokes its whole family;
	// "non-rotating" keeps one token. Default: rotating (Auth0's default
	// is non-rotating; RFC 9700 section 4.14.2 asks public clients for
	// rotation, and this server rotates for everyone unless told not to).
	RotationType string `json:"rotation_type"`
	// ExpirationType "expiring" ends tokens after TokenLifetime from the
	// first one of the family and after IdleTokenLifetime unused;
	// "non-expiring" never ends them. Rotating tokens must expire.
	ExpirationType string `json:"expiration_type"`
	// Leeway is the reuse interval of rotating tokens: for this many
	// seconds after its first use, a token may be used again without
	// being taken for a stolen one. Default 0.
	Leeway int `json:"leeway"`
	// TokenLifetime is the absolute lifetime in seconds, unless
	// InfiniteTokenLifetime. Default 2592000 (30 days).
	TokenLifetime         int  `json:"token_lifetime"`
	InfiniteTokenLifetime bool `json:"infinite_token_lifetime"`
	// IdleTokenLifetime is how long in seconds an unused token stays
	// valid, unless InfiniteIdleTokenLifetime. Default 1296000 (15 days).
	IdleTokenLifetime         int  `json:"idle_token_lifetime"`
	InfiniteIdleTokenLifetime bool `json:"infinite_idle_token_lifetime"`
}

// ApplyDefaults fills what is unset with the defaults above.
func (r *RefreshTokenConfig) ApplyDefaults() {
	if r.RotationType == "" {
		r.RotationType = RefreshRotating
	}
	if r.ExpirationType == "" {
		r.ExpirationType = RefreshExpiring
	}
	if r.TokenLifetime == 0 {
		r.TokenLifetime = DefaultRefreshTokenLifetime
	}
	if r.IdleTokenLifetime == 0 {
		r.IdleTokenLifetime = DefaultRefreshTokenIdleLifetime
	}
}

// Lifetimes returns the absolute and idle lifetimes of the tokens; zero
// means none.
func (r *RefreshTokenConfig) Lifetimes() (absolute, idle time.Duration) {
	if r.ExpirationType == RefreshNonExpiring {
		return 0, 0
	}
	if !r.InfiniteTokenLifetime {
		absolute = time.Duration(r.TokenLifetime) * time.Second
	}
	if !r.InfiniteIdleTokenLifetime {
		idle = time.Duration(r.IdleTokenLifetime) * time.Second
	}
	return absolute, idle
}

// validate checks the configuration after ApplyDefaults.
func (r *RefreshTokenConfig) validate() error {
	switch r.RotationType {
	case RefreshRotating, RefreshNonRotating:
	default:
		return fmt.Errorf("refresh_token.rotation_type must be one of rotating, non-rotating")
	}
	switch r.ExpirationType {
	case RefreshExpiring, RefreshNonExpiring:
	default:
		return fmt.Errorf("refresh_token.expiration_type must be one of expiring, non-expiring")
	}
	if r.RotationType == RefreshRotating && r.ExpirationType != RefreshExpiring {
		return fmt.Errorf("refresh_token: rotating refresh tokens must have expiration_type expiring")
	}
	if r.Leeway < 0 || r.Leeway > MaxRefreshTokenLeeway {
		return fmt.Errorf("refresh_token.leeway must be between 0 and %d seconds", MaxRefreshTokenLeeway)
	}
	for _, l := range []struct {
		name  string
		value int
	}{{"token_lifetime", r.TokenLifetime}, {"idle_token_lifetime", r.IdleTokenLifetime}} {
		if l.value < 1 || l.value > MaxRefreshTokenLifetime {
			return fmt.Errorf("refresh_token.%s must be between 1 and %d seconds", l.name, MaxRefreshTokenLifetime)
		}
	}
	if !r.InfiniteTokenLifetime && !r.InfiniteIdleTokenLifetime && r.IdleTokenLifetime > r.TokenLifetime {
		return fmt.Errorf("refresh_token.idle_token_lifetime must not exceed token_lifetime")
	}
	return nil
}

// Client is an application registered with the authorization server, in
// the shape of Auth0's Management API v2 Client object. The secret itself is
// never stored: SecretHash holds its keyed hash.
type Client struct {
	ClientID                string            `json:"client_id"`
	Name                    string            `json:"name"`
	Description             string            `json:"description,omitempty"`
	AppType                 AppType           `json:"app_type,omitempty"`
	IsFirstParty            bool              `json:"is_first_party"`
	OIDCConformant          bool              `json:"oidc_conformant"`
	GrantTypes              []string          `json:"grant_types"`
	TokenEndpointAuthMethod AuthMethod        `json:"token_endpoint_auth_method"`
	Callbacks               []string          `json:"callbacks,omitempty"`
	AllowedOrigins          []string          `json:"allowed_origins,omitempty"`
	WebOrigins              []string          `json:"web_origins,omitempty"`
	AllowedLogoutURLs       []string          `json:"allowed_logout_urls,omitempty"`
	LogoURI                 string            `json:"logo_uri,omitempty"`
	InitiateLoginURI        string            `json:"initiate_login_uri,omitempty"`
	JWTConfiguration        JWTConfiguration  `json:"jwt_configuration"`
	ClientMetadata          map[string]string `json:"client_metadata,omitempty"`
	// RefreshToken configures the client's refresh tokens.
	RefreshToken RefreshTokenConfig `json:"refresh_token"`
	// RequireProofOfPossession binds the client's tokens to the TLS client
	// certificate it presents at the token endpoint (RFC 8705), and refuses
	// tokens when it presents none.
	RequireProofOfPossession bool `json:"require_proof_of_possession"`
	// AllowPKCEPlain lets the client use the PKCE method plain; otherwise
	// only S256 is accepted (a Portcullis property: RFC 7636 says plain is
	// for clients that cannot compute SHA-256).
	AllowPKCEPlain bool `json:"allow_pkce_plain"`
	// ClientAuthenticationMethods, when set, makes the client authenticate
	// with a TLS client certificate instead of a secret; then
	// TokenEndpointAuthMethod is empty (null in JSON).
	ClientAuthenticationMethods *AuthenticationMethods `json:"client_authentication_methods"`
	// Credentials are the client's registered certificates.
	Credentials []Credential `json:"credentials,omitempty"`

	// SecretHash is the keyed hash of the client secret (see Hasher); empty
	// for public clients. It never leaves the server.
	SecretHash []byte `json:"-"`
}

// IsPublic reports whether the client cannot keep a secret.
func (c *Client) IsPublic() bool { return c.TokenEndpointAuthMethod == AuthNone }

// AllowsGrant reports whether grantType is in the client's grant_types.
func (c *Client) AllowsGrant(grantType string) bool {
	return slices.Contains(c.GrantTypes, grantType)
}

// Clone returns a deep copy, so callers may modify it freely.
func (c *Client) Clone() *Client {
	cp := *c
	cp.GrantTypes = slices.Clone(c.GrantTypes)
	cp.Callbacks = slices.Clone(c.Callbacks)
	cp.AllowedOrigins = slices.Clone(c.AllowedOrigins)
	cp.WebOrigins = slices.Clone(c.WebOrigins)
	cp.AllowedLogoutURLs = slices.Clone(c.AllowedLogoutURLs)
	cp.SecretHash = slices.Clone(c.SecretHash)
	cp.Credentials = slices.Clone(c.Credentials)
	if m := c.ClientAuthenticationMethods; m != nil {
		mc := *m
		for _, p := range []**MethodCredentials{&mc.TLSClientAuth, &mc.SelfSignedTLSClientAuth} {
			if *p != nil {
				v := MethodCredentials{Credentials: slices.Clone((*p).Credentials)}
				*p = &v
			}
		}
		cp.ClientAuthenticationMethods = &mc
	}
	if c.ClientMetadata != nil {
		cp.ClientMetadata = make(map[string]string, len(c.ClientMetadata))
		for k, v := range c.ClientMetadata {
			cp.ClientMetadata[k] = v
		}
	}
	return &cp
}

// ApplyDefaults fills the fields a new client leaves out with Auth0's
// defaults: public SPAs and native apps authenticate with "none", everything
// else with client_secret_post; machine-to-machine apps (non_interactive) get
// only client_credentials, other confidential clients the browser grants as
// well, public clients never client_credentials.
func (c *Client) ApplyDefaults() {
	if c.TokenEndpointAuthMethod == "" && c.ClientAuthenticationMethods == nil {
		if c.AppType == AppSPA || c.AppType == AppNative {
			c.TokenEndpointAuthMethod = AuthNone
		} else {
			c.TokenEndpointAuthMethod = AuthSecretPost
		}
	}
	if c.GrantTypes == nil {
		switch {
		case c.AppType == AppNonInteractive && !c.IsPublic():
			c.GrantTypes = []string{GrantClientCredentials}
		case c.IsPublic():
			c.GrantTypes = []string{GrantAuthorizationCode, GrantImplicit, GrantRefreshToken}
		default:
			c.GrantTypes = []string{GrantAuthorizationCode, GrantImplicit, GrantRefreshToken, GrantClientCredentials}
		}
	}
	if c.JWTConfiguration.Alg == "" {
		c.JWTConfiguration.Alg = "RS256"
	}
	if c.JWTConfiguration.LifetimeInSeconds == 0 {
		c.JWTConfiguration.LifetimeInSeconds = 36000
	}
	c.RefreshToken.ApplyDefaults()
}

// Validate checks the client against the rules of the Management API and
// returns an error that names the offending property.
func (c *Client) Validate() error {
	if strings.TrimSpace(c.Name) == "" {
		return fmt.Errorf("name is required")
	}
	if len(c.Name) > 255 {
		return fmt.Errorf("name must be at most 255 characters")
	}
	if len(c.Description) > 140 {
		return fmt.Errorf("description must be at most 140 characters")
	}
	if c.AppType != "" && !slices.Contains(AppTypes, c.AppType) {
		return fmt.Errorf("app_type must be one of native, spa, regular_web, non_interactive")
	}
	switch c.TokenEndpointAuthMethod {
	case AuthNone, AuthSecretPost, AuthSecretBasic, "":
	default:
		return fmt.Errorf("token_endpoint_auth_method must be one of none, client_secret_post, client_secret_basic")
	}
	if err := c.validateAuthenticationMethods(); err != nil {
		return err
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(knownGrantTypes, g) {
			return fmt.Errorf("grant_types: unknown grant type %q", g)
		}
	}
	if c.IsPublic() && c.AllowsGrant(GrantClientCredentials) {
		return fmt.Errorf("grant_types: a public client (token_endpoint_auth_method none) cannot use client_credentials")
	}
	switch c.JWTConfiguration.Alg {
	case "RS256", "PS256", "ES256":
	default:
		return fmt.Errorf("jwt_configuration.alg must be one of RS256, PS256, ES256")
	}
	if c.JWTConfiguration.LifetimeInSeconds < 0 {
		return fmt.Errorf("jwt_configuration.lifetime_in_seconds must not be negative")
	}
	if err := c.RefreshToken.validate(); err != nil {
		return err
	}
	if err := c.validateURLs(); err != nil {
		return err
	}
	if len(c.ClientMetadata) > 10 {
		return fmt.Errorf("client_metadata holds at most 10 keys")
	}
	for k, v := range c.ClientMetadata {
		if len(k) > 255 || len(v) > 255 {
			return fmt.Errorf("client_metadata keys and values must be at most 255 characters")
		}
	}
	return nil
}

// MaxURLs is the most URLs each of callbacks, allowed_logout_urls,
// web_origins and allowed_origins may hold.
const MaxURLs = 100

// validateURLs checks the client's callback, logout and origin URLs with the
// rules of package redirects.
func (c *Client) validateURLs() error {
	for _, list := range []struct {
		property string
		urls     []string
		validate func(string) error
	}{
		{"callbacks", c.Callbacks, redirects.ValidateCallback},
		{"allowed_logout_urls", c.AllowedLogoutURLs, redirects.ValidateCallback},
		{"web_origins", c.WebOrigins, redirects.ValidateOrigin},
		{"allowed_origins", c.AllowedOrigins, redirects.ValidateOrigin},
	} {
		if len(list.urls) > MaxURLs {
			return fmt.Errorf("%s holds at most %d URLs", list.property, MaxURLs)
		}
		for _, u := range list.urls {
			if err := list.validate(u); err != nil {
				if len(u) > 100 {
					u = u[:100] + "..."
				}
				return fmt.Errorf("%s: %q: %w", list.property, u, err)
			}
		}
	}
	return nil
}

// MarshalJSON writes an unset method as null, as Auth0 does for clients
// that authenticate by certificate.
func (m AuthMethod) MarshalJSON() ([]byte, error) {
	if m == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(m))
}
