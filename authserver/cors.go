package authserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/redirects"
	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// CORS for the endpoints browsers call directly (the token, revocation
// and userinfo endpoints), with Auth0's rule: an origin is allowed for a
// client when it matches its Allowed Origins (CORS), its Allowed Web
// Origins or the origin of one of its callback URLs. Responses never allow
// credentials (cookies): these endpoints do not use them.

// corsAllowedHeaders are the request headers browser scripts may send:
// Authorization (userinfo's bearer token), Content-Type (JSON bodies) and
// Auth0-Client, the telemetry auth0-spa-js and auth0.js send on every call.
const corsAllowedHeaders = "Authorization, Content-Type, Auth0-Client"

// corsMaxAge is how long browsers may cache a preflight answer, in
// seconds.
const corsMaxAge = "600"

// cors wraps an endpoint: OPTIONS is the preflight, answered for any
// origin some client allows (the client is not known yet); other methods
// go to next, which checks the origin against its client (allowOrigin).
func (s *Server) cors(methods string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions {
			next(w, r)
			return
		}
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		allowed, err := s.someClientAllows(r.Context(), origin)
		if err != nil {
			writeError(w, err)
			return
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", corsAllowedHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// allowOrigin lets the browser read the response when the request's
// Origin is one c allows, and refuses the request when it is not. Requests
// without an Origin (not from a browser script) pass.
func allowOrigin(w http.ResponseWriter, r *http.Request, c *clients.Client) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	w.Header().Add("Vary", "Origin")
	if !redirects.MatchOrigin(clientOrigins(c), origin) {
		return ErrOriginNotAllowed.WithDescription(fmt.Sprintf("Origin %s is not allowed.", origin))
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	return nil
}

// clientOrigins are the origins c allows: allowed_origins, web_origins and
// the scheme and authority of each callback URL.
func clientOrigins(c *clients.Client) []string {
	out := append(append([]string{}, c.AllowedOrigins...), c.WebOrigins...)
	for _, cb := range c.Callbacks {
		scheme, rest, ok := strings.Cut(cb, "://")
		if !ok {
			continue
		}
		authority, _, _ := strings.Cut(rest, "/")
		authority, _, _ = strings.Cut(authority, "?")
		out = append(out, scheme+"://"+authority)
	}
	return out
}

// originIndex is every origin some client allows, as of one generation of
// the cached store.
type originIndex struct {
	generation uint64
	origins    []string
}

// someClientAllows reports whether any client allows origin. The origins
// are read from every client once, then again after each change to the
// store (storage.CachedStore.Generation).
func (s *Server) someClientAllows(ctx context.Context, origin string) (bool, error) {
	if origin == "" {
		return false, nil
	}
	gen := s.store.Generation()
	idx := s.origins.Load()
	if idx == nil || idx.generation != gen {
		idx = &originIndex{generation: gen}
		const perPage = 100
		for page := 0; ; page++ {
			list, total, err := s.store.ListClients(ctx, storage.ClientFilter{}, storage.Page{Page: page, PerPage: perPage})
			if err != nil {
				return false, err
			}
			for _, c := range list {
				idx.origins = append(idx.origins, clientOrigins(c)...)
			}
			if len(list) < perPage || (page+1)*perPage >= total {
				break
			}
		}
		s.origins.Store(idx)
	}
	return redirects.MatchOrigin(idx.origins, origin), nil
}
