// Package bearer is the one guard of Portcullis's resource servers: the
// UserInfo endpoint, the Management API and the bearer_auth edge handler
// all use it. A Guard reads the request's bearer token (RFC 6750 section
// 2.1), verifies it, and enforces its certificate binding (RFC 8705
// section 3) against the request's client certificate; a Refusal says why
// a request was turned away and builds its RFC 6750 challenge. What a
// resource server decides after that (scopes, policies) is its own.
//
// It imports only the tokens and clientcert packages; sender-constrained
// tokens of other kinds (DPoP) belong here too.
package bearer

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/clientcert"
)

// Causes of refusal the guard adds to tokens.Cause, for metrics labels.
const (
	// CauseMissing: no Authorization header.
	CauseMissing = "missing"
	// CauseHeader: an Authorization header that is not one Bearer token.
	CauseHeader = "authorization_header"
	// CauseQuery: an access_token query parameter that cannot be taken.
	CauseQuery = "access_token_query"
	// CauseMalformed: a token that cannot be read.
	CauseMalformed = string(tokens.CauseMalformed)
	// CauseInvalid: a verifier failure that names no cause.
	CauseInvalid = "invalid"
	// CauseCertificate: a bound token without its certificate.
	CauseCertificate = "certificate_mismatch"
	// CauseCertHeaders: a forwarded client certificate that cannot be read.
	CauseCertHeaders = "client_certificate"
)

// RFC 6750 section 3.1 error codes.
const (
	ErrorInvalidRequest    = "invalid_request"
	ErrorInvalidToken      = "invalid_token"
	ErrorInsufficientScope = "insufficient_scope"
)

// Refusal is why a request is turned away. Description is fixed text,
// never content from the request, so it is safe in an error_description.
type Refusal struct {
	// Status is the HTTP status: 400, 401 or 403.
	Status int
	// Code is the RFC 6750 error code; empty for a request that carries no
	// credentials at all (section 3.1), whose challenge says nothing more.
	Code        string
	Description string
	// Cause is a short word for metrics labels.
	Cause string
	// Scope lists, space-separated, the scopes an insufficient_scope
	// refusal lacks.
	Scope string
}

func (r *Refusal) Error() string {
	if r.Description == "" {
		return "bearer token refused: " + r.Cause
	}
	return "bearer token refused: " + r.Description
}

// Missing reports whether the request carried no bearer token at all.
func (r *Refusal) Missing() bool { return r.Cause == CauseMissing }

// Challenge is the WWW-Authenticate value of the refusal (RFC 6750 section
// 3), for realm; an empty realm is left out. Values are cut to what a
// quoted string may hold.
func (r *Refusal) Challenge(realm string) string {
	var params []string
	if realm != "" {
		params = append(params, `realm="`+quotable(realm)+`"`)
	}
	if r.Code != "" {
		params = append(params, `error="`+quotable(r.Code)+`"`)
		if r.Description != "" {
			params = append(params, `error_description="`+quotable(r.Description)+`"`)
		}
		if r.Scope != "" {
			params = append(params, `scope="`+quotable(r.Scope)+`"`)
		}
	}
	if len(params) == 0 {
		return "Bearer"
	}
	return "Bearer " + strings.Join(params, ", ")
}

// InsufficientScope is the 403 refusal of a token that lacks scope.
func InsufficientScope(description, scope string) *Refusal {
	return &Refusal{Status: http.StatusForbidden, Code: ErrorInsufficientScope, Description: description, Cause: "insufficient_scope", Scope: scope}
}

// InvalidToken is the 401 refusal of a token that cannot be used.
func InvalidToken(cause, description string) *Refusal {
	return &Refusal{Status: http.StatusUnauthorized, Code: ErrorInvalidToken, Description: description, Cause: cause}
}

// quotable keeps what RFC 6750 section 3 allows inside a quoted challenge
// value (%x20-21 / %x23-5B / %x5D-7E), replacing anything else with '?',
// and cuts it at 200 bytes.
func quotable(s string) string {
	b := []byte(s)
	if len(b) > 200 {
		b = b[:200]
	}
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}

// Token reads the request's bearer token from its Authorization header
// (RFC 6750 section 2.1): exactly one header, the Bearer scheme in any
// case, and a token of at most tokens.MaxTokenSize bytes. Tokens in the
// query or a form body are not read (RFC 9700 section 4.3.2); see
// TokenOrQuery for the opt-in.
func Token(r *http.Request) (string, *Refusal) {
	auths := r.Header.Values("Authorization")
	if len(auths) == 0 {
		return "", &Refusal{Status: http.StatusUnauthorized, Cause: CauseMissing, Description: "no bearer token"}
	}
	malformed := &Refusal{Status: http.StatusUnauthorized, Code: ErrorInvalidToken, Cause: CauseHeader,
		Description: "the Authorization header must hold exactly one Bearer token"}
	scheme, token, _ := strings.Cut(auths[0], " ")
	if len(auths) > 1 || !strings.EqualFold(scheme, "Bearer") {
		return "", malformed
	}
	return checkToken(strings.TrimSpace(token), CauseHeader)
}

// TokenOrQuery reads the request's bearer token as Token does or, from a
// request without an Authorization header, from the access_token query
// parameter (RFC 6750 section 2.3), with the same rules. It is an opt-in
// for the resource servers that must take such requests: tokens in URLs
// leak into access logs, proxy logs and browser histories (RFC 9700
// section 4.3.2). A request that sends the token both ways, or the
// parameter more than once, is refused with 400 invalid_request (RFC 6750
// section 2 allows one method per request).
func TokenOrQuery(r *http.Request) (string, *Refusal) {
	inQuery, sent := r.URL.Query()["access_token"]
	if !sent {
		return Token(r)
	}
	if len(inQuery) > 1 || len(r.Header.Values("Authorization")) > 0 {
		return "", &Refusal{Status: http.StatusBadRequest, Code: ErrorInvalidRequest, Cause: CauseQuery,
			Description: "send the access token once: in the Authorization header or in the access_token query parameter"}
	}
	return checkToken(inQuery[0], CauseQuery)
}

// checkToken applies the rules every bearer token meets wherever the
// request sends it: not empty, and at most tokens.MaxTokenSize bytes.
// cause labels an empty token.
func checkToken(token, cause string) (string, *Refusal) {
	if token == "" {
		return "", &Refusal{Status: http.StatusUnauthorized, Code: ErrorInvalidToken, Cause: cause, Description: "empty bearer token"}
	}
	if len(token) > tokens.MaxTokenSize {
		return "", InvalidToken(CauseMalformed, "token is too large")
	}
	return token, nil
}

// Bound is a verified token that may be bound to a client certificate.
type Bound interface {
	// CertificateThumbprint is the token's cnf.x5t#S256 (RFC 8705), or ""
	// for a token that is not bound.
	CertificateThumbprint() string
}

// Guard authenticates requests to one resource server. T is what its
// verifier yields: *tokens.Claims, or a richer cached form of them.
type Guard[T Bound] struct {
	// Verify checks a token for this resource server (issuer, signature,
	// audience, lifetime). A *Refusal or *tokens.Error it returns is
	// answered as such; any other error is answered 401 invalid_token,
	// so that no failure lets a request through.
	Verify func(ctx context.Context, token string) (T, error)
	// Certificate is the request's client certificate: from the TLS
	// connection, or from headers a trusted proxy forwarded. It is read
	// only for tokens bound to a certificate. An error refuses the
	// request with 400 invalid_request.
	Certificate func(r *http.Request) (clientcert.Info, error)
	// TokenInQuery also takes the token from the access_token query
	// parameter (TokenOrQuery). Default: only from the Authorization
	// header (Token).
	TokenInQuery bool
}

// Authenticate reads, verifies and checks the binding of the request's
// bearer token. On failure it returns a *Refusal.
func (g *Guard[T]) Authenticate(r *http.Request) (T, error) {
	var zero T
	read := Token
	if g.TokenInQuery {
		read = TokenOrQuery
	}
	token, refused := read(r)
	if refused != nil {
		return zero, refused
	}
	v, err := g.Verify(r.Context(), token)
	if err != nil {
		return zero, asRefusal(err)
	}
	if err := g.CheckBinding(r, v.CertificateThumbprint()); err != nil {
		return zero, err
	}
	return v, nil
}

// CheckBinding refuses a request whose client certificate is not the one a
// bound token's thumbprint names (RFC 8705 section 3). An empty
// thumbprint, an unbound token, needs no certificate.
func (g *Guard[T]) CheckBinding(r *http.Request, thumbprint string) error {
	if thumbprint == "" {
		return nil
	}
	if g.Certificate == nil {
		return InvalidToken(CauseCertificate, "the token is bound to a client certificate this server cannot see")
	}
	cert, err := g.Certificate(r)
	if err != nil {
		return &Refusal{Status: http.StatusBadRequest, Code: ErrorInvalidRequest, Cause: CauseCertHeaders,
			Description: "the forwarded client certificate is not acceptable"}
	}
	if !cert.Present || subtle.ConstantTimeCompare([]byte(cert.Thumbprint), []byte(thumbprint)) != 1 {
		return InvalidToken(CauseCertificate, "the token is bound to a client certificate the request does not present")
	}
	return nil
}

// asRefusal turns a verifier's error into a refusal.
func asRefusal(err error) *Refusal {
	var rf *Refusal
	if errors.As(err, &rf) {
		return rf
	}
	var bad *tokens.Error
	if errors.As(err, &bad) {
		return InvalidToken(string(bad.Cause), bad.Description)
	}
	return InvalidToken(CauseInvalid, "the token could not be verified")
}
