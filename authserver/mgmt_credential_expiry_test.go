package authserver_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
)

// TestManagementCredentialExpiryTakeover: expiring a certificate credential
// retires it (the token endpoint refuses it), so extending or removing the
// expiry of an enabled credential changes how its client authenticates, as
// setting its certificates does: it takes every Management API scope the
// client's grant allows. Otherwise a caller holding update:client_credentials
// and the key of a retired certificate gets back the client's tokens.
func TestManagementCredentialExpiryTakeover(t *testing.T) {
	t.Parallel()
	e := newEnvFrom(t, envSetup{clientCerts: true})
	mgmt := e.mgmtAudience()
	retired := selfSigned(t, uniq("retired"))

	// target authenticates with retired, which the admin has expired.
	target := e.mgmtCaller(t, "read:clients", "delete:clients")
	cred := e.createCredential(t, target.ClientID, x509Body("retired", retired))["id"].(string)
	e.must(t, "PATCH", "clients/"+target.ClientID,
		obj{"token_endpoint_auth_method": nil, "client_authentication_methods": methods("self_signed_tls_client_auth", cred)}, http.StatusOK, nil)
	credPath := "clients/" + target.ClientID + "/credentials/" + cred
	e.must(t, "PATCH", credPath, obj{"expires_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)}, http.StatusOK, nil)
	certToken := func(t *testing.T) reply {
		t.Helper()
		return e.certTokenRequest(t, retired, url.Values{"grant_type": {"client_credentials"}, "client_id": {target.ClientID}, "audience": {mgmt}})
	}
	if r := certToken(t); r.status != http.StatusUnauthorized {
		t.Fatalf("token with an expired credential: %s, want 401", r)
	}

	attacker := e.mgmtCaller(t, "update:client_credentials", "read:clients")
	for _, body := range []obj{
		{"expires_at": nil},
		{"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)},
	} {
		before := e.clientSnapshot(t, target.ClientID)
		wantScopeRefused(t, attacker.call(t, e, "PATCH", credPath, body), "delete:clients", "Insufficient scope, expected any of: delete:clients")
		e.wantClientUnchanged(t, target.ClientID, before)
		if r := certToken(t); r.status != http.StatusUnauthorized {
			t.Fatalf("after a refused PATCH %v, the retired certificate got a token: %s", body, r)
		}
	}

	// Bringing an expiry forward gives nothing: a caller may do it.
	other := e.createCredential(t, target.ClientID, x509Body("spare", selfSigned(t, uniq("spare"))))["id"].(string)
	if r := attacker.call(t, e, "PATCH", "clients/"+target.ClientID+"/credentials/"+other, obj{"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)}); r.status != http.StatusOK {
		t.Fatalf("expiring a credential that is not enabled: %s", r)
	}
	if r := attacker.call(t, e, "PATCH", credPath, obj{"expires_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)}); r.status != http.StatusOK {
		t.Fatalf("bringing an enabled credential's expiry forward: %s", r)
	}

	// The admin, holding every scope, brings the credential back.
	e.must(t, "PATCH", credPath, obj{"expires_at": nil}, http.StatusOK, nil)
	if r := certToken(t); r.status != http.StatusOK {
		t.Fatalf("token after the admin removed the expiry: %s", r)
	}
}

// certTokenRequest posts form to the token endpoint over a TLS connection
// presenting cert.
func (e *env) certTokenRequest(t *testing.T, cert *clientcerttest.Cert, form url.Values) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", e.issuer+"oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.sendWith(t, e.viaCert(cert), req)
}

// TestSubjectCredentialExpiry: an expired cert_subject_dn credential no
// longer authenticates its client, as an expired x509_cert credential does
// not (tls_client_auth checked the subject alone).
func TestSubjectCredentialExpiry(t *testing.T) {
	t.Parallel()
	ca := clientcerttest.NewCA(t, "Client CA")
	e := newEnvFrom(t, envSetup{clientCerts: true, configure: func(c *authserver.Config) { c.ClientCAs = ca.Pool() }})
	name := uniq("worker")
	cert := ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: name}})
	c := e.createClient(t, obj{"name": uniq("dn-"), "app_type": "non_interactive"})
	aud := newAudience("dn-expiry")
	e.createAPI(t, aud, []string{"read:x"}, nil)
	e.grant(t, c.ClientID, aud, "read:x")
	cred := e.createCredential(t, c.ClientID, obj{"name": "worker", "credential_type": "cert_subject_dn", "subject_dn": "CN=" + name})["id"].(string)
	e.must(t, "PATCH", "clients/"+c.ClientID,
		obj{"token_endpoint_auth_method": nil, "client_authentication_methods": methods("tls_client_auth", cred)}, http.StatusOK, nil)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "audience": {aud}}
	if r := e.certTokenRequest(t, cert, form); r.status != http.StatusOK {
		t.Fatalf("token with the credential's subject: %s", r)
	}
	e.must(t, "PATCH", "clients/"+c.ClientID+"/credentials/"+cred, obj{"expires_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)}, http.StatusOK, nil)
	if r := e.certTokenRequest(t, cert, form); r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "invalid_client") {
		t.Fatalf("token with an expired cert_subject_dn credential: %s, want 401 invalid_client", r)
	}
}
