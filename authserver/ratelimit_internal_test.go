package authserver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
)

// Counting in batches: one instance counts exactly; two instances on one
// store see each other's hits within a tenth of the limit each; and most
// hits do not write.
func TestHitCounterBatches(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "hits.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	window := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var a, b hitCounter
	const limit = 100
	for i := 1; i <= 55; i++ {
		n, err := a.count(ctx, st, "k", window, limit)
		if err != nil || n != i {
			t.Fatalf("hit %d on A counts %d, %v", i, n, err)
		}
	}
	// A wrote its first hit and five batches of ten: 51 hits stored.
	stored, err := st.CountHits(ctx, "k", window, 0)
	if err != nil || stored != 51 {
		t.Errorf("the store holds %d hits (%v), want 51 (the first and five batches of 10)", stored, err)
	}
	// B's first hit goes to the store and learns A's.
	if n, err := b.count(ctx, st, "k", window, limit); err != nil || n != 52 {
		t.Errorf("B's first hit counts %d, %v; want 52", n, err)
	}
	// Small limits count every hit, so they hold exactly across instances.
	for i, c := range []*hitCounter{&a, &b, &a, &b} {
		if n, _ := c.count(ctx, st, "small", window, 3); n != i+1 {
			t.Errorf("hit %d of a limit of 3, alternating instances, counts %d", i+1, n)
		}
	}
}
