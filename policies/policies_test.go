package policies

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/tester"
)

// TestRego runs the *_test.rego unit tests of this directory with OPA's
// tester, as `opa test policies/` does.
func TestRego(t *testing.T) {
	results, err := tester.Run(t.Context(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) == 0 {
		t.Fatal("no Rego tests found")
	}
	for _, r := range results {
		if !r.Pass() {
			t.Errorf("%s.%s: %s", r.Package, r.Name, r)
			if r.Error != nil {
				t.Errorf("  %v", r.Error)
			}
			if len(r.Output) > 0 {
				t.Errorf("  output: %s", r.Output)
			}
		} else {
			t.Logf("PASS %s.%s", r.Package, r.Name)
		}
	}
}
