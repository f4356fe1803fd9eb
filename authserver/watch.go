package authserver

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Defaults of Watch.
const (
	DefaultChangePollInterval = time.Second
	DefaultMaxStale           = 5 * time.Minute
)

// Watch keeps this server in step with other processes that share its
// database, until ctx ends: every interval it polls a ChangeWatcher with
// maxStale (see ChangeWatcher.Poll), so that a change to a client, an API,
// a client grant, a signing key or a tenant setting made elsewhere takes
// effect here within interval (and a request that started before, at most
// that much later).
func (s *Server) Watch(ctx context.Context, interval, maxStale time.Duration) {
	if interval <= 0 {
		interval = DefaultChangePollInterval
	}
	w := s.ChangeWatcher(maxStale)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w.Poll(ctx)
	}
}

// ChangeWatcher follows the changes other processes make to the database
// the Server shares with them, one Poll at a time.
type ChangeWatcher struct {
	s        *Server
	maxStale time.Duration
	// lastRead is when the change version was last read, on the Server's
	// clock.
	lastRead       time.Time
	failing, stale bool
	// keysBehind is set when a change was seen whose signing keys are not
	// loaded yet: a failed reload is retried at every Poll until one
	// succeeds, as the change version that announced it is consumed.
	keysBehind bool
}

// ChangeWatcher returns a watcher of s's database that drops the cache
// once the database has not answered for maxStale (default
// DefaultMaxStale).
func (s *Server) ChangeWatcher(maxStale time.Duration) *ChangeWatcher {
	if maxStale <= 0 {
		maxStale = DefaultMaxStale
	}
	return &ChangeWatcher{s: s, maxStale: maxStale, lastRead: s.now()}
}

// Poll reads the store's change version; when another process changed
// something cached since the last Poll, it empties the cache and reloads
// the signing keys.
//
// While the database cannot be read, what is cached keeps serving: tokens
// verify with the keys in memory, and lookups already cached (clients,
// APIs, client grants, settings) answer from memory. Once maxStale has
// passed on the Server's clock since the last successful read, the cache
// is emptied, so that everything that needs the database fails closed
// (503) until it answers again; then the next read picks up every change
// made meanwhile.
func (w *ChangeWatcher) Poll(ctx context.Context) {
	s := w.s
	changed, err := s.store.Refresh(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		return
	case err != nil:
		// One log line as the outage starts, one when the cache goes.
		if !w.failing {
			w.failing = true
			s.logger.Warn("the database does not answer; serving from the cache", zap.Duration("max_stale", w.maxStale), zap.Error(err))
		}
		if !w.stale && s.now().Sub(w.lastRead) >= w.maxStale {
			w.stale = true
			s.store.Invalidate()
			s.logger.Error("the database has not answered for longer than max_stale; cached clients, APIs and grants are dropped and requests that need them fail until it answers", zap.Duration("max_stale", w.maxStale), zap.Error(err))
		}
		return
	}
	w.lastRead = s.now()
	if w.failing {
		w.failing, w.stale = false, false
		s.logger.Info("the database answers again")
	}
	w.keysBehind = w.keysBehind || changed
	if w.keysBehind {
		if err := s.keyring.Reload(ctx); err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("reloading signing keys after a change; retrying at the next poll", zap.Error(err))
			}
			return
		}
		w.keysBehind = false
	}
}
