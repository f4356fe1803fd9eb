// Package demo_test runs the README's sign-in demo: Caddyfile.example,
// demo/signin.sh and a browser, as a person following the README would.
package demo_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// repoRoot is the repository's root directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// startDemo starts Caddyfile.example as the README's demo command does,
// with the environment that command sets, on free ports instead of its own
// and with Caddy's admin endpoint at admin ("off" for none). It returns
// the port each of the example's ports became.
func startDemo(t *testing.T, admin string) (*testenv.Caddy, map[string]int) {
	t.Helper()
	repo := repoRoot()
	example, err := os.ReadFile(filepath.Join(repo, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	command := regexp.MustCompile(`(?m)^(.*)go run \./cmd/portcullis run --config Caddyfile\.example.*$`).FindSubmatch(readme)
	if command == nil {
		t.Fatal("the README has no demo command running Caddyfile.example")
	}
	for _, assignment := range strings.Fields(string(command[1])) {
		name, value, ok := strings.Cut(assignment, "=")
		if !ok {
			t.Fatalf("the README's demo command starts with %q, not an environment assignment", assignment)
		}
		t.Setenv(name, value)
	}
	caddyfile := string(example)
	ports := map[string]int{}
	for _, p := range []string{"8443", "9443", "7443", "9080"} {
		ports[p] = testenv.FreePort(t)
		caddyfile = strings.ReplaceAll(caddyfile, ":"+p, fmt.Sprintf(":%d", ports[p]))
	}
	caddyfile = strings.Replace(caddyfile, "{\n", "{\n\tadmin "+admin+"\n", 1)
	data := filepath.Join(t.TempDir(), "data")
	t.Setenv("PORTCULLIS_DATA", data)
	c := testenv.Start(t, data, caddyfile, fmt.Sprintf("https://localhost:%d/.well-known/jwks.json", ports["8443"]),
		fmt.Sprintf("https://localhost:%d/", ports["7443"]))
	return c, ports
}

// TestSignInDemo starts Caddyfile.example (on free ports instead of its
// own, without Caddy's admin endpoint), seeds it with demo/signin.sh,
// signs the demo user in with Chromium on the printed URL, and exchanges
// the code with the script, whose API call must show the user's identity.
func TestSignInDemo(t *testing.T) {
	repo := repoRoot()
	c, ports := startDemo(t, "off")
	as := fmt.Sprintf("https://localhost:%d", ports["8443"])

	env := append(os.Environ(),
		"PORTCULLIS_AS="+as,
		fmt.Sprintf("PORTCULLIS_API=https://localhost:%d", ports["9443"]),
		fmt.Sprintf("PORTCULLIS_APP=https://localhost:%d", ports["7443"]),
	)
	script := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(repo, "demo", "signin.sh"), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("demo/signin.sh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := script()
	authURL := regexp.MustCompile(`(?m)^https://\S+/authorize\?\S+$`).FindString(out)
	if authURL == "" {
		t.Fatalf("demo/signin.sh printed no login URL:\n%s", out)
	}
	// Seeding again changes nothing and works as well.
	authURL = regexp.MustCompile(`(?m)^https://\S+/authorize\?\S+$`).FindString(script())

	browser := testenv.Browser(t, c)
	ctx, cancel := context.WithTimeout(browser, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "demo@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "demo-password-not-for-production"),
	); err != nil {
		t.Fatalf("the login page: %v at %s", err, testenv.Page(browser))
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`))); err != nil {
		t.Fatalf("signing in: %v at %s", err, testenv.Page(browser))
	}
	testenv.Screenshot(t, ctx, "consent")
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="accept"]`))); err != nil {
		t.Fatalf("consenting: %v at %s", err, testenv.Page(browser))
	}
	page, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`demo/signin\.sh (\S+)`).FindStringSubmatch(page)
	if code == nil {
		t.Fatalf("the demo app's callback shows no code: %s", page)
	}

	out = script(code[1])
	for _, want := range []string{
		"Granted scope: openid profile email read:orders create:orders",
		`"X-Portcullis-Subject":["auth0|`,
		`403 Bearer realm="https://api.example.com/orders", error="insufficient_scope"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo/signin.sh <code> does not say %q:\n%s", want, out)
		}
	}
}
