package authserver_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"
)

// reuseRounds is how many times the concurrency tests race their requests:
// enough to catch a lost race that shows one time in a few.
const reuseRounds = 30

// postAtOnce sends the same form to path n times at once and returns the
// replies.
func (e *env) postAtOnce(t *testing.T, n int, path string, kv ...string) []reply {
	t.Helper()
	requests := make([]*http.Request, n)
	for i := range requests {
		requests[i] = e.formRequest(t, path, nil, kv...)
	}
	replies := make([]reply, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range requests {
		wg.Go(func() {
			<-start
			replies[i], errs[i] = roundTrip(e.ts.Client(), r)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return replies
}

// wantErrorCode checks that r is an RFC 6749 error with status and code,
// whatever its description.
func wantErrorCode(t *testing.T, r reply, status int, code string) {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	r.decode(t, &body)
	if r.status != status || body.Error != code {
		// Not r itself: a success would show its tokens.
		t.Errorf("got %d %q, want %d %s", r.status, body.Error, status, code)
	}
}

// TestConcurrentRefreshReuse: requests that use one rotating refresh token
// (leeway 0) at once are reuse. At most one gets a successor; the others
// are 400 invalid_grant, never a 500; and afterwards no token of the
// family refreshes, the successor included (RFC 9700 section 4.14.2).
func TestConcurrentRefreshReuse(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, e *env) {
		f := newFlowsOn(t, e)
		for round := range reuseRounds {
			rt := wantTokens(t, f.exchange(t, f.code(t, nil))).RefreshToken
			var successors []string
			for _, r := range e.postAtOnce(t, 3, "oauth/token", refreshForm(f.spa, rt)...) {
				if r.status == http.StatusOK {
					successors = append(successors, wantTokens(t, r).RefreshToken)
					continue
				}
				wantErrorCode(t, r, http.StatusBadRequest, "invalid_grant")
			}
			if len(successors) > 1 {
				t.Errorf("round %d: %d concurrent uses of one token got a successor, want at most 1", round, len(successors))
			}
			for _, token := range append(successors, rt) {
				wantErrorCode(t, f.refresh(t, f.spa, token), http.StatusBadRequest, "invalid_grant")
			}
			if t.Failed() {
				t.Fatalf("round %d failed", round)
			}
		}
	})
}

// TestConcurrentCodeExchange: two exchanges of one code at once are a
// replay. At most one gets tokens; the other is 400 invalid_grant; and
// afterwards no refresh token from either exchange is usable (RFC 6749
// section 4.1.2).
func TestConcurrentCodeExchange(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, e *env) {
		f := newFlowsOn(t, e)
		for round := range reuseRounds {
			code := f.code(t, nil)
			var issued []string
			for _, r := range e.postAtOnce(t, 2, "oauth/token", f.exchangeForm(code)...) {
				if r.status == http.StatusOK {
					issued = append(issued, wantTokens(t, r).RefreshToken)
					continue
				}
				wantErrorCode(t, r, http.StatusBadRequest, "invalid_grant")
			}
			if len(issued) > 1 {
				t.Errorf("round %d: both exchanges of one code got tokens", round)
			}
			for _, rt := range issued {
				wantErrorCode(t, f.refresh(t, f.spa, rt), http.StatusBadRequest, "invalid_grant")
			}
			if t.Failed() {
				t.Fatalf("round %d failed", round)
			}
		}
	})
}
