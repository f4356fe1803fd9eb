package authserver

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// RateLimits bounds requests per minute. Requests count in fixed
// one-minute windows, each starting at the top of a minute, kept in the
// store, so that every Server on one database shares the counts. A
// request over a limit is answered 429 with Retry-After, the seconds
// until its window ends.
//
// When the store cannot count a request (the database is down), the
// request is let through and a warning logged: the limits fail open, so
// that an outage of the database does not also refuse what the server
// can serve without it. Whatever needs the database fails on its own.
type RateLimits struct {
	// TokenPerIP is how many requests to the token and revocation
	// endpoints one IP address may send in a minute. Default 600.
	TokenPerIP RateLimit
	// TokenPerClient is how many requests to the token and revocation
	// endpoints may name one client_id (in the body or in HTTP Basic
	// credentials) in a minute, whether or not they authenticate, so that
	// guessing a client's secret is bounded too. Default 300.
	TokenPerClient RateLimit
	// LoginPerIP is how many sign-in attempts (submissions of the login
	// page) one IP address may make in a minute. Default 60.
	LoginPerIP RateLimit
}

// RateLimit is a number of requests per minute. 0 takes the default;
// RateLimitOff, or any negative number, turns the limit off.
type RateLimit int

// RateLimitOff turns a rate limit off.
const RateLimitOff RateLimit = -1

func (l *RateLimits) applyDefaults() {
	l.TokenPerIP = l.TokenPerIP.or(600)
	l.TokenPerClient = l.TokenPerClient.or(300)
	l.LoginPerIP = l.LoginPerIP.or(60)
}

func (l RateLimit) or(def RateLimit) RateLimit {
	if l == 0 {
		return def
	}
	return l
}

// ErrTooManyRequests answers a token or revocation request over a rate
// limit. RFC 6749 has no code for it; this one names the HTTP status.
var ErrTooManyRequests = &Error{Code: "too_many_requests", Status: http.StatusTooManyRequests}

// Descriptions of the token endpoint's refusals for a rate limit.
const (
	msgTokenIPLimit     = "Rate limit exceeded: too many requests from your IP address."
	msgTokenClientLimit = "Rate limit exceeded: too many requests for this client."
)

// hitCounter counts hits in memory and adds them to the store's shared
// counts in batches, so that most requests do not wait for a write: a key's
// first hit in a window goes to the store at once, later ones once they
// reach a tenth of its limit (every hit for limits under 20). The store
// answers with the hits of every instance, and in between a key's count is
// that answer plus the hits not yet added. So a limit holds exactly on one
// instance, and n instances together exceed it by less than n tenths of it.
type hitCounter struct {
	mu      sync.Mutex
	windows map[hitKey]*hitCount
	// warned is the window (Unix seconds) of the last warning that hits
	// could not be counted.
	warned atomic.Int64
}

type hitKey struct {
	key    string
	window time.Time
}

type hitCount struct {
	shared  int  // the store's count at the last batch
	pending int  // hits since, not yet in the store
	synced  bool // a batch reached the store
}

// maxCountedKeys bounds the counts kept in memory; past it, the counts of
// windows that have ended are dropped.
const maxCountedKeys = 10000

// count adds a hit to key's window and returns the window's hits as known.
// When the store cannot take the batch, its hits stay pending and the
// error is returned.
func (c *hitCounter) count(ctx context.Context, st storage.HitCounter, key string, window time.Time, limit int) (int, error) {
	c.mu.Lock()
	if c.windows == nil || len(c.windows) >= maxCountedKeys {
		c.dropEnded(window)
	}
	k := hitKey{key, window}
	hc := c.windows[k]
	if hc == nil {
		hc = &hitCount{}
		c.windows[k] = hc
	}
	hc.pending++
	batch := 0
	if !hc.synced || hc.pending >= max(1, limit/10) {
		batch, hc.pending = hc.pending, 0
	}
	known := hc.shared + hc.pending
	c.mu.Unlock()
	if batch == 0 {
		return known, nil
	}
	total, err := st.CountHits(ctx, key, window, batch)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		hc.pending += batch
		return 0, err
	}
	hc.shared, hc.synced = max(hc.shared, total), true
	return hc.shared + hc.pending, nil
}

// dropEnded forgets the counts of windows before current; c.mu is held.
func (c *hitCounter) dropEnded(current time.Time) {
	if c.windows == nil {
		c.windows = make(map[hitKey]*hitCount)
		return
	}
	for k := range c.windows {
		if k.window.Before(current) {
			delete(c.windows, k)
		}
	}
}

// rateWindow is the start of the rate-limit window that holds t.
func rateWindow(t time.Time) time.Time { return t.Truncate(time.Minute) }

// overLimit counts a request under key and, when that makes more than
// limit in the current window, returns the seconds until the window ends
// (at least 1). It returns 0 for a request within the limit, for a limit
// that is off, and when the store cannot count (see RateLimits).
func (s *Server) overLimit(ctx context.Context, key string, limit RateLimit) int {
	if limit < 0 {
		return 0
	}
	now := s.now()
	window := rateWindow(now)
	hits, err := s.hits.count(ctx, s.store, key, window, int(limit))
	if err != nil {
		// At most one line a window, however many requests pass uncounted.
		if last := s.hits.warned.Swap(window.Unix()); last != window.Unix() {
			s.logger.Warn("rate limits not applied: requests could not be counted", zap.Error(err))
		}
		return 0
	}
	if hits <= int(limit) {
		return 0
	}
	left := window.Add(time.Minute).Sub(now)
	return int((left + time.Second - 1) / time.Second)
}

// tooManyRequests is the token endpoint's answer after a limit: it asks
// the client to retry in retryAfter seconds.
func tooManyRequests(description string, retryAfter int) *Error {
	e := ErrTooManyRequests.WithDescription(description)
	e.RetryAfter = retryAfter
	return e
}

// readClientRequest reads a request of the token or revocation endpoint
// under the rate limits: per IP address before the body is read, per
// client_id after.
func (s *Server) readClientRequest(r *http.Request) (tokenRequest, error) {
	ctx := r.Context()
	if retry := s.overLimit(ctx, "token-ip|"+s.clientIP(r), s.rateLimits.TokenPerIP); retry > 0 {
		return nil, tooManyRequests(msgTokenIPLimit, retry)
	}
	req, err := readTokenRequest(r)
	if err != nil {
		return nil, err
	}
	// The client_id is hashed, so that a long one costs no more to count.
	if id := namedClientID(r, req); id != "" {
		if retry := s.overLimit(ctx, "token-client|"+sessions.Key(id), s.rateLimits.TokenPerClient); retry > 0 {
			return nil, tooManyRequests(msgTokenClientLimit, retry)
		}
	}
	return req, nil
}

// namedClientID is the client_id a request names: the user name of its
// HTTP Basic credentials, or else the client_id of its body. Whether the
// two agree is authenticateClient's to check.
func namedClientID(r *http.Request, req tokenRequest) string {
	if user, _, ok := r.BasicAuth(); ok {
		if id, err := url.QueryUnescape(user); err == nil {
			return id
		}
	}
	return req["client_id"]
}
