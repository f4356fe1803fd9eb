package authserver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
)

// seedDN is the subject of the seed's openssl example, in Auth0's
// subject_dn form.
const seedDN = "C=XX\nST=StateName\nL=CityName\nO=CompanyName\nOU=CompanySectionName\nCN=CommonNameOrHostname"

// subject is the seed's subject with common name cn.
func subject(cn string) pkix.Name {
	return pkix.Name{
		Country: []string{"XX"}, Province: []string{"StateName"}, Locality: []string{"CityName"},
		Organization: []string{"CompanyName"}, OrganizationalUnit: []string{"CompanySectionName"}, CommonName: cn,
	}
}

// selfSigned returns a self-signed client certificate with the seed's
// subject and common name cn.
func selfSigned(t *testing.T, cn string) *clientcerttest.Cert {
	t.Helper()
	return clientcerttest.SelfSigned(t, &x509.Certificate{Subject: subject(cn)})
}

// crlfPEM is c's PEM with \r\n line ends, as Auth0's documentation has
// users send it.
func crlfPEM(c *clientcerttest.Cert) string {
	return strings.ReplaceAll(string(c.PEM()), "\n", "\r\n")
}

func thumbprint(c *clientcerttest.Cert) string {
	sum := sha256.Sum256(c.Cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// clientSnapshot is what the Management API returns for the client and its
// credentials: what a refused write must leave as it was.
func (e *env) clientSnapshot(t *testing.T, id string) string {
	t.Helper()
	return string(e.must(t, "GET", "clients/"+id, nil, http.StatusOK, nil).body) + "\n" +
		string(e.must(t, "GET", "clients/"+id+"/credentials", nil, http.StatusOK, nil).body)
}

func (e *env) wantClientUnchanged(t *testing.T, id, before string) {
	t.Helper()
	if after := e.clientSnapshot(t, id); after != before {
		t.Errorf("a refused request changed the client:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// createCredential adds a credential to client id and returns it.
func (e *env) createCredential(t *testing.T, id string, body obj) map[string]any {
	t.Helper()
	var cr map[string]any
	e.must(t, "POST", "clients/"+id+"/credentials", body, http.StatusCreated, &cr)
	if s, _ := cr["id"].(string); !strings.HasPrefix(s, "cred_") || len(s) != len("cred_")+16 {
		t.Fatalf("credential id %v, want cred_ and 16 characters", cr["id"])
	}
	return cr
}

// x509Body is the body that registers c as an x509_cert credential.
func x509Body(name string, c *clientcerttest.Cert) obj {
	return obj{"name": name, "credential_type": "x509_cert", "pem": crlfPEM(c)}
}

// methods is client_authentication_methods naming credential ids under
// method.
func methods(method string, ids ...string) obj {
	refs := []obj{}
	for _, id := range ids {
		refs = append(refs, obj{"id": id})
	}
	return obj{method: obj{"credentials": refs}}
}

// wantTime checks that v is an ISO 8601 time equal to want.
func wantTime(t *testing.T, what string, v any, want time.Time) {
	t.Helper()
	s, _ := v.(string)
	got, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !got.Equal(want) {
		t.Errorf("%s = %v, want %s", what, v, want.UTC().Format(time.RFC3339Nano))
	}
}

// wantNoCredentials checks that a client response does not carry the
// credentials themselves.
func wantNoCredentials(t *testing.T, r reply) {
	t.Helper()
	var doc any
	r.decode(t, &doc)
	for _, key := range []string{"credentials", "thumbprint_sha256", "subject_dn"} {
		if m, ok := doc.(map[string]any); ok {
			if _, has := m[key]; has {
				t.Errorf("client response carries %s: %s", key, r.body)
			}
		}
	}
	for _, s := range []string{"thumbprint_sha256", "subject_dn", "credential_type"} {
		if strings.Contains(string(r.body), s) {
			t.Errorf("client response carries %s: %s", s, r.body)
		}
	}
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("x509_cert: create, list, get, update expires_at, delete", func(t *testing.T) {
		id := e.createClient(t, obj{"name": uniq("x509-"), "app_type": "non_interactive"}).ClientID
		cert := selfSigned(t, "worker")
		cr := e.createCredential(t, id, x509Body("my cert", cert))
		credID := cr["id"].(string)
		if cr["name"] != "my cert" || cr["credential_type"] != "x509_cert" || cr["thumbprint_sha256"] != thumbprint(cert) ||
			cr["subject_dn"] != strings.Replace(seedDN, "CommonNameOrHostname", "worker", 1) {
			t.Errorf("created credential %v", cr)
		}
		wantTime(t, "expires_at", cr["expires_at"], cert.Cert.NotAfter)
		if _, err := time.Parse(time.RFC3339Nano, cr["created_at"].(string)); err != nil {
			t.Errorf("created_at %v: %v", cr["created_at"], err)
		}
		if _, ok := cr["pem"]; ok {
			t.Errorf("the credential is returned with its pem: %v", cr)
		}

		var list []map[string]any
		e.must(t, "GET", "clients/"+id+"/credentials", nil, http.StatusOK, &list)
		if len(list) != 1 || !jsonEqual(list[0], cr) {
			t.Errorf("list = %v, want [%v]", list, cr)
		}
		var got map[string]any
		got = e.must(t, "GET", "clients/"+id+"/credentials/"+credID, nil, http.StatusOK, nil).object(t)
		if !jsonEqual(got, cr) {
			t.Errorf("GET = %v, want %v", got, cr)
		}
		wantNoCredentials(t, e.must(t, "GET", "clients/"+id, nil, http.StatusOK, nil))
		wantNoCredentials(t, e.must(t, "GET", "clients/"+id+"?fields=credentials,client_id", nil, http.StatusOK, nil))
		wantNoCredentials(t, e.must(t, "GET", "clients?per_page=100", nil, http.StatusOK, nil))
		wantNoCredentials(t, e.must(t, "GET", "clients?include_totals=true", nil, http.StatusOK, nil))

		later := "2031-02-03T04:05:06.789Z"
		got = e.must(t, "PATCH", "clients/"+id+"/credentials/"+credID, obj{"expires_at": later}, http.StatusOK, nil).object(t)
		wantTime(t, "expires_at after PATCH", got["expires_at"], time.Date(2031, 2, 3, 4, 5, 6, 789e6, time.UTC))
		if got["id"] != credID || got["thumbprint_sha256"] != cr["thumbprint_sha256"] || got["name"] != "my cert" {
			t.Errorf("PATCH expires_at changed more: %v", got)
		}
		got = e.must(t, "GET", "clients/"+id+"/credentials/"+credID, nil, http.StatusOK, nil).object(t)
		wantTime(t, "expires_at read back", got["expires_at"], time.Date(2031, 2, 3, 4, 5, 6, 789e6, time.UTC))
		got = e.must(t, "PATCH", "clients/"+id+"/credentials/"+credID, obj{"expires_at": "2030-01-01T02:00:00+02:00"}, http.StatusOK, nil).object(t)
		wantTime(t, "expires_at with an offset", got["expires_at"], time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		got = e.must(t, "PATCH", "clients/"+id+"/credentials/"+credID, obj{"expires_at": nil}, http.StatusOK, nil).object(t)
		if _, ok := got["expires_at"]; ok {
			t.Errorf("expires_at after null: %v", got["expires_at"])
		}
		e.must(t, "PATCH", "clients/"+id+"/credentials/"+credID, obj{"expires_at": later}, http.StatusOK, nil)

		before := e.clientSnapshot(t, id)
		for _, tc := range []struct {
			name string
			body any
			msg  string
		}{
			{"name", obj{"name": "renamed"}, "name cannot be changed: only expires_at"},
			{"credential_type", obj{"credential_type": "cert_subject_dn"}, "credential_type cannot be changed"},
			{"pem", obj{"pem": crlfPEM(selfSigned(t, "other"))}, "pem cannot be changed"},
			{"subject_dn", obj{"subject_dn": "CN=x"}, "subject_dn cannot be changed"},
			{"with expires_at", obj{"expires_at": later, "name": "x"}, "name cannot be changed"},
			{"unknown property", obj{"alg": "RS256"}, "Additional properties not allowed: alg"},
			{"not a date", obj{"expires_at": "next tuesday"}, "expires_at must be an ISO 8601 date"},
			{"a number", obj{"expires_at": 1893456000}, "'Expected type string but found type number' on property expires_at"},
			{"malformed", `{"expires_at":`, "Invalid request payload JSON format"},
		} {
			t.Run("PATCH "+tc.name, func(t *testing.T) {
				wantMgmtError(t, e.mgmt(t, "PATCH", "clients/"+id+"/credentials/"+credID, tc.body), 400, "invalid_body", tc.msg)
				e.wantClientUnchanged(t, id, before)
			})
		}

		// The credential lives in the client's stored document.
		e.restart(t)
		got = e.must(t, "GET", "clients/"+id+"/credentials/"+credID, nil, http.StatusOK, nil).object(t)
		if got["thumbprint_sha256"] != thumbprint(cert) {
			t.Errorf("after a restart: %v", got)
		}

		e.must(t, "DELETE", "clients/"+id+"/credentials/"+credID, nil, http.StatusNoContent, nil)
		wantMgmtError(t, e.mgmt(t, "GET", "clients/"+id+"/credentials/"+credID, nil), 404, "inexistent_credential", "credential")
		wantMgmtError(t, e.mgmt(t, "DELETE", "clients/"+id+"/credentials/"+credID, nil), 404, "inexistent_credential", "credential")
		wantMgmtError(t, e.mgmt(t, "PATCH", "clients/"+id+"/credentials/"+credID, obj{"expires_at": later}), 404, "inexistent_credential", "credential")
		if r := e.must(t, "GET", "clients/"+id+"/credentials", nil, http.StatusOK, nil); strings.TrimSpace(string(r.body)) != "[]" {
			t.Errorf("list after delete: %s, want []", r.body)
		}
	})

	t.Run("cert_subject_dn from pem and from subject_dn", func(t *testing.T) {
		id := e.createClient(t, obj{"name": uniq("dn-"), "app_type": "non_interactive"}).ClientID
		ca := clientcerttest.NewCA(t, "Test CA")
		leaf := ca.Issue(t, &x509.Certificate{Subject: subject("CommonNameOrHostname")})
		fromPEM := e.createCredential(t, id, obj{"name": "from pem", "credential_type": "cert_subject_dn", "pem": crlfPEM(leaf)})
		if fromPEM["subject_dn"] != seedDN || fromPEM["credential_type"] != "cert_subject_dn" {
			t.Errorf("cert_subject_dn from pem: %v, want subject_dn %q", fromPEM, seedDN)
		}
		if _, ok := fromPEM["thumbprint_sha256"]; ok {
			t.Errorf("a cert_subject_dn credential has a thumbprint: %v", fromPEM)
		}
		wantTime(t, "expires_at", fromPEM["expires_at"], leaf.Cert.NotAfter)

		other := e.createClient(t, obj{"name": uniq("dn-"), "app_type": "non_interactive"}).ClientID
		dn := e.createCredential(t, other, obj{"name": "from dn", "credential_type": "cert_subject_dn", "subject_dn": seedDN})
		if dn["subject_dn"] != seedDN {
			t.Errorf("cert_subject_dn from subject_dn: %v", dn)
		}
		for _, k := range []string{"thumbprint_sha256", "expires_at"} {
			if _, ok := dn[k]; ok {
				t.Errorf("a credential made from a subject_dn has %s: %v", k, dn)
			}
		}
		// A name is optional.
		e.createCredential(t, other, obj{"credential_type": "cert_subject_dn", "subject_dn": "CN=other\r\n"})
	})

	t.Run("refused credentials", func(t *testing.T) {
		id := e.createClient(t, obj{"name": uniq("bad-"), "app_type": "non_interactive"}).ClientID
		a, b := selfSigned(t, "a"), selfSigned(t, "b")
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		before := e.clientSnapshot(t, id)
		for _, tc := range []struct {
			name string
			body any
			msg  string
		}{
			{"garbage pem", obj{"credential_type": "x509_cert", "pem": "not a certificate"}, "pem must hold one PEM certificate"},
			{"two certificates", obj{"credential_type": "x509_cert", "pem": string(a.PEM()) + string(b.PEM())}, "pem must hold exactly one certificate"},
			{"a private key", obj{"credential_type": "x509_cert", "pem": keyPEM}, "pem must hold one PEM certificate"},
			{"a corrupt certificate", obj{"credential_type": "x509_cert", "pem": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}))}, "pem: invalid certificate"},
			{"unknown credential_type", obj{"credential_type": "public_key", "pem": string(a.PEM())}, "credential_type must be x509_cert or cert_subject_dn"},
			{"no credential_type", obj{"name": "x", "pem": string(a.PEM())}, "Missing required property: credential_type"},
			{"pem and subject_dn", obj{"credential_type": "cert_subject_dn", "pem": string(a.PEM()), "subject_dn": seedDN}, "takes pem or subject_dn, not both"},
			{"x509_cert with a subject_dn", obj{"credential_type": "x509_cert", "subject_dn": seedDN}, "x509_cert credential takes pem"},
			{"x509_cert with pem and subject_dn", obj{"credential_type": "x509_cert", "pem": string(a.PEM()), "subject_dn": seedDN}, "x509_cert credential takes pem, the certificate, and no subject_dn"},
			{"cert_subject_dn with neither", obj{"credential_type": "cert_subject_dn", "name": "x"}, "needs pem or subject_dn"},
			{"unknown DN attribute", obj{"credential_type": "cert_subject_dn", "subject_dn": "C=XX\nXX=1\nCN=a"}, `subject_dn: unknown attribute "XX"`},
			{"DN line without =", obj{"credential_type": "cert_subject_dn", "subject_dn": "CN=a\nworker"}, `"worker" is not NAME=value`},
			{"blank DN", obj{"credential_type": "cert_subject_dn", "subject_dn": "\n \n"}, "subject_dn is empty"},
			{"unknown property", obj{"credential_type": "x509_cert", "pem": string(a.PEM()), "parse_expiry_from_cert": true}, "Additional properties not allowed: parse_expiry_from_cert"},
			{"name not a string", obj{"credential_type": "x509_cert", "pem": string(a.PEM()), "name": 5}, "'Expected type string but found type number' on property name"},
			{"not an object", `["x509_cert"]`, "'Expected type object but found type array'"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantMgmtError(t, e.mgmt(t, "POST", "clients/"+id+"/credentials", tc.body), 400, "invalid_body", tc.msg)
				e.wantClientUnchanged(t, id, before)
			})
		}
	})

	t.Run("at most two, and no duplicates", func(t *testing.T) {
		id := e.createClient(t, obj{"name": uniq("limit-"), "app_type": "non_interactive"}).ClientID
		a := selfSigned(t, "a")
		first := e.createCredential(t, id, x509Body("a", a))
		before := e.clientSnapshot(t, id)
		// The same certificate, with \n line ends this time.
		wantMgmtError(t, e.mgmt(t, "POST", "clients/"+id+"/credentials", obj{"name": "again", "credential_type": "x509_cert", "pem": string(a.PEM())}),
			409, "conflict", first["id"].(string))
		e.wantClientUnchanged(t, id, before)

		// The same certificate as a cert_subject_dn is another credential.
		dn := e.createCredential(t, id, obj{"credential_type": "cert_subject_dn", "pem": string(a.PEM())})
		before = e.clientSnapshot(t, id)
		for _, tc := range []struct {
			name string
			body obj
		}{
			{"the same subject_dn", obj{"credential_type": "cert_subject_dn", "subject_dn": dn["subject_dn"]}},
			{"the same subject_dn, other spelling", obj{"credential_type": "cert_subject_dn", "subject_dn": "c=XX\r\nst=StateName\nL=CityName\nO=CompanyName\nOU=CompanySectionName\n cn=a\n"}},
			{"another certificate with the subject", obj{"credential_type": "cert_subject_dn", "pem": crlfPEM(selfSigned(t, "a"))}},
			{"the same certificate", x509Body("again", a)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantMgmtError(t, e.mgmt(t, "POST", "clients/"+id+"/credentials", tc.body), 409, "conflict", "already has this credential")
				e.wantClientUnchanged(t, id, before)
			})
		}
		t.Run("a third", func(t *testing.T) {
			wantMgmtError(t, e.mgmt(t, "POST", "clients/"+id+"/credentials", x509Body("third", selfSigned(t, "c"))), 400, "invalid_body", "at most 2 credentials")
			e.wantClientUnchanged(t, id, before)
		})
		// Deleting one makes room.
		e.must(t, "DELETE", "clients/"+id+"/credentials/"+dn["id"].(string), nil, http.StatusNoContent, nil)
		e.createCredential(t, id, x509Body("third", selfSigned(t, "c")))
	})

	t.Run("convert to mTLS and back", func(t *testing.T) {
		for _, tc := range []struct{ method, credentialType string }{
			{"self_signed_tls_client_auth", "x509_cert"},
			{"tls_client_auth", "cert_subject_dn"},
		} {
			t.Run(tc.method, func(t *testing.T) {
				fx := e.newFixture(t, "convert")
				id := fx.client.ClientID
				cert := selfSigned(t, uniq("convert"))
				cr := e.createCredential(t, id, obj{"name": "c1", "credential_type": tc.credentialType, "pem": crlfPEM(cert)})
				credID := cr["id"].(string)

				// Uploaded credentials are not enabled by themselves.
				var c map[string]any
				c = e.must(t, "GET", "clients/"+id, nil, http.StatusOK, nil).object(t)
				if c["token_endpoint_auth_method"] != "client_secret_post" || c["client_authentication_methods"] != nil {
					t.Fatalf("client after a credential upload: %v", c)
				}

				before := e.clientSnapshot(t, id)
				// Without token_endpoint_auth_method null, the client
				// would have both.
				wantMgmtError(t, e.mgmt(t, "PATCH", "clients/"+id, obj{"client_authentication_methods": methods(tc.method, credID)}),
					400, "invalid_body", "client_authentication_methods requires token_endpoint_auth_method to be null")
				e.wantClientUnchanged(t, id, before)

				r := e.must(t, "PATCH", "clients/"+id, obj{
					"token_endpoint_auth_method":    nil,
					"client_authentication_methods": methods(tc.method, credID),
				}, http.StatusOK, nil)
				c = r.object(t)
				wantNoCredentials(t, r)
				wantNoSecret(t, r, fx.client.ClientSecret)
				if v, ok := c["token_endpoint_auth_method"]; !ok || v != nil {
					t.Errorf("token_endpoint_auth_method after conversion: %v (present %v), want null", v, ok)
				}
				if !jsonEqual(c["client_authentication_methods"], methods(tc.method, credID)) {
					t.Errorf("client_authentication_methods = %v, want %v", c["client_authentication_methods"], methods(tc.method, credID))
				}
				var got map[string]any
				got = e.must(t, "GET", "clients/"+id, nil, http.StatusOK, nil).object(t)
				if !jsonEqual(got, c) {
					t.Errorf("GET after conversion = %v, PATCH returned %v", got, c)
				}
				got = e.must(t, "GET", "clients/"+id+"?fields=token_endpoint_auth_method,client_authentication_methods", nil, http.StatusOK, nil).object(t)
				if len(got) != 2 || got["token_endpoint_auth_method"] != nil || !jsonEqual(got["client_authentication_methods"], methods(tc.method, credID)) {
					t.Errorf("projected: %v", got)
				}

				// Other changes leave the method alone.
				got = e.must(t, "PATCH", "clients/"+id, obj{"description": "mTLS now"}, http.StatusOK, nil).object(t)
				if got["token_endpoint_auth_method"] != nil || !jsonEqual(got["client_authentication_methods"], methods(tc.method, credID)) {
					t.Errorf("after an unrelated PATCH: %v", got)
				}

				before = e.clientSnapshot(t, id)
				wantMgmtError(t, e.mgmt(t, "DELETE", "clients/"+id+"/credentials/"+credID, nil), 400, "credential_in_use", "must be unassociated first")
				e.wantClientUnchanged(t, id, before)
				for _, tc := range []struct {
					name string
					body obj
					msg  string
				}{
					{"a secret method alone", obj{"token_endpoint_auth_method": "client_secret_post"}, "client_authentication_methods requires token_endpoint_auth_method to be null"},
					{"methods null alone", obj{"client_authentication_methods": nil}, "token_endpoint_auth_method is required unless client_authentication_methods is set"},
				} {
					t.Run(tc.name, func(t *testing.T) {
						wantMgmtError(t, e.mgmt(t, "PATCH", "clients/"+id, tc.body), 400, "invalid_body", tc.msg)
						e.wantClientUnchanged(t, id, before)
					})
				}

				// Rotation: a second credential enabled beside the first,
				// then alone; then the first can go.
				var cr2 map[string]any
				if tc.credentialType == "x509_cert" {
					cr2 = e.createCredential(t, id, x509Body("c2", selfSigned(t, uniq("rotated"))))
				} else {
					cr2 = e.createCredential(t, id, obj{"name": "c2", "credential_type": "cert_subject_dn", "subject_dn": "CN=" + uniq("rotated")})
				}
				cred2 := cr2["id"].(string)
				got = e.must(t, "PATCH", "clients/"+id, obj{"client_authentication_methods": methods(tc.method, credID, cred2)}, http.StatusOK, nil).object(t)
				if !jsonEqual(got["client_authentication_methods"], methods(tc.method, credID, cred2)) {
					t.Errorf("both enabled: %v", got["client_authentication_methods"])
				}
				got = e.must(t, "PATCH", "clients/"+id, obj{"client_authentication_methods": methods(tc.method, cred2)}, http.StatusOK, nil).object(t)
				if !jsonEqual(got["client_authentication_methods"], methods(tc.method, cred2)) {
					t.Errorf("the second alone: %v", got["client_authentication_methods"])
				}
				e.must(t, "DELETE", "clients/"+id+"/credentials/"+credID, nil, http.StatusNoContent, nil)
				before = e.clientSnapshot(t, id)
				wantMgmtError(t, e.mgmt(t, "DELETE", "clients/"+id+"/credentials/"+cred2, nil), 400, "credential_in_use", "client_authentication_methods."+tc.method)
				e.wantClientUnchanged(t, id, before)

				// Revert, exactly as Auth0's documentation shows.
				r = e.must(t, "PATCH", "clients/"+id, obj{
					"token_endpoint_auth_method":    "client_secret_post",
					"client_authentication_methods": nil,
				}, http.StatusOK, nil)
				c = r.object(t)
				wantNoCredentials(t, r)
				if c["token_endpoint_auth_method"] != "client_secret_post" || c["client_authentication_methods"] != nil {
					t.Errorf("after revert: %v", c)
				}
				// The secret survived the round trip.
				e.token(t, fx.client, fx.audience)
				e.must(t, "DELETE", "clients/"+id+"/credentials/"+cred2, nil, http.StatusNoContent, nil)
			})
		}
	})

	t.Run("refused conversions", func(t *testing.T) {
		id := e.createClient(t, obj{"name": uniq("refused-"), "app_type": "non_interactive"}).ClientID
		x := e.createCredential(t, id, x509Body("x", selfSigned(t, "x")))["id"].(string)
		d := e.createCredential(t, id, obj{"credential_type": "cert_subject_dn", "subject_dn": "CN=d"})["id"].(string)
		other := e.createClient(t, obj{"name": uniq("other-"), "app_type": "non_interactive"}).ClientID
		foreign := e.createCredential(t, other, x509Body("foreign", selfSigned(t, "foreign")))["id"].(string)
		convert := func(m any) obj { return obj{"token_endpoint_auth_method": nil, "client_authentication_methods": m} }
		before := e.clientSnapshot(t, id)
		for _, tc := range []struct {
			name string
			body obj
			msg  string
		}{
			{"missing id", convert(methods("self_signed_tls_client_auth", "cred_missing")), `client_authentication_methods.self_signed_tls_client_auth: no credential "cred_missing" on this client`},
			{"another client's credential", convert(methods("self_signed_tls_client_auth", foreign)), "no credential " + `"` + foreign + `"`},
			{"x509_cert under tls_client_auth", convert(methods("tls_client_auth", x)), "client_authentication_methods.tls_client_auth takes cert_subject_dn credentials"},
			{"cert_subject_dn under self_signed_tls_client_auth", convert(methods("self_signed_tls_client_auth", d)), "client_authentication_methods.self_signed_tls_client_auth takes x509_cert credentials"},
			{"one wrong among right", convert(methods("tls_client_auth", d, x)), "takes cert_subject_dn credentials"},
			{"no method", convert(obj{}), "must enable tls_client_auth or self_signed_tls_client_auth"},
			{"null methods", convert(obj{"tls_client_auth": nil}), "must enable tls_client_auth or self_signed_tls_client_auth"},
			{"no credentials", convert(methods("tls_client_auth")), "client_authentication_methods.tls_client_auth.credentials must name at least one credential"},
			{"a definition instead of an id", convert(obj{"self_signed_tls_client_auth": obj{"credentials": []obj{{"credential_type": "x509_cert", "pem": crlfPEM(selfSigned(t, "new"))}}}}), "names an existing credential of the client by id alone"},
			{"an id with a definition", convert(obj{"tls_client_auth": obj{"credentials": []obj{{"id": d, "subject_dn": "CN=d"}}}}), "by id alone"},
			{"an id twice", convert(methods("tls_client_auth", d, d)), "is listed twice"},
			{"private_key_jwt", convert(obj{"private_key_jwt": obj{"credentials": []obj{{"id": x}}}}), "Additional properties not allowed: private_key_jwt"},
			{"an id that is not a string", convert(obj{"tls_client_auth": obj{"credentials": []obj{{"id": 5}}}}), "on property client_authentication_methods.tls_client_auth.credentials.id"},
			{"with a secret method", obj{"token_endpoint_auth_method": "client_secret_basic", "client_authentication_methods": methods("tls_client_auth", d)}, "requires token_endpoint_auth_method to be null"},
			{"null method alone", obj{"token_endpoint_auth_method": nil}, "token_endpoint_auth_method is required unless client_authentication_methods is set"},
			{"methods not an object", obj{"client_authentication_methods": "tls_client_auth"}, "on property client_authentication_methods"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantMgmtError(t, e.mgmt(t, "PATCH", "clients/"+id, tc.body), 400, "invalid_body", tc.msg)
				e.wantClientUnchanged(t, id, before)
			})
		}
		// Both methods at once are fine.
		var got map[string]any
		both := obj{"tls_client_auth": obj{"credentials": []obj{{"id": d}}}, "self_signed_tls_client_auth": obj{"credentials": []obj{{"id": x}}}}
		got = e.must(t, "PATCH", "clients/"+id, convert(both), http.StatusOK, nil).object(t)
		if !jsonEqual(got["client_authentication_methods"], both) {
			t.Errorf("both methods: %v", got["client_authentication_methods"])
		}
		// Methods are replaced as a whole.
		got = e.must(t, "PATCH", "clients/"+id, obj{"client_authentication_methods": methods("tls_client_auth", d)}, http.StatusOK, nil).object(t)
		if !jsonEqual(got["client_authentication_methods"], methods("tls_client_auth", d)) {
			t.Errorf("after replacing: %v", got["client_authentication_methods"])
		}
		e.must(t, "DELETE", "clients/"+id+"/credentials/"+x, nil, http.StatusNoContent, nil)
	})

	t.Run("create an mTLS client", func(t *testing.T) {
		cert := selfSigned(t, uniq("inline"))
		// The seed's "create a new client" request.
		var c map[string]any
		r := e.must(t, "POST", "clients", obj{
			"name":     uniq("mtls-"),
			"app_type": "non_interactive",
			"client_authentication_methods": obj{"self_signed_tls_client_auth": obj{"credentials": []obj{{
				"name": "inline cert", "credential_type": "x509_cert", "pem": crlfPEM(cert),
			}}}},
			"jwt_configuration": obj{"alg": "RS256"},
		}, http.StatusCreated, nil)
		c = r.object(t)
		wantNoCredentials(t, r)
		id := c["client_id"].(string)
		if v, ok := c["token_endpoint_auth_method"]; !ok || v != nil {
			t.Errorf("token_endpoint_auth_method = %v (present %v), want null", v, ok)
		}
		if s, _ := c["client_secret"].(string); len(s) < 32 {
			t.Errorf("client_secret %v: a certificate client still gets a secret, for reverting", c["client_secret"])
		}
		if !jsonEqual(c["grant_types"], []string{"client_credentials"}) {
			t.Errorf("grant_types = %v", c["grant_types"])
		}
		var list []map[string]any
		e.must(t, "GET", "clients/"+id+"/credentials", nil, http.StatusOK, &list)
		if len(list) != 1 || list[0]["name"] != "inline cert" || list[0]["credential_type"] != "x509_cert" || list[0]["thumbprint_sha256"] != thumbprint(cert) {
			t.Fatalf("credentials of the new client: %v", list)
		}
		if !jsonEqual(c["client_authentication_methods"], methods("self_signed_tls_client_auth", list[0]["id"].(string))) {
			t.Errorf("client_authentication_methods = %v, want the new credential's id %v", c["client_authentication_methods"], list[0]["id"])
		}
		got := e.must(t, "GET", "clients/"+id, nil, http.StatusOK, nil).object(t)
		delete(c, "client_secret")
		if !jsonEqual(got, c) {
			t.Errorf("GET = %v, POST returned %v", got, c)
		}

		// CA-signed: by subject_dn, and by pem with credential_type left
		// to the method.
		ca := clientcerttest.NewCA(t, "Inline CA")
		leaf := ca.Issue(t, &x509.Certificate{Subject: subject("inline-leaf")})
		c = e.must(t, "POST", "clients", obj{
			"name":     uniq("mtls-ca-"),
			"app_type": "non_interactive",
			"client_authentication_methods": obj{"tls_client_auth": obj{"credentials": []obj{
				{"name": "by dn", "credential_type": "cert_subject_dn", "subject_dn": seedDN},
				{"name": "by pem", "pem": crlfPEM(leaf)},
			}}},
		}, http.StatusCreated, nil).object(t)
		id = c["client_id"].(string)
		e.must(t, "GET", "clients/"+id+"/credentials", nil, http.StatusOK, &list)
		if len(list) != 2 || list[0]["subject_dn"] != seedDN || list[1]["subject_dn"] != strings.Replace(seedDN, "CommonNameOrHostname", "inline-leaf", 1) ||
			list[1]["credential_type"] != "cert_subject_dn" {
			t.Fatalf("credentials: %v", list)
		}
		if !jsonEqual(c["client_authentication_methods"], methods("tls_client_auth", list[0]["id"].(string), list[1]["id"].(string))) {
			t.Errorf("client_authentication_methods = %v", c["client_authentication_methods"])
		}

		// client_authentication_methods null on create is no method.
		c = e.must(t, "POST", "clients", obj{"name": uniq("plain-"), "token_endpoint_auth_method": nil, "client_authentication_methods": nil}, http.StatusCreated, nil).object(t)
		if c["token_endpoint_auth_method"] != "client_secret_post" || c["client_authentication_methods"] != nil {
			t.Errorf("null on create: %v", c)
		}
	})

	t.Run("refused mTLS clients", func(t *testing.T) {
		a := crlfPEM(selfSigned(t, "a"))
		inline := func(method string, creds ...obj) obj {
			return obj{"name": "refused", "app_type": "non_interactive", "client_authentication_methods": obj{method: obj{"credentials": creds}}}
		}
		for _, tc := range []struct {
			name   string
			body   obj
			status int
			code   string
			msg    string
		}{
			{"x509_cert under tls_client_auth", inline("tls_client_auth", obj{"credential_type": "x509_cert", "pem": a}), 400, "invalid_body",
				"client_authentication_methods.tls_client_auth.credentials[0]: tls_client_auth takes cert_subject_dn credentials, not x509_cert"},
			{"an id", inline("self_signed_tls_client_auth", obj{"id": "cred_0123456789abcdef"}), 400, "invalid_body", "a new client has no credentials to name by id"},
			{"garbage pem", inline("self_signed_tls_client_auth", obj{"credential_type": "x509_cert", "pem": "junk"}), 400, "invalid_body",
				"client_authentication_methods.self_signed_tls_client_auth.credentials[0]: pem must hold one PEM certificate"},
			{"unknown DN attribute", inline("tls_client_auth", obj{"subject_dn": "CN=a\nFOO=b"}), 400, "invalid_body", `credentials[0]: subject_dn: unknown attribute "FOO"`},
			{"three", inline("tls_client_auth", obj{"subject_dn": "CN=a"}, obj{"subject_dn": "CN=b"}, obj{"subject_dn": "CN=c"}), 400, "invalid_body", "at most 2 credentials"},
			{"twice the same", inline("self_signed_tls_client_auth", obj{"credential_type": "x509_cert", "pem": a}, obj{"credential_type": "x509_cert", "pem": a}), 409, "conflict", "credentials[1]: the same credential is defined twice"},
			{"no credentials", inline("tls_client_auth"), 400, "invalid_body", "must name at least one credential"},
			{"with a secret method", func() obj {
				b := inline("tls_client_auth", obj{"subject_dn": "CN=a"})
				b["token_endpoint_auth_method"] = "client_secret_post"
				return b
			}(), 400, "invalid_body", "requires token_endpoint_auth_method to be null"},
			{"unknown property", inline("tls_client_auth", obj{"subject_dn": "CN=a", "alg": "RS256"}), 400, "invalid_body", "Additional properties not allowed: alg"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.state(t, nil)
				wantMgmtError(t, e.mgmt(t, "POST", "clients", tc.body), tc.status, tc.code, tc.msg)
				e.wantUnchanged(t, nil, before)
			})
		}
	})

	t.Run("missing client or credential", func(t *testing.T) {
		id := e.createClient(t, obj{"name": uniq("missing-"), "app_type": "non_interactive"}).ClientID
		cert := selfSigned(t, "m")
		for _, tc := range []struct {
			method, path string
			body         any
			code         string
		}{
			{"GET", "clients/nope/credentials", nil, "inexistent_client"},
			{"POST", "clients/nope/credentials", x509Body("m", cert), "inexistent_client"},
			{"GET", "clients/nope/credentials/cred_x", nil, "inexistent_client"},
			{"PATCH", "clients/nope/credentials/cred_x", obj{"expires_at": nil}, "inexistent_client"},
			{"DELETE", "clients/nope/credentials/cred_x", nil, "inexistent_client"},
			{"GET", "clients/" + id + "/credentials/cred_x", nil, "inexistent_credential"},
			{"PATCH", "clients/" + id + "/credentials/cred_x", obj{"expires_at": nil}, "inexistent_credential"},
			{"DELETE", "clients/" + id + "/credentials/cred_x", nil, "inexistent_credential"},
		} {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				wantMgmtError(t, e.mgmt(t, tc.method, tc.path, tc.body), http.StatusNotFound, tc.code, "does not exist")
			})
		}
		// Deleting the client deletes its credentials.
		cr := e.createCredential(t, id, x509Body("m", cert))
		e.must(t, "DELETE", "clients/"+id, nil, http.StatusNoContent, nil)
		wantMgmtError(t, e.mgmt(t, "GET", "clients/"+id+"/credentials/"+cr["id"].(string), nil), http.StatusNotFound, "inexistent_client", "does not exist")
	})

	t.Run("routing", func(t *testing.T) {
		id := e.createClient(t, obj{"name": uniq("routing-"), "app_type": "non_interactive"}).ClientID
		credID := e.createCredential(t, id, x509Body("r", selfSigned(t, "r")))["id"].(string)
		before := e.clientSnapshot(t, id)
		for _, tc := range []struct{ method, path, allow string }{
			{"PUT", "clients/" + id + "/credentials", "GET, POST"},
			{"DELETE", "clients/" + id + "/credentials", "GET, POST"},
			{"POST", "clients/" + id + "/credentials/" + credID, "DELETE, GET, PATCH"},
			{"PUT", "clients/" + id + "/credentials/" + credID, "DELETE, GET, PATCH"},
		} {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				r := e.mgmt(t, tc.method, tc.path, obj{"name": "x"})
				wantMgmtError(t, r, http.StatusMethodNotAllowed, "", "Method Not Allowed")
				if got := r.header.Get("Allow"); got != tc.allow {
					t.Errorf("Allow %q, want %q", got, tc.allow)
				}
				e.wantClientUnchanged(t, id, before)
			})
		}
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"GET", "clients/" + id + "/credentials?page=0", nil},
			{"POST", "clients/" + id + "/credentials?bogus_param=1", x509Body("q", selfSigned(t, "q"))},
			{"GET", "clients/" + id + "/credentials/" + credID + "?fields=name", nil},
			{"PATCH", "clients/" + id + "/credentials/" + credID + "?bogus_param=1", obj{"expires_at": nil}},
			{"DELETE", "clients/" + id + "/credentials/" + credID + "?bogus_param=1", nil},
		} {
			t.Run("query "+tc.method+" "+tc.path, func(t *testing.T) {
				wantMgmtError(t, e.mgmt(t, tc.method, tc.path, tc.body), 400, "invalid_query_string", "Additional properties not allowed")
				e.wantClientUnchanged(t, id, before)
			})
		}
		wantMgmtError(t, e.do(t, request{method: "POST", path: "api/v2/clients/" + id + "/credentials", auth: "Bearer " + e.adminToken, contentType: "text/plain", body: `{}`}),
			415, "unsupported_media_type", "application/json")
		e.wantClientUnchanged(t, id, before)
	})
}

// TestClientCredentialScopes checks that each credential endpoint, and
// client_authentication_methods on the client endpoints, take their
// client_credentials scope (Auth0's names), and that a refused call changes
// nothing.
func TestClientCredentialScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// setup makes a client with a credential not enabled for
	// authentication.
	setup := func(t *testing.T) (clientID, credID string) {
		t.Helper()
		clientID = e.createClient(t, obj{"name": uniq("scoped-"), "app_type": "non_interactive"}).ClientID
		credID = e.createCredential(t, clientID, x509Body("s", selfSigned(t, uniq("s"))))["id"].(string)
		return clientID, credID
	}
	for _, tc := range []struct {
		name, method, path string
		// scope is the one refused without; also are the others a
		// successful call needs.
		scope string
		also  []string
		body  func(t *testing.T, credID string) any
		ok    int
	}{
		{name: "list", method: "GET", path: "clients/{client}/credentials", scope: "read:client_credentials", ok: 200},
		{name: "create", method: "POST", path: "clients/{client}/credentials", scope: "create:client_credentials", ok: 201,
			body: func(t *testing.T, _ string) any { return x509Body("new", selfSigned(t, uniq("new"))) }},
		{name: "get", method: "GET", path: "clients/{client}/credentials/{cred}", scope: "read:client_credentials", ok: 200},
		{name: "update", method: "PATCH", path: "clients/{client}/credentials/{cred}", scope: "update:client_credentials", ok: 200,
			body: func(*testing.T, string) any { return obj{"expires_at": "2030-01-01T00:00:00Z"} }},
		{name: "delete", method: "DELETE", path: "clients/{client}/credentials/{cred}", scope: "delete:client_credentials", ok: 204},
		{name: "client create with methods", method: "POST", path: "clients", scope: "create:client_credentials", also: []string{"create:clients"}, ok: 201,
			body: func(t *testing.T, _ string) any {
				return obj{"name": uniq("scoped-mtls-"), "client_authentication_methods": obj{"tls_client_auth": obj{"credentials": []obj{{"subject_dn": "CN=scoped"}}}}}
			}},
		{name: "client create with methods, lacking create:clients", method: "POST", path: "clients", scope: "create:clients", also: []string{"create:client_credentials"}, ok: 201,
			body: func(t *testing.T, _ string) any {
				return obj{"name": uniq("scoped-mtls-"), "client_authentication_methods": obj{"tls_client_auth": obj{"credentials": []obj{{"subject_dn": "CN=scoped"}}}}}
			}},
		{name: "client update converting", method: "PATCH", path: "clients/{client}", scope: "update:client_credentials", also: []string{"update:clients"}, ok: 200,
			body: func(_ *testing.T, credID string) any {
				return obj{"token_endpoint_auth_method": nil, "client_authentication_methods": methods("self_signed_tls_client_auth", credID)}
			}},
		{name: "client update reverting", method: "PATCH", path: "clients/{client}", scope: "update:client_credentials", also: []string{"update:clients"}, ok: 200,
			body: func(*testing.T, string) any {
				// The client is not converted: a no-op, once past the
				// scope check.
				return obj{"token_endpoint_auth_method": "client_secret_post", "client_authentication_methods": nil}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clientID, credID := setup(t)
			path := strings.NewReplacer("{client}", clientID, "{cred}", credID).Replace(tc.path)
			call := func(token string) reply {
				req := request{method: tc.method, path: "api/v2/" + path, auth: "Bearer " + token}
				if tc.body != nil {
					req.body = tc.body(t, credID)
				}
				return e.do(t, req)
			}
			others := slices.DeleteFunc(slices.Clone(mgmtScopes), func(s string) bool { return s == tc.scope })
			lacking := e.token(t, e.admin, e.mgmtAudience(), others...).AccessToken
			before := e.clientSnapshot(t, clientID) + e.state(t, nil)
			r := call(lacking)
			wantMgmtError(t, r, http.StatusForbidden, "insufficient_scope", "Insufficient scope, expected any of: "+tc.scope)
			if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, `scope="`+tc.scope+`"`) {
				t.Errorf("WWW-Authenticate %q, want an insufficient_scope challenge naming %s", h, tc.scope)
			}
			if after := e.clientSnapshot(t, clientID) + e.state(t, nil); after != before {
				t.Errorf("a refused request changed what is stored:\nbefore:\n%s\nafter:\n%s", before, after)
			}

			only := e.token(t, e.admin, e.mgmtAudience(), append([]string{tc.scope}, tc.also...)...).AccessToken
			if r := call(only); r.status != tc.ok {
				t.Errorf("with only %s %v: %s, want %d", tc.scope, tc.also, r, tc.ok)
			}
		})
	}

	// Updating other properties of a certificate client needs no
	// credential scope.
	t.Run("client update without methods", func(t *testing.T) {
		clientID, credID := setup(t)
		e.must(t, "PATCH", "clients/"+clientID, obj{"token_endpoint_auth_method": nil, "client_authentication_methods": methods("self_signed_tls_client_auth", credID)}, http.StatusOK, nil)
		only := e.token(t, e.admin, e.mgmtAudience(), "update:clients").AccessToken
		r := e.do(t, request{method: "PATCH", path: "api/v2/clients/" + clientID, auth: "Bearer " + only, body: obj{"description": "renamed"}})
		if r.status != http.StatusOK {
			t.Errorf("PATCH description with update:clients only: %s", r)
		}
	})

	// A grant that no longer allows the scope refuses at once, as for the
	// endpoint scopes.
	t.Run("scope removed from the grant", func(t *testing.T) {
		clientID, _ := setup(t)
		m2m := e.createClient(t, obj{"name": uniq("m2m-"), "app_type": "non_interactive"})
		grantID := e.grant(t, m2m.ClientID, e.mgmtAudience(), "update:clients", "update:client_credentials")
		tok := e.token(t, m2m, e.mgmtAudience()).AccessToken
		e.must(t, "PATCH", "client-grants/"+grantID, obj{"scope": []string{"update:clients"}}, http.StatusOK, nil)
		r := e.do(t, request{method: "PATCH", path: "api/v2/clients/" + clientID, auth: "Bearer " + tok,
			body: obj{"token_endpoint_auth_method": "client_secret_post", "client_authentication_methods": nil}})
		wantMgmtError(t, r, http.StatusForbidden, "insufficient_scope", "no longer allows update:client_credentials")
	})
}
