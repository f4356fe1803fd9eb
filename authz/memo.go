package authz

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// MemoSize is how many decisions a policy remembers.
const MemoSize = 10000

// memo remembers decisions of a deterministic policy by their whole input
// document: the same input gives the same decision, so it is evaluated once.
// Entries are found by the input's hash and confirmed by comparing the
// input itself, so a hash collision can only cost a miss. When full, an
// arbitrary entry makes room. A nil memo remembers nothing.
type memo struct {
	mu      sync.RWMutex
	max     int
	entries map[int]memoEntry
}

type memoEntry struct {
	input    ast.Value
	decision Decision
}

func newMemo(max int) *memo {
	return &memo{max: max, entries: make(map[int]memoEntry)}
}

func (m *memo) get(input ast.Value) (Decision, bool) {
	if m == nil {
		return Decision{}, false
	}
	m.mu.RLock()
	e, ok := m.entries[input.Hash()]
	m.mu.RUnlock()
	if !ok || input.Compare(e.input) != 0 {
		return Decision{}, false
	}
	return e.decision, true
}

func (m *memo) put(input ast.Value, d Decision) {
	if m == nil {
		return
	}
	m.mu.Lock()
	if len(m.entries) >= m.max {
		for k := range m.entries {
			delete(m.entries, k)
			break
		}
	}
	m.entries[input.Hash()] = memoEntry{input: input, decision: d}
	m.mu.Unlock()
}
