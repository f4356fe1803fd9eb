package keys

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// domain is the subject of the test keys' certificates.
const domain = "tenant.example"

func count(ks []SigningKey, alg jwa.SignatureAlgorithm, st State) int {
	n := 0
	for _, k := range ks {
		if k.Alg == alg && k.State == st {
			n++
		}
	}
	return n
}

func TestCompleteFromNothing(t *testing.T) {
	ks, err := Complete(nil, domain, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range Algorithms {
		if count(ks, alg, StateCurrent) != 1 || count(ks, alg, StateNext) != 1 {
			t.Errorf("%s: want one current and one next key in %d keys", alg, len(ks))
		}
	}
	if more, err := Complete(ks, domain, now); err != nil || len(more) != 0 {
		t.Fatalf("Complete of a complete set = %d keys, %v", len(more), err)
	}
}

func TestCompletePromotesNext(t *testing.T) {
	ks, _ := Complete(nil, domain, now)
	// Drop the current RS256 key, as if it had moved to previous.
	var kept []SigningKey
	var oldNext string
	for _, k := range ks {
		switch {
		case k.Alg == jwa.RS256 && k.State == StateCurrent:
			k.State = StatePrevious
		case k.Alg == jwa.RS256 && k.State == StateNext:
			oldNext = k.KID
		}
		kept = append(kept, k)
	}
	changed, err := Complete(kept, domain, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 2 {
		t.Fatalf("changed %d keys, want the promoted one and a new next", len(changed))
	}
	if changed[0].KID != oldNext || changed[0].State != StateCurrent || changed[1].State != StateNext || changed[1].KID == oldNext {
		t.Fatalf("changed = %+v", changed)
	}
}

func TestRingPublishesAllButRevoked(t *testing.T) {
	ks, _ := Complete(nil, domain, now)
	prev, _ := Generate(jwa.ES256, domain, now)
	prev.State = StatePrevious
	revoked, _ := Generate(jwa.ES256, domain, now)
	revoked.State = StateRevoked
	r, err := NewRing(append(ks, prev, revoked))
	if err != nil {
		t.Fatal(err)
	}
	if n := r.PublicKeys().Len(); n != 7 {
		t.Fatalf("published %d keys, want 6 current/next + 1 previous", n)
	}
	if _, ok := r.PublicKeys().LookupKeyID(revoked.KID); ok {
		t.Fatal("revoked key is published")
	}
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal(r.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range doc.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS key %v has private member %s", k["kid"], private)
			}
		}
		if k["kid"] == "" || k["alg"] == "" || k["use"] != "sig" {
			t.Fatalf("JWKS key lacks kid, alg or use: %v", k)
		}
	}
	if s, _ := r.Signer(jwa.PS256); s.KID == "" || s.Alg != jwa.PS256 {
		t.Fatalf("PS256 signer = %+v", s)
	}
}

func TestKIDIsThumbprint(t *testing.T) {
	k, err := Generate(jwa.RS256, domain, now)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := jwk.ParseKey(k.PrivateJWK)
	pub, _ := priv.PublicKey()
	tp, _ := pub.Thumbprint(cryptoSHA256)
	if k.KID != b64(tp) {
		t.Fatalf("kid %s is not the RFC 7638 thumbprint %s", k.KID, b64(tp))
	}
}

func TestNewRingRefuses(t *testing.T) {
	ks, _ := Complete(nil, domain, now)
	for _, tc := range []struct {
		name   string
		change func([]SigningKey) []SigningKey
		want   string
	}{
		{"no current key", func(ks []SigningKey) []SigningKey {
			for i := range ks {
				if ks[i].Alg == jwa.ES256 && ks[i].State == StateCurrent {
					ks[i].State = StatePrevious
				}
			}
			return ks
		}, "no current ES256"},
		{"two current keys", func(ks []SigningKey) []SigningKey {
			for i := range ks {
				if ks[i].Alg == jwa.ES256 {
					ks[i].State = StateCurrent
				}
			}
			return ks
		}, "two current"},
		{"kid does not match the key", func(ks []SigningKey) []SigningKey {
			ks[0].KID = "forged"
			return ks
		}, "does not match"},
		{"unknown state", func(ks []SigningKey) []SigningKey {
			ks[0].State = "retired"
			return ks
		}, "unknown state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := append([]SigningKey(nil), ks...)
			_, err := NewRing(tc.change(cp))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	ks, _ := Complete(nil, domain, now)
	old := map[State]string{}
	for _, k := range ks {
		if k.Alg == jwa.ES256 {
			old[k.State] = k.KID
		}
	}
	changed, err := Rotate(ks, domain, now)
	if err != nil {
		t.Fatal(err)
	}
	// Apply the change as storage would.
	byKID := map[string]SigningKey{}
	for _, k := range append(ks, changed...) {
		byKID[k.KID] = k
	}
	var all []SigningKey
	for _, k := range byKID {
		all = append(all, k)
	}
	r, err := NewRing(all)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := r.Signer(jwa.ES256); s.KID != old[StateNext] {
		t.Fatalf("current ES256 key = %s, want the former next key %s", s.KID, old[StateNext])
	}
	if byKID[old[StateCurrent]].State != StatePrevious {
		t.Fatal("the former current key is not previous")
	}
	if _, ok := r.PublicKeys().LookupKeyID(old[StateCurrent]); !ok {
		t.Fatal("the previous key is not published")
	}
	if count(all, jwa.ES256, StateNext) != 1 || count(all, jwa.ES256, StateCurrent) != 1 {
		t.Fatal("rotation left the ring without exactly one next and one current key")
	}
	// A second rotation revokes the first previous key.
	again, _ := Rotate(all, domain, now)
	for _, k := range again {
		if k.KID == old[StateCurrent] && k.State != StateRevoked {
			t.Fatalf("twice-rotated key is %s, want revoked", k.State)
		}
	}
}

// A key without a certificate gets one from Complete, listed once even
// when Complete also promotes it.
func TestCompleteCertifies(t *testing.T) {
	ks, _ := Complete(nil, domain, now)
	var kept []SigningKey
	var promoted string
	for _, k := range ks {
		if len(k.Certificate) == 0 {
			t.Fatalf("new key %s has no certificate", k.KID)
		}
		switch {
		case k.Alg == jwa.RS256 && k.State == StateCurrent:
			continue // as if lost: the next key is promoted
		case k.Alg == jwa.RS256 && k.State == StateNext:
			promoted = k.KID
		}
		k.Certificate = nil
		kept = append(kept, k)
	}
	changed, err := Complete(kept, domain, now)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, k := range changed {
		if seen[k.KID] || len(k.Certificate) == 0 {
			t.Fatalf("key %s changed twice or without a certificate", k.KID)
		}
		seen[k.KID] = true
		if k.KID == promoted && (k.State != StateCurrent || k.CurrentSince == nil) {
			t.Errorf("the promoted key reads %+v", k)
		}
	}
	if len(changed) != len(kept)+1 {
		t.Errorf("changed %d keys, want the %d certified ones and a new next key", len(changed), len(kept))
	}
	if _, err := NewRing(changed); err != nil { // every key was changed
		t.Errorf("the completed keys make no ring: %v", err)
	}
}

// A ring refuses a key whose stored certificate is of another key, or
// that has none.
func TestRingRefusesWrongCertificate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(ks []SigningKey)
		want   string
	}{
		{"another key's", func(ks []SigningKey) { ks[0].Certificate, ks[1].Certificate = ks[1].Certificate, ks[0].Certificate }, "certificate is of another key"},
		{"none", func(ks []SigningKey) { ks[0].Certificate = nil }, "has no certificate"},
		{"not DER", func(ks []SigningKey) { ks[0].Certificate = []byte("x") }, "its certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks, _ := Complete(nil, domain, now)
			tc.change(ks)
			if _, err := NewRing(ks); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewRing = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
