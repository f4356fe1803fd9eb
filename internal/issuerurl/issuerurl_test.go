package issuerurl

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct{ raw, wantErr string }{
		{raw: "https://auth.example.com/"},
		{raw: "https://keycloak.example.com/realms/main"},
		{raw: "https://auth.example.com/?q#f"},
		{raw: "http://localhost:8443/"},
		{raw: "http://LocalHost/"},
		{raw: "http://127.0.0.1:8080/"},
		{raw: "http://127.255.0.9/"},
		{raw: "http://[::1]:8080/"},
		{raw: "http://[::ffff:127.0.0.1]/"},
		{raw: "http://auth.example.com/", wantErr: "must use https"},
		{raw: "http://localhost.example.com/", wantErr: "must use https"},
		{raw: "http://localhost./", wantErr: "must use https"},
		{raw: "http://app.localhost/", wantErr: "must use https"},
		{raw: "http://128.0.0.1/", wantErr: "must use https"},
		{raw: "http://10.0.0.1/", wantErr: "must use https"},
		{raw: "http://[::2]/", wantErr: "must use https"},
		{raw: "http://[::1%25lo]/", wantErr: "must use https"},
		{raw: "http://0.0.0.0/", wantErr: "must use https"},
		{raw: "ftp://auth.example.com/", wantErr: `scheme "ftp" is not https`},
		{raw: "/issuer/", wantErr: "not an absolute URL with a host"},
		{raw: "https:///x", wantErr: "not an absolute URL with a host"},
		{raw: "https:auth.example.com", wantErr: "not an absolute URL with a host"},
		{raw: "http://[::1", wantErr: "missing ']'"},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			u, err := Parse(tc.raw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse = %v, %v; want an error containing %q", u, err, tc.wantErr)
				}
				return
			}
			if err != nil || u.String() != tc.raw {
				t.Fatalf("Parse = %v, %v; want %s", u, err, tc.raw)
			}
		})
	}
}
