package bearerauth

import (
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/portcullis-gw/portcullis/authz"
)

// An outcome's id, asked for from many goroutines at once (a placeholder
// read while the decision log and the identity headers read it), is one
// id; ids of different outcomes of one handler, or of two handlers, never
// repeat.
func TestOutcomeIDOncePerDecision(t *testing.T) {
	a, b := newDecisionIDs(), newDecisionIDs()
	if a.prefix == b.prefix {
		t.Fatal("two handlers share a decision id prefix")
	}
	seen := map[string]bool{}
	var mu sync.Mutex
	for n := range 200 {
		o := &outcome{Decision: authz.Decision{Reason: "r"}, ids: [2]*decisionIDs{a, b}[n%2]}
		ids := make([]string, 8)
		var wg sync.WaitGroup
		for g := range ids {
			wg.Go(func() {
				if g%2 == 0 {
					ids[g] = o.ID()
					return
				}
				repl := caddy.NewReplacer()
				o.publish(repl)
				ids[g] = repl.ReplaceAll("{http.auth.bearer.decision_id}", "")
			})
		}
		wg.Wait()
		for _, id := range ids[1:] {
			if id != ids[0] {
				t.Fatalf("one decision answered ids %v", ids)
			}
		}
		mu.Lock()
		if seen[ids[0]] {
			t.Fatalf("id %s made twice", ids[0])
		}
		seen[ids[0]] = true
		mu.Unlock()
	}
}
