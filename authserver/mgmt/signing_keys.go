package mgmt

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
)

// KeyRotator changes the signing key rings: the authorization server, which
// also starts signing with the new keys at once. Other instances on the
// same database follow within their change poll interval.
type KeyRotator interface {
	// RotateKeys makes every ring's next key current (see keys.Rotate).
	RotateKeys(ctx context.Context) error
	// RevokeKey revokes a previous key; it is no longer published.
	RevokeKey(ctx context.Context, kid string) error
}

// ErrKeyNotRevocable is RevokeKey's answer for a current or next key.
var ErrKeyNotRevocable = errors.New("only a previous signing key can be revoked")

// signingKeyView is a signing key as Auth0's Management API lists it:
// which ring position it holds, and since when. Portcullis keys have no
// X.509 certificate; alg says which algorithm's ring the key is of.
type signingKeyView struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	Current   bool      `json:"current"`
	Next      bool      `json:"next"`
	Previous  bool      `json:"previous"`
	Revoked   bool      `json:"revoked"`
	CreatedAt time.Time `json:"created_at"`
}

func viewKey(k keys.SigningKey) signingKeyView {
	return signingKeyView{
		KID: k.KID, Alg: string(k.Alg), CreatedAt: k.CreatedAt,
		Current: k.State == keys.StateCurrent, Next: k.State == keys.StateNext,
		Previous: k.State == keys.StatePrevious, Revoked: k.State == keys.StateRevoked,
	}
}

func (a *api) listSigningKeys(r *http.Request, _ *tokens.Claims) (int, any, error) {
	stored, err := a.Store.SigningKeys(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]signingKeyView, len(stored))
	for i, k := range stored {
		out[i] = viewKey(k)
	}
	return http.StatusOK, out, nil
}

func (a *api) getSigningKey(r *http.Request, _ *tokens.Claims) (int, any, error) {
	k, err := a.signingKey(r.Context(), r.PathValue("kid"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, viewKey(*k), nil
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

// rotateSigningKeys rotates every ring and answers the new current keys.
func (a *api) rotateSigningKeys(r *http.Request, caller *tokens.Claims) (int, any, error) {
	if err := a.requireScopes(r.Context(), a.Store, caller, "update:signing_keys"); err != nil {
		return 0, nil, err
	}
	if err := a.Keys.RotateKeys(r.Context()); err != nil {
		return 0, nil, err
	}
	stored, err := a.Store.SigningKeys(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var current []signingKeyView
	for _, k := range stored {
		if k.State == keys.StateCurrent {
			current = append(current, viewKey(k))
		}
	}
	a.audit("signing keys rotated", caller)
	return http.StatusCreated, current, nil
}

func (a *api) revokeSigningKey(r *http.Request, caller *tokens.Claims) (int, any, error) {
	kid := r.PathValue("kid")
	if _, err := a.signingKey(r.Context(), kid); err != nil {
		return 0, nil, err
	}
	err := a.Keys.RevokeKey(r.Context(), kid)
	if errors.Is(err, ErrKeyNotRevocable) {
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
	return http.StatusOK, viewKey(*k), nil
}
