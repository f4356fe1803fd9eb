package authz

import (
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis-gw/portcullis/internal/bounded"
)

// MemoSize is how many decisions a policy remembers.
const MemoSize = 10000

// memo remembers decisions of a deterministic policy by their whole input
// document: the same input gives the same decision, so it is evaluated once.
// Entries are found by the input's hash and confirmed by comparing the
// input itself, so a hash collision can only cost a miss. A nil memo
// remembers nothing.
type memo struct {
	entries *bounded.Map[int, memoEntry]
}

type memoEntry struct {
	input    ast.Value
	decision Decision
}

func newMemo(size int) *memo {
	return &memo{entries: bounded.New[int, memoEntry](size)}
}

func (m *memo) get(input ast.Value) (Decision, bool) {
	if m == nil {
		return Decision{}, false
	}
	e, ok := m.entries.Get(input.Hash())
	if !ok || input.Compare(e.input) != 0 {
		return Decision{}, false
	}
	return e.decision, true
}

func (m *memo) put(input ast.Value, d Decision) {
	if m != nil {
		m.entries.Put(input.Hash(), memoEntry{input: input, decision: d})
	}
}
