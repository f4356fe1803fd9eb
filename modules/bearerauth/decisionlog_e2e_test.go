package bearerauth_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// decisionEnv is a remote issuer, a reader of its orders API, and the
// Caddyfile of bearer_auth sites trusting it that log decisions as JSON to
// one file.
type decisionEnv struct {
	dir, logPath string
	issuer       string
	token        string
}

func newDecisionEnv(t *testing.T) *decisionEnv {
	t.Helper()
	r := startRemote(t)
	r.call(t, "POST", "resource-servers", map[string]any{
		"name": "Partner", "identifier": partnerAPI, "token_lifetime": 3600,
		"scopes": []map[string]string{{"value": "read:orders"}, {"value": "admin:orders"}},
	}, http.StatusCreated)
	reader := r.m2m(t, "decision-log-reader", partnerAPI, "read:orders")
	d := &decisionEnv{dir: t.TempDir(), issuer: r.issuer, token: r.token(t, reader, partnerAPI)}
	d.logPath = filepath.Join(d.dir, "caddy.log")
	return d
}

// caddyfile has one site per port, each with the options given for it:
// paths holding "admin" need admin:orders, which the token lacks (a
// policy denial, 403); others need only the token (allowed, 200). The
// policy timeout is long, so that a loaded machine (the race detector)
// does not turn allowed requests into timeouts.
func (d *decisionEnv) caddyfile(sites map[int]string) string {
	var b strings.Builder
	b.WriteString(d.globals())
	for port, options := range sites {
		b.WriteString(d.site(port, options, "ok"))
	}
	return b.String()
}

// globals is the Caddyfile's global options, with the JSON log file.
func (d *decisionEnv) globals() string {
	return fmt.Sprintf("{\n%s\tlog {\n\t\toutput file %s\n\t\tformat json\n\t}\n}\n", testenv.TestGlobals(d.dir), d.logPath)
}

// site is one site of the Caddyfile: bearer_auth with options, then
// respond with response.
func (d *decisionEnv) site(port int, options, response string) string {
	return fmt.Sprintf("https://localhost:%d {\n\ttls internal\n\tbearer_auth {\n\t\taudience %s\n\t\tissuer %s\n\t\tscopes GET *admin* admin:orders\n\t\tpolicy_timeout 1m\n\t\t%s\n\t}\n\trespond %q\n}\n",
		port, partnerAPI, d.issuer, options, response)
}

// get sends GET path with the token and returns the status.
func (d *decisionEnv) get(t *testing.T, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", bearer(d.token))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// decisionLine is a decision log line as written.
type decisionLine struct {
	Logger, Msg, DecisionID, Method, Path, Result, Reason string
	Status                                                int
}

// decisions reads the decision lines of the log file.
func (d *decisionEnv) decisions(t *testing.T) []decisionLine {
	t.Helper()
	f, err := os.Open(d.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []decisionLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if raw["logger"] != "http.handlers.bearer_auth" || raw["msg"] != "decision" {
			continue
		}
		status, _ := raw["status"].(float64)
		str := func(k string) string { s, _ := raw[k].(string); return s }
		lines = append(lines, decisionLine{Logger: str("logger"), Msg: str("msg"), DecisionID: str("decision_id"), Method: str("method"),
			Path: str("path"), Result: str("result"), Reason: str("reason"), Status: int(status)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestDecisionLogLosesNothing sends many concurrent requests, allowed and
// denied, through a real Caddy whose decision log waits an hour between
// writes, reloads the config in the middle of them and stops Caddy at the
// end: the lines held at the reload and at the stop are written then, so
// every request has exactly one line, with the result it got.
func TestDecisionLogLosesNothing(t *testing.T) {
	d := newDecisionEnv(t)
	port := testenv.FreePort(t)
	url := fmt.Sprintf("https://localhost:%d", port)
	cfg := d.caddyfile(map[int]string{port: "decision_log_flush 1h"})
	c := testenv.Start(t, d.dir, cfg, url)

	const workers, each = 8, 60 // under half the buffer: only the reload and the stop write
	var (
		sent      atomic.Int64
		reloaded  = make(chan struct{})
		halfway   = make(chan struct{})
		closeOnce sync.Once
		mu        sync.Mutex
		got       = map[string]int{} // path → status
		errs      []error
		wg        sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if i == each/2 {
					<-reloaded // let the other half run after the reload
				}
				kind := "orders"
				if i%3 == 0 {
					kind = "admin"
				}
				path := fmt.Sprintf("/%s/%d-%d", kind, w, i)
				status, err := d.get(t, c.Client, url+path)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("GET %s: %w", path, err))
				} else {
					got[path] = status
				}
				mu.Unlock()
				if sent.Add(1) == workers*each/4 {
					closeOnce.Do(func() { close(halfway) })
				}
			}
		})
	}
	// Reload while requests are in flight: the old handlers' lines are
	// written when the old config is cleaned up.
	<-halfway
	testenv.Load(t, cfg)
	close(reloaded)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	before := len(d.decisions(t))
	if before >= len(got) {
		t.Fatalf("%d decision lines before the stop for %d requests: the lines after the reload were not held", before, len(got))
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}

	lines := d.decisions(t)
	seen := map[string]bool{}
	for _, l := range lines {
		status, ok := got[l.Path]
		switch {
		case !ok:
			t.Errorf("decision line for a request not sent: %+v", l)
		case seen[l.Path]:
			t.Errorf("two decision lines for %s", l.Path)
		case status != l.Status || (status == http.StatusOK) != (l.Result == "allow") || l.Method != "GET" || l.DecisionID == "":
			t.Errorf("decision line %+v for a request answered %d", l, status)
		}
		seen[l.Path] = true
	}
	denied := 0
	for path, status := range got {
		if !seen[path] {
			t.Errorf("no decision line for GET %s (%d)", path, status)
		}
		if status == http.StatusForbidden {
			denied++
		}
	}
	if len(got) != workers*each || len(lines) != len(got) || denied != workers*each/3 {
		t.Errorf("%d requests answered (%d denied), %d decision lines, want %d, %d and %d", len(got), denied, len(lines), workers*each, workers*each/3, workers*each)
	}
	if raw, err := os.ReadFile(d.logPath); err != nil || strings.Contains(string(raw), d.token) {
		t.Errorf("the log holds the bearer token (or cannot be read: %v)", err)
	}
	t.Logf("%d decision lines written at the reload, %d at the stop", before, len(lines)-before)
}

// TestDecisionIDMadeWhenUsed shows that a decision id is made only when
// something uses it: on a site logging only denials and forwarding no
// decision id, allowed requests make none, so the denials that follow are
// numbered 1 and 2; on a site whose response names the id, every request
// makes one.
func TestDecisionIDMadeWhenUsed(t *testing.T) {
	d := newDecisionEnv(t)
	quietPort, namedPort := testenv.FreePort(t), testenv.FreePort(t)
	quietURL, namedURL := fmt.Sprintf("https://localhost:%d", quietPort), fmt.Sprintf("https://localhost:%d", namedPort)
	cfg := d.globals() + d.site(quietPort, "decision_log deny\n\t\tidentity_headers subject client_id", "ok") +
		d.site(namedPort, "decision_log deny\n\t\tidentity_headers subject", "{http.auth.bearer.decision_id}")
	c := testenv.Start(t, d.dir, cfg, quietURL, namedURL)

	for _, url := range []string{quietURL + "/quiet", namedURL + "/named"} {
		for i := range 5 {
			if status, err := d.get(t, c.Client, fmt.Sprintf("%s/orders/%d", url, i)); err != nil || status != http.StatusOK {
				t.Fatalf("GET %s/orders/%d: %d %v", url, i, status, err)
			}
		}
		for i := range 2 {
			if status, err := d.get(t, c.Client, fmt.Sprintf("%s/admin/%d", url, i)); err != nil || status != http.StatusForbidden {
				t.Fatalf("GET %s/admin/%d: %d %v", url, i, status, err)
			}
		}
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/quiet/admin/0": "-1", "/quiet/admin/1": "-2", "/named/admin/0": "-6", "/named/admin/1": "-7"}
	lines := d.decisions(t)
	for _, l := range lines {
		if suffix, ok := want[l.Path]; !ok || !strings.HasSuffix(l.DecisionID, suffix) {
			t.Errorf("decision line %+v, want only denials, with an id ending in %q", l, suffix)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("%d decision lines, want %d", len(lines), len(want))
	}
}

// TestDecisionLogModes runs a deny-only site and a site sampling 1 allowed
// request in 3, and counts their lines once the stop has written them:
// every denial on both, no allowed request on the first, and exactly the
// 1st, 4th, 7th… allowed requests on the second.
func TestDecisionLogModes(t *testing.T) {
	d := newDecisionEnv(t)
	denyPort, samplePort := testenv.FreePort(t), testenv.FreePort(t)
	denyURL, sampleURL := fmt.Sprintf("https://localhost:%d", denyPort), fmt.Sprintf("https://localhost:%d", samplePort)
	c := testenv.Start(t, d.dir, d.caddyfile(map[int]string{
		denyPort:   "decision_log deny",
		samplePort: "decision_log sample 3\n\t\tdecision_log_flush 10ms",
	}), denyURL, sampleURL)

	const allowed, denied = 20, 7
	var wg sync.WaitGroup
	for _, site := range []struct{ url, name string }{{denyURL, "deny"}, {sampleURL, "sample"}} {
		for i := range allowed + denied {
			wg.Go(func() {
				kind, want := "orders", http.StatusOK
				if i >= allowed {
					kind, want = "admin", http.StatusForbidden
				}
				if status, err := d.get(t, c.Client, fmt.Sprintf("%s/%s/%s/%d", site.url, site.name, kind, i)); err != nil || status != want {
					t.Errorf("%s %s %d: %d %v, want %d", site.name, kind, i, status, err, want)
				}
			})
		}
	}
	wg.Wait()
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, l := range d.decisions(t) {
		site := strings.Split(l.Path, "/")[1]
		count[site+" "+l.Result]++
		if (l.Result == "allow") != (l.Status == http.StatusOK) {
			t.Errorf("line %+v", l)
		}
	}
	want := map[string]int{"deny deny": denied, "sample deny": denied, "sample allow": (allowed + 2) / 3}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("decision lines by site and result: %v, want %v", count, want)
	}
}
