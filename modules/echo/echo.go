// Package echo is a small upstream for demos and tests: the echo handler
// answers every request with a JSON description of what it received.
//
// It imports nothing of Portcullis.
package echo

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("echo", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("echo", httpcaddyfile.Before, "respond")
}

// MaxBody is how much of a request body is echoed, in bytes.
const MaxBody = 64 << 10

// Handler answers with {"method", "path", "query", "headers", "body",
// "trailers"}: what the request carried, headers with their canonical names
// and every value, the first MaxBody bytes of the body as a string, and the
// trailer fields that came after a body shorter than that.
type Handler struct{}

// Echo is the body of an echo response.
type Echo struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   map[string][]string `json:"query"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
	// Trailers are the request's trailer fields; omitted when none came.
	Trailers map[string][]string `json:"trailers,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.echo",
		New: func() caddy.Module { return new(Handler) },
	}
}

// ServeHTTP answers with the echo of r.
func (Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody))
	if err != nil {
		return caddyhttp.Error(http.StatusBadRequest, err)
	}
	e := Echo{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Headers: r.Header, Body: string(body)}
	for name, values := range r.Trailer {
		if values != nil {
			if e.Trailers == nil {
				e.Trailers = map[string][]string{}
			}
			e.Trailers[name] = values
		}
	}
	if e.Headers == nil {
		e.Headers = http.Header{}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(e)
}

// parseCaddyfile sets up echo.
//
// Syntax:
//
//	echo
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // consume directive name
	if h.NextArg() {
		return nil, h.ArgErr()
	}
	return Handler{}, nil
}

// Interface guards
var _ caddyhttp.MiddlewareHandler = Handler{}
