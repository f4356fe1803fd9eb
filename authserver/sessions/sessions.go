// Package sessions holds what the authorization server keeps about users
// who sign in: login sessions (the SSO session behind the session cookie),
// authorization codes, refresh tokens and the consents users give to
// third-party applications.
//
// Secrets handed to browsers and clients (session cookies, codes, refresh
// tokens) are never stored: each object is keyed by ID, the hex SHA-256 of
// the secret (see Key).
//
// It imports nothing of Portcullis.
package sessions

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"
)

// NewSecret returns a fresh secret of 256 random bits, as text fit for a
// URL or a cookie.
func NewSecret() string { return rand.Text() + rand.Text() }

// Key returns the storage key of a secret: its SHA-256, in hex.
func Key(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Session is a user's sign-in at the authorization server.
type Session struct {
	// ID is the Key of the session cookie's value.
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	// AuthTime is when the user last entered a password (the auth_time of
	// ID tokens).
	AuthTime time.Time `json:"auth_time"`
	// LastSeenAt is the latest request that used the session; the session
	// ends after the inactivity timeout without one.
	LastSeenAt time.Time `json:"last_seen_at"`
	// ExpiresAt is when the session ends, however active it is.
	ExpiresAt time.Time `json:"expires_at"`
}

// AuthorizationCode is the outcome of an authorization request, waiting to
// be exchanged once at the token endpoint.
type AuthorizationCode struct {
	// ID is the Key of the code.
	ID          string `json:"id"`
	ClientID    string `json:"client_id"`
	UserID      string `json:"user_id"`
	RedirectURI string `json:"redirect_uri"`
	// Audience is the API the access token is for; empty when the request
	// named none (the token is then only good for /userinfo).
	Audience string `json:"audience,omitempty"`
	// Scopes are the scopes granted: OpenID Connect scopes and the API's
	// permissions.
	Scopes              []string `json:"scopes"`
	Nonce               string   `json:"nonce,omitempty"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	// AuthTime is the AuthTime of the session the code came from.
	AuthTime  time.Time `json:"auth_time"`
	SessionID string    `json:"session_id"`
	// FamilyID names the refresh tokens the exchange issues, so that a
	// replayed code can revoke them.
	FamilyID  string    `json:"family_id"`
	ExpiresAt time.Time `json:"expires_at"`
	// UsedAt is when the code was exchanged; zero until then.
	UsedAt time.Time `json:"used_at,omitzero"`
}

// Clone returns a deep copy.
func (c *AuthorizationCode) Clone() *AuthorizationCode {
	cp := *c
	cp.Scopes = slices.Clone(c.Scopes)
	return &cp
}

// RefreshToken is one refresh token. Rotation replaces it with a new token
// of the same family; the family ends as a whole.
type RefreshToken struct {
	// ID is the Key of the token.
	ID       string `json:"id"`
	FamilyID string `json:"family_id"`
	ClientID string `json:"client_id"`
	UserID   string `json:"user_id"`
	// Audience and Scopes are those of the authorization the family
	// started with.
	Audience string    `json:"audience,omitempty"`
	Scopes   []string  `json:"scopes"`
	AuthTime time.Time `json:"auth_time"`
	IssuedAt time.Time `json:"issued_at"`
	// ExpiresAt is the family's absolute end; IdleExpiresAt the end of this
	// token if it is not used before. Zero means none.
	ExpiresAt     time.Time `json:"expires_at,omitzero"`
	IdleExpiresAt time.Time `json:"idle_expires_at,omitzero"`
	// UsedAt is when a rotating token was exchanged for its successor;
	// zero while it is the family's current token.
	UsedAt time.Time `json:"used_at,omitzero"`
	// CertThumbprint binds the family to a client certificate (RFC 8705
	// section 4): the x5t#S256 of the certificate a public client's access
	// tokens were bound to when the family began. Refreshing takes that
	// certificate. Empty when the family is not bound.
	CertThumbprint string `json:"cert_thumbprint,omitempty"`
}

// Clone returns a deep copy.
func (t *RefreshToken) Clone() *RefreshToken {
	cp := *t
	cp.Scopes = slices.Clone(t.Scopes)
	return &cp
}

// ExpiredAt reports whether the token can no longer be used at now.
func (t *RefreshToken) ExpiredAt(now time.Time) bool {
	return (!t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)) ||
		(!t.IdleExpiresAt.IsZero() && !now.Before(t.IdleExpiresAt))
}

// Consent is what a user allowed a (third-party) application to do for one
// API: Auth0's user grant. Audience is empty for the OpenID Connect scopes
// of a request without an API.
type Consent struct {
	UserID   string   `json:"user_id"`
	ClientID string   `json:"client_id"`
	Audience string   `json:"audience"`
	Scopes   []string `json:"scopes"`
}

// Covers reports whether the consent includes every scope of want.
func (c *Consent) Covers(want []string) bool {
	for _, s := range want {
		if !slices.Contains(c.Scopes, s) {
			return false
		}
	}
	return true
}
