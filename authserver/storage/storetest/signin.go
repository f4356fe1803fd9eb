package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

var signinNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newSession(id, userID string) *sessions.Session {
	return &sessions.Session{ID: id, UserID: userID, AuthTime: signinNow, LastSeenAt: signinNow, ExpiresAt: signinNow.Add(time.Hour)}
}

func newCode(id, clientID, userID string) *sessions.AuthorizationCode {
	return &sessions.AuthorizationCode{
		ID: id, ClientID: clientID, UserID: userID, RedirectURI: "https://app.example/cb",
		Audience: "https://api.example", Scopes: []string{"openid", "read:things"}, Nonce: "n-0S6",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
		AuthTime: signinNow, SessionID: "ses", FamilyID: "fam-" + id, ExpiresAt: signinNow.Add(time.Minute),
	}
}

func newRefreshToken(id, family, clientID, userID string) *sessions.RefreshToken {
	return &sessions.RefreshToken{
		ID: id, FamilyID: family, ClientID: clientID, UserID: userID, Audience: "https://api.example",
		Scopes: []string{"openid", "offline_access"}, AuthTime: signinNow, IssuedAt: signinNow,
		ExpiresAt: signinNow.Add(30 * 24 * time.Hour), IdleExpiresAt: signinNow.Add(24 * time.Hour),
	}
}

func testSessions(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	ses := newSession("s1", "auth0|u1")
	must(t, s.CreateSession(ctx, ses), "CreateSession")
	wantErr(t, s.CreateSession(ctx, ses), storage.ErrConflict, "CreateSession of a taken id")
	got, err := s.Session(ctx, "s1")
	must(t, err, "Session")
	wantEqual(t, got, ses, "Session")
	ses.LastSeenAt = signinNow.Add(time.Minute)
	must(t, s.UpdateSession(ctx, ses), "UpdateSession")
	got, err = s.Session(ctx, "s1")
	must(t, err, "Session after update")
	wantEqual(t, got, ses, "Session after update")
	other := *ses
	other.UserID = "auth0|u2"
	wantErr(t, s.UpdateSession(ctx, &other), storage.ErrNotFound, "UpdateSession changing the user")
	wantErr(t, s.UpdateSession(ctx, newSession("nope", "auth0|u1")), storage.ErrNotFound, "UpdateSession of a missing session")
	must(t, s.DeleteSession(ctx, "s1"), "DeleteSession")
	must(t, s.DeleteSession(ctx, "s1"), "DeleteSession of a deleted session")
	_, err = s.Session(ctx, "s1")
	wantErr(t, err, storage.ErrNotFound, "Session after delete")
}

func testAuthorizationCodes(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	c := newCode("c1", "client1", "auth0|u1")
	must(t, s.CreateAuthorizationCode(ctx, c), "CreateAuthorizationCode")
	wantErr(t, s.CreateAuthorizationCode(ctx, c), storage.ErrConflict, "CreateAuthorizationCode of a taken id")
	_, err := s.ConsumeAuthorizationCode(ctx, "missing", signinNow)
	wantErr(t, err, storage.ErrNotFound, "ConsumeAuthorizationCode of a missing code")

	used := signinNow.Add(time.Second)
	got, err := s.ConsumeAuthorizationCode(ctx, "c1", used)
	must(t, err, "ConsumeAuthorizationCode")
	want := c.Clone()
	want.UsedAt = used
	wantEqual(t, got, want, "consumed code")
	got, err = s.ConsumeAuthorizationCode(ctx, "c1", used.Add(time.Second))
	wantErr(t, err, storage.ErrUsed, "ConsumeAuthorizationCode again")
	if got == nil || got.FamilyID != c.FamilyID || !got.UsedAt.Equal(used) {
		t.Errorf("a replayed code must come back with its first use: %+v", got)
	}

	// Of concurrent exchanges, exactly one wins.
	must(t, s.CreateAuthorizationCode(ctx, newCode("c2", "client1", "auth0|u1")), "CreateAuthorizationCode c2")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, used2 := 0, 0
	for range 8 {
		wg.Go(func() {
			_, err := s.ConsumeAuthorizationCode(ctx, "c2", signinNow)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, storage.ErrUsed):
				used2++
			default:
				t.Errorf("concurrent ConsumeAuthorizationCode: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || used2 != 7 {
		t.Errorf("concurrent exchanges: %d succeeded and %d were refused as used, want 1 and 7", wins, used2)
	}
}

func testRefreshTokens(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	r1 := newRefreshToken("r1", "f1", "client1", "auth0|u1")
	must(t, s.CreateRefreshToken(ctx, r1), "CreateRefreshToken")
	wantErr(t, s.CreateRefreshToken(ctx, r1), storage.ErrConflict, "CreateRefreshToken of a taken id")
	got, err := s.RefreshToken(ctx, "r1")
	must(t, err, "RefreshToken")
	wantEqual(t, got, r1, "RefreshToken")
	_, err = s.RefreshToken(ctx, "missing")
	wantErr(t, err, storage.ErrNotFound, "RefreshToken of a missing token")

	used := signinNow.Add(time.Hour)
	r2 := newRefreshToken("r2", "f1", "client1", "auth0|u1")
	must(t, s.RotateRefreshToken(ctx, "r1", used, r2), "RotateRefreshToken")
	got, err = s.RefreshToken(ctx, "r2")
	must(t, err, "RefreshToken of the successor")
	wantEqual(t, got, r2, "successor")
	got, err = s.RefreshToken(ctx, "r1")
	must(t, err, "RefreshToken after rotation")
	if !got.UsedAt.Equal(used) {
		t.Errorf("UsedAt = %v, want %v", got.UsedAt, used)
	}
	for _, tc := range []struct {
		what, id  string
		successor *sessions.RefreshToken
		want      error
	}{
		{"RotateRefreshToken again", "r1", newRefreshToken("r1-again", "f1", "client1", "auth0|u1"), storage.ErrUsed},
		{"RotateRefreshToken of a missing token", "missing", newRefreshToken("r-missing", "f1", "client1", "auth0|u1"), storage.ErrNotFound},
		{"RotateRefreshToken into another family", "r2", newRefreshToken("r-other", "f9", "client1", "auth0|u1"), storage.ErrNotFound},
	} {
		wantErr(t, s.RotateRefreshToken(ctx, tc.id, used, tc.successor), tc.want, tc.what)
		_, err := s.RefreshToken(ctx, tc.successor.ID)
		wantErr(t, err, storage.ErrNotFound, "the successor of a refused "+tc.what)
	}

	idle := signinNow.Add(48 * time.Hour)
	must(t, s.TouchRefreshToken(ctx, "r1", idle), "TouchRefreshToken")
	got, err = s.RefreshToken(ctx, "r1")
	must(t, err, "RefreshToken after touch")
	if !got.IdleExpiresAt.Equal(idle) || !got.UsedAt.Equal(used) {
		t.Errorf("after TouchRefreshToken: idle end %v, used %v; want %v, %v", got.IdleExpiresAt, got.UsedAt, idle, used)
	}
	wantErr(t, s.TouchRefreshToken(ctx, "missing", idle), storage.ErrNotFound, "TouchRefreshToken of a missing token")

	must(t, s.CreateRefreshToken(ctx, newRefreshToken("r3", "f2", "client1", "auth0|u1")), "CreateRefreshToken r3")
	must(t, s.RevokeRefreshTokenFamily(ctx, "f1", r1.ExpiresAt), "RevokeRefreshTokenFamily")
	must(t, s.RevokeRefreshTokenFamily(ctx, "unknown", r1.ExpiresAt), "RevokeRefreshTokenFamily of an unknown family")
	for _, id := range []string{"r1", "r2"} {
		_, err := s.RefreshToken(ctx, id)
		wantErr(t, err, storage.ErrNotFound, "RefreshToken of a revoked family's "+id)
	}
	_, err = s.RefreshToken(ctx, "r3")
	must(t, err, "RefreshToken of another family")
}

// A revoked family stays revoked: no token of it is stored afterwards,
// whether it had tokens or not yet (a replayed code revokes the family
// that its first exchange may still be storing), until PurgeExpired
// forgets the revocation once its end has passed.
func testRevokedFamilies(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	end := signinNow.Add(30 * 24 * time.Hour)
	must(t, s.CreateRefreshToken(ctx, newRefreshToken("r1", "f1", "client1", "auth0|u1")), "CreateRefreshToken")
	must(t, s.RevokeRefreshTokenFamily(ctx, "f1", end), "RevokeRefreshTokenFamily")
	wantErr(t, s.CreateRefreshToken(ctx, newRefreshToken("r2", "f1", "client1", "auth0|u1")), storage.ErrRevoked, "CreateRefreshToken in a revoked family")
	wantErr(t, s.RotateRefreshToken(ctx, "r1", signinNow, newRefreshToken("r2", "f1", "client1", "auth0|u1")), storage.ErrRevoked, "RotateRefreshToken in a revoked family")
	must(t, s.RevokeRefreshTokenFamily(ctx, "f-code", end), "RevokeRefreshTokenFamily before its first token")
	wantErr(t, s.CreateRefreshToken(ctx, newRefreshToken("r3", "f-code", "client1", "auth0|u1")), storage.ErrRevoked, "CreateRefreshToken after the family was revoked")
	// Revoked again with a later end, f1 keeps that end; without an end,
	// a revocation is kept for ever.
	must(t, s.RevokeRefreshTokenFamily(ctx, "f1", end.Add(time.Hour)), "RevokeRefreshTokenFamily again")
	must(t, s.RevokeRefreshTokenFamily(ctx, "f1", end.Add(-time.Hour)), "RevokeRefreshTokenFamily again, with an earlier end")
	must(t, s.RevokeRefreshTokenFamily(ctx, "f-endless", time.Time{}), "RevokeRefreshTokenFamily without an end")

	stillRevoked := func(family, what string) {
		t.Helper()
		wantErr(t, s.CreateRefreshToken(ctx, newRefreshToken("r-"+family, family, "client1", "auth0|u1")), storage.ErrRevoked, what)
	}
	must(t, s.PurgeExpired(ctx, end, signinNow), "PurgeExpired at the end")
	stillRevoked("f-code", "a revocation purged at its end")
	must(t, s.PurgeExpired(ctx, end.Add(time.Minute), signinNow), "PurgeExpired after the end")
	must(t, s.CreateRefreshToken(ctx, newRefreshToken("r4", "f-code", "client1", "auth0|u1")), "CreateRefreshToken once the revocation is purged")
	stillRevoked("f1", "a revocation purged before its later end")
	stillRevoked("f-endless", "a revocation without an end purged")
}

// However the calls interleave, a family revoked while a token of it is
// being stored (a rotation, or the first token of a code exchange) keeps
// no token, and every call fails only as the contract says.
func testRevokeRaces(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	const rounds = 30
	until := signinNow.Add(30 * 24 * time.Hour)
	token := func(id, family string) *sessions.RefreshToken {
		return newRefreshToken(id, family, "client1", "auth0|u1")
	}
	race := func(fns ...func() error) []error {
		errs := make([]error, len(fns))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, fn := range fns {
			wg.Go(func() {
				<-start
				errs[i] = fn()
			})
		}
		close(start)
		wg.Wait()
		return errs
	}
	wantGone := func(round int, ids ...string) {
		t.Helper()
		for _, id := range ids {
			if _, err := s.RefreshToken(ctx, id); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("round %d: token %s of a revoked family: %v, want storage.ErrNotFound", round, id, err)
			}
		}
	}
	for round := range rounds {
		// Two uses of one token at once, as the token endpoint makes
		// them: the loser revokes the family.
		family, first := fmt.Sprintf("rot%d", round), fmt.Sprintf("rot%d-0", round)
		must(t, s.CreateRefreshToken(ctx, token(first, family)), "CreateRefreshToken")
		use := func(successor string) func() error {
			return func() error {
				err := s.RotateRefreshToken(ctx, first, signinNow, token(successor, family))
				if errors.Is(err, storage.ErrUsed) {
					return s.RevokeRefreshTokenFamily(ctx, family, until)
				}
				return err
			}
		}
		for _, err := range race(use(first+"a"), use(first+"b")) {
			if err != nil && !errors.Is(err, storage.ErrRevoked) && !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("round %d: a rotation racing a revocation failed with %v", round, err)
			}
		}
		wantGone(round, first, first+"a", first+"b")

		// A code exchange storing its first token while a replay of the
		// code revokes the family.
		family, first = fmt.Sprintf("code%d", round), fmt.Sprintf("code%d-0", round)
		errs := race(
			func() error { return s.CreateRefreshToken(ctx, token(first, family)) },
			func() error { return s.RevokeRefreshTokenFamily(ctx, family, until) },
		)
		if err := errs[0]; err != nil && !errors.Is(err, storage.ErrRevoked) {
			t.Fatalf("round %d: storing a token racing its family's revocation failed with %v", round, err)
		}
		must(t, errs[1], "RevokeRefreshTokenFamily")
		wantGone(round, first)
	}
}

func testConsents(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	_, err := s.Consent(ctx, "auth0|u1", "client1", "https://api.example")
	wantErr(t, err, storage.ErrNotFound, "Consent before any")
	c := &sessions.Consent{UserID: "auth0|u1", ClientID: "client1", Audience: "https://api.example", Scopes: []string{"openid", "read:things"}}
	must(t, s.SaveConsent(ctx, c), "SaveConsent")
	oidcOnly := &sessions.Consent{UserID: "auth0|u1", ClientID: "client1", Audience: "", Scopes: []string{"openid"}}
	must(t, s.SaveConsent(ctx, oidcOnly), "SaveConsent without audience")
	c.Scopes = append(c.Scopes, "write:things")
	must(t, s.SaveConsent(ctx, c), "SaveConsent replacing")
	got, err := s.Consent(ctx, "auth0|u1", "client1", "https://api.example")
	must(t, err, "Consent")
	wantEqual(t, got, c, "Consent")
	got, err = s.Consent(ctx, "auth0|u1", "client1", "")
	must(t, err, "Consent without audience")
	wantEqual(t, got, oidcOnly, "Consent without audience")
}

func testLoginFailures(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	for i := range 3 {
		must(t, s.RecordLoginFailure(ctx, "ip:192.0.2.1", fmt.Sprint("attempt", i), signinNow.Add(time.Duration(i)*time.Minute)), "RecordLoginFailure")
	}
	must(t, s.RecordLoginFailure(ctx, "ip:192.0.2.2", "attempt0", signinNow), "RecordLoginFailure other key")
	for _, tc := range []struct {
		key   string
		since time.Time
		want  int
	}{
		{"ip:192.0.2.1", signinNow, 3},
		{"ip:192.0.2.1", signinNow.Add(time.Minute), 2},
		{"ip:192.0.2.1", signinNow.Add(time.Hour), 0},
		{"ip:192.0.2.2", signinNow, 1},
		{"ip:192.0.2.3", signinNow, 0},
	} {
		n, err := s.LoginFailures(ctx, tc.key, tc.since)
		must(t, err, "LoginFailures")
		if n != tc.want {
			t.Errorf("LoginFailures(%s, %v) = %d, want %d", tc.key, tc.since, n, tc.want)
		}
	}
	// Forgetting an attempt forgets it under its key only.
	must(t, s.ForgetLoginFailure(ctx, "ip:192.0.2.1", "attempt0"), "ForgetLoginFailure")
	must(t, s.ForgetLoginFailure(ctx, "ip:192.0.2.1", "no such attempt"), "ForgetLoginFailure of none")
	if n, err := s.LoginFailures(ctx, "ip:192.0.2.1", signinNow); err != nil || n != 2 {
		t.Errorf("LoginFailures after forgetting one = %d, %v; want 2", n, err)
	}
	if n, err := s.LoginFailures(ctx, "ip:192.0.2.2", signinNow); err != nil || n != 1 {
		t.Errorf("ForgetLoginFailure forgot another key's attempt: %d, %v", n, err)
	}
	must(t, s.ClearLoginFailures(ctx, "ip:192.0.2.1"), "ClearLoginFailures")
	if n, err := s.LoginFailures(ctx, "ip:192.0.2.1", time.Time{}); err != nil || n != 0 {
		t.Errorf("LoginFailures after clear = %d, %v", n, err)
	}
	if n, err := s.LoginFailures(ctx, "ip:192.0.2.2", time.Time{}); err != nil || n != 1 {
		t.Errorf("ClearLoginFailures cleared another key: %d, %v", n, err)
	}
}

func testPurgeExpired(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	old := newSession("old", "auth0|u1")
	old.ExpiresAt = signinNow.Add(-time.Second)
	must(t, s.CreateSession(ctx, old), "CreateSession old")
	must(t, s.CreateSession(ctx, newSession("live", "auth0|u1")), "CreateSession live")
	oldCode := newCode("oldcode", "client1", "auth0|u1")
	oldCode.ExpiresAt = signinNow.Add(-time.Second)
	must(t, s.CreateAuthorizationCode(ctx, oldCode), "CreateAuthorizationCode old")
	must(t, s.CreateAuthorizationCode(ctx, newCode("livecode", "client1", "auth0|u1")), "CreateAuthorizationCode live")
	idle := newRefreshToken("idle", "f1", "client1", "auth0|u1")
	idle.IdleExpiresAt = signinNow.Add(-time.Second)
	must(t, s.CreateRefreshToken(ctx, idle), "CreateRefreshToken idle")
	endless := newRefreshToken("endless", "f2", "client1", "auth0|u1")
	endless.ExpiresAt, endless.IdleExpiresAt = time.Time{}, time.Time{}
	must(t, s.CreateRefreshToken(ctx, endless), "CreateRefreshToken endless")
	must(t, s.RecordLoginFailure(ctx, "k", "attempt", signinNow.Add(-time.Hour)), "RecordLoginFailure old")
	must(t, s.RecordLoginFailure(ctx, "k", "attempt", signinNow), "RecordLoginFailure new")

	must(t, s.PurgeExpired(ctx, signinNow, signinNow.Add(-time.Minute)), "PurgeExpired")
	_, err := s.Session(ctx, "old")
	wantErr(t, err, storage.ErrNotFound, "expired session after purge")
	_, err = s.Session(ctx, "live")
	must(t, err, "live session after purge")
	_, err = s.ConsumeAuthorizationCode(ctx, "oldcode", signinNow)
	wantErr(t, err, storage.ErrNotFound, "expired code after purge")
	_, err = s.ConsumeAuthorizationCode(ctx, "livecode", signinNow)
	must(t, err, "live code after purge")
	_, err = s.RefreshToken(ctx, "idle")
	wantErr(t, err, storage.ErrNotFound, "idle-expired refresh token after purge")
	_, err = s.RefreshToken(ctx, "endless")
	must(t, err, "refresh token without end after purge")
	if n, err := s.LoginFailures(ctx, "k", time.Time{}); err != nil || n != 1 {
		t.Errorf("login failures after purge = %d, %v; want 1", n, err)
	}
}

// Deleting a user or a client deletes the sign-in state that names it.
func testSigninCascades(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	c := newClient("client1")
	must(t, s.CreateClient(ctx, c), "CreateClient")
	u := newUser("auth0|0123456789abcdef01234567")
	must(t, s.CreateUser(ctx, u), "CreateUser")
	must(t, s.CreateSession(ctx, newSession("s1", u.UserID)), "CreateSession")
	must(t, s.CreateAuthorizationCode(ctx, newCode("c1", "client1", u.UserID)), "CreateAuthorizationCode")
	must(t, s.CreateRefreshToken(ctx, newRefreshToken("r1", "f1", "client1", u.UserID)), "CreateRefreshToken")
	must(t, s.SaveConsent(ctx, &sessions.Consent{UserID: u.UserID, ClientID: "client1", Audience: "a", Scopes: []string{"x"}}), "SaveConsent")
	must(t, s.CreateAuthorizationCode(ctx, newCode("c2", "client2", "auth0|other")), "CreateAuthorizationCode for others")
	must(t, s.CreateRefreshToken(ctx, newRefreshToken("r2", "f2", "client1", "auth0|other")), "CreateRefreshToken for another user")

	must(t, s.DeleteUser(ctx, u.UserID), "DeleteUser")
	_, err := s.Session(ctx, "s1")
	wantErr(t, err, storage.ErrNotFound, "session of a deleted user")
	_, err = s.ConsumeAuthorizationCode(ctx, "c1", signinNow)
	wantErr(t, err, storage.ErrNotFound, "code of a deleted user")
	_, err = s.RefreshToken(ctx, "r1")
	wantErr(t, err, storage.ErrNotFound, "refresh token of a deleted user")
	_, err = s.Consent(ctx, u.UserID, "client1", "a")
	wantErr(t, err, storage.ErrNotFound, "consent of a deleted user")
	_, err = s.RefreshToken(ctx, "r2")
	must(t, err, "another user's refresh token")

	must(t, s.DeleteClient(ctx, "client1"), "DeleteClient")
	_, err = s.RefreshToken(ctx, "r2")
	wantErr(t, err, storage.ErrNotFound, "refresh token of a deleted client")
	_, err = s.ConsumeAuthorizationCode(ctx, "c2", signinNow)
	must(t, err, "another client's code")
}

func testSettings(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	_, err := s.Setting(ctx, "tenant")
	wantErr(t, err, storage.ErrNotFound, "Setting before any")
	must(t, s.SaveSetting(ctx, "tenant", []byte(`{"friendly_name":"A"}`)), "SaveSetting")
	must(t, s.SaveSetting(ctx, "tenant", []byte(`{"friendly_name":"B"}`)), "SaveSetting replacing")
	must(t, s.SaveSetting(ctx, "branding", []byte(`{}`)), "SaveSetting another")
	got, err := s.Setting(ctx, "tenant")
	must(t, err, "Setting")
	if string(got) != `{"friendly_name":"B"}` {
		t.Errorf("Setting = %s", got)
	}
}
