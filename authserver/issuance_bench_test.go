package authserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
)

// BenchmarkClientCredentials measures a whole client_credentials request
// through the token endpoint's handler (form parsing, client
// authentication, API and grant lookup, scope decision, signing, JSON
// response) next to the bare signature of the same signing input with the
// same key (jwx's signer for the algorithm: the hash and the private-key
// operation, nothing else), and that signature on every CPU at once.
func BenchmarkClientCredentials(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	// Without rate limits, which would refuse most of the requests.
	off := RateLimits{TokenPerIP: RateLimitOff, TokenPerClient: RateLimitOff}
	s, err := New(ctx, Config{Issuer: "https://auth.example.com/", Store: st, RateLimits: off})
	if err != nil {
		b.Fatal(err)
	}
	const secret = "bench-secret-0123456789abcdefghijklmnop"
	c := &clients.Client{ClientID: "bench", Name: "bench", AppType: clients.AppNonInteractive, SecretHash: s.hasher.Hash(secret)}
	c.ApplyDefaults()
	if err := st.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	for _, alg := range []string{"RS256", "ES256"} {
		api := &access.ResourceServer{ID: alg, Identifier: "https://api.example.com/" + alg, SigningAlg: alg,
			Scopes: []access.Scope{{Value: "read:orders"}, {Value: "create:orders"}}}
		api.ApplyDefaults()
		if err := st.CreateResourceServer(ctx, api); err != nil {
			b.Fatal(err)
		}
		if err := st.CreateClientGrant(ctx, &access.ClientGrant{ID: "cgr_" + alg, ClientID: c.ClientID, Audience: api.Identifier,
			SubjectType: access.SubjectClient, Scope: []string{"read:orders", "create:orders"}}); err != nil {
			b.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {secret},
			"audience": {api.Identifier}, "scope": {"read:orders"}}.Encode()
		request := func() *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			return rec
		}
		first := request()
		if first.Code != http.StatusOK {
			b.Fatalf("token request: %d %s", first.Code, first.Body)
		}
		// The same signing input (header and claims), for the bare signature.
		token := first.Body.String()
		token = token[strings.Index(token, `"access_token":"`)+16:]
		signingInput := []byte(token[:strings.LastIndexByte(token[:strings.IndexByte(token, '"')], '.')])
		signer, _ := s.keyring.Ring().Signer(jwa.SignatureAlgorithm(alg))

		b.Run(alg+"/issuance", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if rec := request(); rec.Code != http.StatusOK {
					b.Fatalf("token request: %d", rec.Code)
				}
			}
		})
		bare, err := jws.NewSigner(signer.Alg)
		if err != nil {
			b.Fatal(err)
		}
		sign := func() error {
			_, err := bare.Sign(signingInput, signer.Key)
			return err
		}
		b.Run(alg+"/bare_signature", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := sign(); err != nil {
					b.Fatal(err)
				}
			}
		})
		// On every CPU at once: the machine's limit in signatures per
		// second, which bench/issuance.sh sets the token endpoint against.
		b.Run(alg+"/bare_signature_parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := sign(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signatures/s")
		})
	}
}
