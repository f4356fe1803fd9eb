package authserver_test

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
)

// second starts another Server on e's database, as another instance of
// the gateway would, on a clock of its own starting at e's, with a watcher
// of its changes with maxStale. The caller polls the watcher; closeStore
// closes B's database.
func (e *env) second(t *testing.T, maxStale time.Duration) (b *authserver.Server, w *authserver.ChangeWatcher, clock *time.Time, closeStore func()) {
	t.Helper()
	st, err := sqlite.Open(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	clock = &now
	b, err = authserver.New(t.Context(), authserver.Config{Issuer: e.issuer, Store: st, Now: func() time.Time { return *clock }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b, b.ChangeWatcher(maxStale), clock, func() { st.Close() }
}

// otherInstance starts another Server on e's database, on a connection
// of its own, and returns it with its cache.
func (e *env) otherInstance(t *testing.T) (*authserver.Server, *storage.CachedStore) {
	t.Helper()
	st := e.open(t)
	t.Cleanup(func() { st.Close() })
	b, err := authserver.New(t.Context(), authserver.Config{Issuer: e.issuer, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b, b.Store().(*storage.CachedStore)
}

// Changes made through one instance take effect in another at its next
// poll: grants, their deletion, key rotation.
func TestWatchFollowsOtherInstances(t *testing.T) {
	e := newEnv(t)
	b, w, _, _ := e.second(t, time.Minute)
	fx := e.newFixture(t, "watch")
	ctx := t.Context()
	grantScopes := func() []string {
		_, scopes, err := b.LiveClientGrant(ctx, fx.client.ClientID, fx.audience)
		if err != nil {
			t.Fatal(err)
		}
		return scopes
	}
	w.Poll(ctx)
	if got := grantScopes(); !slices.Equal(got, []string{"read:x"}) {
		t.Errorf("a grant made through A seen by B: %v", got)
	}
	e.must(t, "PATCH", "client-grants/"+fx.grantID, obj{"scope": []string{"read:x", "write:x"}}, http.StatusOK, nil)
	w.Poll(ctx)
	if got := grantScopes(); !slices.Equal(got, []string{"read:x", "write:x"}) {
		t.Errorf("a grant widened through A seen by B: %v", got)
	}
	e.must(t, "DELETE", "client-grants/"+fx.grantID, nil, http.StatusNoContent, nil)
	w.Poll(ctx)
	if g, _, err := b.LiveClientGrant(ctx, fx.client.ClientID, fx.audience); err != nil || g != nil {
		t.Errorf("a grant deleted through A seen by B: %v, %v", g, err)
	}

	if _, err := e.srv.Keyring().Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	w.Poll(ctx)
	if got, want := kidsOf(b), kidsOf(e.srv); !slices.Equal(got, want) {
		t.Errorf("after the rotation B publishes %v, A %v", got, want)
	}
}

func kidsOf(s *authserver.Server) []string {
	set := s.Keyring().PublicKeys()
	var out []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		out = append(out, k.KeyID())
	}
	slices.Sort(out)
	return out
}

// While the database does not answer, cached grants keep serving until
// maxStale has passed on the server's clock; then lookups fail, so that
// the edge refuses (503).
func TestWatchStaleness(t *testing.T) {
	e := newEnv(t)
	const maxStale = time.Minute
	b, w, clock, closeStore := e.second(t, maxStale)
	fx := e.newFixture(t, "stale")
	ctx := t.Context()
	w.Poll(ctx)
	if g, _, err := b.LiveClientGrant(ctx, fx.client.ClientID, fx.audience); err != nil || g == nil {
		t.Fatalf("B caches the grant: %v, %v", g, err)
	}
	closeStore() // B's database is gone
	*clock = clock.Add(maxStale - time.Second)
	w.Poll(ctx)
	if g, _, err := b.LiveClientGrant(ctx, fx.client.ClientID, fx.audience); err != nil || g == nil {
		t.Fatalf("within max_stale the cached grant serves: %v, %v", g, err)
	}
	*clock = clock.Add(time.Second)
	w.Poll(ctx)
	if _, _, err := b.LiveClientGrant(ctx, fx.client.ClientID, fx.audience); err == nil {
		t.Error("after max_stale the lookup still succeeds")
	}
	// The keys stay in memory: verification needs no database.
	if b.Keyring().PublicKeys().Len() == 0 {
		t.Error("B lost its keys with the database")
	}
}

// Reloading unchanged keys records no change, so that instances reloading
// after each other's changes do not set each other off for ever.
func TestKeyringReloadRecordsNoChange(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	before, err := e.store.ChangeVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := e.srv.Keyring().Reload(ctx); err != nil {
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
		b, cache := e.otherInstance(t)
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

// Watch polls once every interval: a change made elsewhere reaches the
// server at the first tick after it, not before.
func TestWatchPollsEveryInterval(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		path := filepath.Join(dir, "p.db")
		a, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		st, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		b, err := authserver.New(ctx, authserver.Config{Issuer: "https://auth.example/", Store: st})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close() // its log sink's goroutine ends with the bubble
		cache := b.Store().(*storage.CachedStore)
		const interval = 10 * time.Second
		done := make(chan struct{})
		go func() {
			defer close(done)
			b.Watch(ctx, interval, time.Minute)
		}()
		time.Sleep(interval)
		synctest.Wait()
		gen := cache.Generation()
		if err := a.Atomically(ctx, func(tx storage.Store) error { return tx.MarkChanged(ctx) }); err != nil {
			t.Fatal(err)
		}
		time.Sleep(interval - time.Nanosecond)
		synctest.Wait()
		if cache.Generation() != gen {
			t.Error("B saw the change before its next tick")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if cache.Generation() == gen {
			t.Error("B did not see the change at its next tick")
		}
		cancel()
		<-done
	})
}

// A server's own writes empty its cache once, as they are made; its next
// poll, even its first, does not empty it again, so that what it cached
// after its write keeps serving through an outage that starts before the
// poll.
func TestOwnWritesEmptyTheCacheOnce(t *testing.T) {
	onEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		_, cache := e.otherInstance(t)
		if err := cache.SaveSetting(ctx, "own-write", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		gen := cache.Generation()
		if changed, err := cache.Refresh(ctx); err != nil || changed {
			t.Errorf("the first poll after B's own write emptied B's cache: %v (%v)", changed, err)
		}
		if cache.Generation() != gen {
			t.Errorf("the cache's generation moved from %d to %d", gen, cache.Generation())
		}
	})
}
