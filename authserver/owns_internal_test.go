package authserver

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
)

// Owns claims exactly the paths the mux routes to an endpoint: every
// routed path (below a subtree too, and a subtree's bare path, which the
// mux redirects), and no path the mux leaves to its catch-all.
func TestOwnsFollowsRoutes(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := New(t.Context(), Config{Issuer: "https://auth.example.com/tenant/", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	mux := s.Handler().(*http.ServeMux)
	routed := func(path string) bool {
		_, pattern := mux.Handler(httptest.NewRequest("GET", "https://auth.example.com"+path, nil))
		return pattern != "/"
	}
	var paths []string
	for _, e := range s.routes {
		path := s.prefix + e.path
		paths = append(paths, path)
		if subtree, ok := strings.CutSuffix(path, "/"); ok {
			paths = append(paths, subtree, path+"clients")
		}
	}
	if len(paths) < 12 {
		t.Fatalf("only %d routed paths: %v", len(paths), paths)
	}
	for _, path := range paths {
		if !routed(path) || !s.Owns(path) {
			t.Errorf("%s: routed %t, owned %t; want both", path, routed(path), s.Owns(path))
		}
	}
	for _, path := range []string{
		"/tenant/.well-known/other", "/tenant/oauth/other", "/tenant/userinfo/x", "/tenant/api/v2x",
		"/tenant/", "/tenant", "/oauth/token", "/app",
	} {
		if routed(path) || s.Owns(path) {
			t.Errorf("%s: routed %t, owned %t; want neither", path, routed(path), s.Owns(path))
		}
	}
}
