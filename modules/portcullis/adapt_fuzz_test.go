package portcullis_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// FuzzCaddyfileAdapt adapts arbitrary Caddyfiles, seeded with the golden
// files' inputs, which use every directive and option of Portcullis: no
// panic, and what adapts adapts again identically.
func FuzzCaddyfileAdapt(f *testing.F) {
	files, err := filepath.Glob("../../testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden files (%v)", err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		input, _, _ := strings.Cut(string(raw), "----------\n")
		f.Add(input)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	f.Fuzz(func(t *testing.T, text string) {
		// import reads files; what they hold is not the input's.
		if strings.Contains(text, "import") {
			return
		}
		first, _, err := adapter.Adapt([]byte(text), nil)
		if err != nil {
			return
		}
		second, _, err := adapter.Adapt([]byte(text), nil)
		if err != nil {
			t.Fatalf("adapted once, then: %v", err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("adapted twice:\n%s\nthen\n%s", first, second)
		}
	})
}
