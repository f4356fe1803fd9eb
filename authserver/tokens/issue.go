// Package tokens is the one place Portcullis makes and checks JWT access
// tokens. Issue signs tokens in Auth0's dialect or the RFC 9068 profile;
// Verifier checks them. Everything else takes verified claims from here.
//
// Of Portcullis it imports only access and keys.
package tokens

import (
	"crypto/rand"
	"encoding/base64"
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

// sign serializes claims as the payload of a compact JWS signed by s. The
// protected header is {"alg","kid","typ"}, in that order, as jwx's
// jws.Sign writes it; it is written here, and the signing input signed by
// jwx's signer for the algorithm, so that a token costs its signature and
// little else.
func sign(s keys.Signer, typ string, claims any) (string, error) {
	signer, ok := signers[s.Alg]
	if !ok {
		return "", fmt.Errorf("signing with %s is not supported", s.Alg)
	}
	header, err := json.Marshal(protectedHeader{Alg: s.Alg.String(), KID: s.KID, Type: typ})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	b64 := base64.RawURLEncoding
	token := make([]byte, 0, b64.EncodedLen(len(header))+b64.EncodedLen(len(payload))+b64.EncodedLen(maxSignatureSize)+2)
	token = b64.AppendEncode(token, header)
	token = append(token, '.')
	token = b64.AppendEncode(token, payload)
	signature, err := signer.Sign(token, s.Key)
	if err != nil {
		return "", err
	}
	token = append(token, '.')
	token = b64.AppendEncode(token, signature)
	return string(token), nil
}

// protectedHeader is the JOSE header of the tokens issued.
type protectedHeader struct {
	Alg  string `json:"alg"`
	KID  string `json:"kid"`
	Type string `json:"typ"`
}

// maxSignatureSize is the room made for the signature: an RS256 signature
// with a 4096-bit key (a larger one only makes the token grow its buffer).
const maxSignatureSize = 512

// signers holds a jws.Signer per allowed algorithm.
var signers = byAlgorithm(jws.NewSigner)
