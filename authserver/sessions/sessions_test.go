package sessions

import (
	"testing"
	"time"
)

func TestKeyAndSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if a == b || len(a) < 43 {
		t.Fatalf("secrets %q and %q: want distinct values of 256 bits", a, b)
	}
	ka := Key(a)
	if ka == Key(b) || Key(a) != ka || len(ka) != 64 || ka == a {
		t.Errorf("Key(%q) = %q: want the hex SHA-256, stable and distinct", a, Key(a))
	}
}

func TestRefreshTokenExpiredAt(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name           string
		absolute, idle time.Time
		expired        bool
	}{
		{"no ends", time.Time{}, time.Time{}, false},
		{"both ahead", now.Add(time.Hour), now.Add(time.Minute), false},
		{"idle end reached", now.Add(time.Hour), now, true},
		{"absolute end passed", now.Add(-time.Second), now.Add(time.Hour), true},
		{"idle end only, passed", time.Time{}, now.Add(-time.Second), true},
	} {
		rt := &RefreshToken{ExpiresAt: tc.absolute, IdleExpiresAt: tc.idle}
		if got := rt.ExpiredAt(now); got != tc.expired {
			t.Errorf("%s: ExpiredAt = %v, want %v", tc.name, got, tc.expired)
		}
	}
}

func TestConsentCovers(t *testing.T) {
	c := &Consent{Scopes: []string{"openid", "read:x"}}
	for _, tc := range []struct {
		want   []string
		covers bool
	}{
		{nil, true},
		{[]string{"openid"}, true},
		{[]string{"read:x", "openid"}, true},
		{[]string{"openid", "write:x"}, false},
	} {
		if got := c.Covers(tc.want); got != tc.covers {
			t.Errorf("Covers(%v) = %v, want %v", tc.want, got, tc.covers)
		}
	}
}
