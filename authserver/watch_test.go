package authserver_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
)

// second starts another Server on e's database, as another instance of
// the gateway would, and follows changes every 50ms with maxStale.
func (e *env) second(t *testing.T, maxStale time.Duration) (*authserver.Server, func()) {
	t.Helper()
	st, err := sqlite.Open(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := authserver.New(t.Context(), authserver.Config{Issuer: e.issuer, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Watch(ctx, 50*time.Millisecond, maxStale)
	}()
	closeStore := func() { st.Close() }
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return srv, closeStore
}

// eventually waits up to bound for ok.
func eventually(t *testing.T, bound time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, bound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Changes made through one instance take effect in another within the
// poll interval (here 50ms, bound checked at 1s): grants, their deletion,
// key rotation.
func TestWatchFollowsOtherInstances(t *testing.T) {
	e := newEnv(t)
	b, _ := e.second(t, time.Minute)
	fx := e.newFixture(t, "watch")
	ctx := t.Context()
	grantScopes := func() []string {
		_, scopes, err := b.LiveClientGrant(ctx, fx.client.ClientID, fx.audience)
		if err != nil {
			t.Fatal(err)
		}
		return scopes
	}
	eventually(t, time.Second, "a grant made through A seen by B", func() bool { return slices.Equal(grantScopes(), []string{"read:x"}) })
	e.must(t, "PATCH", "client-grants/"+fx.grantID, obj{"scope": []string{"read:x", "write:x"}}, http.StatusOK, nil)
	eventually(t, time.Second, "a grant widened through A seen by B", func() bool { return slices.Equal(grantScopes(), []string{"read:x", "write:x"}) })
	e.must(t, "DELETE", "client-grants/"+fx.grantID, nil, http.StatusNoContent, nil)
	eventually(t, time.Second, "a grant deleted through A gone from B", func() bool {
		g, _, err := b.LiveClientGrant(ctx, fx.client.ClientID, fx.audience)
		return err == nil && g == nil
	})

	before := kidsOf(b)
	if _, err := e.srv.RotateKeys(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "a rotation made by A published by B", func() bool { return !slices.Equal(kidsOf(b), before) })
	if got, want := kidsOf(b), kidsOf(e.srv); !slices.Equal(got, want) {
		t.Errorf("after the rotation B publishes %v, A %v", got, want)
	}
}

func kidsOf(s *authserver.Server) []string {
	set := s.PublicKeys()
	var out []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		out = append(out, k.KeyID())
	}
	slices.Sort(out)
	return out
}

// While the database does not answer, cached grants keep serving until
// maxStale; then lookups fail, so that the edge refuses (503).
func TestWatchStaleness(t *testing.T) {
	e := newEnv(t)
	b, closeStore := e.second(t, 300*time.Millisecond)
	fx := e.newFixture(t, "stale")
	ctx := t.Context()
	eventually(t, time.Second, "B caches the grant", func() bool {
		g, _, err := b.LiveClientGrant(ctx, fx.client.ClientID, fx.audience)
		return err == nil && g != nil
	})
	closeStore() // B's database is gone
	if g, _, err := b.LiveClientGrant(ctx, fx.client.ClientID, fx.audience); err != nil || g == nil {
		t.Fatalf("within max_stale the cached grant serves: %v, %v", g, err)
	}
	eventually(t, 2*time.Second, "after max_stale the lookup fails", func() bool {
		_, _, err := b.LiveClientGrant(ctx, fx.client.ClientID, fx.audience)
		return err != nil
	})
	// The keys stay in memory: verification needs no database.
	if b.PublicKeys().Len() == 0 {
		t.Error("B lost its keys with the database")
	}
}

// Reloading unchanged keys records no change, so that instances reloading
// after each other's changes do not set each other off for ever.
func TestReloadKeysRecordsNoChange(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	before, err := e.store.ChangeVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := e.srv.ReloadKeys(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if after, err := e.store.ChangeVersion(ctx); err != nil || after != before {
		t.Errorf("three reloads moved the change version from %d to %d (%v)", before, after, err)
	}
}

// Signing in records the sign-in on the user without recording a change:
// sign-ins do not empty the caches of the instances.
func TestSignInRecordsNoChange(t *testing.T) {
	e := newEnv(t)
	fx := e.newSigninFixture(t, nil)
	b := e.browser(t)
	page := b.authorize(fx.params())
	before, err := e.store.ChangeVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantRedirect(t, b.login(page, fx.email, userPassword), callback)
	if after, err := e.store.ChangeVersion(t.Context()); err != nil || after != before {
		t.Errorf("a sign-in moved the change version from %d to %d (%v)", before, after, err)
	}
}

// Only changes to what instances cache (clients, APIs, grants, keys,
// settings) reach the other instances: writing users and roles, and
// starting or reloading an instance on the same database, leave the other
// instances' caches and keys alone, while a grant change still empties
// them.
func TestOnlyCachedChangesReachOtherInstances(t *testing.T) {
	onEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		st := e.open(t)
		t.Cleanup(func() { st.Close() })
		b, err := authserver.New(ctx, authserver.Config{Issuer: e.issuer, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		cache := b.Store().(*storage.CachedStore)
		fx := e.newFixture(t, "changes")
		if _, err := cache.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		refreshes := func(what string, want bool) {
			t.Helper()
			if changed, err := cache.Refresh(ctx); err != nil || changed != want {
				t.Errorf("after %s B's cache emptied: %v (%v), want %v", what, changed, err, want)
			}
		}

		var u struct {
			UserID string `json:"user_id"`
		}
		e.must(t, "POST", "users", obj{"email": uniq("changes") + "@example.com", "password": userPassword, "connection": "Username-Password-Authentication"}, http.StatusCreated, &u)
		e.must(t, "PATCH", userPath(u.UserID), obj{"name": "renamed"}, http.StatusOK, nil)
		var role struct{ ID string }
		e.must(t, "POST", "roles", obj{"name": uniq("changes")}, http.StatusOK, &role)
		e.must(t, "POST", userPath(u.UserID)+"/roles", obj{"roles": []string{role.ID}}, http.StatusOK, nil)
		refreshes("user and role writes on A", false)

		e.restart(t)
		refreshes("A reloaded", false)

		e.must(t, "PATCH", "client-grants/"+fx.grantID, obj{"scope": []string{"read:x", "write:x"}}, http.StatusOK, nil)
		refreshes("a grant change on A", true)
		if _, scopes, err := b.LiveClientGrant(ctx, fx.client.ClientID, fx.audience); err != nil || !slices.Equal(scopes, []string{"read:x", "write:x"}) {
			t.Errorf("B's grant after the change: %v, %v", scopes, err)
		}
	})
}
