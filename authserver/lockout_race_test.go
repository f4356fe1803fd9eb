package authserver_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver"
)

// Wrong passwords sent all at once get no more checks than the
// brute-force limits allow: each attempt counts before its password is
// checked, so concurrent attempts cannot all see the count below the
// limit.
func TestConcurrentWrongPasswordsStayWithinTheLockout(t *testing.T) {
	const attempts, limit = 30, 3
	for _, backend := range backends {
		for _, perAccount := range []bool{true, false} {
			name := backend + "/per IP address"
			if perAccount {
				name = backend + "/per account"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newEnvFrom(t, envSetup{postgres: backend == "postgres", configure: func(cfg *authserver.Config) {
					cfg.RateLimits.LoginPerIP = authserver.RateLimitOff
					cfg.BruteForce = authserver.BruteForceProtection{UserAttempts: 1000, IPAttempts: 1000}
					if perAccount {
						cfg.BruteForce.UserAttempts = limit
					} else {
						cfg.BruteForce.IPAttempts = limit
					}
				}})
				fx := e.newSigninFixture(t, nil)
				answers := make([]page, attempts)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range attempts {
					b := e.browser(t)
					login := b.authorize(fx.params())
					email := fx.email
					if !perAccount {
						email = fmt.Sprintf("guess%d@example.com", i)
					}
					wg.Go(func() { <-start; answers[i] = b.login(login, email, "wrong password!") })
				}
				close(start)
				wg.Wait()
				checked := 0
				for i, p := range answers {
					switch {
					case p.status == http.StatusUnauthorized:
						checked++
					case p.status != http.StatusTooManyRequests:
						t.Errorf("attempt %d: %s", i, p)
					}
				}
				if checked > limit {
					t.Errorf("%d of %d concurrent wrong passwords were checked; the limit is %d", checked, attempts, limit)
				}
				// Attempts refused unchecked did not count: one at a time,
				// wrong passwords are checked up to the limit, and then
				// the right one is refused too.
				for i := checked; i < limit; i++ {
					b := e.browser(t)
					if p := b.login(b.authorize(fx.params()), fx.email, "wrong password!"); p.status != http.StatusUnauthorized {
						t.Errorf("wrong password %d of %d, one at a time: %s", i+1, limit, p)
					}
				}
				b := e.browser(t)
				if p := b.login(b.authorize(fx.params()), fx.email, userPassword); p.status != http.StatusTooManyRequests {
					t.Errorf("the right password after the lock-out: %s", p)
				}
			})
		}
	}
}
