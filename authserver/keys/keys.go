// Package keys manages the authorization server's signing keys: one ring
// per signing algorithm, each key in one of Auth0's states (next, current,
// previous, revoked), and the JWKS document that publishes them.
//
// It imports nothing of Portcullis.
package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// State is where a key is in its life.
type State string

// Key states. A key is created as next, becomes current when the ring
// rotates, then previous, and finally revoked. Current and next are always
// published; previous until it is revoked; revoked never again.
const (
	StateNext     State = "next"
	StateCurrent  State = "current"
	StatePrevious State = "previous"
	StateRevoked  State = "revoked"
)

// ErrKeyNotRevocable is the answer to revoking a current or next key:
// only a previous key can be revoked, so a ring is rotated first.
var ErrKeyNotRevocable = errors.New("only a previous signing key can be revoked")

// Algorithms the rings hold keys for. RS256 and PS256 have separate RSA
// keys so that a JWKS entry names exactly one algorithm.
var Algorithms = []jwa.SignatureAlgorithm{jwa.RS256, jwa.PS256, jwa.ES256}

// SigningKey is one stored key.
type SigningKey struct {
	KID       string                 `json:"kid"`
	Alg       jwa.SignatureAlgorithm `json:"alg"`
	State     State                  `json:"state"`
	CreatedAt time.Time              `json:"created_at"`
	// CurrentSince is when the key became current, CurrentUntil when it
	// stopped being current, and RevokedAt when it was revoked; each is
	// nil until then (and for keys that changed state before these were
	// recorded).
	CurrentSince *time.Time `json:"current_since,omitempty"`
	CurrentUntil *time.Time `json:"current_until,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	// PrivateJWK is the private key as a JSON Web Key.
	PrivateJWK json.RawMessage `json:"private_jwk"`
	// Certificate is the DER of the key's self-signed X.509 certificate
	// (see Complete). It is public, so it is stored in the clear even when
	// the private key is encrypted; a ring refuses a certificate of
	// another key.
	Certificate []byte `json:"certificate,omitempty"`
}

// Generate makes a new key for alg in state next, with its certificate
// for domain (the issuer's host). Its kid is the RFC 7638 SHA-256
// thumbprint of the public key.
func Generate(alg jwa.SignatureAlgorithm, domain string, now time.Time) (SigningKey, error) {
	var raw any
	var err error
	switch alg {
	case jwa.RS256, jwa.PS256:
		raw, err = rsa.GenerateKey(rand.Reader, 2048)
	case jwa.ES256:
		raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return SigningKey{}, fmt.Errorf("no key type for algorithm %s", alg)
	}
	if err != nil {
		return SigningKey{}, fmt.Errorf("generating %s key: %w", alg, err)
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return SigningKey{}, err
	}
	kid, err := thumbprint(key)
	if err != nil {
		return SigningKey{}, err
	}
	if err := setMeta(key, kid, alg); err != nil {
		return SigningKey{}, err
	}
	doc, err := json.Marshal(key)
	if err != nil {
		return SigningKey{}, err
	}
	return certify(SigningKey{KID: kid, Alg: alg, State: StateNext, CreatedAt: now.UTC(), PrivateJWK: doc}, domain)
}

func thumbprint(key jwk.Key) (string, error) {
	pub, err := key.PublicKey()
	if err != nil {
		return "", err
	}
	tp, err := pub.Thumbprint(cryptoSHA256)
	if err != nil {
		return "", err
	}
	return b64(tp), nil
}

func setMeta(key jwk.Key, kid string, alg jwa.SignatureAlgorithm) error {
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: alg, jwk.KeyUsageKey: "sig"} {
		if err := key.Set(name, v); err != nil {
			return err
		}
	}
	return nil
}
