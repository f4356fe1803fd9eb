package auditlog

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// recorder collects the batches a Sink writes.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	gate    chan struct{} // when set, each Write waits for a receive from it
}

func (r *recorder) write(batch []int) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, slices.Clone(batch))
}

func (r *recorder) written() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

func (r *recorder) all() []int {
	return slices.Concat(r.written()...)
}

func count(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestBatchesOnInterval: entries wait for the interval, then go out in one
// batch, in order; nothing is written while the buffer is idle.
func TestBatchesOnInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		s := New(Config[int]{Size: 100, Interval: time.Second, Write: rec.write})
		defer s.Close()
		for i := range 3 {
			s.Add(i)
		}
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if got := rec.written(); len(got) != 0 {
			t.Fatalf("written before the interval: %v", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := rec.written(); len(got) != 1 || !slices.Equal(got[0], []int{0, 1, 2}) {
			t.Fatalf("after one interval: batches %v, want [[0 1 2]]", got)
		}
		s.Add(3)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := rec.written(); len(got) != 2 || !slices.Equal(got[1], []int{3}) {
			t.Fatalf("after more intervals: batches %v, want [[0 1 2] [3]] (no empty batches)", got)
		}
	})
}

// TestBatchesWhenHalfFull: a buffer half full is written without waiting
// for the interval.
func TestBatchesWhenHalfFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		s := New(Config[int]{Size: 10, Interval: time.Hour, Write: rec.write})
		defer s.Close()
		for i := range 4 {
			s.Add(i)
		}
		synctest.Wait()
		if got := rec.written(); len(got) != 0 {
			t.Fatalf("written below half full: %v", got)
		}
		s.Add(4)
		synctest.Wait()
		if got := rec.written(); len(got) != 1 || !slices.Equal(got[0], count(5)) {
			t.Fatalf("at half full: batches %v, want [[0 1 2 3 4]]", got)
		}
	})
}

// TestFlush: Flush returns once what was added is written, without the
// interval passing.
func TestFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		s := New(Config[int]{Size: 100, Interval: time.Hour, Write: rec.write})
		defer s.Close()
		s.Add(7)
		s.Add(8)
		start := time.Now()
		s.Flush()
		if got := rec.all(); !slices.Equal(got, []int{7, 8}) {
			t.Fatalf("after Flush: %v, want [7 8]", got)
		}
		if !time.Now().Equal(start) {
			t.Errorf("Flush waited for the clock")
		}
		s.Flush() // nothing to write: returns all the same
	})
}

// TestCloseLosesNothing: Close writes everything added before it, Add
// writes what comes after at once, and Close may be called again.
func TestCloseLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		s := New(Config[int]{Size: 1000, Interval: time.Hour, Write: rec.write})
		for i := range 400 {
			if !s.Add(i) {
				t.Fatalf("Add(%d) refused below the size", i)
			}
		}
		s.Close()
		if got := rec.all(); !slices.Equal(got, count(400)) {
			t.Fatalf("after Close: %d entries written, want 0..399 in order", len(got))
		}
		if !s.Add(400) {
			t.Errorf("Add after Close refused")
		}
		if got := rec.written(); len(got) != 2 || !slices.Equal(got[1], []int{400}) {
			t.Errorf("Add after Close did not write its entry at once: last batches %v", got[len(got)-1:])
		}
		if d := s.Dropped(); d != 0 {
			t.Errorf("Dropped() = %d, want 0", d)
		}
		s.Close()
		s.Flush()
	})
}

// TestDropsWhenFull: while the writer is stuck, the buffer fills; Add then
// refuses without blocking and counts, and the next batch reports the
// count to the logger and the callback.
func TestDropsWhenFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{gate: make(chan struct{})}
		core, logs := observer.New(zapcore.WarnLevel)
		var reported []uint64
		s := New(Config[int]{Size: 4, Interval: time.Hour, Write: rec.write,
			Logger: zap.New(core), Name: "test lines", Dropped: func(n uint64) { reported = append(reported, n) }})
		s.Add(0)
		s.Add(1) // half full: the writer takes [0 1] and waits at the gate
		synctest.Wait()
		for i := 2; i < 6; i++ {
			if !s.Add(i) {
				t.Fatalf("Add(%d) refused with room in the buffer", i)
			}
		}
		for i := 6; i < 9; i++ {
			if s.Add(i) {
				t.Fatalf("Add(%d) accepted with the buffer full", i)
			}
		}
		if d := s.Dropped(); d != 3 {
			t.Fatalf("Dropped() = %d, want 3", d)
		}
		rec.gate <- struct{}{} // [0 1] written; drops reported
		synctest.Wait()
		if !slices.Equal(reported, []uint64{3}) {
			t.Errorf("Dropped callback got %v, want [3]", reported)
		}
		entries := logs.FilterMessage("buffer full: test lines dropped").All()
		if len(entries) != 1 || entries[0].ContextMap()["dropped"] != uint64(3) || entries[0].ContextMap()["dropped_total"] != uint64(3) {
			t.Errorf("warnings %v, want one with dropped=3", logs.All())
		}
		close(rec.gate) // the writer waits no more
		s.Close()
		if got := rec.all(); !slices.Equal(got, count(6)) {
			t.Errorf("written %v, want 0..5", got)
		}
		if len(reported) != 1 {
			t.Errorf("drops reported again with none new: %v", reported)
		}
	})
}

// TestConcurrentProducers: entries from many goroutines, with flushes in
// between, are each written once or counted as dropped (run with -race).
func TestConcurrentProducers(t *testing.T) {
	const producers, each = 8, 2000
	rec := &recorder{}
	var reported uint64
	var mu sync.Mutex
	s := New(Config[int]{Size: 256, Interval: MinInterval, Write: rec.write,
		Dropped: func(n uint64) { mu.Lock(); reported += n; mu.Unlock() }})
	var wg sync.WaitGroup
	accepted := make([]int, producers)
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				if s.Add(p*each + i) {
					accepted[p]++
				}
				if i%500 == 0 {
					s.Flush()
				}
			}
		})
	}
	wg.Wait()
	s.Close()
	got := rec.all()
	seen := make(map[int]bool, len(got))
	for _, v := range got {
		if seen[v] {
			t.Fatalf("entry %d written twice", v)
		}
		seen[v] = true
	}
	total := 0
	for _, n := range accepted {
		total += n
	}
	if len(got) != total {
		t.Errorf("written %d, accepted %d", len(got), total)
	}
	if d := s.Dropped(); uint64(total)+d != producers*each || reported != d {
		t.Errorf("accepted %d + dropped %d (reported %d) != %d added", total, d, reported, producers*each)
	}
}

// TestStartsSmall: a Sink sized for bursts does not hold its whole buffer
// from the start; it grows with the entries up to Size, and loses none of
// them.
func TestStartsSmall(t *testing.T) {
	const size = 1 << 16
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rec := &recorder{gate: make(chan struct{})}
	s := New(Config[int]{Size: size, Interval: time.Hour, Write: rec.write})
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
		t.Errorf("New took %d bytes for a buffer of %d entries, want at most 64 KiB up front", grew, size)
	}
	// The first batch's write waits on the gate: the buffer fills up.
	accepted := 0
	for s.Add(accepted) {
		accepted++
	}
	if accepted < size || accepted > 2*size {
		t.Errorf("%d entries accepted before one was dropped, want Size (%d) in the buffer and at most one batch being written", accepted, size)
	}
	close(rec.gate)
	s.Close()
	if got := rec.all(); !slices.Equal(got, count(accepted)) {
		t.Errorf("written %d entries, want the %d accepted, in order", len(got), accepted)
	}
}

// TestIntervalTooShort: New refuses an interval below MinInterval, which
// would keep a CPU busy waking the writer.
func TestIntervalTooShort(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted a 1ns interval")
		}
	}()
	New(Config[int]{Size: 2, Interval: time.Nanosecond, Write: func([]int) {}})
}
