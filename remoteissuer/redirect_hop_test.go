package remoteissuer

import (
	"net/http"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// An https issuer whose JWKS redirects through a plain-http hop: whoever is
// on that hop's path could redirect on to any https URL, so every hop is
// checked, not only the last.
func TestRedirectThroughPlainHTTPHopRefused(t *testing.T) {
	evil := newSigningKey(t, rsaA, "evil", jwa.RS256)
	const issuer = "https://issuer.test/"
	routes := map[string]http.HandlerFunc{
		"https://issuer.test/.well-known/openid-configuration": func(w http.ResponseWriter, r *http.Request) {
			w.Write(discoveryDoc(t, issuer, "https://issuer.test/jwks.json"))
		},
		"https://issuer.test/jwks.json": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://cdn.test/jwks.json", http.StatusFound)
		},
		// the on-path attacker answers the plain-http hop
		"http://cdn.test/jwks.json": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://attacker.test/jwks.json", http.StatusFound)
		},
		"https://attacker.test/jwks.json": func(w http.ResponseWriter, r *http.Request) { w.Write(jwks(t, evil.pub)) },
	}
	client := inProcessClient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := routes[r.URL.String()]
		if !ok {
			http.Error(w, "no route", http.StatusBadGateway)
			return
		}
		h(w, r)
	}))
	core, logs := observer.New(zapcore.WarnLevel)
	results := newFetchResults()
	is, err := New(t.Context(), Config{Issuer: issuer, HTTPClient: client, Logger: zap.New(core), OnFetch: results.record})
	if err != nil {
		t.Fatal(err)
	}
	if ok := <-results.ch; ok {
		t.Fatalf("keys fetched through a plain-http redirect hop were accepted (ready=%v); logs %v", isReady(is), logs.All())
	}
}
