// Package remoteissuer keeps the signing keys of a remote OAuth 2.0 or
// OpenID Connect issuer (another Portcullis, an Auth0 tenant, Keycloak) so
// that a tokens.Verifier can check that issuer's access tokens locally:
//
//	iss, err := remoteissuer.New(ctx, remoteissuer.Config{Issuer: "https://tenant.eu.auth0.com/"})
//	if err != nil {
//		return err
//	}
//	v := &tokens.Verifier{Issuer: "https://tenant.eu.auth0.com/", Keys: iss}
//
// New returns at once. In the background, the Issuer reads the issuer's
// discovery document, fetches the JSON Web Key Set its jwks_uri names, and
// refreshes that set periodically and whenever a token names a key it does
// not know. Discovery succeeds once: the jwks_uri is kept for the Issuer's
// life. The Issuer never serves anything but the last good key set: a
// failed or unusable fetch leaves the keys as they were.
//
// Of Portcullis it imports only authserver/tokens (the key source a
// Verifier reads) and internal/issuerurl.
package remoteissuer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/internal/issuerurl"
)

// DefaultUnknownKIDInterval is Config.UnknownKIDInterval when it is 0.
const DefaultUnknownKIDInterval = 5 * time.Second

const (
	defaultRefreshInterval = 5 * time.Minute
	// requestTimeout bounds every HTTP request, whatever the client.
	requestTimeout = 10 * time.Second
	// maxResponseSize bounds every response body, in bytes.
	maxResponseSize = 1 << 20
	// Retries after a failed fetch start at firstRetry and double up to
	// maxRetry; neither exceeds the refresh interval.
	firstRetry = time.Second
	maxRetry   = time.Minute
	// A Cache-Control max-age on the key set is clamped to this range.
	minMaxAge = time.Minute
	maxMaxAge = 24 * time.Hour
)

// Config describes one remote issuer.
type Config struct {
	// Issuer is the issuer identifier, exactly as the issuer's tokens carry
	// it in iss and as its discovery document states it, trailing slash
	// included (Auth0 and Portcullis issuers end with one). It must be an
	// absolute https URL without query or fragment; http is allowed only
	// to localhost, 127.0.0.0/8 or ::1. The discovery
	// document is read from Issuer, without its trailing slash, followed by
	// /.well-known/openid-configuration. Required.
	Issuer string

	// HTTPClient makes the requests to the issuer. Each request is also
	// bounded to 10 seconds and each response body to 1 MiB whatever the
	// client. Default: a client with a 10 second timeout over
	// http.DefaultTransport (never http.DefaultClient).
	HTTPClient *http.Client

	// RefreshInterval is the time between two background fetches of the key
	// set. When the key set response carries Cache-Control max-age, that
	// value is used instead, clamped to between 1 minute and 24 hours.
	// While fetches fail they are retried sooner: after 1 second, doubling
	// up to 1 minute, and never later than RefreshInterval. Default: 5
	// minutes.
	RefreshInterval time.Duration

	// UnknownKIDInterval is the least time between two fetches caused by
	// tokens naming a key the Issuer does not have (RefreshForKID). The first
	// such fetch after start, or after this long without one, happens at
	// once; tokens with unknown keys in between are refused without a fetch,
	// so they cannot make the Issuer hammer the issuer. Default: 5 seconds.
	UnknownKIDInterval time.Duration

	// Logger receives failed fetches, changes of the key set and keys
	// that were dropped as unusable; SetLogger replaces it. Default: no
	// logging.
	Logger *zap.Logger

	// OnFetch, when set, is called after every attempt to fetch the key set
	// (including the discovery it needed), with whether a usable key set
	// was obtained; attempts cut short because the Issuer is stopping are
	// not reported. Calls come from background goroutines but never
	// overlap; the first call with ok true comes just before Ready is
	// closed. Default: none.
	OnFetch func(ok bool)

	// Now tells the time by which UnknownKIDInterval is measured (the
	// background refreshes wait on timers). Default: time.Now.
	Now func() time.Time
}

// Issuer holds the public signing keys of one remote issuer and keeps
// them fresh. It implements tokens.KeyRefresher. Its methods are safe for
// concurrent use.
type Issuer struct {
	issuer       string
	discoveryURL string
	client       *http.Client
	refresh      time.Duration
	unknownKID   time.Duration
	logger       atomic.Pointer[zap.Logger]
	onFetch      func(bool)
	now          func() time.Time

	// ctx is the lifetime given to New; it scopes every fetch, because a
	// fetch is shared and so belongs to no single caller.
	ctx context.Context

	keys      atomic.Pointer[jwk.Set]
	ready     chan struct{}
	readyOnce sync.Once

	mu sync.Mutex
	// inflight is the fetch running now, if any.
	inflight *fetchCall
	// lastKIDFetch is when the last fetch caused by an unknown kid began.
	lastKIDFetch time.Time

	// jwksURI and kids are only touched by fetch, and fetches never overlap.
	jwksURI string
	kids    []string
}

// fetchCall is one fetch, shared by everyone who waits for it. err and
// next are set before done is closed.
type fetchCall struct {
	done chan struct{}
	err  error
	// next is when the key set should be fetched again after a success.
	next time.Duration
}

// New checks cfg and returns an Issuer at once, without network I/O; it
// has no keys until its first successful fetch (see Ready). A goroutine
// fetches and refreshes the keys until ctx is cancelled.
func New(ctx context.Context, cfg Config) (*Issuer, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("issuer is required")
	}
	u, err := issuerurl.Parse(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("issuer %q: %w", cfg.Issuer, err)
	}
	if u.RawQuery != "" || u.ForceQuery || strings.Contains(cfg.Issuer, "#") {
		return nil, fmt.Errorf("issuer %q: must not have a query or fragment", cfg.Issuer)
	}
	if cfg.RefreshInterval < 0 || cfg.UnknownKIDInterval < 0 {
		return nil, fmt.Errorf("issuer %q: intervals must not be negative", cfg.Issuer)
	}
	is := &Issuer{
		issuer:       cfg.Issuer,
		discoveryURL: strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/openid-configuration",
		client:       cfg.HTTPClient,
		refresh:      cfg.RefreshInterval,
		unknownKID:   cfg.UnknownKIDInterval,
		onFetch:      cfg.OnFetch,
		now:          cfg.Now,
		ctx:          ctx,
		ready:        make(chan struct{}),
	}
	if is.client == nil {
		is.client = &http.Client{Timeout: requestTimeout}
	}
	is.client = checkingRedirects(is.client)
	if is.refresh == 0 {
		is.refresh = defaultRefreshInterval
	}
	if is.unknownKID == 0 {
		is.unknownKID = DefaultUnknownKIDInterval
	}
	if is.now == nil {
		is.now = time.Now
	}
	is.SetLogger(cfg.Logger)
	empty := jwk.NewSet()
	is.keys.Store(&empty)
	go is.run()
	return is, nil
}

// SetLogger makes l receive what the Issuer logs from now on (nil: no
// logging), as Config.Logger does.
func (is *Issuer) SetLogger(l *zap.Logger) {
	if l == nil {
		l = zap.NewNop()
	}
	is.logger.Store(l.With(zap.String("issuer", is.issuer)))
}

// PublicKeys returns the last good key set: the usable keys of the
// issuer's latest successful fetch. Usable keys are public RSA keys of at
// least 2048 bits with alg RS256 or PS256, and public EC P-256 keys with
// alg ES256, each with a kid not used by an earlier key of the set, and a
// use of sig or none. Other keys are dropped and logged; private and
// symmetric keys with a warning, since the issuer should never publish
// them. Before the first success the set is empty. PublicKeys never
// blocks. Callers must not modify the set.
func (is *Issuer) PublicKeys() jwk.Set { return *is.keys.Load() }

// Ready returns a channel that is closed after the first successful fetch of
// the key set.
func (is *Issuer) Ready() <-chan struct{} { return is.ready }

// RefreshForKID fetches the key set now, so that a key the issuer has
// just rotated in can be found, and returns when the fetch is done or ctx
// is, whichever comes first. It returns at once when kid is already known,
// when the Issuer has stopped, or when the last fetch caused by an unknown
// kid began less than UnknownKIDInterval ago. Concurrent callers share one
// fetch, and join a background refresh that is already running.
func (is *Issuer) RefreshForKID(ctx context.Context, kid string) {
	if kid == "" || is.ctx.Err() != nil {
		return
	}
	if _, ok := is.PublicKeys().LookupKeyID(kid); ok {
		return
	}
	c := is.start(true)
	if c == nil {
		if ce := is.logger.Load().Check(zap.DebugLevel, "unknown kid; key set fetched too recently to fetch again"); ce != nil {
			ce.Write(zap.String("kid", kid))
		}
		return
	}
	select {
	case <-c.done:
	case <-ctx.Done():
	}
}

// start returns the fetch in flight, or starts one. For an unknown kid it
// returns nil when such a fetch began less than UnknownKIDInterval ago.
func (is *Issuer) start(forKID bool) *fetchCall {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.inflight != nil {
		return is.inflight
	}
	if forKID {
		now := is.now()
		if now.Sub(is.lastKIDFetch) < is.unknownKID {
			return nil
		}
		is.lastKIDFetch = now
	}
	c := &fetchCall{done: make(chan struct{})}
	is.inflight = c
	go is.do(c)
	return c
}

// do runs fetch c, reports it, and lets its waiters go.
func (is *Issuer) do(c *fetchCall) {
	c.next, c.err = is.fetch(is.ctx)
	if c.err == nil || is.ctx.Err() == nil {
		if c.err != nil {
			is.logger.Load().Warn("fetching the issuer's keys failed; keeping the last good keys", zap.Error(c.err))
		}
		if is.onFetch != nil {
			is.onFetch(c.err == nil)
		}
	}
	is.mu.Lock()
	is.inflight = nil
	is.mu.Unlock()
	// Ready is closed only once the call is over, so that a RefreshForKID
	// after Ready starts a fetch of its own rather than joining this one.
	if c.err == nil {
		is.readyOnce.Do(func() { close(is.ready) })
	}
	close(c.done)
}

// run fetches the keys until the Issuer's context ends: after a success,
// again when the refresh interval is over; after a failure, with backoff.
func (is *Issuer) run() {
	retry := is.backoff(0)
	for is.ctx.Err() == nil {
		c := is.start(false)
		var wait time.Duration
		select {
		case <-c.done:
		case <-is.ctx.Done():
			return
		}
		if c.err != nil {
			wait = retry
			retry = is.backoff(retry)
		} else {
			wait = c.next
			retry = is.backoff(0)
		}
		select {
		case <-time.After(wait):
		case <-is.ctx.Done():
			return
		}
	}
}

// backoff returns the wait before the next retry, given the last one (0
// after a success).
func (is *Issuer) backoff(last time.Duration) time.Duration {
	limit := min(maxRetry, is.refresh)
	if last == 0 {
		return min(firstRetry, limit)
	}
	return min(2*last, limit)
}

var _ tokens.KeyRefresher = (*Issuer)(nil)

// checkingRedirects returns a copy of c that follows a redirect only to a
// URL issuerurl.Parse accepts, at every hop: a plain-http hop to another
// host would let whoever is on its path send the fetch on to keys of
// their choosing. c's own redirect policy (by default, at most 10) still
// applies.
func checkingRedirects(c *http.Client) *http.Client {
	checked := *c
	next := c.CheckRedirect
	checked.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if _, err := issuerurl.Parse(req.URL.String()); err != nil {
			return fmt.Errorf("redirected to %s: %w", req.URL, err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &checked
}
