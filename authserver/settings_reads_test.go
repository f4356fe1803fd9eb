package authserver_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// settingsCounter counts the tenant setting reads that reach the database.
type settingsCounter struct {
	storage.Store
	reads *atomic.Int64
}

func (c settingsCounter) Setting(ctx context.Context, name string) ([]byte, error) {
	c.reads.Add(1)
	return c.Store.Setting(ctx, name)
}

// A login page reads each tenant setting (tenant, branding) from the
// database at most once, and not at all once they are cached.
func TestLoginPageReadsSettingsOnce(t *testing.T) {
	var reads atomic.Int64
	e := newEnvWith(t, func(cfg *authserver.Config) {
		cfg.Store = settingsCounter{Store: cfg.Store, reads: &reads}
	})
	fx := e.newSigninFixture(t, nil)
	e.restart(t) // empty the cache
	reads.Store(0)
	e.browser(t).authorize(fx.params())
	if n := reads.Load(); n > 2 {
		t.Errorf("a login page on a cold cache read settings %d times, want at most 2 (tenant and branding)", n)
	}
	reads.Store(0)
	e.browser(t).authorize(fx.params())
	if n := reads.Load(); n != 0 {
		t.Errorf("a login page on a warm cache read settings %d times, want 0", n)
	}
}
