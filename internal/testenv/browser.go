package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// DefaultChromium is where Debian's chromium package installs the browser
// that Browser starts; the environment variable PORTCULLIS_CHROMIUM names
// another binary.
const DefaultChromium = "/usr/bin/chromium"

// Browser starts a headless Chromium for the test and returns its chromedp
// context: pass it, or a context derived from it with a timeout, to
// chromedp.Run and chromedp.Do. The browser ends with the test.
//
// Chromium trusts c's local CA and no other CA beyond its usual roots:
// its --ignore-certificate-errors-spki-list flag lists the public keys of
// that CA's root and intermediate certificates, and Chromium overlooks an
// unknown root only for a chain whose server sends a certificate with one
// of those keys (Caddy sends its intermediate). Certificate checks stay on
// for every other server. Chromium runs with a HOME of its own, so no
// certificate database of the user's adds to that trust.
//
// When the test fails and PORTCULLIS_SCREENSHOTS names a directory, the
// page the browser shows at the end is saved there (see Screenshot).
//
// With go test -short, Browser skips the test.
func Browser(t testing.TB, c *Caddy) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("needs headless Chromium; skipped with -short")
	}
	binary := os.Getenv("PORTCULLIS_CHROMIUM")
	if binary == "" {
		binary = DefaultChromium
	}
	if _, err := os.Stat(binary); err != nil {
		t.Fatalf("headless Chromium is required for this test: %v; run ./test.sh from the repository root, which installs Debian's chromium package, or set PORTCULLIS_CHROMIUM to a Chromium binary", err)
	}

	home := t.TempDir()
	// What Chromium prints, for when it does not start.
	var output bytes.Buffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(binary),
		chromedp.UserDataDir(filepath.Join(home, "profile")),
		chromedp.Env("HOME="+home),
		// A root container has no user namespaces for the sandbox.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("ignore-certificate-errors-spki-list", caSPKIList(t, c)),
		chromedp.CombinedOutput(&output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("PORTCULLIS_SCREENSHOTS") != "" {
			if path, err := saveScreenshot(ctx, os.Getenv("PORTCULLIS_SCREENSHOTS"), t.Name()+"-at-failure"); err != nil {
				t.Logf("no screenshot at failure: %v", err)
			} else {
				t.Logf("screenshot at failure: %s", path)
			}
		}
		cancel()
		cancelAlloc()
	})
	// The first run starts the browser; it must not be bounded by the
	// caller's timeouts, which would end the browser with them.
	if err := chromedp.Do(ctx); err != nil {
		// Once the browser has ended, its output is complete.
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v\n%s", binary, err, output.String())
	}
	return ctx
}

// caSPKIList returns the base64 SHA-256 hashes of the public keys of c's
// local root and intermediate CA certificates, comma-separated, as
// Chromium's --ignore-certificate-errors-spki-list takes them.
func caSPKIList(t testing.TB, c *Caddy) string {
	t.Helper()
	dir := filepath.Join(c.Dir, "caddy", "pki", "authorities", "local")
	var hashes []string
	for _, name := range []string{"root.crt", "intermediate.crt"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("reading Caddy's local CA: %v", err)
		}
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "CERTIFICATE" {
			t.Fatalf("%s: no PEM certificate", filepath.Join(dir, name))
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Join(dir, name), err)
		}
		sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
		hashes = append(hashes, base64.StdEncoding.EncodeToString(sum[:]))
	}
	return strings.Join(hashes, ",")
}

// Screenshot saves a PNG of the whole page that ctx's tab shows and
// returns the file's path, for a human to look at: in the directory that
// PORTCULLIS_SCREENSHOTS names, where it stays, or else in t.TempDir(),
// which goes with the test. The file is named after the test and name.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	dir := os.Getenv("PORTCULLIS_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path, err := saveScreenshot(ctx, dir, t.Name()+"-"+name)
	if err != nil {
		t.Fatalf("screenshot %q: %v", name, err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// saveScreenshot writes a PNG of ctx's page to dir, in a file named after
// name with the characters that do not belong in a file name replaced.
func saveScreenshot(ctx context.Context, dir, name string) (string, error) {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	file := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == ' ' {
			return '_'
		}
		return r
	}, name) + ".png"
	path := filepath.Join(dir, file)
	return path, os.WriteFile(path, png, 0o644)
}

// Page describes what ctx's tab shows, its location and the text of its
// page, for the message of a step that went wrong. It does not wait for the
// page to load.
func Page(ctx context.Context) string {
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return fmt.Sprintf("(the browser's location is unknown: %v)", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return fmt.Sprintf("%s (its text is unknown: %v)", loc, err)
	}
	return fmt.Sprintf("%s showing:\n%s", loc, text)
}
