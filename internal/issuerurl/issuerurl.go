// Package issuerurl holds the one rule for the URLs of token issuers (an
// issuer identifier, a jwks_uri, where a fetch from an issuer ends): https,
// or plain http only to this machine.
//
// It imports nothing of Portcullis.
package issuerurl

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Parse parses raw, which must be an absolute URL with a host, over https,
// or over http to a loopback host (see IsLoopback).
func Parse(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if !u.IsAbs() || u.Host == "" {
		return nil, errors.New("not an absolute URL with a host")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return nil, errors.New("must use https (http is allowed only for localhost, 127.0.0.0/8 and ::1)")
		}
	default:
		return nil, fmt.Errorf("scheme %q is not https", u.Scheme)
	}
	return u, nil
}

// IsLoopback reports whether host, a URL's Hostname, is this machine:
// localhost in any letter case, an IPv4 address in 127.0.0.0/8 (also as an
// IPv4-mapped IPv6 address), or ::1, without a zone.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.IsLoopback()
}
