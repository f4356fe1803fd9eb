package bearerauth_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// TestPlaceholdersNameTheLastDecision layers two bearer_auth handlers in
// one route: the first (any path: the token) allows, the second (admin
// paths need admin:orders, which the token lacks) denies. The error
// route's {http.auth.bearer.reason} and {http.auth.bearer.decision_id}
// must name the decision that denied the request, as the decision log
// does, not the first handler's allow.
func TestPlaceholdersNameTheLastDecision(t *testing.T) {
	d := newDecisionEnv(t)
	port := testenv.FreePort(t)
	url := fmt.Sprintf("https://localhost:%d", port)
	handler := func(scopes string) string {
		return fmt.Sprintf("\t\tbearer_auth {\n\t\t\taudience %s\n\t\t\tissuer %s\n\t\t\t%s\n\t\t\tpolicy_timeout 1m\n\t\t\tdecision_log all\n\t\t}\n",
			partnerAPI, d.issuer, scopes)
	}
	cfg := d.globals() + fmt.Sprintf("https://localhost:%d {\n\ttls internal\n\troute {\n%s%s\t\trespond \"{http.auth.bearer.reason}|{http.auth.bearer.decision_id}\"\n\t}\n"+
		"\thandle_errors {\n\t\trespond \"{http.auth.bearer.reason}|{http.auth.bearer.decision_id}\" {err.status_code}\n\t}\n}\n",
		port, handler("scopes GET * read:orders"), handler("scopes GET *admin* admin:orders"))
	c := testenv.Start(t, d.dir, cfg, url)

	answers := map[string]string{}
	for _, path := range []string{"/orders/1", "/admin/1"} {
		req, err := http.NewRequestWithContext(t.Context(), "GET", url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", bearer(d.token))
		resp, err := c.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"/orders/1": http.StatusOK, "/admin/1": http.StatusForbidden}[path]
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d %q, want %d", path, resp.StatusCode, body, want)
		}
		answers[path] = string(body)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	// Each handler numbers its decisions after a prefix of its own: the
	// second handler's is the one of the denial.
	lines := d.decisions(t)
	var denial decisionLine
	for _, l := range lines {
		if l.Path == "/admin/1" && l.Result == "deny" {
			denial = l
		}
	}
	if len(lines) != 4 || denial.Reason != "insufficient scope" {
		t.Fatalf("decision lines %+v, want 4, one a denial for insufficient scope", lines)
	}
	second, _, _ := strings.Cut(denial.DecisionID, "-")
	for path, body := range answers {
		reason, id, _ := strings.Cut(body, "|")
		var deciding []decisionLine
		for _, l := range lines {
			if l.Path == path && strings.HasPrefix(l.DecisionID, second+"-") {
				deciding = append(deciding, l)
			}
		}
		if len(deciding) != 1 {
			t.Fatalf("%s: the second handler logged %+v", path, deciding)
		}
		if l := deciding[0]; reason != l.Reason || id != l.DecisionID {
			t.Errorf("%s: the response names reason %q, decision %q; the last handler decided reason %q, decision %q", path, reason, id, l.Reason, l.DecisionID)
		}
	}
}
