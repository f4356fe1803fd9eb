package bearerauth_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis-gw/portcullis/clientcert"
	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// TestCertificateBoundTokens: a token requested over TLS with a client
// certificate, for an API that requires proof of possession, is bound to it
// (RFC 8705); bearer_auth accepts it only with that certificate, from the
// TLS connection or from a trusted proxy's forwarded header.
func TestCertificateBoundTokens(t *testing.T) {
	dir := t.TempDir()
	as, edge, proxied, upstream := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	// untrusted reads forwarded certificates too, on a server whose
	// trusted_proxies are unset.
	untrusted := testenv.FreePort(t)
	// permissive runs a custom policy that allows everything: binding is
	// enforced before any policy runs.
	permissive := testenv.FreePort(t)
	policyDir := filepath.Join(dir, "allow-all")
	if err := os.MkdirAll(policyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(policyDir, "allow.rego"), []byte("package portcullis.authz\n\ndecision := {\"allow\": true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	issuer := fmt.Sprintf("https://localhost:%d/", as)
	const audience = "https://api.example.com/bound"
	const secret = "binding-admin-secret-0123456789abcdefgh"
	caddyfile := fmt.Sprintf(`{
%s
	servers :%[4]d {
		trusted_proxies static 127.0.0.1/32 ::1/128
	}
	portcullis {
		issuer %[2]s
		storage sqlite %[3]s/p.db
		bootstrap_admin binding-admin %[7]s
	}
}
https://localhost:%[5]d {
	tls internal {
		client_auth {
			mode request
		}
	}
	authorization_server
}
https://localhost:%[6]d {
	tls internal {
		client_auth {
			mode request
		}
	}
	bearer_auth {
		audience %[8]s
	}
	reverse_proxy 127.0.0.1:%[9]d
}
https://localhost:%[4]d {
	tls internal
	bearer_auth {
		audience %[8]s
		client_cert_header rfc9440
	}
	reverse_proxy 127.0.0.1:%[9]d
}
https://localhost:%[10]d {
	tls internal {
		client_auth {
			mode request
		}
	}
	bearer_auth {
		audience %[8]s
		client_cert_header rfc9440
	}
	reverse_proxy 127.0.0.1:%[9]d
}
https://localhost:%[11]d {
	tls internal {
		client_auth {
			mode request
		}
	}
	bearer_auth {
		audience %[8]s
		policy %[12]s
	}
	reverse_proxy 127.0.0.1:%[9]d
}
http://:%[9]d {
	bind 127.0.0.1
	echo
}
`, testenv.TestGlobals(dir), issuer, dir, proxied, as, edge, secret, audience, upstream, untrusted, permissive, policyDir)
	c := testenv.Start(t, dir, caddyfile, issuer+".well-known/jwks.json")

	ca := clientcerttest.NewCA(t, "Test CA")
	mine := ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "orders-worker"}})
	other := clientcerttest.SelfSigned(t, &x509.Certificate{Subject: pkix.Name{CommonName: "someone else"}})
	withCert := func(cert *clientcerttest.Cert) *http.Client {
		tr := c.Client.Transport.(*http.Transport).Clone()
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{cert.TLS()}
		}
		return &http.Client{Transport: tr}
	}
	ctx := func(hc *http.Client) context.Context { return context.WithValue(t.Context(), oauth2.HTTPClient, hc) }
	cc := func(id, sec, aud string) *clientcredentials.Config {
		return &clientcredentials.Config{ClientID: id, ClientSecret: sec, TokenURL: issuer + "oauth/token",
			EndpointParams: url.Values{"audience": {aud}}, AuthStyle: oauth2.AuthStyleInParams}
	}

	// The API requires proof of possession; a plain client asks for tokens.
	admin := cc("binding-admin", secret, issuer+"api/v2/").Client(ctx(c.Client))
	post := func(path string, body any) map[string]any {
		t.Helper()
		doc, _ := json.Marshal(body)
		resp, err := admin.Post(issuer+"api/v2/"+path, "application/json", strings.NewReader(string(doc)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d %v", path, resp.StatusCode, out)
		}
		return out
	}
	post("resource-servers", map[string]any{"identifier": audience, "scopes": []map[string]string{{"value": "read:x"}},
		"proof_of_possession": map[string]any{"mechanism": "mtls", "required": true}})
	app := post("clients", map[string]any{"name": "bound", "app_type": "non_interactive"})
	id, sec := app["client_id"].(string), app["client_secret"].(string)
	post("client-grants", map[string]any{"client_id": id, "audience": audience, "scope": []string{"read:x"}})

	if _, err := cc(id, sec, audience).Token(ctx(c.Client)); err == nil || !strings.Contains(err.Error(), "Certificate-bound tokens are required") {
		t.Fatalf("token without a client certificate: %v, want a refusal", err)
	}
	tok, err := cc(id, sec, audience).Token(ctx(withCert(mine)))
	if err != nil {
		t.Fatalf("token over mTLS: %v", err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
	var claims struct {
		Cnf map[string]string `json:"cnf"`
	}
	json.Unmarshal(payload, &claims)
	wantThumb := clientcert.FromTLS(mine.ConnectionState(), nil, mine.Cert.NotBefore).Thumbprint
	if claims.Cnf["x5t#S256"] != wantThumb {
		t.Fatalf("cnf = %v, want x5t#S256 %s", claims.Cnf, wantThumb)
	}

	call := func(hc *http.Client, port int, header http.Header) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", fmt.Sprintf("https://localhost:%d/x", port), nil)
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	rfc9440 := func(cert *clientcerttest.Cert) http.Header {
		v, _ := clientcert.RFC9440Headers(clientcert.FromTLS(cert.ConnectionState(), nil, cert.Cert.NotBefore))
		return http.Header{"Client-Cert": {v}}
	}
	for _, tc := range []struct {
		name   string
		client *http.Client
		port   int
		header http.Header
		want   int
	}{
		{"same certificate over TLS", withCert(mine), edge, nil, 200},
		{"another certificate over TLS", withCert(other), edge, nil, 401},
		{"no certificate", withCert(nil), edge, nil, 401},
		{"a forwarded header from an untrusted peer is ignored", withCert(nil), edge, rfc9440(mine), 401},
		{"a forwarded header from a peer not in trusted_proxies is ignored", withCert(nil), untrusted, rfc9440(mine), 401},
		{"the TLS certificate counts where forwarded headers are read", withCert(mine), untrusted, rfc9440(other), 200},
		{"same certificate from a trusted proxy", withCert(nil), proxied, rfc9440(mine), 200},
		{"another certificate from a trusted proxy", withCert(nil), proxied, rfc9440(other), 401},
		{"garbage from a trusted proxy", withCert(nil), proxied, http.Header{"Client-Cert": {":bm90IGEgY2VydA==:"}}, 400},
		{"a policy that allows everything, same certificate", withCert(mine), permissive, nil, 200},
		{"a policy that allows everything, another certificate", withCert(other), permissive, nil, 401},
		{"a policy that allows everything, no certificate", withCert(nil), permissive, nil, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, challenge := call(tc.client, tc.port, tc.header)
			if status != tc.want {
				t.Fatalf("status %d (%s), want %d", status, challenge, tc.want)
			}
			if tc.want == 401 && !strings.Contains(challenge, `error="invalid_token"`) {
				t.Fatalf("WWW-Authenticate = %q, want invalid_token", challenge)
			}
		})
	}

	// The Management API holds bound tokens to their certificate too.
	boundAdmin := post("clients", map[string]any{"name": "bound admin", "app_type": "non_interactive", "require_proof_of_possession": true})
	post("client-grants", map[string]any{"client_id": boundAdmin["client_id"], "audience": issuer + "api/v2/", "scope": []string{"read:clients"}})
	mgmtToken, err := cc(boundAdmin["client_id"].(string), boundAdmin["client_secret"].(string), issuer+"api/v2/").Token(ctx(withCert(mine)))
	if err != nil {
		t.Fatalf("Management API token over mTLS: %v", err)
	}
	for _, tc := range []struct {
		name   string
		client *http.Client
		want   int
	}{
		{"same certificate", withCert(mine), 200},
		{"another certificate", withCert(other), 401},
		{"no certificate", withCert(nil), 401},
	} {
		t.Run("Management API, "+tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", issuer+"api/v2/clients", nil)
			req.Header.Set("Authorization", "Bearer "+mgmtToken.AccessToken)
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.want)
			}
			if tc.want == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("WWW-Authenticate = %q, want invalid_token", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}

	// Discovery says tokens can be bound.
	resp, err := c.Client.Get(issuer + ".well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta map[string]any
	json.NewDecoder(resp.Body).Decode(&meta)
	if meta["tls_client_certificate_bound_access_tokens"] != true {
		t.Fatalf("discovery = %v", meta)
	}
}
