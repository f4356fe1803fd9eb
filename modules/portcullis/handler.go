package portcullis

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/portcullis-gw/portcullis/authserver"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler serves the authorization server's endpoints (token endpoint,
// discovery, JWKS and the Management API under /api/v2/) on a site. Other
// paths go on to the next handler. The server itself is configured by the
// portcullis app.
type Handler struct {
	server *authserver.Server
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.authorization_server",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision finds the portcullis app.
func (h *Handler) Provision(ctx caddy.Context) error {
	app, err := ctx.App("portcullis")
	if err != nil {
		return fmt.Errorf("authorization_server needs the portcullis app: %w", err)
	}
	h.server = app.(*App).Server()
	return nil
}

// ServeHTTP serves the authorization server's paths and passes the rest on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.server.Owns(r.URL.Path) {
		return next.ServeHTTP(w, r)
	}
	h.server.Handler().ServeHTTP(w, r)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
