package users

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// MaxPasswordBytes is the longest password accepted, in bytes of UTF-8: the
// whole of it is argon2id's input (unlike bcrypt, argon2 does not cut it
// short), and the cap keeps hashing cost independent of what a client
// sends.
const MaxPasswordBytes = 128

// Argon2Params are the cost parameters of argon2id (RFC 9106) and the sizes
// of its salt and output.
type Argon2Params struct {
	// Memory is the memory cost in KiB (m).
	Memory uint32
	// Time is the number of passes over the memory (t).
	Time uint32
	// Threads is the degree of parallelism (p).
	Threads uint8
	// SaltLength and KeyLength are in bytes.
	SaltLength uint32
	KeyLength  uint32
}

// DefaultArgon2Params are the parameters new hashes are made with: OWASP's
// minimum recommended configuration for argon2id (Password Storage Cheat
// Sheet: m=19456 KiB (19 MiB), t=2, p=1), a 128-bit salt and a 256-bit
// output.
//
// They are chosen for a 2-core machine that also serves tokens. With p=1 a
// sign-in takes one core for some tens of milliseconds (23 ms on the
// 2-core development machine), so two run at once without starving the
// other requests, and each holds 19 MiB, so even a burst of a hundred
// concurrent sign-ins stays under 2 GiB; callers should still bound how
// many verifications run at once. RFC 9106's first recommendation (m=2 GiB,
// t=1, p=4, beyond what Validate accepts) and its second (m=64 MiB, t=3,
// p=4) would each let a burst of sign-ins exhaust such a machine. OWASP lists
// equivalent trade-offs (m=46 MiB with t=1, m=12 MiB with t=3, ...), which
// are all as strong; raise Memory first if the machine allows. Hashes made
// with other parameters keep verifying: NeedsRehash tells when to replace
// one at the next successful sign-in. Set them, if at all, before any
// hashing starts: the tests of package authserver lower Memory in their
// TestMain, as they hash hundreds of passwords.
var DefaultArgon2Params = Argon2Params{
	Memory:     19456,
	Time:       2,
	Threads:    1,
	SaltLength: 16,
	KeyLength:  32,
}

// Bounds on the parameters of a hash, whether made or read back. The upper
// ones cap what a corrupted or tampered stored hash can make one
// verification cost (1 GiB, 64 passes).
const (
	minSalt, maxSalt     = 8, 64
	minKey, maxKey       = 16, 64
	maxMemory            = 1 << 20 // KiB: 1 GiB
	maxTime              = 64
	argon2Version        = 19 // argon2.Version, 0x13, the only one verified
	argon2idPrefix       = "$argon2id$"
	errMalformedEncoding = "malformed argon2id hash"
)

// Validate checks that the parameters are ones argon2id accepts and within
// the bounds this package verifies.
func (p Argon2Params) Validate() error {
	switch {
	case p.Threads < 1:
		return errors.New("argon2id: threads (p) must be at least 1")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("argon2id: memory (m) must be between 8×p and %d KiB", maxMemory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2id: time (t) must be between 1 and %d", maxTime)
	case p.SaltLength < minSalt || p.SaltLength > maxSalt:
		return fmt.Errorf("argon2id: salt length must be between %d and %d bytes", minSalt, maxSalt)
	case p.KeyLength < minKey || p.KeyLength > maxKey:
		return fmt.Errorf("argon2id: key length must be between %d and %d bytes", minKey, maxKey)
	}
	return nil
}

// HashPassword hashes password with DefaultArgon2Params.
func HashPassword(password string) ([]byte, error) {
	return DefaultArgon2Params.Hash(password)
}

// Hash hashes password with a new random salt and returns it in the PHC
// string format, the one of the reference implementation:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with salt and hash in base64 without padding. A password longer than
// MaxPasswordBytes is refused; the error never holds the password.
func (p Argon2Params) Hash(password string) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(password) > MaxPasswordBytes {
		return nil, fmt.Errorf("password must be at most %d bytes", MaxPasswordBytes)
	}
	salt := make([]byte, p.SaltLength)
	rand.Read(salt) // never returns an error; it crashes the program instead
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLength)
	return encodeHash(p, salt, key), nil
}

func encodeHash(p Argon2Params, salt, key []byte) []byte {
	b64 := base64.RawStdEncoding
	return fmt.Appendf(nil, "%sv=%d$m=%d,t=%d,p=%d$%s$%s", argon2idPrefix, argon2Version,
		p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodeHash parses a PHC argon2id string strictly: exactly the form Hash
// writes (version 19, parameters m, t, p in that order as decimal numbers
// without leading zeros, canonical unpadded base64), within the bounds of
// Validate. Anything else is an error, so that a corrupted or tampered
// hash is noticed rather than silently failing every password.
func decodeHash(encoded []byte) (Argon2Params, []byte, []byte, error) {
	bad := func(what string) (Argon2Params, []byte, []byte, error) {
		return Argon2Params{}, nil, nil, fmt.Errorf("%s: %s", errMalformedEncoding, what)
	}
	s := string(encoded)
	rest, ok := strings.CutPrefix(s, argon2idPrefix)
	if !ok {
		return bad("not an argon2id hash")
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 4 {
		return bad("want $argon2id$v=..$m=..,t=..,p=..$salt$hash")
	}
	if v, ok := strings.CutPrefix(parts[0], "v="); !ok {
		return bad("no version")
	} else if n, err := parseDecimal(v, 32); err != nil || n != argon2Version {
		return bad("unsupported version")
	}
	fields := strings.Split(parts[1], ",")
	if len(fields) != 3 {
		return bad("want parameters m, t and p")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return bad("want parameters m, t and p in that order")
		}
		n, err := parseDecimal(v, 32)
		if err != nil {
			return bad("parameter " + name[:1] + " is not a number")
		}
		vals[i] = n
	}
	if vals[2] > 255 {
		return bad("parameter p out of range")
	}
	// The decoder skips line breaks; nothing but the alphabet is allowed.
	if !isBase64(parts[2]) || !isBase64(parts[3]) {
		return bad("salt and hash must be unpadded base64")
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[2])
	if err != nil {
		return bad("salt is not base64")
	}
	key, err := b64.DecodeString(parts[3])
	if err != nil {
		return bad("hash is not base64")
	}
	p := Argon2Params{
		Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2]),
		SaltLength: uint32(len(salt)), KeyLength: uint32(len(key)),
	}
	if err := p.Validate(); err != nil {
		return bad(err.Error())
	}
	return p, salt, key, nil
}

func isBase64(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// parseDecimal parses digits without sign or leading zeros.
func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("not a canonical decimal number")
	}
	return strconv.ParseUint(s, 10, bits)
}

// VerifyPassword reports whether password matches encoded, a hash made by
// Hash with any valid parameters. The comparison takes constant time. A
// malformed encoded hash is an error (and no match); a password longer
// than MaxPasswordBytes never matches.
func VerifyPassword(encoded []byte, password string) (bool, error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordBytes {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLength)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with other parameters than
// p, or cannot be read: then, after a successful sign-in, the password
// should be hashed anew with p and stored.
func (p Argon2Params) NeedsRehash(encoded []byte) bool {
	got, _, _, err := decodeHash(encoded)
	return err != nil || got != p
}

// VerifyNoUser spends the time of a VerifyPassword with the default
// parameters and always reports no match. Call it when the user to sign
// in does not exist (or has no password), so that response times do not
// tell which addresses have accounts.
func VerifyNoUser(password string) bool {
	_, _ = VerifyPassword(dummyHash(), password)
	return false
}

// dummyHash is verified against when there is no user, so that a sign-in
// with an unknown e-mail address takes as long as one with a wrong
// password: a hash with DefaultArgon2Params as they are now.
func dummyHash() []byte {
	p := DefaultArgon2Params
	return encodeHash(p, bytes.Repeat([]byte{0x5a}, int(p.SaltLength)), make([]byte, p.KeyLength))
}
