package authserver

import (
	"container/list"
	"context"
	"sync"
)

// slots bounds how many requests do their work at once, granting places in
// arrival order. The token endpoint holds one while it authenticates the
// client and signs, with as many slots as GOMAXPROCS: under saturation,
// signing then cannot take every CPU from accepting connections and
// writing responses, and requests wait their turn instead of racing for
// the CPUs, so that the slowest stay close to the median.
type slots struct {
	mu   sync.Mutex
	free int
	// waiting holds, in arrival order, a channel per waiter, closed when
	// the waiter is given a slot.
	waiting list.List
	// queued, when set (by tests), is called once a waiter is in the queue.
	queued func()
}

func newSlots(n int) *slots {
	return &slots{free: n}
}

// acquire takes a slot, waiting behind earlier callers for one to be
// released. If ctx ends first, the caller leaves the queue without a slot
// and acquire returns ctx's error.
func (s *slots) acquire(ctx context.Context) error {
	s.mu.Lock()
	if s.free > 0 && s.waiting.Len() == 0 {
		s.free--
		s.mu.Unlock()
		return nil
	}
	granted := make(chan struct{})
	e := s.waiting.PushBack(granted)
	queued := s.queued
	s.mu.Unlock()
	if queued != nil {
		queued()
	}
	select {
	case <-granted:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	select {
	case <-granted:
		// Given a slot as ctx ended: it goes to the next waiter.
		s.mu.Unlock()
		s.release()
	default:
		s.waiting.Remove(e)
		s.mu.Unlock()
	}
	return ctx.Err()
}

// release returns a slot taken by acquire, to the longest waiter if any.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if first := s.waiting.Front(); first != nil {
		s.waiting.Remove(first)
		close(first.Value.(chan struct{}))
		return
	}
	s.free++
}
