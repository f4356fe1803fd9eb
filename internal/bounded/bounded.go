// Package bounded is a concurrent map that holds at most a fixed number of
// entries: when it is full, an arbitrary entry makes room. It suits caches
// whose entries are all equally cheap to lose.
//
// It imports nothing of Portcullis.
package bounded

import "sync"

// Map is safe for concurrent use. A Map with a size below 1 holds nothing.
type Map[K comparable, V any] struct {
	mu      sync.RWMutex
	size    int
	entries map[K]V
}

// New returns a Map that holds at most size entries.
func New[K comparable, V any](size int) *Map[K, V] {
	return &Map[K, V]{size: size, entries: make(map[K]V)}
}

// Get returns the value stored under key.
func (m *Map[K, V]) Get(key K) (V, bool) {
	m.mu.RLock()
	v, ok := m.entries[key]
	m.mu.RUnlock()
	return v, ok
}

// Put stores v under key, first dropping an arbitrary entry when full.
func (m *Map[K, V]) Put(key K, v V) {
	if m.size < 1 {
		return
	}
	m.mu.Lock()
	if _, ok := m.entries[key]; !ok && len(m.entries) >= m.size {
		for k := range m.entries {
			delete(m.entries, k)
			break
		}
	}
	m.entries[key] = v
	m.mu.Unlock()
}

// Delete removes key.
func (m *Map[K, V]) Delete(key K) {
	m.mu.Lock()
	delete(m.entries, key)
	m.mu.Unlock()
}

// Len returns the number of entries.
func (m *Map[K, V]) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}
