package bounded

import (
	"sync"
	"testing"
)

func TestMap(t *testing.T) {
	m := New[int, string](3)
	for i := range 10 {
		m.Put(i, "v")
		if m.Len() > 3 {
			t.Fatalf("%d entries after %d puts, want at most 3", m.Len(), i+1)
		}
	}
	if _, ok := m.Get(9); !ok {
		t.Fatal("the last entry put is missing")
	}
	m.Put(9, "w") // replacing does not evict
	if v, _ := m.Get(9); v != "w" || m.Len() != 3 {
		t.Fatalf("after replacing: %q, %d entries", v, m.Len())
	}
	m.Delete(9)
	if _, ok := m.Get(9); ok {
		t.Fatal("deleted entry still there")
	}
	off := New[int, int](0)
	off.Put(1, 1)
	if off.Len() != 0 {
		t.Fatal("a size-0 map stored an entry")
	}
}

func TestMapConcurrent(t *testing.T) {
	m := New[int, int](100)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				m.Put(g*1000+i, i)
				m.Get(i)
			}
		})
	}
	wg.Wait()
	if m.Len() > 100 {
		t.Fatalf("%d entries, want at most 100", m.Len())
	}
}
