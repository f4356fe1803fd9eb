package portcullis_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis-gw/portcullis/clientcert"
	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
	"github.com/portcullis-gw/portcullis/internal/testenv"
	"github.com/portcullis-gw/portcullis/internal/testutil"
)

// mtlsStack is a Portcullis with a plain authorization server host, an
// mTLS alias host, and a protected API that asks for client certificates
// and forwards them upstream in every format.
type mtlsStack struct {
	t                         *testing.T
	caddy                     *testenv.Caddy
	issuer, mtls, api         string
	admin                     *http.Client
	dir                       string
	ca, caSigned, self, other *clientcerttest.Cert
}

const (
	mtlsAudience = "https://api.example.com/bound"
	edgeKey      = "edge-key-0123456789abcdef"
)

func startMTLSStack(t *testing.T) *mtlsStack {
	t.Helper()
	dir := t.TempDir()
	s := &mtlsStack{t: t, dir: dir}
	s.ca = clientcerttest.NewCA(t, "Client CA")
	s.caSigned = s.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{Organization: []string{"Acme"}, CommonName: "ca-worker"}})
	s.self = clientcerttest.SelfSigned(t, &x509.Certificate{Subject: pkix.Name{CommonName: "self-worker"}})
	s.other = clientcerttest.SelfSigned(t, &x509.Certificate{Subject: pkix.Name{CommonName: "intruder"}})
	caFile := filepath.Join(dir, "client-ca.pem")
	if err := os.WriteFile(caFile, s.ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	as, alias, api, upstream := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	s.issuer = fmt.Sprintf("https://localhost:%d/", as)
	s.mtls = fmt.Sprintf("https://localhost:%d/", alias)
	s.api = fmt.Sprintf("https://localhost:%d/", api)
	caddyfile := fmt.Sprintf(`{
%s
	portcullis {
		issuer %s
		storage sqlite %s/p.db
		bootstrap_admin %s %s
		client_ca %s
		edge_key %s
		mtls_endpoint_aliases %s
	}
}
https://localhost:%d {
	tls internal
	authorization_server
}
https://localhost:%d {
	tls internal {
		client_auth {
			mode request
		}
	}
	authorization_server
}
https://localhost:%d {
	tls internal {
		client_auth {
			mode request
		}
	}
	bearer_auth {
		audience %s
	}
	forward_client_cert {
		format rfc9440 auth0 xfcc
		trusted_ca_certs %s
	}
	reverse_proxy 127.0.0.1:%d
}
http://:%d {
	bind 127.0.0.1
	echo
}
`, testenv.TestGlobals(dir), s.issuer, dir, adminID, adminSecret, caFile, edgeKey, s.mtls, as, alias, api, mtlsAudience, caFile, upstream, upstream)
	s.caddy = testenv.Start(t, dir, caddyfile, s.issuer+".well-known/jwks.json")
	cc := clientcredentials.Config{ClientID: adminID, ClientSecret: adminSecret, TokenURL: s.issuer + "oauth/token",
		EndpointParams: url.Values{"audience": {s.issuer + "api/v2/"}}, AuthStyle: oauth2.AuthStyleInParams}
	s.admin = cc.Client(context.WithValue(t.Context(), oauth2.HTTPClient, s.caddy.Client))
	return s
}

// mgmt calls the Management API as the admin and decodes the answer.
func (s *mtlsStack) mgmt(method, path string, body any, want int) map[string]any {
	s.t.Helper()
	api := testutil.ManagementAPI{Base: s.issuer + "api/v2/", Client: s.admin}
	return api.Call(s.t, method, path, body, want)
}

// withCert is an HTTP client presenting cert (none for nil) and trusting
// Caddy's local CA.
func (s *mtlsStack) withCert(cert *clientcerttest.Cert) *http.Client {
	tr := s.caddy.Client.Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{cert.TLS()}
	}
	return &http.Client{Transport: tr}
}

// oauth2Token gets a token over mTLS with golang.org/x/oauth2: the client
// sends its client_id and no secret.
func (s *mtlsStack) oauth2Token(clientID string, cert *clientcerttest.Cert) (*oauth2.Token, error) {
	cc := clientcredentials.Config{ClientID: clientID, TokenURL: s.mtls + "oauth/token",
		EndpointParams: url.Values{"audience": {mtlsAudience}}, AuthStyle: oauth2.AuthStyleInParams}
	return cc.Token(context.WithValue(s.t.Context(), oauth2.HTTPClient, s.withCert(cert)))
}

// curlToken gets a token with curl --cert, as an operator would.
func (s *mtlsStack) curlToken(clientID string, cert *clientcerttest.Cert) string {
	s.t.Helper()
	certFile, keyFile := filepath.Join(s.dir, clientID+".crt"), filepath.Join(s.dir, clientID+".key")
	der, err := x509.MarshalPKCS8PrivateKey(cert.Key)
	if err != nil {
		s.t.Fatal(err)
	}
	os.WriteFile(certFile, cert.PEM(), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	out, err := exec.CommandContext(s.t.Context(), "curl", "-sS", "--fail-with-body", "--cacert", s.caddy.RootCAPath(),
		"--cert", certFile, "--key", keyFile, s.mtls+"oauth/token",
		"-d", "grant_type=client_credentials", "-d", "client_id="+clientID, "-d", "audience="+mtlsAudience).CombinedOutput()
	if err != nil {
		s.t.Fatalf("curl: %v: %s", err, out)
	}
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.AccessToken == "" {
		s.t.Fatalf("curl answered %s", out)
	}
	return resp.AccessToken
}

// callAPI calls the protected API and returns the status and, on 200,
// what the upstream received.
func (s *mtlsStack) callAPI(token string, cert *clientcerttest.Cert, extra http.Header) (int, http.Header) {
	s.t.Helper()
	req, _ := http.NewRequestWithContext(s.t.Context(), "GET", s.api+"x", nil)
	for k, v := range extra {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.withCert(cert).Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var echo struct{ Headers http.Header }
	json.NewDecoder(resp.Body).Decode(&echo)
	return resp.StatusCode, echo.Headers
}

func thumbprintOf(c *clientcerttest.Cert) string {
	return clientcert.FromTLS(c.ConnectionState(), nil, c.Cert.NotBefore).Thumbprint
}

func cnfOf(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Cnf map[string]string `json:"cnf"`
	}
	json.Unmarshal(raw, &c)
	return c.Cnf["x5t#S256"]
}

// TestMTLSEndToEnd is the mTLS acceptance: a CA-signed client and a
// self-signed client, created through the Management API, each get a
// certificate-bound token with curl --cert and with golang.org/x/oauth2 over
// an mTLS client; the protected API takes it with the same certificate and
// forwards that certificate upstream in every format, and refuses it with
// another certificate or none.
func TestMTLSEndToEnd(t *testing.T) {
	s := startMTLSStack(t)
	s.mgmt("POST", "resource-servers", map[string]any{"identifier": mtlsAudience, "scopes": []map[string]string{{"value": "read:x"}},
		"proof_of_possession": map[string]any{"mechanism": "mtls", "required": true}}, 201)
	newClient := func(name, method, credType string, cert *clientcerttest.Cert) string {
		c := s.mgmt("POST", "clients", map[string]any{"name": name, "app_type": "non_interactive",
			"client_authentication_methods": map[string]any{method: map[string]any{"credentials": []map[string]any{
				{"name": name, "credential_type": credType, "pem": string(cert.PEM())}}}}}, 201)
		if c["token_endpoint_auth_method"] != nil {
			t.Fatalf("certificate client has token_endpoint_auth_method %v, want null", c["token_endpoint_auth_method"])
		}
		id := c["client_id"].(string)
		s.mgmt("POST", "client-grants", map[string]any{"client_id": id, "audience": mtlsAudience, "scope": []string{"read:x"}}, 201)
		return id
	}
	for _, tc := range []struct {
		name, method, credType string
		cert                   *clientcerttest.Cert
		verified               string
	}{
		{"CA-signed client", "tls_client_auth", "cert_subject_dn", s.caSigned, "SUCCESS"},
		{"self-signed client", "self_signed_tls_client_auth", "x509_cert", s.self, "FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := newClient(strings.ReplaceAll(tc.name, " ", "-"), tc.method, tc.credType, tc.cert)
			viaOAuth2, err := s.oauth2Token(id, tc.cert)
			if err != nil {
				t.Fatalf("x/oauth2 over mTLS: %v", err)
			}
			for how, token := range map[string]string{"curl": s.curlToken(id, tc.cert), "x/oauth2": viaOAuth2.AccessToken} {
				if got := cnfOf(t, token); got != thumbprintOf(tc.cert) {
					t.Fatalf("%s token cnf = %q, want the certificate's thumbprint", how, got)
				}
				spoof := http.Header{"Client-Cert": {":AAAA:"}, "Client-Certificate": {"spoofed"}, "X-Forwarded-Client-Cert": {"Hash=00"}}
				status, up := s.callAPI(token, tc.cert, spoof)
				if status != 200 {
					t.Fatalf("%s token with its certificate: %d", how, status)
				}
				fwd, err := clientcert.FromHeaders(up, clientcert.FormatRFC9440)
				if err != nil || fwd.Thumbprint != thumbprintOf(tc.cert) {
					t.Fatalf("upstream Client-Cert: %v, %v", fwd.Thumbprint, err)
				}
				a0, err := clientcert.FromHeaders(up, clientcert.FormatAuth0)
				if err != nil || a0.Thumbprint != thumbprintOf(tc.cert) || !strings.HasPrefix(up.Get("Client-Certificate-Ca-Verified"), tc.verified) {
					t.Fatalf("upstream Auth0 headers: %v %q, %v", a0.Thumbprint, up.Get("Client-Certificate-Ca-Verified"), err)
				}
				if x, err := clientcert.FromHeaders(up, clientcert.FormatXFCC); err != nil || x.Thumbprint != thumbprintOf(tc.cert) {
					t.Fatalf("upstream XFCC: %v", err)
				}
				if st, _ := s.callAPI(token, s.other, nil); st != 401 {
					t.Fatalf("%s token with another certificate: %d, want 401", how, st)
				}
				if st, _ := s.callAPI(token, nil, nil); st != 401 {
					t.Fatalf("%s token without a certificate: %d, want 401", how, st)
				}
			}
			if _, err := s.oauth2Token(id, s.other); err == nil {
				t.Fatal("a token for another certificate")
			}
		})
	}
}

// TestMTLSCustomerEdge: behind a customer edge, the certificate arrives in
// Auth0's headers with the cname-api-key; a wrong or missing key refuses
// the request.
func TestMTLSCustomerEdge(t *testing.T) {
	s := startMTLSStack(t)
	s.mgmt("POST", "resource-servers", map[string]any{"identifier": mtlsAudience, "scopes": []map[string]string{{"value": "read:x"}}}, 201)
	c := s.mgmt("POST", "clients", map[string]any{"name": "edge-client", "app_type": "non_interactive",
		"client_authentication_methods": map[string]any{"self_signed_tls_client_auth": map[string]any{"credentials": []map[string]any{
			{"credential_type": "x509_cert", "pem": string(s.self.PEM())}}}}}, 201)
	id := c["client_id"].(string)
	s.mgmt("POST", "client-grants", map[string]any{"client_id": id, "audience": mtlsAudience, "scope": []string{"read:x"}}, 201)
	certHeader, verified := clientcert.Auth0Headers(clientcert.FromTLS(s.self.ConnectionState(), nil, s.self.Cert.NotBefore))
	for _, tc := range []struct {
		name, key string
		want      int
	}{
		{"right key", edgeKey, 200},
		{"wrong key", "not-the-key", 401},
		{"no key", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "audience": {mtlsAudience}}
			req, _ := http.NewRequestWithContext(t.Context(), "POST", s.issuer+"oauth/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("client-certificate", certHeader)
			req.Header.Set("client-certificate-ca-verified", verified)
			if tc.key != "" {
				req.Header.Set("cname-api-key", tc.key)
			}
			resp, err := s.caddy.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// TestMTLSConversion converts a secret client to mTLS and back through the
// Management API, as Auth0's pages show.
func TestMTLSConversion(t *testing.T) {
	s := startMTLSStack(t)
	s.mgmt("POST", "resource-servers", map[string]any{"identifier": mtlsAudience, "scopes": []map[string]string{{"value": "read:x"}}}, 201)
	c := s.mgmt("POST", "clients", map[string]any{"name": "converted", "app_type": "non_interactive"}, 201)
	id, secret := c["client_id"].(string), c["client_secret"].(string)
	s.mgmt("POST", "client-grants", map[string]any{"client_id": id, "audience": mtlsAudience, "scope": []string{"read:x"}}, 201)
	withSecret := func() error {
		cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: s.issuer + "oauth/token",
			EndpointParams: url.Values{"audience": {mtlsAudience}}, AuthStyle: oauth2.AuthStyleInParams}
		_, err := cc.Token(context.WithValue(t.Context(), oauth2.HTTPClient, s.caddy.Client))
		return err
	}
	if err := withSecret(); err != nil {
		t.Fatalf("secret before conversion: %v", err)
	}
	cred := s.mgmt("POST", "clients/"+id+"/credentials", map[string]any{"name": "laptop", "credential_type": "x509_cert", "pem": string(s.self.PEM())}, 201)
	if _, err := s.oauth2Token(id, s.self); err == nil {
		t.Fatal("an uploaded credential worked before it was enabled")
	}
	s.mgmt("PATCH", "clients/"+id, map[string]any{"token_endpoint_auth_method": nil,
		"client_authentication_methods": map[string]any{"self_signed_tls_client_auth": map[string]any{"credentials": []map[string]any{{"id": cred["id"]}}}}}, 200)
	if err := withSecret(); err == nil {
		t.Fatal("the secret still works after conversion to mTLS")
	}
	if _, err := s.oauth2Token(id, s.self); err != nil {
		t.Fatalf("certificate after conversion: %v", err)
	}
	s.mgmt("PATCH", "clients/"+id, map[string]any{"token_endpoint_auth_method": "client_secret_post", "client_authentication_methods": nil}, 200)
	if err := withSecret(); err != nil {
		t.Fatalf("secret after converting back: %v", err)
	}
	if _, err := s.oauth2Token(id, s.self); err == nil {
		t.Fatal("the certificate still works after converting back")
	}
}
