package keys

import (
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v2/cert"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

const cryptoSHA256 = crypto.SHA256

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Signer is the current private key of one algorithm.
type Signer struct {
	KID string
	Alg jwa.SignatureAlgorithm
	// Key is the raw private key (*rsa.PrivateKey or *ecdsa.PrivateKey),
	// kept as one value so that the crypto packages' per-key
	// precomputation is done once, not on every signature.
	Key crypto.Signer
}

// Ring is an immutable view of the stored keys: the current signer of each
// algorithm and the public keys to publish and verify with.
type Ring struct {
	signers map[jwa.SignatureAlgorithm]Signer
	public  jwk.Set
	jwks    []byte
}

// Complete returns the keys to store so that every key has its
// certificate for domain (the issuer's host) and every algorithm has a
// current and a next key: a missing current key is the next key promoted,
// or a new one; a missing next key is generated. It returns nothing when
// the stored keys are complete. The stored private keys must be plaintext.
func Complete(stored []SigningKey, domain string, now time.Time) ([]SigningKey, error) {
	stored = slices.Clone(stored)
	var changed []SigningKey
	// change records k, once: a key certified here may be promoted too.
	change := func(k SigningKey) {
		if i := slices.IndexFunc(changed, func(c SigningKey) bool { return c.KID == k.KID }); i >= 0 {
			changed[i] = k
			return
		}
		changed = append(changed, k)
	}
	for i, k := range stored {
		if len(k.Certificate) == 0 {
			var err error
			if stored[i], err = certify(k, domain); err != nil {
				return nil, err
			}
			change(stored[i])
		}
	}
	for _, alg := range Algorithms {
		cur := slices.IndexFunc(stored, func(k SigningKey) bool { return k.Alg == alg && k.State == StateCurrent })
		next := slices.IndexFunc(stored, func(k SigningKey) bool { return k.Alg == alg && k.State == StateNext })
		if cur < 0 {
			var k SigningKey
			if next >= 0 {
				k = stored[next]
				next = -1
			} else {
				var err error
				if k, err = Generate(alg, domain, now); err != nil {
					return nil, err
				}
			}
			k.State = StateCurrent
			k.CurrentSince = timeRef(now)
			change(k)
		}
		if next < 0 {
			k, err := Generate(alg, domain, now)
			if err != nil {
				return nil, err
			}
			change(k)
		}
	}
	return changed, nil
}

func timeRef(t time.Time) *time.Time {
	t = t.UTC()
	return &t
}

// NewRing builds a ring from the stored keys. Every algorithm must have a
// current key (see Complete).
func NewRing(stored []SigningKey) (*Ring, error) {
	r := &Ring{signers: make(map[jwa.SignatureAlgorithm]Signer), public: jwk.NewSet()}
	// Publish current keys first, then next, then previous.
	order := map[State]int{StateCurrent: 0, StateNext: 1, StatePrevious: 2}
	sorted := slices.Clone(stored)
	slices.SortStableFunc(sorted, func(a, b SigningKey) int { return order[a.State] - order[b.State] })
	for _, sk := range sorted {
		if sk.State == StateRevoked {
			continue
		}
		if _, ok := order[sk.State]; !ok {
			return nil, fmt.Errorf("signing key %s: unknown state %q", sk.KID, sk.State)
		}
		signer, err := privateKey(sk)
		if err != nil {
			return nil, err
		}
		pub, err := publicJWK(sk, signer.Public())
		if err != nil {
			return nil, err
		}
		if err := r.public.AddKey(pub); err != nil {
			return nil, err
		}
		if sk.State == StateCurrent {
			if _, dup := r.signers[sk.Alg]; dup {
				return nil, fmt.Errorf("two current %s signing keys", sk.Alg)
			}
			r.signers[sk.Alg] = Signer{KID: sk.KID, Alg: sk.Alg, Key: signer}
		}
	}
	for _, alg := range Algorithms {
		if _, ok := r.signers[alg]; !ok {
			return nil, fmt.Errorf("no current %s signing key", alg)
		}
	}
	doc, err := json.Marshal(r.public)
	if err != nil {
		return nil, err
	}
	r.jwks = doc
	return r, nil
}

// publicJWK returns the JWK of sk's public key pub, with kid, alg and use,
// and its certificate as x5c, with x5t (SHA-1) and x5t#S256 thumbprints
// (RFC 7517 section 4.7-4.9).
func publicJWK(sk SigningKey, pub crypto.PublicKey) (jwk.Key, error) {
	c, err := parseCertificate(sk, pub)
	if err != nil {
		return nil, err
	}
	key, err := jwk.FromRaw(pub)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", sk.KID, err)
	}
	var chain cert.Chain
	if err := chain.AddString(base64.StdEncoding.EncodeToString(c.Raw)); err != nil {
		return nil, fmt.Errorf("signing key %s: %w", sk.KID, err)
	}
	sha1Sum := sha1.Sum(c.Raw)
	sha256Sum := sha256.Sum256(c.Raw)
	if err := setMeta(key, sk.KID, sk.Alg); err != nil {
		return nil, err
	}
	for name, v := range map[string]any{
		jwk.X509CertChainKey:          &chain,
		jwk.X509CertThumbprintKey:     b64(sha1Sum[:]),
		jwk.X509CertThumbprintS256Key: b64(sha256Sum[:]),
	} {
		if err := key.Set(name, v); err != nil {
			return nil, fmt.Errorf("signing key %s: %w", sk.KID, err)
		}
	}
	return key, nil
}

// Signer returns the current key for alg.
func (r *Ring) Signer(alg jwa.SignatureAlgorithm) (Signer, bool) {
	s, ok := r.signers[alg]
	return s, ok
}

// PublicKeys returns the published public keys, each with kid and alg set.
// Callers must not modify the set.
func (r *Ring) PublicKeys() jwk.Set { return r.public }

// JWKS returns the JSON Web Key Set document of the public keys.
func (r *Ring) JWKS() []byte { return r.jwks }

// Rotate returns the keys to store to rotate every algorithm's ring: the
// next key becomes current, the current one previous, an older previous key
// is revoked, and a new next key is made. Tokens signed before stay
// verifiable while their key is previous.
func Rotate(stored []SigningKey, domain string, now time.Time) ([]SigningKey, error) {
	var changed []SigningKey
	for _, k := range stored {
		switch k.State {
		case StatePrevious:
			k.State = StateRevoked
			k.RevokedAt = timeRef(now)
		case StateCurrent:
			k.State = StatePrevious
			k.CurrentUntil = timeRef(now)
		case StateNext:
			k.State = StateCurrent
			k.CurrentSince = timeRef(now)
		default:
			continue
		}
		changed = append(changed, k)
	}
	for _, alg := range Algorithms {
		k, err := Generate(alg, domain, now)
		if err != nil {
			return nil, err
		}
		changed = append(changed, k)
	}
	return changed, nil
}
