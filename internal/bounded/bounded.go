// Package bounded is a concurrent map that holds at most a fixed number of
// entries. When it is full, CLOCK (second chance) eviction makes room: an
// entry read since the clock hand last passed it is spared once, so entries
// in use stay while a stream of entries read once (a scan of new keys)
// replaces only each other.
//
// It imports nothing of Portcullis.
package bounded

import (
	"sync"
	"sync/atomic"
)

// Map is safe for concurrent use. A Map with a size below 1 holds nothing.
type Map[K comparable, V any] struct {
	mu      sync.RWMutex
	size    int
	index   map[K]int // the slot of each key
	slots   []slot[K, V]
	free    []int // slots emptied by Delete
	hand    int   // the next slot the clock looks at
	entries int
}

// slot is one entry.
type slot[K comparable, V any] struct {
	key K
	v   V
	// read is set by Get, cleared as the clock hand passes: an entry is
	// evicted only when the hand finds it clear.
	read atomic.Bool
}

// New returns a Map that holds at most size entries.
func New[K comparable, V any](size int) *Map[K, V] {
	return &Map[K, V]{size: size, index: make(map[K]int)}
}

// Get returns the value stored under key, and marks it as read.
func (m *Map[K, V]) Get(key K) (V, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.index[key]
	if !ok {
		var zero V
		return zero, false
	}
	s := &m.slots[i]
	if !s.read.Load() { // a store only when needed: hot entries stay clean in the CPU cache
		s.read.Store(true)
	}
	return s.v, true
}

// Put stores v under key. When the map is full, the clock hand goes round
// the entries, clearing the read mark of each marked one, and evicts the
// first unmarked one. A new entry starts unmarked.
func (m *Map[K, V]) Put(key K, v V) {
	if m.size < 1 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if i, ok := m.index[key]; ok {
		m.slots[i].v = v
		return
	}
	var i int
	switch {
	case len(m.free) > 0:
		i = m.free[len(m.free)-1]
		m.free = m.free[:len(m.free)-1]
	case len(m.slots) < m.size:
		m.slots = append(m.slots, slot[K, V]{})
		i = len(m.slots) - 1
	default:
		i = m.evict()
	}
	s := &m.slots[i]
	s.key, s.v = key, v
	s.read.Store(false)
	m.index[key] = i
	m.entries++
}

// evict empties the slot the clock hand stops at and returns it. The map
// is full, so every slot is used; the hand stops within two turns.
func (m *Map[K, V]) evict() int {
	for {
		i := m.hand
		m.hand = (m.hand + 1) % len(m.slots)
		s := &m.slots[i]
		if s.read.Load() {
			s.read.Store(false)
			continue
		}
		m.empty(i)
		return i
	}
}

// empty removes slot i's entry.
func (m *Map[K, V]) empty(i int) {
	s := &m.slots[i]
	delete(m.index, s.key)
	var zero slot[K, V]
	s.key, s.v = zero.key, zero.v // let go of the value
	m.entries--
}

// Delete removes key.
func (m *Map[K, V]) Delete(key K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i, ok := m.index[key]; ok {
		m.empty(i)
		m.free = append(m.free, i)
	}
}

// Len returns the number of entries.
func (m *Map[K, V]) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.entries
}
