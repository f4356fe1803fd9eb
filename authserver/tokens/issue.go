// Package tokens is the one place Portcullis makes and checks JWT access
// tokens. Issue signs tokens in Auth0's dialect or the RFC 9068 profile;
// Verifier checks them. Everything else takes verified claims from here.
//
// Of Portcullis it imports only access and keys.
package tokens

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/keys"
)

// Values of the typ header.
const (
	TypeJWT     = "JWT"
	TypeATJWT   = "at+jwt" // RFC 9068
	GTYClientCC = "client-credentials"
)

// AccessToken describes a token to issue.
type AccessToken struct {
	Issuer  string
	Subject string
	// Audience names the APIs the token is for: usually one, and the
	// issuer's /userinfo besides it when the token also serves OpenID
	// Connect. One audience is written as a string, several as an array.
	Audience []string
	ClientID string
	// GrantType is the Auth0 gty claim, e.g. "client-credentials".
	GrantType string
	Scopes    []string
	// Permissions are the RBAC permissions; they become a claim only in
	// the *_authz dialects.
	Permissions []string
	IssuedAt    time.Time
	Lifetime    time.Duration
	Dialect     access.Dialect
	// CertThumbprint, when set, binds the token to a client certificate:
	// the RFC 8705 cnf claim {"x5t#S256": CertThumbprint}.
	CertThumbprint string
}

// Confirmation is the cnf claim of a certificate-bound token.
type Confirmation struct {
	X5TS256 string `json:"x5t#S256"`
}

// claims is the payload. Field order is the order in the token.
type claims struct {
	Issuer      string        `json:"iss"`
	Subject     string        `json:"sub"`
	Audience    audClaim      `json:"aud"`
	IssuedAt    int64         `json:"iat"`
	Expiry      int64         `json:"exp"`
	JTI         string        `json:"jti"`
	ClientID    string        `json:"client_id,omitempty"`
	Scope       string        `json:"scope,omitempty"`
	GrantType   string        `json:"gty,omitempty"`
	AZP         string        `json:"azp,omitempty"`
	Permissions *[]string     `json:"permissions,omitempty"`
	Cnf         *Confirmation `json:"cnf,omitempty"`
}

// audClaim is the aud claim: a string when it names one audience, an array
// when it names several (RFC 7519 section 4.1.3).
type audClaim []string

func (a audClaim) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// Issue signs t with s and returns the compact JWT and its jti.
//
// Both dialects carry iss, sub, aud, iat, exp, jti and scope. Auth0's
// (access_token*) adds azp and gty with typ JWT; RFC 9068's
// (rfc9068_profile*) adds client_id with typ at+jwt. The *_authz dialects
// add permissions, an array even when empty.
func Issue(s keys.Signer, t AccessToken) (token, jti string, err error) {
	if len(t.Audience) == 0 {
		return "", "", fmt.Errorf("access token without an audience")
	}
	c := claims{
		Issuer:   t.Issuer,
		Subject:  t.Subject,
		Audience: audClaim(t.Audience),
		IssuedAt: t.IssuedAt.Unix(),
		Expiry:   t.IssuedAt.Add(t.Lifetime).Unix(),
		JTI:      rand.Text(),
		Scope:    strings.Join(t.Scopes, " "),
	}
	typ := TypeJWT
	if t.Dialect.IsRFC9068() {
		typ = TypeATJWT
		c.ClientID = t.ClientID
	} else {
		c.AZP = t.ClientID
		c.GrantType = t.GrantType
	}
	if t.CertThumbprint != "" {
		c.Cnf = &Confirmation{X5TS256: t.CertThumbprint}
	}
	if t.Dialect.IncludesPermissions() {
		perms := t.Permissions
		if perms == nil {
			perms = []string{}
		}
		c.Permissions = &perms
	}
	token, err = sign(s, typ, c)
	if err != nil {
		return "", "", fmt.Errorf("signing access token with %s key %s: %w", s.Alg, s.KID, err)
	}
	return token, c.JTI, nil
}

// sign serializes claims as the payload of a compact JWS signed by s, with
// the header's kid and typ.
func sign(s keys.Signer, typ string, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, s.KID); err != nil {
		return "", err
	}
	if err := hdr.Set(jws.TypeKey, typ); err != nil {
		return "", err
	}
	signed, err := jws.Sign(payload, jws.WithKey(s.Alg, s.Key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", err
	}
	return string(signed), nil
}
