package tokens

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/portcullis-gw/portcullis/authserver/keys"
)

// IDToken describes an OpenID Connect ID token to issue (OpenID Connect
// Core section 2).
type IDToken struct {
	Issuer  string
	Subject string
	// ClientID is both aud and azp.
	ClientID string
	IssuedAt time.Time
	Lifetime time.Duration
	// AuthTime is when the user authenticated; zero leaves auth_time out.
	AuthTime time.Time
	// Nonce is the nonce of the authorization request, if it had one.
	Nonce string
	// AccessToken, when set, is the access token issued along, whose hash
	// becomes at_hash.
	AccessToken string
	// Code, when set, is the authorization code issued along in the
	// hybrid flow, whose hash becomes c_hash.
	Code string
	// State, when set, is the state of the authorization request, whose
	// hash becomes s_hash (FAPI 1.0 Advanced section 5.2.2.1).
	State string
	// UserClaims are the claims of the granted profile and email scopes,
	// such as name and email. They cannot override the claims above.
	UserClaims map[string]any
}

// IssueIDToken signs t with s, with typ JWT and the key's kid, and returns
// the compact JWT. Its claims are iss, sub, aud (the client), azp, iat,
// exp, auth_time, nonce, at_hash, c_hash, s_hash and the user claims.
func IssueIDToken(s keys.Signer, t IDToken) (string, error) {
	c := make(map[string]any, len(t.UserClaims)+9)
	maps.Copy(c, t.UserClaims)
	c["iss"] = t.Issuer
	c["sub"] = t.Subject
	c["aud"] = t.ClientID
	c["azp"] = t.ClientID
	c["iat"] = t.IssuedAt.Unix()
	c["exp"] = t.IssuedAt.Add(t.Lifetime).Unix()
	if !t.AuthTime.IsZero() {
		c["auth_time"] = t.AuthTime.Unix()
	}
	if t.Nonce != "" {
		c["nonce"] = t.Nonce
	}
	for claim, value := range map[string]string{"at_hash": t.AccessToken, "c_hash": t.Code, "s_hash": t.State} {
		if value == "" {
			continue
		}
		h, err := HalfHash(s.Alg, value)
		if err != nil {
			return "", err
		}
		c[claim] = h
	}
	token, err := sign(s, TypeJWT, c)
	if err != nil {
		return "", fmt.Errorf("signing ID token with %s key %s: %w", s.Alg, s.KID, err)
	}
	return token, nil
}

// HalfHash is the at_hash of an access token, the c_hash of a code or the
// s_hash of a state, for an ID token signed with alg (OpenID Connect Core
// sections 3.1.3.6 and 3.3.2.11): the base64url encoding of the left half
// of the hash of the value's ASCII octets, with the hash function of alg.
// Every algorithm this server signs with uses SHA-256; others are an
// error.
func HalfHash(alg jwa.SignatureAlgorithm, value string) (string, error) {
	switch alg {
	case jwa.RS256, jwa.PS256, jwa.ES256:
		sum := sha256.Sum256([]byte(value))
		return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
	}
	return "", fmt.Errorf("no at_hash, c_hash or s_hash function for %s", alg)
}
