// Package hopbyhop keeps the request headers a handler sets for the
// upstream from being dropped as hop-by-hop on the way.
//
// A client may list header names in its Connection header (RFC 9110
// section 7.6.1), and a proxy (Caddy's reverse_proxy, Go's
// httputil.ReverseProxy) deletes the headers listed before it forwards the
// request. A handler that sets identity or certificate headers for the
// upstream must take their names out of that list, or any client could
// have them deleted after the handler set them.
//
// Connection is the only field that names other fields: Keep-Alive carries
// parameters, TE transfer codings and Upgrade protocols, and reverse_proxy
// reads none of them as header names (it deletes them, and
// Proxy-Connection, outright). HTTP/2 and HTTP/3 forbid Connection (RFC
// 9113 section 8.2.2, RFC 9114 section 4.2) and Go's and quic-go's servers
// refuse requests that carry it, so only HTTP/1.x requests have one.
//
// It imports nothing of Portcullis.
package hopbyhop

import (
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// Protect removes from h's Connection header every name that ours
// reports, so that the headers a handler sets are forwarded rather than
// deleted, and removes the header when no name is left. ours gets each
// comma-separated element trimmed of spaces and tabs, spelled as the
// client spelled it: it must ignore letter case, as header names do.
func Protect(h http.Header, ours func(name string) bool) {
	values := h["Connection"]
	if !slices.ContainsFunc(values, func(v string) bool { return names(v, ours) }) {
		return
	}
	var kept []string
	for _, v := range values {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); name != "" && !ours(name) {
				kept = append(kept, name)
			}
		}
	}
	if len(kept) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = []string{strings.Join(kept, ", ")}
}

// names reports whether the Connection value v lists a name ours reports.
func names(v string, ours func(name string) bool) bool {
	for name := range strings.SplitSeq(v, ",") {
		if ours(textproto.TrimString(name)) {
			return true
		}
	}
	return false
}
