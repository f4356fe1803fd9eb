// Package caddyfiletest helps the fuzz targets of the Caddyfile parsers of
// Portcullis's directives and options check what a parser made of a text.
//
// It imports Caddy's Caddyfile package and nothing of Portcullis.
package caddyfiletest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// options counts the options in the block of the directive text starts
// with: the first token of each line directly inside that block (not in
// the blocks of its options).
func options(text string) map[string]int {
	d := caddyfile.NewTestDispenser(text)
	counts := map[string]int{}
	if !d.Next() {
		return counts
	}
	d.RemainingArgs()
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Nesting() != nesting+1 || d.Val() == "}" {
			continue
		}
		counts[d.Val()]++
		d.RemainingArgs()
	}
	return counts
}

// Singular fails t when text repeats one of the options that may be given
// once. Call it only for texts the parser accepted.
func Singular(t *testing.T, text string, singular ...string) {
	t.Helper()
	counts := options(text)
	for _, o := range singular {
		if counts[o] > 1 {
			t.Fatalf("accepted %s given %d times:\n%s", o, counts[o], text)
		}
	}
}

// Reloads fails t unless config, encoded as JSON, decodes into fresh (a
// pointer to a zero module of the same type) and encodes again to the same
// JSON: Caddy loads the module from what the adapter wrote, so nothing the
// Caddyfile said may be lost or changed on the way.
func Reloads(t *testing.T, config, fresh any) {
	t.Helper()
	first, err := json.Marshal(config)
	if err != nil {
		t.Fatalf("encoding %+v: %v", config, err)
	}
	dec := json.NewDecoder(bytes.NewReader(first))
	dec.DisallowUnknownFields()
	if err := dec.Decode(fresh); err != nil {
		t.Fatalf("decoding %s: %v", first, err)
	}
	second, err := json.Marshal(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("the adapted JSON %s loads as %s", first, second)
	}
}

// Parse runs parse, and when it accepts the text, runs it once more and
// fails t unless both results encode to the same JSON. It returns the
// result, or false when the text was refused.
func Parse[T any](t *testing.T, parse func() (T, error)) (T, bool) {
	t.Helper()
	first, err := parse()
	if err != nil {
		return first, false
	}
	again, err := parse()
	if err != nil {
		t.Fatalf("parsed once, then: %v", err)
	}
	a, errA := json.Marshal(first)
	b, errB := json.Marshal(again)
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Fatalf("parsed twice: %s, then %s (%v, %v)", a, b, errA, errB)
	}
	return first, true
}
