package testenv_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// browserTimeout bounds each browser step.
const browserTimeout = 30 * time.Second

// TestBrowser loads a form from a real Caddy over TLS from its local CA in
// headless Chromium, fills it in and submits it, and reads what Caddy
// echoes; a server with a certificate from another CA does not load.
func TestBrowser(t *testing.T) {
	dir := t.TempDir()
	origin := fmt.Sprintf("https://localhost:%d", testenv.FreePort(t))
	caddyfile := fmt.Sprintf(`{
%s
}

%s {
	tls internal
	handle /echo {
		header Content-Type "text/plain; charset=utf-8"
		respond "posted {http.request.body}" 200
	}
	handle {
		header Content-Type "text/html; charset=utf-8"
		respond <<HTML
			<!doctype html>
			<title>Greeting</title>
			<form method="post" action="/echo">
				<input name="greeting">
				<button type="submit">Send</button>
			</form>
			HTML 200
	}
}
`, testenv.TestGlobals(dir), origin)
	c := testenv.Start(t, dir, caddyfile, origin+"/")
	browser := testenv.Browser(t, c)

	t.Run("form", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(browser, browserTimeout)
		defer cancel()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(origin+"/"),
			chromedp.SendKeys(chromedp.CSS(`input[name="greeting"]`), "hello from Chromium"),
		); err != nil {
			t.Fatalf("loading and filling in the form: %v; the browser is at %s", err, testenv.Page(browser))
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
		if err != nil {
			t.Fatalf("submitting the form: %v; the browser is at %s", err, testenv.Page(browser))
		}
		if resp.Status != http.StatusOK || resp.URL != origin+"/echo" {
			t.Errorf("the form's answer: %d from %s, want 200 from %s/echo", resp.Status, resp.URL, origin)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			t.Fatal(err)
		}
		if want := "posted greeting=hello+from+Chromium"; strings.TrimSpace(text) != want {
			t.Errorf("the page shows %q, want %q", text, want)
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(browser, browserTimeout)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/")); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(testenv.Screenshot(t, ctx, "form"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("the screenshot is no PNG: %v", err)
		}
		if w := img.Bounds().Dx(); w != 1280 {
			t.Errorf("the screenshot is %d pixels wide, want the window's 1280", w)
		}
	})

	t.Run("other CA", func(t *testing.T) {
		other, pool := otherCAServer(t)
		// The server works for a client that trusts its CA.
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := client.Get(other)
		if err != nil {
			t.Fatalf("the other CA's server: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()

		ctx, cancel := context.WithTimeout(browser, browserTimeout)
		defer cancel()
		err = chromedp.Do(ctx, chromedp.Navigate(other))
		var loadErr *chromedp.LoadError
		if !errors.As(err, &loadErr) || loadErr.ErrorText != "net::ERR_CERT_AUTHORITY_INVALID" {
			t.Errorf("loading %s, whose certificate is from a CA other than Caddy's: %v, want net::ERR_CERT_AUTHORITY_INVALID", other, err)
		}
	})
}

// otherCAServer serves a page over TLS with a certificate for localhost
// from a CA of its own until the test ends, and returns its URL and a pool
// with that CA.
func otherCAServer(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Other Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err = x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>Other</title><p>served with another CA's certificate")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return fmt.Sprintf("https://localhost:%d/", srv.Listener.Addr().(*net.TCPAddr).Port), pool
}
