package clientcert_test

import (
	"net/http"
	"testing"

	"github.com/portcullis-gw/portcullis/clientcert"
)

func TestParseFormat(t *testing.T) {
	for _, name := range []string{"rfc9440", "auth0", "xfcc"} {
		if f, err := clientcert.ParseFormat(name); err != nil || string(f) != name {
			t.Errorf("ParseFormat(%q) = %q, %v", name, f, err)
		}
	}
	const want = `unknown client certificate format "RFC9440" (want rfc9440, auth0 or xfcc)`
	for _, name := range []string{"RFC9440", "", "pem"} {
		if f, err := clientcert.ParseFormat(name); err == nil {
			t.Errorf("ParseFormat(%q) = %q, want an error", name, f)
		}
	}
	if _, err := clientcert.ParseFormat("RFC9440"); err == nil || err.Error() != want {
		t.Errorf("ParseFormat error %v, want %q", err, want)
	}
	if _, err := clientcert.FromHeaders(http.Header{}, "RFC9440"); err == nil || err.Error() != want {
		t.Errorf("FromHeaders error %v, want %q", err, want)
	}
}
