package mgmt

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
)

// KeyRotator changes the signing key rings: the authorization server's
// keyring (signing.Keyring), which also starts signing with the new keys
// at once. Other instances on the same database follow within their
// change poll interval.
type KeyRotator interface {
	// Rotate makes every ring's next key current (see keys.Rotate) and
	// returns the new next keys.
	Rotate(ctx context.Context) ([]keys.SigningKey, error)
	// Revoke revokes a previous key; it is no longer published. A current
	// or next key is keys.ErrKeyNotRevocable.
	Revoke(ctx context.Context, kid string) error
}

// signingKeyView is a signing key as Auth0's Management API lists it:
// its certificate (PEM, PKCS #7 and SHA-1 digests, as Auth0 gives them),
// which ring position it holds, and since when. alg, which says which
// algorithm's ring the key is of, and created_at are Portcullis's own.
type signingKeyView struct {
	KID  string `json:"kid"`
	Cert string `json:"cert"`
	// PKCS7 is a PEM "PKCS7" degenerate signed-data holding the
	// certificate.
	PKCS7 string `json:"pkcs7"`
	// Fingerprint is the certificate's SHA-1 digest in upper-case hex
	// pairs separated by colons; Thumbprint is the same without colons.
	Fingerprint  string     `json:"fingerprint"`
	Thumbprint   string     `json:"thumbprint"`
	Alg          string     `json:"alg"`
	Current      bool       `json:"current"`
	Next         bool       `json:"next"`
	Previous     bool       `json:"previous"`
	Revoked      bool       `json:"revoked"`
	CurrentSince *time.Time `json:"current_since,omitempty"`
	CurrentUntil *time.Time `json:"current_until,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
}

// certView is Auth0's answer to a rotation (the new next key) and a
// revocation (the revoked key).
type certView struct {
	Cert string `json:"cert"`
	KID  string `json:"kid"`
}

func certPEM(k keys.SigningKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Certificate}))
}

func viewKey(k keys.SigningKey) (signingKeyView, error) {
	p7, err := keys.PKCS7(k.Certificate)
	if err != nil {
		return signingKeyView{}, fmt.Errorf("signing key %s: %w", k.KID, err)
	}
	sum := sha1.Sum(k.Certificate)
	thumbprint := strings.ToUpper(hex.EncodeToString(sum[:]))
	pairs := make([]string, len(sum))
	for i := range pairs {
		pairs[i] = thumbprint[2*i : 2*i+2]
	}
	return signingKeyView{
		KID: k.KID, Cert: certPEM(k),
		PKCS7:       string(pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: p7})),
		Fingerprint: strings.Join(pairs, ":"), Thumbprint: thumbprint,
		Alg: string(k.Alg), CreatedAt: k.CreatedAt,
		Current: k.State == keys.StateCurrent, Next: k.State == keys.StateNext,
		Previous: k.State == keys.StatePrevious, Revoked: k.State == keys.StateRevoked,
		CurrentSince: k.CurrentSince, CurrentUntil: k.CurrentUntil, RevokedAt: k.RevokedAt,
	}, nil
}

func (a *api) listSigningKeys(r *http.Request, _ *tokens.Claims) (int, any, error) {
	stored, err := a.Store.SigningKeys(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]signingKeyView, len(stored))
	for i, k := range stored {
		if out[i], err = viewKey(k); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, out, nil
}

func (a *api) getSigningKey(r *http.Request, _ *tokens.Claims) (int, any, error) {
	k, err := a.signingKey(r.Context(), r.PathValue("kid"))
	if err != nil {
		return 0, nil, err
	}
	view, err := viewKey(*k)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, view, nil
}

func (a *api) signingKey(ctx context.Context, kid string) (*keys.SigningKey, error) {
	stored, err := a.Store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range stored {
		if k.KID == kid {
			return &k, nil
		}
	}
	return nil, errNotFound("inexistent_signing_key", "The signing key does not exist.")
}

// rotateSigningKeys rotates every ring and answers, as Auth0 does, the
// certificate and kid of the new next key: RS256's, the algorithm of
// Auth0's keys (the other rings' new keys are listed by GET).
func (a *api) rotateSigningKeys(r *http.Request, caller *tokens.Claims) (int, any, error) {
	if err := a.requireScopes(r.Context(), a.Store, caller, "update:signing_keys"); err != nil {
		return 0, nil, err
	}
	next, err := a.Keys.Rotate(r.Context())
	if err != nil {
		return 0, nil, err
	}
	i := slices.IndexFunc(next, func(k keys.SigningKey) bool { return k.Alg == jwa.RS256 })
	if i < 0 {
		return 0, nil, errors.New("a rotation made no RS256 next key")
	}
	a.audit("signing keys rotated", caller)
	return http.StatusCreated, certView{Cert: certPEM(next[i]), KID: next[i].KID}, nil
}

func (a *api) revokeSigningKey(r *http.Request, caller *tokens.Claims) (int, any, error) {
	kid := r.PathValue("kid")
	if _, err := a.signingKey(r.Context(), kid); err != nil {
		return 0, nil, err
	}
	err := a.Keys.Revoke(r.Context(), kid)
	if errors.Is(err, keys.ErrKeyNotRevocable) {
		return 0, nil, errBadRequest("invalid_body", "Only a previous signing key can be revoked; rotate first.")
	}
	if err != nil {
		return 0, nil, err
	}
	k, err := a.signingKey(r.Context(), kid)
	if err != nil {
		return 0, nil, err
	}
	a.audit("signing key revoked", caller, zap.String("kid", kid))
	return http.StatusOK, certView{Cert: certPEM(*k), KID: k.KID}, nil
}
