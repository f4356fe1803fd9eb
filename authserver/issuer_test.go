package authserver_test

import (
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver"
)

// TestValidateIssuer checks the issuer rules: internal/issuerurl's https or
// loopback http (the one rule remoteissuer also applies), then a trailing
// slash and no user info, query or fragment.
func TestValidateIssuer(t *testing.T) {
	for _, tc := range []struct{ issuer, wantErr string }{
		{issuer: "https://auth.example.com/"},
		{issuer: "https://auth.example.com/tenant/"},
		{issuer: "http://localhost:8443/"},
		{issuer: "http://LocalHost:8443/"},
		{issuer: "http://127.0.0.2/"},
		{issuer: "http://[::1]:8443/"},
		{issuer: "http://auth.example.com/", wantErr: "must use https"},
		{issuer: "http://[::1%25lo]/", wantErr: "must use https"},
		{issuer: "auth.example.com/", wantErr: "not an absolute URL with a host"},
		{issuer: "https://auth.example.com", wantErr: "must end with a slash"},
		{issuer: "https://auth.example.com/?a=1", wantErr: "query"},
		{issuer: "https://auth.example.com/#a", wantErr: "fragment"},
		{issuer: "https://u:p@auth.example.com/", wantErr: "user info"},
	} {
		t.Run(tc.issuer, func(t *testing.T) {
			err := authserver.ValidateIssuer(tc.issuer)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("ValidateIssuer = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
