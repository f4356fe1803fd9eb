package authserver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// signInHook is a store that runs a function after a read of a user by
// e-mail address, which is what a sign-in reads before it checks the
// password and records itself: the function lands a change between the
// sign-in's read and its write, with no timing.
type signInHook struct {
	storage.Store
	afterRead atomic.Pointer[func()]
}

func (h *signInHook) UserByEmail(ctx context.Context, connection, email string) (*users.User, error) {
	u, err := h.Store.UserByEmail(ctx, connection, email)
	if f := h.afterRead.Swap(nil); f != nil {
		(*f)()
	}
	return u, err
}

// during runs signIn, pausing it after its read of the user to run change,
// and returns the sign-in's answer.
func (h *signInHook) during(t *testing.T, signIn func() page, change func()) page {
	t.Helper()
	reached, proceed := make(chan struct{}), make(chan struct{})
	pause := func() { close(reached); <-proceed }
	h.afterRead.Store(&pause)
	answer := make(chan page, 1)
	go func() { answer <- signIn() }()
	select {
	case <-reached:
	case p := <-answer:
		t.Fatalf("the sign-in ended without reading its user: %s", p)
	}
	func() {
		defer close(proceed)
		change()
	}()
	return <-answer
}

// raceConfig lets the race tests sign in as often as they like: failed
// sign-ins (a password changed just before) lock nobody out.
func raceConfig(cfg *authserver.Config) {
	cfg.RateLimits.LoginPerIP = 10000
	cfg.BruteForce.UserAttempts = 10000
}

// wantPassword checks through the login page that password is the user's:
// it signs in, or the account is blocked (which the page says only to the
// right password); and that each of wrong is refused.
func wantPassword(t *testing.T, e *env, fx signinFixture, blocked bool, password string, wrong ...string) {
	t.Helper()
	b := e.browser(t)
	p := b.login(b.authorize(fx.params()), fx.email, password)
	if blocked {
		if p.status != http.StatusForbidden || p.message() != "This account is blocked. Contact the administrator." {
			t.Errorf("the blocked user's password %q: %s, want the blocked message", password, p)
		}
	} else if q := wantRedirect(t, p, callback); q.Get("code") == "" {
		t.Errorf("the password %q gave no code: %v", password, q)
	}
	for _, w := range wrong {
		b := e.browser(t)
		if p := b.login(b.authorize(fx.params()), fx.email, w); p.message() != "Wrong email or password." {
			t.Errorf("the password %q, replaced: %s", w, p)
		}
	}
}

// getUser reads the user through the Management API.
func (e *env) getUser(t *testing.T, id string) (u struct {
	Blocked     bool `json:"blocked"`
	LoginsCount int  `json:"logins_count"`
}) {
	t.Helper()
	e.must(t, "GET", "users/"+url.PathEscape(id), nil, http.StatusOK, &u)
	return u
}

// A change that the Management API makes to a user while a sign-in of
// that user checks the password stays: the sign-in writes its own record
// only, and replaces the password hash with a rehash only if the hash is
// still the one it checked.
func TestSignInKeepsChangesMadeMeanwhile(t *testing.T) {
	const newPassword = "a new password, set by the administrator"
	weak := users.DefaultArgon2Params
	weak.Time = 1
	for _, backend := range backends {
		for _, tc := range []struct {
			name string
			// patch is the Management API's change, made between the
			// sign-in's read of the user and its record.
			patch obj
			// weakHash gives the user a hash that a sign-in replaces.
			weakHash bool
		}{
			{name: "block", patch: obj{"blocked": true}},
			{name: "password change", patch: obj{"password": newPassword}},
			{name: "password change over a hash the sign-in rehashes", patch: obj{"password": newPassword}, weakHash: true},
			{name: "block and password change", patch: obj{"blocked": true, "password": newPassword}},
			{name: "profile change", patch: obj{"name": "Renamed", "app_metadata": obj{"plan": "gold"}}},
		} {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				hook := &signInHook{}
				e := newEnvFrom(t, envSetup{postgres: backend == "postgres", configure: func(cfg *authserver.Config) {
					raceConfig(cfg)
					hook.Store = cfg.Store
					cfg.Store = hook
				}})
				fx := e.newSigninFixture(t, nil)
				if tc.weakHash {
					setPasswordHash(t, e, fx.userID, weak, userPassword)
				}
				b := e.browser(t)
				login := b.authorize(fx.params())

				p := hook.during(t, func() page { return b.login(login, fx.email, userPassword) }, func() {
					e.must(t, "PATCH", "users/"+url.PathEscape(fx.userID), tc.patch, http.StatusOK, nil)
				})

				blocked := tc.patch["blocked"] == true
				if blocked && p.location != nil && p.location.Query().Has("code") {
					t.Errorf("a user blocked during the sign-in got a code: %s", p.location)
				}
				u := e.getUser(t, fx.userID)
				if u.Blocked != blocked || u.LoginsCount != 1 {
					t.Errorf("after the sign-in: blocked %v, logins_count %d; want %v and 1 (the sign-in recorded)", u.Blocked, u.LoginsCount, blocked)
				}
				if _, changed := tc.patch["password"]; changed {
					wantPassword(t, e, fx, blocked, newPassword, userPassword)
				} else {
					wantPassword(t, e, fx, blocked, userPassword)
				}
				if tc.name == "profile change" {
					var profile struct {
						Name        string         `json:"name"`
						AppMetadata map[string]any `json:"app_metadata"`
					}
					e.must(t, "GET", "users/"+url.PathEscape(fx.userID), nil, http.StatusOK, &profile)
					if profile.Name != "Renamed" || profile.AppMetadata["plan"] != "gold" {
						t.Errorf("after the sign-in the profile is %+v", profile)
					}
				}
			})
		}
	}
}

// A user deleted while signing in is not signed in: the page says what it
// says to a wrong password, and the sign-in ends with no error.
func TestSignInOfAUserDeletedMeanwhile(t *testing.T) {
	hook := &signInHook{}
	e := newEnvWith(t, func(cfg *authserver.Config) {
		hook.Store = cfg.Store
		cfg.Store = hook
	})
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)
	login := b.authorize(fx.params())
	p := hook.during(t, func() page { return b.login(login, fx.email, userPassword) }, func() {
		e.must(t, "DELETE", "users/"+url.PathEscape(fx.userID), nil, http.StatusNoContent, nil)
	})
	if p.status != http.StatusUnauthorized || p.message() != "Wrong email or password." {
		t.Errorf("signing in a user deleted meanwhile: %s", p)
	}
}

// setPasswordHash stores a hash of password made with params as the
// user's, as a user created before the parameters changed would have.
func setPasswordHash(t *testing.T, e *env, userID string, params users.Argon2Params, password string) {
	t.Helper()
	hash, err := params.Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.store.User(t.Context(), userID)
	if err != nil {
		t.Fatal(err)
	}
	u.PasswordHash = hash
	if err := e.store.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
}

// A sign-in replaces a hash made with other parameters than the current
// ones by one made with them.
func TestSignInRehashesOldParameters(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	weak := users.DefaultArgon2Params
	weak.Time = 1
	setPasswordHash(t, e, fx.userID, weak, userPassword)
	b := e.browser(t)
	wantRedirect(t, b.login(b.authorize(fx.params()), fx.email, userPassword), callback)
	u, err := e.store.User(t.Context(), fx.userID)
	if err != nil {
		t.Fatal(err)
	}
	if users.DefaultArgon2Params.NeedsRehash(u.PasswordHash) {
		t.Errorf("after a sign-in the hash %q still has the old parameters", u.PasswordHash)
	}
	wantPassword(t, e, fx, false, userPassword, "not the password")
}

// Sign-ins and Management API changes of one user, at once, many times:
// every block and every password change stays, and so does every sign-in
// that succeeded.
func TestSignInRacesManagementAPI(t *testing.T) {
	const rounds = 20
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := newEnvFrom(t, envSetup{postgres: backend == "postgres", configure: raceConfig})
			fx := e.newSigninFixture(t, nil)
			password := userPassword
			signIns := 0
			for round := range rounds {
				next := fmt.Sprintf("password of round %d", round)
				b := e.browser(t)
				login := b.authorize(fx.params())
				var signedIn page
				var patched reply
				start := make(chan struct{})
				var wg sync.WaitGroup
				wg.Go(func() { <-start; signedIn = b.login(login, fx.email, password) })
				wg.Go(func() {
					<-start
					patched = e.mgmt(t, "PATCH", "users/"+url.PathEscape(fx.userID), obj{"blocked": true, "password": next})
				})
				close(start)
				wg.Wait()
				if patched.status != http.StatusOK {
					t.Fatalf("round %d: PATCH: %s", round, patched)
				}
				// The sign-in read the user either before the PATCH (and
				// succeeded) or after (and found the password changed).
				switch {
				case signedIn.status == http.StatusFound || (signedIn.status == http.StatusOK && strings.Contains(signedIn.body, `name="password"`)):
					signIns++
				case signedIn.message() == "Wrong email or password.":
				default:
					t.Fatalf("round %d: the sign-in answered %s", round, signedIn)
				}
				u, err := e.store.User(t.Context(), fx.userID)
				if err != nil {
					t.Fatal(err)
				}
				if !u.Blocked {
					t.Errorf("round %d: the user is not blocked after the PATCH", round)
				}
				if ok, _ := users.VerifyPassword(u.PasswordHash, next); !ok {
					t.Errorf("round %d: the password set by the PATCH does not verify", round)
				}
				if u.LoginsCount != signIns {
					t.Errorf("round %d: logins_count %d, want %d", round, u.LoginsCount, signIns)
				}
				e.must(t, "PATCH", "users/"+url.PathEscape(fx.userID), obj{"blocked": false}, http.StatusOK, nil)
				password = next
			}
			t.Logf("%d of %d sign-ins read the user before the PATCH", signIns, rounds)
			wantPassword(t, e, fx, false, password, userPassword)
		})
	}
}
