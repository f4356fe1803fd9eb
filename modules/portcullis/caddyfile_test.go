package portcullis_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	_ "github.com/portcullis-gw/portcullis/internal/testenv" // registers the modules
)

// TestCaddyfileAdapt runs each testdata/caddyfile_adapt/*.caddyfiletest:
// a Caddyfile, a line of dashes, then either the JSON it adapts to or a
// substring of the error it must fail with.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("../../testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files (%v)", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".caddyfiletest"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(raw), "----------\n")
			if !ok {
				t.Fatal("no ---------- separator")
			}
			got, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
			want = strings.TrimSpace(want)
			if !strings.HasPrefix(want, "{") {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("adapt error = %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			var gotBuf, wantBuf bytes.Buffer
			if err := json.Compact(&gotBuf, got); err != nil {
				t.Fatal(err)
			}
			if err := json.Compact(&wantBuf, []byte(want)); err != nil {
				t.Fatal(err)
			}
			if gotBuf.String() != wantBuf.String() {
				t.Fatalf("adapted to\n%s\nwant\n%s", got, want)
			}
		})
	}
}
