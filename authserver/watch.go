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
// database, until ctx ends. Every interval it reads the store's change
// version; when another process changed a client, an API, a client grant
// or a signing key, it empties the cache and reloads the signing keys, so
// such changes take effect here within interval (and a request that
// started before, at most that much later).
//
// While the database cannot be read, what is cached keeps serving: tokens
// verify with the keys in memory, and lookups already cached (clients,
// APIs, client grants) answer from memory. Once maxStale has passed since
// the last successful read, the cache is emptied, so that everything that
// needs the database fails closed (503) until it answers again; then the
// next read picks up every change made meanwhile.
func (s *Server) Watch(ctx context.Context, interval, maxStale time.Duration) {
	if interval <= 0 {
		interval = DefaultChangePollInterval
	}
	if maxStale <= 0 {
		maxStale = DefaultMaxStale
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastRead := time.Now()
	failing, stale := false, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		changed, err := s.store.Refresh(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			// One log line as the outage starts, one when the cache goes.
			if !failing {
				failing = true
				s.logger.Warn("the database does not answer; serving from the cache", zap.Duration("max_stale", maxStale), zap.Error(err))
			}
			if !stale && time.Since(lastRead) >= maxStale {
				stale = true
				s.store.Invalidate()
				s.logger.Error("the database has not answered for longer than max_stale; cached clients, APIs and grants are dropped and requests that need them fail until it answers", zap.Duration("max_stale", maxStale), zap.Error(err))
			}
			continue
		}
		lastRead = time.Now()
		if failing {
			failing, stale = false, false
			s.logger.Info("the database answers again")
		}
		if changed {
			if err := s.keyring.Reload(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("reloading signing keys after a change", zap.Error(err))
			}
		}
	}
}
