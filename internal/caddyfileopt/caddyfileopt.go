// Package caddyfileopt reads the options of Portcullis's Caddyfile
// directives and global options, so that every directive spells the same
// kind of value the same way and refuses a wrong one with the same error.
// Each function reads the option at the dispenser's cursor (the option's
// name) and the rest of its line, and names the option in its errors,
// which carry the Caddyfile position.
//
// It imports Caddy's Caddyfile packages and nothing of Portcullis.
package caddyfileopt

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Given records the options one block has given so far. Start each block
// with an empty Given.
type Given map[string]bool

// Once refuses the option at d when its block gave it before.
func (g Given) Once(d *caddyfile.Dispenser) error {
	if g[d.Val()] {
		return d.Errf("%s given twice", d.Val())
	}
	g[d.Val()] = true
	return nil
}

// NoArgs reads an option that takes no arguments, such as a flag or a
// directive whose settings are all in its block.
func NoArgs(d *caddyfile.Dispenser) error {
	name := d.Val()
	if args := d.RemainingArgs(); len(args) != 0 {
		return d.Errf("%s takes no arguments, got %d", name, len(args))
	}
	return nil
}

// OneArg reads the single argument of an option.
func OneArg(d *caddyfile.Dispenser) (string, error) {
	name := d.Val()
	args := d.RemainingArgs()
	if len(args) != 1 {
		return "", d.Errf("%s takes one argument, got %d", name, len(args))
	}
	return args[0], nil
}

// SomeArgs reads the arguments of an option that takes one or more.
func SomeArgs(d *caddyfile.Dispenser) ([]string, error) {
	name := d.Val()
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.Errf("%s takes at least one argument, got none", name)
	}
	return args, nil
}

// PositiveInt reads an option whose one argument is a whole number of at
// least 1.
func PositiveInt(d *caddyfile.Dispenser) (int, error) {
	return positiveInt(d, false, 0)
}

// PositiveIntOrOff reads an option whose one argument is a whole number
// of at least 1, or "off", for which it returns off.
func PositiveIntOrOff(d *caddyfile.Dispenser, off int) (int, error) {
	return positiveInt(d, true, off)
}

// positiveInt reads a whole number of at least 1 and, when offAllowed,
// "off", for which it returns off.
func positiveInt(d *caddyfile.Dispenser, offAllowed bool, off int) (int, error) {
	name := d.Val()
	arg, err := OneArg(d)
	if err != nil {
		return 0, err
	}
	if offAllowed && arg == "off" {
		return off, nil
	}
	n, err := strconv.Atoi(arg)
	if err == nil && n >= 1 {
		return n, nil
	}
	if offAllowed {
		return 0, d.Errf("%s must be a positive whole number or off, got %q", name, arg)
	}
	return 0, d.Errf("%s must be a positive whole number, got %q", name, arg)
}

// Duration reads an option whose one argument is a duration as
// caddy.ParseDuration reads it, such as 500ms, 30s, 15m or 1d. It may be
// zero or negative: the module's validation judges its range.
func Duration(d *caddyfile.Dispenser) (caddy.Duration, error) {
	return duration(d, false)
}

// PositiveDuration reads an option whose one argument is a duration above
// zero, as caddy.ParseDuration reads it.
func PositiveDuration(d *caddyfile.Dispenser) (caddy.Duration, error) {
	return duration(d, true)
}

// duration reads a duration and, when positive, refuses one not above
// zero.
func duration(d *caddyfile.Dispenser, positive bool) (caddy.Duration, error) {
	name := d.Val()
	arg, err := OneArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(arg)
	switch {
	case positive && (err != nil || dur <= 0):
		return 0, d.Errf("%s must be a positive duration such as 30s or 15m, got %q", name, arg)
	case err != nil:
		return 0, d.Errf("%s must be a duration such as 30s or 15m, got %q", name, arg)
	}
	return caddy.Duration(dur), nil
}
