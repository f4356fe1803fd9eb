package authserver_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
	"github.com/portcullis-gw/portcullis/clientcert"
	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
)

// TestCertificateClientAuthentication: clients with
// client_authentication_methods authenticate at the token endpoint with a
// TLS client certificate (RFC 8705 section 2), from this server's own TLS
// or forwarded by a customer edge that knows the cname-api-key; their
// secret is refused.
func TestCertificateClientAuthentication(t *testing.T) {
	const edgeKey = "edge-key-0123456789"
	const audience = "https://api.example.com/mtls"
	ca := clientcerttest.NewCA(t, "Client CA")
	otherCA := clientcerttest.NewCA(t, "Other CA")
	subject := pkix.Name{Country: []string{"NL"}, Organization: []string{"Acme, Inc."}, CommonName: "worker"}
	caSigned := ca.Issue(t, &x509.Certificate{Subject: subject})
	sameDNOtherCA := otherCA.Issue(t, &x509.Certificate{Subject: subject})
	otherDN := ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "someone else"}})
	selfSigned := clientcerttest.SelfSigned(t, &x509.Certificate{Subject: pkix.Name{CommonName: "laptop"}})
	anotherSelfSigned := clientcerttest.SelfSigned(t, &x509.Certificate{Subject: pkix.Name{CommonName: "laptop"}})
	expired := clientcerttest.SelfSigned(t, &x509.Certificate{Subject: pkix.Name{CommonName: "old"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})

	var handler atomic.Pointer[http.Handler]
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := authserver.New(t.Context(), authserver.Config{Issuer: ts.URL + "/", Store: st, ClientCAs: ca.Pool(), EdgeKey: edgeKey})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	handler.Store(&h)

	ctx := t.Context()
	api := &access.ResourceServer{ID: "mtls", Identifier: audience, Scopes: []access.Scope{{Value: "read:x"}},
		ProofOfPossession: &access.ProofOfPossession{Mechanism: "mtls"}}
	api.ApplyDefaults()
	if err := st.CreateResourceServer(ctx, api); err != nil {
		t.Fatal(err)
	}
	newClient := func(id, method, credType string, certs ...*clientcerttest.Cert) {
		t.Helper()
		c := &clients.Client{ClientID: id, Name: id, AppType: clients.AppNonInteractive, SecretHash: []byte("unused")}
		refs := &clients.MethodCredentials{}
		for i, cert := range certs {
			cr, err := clients.NewCredential(id+"-cred"+string(rune('a'+i)), "", credType, string(cert.PEM()), "", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			c.Credentials = append(c.Credentials, *cr)
			refs.Credentials = append(refs.Credentials, clients.CredentialRef{ID: cr.ID})
		}
		c.ClientAuthenticationMethods = &clients.AuthenticationMethods{}
		if method == "tls_client_auth" {
			c.ClientAuthenticationMethods.TLSClientAuth = refs
		} else {
			c.ClientAuthenticationMethods.SelfSignedTLSClientAuth = refs
		}
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateClientGrant(ctx, &access.ClientGrant{ID: "cgr_" + id, ClientID: id, Audience: audience, SubjectType: access.SubjectClient, Scope: []string{"read:x"}}); err != nil {
			t.Fatal(err)
		}
	}
	newClient("ca-client", "tls_client_auth", clients.CredentialSubjectDN, caSigned)
	newClient("self-client", "self_signed_tls_client_auth", clients.CredentialX509Cert, selfSigned)
	newClient("expired-client", "self_signed_tls_client_auth", clients.CredentialX509Cert, expired)

	withCert := func(cert *clientcerttest.Cert) *http.Client {
		tr := ts.Client().Transport.(*http.Transport).Clone()
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{cert.TLS()}
		}
		return &http.Client{Transport: tr}
	}
	// auth0Headers is what a customer edge forwards; it verifies the chain
	// against roots, nil for none.
	auth0Headers := func(cert *clientcerttest.Cert, roots *x509.CertPool, key string) http.Header {
		c, v := clientcert.Auth0Headers(clientcert.FromTLS(cert.ConnectionState(), roots, time.Now()))
		h := http.Header{"Client-Certificate": {c}, "Client-Certificate-Ca-Verified": {v}}
		if key != "" {
			h.Set("cname-api-key", key)
		}
		return h
	}
	for _, tc := range []struct {
		name     string
		clientID string
		conn     *clientcerttest.Cert
		header   http.Header
		secret   string
		status   int
		desc     string
	}{
		{"self-signed client with its certificate", "self-client", selfSigned, nil, "", 200, ""},
		{"self-signed client with another self-signed certificate", "self-client", anotherSelfSigned, nil, "", 401, "matches none"},
		{"self-signed client without a certificate", "self-client", nil, nil, "", 401, "none was presented"},
		{"self-signed client with its certificate and a secret", "self-client", selfSigned, nil, "unused-secret-0123456789012345678901", 401, "not a secret"},
		{"CA client with its certificate", "ca-client", caSigned, nil, "", 200, ""},
		{"CA client, same subject from another CA", "ca-client", sameDNOtherCA, nil, "", 401, "matches none"},
		{"CA client, certificate of another subject", "ca-client", otherDN, nil, "", 401, "matches none"},
		{"registered but expired certificate", "expired-client", expired, nil, "", 401, "expired"},
		{"customer edge with the key", "self-client", nil, auth0Headers(selfSigned, nil, edgeKey), "", 200, ""},
		{"customer edge, CA client the edge verified", "ca-client", nil, auth0Headers(caSigned, ca.Pool(), edgeKey), "", 200, ""},
		{"customer edge, CA client the edge did not verify", "ca-client", nil, auth0Headers(caSigned, nil, edgeKey), "", 401, "matches none"},
		{"customer edge with a wrong key", "self-client", nil, auth0Headers(selfSigned, nil, "wrong"), "", 401, "cname-api-key"},
		{"customer edge without the key", "self-client", nil, auth0Headers(selfSigned, nil, ""), "", 401, "cname-api-key"},
		{"customer edge with garbage", "self-client", nil, http.Header{"Client-Certificate": {"%%%garbage"}, "Client-Certificate-Ca-Verified": {"FAILED"}, "Cname-Api-Key": {edgeKey}}, "", 400, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {tc.clientID}, "audience": {audience}}
			if tc.secret != "" {
				form.Set("client_secret", tc.secret)
			}
			req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.URL+"/oauth/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := withCert(tc.conn).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %v, want %d", resp.StatusCode, body, tc.status)
			}
			if tc.status != 200 {
				if d, _ := body["error_description"].(string); !strings.Contains(d, tc.desc) {
					t.Fatalf("error_description %q, want %q", d, tc.desc)
				}
				return
			}
			// The API asks for proof of possession: the token is bound to
			// the certificate the client authenticated with.
			tok, _ := body["access_token"].(string)
			parts := strings.Split(tok, ".")
			if len(parts) != 3 {
				t.Fatalf("no token: %v", body)
			}
			var payload struct {
				Cnf map[string]string `json:"cnf"`
			}
			raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
			json.Unmarshal(raw, &payload)
			presented := tc.conn
			if presented == nil { // the certificate the edge forwarded
				presented = map[string]*clientcerttest.Cert{"self-client": selfSigned, "ca-client": caSigned}[tc.clientID]
			}
			want := clientcert.FromTLS(presented.ConnectionState(), nil, time.Now()).Thumbprint
			if payload.Cnf["x5t#S256"] != want {
				t.Fatalf("cnf = %v, want x5t#S256 %s", payload.Cnf, want)
			}
		})
	}
}
