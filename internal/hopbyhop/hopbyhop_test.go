package hopbyhop

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestProtect(t *testing.T) {
	ours := func(name string) bool {
		return strings.EqualFold(name, "X-Ours") || strings.EqualFold(name, "X-Also-Ours")
	}
	for _, tc := range []struct {
		name string
		in   []string // Connection values; nil for no header
		want []string
	}{
		{"no Connection header", nil, nil},
		{"nothing of ours is untouched", []string{"keep-alive,  X-Theirs"}, []string{"keep-alive,  X-Theirs"}},
		{"ours among others", []string{"close, X-Ours, X-Theirs"}, []string{"close, X-Theirs"}},
		{"letter case and spacing", []string{" x-ours ,\tX-ALSO-OURS,,Upgrade "}, []string{"Upgrade"}},
		{"over several headers", []string{"X-Theirs", "x-ours", "upgrade, X-Also-Ours"}, []string{"X-Theirs, upgrade"}},
		{"only ours removes the header", []string{"X-Ours", "X-Also-Ours"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"X-Ours": {"set by the handler"}}
			if tc.in != nil {
				h["Connection"] = tc.in
			}
			Protect(h, ours)
			if got := h["Connection"]; !slices.Equal(got, tc.want) {
				t.Errorf("Connection = %q, want %q", got, tc.want)
			}
			if h.Get("X-Ours") != "set by the handler" {
				t.Error("Protect touched another header")
			}
		})
	}
}
