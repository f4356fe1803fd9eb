package bearerauth_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// TestConfigErrors loads bearer_auth configurations that must not start,
// and checks that each error names what is wrong.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	port := testenv.FreePort(t)
	app := fmt.Sprintf("\tportcullis {\n\t\tissuer https://localhost:%d/\n\t\tstorage sqlite %s/p.db\n\t}\n", port, dir)
	for _, tc := range []struct {
		name, app, options, want string
	}{
		{"no issuer to trust", "", "audience https://api.example.com", "portcullis global option is not configured"},
		{"no audience", app, "scopes GET /x read:x", "audience is required"},
		{"remote issuer over plain http", "", "audience a\n\t\tissuer http://idp.example.com/", "https"},
		{"negative unknown key refetch", app, "audience a\n\t\tunknown_key_refetch -1s", "unknown_key_refetch must not be negative"},
		{"leeway over a minute", app, "audience a\n\t\tleeway 2m", "leeway must be between 0 and 1m0s"},
		{"path without a slash", app, "audience a\n\t\tscopes GET x read:x", "must start with / or *"},
		{"missing policy directory", app, "audience a\n\t\tpolicy " + dir + "/nowhere", "nowhere"},
		{"decision log sampling none", app, "audience a\n\t\tdecision_log sample 0", `decision_log sample takes a positive whole number, got "0"`},
		{"decision log flushed never", app, "audience a\n\t\tdecision_log_flush 0s", "decision_log_flush must be a positive duration"},
		{"decision log flushed all the time", app, "audience a\n\t\tdecision_log_flush 1ns", "decision_log flush_interval must be at least 10ms, got 1ns"},
		{"unknown identity header", app, "audience a\n\t\tidentity_headers subject role", `unknown header "role"`},
		{"identity header twice", app, "audience a\n\t\tidentity_headers scope subject scope", "scope is listed twice"},
		{"none with identity headers", app, "audience a\n\t\tidentity_headers none subject", "none stands alone"},
		{"identity_headers without names", app, "audience a\n\t\tidentity_headers", "identity_headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := "{\n" + testenv.TestGlobals(dir) + tc.app + "}\n" +
				fmt.Sprintf("https://localhost:%d {\n\ttls internal\n\tbearer_auth {\n\t\t%s\n\t}\n\trespond ok\n}\n", port, tc.options)
			if err := testenv.LoadErr(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("load error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
