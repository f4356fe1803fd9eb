package authserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/portcullis-gw/portcullis/authserver/storage"
)

// Error is an OAuth 2.0 error response (RFC 6749 section 5.2). The
// sentinels below are never modified: WithDescription returns a copy.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Status is the HTTP status of the response.
	Status int `json:"-"`
	// BasicChallenge asks the client to authenticate with HTTP Basic
	// (RFC 6749 section 5.2, invalid_client after a Basic attempt).
	BasicChallenge bool `json:"-"`
	// RetryAfter, when positive, is the Retry-After of the response, in
	// seconds.
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Is matches errors with the same code and status, so that
// errors.Is(err, ErrInvalidClient) holds for any description.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Status == e.Status
}

// WithDescription returns a copy of e with the given error_description.
func (e *Error) WithDescription(d string) *Error {
	cp := *e
	cp.Description = d
	return &cp
}

// Token endpoint errors. access_denied is Auth0's answer when an API's
// access policy or the client's grant refuses the token.
var (
	ErrInvalidRequest       = &Error{Code: "invalid_request", Status: http.StatusBadRequest}
	ErrInvalidClient        = &Error{Code: "invalid_client", Status: http.StatusUnauthorized}
	ErrInvalidGrant         = &Error{Code: "invalid_grant", Status: http.StatusBadRequest}
	ErrUnauthorizedClient   = &Error{Code: "unauthorized_client", Status: http.StatusBadRequest}
	ErrUnsupportedGrantType = &Error{Code: "unsupported_grant_type", Status: http.StatusBadRequest}
	ErrInvalidScope         = &Error{Code: "invalid_scope", Status: http.StatusBadRequest}
	ErrAccessDenied         = &Error{Code: "access_denied", Status: http.StatusForbidden}
	ErrServerError          = &Error{Code: "server_error", Status: http.StatusInternalServerError}
	// ErrTemporarilyUnavailable answers requests that need the database
	// while it cannot be reached (RFC 6749 section 4.1.2.1).
	ErrTemporarilyUnavailable = &Error{Code: "temporarily_unavailable", Status: http.StatusServiceUnavailable}
	ErrMethodNotAllowed       = &Error{Code: "invalid_request", Status: http.StatusMethodNotAllowed}
	ErrTooLarge               = &Error{Code: "invalid_request", Status: http.StatusRequestEntityTooLarge}
	ErrNotFound               = &Error{Code: "not_found", Status: http.StatusNotFound}
	// ErrOriginNotAllowed refuses a browser request from an origin the
	// client does not allow (CORS).
	ErrOriginNotAllowed = &Error{Code: "invalid_request", Status: http.StatusForbidden}
)

// Errors of endpoints that take an access token (RFC 6750 section 3.1).
var (
	ErrInvalidToken      = &Error{Code: "invalid_token", Status: http.StatusUnauthorized}
	ErrInsufficientScope = &Error{Code: "insufficient_scope", Status: http.StatusForbidden}
)

// unavailableRetryAfter is the Retry-After, in seconds, of answers given
// while the database is unavailable.
const unavailableRetryAfter = 5

// asError is err as the OAuth error answered for it. Errors that are not
// *Error become temporarily_unavailable while the database cannot be
// reached, server_error otherwise, without their text.
func asError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
	case storage.IsUnavailable(err):
		e = ErrTemporarilyUnavailable.WithDescription("The authorization server's database is unavailable; try again shortly.")
		e.RetryAfter = unavailableRetryAfter
	default:
		e = ErrServerError.WithDescription("The server could not complete the request.")
	}
	return e
}

// writeError writes err as an OAuth JSON error (see asError).
func writeError(w http.ResponseWriter, err error) {
	e := asError(err)
	h := w.Header()
	if e.BasicChallenge {
		h.Set("WWW-Authenticate", `Basic realm="oauth", charset="UTF-8"`)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, e)
}

// writeJSON writes v with the no-store headers RFC 6749 asks of token
// responses, which suit every response of the authorization server.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(body)
}
