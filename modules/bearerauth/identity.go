package bearerauth

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// IdentityHeaders are the names identity_headers takes, in the order of the
// default, each with the header it sets upstream.
var IdentityHeaders = []struct{ Name, Header string }{
	{"subject", IdentityHeaderPrefix + "Subject"},
	{"client_id", IdentityHeaderPrefix + "Client-Id"},
	{"scope", IdentityHeaderPrefix + "Scope"},
	{"issuer", IdentityHeaderPrefix + "Issuer"},
	{"decision_id", IdentityHeaderPrefix + "Decision-Id"},
}

// identityHeaderNames reads identity_headers' arguments: names of
// IdentityHeaders, or none alone for an empty list.
func identityHeaderNames(args []string) ([]string, error) {
	if slices.Contains(args, "none") {
		if len(args) > 1 {
			return nil, errors.New("none stands alone")
		}
		return []string{}, nil
	}
	for i, name := range args {
		if err := checkIdentityHeaderName(name, args[:i]); err != nil {
			return nil, err
		}
	}
	return args, nil
}

// checkIdentityHeaderName checks that name is one of IdentityHeaders,
// and not among those listed before it.
func checkIdentityHeaderName(name string, before []string) error {
	if identityHeaderIndex(name) < 0 {
		return fmt.Errorf("unknown header %q (known: subject, client_id, scope, issuer, decision_id, or none)", name)
	}
	if slices.Contains(before, name) {
		return fmt.Errorf("%s is listed twice", name)
	}
	return nil
}

func identityHeaderIndex(name string) int {
	return slices.IndexFunc(IdentityHeaders, func(ih struct{ Name, Header string }) bool { return ih.Name == name })
}

// identityHeader is one header bearer_auth sets upstream: its canonical
// name and the index of its name in IdentityHeaders.
type identityHeader struct {
	header string
	which  int
}

// provisionIdentityHeaders checks IdentityHeaderNames and works out the
// headers to set: every one of IdentityHeaders when the option is unset.
func (h *Handler) provisionIdentityHeaders() error {
	h.identity = nil
	if h.IdentityHeaderNames == nil {
		for i, ih := range IdentityHeaders {
			h.identity = append(h.identity, identityHeader{header: ih.Header, which: i})
		}
		return nil
	}
	names := *h.IdentityHeaderNames
	for j, name := range names {
		if err := checkIdentityHeaderName(name, names[:j]); err != nil {
			return fmt.Errorf("bearer_auth: identity_headers: %w", err)
		}
		i := identityHeaderIndex(name)
		h.identity = append(h.identity, identityHeader{header: IdentityHeaders[i].Header, which: i})
	}
	return nil
}

// setIdentityHeaders sets the configured identity headers on r for the
// token v and the decision o, with one allocation for all their values.
func (h *Handler) setIdentityHeaders(r *http.Request, v *verified, o *outcome) {
	if len(h.identity) == 0 {
		return
	}
	values := make([]string, len(h.identity))
	t := v.token
	for i, ih := range h.identity {
		// ih.which indexes IdentityHeaders: subject, client_id, scope,
		// issuer, decision_id (its id made only here when not before).
		switch ih.which {
		case 0:
			values[i] = t.Subject
		case 1:
			values[i] = t.ClientID
		case 2:
			values[i] = v.scope
		case 3:
			values[i] = t.Issuer
		default:
			values[i] = o.ID()
		}
		r.Header[ih.header] = values[i : i+1 : i+1] // a value of its own: nothing else sees a change to it
	}
}

// placeholder answers the token's placeholders; verify makes it once per
// verified token (v.placeholders), for every request that presents it.
func (v *verified) placeholder(key string) (any, bool) {
	switch key {
	case "http.auth.user.id":
		return v.token.Subject, true
	case "http.auth.bearer.client_id":
		return v.token.ClientID, true
	case "http.auth.bearer.scope":
		return v.scope, true
	case "http.auth.bearer.issuer":
		return v.token.Issuer, true
	}
	return nil, false
}
