package clients

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// MinSecretLength is the shortest client secret an operator may choose
// (bootstrap_admin, or client_secret in a PATCH). Generated secrets are
// 43 characters: 256 random bits in base64url.
const MinSecretLength = 32

// Hasher turns client secrets into keyed HMAC-SHA-256 hashes. Secrets are
// high-entropy random values, so a fast keyed hash protects them as well as a
// slow password KDF would, without making the token endpoint CPU-bound. The
// key is a per-installation random value kept in storage.
type Hasher struct {
	key []byte
}

// NewHasher returns a Hasher keyed with key, which must be at least 32 bytes.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < 32 {
		return nil, errors.New("client secret hashing key must be at least 32 bytes")
	}
	return &Hasher{key: key}, nil
}

// Hash returns the keyed hash of secret.
func (h *Hasher) Hash(secret string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Matches reports, in constant time, whether secret hashes to hash.
func (h *Hasher) Matches(hash []byte, secret string) bool {
	if len(hash) == 0 {
		return false
	}
	return hmac.Equal(h.Hash(secret), hash)
}

// NewSecret returns a new client secret: 256 random bits, base64url-encoded.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error; it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// CheckChosenSecret validates a secret chosen by an operator rather than
// generated.
func CheckChosenSecret(secret string) error {
	if len(secret) < MinSecretLength {
		return fmt.Errorf("client_secret must be at least %d characters", MinSecretLength)
	}
	if len(secret) > 512 {
		return errors.New("client_secret must be at most 512 characters")
	}
	return nil
}
