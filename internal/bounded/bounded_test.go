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

// A full map evicts an entry not read since the clock hand last passed
// it: entries read between puts stay while new keys stream through.
func TestMapKeepsReadEntries(t *testing.T) {
	m := New[int, int](10)
	for i := range 10 {
		m.Put(i, i)
	}
	hot := []int{0, 3, 9}
	for i := 10; i < 1000; i++ {
		for _, k := range hot {
			if v, ok := m.Get(k); !ok || v != k {
				t.Fatalf("after %d puts, hot entry %d: %d, %v", i, k, v, ok)
			}
		}
		m.Put(i, i)
	}
	if m.Len() != 10 {
		t.Fatalf("%d entries, want 10", m.Len())
	}
	if _, ok := m.Get(999); !ok {
		t.Fatal("the last entry put is missing")
	}
}

// An unread entry goes before a read one, whatever the order they came
// in; a slot emptied by Delete is filled before anything is evicted.
func TestMapSecondChance(t *testing.T) {
	m := New[string, int](3)
	m.Put("a", 1)
	m.Put("b", 2)
	m.Put("c", 3)
	m.Get("a")
	m.Get("c")
	m.Put("d", 4) // the hand spares a, evicts b
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := m.Get(k); ok != want {
			t.Errorf("%s present = %v, want %v", k, ok, want)
		}
	}
	m.Delete("c")
	m.Put("e", 5) // into c's slot: nothing evicted
	for _, k := range []string{"a", "d", "e"} {
		if _, ok := m.Get(k); !ok {
			t.Errorf("%s evicted though a slot was free", k)
		}
	}
	if m.Len() != 3 {
		t.Fatalf("%d entries, want 3", m.Len())
	}
}
