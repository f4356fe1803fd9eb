package caddyfileopt

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// read runs one reader on the option that starts text, and checks that it
// consumed the option's line: the next token is the next line's first.
func read[T any](t *testing.T, text string, reader func(*caddyfile.Dispenser) (T, error)) (T, error) {
	t.Helper()
	d := caddyfile.NewTestDispenser(text + "\nnext")
	if !d.Next() {
		t.Fatalf("no option in %q", text)
	}
	v, err := reader(d)
	if err == nil && (!d.Next() || d.Val() != "next") {
		t.Fatalf("after %q the cursor is at %q, want the next line", text, d.Val())
	}
	return v, err
}

// check compares what a reader returned with want, or its error with
// wantErr, which must also name the Caddyfile line.
func check[T comparable](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) || !strings.Contains(err.Error(), "Testfile:1") {
			t.Fatalf("error %v, want one containing %q at Testfile:1", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("error %v", err)
	}
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestGivenOnce(t *testing.T) {
	d := caddyfile.NewTestDispenser("block {\n\ta 1\n\tb\n\ta 2\n}")
	d.Next()
	given := Given{}
	var errs []string
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		err := given.Once(d)
		errs = append(errs, fmt.Sprint(err))
		d.RemainingArgs()
	}
	want := []string{"<nil>", "<nil>", "a given twice, at Testfile:4"}
	if fmt.Sprint(errs) != fmt.Sprint(want) {
		t.Fatalf("errors %q, want %q", errs, want)
	}
}

func TestNoArgs(t *testing.T) {
	for _, tc := range []struct{ text, wantErr string }{
		{text: "flag"},
		{text: "flag on", wantErr: "flag takes no arguments, got 1"},
		{text: "flag a b", wantErr: "flag takes no arguments, got 2"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			_, err := read(t, tc.text, func(d *caddyfile.Dispenser) (struct{}, error) { return struct{}{}, NoArgs(d) })
			check(t, struct{}{}, err, struct{}{}, tc.wantErr)
		})
	}
	t.Run("before a block", func(t *testing.T) {
		d := caddyfile.NewTestDispenser("directive {\n\toption\n}")
		d.Next()
		if err := NoArgs(d); err != nil {
			t.Fatal(err)
		}
		if !d.NextBlock(0) || d.Val() != "option" {
			t.Fatalf("the block reads as %q, want its option", d.Val())
		}
	})
}

func TestOneArg(t *testing.T) {
	for _, tc := range []struct{ text, want, wantErr string }{
		{text: "realm orders", want: "orders"},
		{text: "realm \"a b\"", want: "a b"},
		{text: "realm", wantErr: "realm takes one argument, got 0"},
		{text: "realm a b", wantErr: "realm takes one argument, got 2"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got, err := read(t, tc.text, OneArg)
			check(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestSomeArgs(t *testing.T) {
	for _, tc := range []struct{ text, want, wantErr string }{
		{text: "files a", want: "[a]"},
		{text: "files a b", want: "[a b]"},
		{text: "files", wantErr: "files takes at least one argument, got none"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got, err := read(t, tc.text, SomeArgs)
			check(t, fmt.Sprint(got), err, tc.want, tc.wantErr)
		})
	}
}

func TestPositiveInt(t *testing.T) {
	for _, tc := range []struct {
		text    string
		want    int
		wantErr string
	}{
		{text: "attempts 1", want: 1},
		{text: "attempts 250", want: 250},
		{text: "attempts 0", wantErr: `attempts must be a positive whole number, got "0"`},
		{text: "attempts -3", wantErr: `attempts must be a positive whole number, got "-3"`},
		{text: "attempts 1.5", wantErr: `attempts must be a positive whole number, got "1.5"`},
		{text: "attempts off", wantErr: `attempts must be a positive whole number, got "off"`},
		{text: "attempts 99999999999999999999", wantErr: `attempts must be a positive whole number, got "99999999999999999999"`},
		{text: "attempts", wantErr: "attempts takes one argument, got 0"},
		{text: "attempts 1 2", wantErr: "attempts takes one argument, got 2"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got, err := read(t, tc.text, PositiveInt)
			check(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestPositiveIntOrOff(t *testing.T) {
	const off = -7
	for _, tc := range []struct {
		text    string
		want    int
		wantErr string
	}{
		{text: "limit 1", want: 1},
		{text: "limit 30", want: 30},
		{text: "limit off", want: off},
		{text: "limit Off", wantErr: `limit must be a positive whole number or off, got "Off"`},
		{text: "limit 0", wantErr: `limit must be a positive whole number or off, got "0"`},
		{text: "limit -1", wantErr: `limit must be a positive whole number or off, got "-1"`},
		{text: "limit", wantErr: "limit takes one argument, got 0"},
		{text: "limit off 2", wantErr: "limit takes one argument, got 2"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got, err := read(t, tc.text, func(d *caddyfile.Dispenser) (int, error) { return PositiveIntOrOff(d, off) })
			check(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		text    string
		want    time.Duration
		wantErr string
	}{
		{text: "leeway 30s", want: 30 * time.Second},
		{text: "leeway 1d", want: 24 * time.Hour},
		{text: "leeway 0", want: 0},
		{text: "leeway -1s", want: -time.Second},
		{text: "leeway soon", wantErr: `leeway must be a duration such as 30s or 15m, got "soon"`},
		{text: "leeway 30", wantErr: `leeway must be a duration such as 30s or 15m, got "30"`},
		{text: "leeway", wantErr: "leeway takes one argument, got 0"},
		{text: "leeway 1s 2s", wantErr: "leeway takes one argument, got 2"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got, err := read(t, tc.text, Duration)
			check(t, got, err, caddy.Duration(tc.want), tc.wantErr)
		})
	}
}

func TestPositiveDuration(t *testing.T) {
	for _, tc := range []struct {
		text    string
		want    time.Duration
		wantErr string
	}{
		{text: "window 15m", want: 15 * time.Minute},
		{text: "window 1ns", want: 1},
		{text: "window 0", wantErr: `window must be a positive duration such as 30s or 15m, got "0"`},
		{text: "window 0s", wantErr: `window must be a positive duration such as 30s or 15m, got "0s"`},
		{text: "window -1m", wantErr: `window must be a positive duration such as 30s or 15m, got "-1m"`},
		{text: "window forever", wantErr: `window must be a positive duration such as 30s or 15m, got "forever"`},
		{text: "window", wantErr: "window takes one argument, got 0"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got, err := read(t, tc.text, PositiveDuration)
			check(t, got, err, caddy.Duration(tc.want), tc.wantErr)
		})
	}
}
