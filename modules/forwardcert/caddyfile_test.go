package forwardcert

import (
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/portcullis-gw/portcullis/clientcert"
)

func TestParseCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		formats     []clientcert.Format
		files       []string
		wantErr     string
	}{
		{name: "no block", input: "forward_client_cert"},
		{name: "empty block", input: "forward_client_cert {\n}"},
		{name: "formats", input: "forward_client_cert {\n\tformat auth0 xfcc\n\tformat rfc9440 auth0\n}", formats: []clientcert.Format{"auth0", "xfcc", "rfc9440"}},
		{name: "trusted CAs", input: "forward_client_cert {\n\ttrusted_ca_certs /a.pem /b.pem\n\ttrusted_ca_certs /c.pem\n}", files: []string{"/a.pem", "/b.pem", "/c.pem"}},
		{name: "argument", input: "forward_client_cert auth0", wantErr: "forward_client_cert takes no arguments, got 1"},
		{name: "unknown format", input: "forward_client_cert {\n\tformat pem\n}", wantErr: `forward_client_cert: unknown client certificate format "pem" (want rfc9440, auth0 or xfcc)`},
		{name: "format without a value", input: "forward_client_cert {\n\tformat\n}", wantErr: "format takes at least one argument, got none"},
		{name: "trusted_ca_certs without a file", input: "forward_client_cert {\n\ttrusted_ca_certs\n}", wantErr: "trusted_ca_certs takes at least one argument, got none"},
		{name: "unknown option", input: "forward_client_cert {\n\ttrusted_ca_cert /a.pem\n}", wantErr: "unrecognized forward_client_cert option: trusted_ca_cert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseCaddyfile(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser(tc.input)})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := h.(*Handler)
			if !slices.Equal(f.Formats, tc.formats) || !slices.Equal(f.TrustedCACerts, tc.files) {
				t.Errorf("formats %q, files %q; want %q, %q", f.Formats, f.TrustedCACerts, tc.formats, tc.files)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       Handler
		wantErr string
	}{
		{name: "zero"},
		{name: "all formats", h: Handler{Formats: []clientcert.Format{"rfc9440", "auth0", "xfcc"}}},
		{name: "unknown format", h: Handler{Formats: []clientcert.Format{"RFC9440"}}, wantErr: `forward_client_cert: unknown client certificate format "RFC9440" (want rfc9440, auth0 or xfcc)`},
		{name: "empty file name", h: Handler{TrustedCACerts: []string{""}}, wantErr: "empty trusted_ca_certs file name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.h.Validate()
			if (err != nil) != (tc.wantErr != "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}
