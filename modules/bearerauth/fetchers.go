package bearerauth

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/remoteissuer"
)

// fetchers holds the keys of remote issuers, one fetcher per fetcherKey,
// shared by every bearer_auth of the process that trusts the issuer: sites
// trusting one issuer fetch its keys once, and a config reload keeps the
// keys fetched before it. A fetcher stops when its last user is cleaned
// up; across a reload, the new config takes its reference before the old
// one lets go.
var fetchers = caddy.NewUsagePool()

// fetcherKey is a remote issuer with every setting that changes how its
// keys are fetched: handlers share a fetcher only when all of them agree.
type fetcherKey struct {
	issuer            string
	unknownKeyRefetch time.Duration
}

// fetcher fetches one remote issuer's keys in the background until it is
// destructed, counts each fetch in the portcullis_jwks_fetches_total
// series of every configuration whose handlers use it, and logs to the
// newest of those configurations.
type fetcher struct {
	*remoteissuer.Issuer
	issuer string
	stop   context.CancelFunc

	mu sync.Mutex
	// users are the configurations using the fetcher, oldest first.
	users []*fetcherUser
}

// fetcherUser is one configuration using a fetcher, known by its fetch
// counter (each configuration has its own metrics registry).
type fetcherUser struct {
	counter  *prometheus.CounterVec
	logger   *zap.Logger
	handlers int
}

// useFetcher returns the shared fetcher of key, creating it when no one
// holds it, and counts its fetches in counter until releaseFetcher. A
// configuration new to the fetcher (a new counter) becomes the one it logs
// to, with logger.
func useFetcher(key fetcherKey, logger *zap.Logger, counter *prometheus.CounterVec) (*fetcher, error) {
	v, loaded, err := fetchers.LoadOrNew(key, func() (caddy.Destructor, error) {
		return newFetcher(key, logger, counter)
	})
	if err != nil {
		return nil, err
	}
	f := v.(*fetcher)
	if loaded {
		f.mu.Lock()
		defer f.mu.Unlock()
		if i := f.user(counter); i >= 0 {
			f.users[i].handlers++
		} else {
			f.users = append(f.users, &fetcherUser{counter: counter, logger: logger, handlers: 1})
			f.SetLogger(logger)
		}
	}
	return f, nil
}

// releaseFetcher undoes one useFetcher of key with counter. When the
// newest configuration using the fetcher lets go of it, the fetcher logs to
// the newest one left.
func releaseFetcher(key fetcherKey, f *fetcher, counter *prometheus.CounterVec) error {
	f.mu.Lock()
	if i := f.user(counter); i >= 0 {
		if f.users[i].handlers--; f.users[i].handlers == 0 {
			f.users = append(f.users[:i], f.users[i+1:]...)
			if i == len(f.users) && i > 0 {
				f.SetLogger(f.users[i-1].logger)
			}
		}
	}
	f.mu.Unlock()
	_, err := fetchers.Delete(key)
	return err
}

// user returns the index of the configuration counting in counter, or -1.
// f.mu must be held.
func (f *fetcher) user(counter *prometheus.CounterVec) int {
	return slices.IndexFunc(f.users, func(u *fetcherUser) bool { return u.counter == counter })
}

// newFetcher starts fetching key's issuer, counting fetches in counter
// from the first one on.
func newFetcher(key fetcherKey, logger *zap.Logger, counter *prometheus.CounterVec) (*fetcher, error) {
	ctx, stop := context.WithCancel(context.Background())
	f := &fetcher{issuer: key.issuer, stop: stop, users: []*fetcherUser{{counter: counter, logger: logger, handlers: 1}}}
	iss, err := remoteissuer.New(ctx, remoteissuer.Config{
		Issuer:             key.issuer,
		UnknownKIDInterval: key.unknownKeyRefetch,
		Logger:             logger,
		OnFetch:            f.count,
	})
	if err != nil {
		stop()
		return nil, err
	}
	f.Issuer = iss
	return f, nil
}

// count adds a fetch to the counters of every configuration using f.
func (f *fetcher) count(ok bool) {
	result := "error"
	if ok {
		result = "ok"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		u.counter.WithLabelValues(f.issuer, result).Inc()
	}
}

// Destruct stops the background fetches.
func (f *fetcher) Destruct() error {
	f.stop()
	return nil
}
