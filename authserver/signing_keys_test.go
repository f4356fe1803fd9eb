package authserver_test

import (
	"net/http"
	"slices"
	"testing"
)

type signingKey struct {
	KID      string `json:"kid"`
	Alg      string `json:"alg"`
	Current  bool   `json:"current"`
	Next     bool   `json:"next"`
	Previous bool   `json:"previous"`
	Revoked  bool   `json:"revoked"`
}

func kidsWhere(ks []signingKey, keep func(signingKey) bool) []string {
	var out []string
	for _, k := range ks {
		if keep(k) {
			out = append(out, k.KID)
		}
	}
	slices.Sort(out)
	return out
}

// Auth0's signing key endpoints: list, rotate (every ring's next key
// becomes current, the current previous; see TestSigningKeyCertificates
// for the answers' shapes), and revoke a previous key,
// which stops it from being published and its tokens from verifying.
func TestSigningKeysAPI(t *testing.T) {
	e := newEnv(t)
	var before []signingKey
	e.must(t, "GET", "keys/signing", nil, http.StatusOK, &before)
	current := kidsWhere(before, func(k signingKey) bool { return k.Current })
	next := kidsWhere(before, func(k signingKey) bool { return k.Next })
	if len(current) != 3 || len(next) != 3 {
		t.Fatalf("a new server has %d current and %d next keys, want 3 each (RS256, PS256, ES256): %+v", len(current), len(next), before)
	}
	var one signingKey
	e.must(t, "GET", "keys/signing/"+current[0], nil, http.StatusOK, &one)
	if one.KID != current[0] || !one.Current || one.Alg == "" {
		t.Errorf("GET one key: %+v", one)
	}
	wantMgmtError(t, e.mgmt(t, "GET", "keys/signing/nope", nil), http.StatusNotFound, "inexistent_signing_key", "does not exist")

	oldToken := e.adminToken // signed with a current key about to become previous
	e.must(t, "POST", "keys/signing/rotate", nil, http.StatusCreated, nil)
	var after []signingKey
	e.must(t, "GET", "keys/signing", nil, http.StatusOK, &after)
	if got := kidsWhere(after, func(k signingKey) bool { return k.Current }); !slices.Equal(got, next) {
		t.Errorf("after rotation the current keys are %v, want the former next ones %v", got, next)
	}
	if got := kidsWhere(after, func(k signingKey) bool { return k.Previous }); !slices.Equal(got, current) {
		t.Errorf("after rotation the previous keys are %v, want %v", got, current)
	}
	published := kids(e.jwks(t))
	for _, kid := range current {
		if !slices.Contains(published, kid) {
			t.Errorf("previous key %s is not published", kid)
		}
	}
	// The token signed before the rotation still works while its key is
	// previous.
	if r := e.do(t, request{method: "GET", path: "api/v2/keys/signing", auth: "Bearer " + oldToken}); r.status != http.StatusOK {
		t.Errorf("a token of a previous key: %s", r)
	}
	// Only a previous key can be revoked.
	newCurrent := kidsWhere(after, func(k signingKey) bool { return k.Current })
	wantMgmtError(t, e.mgmt(t, "PUT", "keys/signing/"+newCurrent[0]+"/revoke", nil), http.StatusBadRequest, "invalid_body", "Only a previous signing key")
	// The admin needs a token of a current key from here on.
	e.adminToken = e.token(t, e.admin, e.mgmtAudience()).AccessToken
	for _, kid := range current {
		e.must(t, "PUT", "keys/signing/"+kid+"/revoke", nil, http.StatusOK, nil)
		var k signingKey
		e.must(t, "GET", "keys/signing/"+kid, nil, http.StatusOK, &k)
		if !k.Revoked {
			t.Errorf("revoked key %s reads %+v", kid, k)
		}
	}
	published = kids(e.jwks(t))
	for _, kid := range current {
		if slices.Contains(published, kid) {
			t.Errorf("revoked key %s is still published", kid)
		}
	}
	if r := e.do(t, request{method: "GET", path: "api/v2/keys/signing", auth: "Bearer " + oldToken}); r.status != http.StatusUnauthorized {
		t.Errorf("a token of a revoked key: %s, want 401", r)
	}
}
