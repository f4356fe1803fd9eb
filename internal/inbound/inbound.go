// Package inbound deletes the request fields a client could use to pass
// for the headers a handler sets for the upstream.
//
// Deleting them from the request's header is not enough: a body may be
// followed by trailer fields (RFC 9110 section 6.5), which Go's HTTP/1.1
// and HTTP/2 servers put in the request's Trailer once the body has been
// read to its end, which reverse_proxy then forwards after the body, and
// which many upstreams merge into the header.
//
// It imports nothing of Portcullis.
package inbound

import (
	"io"
	"net/http"
)

// Delete deletes from r every field whose name ours reports: from its
// header at once, and from its trailer when the body has been read to its
// end, before whoever reads it (reverse_proxy, which forwards the trailer)
// sees the end. ours must ignore letter case, as field names do.
func Delete(r *http.Request, ours func(name string) bool) {
	deleteFrom(r.Header, ours)
	deleteFrom(r.Trailer, ours)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &trailerFilter{ReadCloser: r.Body, r: r, ours: ours}
	}
}

func deleteFrom(h http.Header, ours func(name string) bool) {
	for name := range h {
		if ours(name) {
			delete(h, name)
		}
	}
}

// trailerFilter is a request body that deletes the fields ours reports
// from the request's trailer as the body ends, which is when the server
// fills the trailer in.
type trailerFilter struct {
	io.ReadCloser
	r    *http.Request
	ours func(name string) bool
}

func (b *trailerFilter) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		deleteFrom(b.r.Trailer, b.ours)
	}
	return n, err
}
