package bearerauth

import (
	"context"
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
// destructed, and counts each fetch in the portcullis_jwks_fetches_total
// series of every configuration whose handlers use it. It logs to the
// logger of the handler that created it.
type fetcher struct {
	*remoteissuer.Issuer
	issuer string
	stop   context.CancelFunc

	mu sync.Mutex
	// counters are the fetch counters of the configurations using the
	// fetcher, each with how many of their handlers do.
	counters map[*prometheus.CounterVec]int
}

// useFetcher returns the shared fetcher of key, creating it when no one
// holds it, and counts its fetches in counter until releaseFetcher.
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
		f.counters[counter]++
		f.mu.Unlock()
	}
	return f, nil
}

// releaseFetcher undoes one useFetcher of key with counter.
func releaseFetcher(key fetcherKey, f *fetcher, counter *prometheus.CounterVec) error {
	f.mu.Lock()
	if f.counters[counter]--; f.counters[counter] <= 0 {
		delete(f.counters, counter)
	}
	f.mu.Unlock()
	_, err := fetchers.Delete(key)
	return err
}

// newFetcher starts fetching key's issuer, counting fetches in counter
// from the first one on.
func newFetcher(key fetcherKey, logger *zap.Logger, counter *prometheus.CounterVec) (*fetcher, error) {
	ctx, stop := context.WithCancel(context.Background())
	f := &fetcher{issuer: key.issuer, stop: stop, counters: map[*prometheus.CounterVec]int{counter: 1}}
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
	for c := range f.counters {
		c.WithLabelValues(f.issuer, result).Inc()
	}
}

// Destruct stops the background fetches.
func (f *fetcher) Destruct() error {
	f.stop()
	return nil
}
