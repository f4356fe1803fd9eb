// Package testutil holds helpers that tests of several packages share.
//
// It imports nothing of Portcullis.
package testutil

import (
	"testing"
	"time"
)

// Eventually polls ok every 50ms until it reports true, and fails the test
// with what if that does not happen within bound. It is for conditions that
// another process or goroutine brings about, not for ordering the test's
// own events.
func Eventually(t testing.TB, bound time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
