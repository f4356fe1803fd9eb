package keys

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

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

// Complete returns the keys to store so that every algorithm has a current
// and a next key: a missing current key is the next key promoted, or a new
// one; a missing next key is generated. It returns nothing when the stored
// keys are complete.
func Complete(stored []SigningKey, now time.Time) ([]SigningKey, error) {
	var changed []SigningKey
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
				if k, err = Generate(alg, now); err != nil {
					return nil, err
				}
			}
			k.State = StateCurrent
			changed = append(changed, k)
		}
		if next < 0 {
			k, err := Generate(alg, now)
			if err != nil {
				return nil, err
			}
			changed = append(changed, k)
		}
	}
	return changed, nil
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
		priv, err := jwk.ParseKey(sk.PrivateJWK)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", sk.KID, err)
		}
		if priv.KeyID() != sk.KID || priv.Algorithm() != sk.Alg {
			return nil, fmt.Errorf("signing key %s: stored kid or alg does not match the key", sk.KID)
		}
		pub, err := priv.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", sk.KID, err)
		}
		if err := r.public.AddKey(pub); err != nil {
			return nil, err
		}
		if sk.State == StateCurrent {
			if _, dup := r.signers[sk.Alg]; dup {
				return nil, fmt.Errorf("two current %s signing keys", sk.Alg)
			}
			var raw any
			if err := priv.Raw(&raw); err != nil {
				return nil, fmt.Errorf("signing key %s: %w", sk.KID, err)
			}
			signer, ok := raw.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("signing key %s is not a private key", sk.KID)
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
func Rotate(stored []SigningKey, now time.Time) ([]SigningKey, error) {
	var changed []SigningKey
	for _, k := range stored {
		switch k.State {
		case StatePrevious:
			k.State = StateRevoked
		case StateCurrent:
			k.State = StatePrevious
		case StateNext:
			k.State = StateCurrent
		default:
			continue
		}
		changed = append(changed, k)
	}
	for _, alg := range Algorithms {
		k, err := Generate(alg, now)
		if err != nil {
			return nil, err
		}
		changed = append(changed, k)
	}
	return changed, nil
}
