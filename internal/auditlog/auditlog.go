// Package auditlog takes log entries off the request path: a Sink holds
// them in a bounded buffer and writes them in batches from one goroutine.
// Adding an entry never blocks on the writing; when the buffer is full the
// entry is dropped and counted, and the next batch reports how many were
// dropped. Close writes what the buffer holds; an entry added after Close
// (a request still finishing on a server being shut down) is written at
// once, so that closing loses nothing.
//
// It imports zap and nothing of Portcullis.
package auditlog

import (
	"sync"
	"time"

	"go.uber.org/zap"
)

// MinInterval is the shortest Interval: shorter ones would keep a CPU
// busy waking the writer for nothing.
const MinInterval = 10 * time.Millisecond

// initialCapacity is how many entries the buffers hold before they first
// grow: a Sink sized for bursts costs little while its traffic is light.
const initialCapacity = 64

// Config says how a Sink buffers and writes.
type Config[T any] struct {
	// Size is how many entries the buffer holds; past it, entries are
	// dropped. At least 2.
	Size int
	// Interval is the longest an entry waits in the buffer before it is
	// written, unless the buffer fills sooner. At least MinInterval.
	Interval time.Duration
	// Write writes a batch, in the order the entries were added. It is
	// called by one goroutine at a time and must not keep the slice.
	Write func(batch []T)
	// Logger, when set, gets a warning after a batch when entries were
	// dropped since the previous one, with how many ("dropped") and what
	// Name says they were.
	Logger *zap.Logger
	// Name names the entries in the warning, such as "decision log lines".
	Name string
	// Dropped, when set, is told after a batch how many entries were
	// dropped since the previous report, when any were: for a metric.
	Dropped func(n uint64)
}

// Sink is a bounded asynchronous writer of entries. Its methods are safe
// for concurrent use.
type Sink[T any] struct {
	cfg Config[T]

	writing sync.Mutex // held while Write runs

	mu      sync.Mutex
	buf     []T
	closed  bool
	dropped uint64 // since New
	flushes []chan struct{}

	wake    chan struct{} // the buffer is half full, or a Flush waits
	stop    chan struct{}
	done    chan struct{}
	closing sync.Once
}

// New starts a Sink. Close it to write what it holds and stop its
// goroutine.
func New[T any](cfg Config[T]) *Sink[T] {
	if cfg.Size < 2 {
		panic("auditlog: Size must be at least 2")
	}
	if cfg.Interval < MinInterval {
		panic("auditlog: Interval must be at least MinInterval")
	}
	s := &Sink[T]{
		cfg:  cfg,
		buf:  make([]T, 0, min(cfg.Size, initialCapacity)),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go s.run()
	return s
}

// Add queues e to be written and reports whether it was: false when the
// buffer is full, and e is counted as dropped. It never blocks on the
// writing, but after Close, when it writes e itself before it returns.
func (s *Sink[T]) Add(e T) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.write([]T{e})
		return true
	}
	if len(s.buf) == s.cfg.Size {
		s.dropped++
		s.mu.Unlock()
		return false
	}
	s.buf = append(s.buf, e)
	half := len(s.buf) == s.cfg.Size/2
	s.mu.Unlock()
	if half {
		s.signal()
	}
	return true
}

// Dropped is how many entries were dropped since New.
func (s *Sink[T]) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Flush returns once every entry added before it was called is written.
// After Close it returns at once.
func (s *Sink[T]) Flush() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return
	}
	ack := make(chan struct{})
	s.flushes = append(s.flushes, ack)
	s.mu.Unlock()
	s.signal()
	<-ack
}

// Close writes every entry added before it and returns once the writing
// goroutine has stopped; from then on, Add writes each entry itself. Later
// calls wait for the first one.
func (s *Sink[T]) Close() {
	s.closing.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
	})
	<-s.done
}

// write writes a batch, one writer at a time.
func (s *Sink[T]) write(batch []T) {
	s.writing.Lock()
	defer s.writing.Unlock()
	s.cfg.Write(batch)
}

func (s *Sink[T]) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run writes batches until Close, then writes the last one.
func (s *Sink[T]) run() {
	defer close(s.done)
	ticker := time.NewTicker(s.cfg.Interval)
	defer ticker.Stop()
	spare := make([]T, 0, min(s.cfg.Size, initialCapacity))
	var reported uint64
	for {
		select {
		case <-ticker.C:
		case <-s.wake:
		case <-s.stop:
			s.writeBatch(&spare, &reported)
			return
		}
		s.writeBatch(&spare, &reported)
	}
}

// writeBatch swaps the buffer for spare, writes what it held, reports the
// drops since the last report (those while it wrote included) and answers the flushes that were waiting when it swapped.
func (s *Sink[T]) writeBatch(spare *[]T, reported *uint64) {
	s.mu.Lock()
	batch := s.buf
	s.buf = (*spare)[:0]
	flushes := s.flushes
	s.flushes = nil
	s.mu.Unlock()
	if len(batch) > 0 {
		s.write(batch)
	}
	clear(batch) // let the entries' memory go
	*spare = batch[:0]
	s.mu.Lock()
	dropped := s.dropped
	s.mu.Unlock()
	if n := dropped - *reported; n > 0 {
		if s.cfg.Logger != nil {
			s.cfg.Logger.Warn("buffer full: "+s.cfg.Name+" dropped", zap.Uint64("dropped", n), zap.Uint64("dropped_total", dropped))
		}
		if s.cfg.Dropped != nil {
			s.cfg.Dropped(n)
		}
	}
	*reported = dropped
	for _, ack := range flushes {
		close(ack)
	}
}
