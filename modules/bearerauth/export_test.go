package bearerauth

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"
)

// clockShift is how far the handlers' clock runs ahead of time.Now.
var clockShift atomic.Int64

func init() {
	clock = func() time.Time { return time.Now().Add(time.Duration(clockShift.Load())) }
}

// ShiftClock moves the clock of every bearer_auth handler by d: tokens
// (and cached tokens) are judged as if d had passed.
func ShiftClock(d time.Duration) {
	clockShift.Add(int64(d))
}

// PollPolicy makes the watcher of the policy directory dir check it now,
// and returns when the check is done: a change is then in force, or its
// failure logged.
func PollPolicy(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	select {
	case policyPolls(dir) <- done:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("no watcher of the policy directory %s took the poll within 30s", dir)
	}
	<-done
	return nil
}
