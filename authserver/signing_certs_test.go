package authserver_test

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/smallstep/pkcs7"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// signingKeyWithCert is a signing key as Auth0's Management API answers
// it (auth0 npm package: GetSigningKeys200ResponseInner, SigningKeys).
type signingKeyWithCert struct {
	KID          string     `json:"kid"`
	Cert         string     `json:"cert"`
	PKCS7        string     `json:"pkcs7"`
	Fingerprint  string     `json:"fingerprint"`
	Thumbprint   string     `json:"thumbprint"`
	Current      bool       `json:"current"`
	Next         bool       `json:"next"`
	Previous     bool       `json:"previous"`
	Revoked      bool       `json:"revoked"`
	CurrentSince *time.Time `json:"current_since"`
	CurrentUntil *time.Time `json:"current_until"`
	RevokedAt    *time.Time `json:"revoked_at"`
}

// certAndKID is what Auth0 answers to a rotation (the new next key) and a
// revocation (the revoked key).
type certAndKID struct {
	Cert string `json:"cert"`
	KID  string `json:"kid"`
}

// parseCertPEM returns the one certificate of a PEM document.
func parseCertPEM(t *testing.T, doc string) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode([]byte(doc))
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("cert is not one PEM certificate: %q", doc)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parsing the certificate: %v", err)
	}
	return c
}

// colonHex is a digest as Auth0 writes a fingerprint: upper-case hex
// bytes separated by colons.
func colonHex(sum []byte) string {
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// checkSigningKeyCert checks that a listed key carries a self-signed
// certificate of its own public key (pub, from the JWKS; nil for a key no
// longer published) for the issuer's host, in every form Auth0 gives.
func checkSigningKeyCert(t *testing.T, issuer string, k signingKeyWithCert, pub *jose.JSONWebKey) *x509.Certificate {
	t.Helper()
	c := parseCertPEM(t, k.Cert)
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("key %s: the certificate is not signed by its own key: %v", k.KID, err)
	}
	u, _ := url.Parse(issuer)
	if c.Subject.CommonName != u.Hostname() || c.Issuer.CommonName != u.Hostname() {
		t.Errorf("key %s: certificate subject %q, issuer %q, want CN=%s", k.KID, c.Subject, c.Issuer, u.Hostname())
	}
	if life := c.NotAfter.Sub(c.NotBefore); life < 10*365*24*time.Hour {
		t.Errorf("key %s: certificate valid for %v, want a long-lived one like Auth0's", k.KID, life)
	}
	sha := sha1.Sum(c.Raw)
	if k.Fingerprint != colonHex(sha[:]) {
		t.Errorf("key %s: fingerprint %q, want %q", k.KID, k.Fingerprint, colonHex(sha[:]))
	}
	if k.Thumbprint != strings.ToUpper(hex.EncodeToString(sha[:])) {
		t.Errorf("key %s: thumbprint %q, want %q", k.KID, k.Thumbprint, strings.ToUpper(hex.EncodeToString(sha[:])))
	}
	block, _ := pem.Decode([]byte(k.PKCS7))
	if block == nil || block.Type != "PKCS7" {
		t.Fatalf("key %s: pkcs7 is not PEM: %q", k.KID, k.PKCS7)
	}
	p7, err := pkcs7.Parse(block.Bytes)
	if err != nil || len(p7.Certificates) != 1 || !p7.Certificates[0].Equal(c) {
		t.Errorf("key %s: pkcs7 does not hold the certificate: %v", k.KID, err)
	}
	if pub != nil {
		if !bytes.Equal(pub.Certificates[0].Raw, c.Raw) {
			t.Errorf("key %s: JWKS x5c differs from the listed certificate", k.KID)
		}
		if !pub.Certificates[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub.Key) {
			t.Errorf("key %s: the certificate's public key is not the JWK's", k.KID)
		}
	}
	return c
}

// publishedKeys parses the JWKS with go-jose, which refuses a key whose
// x5c certificate holds another public key or whose x5t or x5t#S256 is
// not the certificate's thumbprint.
func publishedKeys(t *testing.T, e *env) map[string]*jose.JSONWebKey {
	t.Helper()
	r := e.do(t, request{method: "GET", path: ".well-known/jwks.json"})
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatalf("go-jose parsing the JWKS: %v", err)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	r.decode(t, &raw)
	out := make(map[string]*jose.JSONWebKey)
	for i, k := range set.Keys {
		if len(k.Certificates) != 1 {
			t.Fatalf("JWKS key %s has %d certificates in x5c, want 1", k.KeyID, len(k.Certificates))
		}
		sha1sum := sha1.Sum(k.Certificates[0].Raw)
		sha256sum := sha256.Sum256(k.Certificates[0].Raw)
		if raw.Keys[i]["x5t"] != base64.RawURLEncoding.EncodeToString(sha1sum[:]) || raw.Keys[i]["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sha256sum[:]) {
			t.Errorf("JWKS key %s: x5t %v, x5t#S256 %v", k.KeyID, raw.Keys[i]["x5t"], raw.Keys[i]["x5t#S256"])
		}
		out[k.KeyID] = &set.Keys[i]
	}
	return out
}

// Every signing key has a self-signed X.509 certificate, answered as
// Auth0 does (PEM, PKCS#7, SHA-1 fingerprint and thumbprint) and published
// in the JWKS as x5c, x5t and x5t#S256; rotate and revoke answer the
// {cert, kid} of the new next key and of the revoked key.
func TestSigningKeyCertificates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup envSetup
	}{
		{"sqlite", envSetup{configure: func(c *authserver.Config) { c.KeyEncryptionKey = bytes.Repeat([]byte{9}, 32) }}},
		{"postgres", envSetup{postgres: true, configure: func(c *authserver.Config) { c.KeyEncryptionKey = bytes.Repeat([]byte{9}, 32) }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvFrom(t, tc.setup)
			published := publishedKeys(t, e)
			e.adminToken = e.token(t, e.admin, e.mgmtAudience()).AccessToken // its key was rotated out
			var list []signingKeyWithCert
			e.must(t, "GET", "keys/signing", nil, http.StatusOK, &list)
			if len(list) != 6 {
				t.Fatalf("%d signing keys, want 6", len(list))
			}
			certs := make(map[string]string)
			var rs256Current string
			for _, k := range list {
				pub := published[k.KID]
				if pub == nil {
					t.Fatalf("key %s is not published", k.KID)
				}
				checkSigningKeyCert(t, e.issuer, k, pub)
				certs[k.KID] = k.Cert
				if k.Current && k.CurrentSince == nil {
					t.Errorf("current key %s has no current_since", k.KID)
				}
				if k.Current && pub.Algorithm == "RS256" {
					rs256Current = k.KID
				}
				var one signingKeyWithCert
				e.must(t, "GET", "keys/signing/"+k.KID, nil, http.StatusOK, &one)
				if one.Cert != k.Cert || one.Fingerprint != k.Fingerprint || one.PKCS7 != k.PKCS7 {
					t.Errorf("GET keys/signing/%s answers another certificate than the list", k.KID)
				}
			}

			var rotated certAndKID
			e.must(t, "POST", "keys/signing/rotate", nil, http.StatusCreated, &rotated)
			e.adminToken = e.token(t, e.admin, e.mgmtAudience()).AccessToken
			var next signingKeyWithCert
			e.must(t, "GET", "keys/signing/"+rotated.KID, nil, http.StatusOK, &next)
			if !next.Next || published[rotated.KID] != nil || rotated.Cert != next.Cert || rotated.Cert == "" {
				t.Errorf("rotate answered %+v, want the cert and kid of a new next key (%+v)", rotated, next)
			}
			if pub := publishedKeys(t, e)[rotated.KID]; pub == nil || pub.Algorithm != "RS256" {
				t.Errorf("rotate answered a key that is not RS256's new next key: %v", pub)
			} else {
				checkSigningKeyCert(t, e.issuer, next, pub)
			}
			var prev signingKeyWithCert
			e.must(t, "GET", "keys/signing/"+rs256Current, nil, http.StatusOK, &prev)
			if !prev.Previous || prev.CurrentUntil == nil || prev.Cert != certs[rs256Current] {
				t.Errorf("the rotated-out key reads %+v", prev)
			}

			var revoked certAndKID
			e.must(t, "PUT", "keys/signing/"+rs256Current+"/revoke", nil, http.StatusOK, &revoked)
			if revoked.KID != rs256Current || revoked.Cert != certs[rs256Current] {
				t.Errorf("revoke answered %+v, want the revoked key's kid and certificate", revoked)
			}
			var gone signingKeyWithCert
			e.must(t, "GET", "keys/signing/"+rs256Current, nil, http.StatusOK, &gone)
			if !gone.Revoked || gone.RevokedAt == nil {
				t.Errorf("the revoked key reads %+v", gone)
			}
			checkSigningKeyCert(t, e.issuer, gone, nil)
		})
	}
}

// openStore opens another handle on e's database, as another instance
// would.
func openStore(t *testing.T, e *env) storage.Store {
	t.Helper()
	st := e.open(t)
	t.Cleanup(func() { st.Close() })
	return st
}

// stripCertificates stores the keys of st without their certificates, as
// a version of Portcullis from before certificates left them.
func stripCertificates(t *testing.T, st storage.Store, keep func(keys.SigningKey) bool) {
	t.Helper()
	ks, err := st.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var stripped []keys.SigningKey
	for _, k := range ks {
		if !keep(k) {
			k.Certificate = nil
			stripped = append(stripped, k)
		}
	}
	if err := st.SaveSigningKeys(t.Context(), stripped); err != nil {
		t.Fatal(err)
	}
}

// wantPublishedCertificates checks that every key in st has a certificate
// and that each server publishes exactly that certificate in x5c for
// every key it publishes.
func wantPublishedCertificates(t *testing.T, st storage.Store, servers ...*authserver.Server) {
	t.Helper()
	ks, err := st.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	stored := make(map[string][]byte)
	for _, k := range ks {
		if len(k.Certificate) == 0 {
			t.Fatalf("signing key %s (%s) has no certificate", k.KID, k.State)
		}
		stored[k.KID] = k.Certificate
	}
	for i, srv := range servers {
		for it := srv.Keyring().PublicKeys().Keys(t.Context()); it.Next(t.Context()); {
			k := it.Pair().Value.(jwk.Key)
			der, _ := k.X509CertChain().Get(0)
			if string(der) != base64.StdEncoding.EncodeToString(stored[k.KeyID()]) {
				t.Fatalf("instance %d publishes another certificate for %s than the stored one", i, k.KeyID())
			}
		}
	}
}

// A store whose keys have no certificate (made before keys had one) gets
// them when an instance starts or reloads: once, by whichever of several
// instances on the store gets there first, the private keys staying
// encrypted; later starts change nothing.
func TestSigningKeyCertificatesForOldStore(t *testing.T) {
	kek := bytes.Repeat([]byte{5}, 32)
	for _, tc := range []struct {
		name     string
		postgres bool
	}{{"sqlite", false}, {"postgres", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvFrom(t, envSetup{postgres: tc.postgres, configure: func(c *authserver.Config) { c.KeyEncryptionKey = kek }})
			// Some keys in every state, revoked ones included.
			for range 2 {
				if _, err := e.srv.Keyring().Rotate(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			stores := []storage.Store{openStore(t, e), openStore(t, e)}
			cfg := func(st storage.Store) authserver.Config {
				return authserver.Config{Issuer: e.issuer, Store: st, KeyEncryptionKey: kek}
			}
			var servers [2]*authserver.Server
			for round := range 20 {
				// Two instances start together on a store without
				// certificates.
				stripCertificates(t, e.store, func(keys.SigningKey) bool { return false })
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i := range 2 {
					wg.Go(func() { servers[i], errs[i] = authserver.New(t.Context(), cfg(stores[i])) })
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				wantPublishedCertificates(t, e.store, servers[:]...)
				wantEncrypted(t, e.store, nil)

				// An older instance rewrote one key without its
				// certificate: the running ones reload together.
				stripCertificates(t, e.store, func(k keys.SigningKey) bool { return k.State != keys.StateCurrent || k.Alg != "ES256" })
				for i := range 2 {
					wg.Go(func() { errs[i] = servers[i].Keyring().Reload(t.Context()) })
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatalf("round %d: reloading: %v", round, err)
				}
				wantPublishedCertificates(t, e.store, servers[:]...)
			}

			// Certified once: starts and reloads leave them as they are.
			before := readAtRest(t, e.store)
			e.restart(t)
			if err := servers[0].Keyring().Reload(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := authserver.New(t.Context(), cfg(stores[1])); err != nil {
				t.Fatal(err)
			}
			if after := readAtRest(t, e.store); !reflect.DeepEqual(after, before) {
				t.Error("a start on a store whose keys have certificates changed the stored keys")
			}
			published := publishedKeys(t, e)
			e.adminToken = e.token(t, e.admin, e.mgmtAudience()).AccessToken // its key was rotated out
			var list []signingKeyWithCert
			e.must(t, "GET", "keys/signing", nil, http.StatusOK, &list)
			for _, k := range list {
				checkSigningKeyCert(t, e.issuer, k, published[k.KID])
			}
		})
	}
}
