package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// KEKSize is the length in bytes of a key-encryption key.
const KEKSize = 32

// Errors of opening encrypted keys and secrets with the wrong key or none.
var (
	ErrWrongKEK = errors.New("encrypted with another key_encryption_key")
	ErrNoKEK    = errors.New("encrypted at rest, but no key_encryption_key is configured")
)

// envelopeV1 starts every value encrypted by a KEK: "enc:v1:", the id of
// the KEK, ":", and the base64url nonce and AES-256-GCM ciphertext. A
// plaintext JWK starts with "{" and a generated installation secret is
// base32, so neither can be mistaken for one.
const envelopeV1 = "enc:v1:"

// KEK is a key-encryption key: it encrypts the private signing keys and
// the installation secrets before they are stored, and decrypts them when
// they are read, so that the database alone reveals neither.
//
// The cipher is AES-256-GCM from the standard library with a random
// 96-bit nonce per value, chosen over JWE (lestrrat-go/jwx/v2/jwe) because
// the envelope is then fixed and small: nothing from storage is parsed as
// a header choosing algorithms before it is authenticated. The additional
// authenticated data names what the value is (a signing key's kid and
// algorithm, or a secret's name), so a ciphertext copied onto another key
// or secret does not decrypt. Both the encryption key and the KEK's id,
// which tells a wrong KEK from a damaged value, are derived from the
// configured key with HKDF-SHA256; the id reveals nothing of the key.
//
// A nil *KEK is no key: sealing returns values unchanged (plaintext, as
// without encryption at rest), and opening passes plaintext through but
// fails with ErrNoKEK on an encrypted value.
type KEK struct {
	aead cipher.AEAD
	// header is envelopeV1, the id and ":": the prefix of this KEK's
	// envelopes.
	header string
}

// NewKEK returns the KEK of a KEKSize-byte key.
func NewKEK(key []byte) (*KEK, error) {
	if len(key) != KEKSize {
		return nil, fmt.Errorf("a key_encryption_key must be %d bytes, not %d", KEKSize, len(key))
	}
	encKey, err := hkdf.Key(sha256.New, key, nil, "portcullis key encryption v1 aes-256-gcm", 32)
	if err != nil {
		return nil, err
	}
	id, err := hkdf.Key(sha256.New, key, nil, "portcullis key encryption v1 key id", 8)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	return &KEK{aead: aead, header: envelopeV1 + b64(id) + ":"}, nil
}

// Encrypted reports whether the private key is stored encrypted rather
// than as a JWK.
func (sk SigningKey) Encrypted() bool {
	_, ok := jsonString(sk.PrivateJWK)
	return ok
}

// IsEncryptedSecret reports whether a stored installation secret is
// encrypted.
func IsEncryptedSecret(stored []byte) bool { return bytes.HasPrefix(stored, []byte("enc:")) }

// jsonString decodes b when it is a JSON string: the form of an encrypted
// private key, since a JWK is a JSON object.
func jsonString(b []byte) (string, bool) {
	var s string
	if len(b) == 0 || b[0] != '"' || json.Unmarshal(b, &s) != nil {
		return "", false
	}
	return s, true
}

func (k *KEK) seal(plaintext []byte, aad string) string {
	return k.header + b64(k.aead.Seal(nil, nil, plaintext, []byte(k.header+aad)))
}

// open decrypts an envelope. Its errors complete "<the value> was ".
func (k *KEK) open(envelope, aad string) ([]byte, error) {
	if !strings.HasPrefix(envelope, envelopeV1) {
		return nil, fmt.Errorf("encrypted in an unknown format (this version reads %q)", envelopeV1)
	}
	if k == nil {
		return nil, ErrNoKEK
	}
	sealed, ok := strings.CutPrefix(envelope, k.header)
	if !ok {
		return nil, ErrWrongKEK
	}
	ct, err := base64.RawURLEncoding.DecodeString(sealed)
	if err == nil {
		var plain []byte
		if plain, err = k.aead.Open(nil, nil, ct, []byte(k.header+aad)); err == nil {
			return plain, nil
		}
	}
	return nil, errors.New("altered or copied from another key: it does not decrypt with its key_encryption_key")
}

func keyAAD(sk SigningKey) string { return "signing key\x00" + sk.KID + "\x00" + sk.Alg.String() }

func secretAAD(name string) string { return "installation secret\x00" + name }

// SealKeys returns ks with every plaintext private key encrypted; keys
// already encrypted are returned as they are. A nil KEK returns ks.
func (k *KEK) SealKeys(ks []SigningKey) ([]SigningKey, error) {
	if k == nil {
		return ks, nil
	}
	out := make([]SigningKey, len(ks))
	for i, sk := range ks {
		if !sk.Encrypted() {
			doc, err := json.Marshal(k.seal(sk.PrivateJWK, keyAAD(sk)))
			if err != nil {
				return nil, err
			}
			sk.PrivateJWK = doc
		}
		out[i] = sk
	}
	return out, nil
}

// OpenKeys returns ks with every private key decrypted. It fails with
// ErrWrongKEK or ErrNoKEK (wrapped) when a key was encrypted with another
// KEK or k is nil.
func (k *KEK) OpenKeys(ks []SigningKey) ([]SigningKey, error) {
	out := make([]SigningKey, len(ks))
	for i, sk := range ks {
		if envelope, ok := jsonString(sk.PrivateJWK); ok {
			plain, err := k.open(envelope, keyAAD(sk))
			if err != nil {
				return nil, fmt.Errorf("signing key %s was %w", sk.KID, err)
			}
			sk.PrivateJWK = plain
		}
		out[i] = sk
	}
	return out, nil
}

// SealSecret returns the installation secret name encrypted for storage;
// a nil KEK returns it unchanged.
func (k *KEK) SealSecret(name string, secret []byte) []byte {
	if k == nil {
		return secret
	}
	return []byte(k.seal(secret, secretAAD(name)))
}

// OpenSecret returns the stored installation secret name decrypted; a
// plaintext one is returned as it is.
func (k *KEK) OpenSecret(name string, stored []byte) ([]byte, error) {
	if !IsEncryptedSecret(stored) {
		return stored, nil
	}
	plain, err := k.open(string(stored), secretAAD(name))
	if err != nil {
		return nil, fmt.Errorf("installation secret %s was %w", name, err)
	}
	return plain, nil
}
