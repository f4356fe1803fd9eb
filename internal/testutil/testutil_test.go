package testutil_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/internal/testutil"
)

// TestEventually waits for a condition that turns true on the third poll.
func TestEventually(t *testing.T) {
	var polls atomic.Int32
	testutil.Eventually(t, 10*time.Second, "the third poll", func() bool { return polls.Add(1) >= 3 })
	if n := polls.Load(); n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}
}

// failRecorder records a failure instead of ending the test.
type failRecorder struct {
	testing.TB
	failed string
}

func (f *failRecorder) Fatalf(format string, args ...any) { f.failed = format }
func (f *failRecorder) Fatal(args ...any)                 { f.failed = "fatal" }
func (f *failRecorder) Helper()                           {}

// TestEventuallyFails fails the test when the condition stays false.
func TestEventuallyFails(t *testing.T) {
	f := &failRecorder{TB: t}
	// The recorded failure does not end Eventually's loop: the condition
	// ends it then, or after a while if Eventually never fails.
	giveUp := time.Now().Add(5 * time.Second)
	testutil.Eventually(f, 100*time.Millisecond, "never", func() bool { return f.failed != "" || time.Now().After(giveUp) })
	if f.failed == "" {
		t.Error("Eventually returned without the condition and without failing")
	}
}
