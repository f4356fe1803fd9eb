package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/storage"
)

func testChangeVersion(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	v0, err := s.ChangeVersion(ctx)
	must(t, err, "ChangeVersion")
	must(t, s.MarkChanged(ctx), "MarkChanged")
	must(t, s.MarkChanged(ctx), "MarkChanged again")
	v2, err := s.ChangeVersion(ctx)
	must(t, err, "ChangeVersion after two changes")
	if v2 != v0+2 {
		t.Errorf("ChangeVersion = %d after two changes from %d", v2, v0)
	}
	// A change in a discarded transaction is not counted.
	_ = s.Atomically(ctx, func(tx storage.Store) error {
		must(t, tx.MarkChanged(ctx), "MarkChanged in a transaction")
		return errBoom
	})
	if v, err := s.ChangeVersion(ctx); err != nil || v != v2 {
		t.Errorf("ChangeVersion after a rolled back change = %d, %v; want %d", v, err, v2)
	}
}

func testCountHits(t *testing.T, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	s := open(t)
	w1 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	w2 := w1.Add(time.Minute)
	for i := 1; i <= 3; i++ {
		n, err := s.CountHits(ctx, "ip|192.0.2.1", w1, 1)
		must(t, err, "CountHit")
		if n != i {
			t.Errorf("hit %d of a window counts %d", i, n)
		}
	}
	if n, err := s.CountHits(ctx, "ip|192.0.2.1", w2, 1); err != nil || n != 1 {
		t.Errorf("the next window starts at 1: %d, %v", n, err)
	}
	if n, err := s.CountHits(ctx, "ip|192.0.2.2", w1, 1); err != nil || n != 1 {
		t.Errorf("another key starts at 1: %d, %v", n, err)
	}
	// Several hits at once.
	if n, err := s.CountHits(ctx, "ip|192.0.2.2", w1, 5); err != nil || n != 6 {
		t.Errorf("5 more hits make %d, %v; want 6", n, err)
	}
	// Concurrent hits are each counted once.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.CountHits(ctx, "client|c1", w1, 1); err != nil {
				t.Errorf("concurrent CountHit: %v", err)
			}
		})
	}
	wg.Wait()
	if n, err := s.CountHits(ctx, "client|c1", w1, 1); err != nil || n != 21 {
		t.Errorf("after 20 concurrent hits, the next counts %d, %v; want 21", n, err)
	}
	// Purging forgets old windows.
	must(t, s.PurgeExpired(ctx, w2, w2), "PurgeExpired")
	if n, err := s.CountHits(ctx, "ip|192.0.2.1", w1, 1); err != nil || n != 1 {
		t.Errorf("a purged window starts again at 1: %d, %v", n, err)
	}
	if n, err := s.CountHits(ctx, "ip|192.0.2.1", w2, 1); err != nil || n != 2 {
		t.Errorf("a window not purged keeps its count: %d, %v", n, err)
	}
}
