package bearer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/clientcert"
)

type fakeToken string

func (f fakeToken) CertificateThumbprint() string { return string(f) }

func TestAuthenticate(t *testing.T) {
	verifyErr := errors.New("database down")
	g := &Guard[fakeToken]{
		Verify: func(_ context.Context, token string) (fakeToken, error) {
			switch token {
			case "bound":
				return "thumb-A", nil
			case "plain":
				return "", nil
			case "expired":
				return "", &tokens.Error{Cause: tokens.CauseExpired, Description: "token has expired"}
			case "untrusted":
				return "", InvalidToken("untrusted_issuer", "token issuer is not trusted")
			}
			return "", verifyErr
		},
		Certificate: func(r *http.Request) (clientcert.Info, error) {
			switch r.Header.Get("Test-Cert") {
			case "":
				return clientcert.Info{}, nil
			case "garbage":
				return clientcert.Info{}, errors.New("malformed")
			}
			return clientcert.Info{Present: true, Thumbprint: r.Header.Get("Test-Cert")}, nil
		},
	}
	for _, tc := range []struct {
		name          string
		authorization []string
		cert          string
		status        int
		code, cause   string
	}{
		{"no header", nil, "", 401, "", CauseMissing},
		{"two headers", []string{"Bearer plain", "Bearer plain"}, "", 401, ErrorInvalidToken, CauseHeader},
		{"basic scheme", []string{"Basic abc"}, "", 401, ErrorInvalidToken, CauseHeader},
		{"empty token", []string{"Bearer  "}, "", 401, ErrorInvalidToken, CauseHeader},
		{"oversized token", []string{"Bearer " + strings.Repeat("a", tokens.MaxTokenSize+1)}, "", 401, ErrorInvalidToken, CauseMalformed},
		{"expired", []string{"Bearer expired"}, "", 401, ErrorInvalidToken, "expired"},
		{"verifier's own refusal", []string{"Bearer untrusted"}, "", 401, ErrorInvalidToken, "untrusted_issuer"},
		{"verifier failure fails closed", []string{"Bearer other"}, "", 401, ErrorInvalidToken, CauseInvalid},
		{"unbound token", []string{"bearer plain"}, "", 0, "", ""},
		{"unbound token with a certificate", []string{"Bearer plain"}, "thumb-B", 0, "", ""},
		{"bound token with its certificate", []string{"Bearer bound"}, "thumb-A", 0, "", ""},
		{"bound token without a certificate", []string{"Bearer bound"}, "", 401, ErrorInvalidToken, CauseCertificate},
		{"bound token with another certificate", []string{"Bearer bound"}, "thumb-B", 401, ErrorInvalidToken, CauseCertificate},
		{"bound token with a prefix of its thumbprint", []string{"Bearer bound"}, "thumb-", 401, ErrorInvalidToken, CauseCertificate},
		{"bound token with unreadable forwarded certificate", []string{"Bearer bound"}, "garbage", 400, ErrorInvalidRequest, CauseCertHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header["Authorization"] = tc.authorization
			if tc.cert != "" {
				r.Header.Set("Test-Cert", tc.cert)
			}
			_, err := g.Authenticate(r)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("Authenticate = %v, want success", err)
				}
				return
			}
			var rf *Refusal
			if !errors.As(err, &rf) {
				t.Fatalf("Authenticate = %v, want a *Refusal", err)
			}
			if rf.Status != tc.status || rf.Code != tc.code || rf.Cause != tc.cause {
				t.Fatalf("refusal = %+v, want status %d, code %q, cause %q", rf, tc.status, tc.code, tc.cause)
			}
		})
	}
}

func TestBindingWithoutCertificateSourceFailsClosed(t *testing.T) {
	g := &Guard[fakeToken]{Verify: func(context.Context, string) (fakeToken, error) { return "thumb", nil }}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer x")
	if _, err := g.Authenticate(r); err == nil {
		t.Fatal("a bound token was accepted by a guard that cannot see certificates")
	}
}

func TestChallenge(t *testing.T) {
	for _, tc := range []struct {
		refusal *Refusal
		realm   string
		want    string
	}{
		{&Refusal{Cause: CauseMissing}, "api", `Bearer realm="api"`},
		{&Refusal{Cause: CauseMissing}, "", `Bearer`},
		{InvalidToken("expired", "token has expired"), "api", `Bearer realm="api", error="invalid_token", error_description="token has expired"`},
		{InsufficientScope("", "read:x write:x"), "", `Bearer error="insufficient_scope", scope="read:x write:x"`},
		{InvalidToken("x", "a \"quoted\" \\ é"), "r\"", `Bearer realm="r?", error="invalid_token", error_description="a ?quoted? ? ??"`},
	} {
		if got := tc.refusal.Challenge(tc.realm); got != tc.want {
			t.Errorf("Challenge(%q) = %s, want %s", tc.realm, got, tc.want)
		}
	}
	if got := quotable(strings.Repeat("a", 300)); len(got) != 200 {
		t.Errorf("quotable kept %d bytes", len(got))
	}
}
