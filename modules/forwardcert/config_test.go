package forwardcert_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/clientcert/clientcerttest"
	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// TestConfigErrors loads forward_client_cert configurations that must not
// start, and checks that each error names what is wrong.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	port := testenv.FreePort(t)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca := clientcerttest.NewCA(t, "Config Test CA")
	good := write("ca.pem", ca.PEM())
	notPEM := write("not.pem", []byte("just text\n"))
	empty := write("empty.pem", nil)
	key := write("key.pem", append(ca.PEM(), []byte("-----BEGIN EC PRIVATE KEY-----\naGVsbG8=\n-----END EC PRIVATE KEY-----\n")...))
	badDER := write("bad.pem", []byte("-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n"))
	for _, tc := range []struct {
		name, options, want string
	}{
		{"unknown format", "format rfc9440 pem", `forward_client_cert: unknown client certificate format "pem" (want rfc9440, auth0 or xfcc), at Caddyfile:`},
		{"unknown option", "formats auth0", "unrecognized forward_client_cert option: formats"},
		{"missing file", "trusted_ca_certs " + good + " " + dir + "/nowhere.pem", "trusted_ca_certs: open " + dir + "/nowhere.pem: no such file or directory"},
		{"not PEM", "trusted_ca_certs " + notPEM, "trusted_ca_certs: " + notPEM + ": no PEM certificate"},
		{"empty file", "trusted_ca_certs " + empty, empty + ": no PEM certificate"},
		{"a private key", "trusted_ca_certs " + key, key + `: holds a "EC PRIVATE KEY" block; want only CERTIFICATE blocks`},
		{"not DER", "trusted_ca_certs " + badDER, badDER + ": certificate 1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := "{\n" + testenv.TestGlobals(dir) + "}\n" +
				fmt.Sprintf("https://localhost:%d {\n\ttls internal\n\tforward_client_cert {\n\t\t%s\n\t}\n\trespond ok\n}\n", port, tc.options)
			if err := testenv.LoadErr(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("load error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
