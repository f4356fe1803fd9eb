package authserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/redirects"
	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tenant"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/authserver/ui"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// CodeLifetime is how long an authorization code can be exchanged.
const CodeLifetime = 60 * time.Second

// authorizeParams are the parameters of an authorization request that this
// server reads; any of them sent twice is refused (RFC 6749 section 3.1).
var authorizeParams = []string{
	"client_id", "redirect_uri", "response_type", "response_mode", "scope", "state",
	"nonce", "audience", "code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint",
}

// authorizeRequest is a validated authorization request.
type authorizeRequest struct {
	client       *clients.Client
	redirectURI  string
	responseType responseType
	responseMode string // "query", "fragment" or "form_post"
	state, nonce string
	// scopes are the requested scopes, each once, in request order.
	scopes []string
	// api is the resource server named by audience (or the tenant's
	// default audience); nil when there is none.
	api                 *access.ResourceServer
	codeChallenge       string
	codeChallengeMethod string
	prompt              string
	maxAge              time.Duration // -1 when not sent
	loginHint           string
	// query is the request's query string, which the login and consent
	// forms carry along so that their POSTs are validated as a whole again.
	query string
}

// pageError is an authorization error that cannot be sent back to the
// client, because the client or its redirect_uri is not known to be
// genuine (RFC 6749 section 4.1.2.1): it is shown to the user instead. A
// refused sign-in (see signIn) is one too, shown on the login form.
type pageError struct {
	status  int
	message string
}

func (e *pageError) Error() string { return e.message }

// parseAuthorize validates an authorization request. Errors about the
// client or the redirect URI are *pageError; all others are *Error, to be
// sent to the redirect URI (the request is returned with them so that
// they can be).
func (s *Server) parseAuthorize(ctx context.Context, q url.Values, rawQuery string) (*authorizeRequest, error) {
	for _, p := range authorizeParams {
		if len(q[p]) > 1 {
			return nil, &pageError{http.StatusBadRequest, fmt.Sprintf("The parameter %s is repeated.", p)}
		}
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		return nil, &pageError{http.StatusBadRequest, "Missing required parameter: client_id"}
	}
	c, err := s.store.Client(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, &pageError{http.StatusBadRequest, "Unknown client: " + clientID}
	}
	if err != nil {
		return nil, err
	}
	ar := &authorizeRequest{client: c, redirectURI: q.Get("redirect_uri"), state: q.Get("state"), query: rawQuery}
	switch {
	case ar.redirectURI == "" && len(c.Callbacks) == 1 && !strings.Contains(c.Callbacks[0], "*"):
		// RFC 6749 section 3.1.2.3: one registered URI may be left out.
		ar.redirectURI = c.Callbacks[0]
	case ar.redirectURI == "":
		return nil, &pageError{http.StatusBadRequest, "Missing required parameter: redirect_uri"}
	case !redirects.MatchCallback(c.Callbacks, ar.redirectURI):
		return nil, &pageError{http.StatusBadRequest, fmt.Sprintf("The redirect_uri %q is not in the Allowed Callback URLs of the application %s.", ar.redirectURI, c.Name)}
	}
	// From here on, errors go back to the redirect URI.
	rawType := q.Get("response_type")
	ar.responseMode = defaultResponseMode(rawType)
	switch mode := q.Get("response_mode"); mode {
	case "":
	case "query":
		if ar.responseMode != "query" {
			return ar, ErrInvalidRequest.WithDescription("response_mode=query cannot carry the response of response_type " + rawType +
				": it would put a token in the URL's query. Use fragment or form_post.")
		}
	case "fragment", "form_post":
		ar.responseMode = mode
	default:
		return ar, ErrInvalidRequest.WithDescription("Unsupported response_mode: " + mode + " (use query, fragment or form_post)")
	}
	// OpenID Connect Core section 6: request objects (JAR) and pushed
	// requests (PAR) are not supported, and must not be ignored.
	if q.Has("request") {
		return ar, errRequestNotSupported.WithDescription("Request objects (the request parameter) are not supported.")
	}
	if q.Has("request_uri") {
		return ar, errRequestURINotSupported.WithDescription("The request_uri parameter is not supported.")
	}
	if ar.responseType, err = parseResponseType(rawType); err != nil {
		return ar, err
	}
	if ar.responseType.code && !c.AllowsGrant(clients.GrantAuthorizationCode) {
		return ar, ErrUnauthorizedClient.WithDescription("Grant type `authorization_code` not allowed for the client.")
	}
	if ar.responseType.idToken && !c.AllowsGrant(clients.GrantImplicit) {
		return ar, ErrUnauthorizedClient.WithDescription("Grant type `implicit` not allowed for the client.")
	}
	ar.nonce = q.Get("nonce")
	ar.loginHint = q.Get("login_hint")
	scope := q.Get("scope")
	if err := checkScopeSyntax(scope); err != nil {
		return ar, err
	}
	for _, sc := range strings.Fields(scope) {
		if !slices.Contains(ar.scopes, sc) {
			ar.scopes = append(ar.scopes, sc)
		}
	}
	if len(ar.scopes) == 0 {
		// Auth0 assumes openid when no scope is sent.
		ar.scopes = []string{access.ScopeOpenID}
	}
	if ar.responseType.idToken {
		if !slices.Contains(ar.scopes, access.ScopeOpenID) {
			return ar, ErrInvalidScope.WithDescription("response_type " + rawType + " requires the openid scope.")
		}
		// OpenID Connect Core sections 3.2.2.1 and 3.3.2.11: the nonce
		// is what binds an ID token from the front channel to the
		// client's session.
		if ar.nonce == "" {
			return ar, ErrInvalidRequest.WithDescription("Missing required parameter: nonce (required with response_type " + rawType + ")")
		}
	}
	if ar.responseType.code {
		if err := ar.readPKCE(q); err != nil {
			return ar, err
		}
	}
	ar.prompt = q.Get("prompt")
	switch ar.prompt {
	case "", "none", "login", "consent":
	default:
		return ar, ErrInvalidRequest.WithDescription("Unsupported prompt: " + ar.prompt + " (use none, login or consent)")
	}
	ar.maxAge = -1
	if v := q.Get("max_age"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return ar, ErrInvalidRequest.WithDescription("max_age must be a number of seconds.")
		}
		ar.maxAge = time.Duration(n) * time.Second
	}
	audience := q.Get("audience")
	if !ar.responseType.code {
		// An ID token alone grants no access to an API: the tenant's
		// default audience does not apply, and asking for one is a
		// mistake the client should hear of.
		if audience != "" {
			return ar, ErrInvalidRequest.WithDescription("audience needs a response_type with code: response_type " + rawType + " issues no access token.")
		}
		return ar, nil
	}
	if audience == "" {
		settings, err := tenant.LoadSettings(ctx, s.store)
		if err != nil {
			return ar, err
		}
		audience = settings.DefaultAudience
	}
	if audience != "" {
		api, err := s.store.ResourceServerByIdentifier(ctx, audience)
		if errors.Is(err, storage.ErrNotFound) {
			return ar, ErrAccessDenied.WithDescription("Service not found: " + audience)
		}
		if err != nil {
			return ar, err
		}
		if api.IsSystem {
			return ar, ErrAccessDenied.WithDescription("The Management API cannot be accessed on behalf of users.")
		}
		ar.api = api
	}
	return ar, nil
}

// responseType is what the authorization response carries: a code
// (response_type code), an ID token (id_token), or both (the hybrid code
// id_token).
type responseType struct{ code, idToken bool }

// parseResponseType reads response_type, whose space-separated values may
// come in any order (OAuth 2.0 Multiple Response Types section 3). Types
// that would send an access token through the browser (token, id_token
// token, code token, code id_token token) are refused, as RFC 9700
// section 2.1.2 recommends.
func parseResponseType(raw string) (responseType, error) {
	if raw == "" {
		return responseType{}, ErrInvalidRequest.WithDescription("Missing required parameter: response_type")
	}
	var rt responseType
	for _, v := range strings.Split(raw, " ") {
		switch {
		case v == "token":
			return responseType{}, errUnsupportedResponseType.WithDescription("Unsupported response_type: " + raw +
				": access tokens are not sent through the browser (RFC 9700 section 2.1.2). Use code, id_token or code id_token.")
		case v == "code" && !rt.code:
			rt.code = true
		case v == "id_token" && !rt.idToken:
			rt.idToken = true
		default:
			return responseType{}, errUnsupportedResponseType.WithDescription("Unsupported response_type: " + raw + " (use code, id_token or code id_token)")
		}
	}
	return rt, nil
}

// defaultResponseMode is the response mode of a response_type when the
// request names none: the fragment for any response that carries a token,
// the query for a code alone (OAuth 2.0 Multiple Response Types section
// 2.1). It applies to the error responses of a malformed response_type
// too.
func defaultResponseMode(rawType string) string {
	for _, v := range strings.Fields(rawType) {
		if v == "id_token" || v == "token" {
			return "fragment"
		}
	}
	return "query"
}

// readPKCE reads code_challenge and code_challenge_method (RFC 7636). A
// public client must send a challenge, with S256; plain is refused unless
// the client allows it.
func (ar *authorizeRequest) readPKCE(q url.Values) error {
	ar.codeChallenge = q.Get("code_challenge")
	ar.codeChallengeMethod = q.Get("code_challenge_method")
	if ar.codeChallenge == "" {
		if ar.codeChallengeMethod != "" {
			return ErrInvalidRequest.WithDescription("code_challenge_method was sent without code_challenge.")
		}
		if ar.client.IsPublic() {
			return ErrInvalidRequest.WithDescription("A public client must use PKCE: send code_challenge and code_challenge_method=S256.")
		}
		return nil
	}
	if !validPKCEValue(ar.codeChallenge) {
		return ErrInvalidRequest.WithDescription("code_challenge must be 43 to 128 characters of A-Z, a-z, 0-9, -, ., _ and ~.")
	}
	switch ar.codeChallengeMethod {
	case PKCES256:
	case "", PKCEPlain:
		if !ar.client.AllowPKCEPlain {
			return ErrInvalidRequest.WithDescription("code_challenge_method must be S256 (plain is not allowed for this client).")
		}
		ar.codeChallengeMethod = PKCEPlain
	default:
		return ErrInvalidRequest.WithDescription("Unsupported code_challenge_method: " + ar.codeChallengeMethod)
	}
	return nil
}

// validPKCEValue checks a code challenge or verifier: 43 to 128 unreserved
// characters (RFC 7636 section 4.1).
func validPKCEValue(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~') {
			return false
		}
	}
	return true
}

// Errors of the authorization endpoint beyond those of the token endpoint.
var (
	errUnsupportedResponseType = &Error{Code: "unsupported_response_type", Status: http.StatusBadRequest}
	errRequestNotSupported     = &Error{Code: "request_not_supported", Status: http.StatusBadRequest}
	errRequestURINotSupported  = &Error{Code: "request_uri_not_supported", Status: http.StatusBadRequest}
)

// serveAuthorize is the authorization endpoint (RFC 6749 section 3.1),
// for GET and for POST (OpenID Connect Core section 3.1.2.1): with a live
// login session it goes on to consent and the code; without
// one it shows the login page.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.showError(w, r, &pageError{http.StatusMethodNotAllowed, "The authorization endpoint accepts only GET and POST."})
		return
	}
	params, encoded, err := authorizeParameters(r)
	if err != nil {
		s.authorizeFailed(w, r, nil, err)
		return
	}
	ar, err := s.parseAuthorize(r.Context(), params, encoded)
	if err != nil {
		s.authorizeFailed(w, r, ar, err)
		return
	}
	ses, err := s.currentSession(r)
	if err != nil {
		s.authorizeFailed(w, r, ar, err)
		return
	}
	s.continueAuthorization(w, r, ar, ses, false)
}

// MaxAuthorizeRequestSize is the largest body of a POST authorization
// request, in bytes.
const MaxAuthorizeRequestSize = 64 << 10

// authorizeParameters returns the parameters of an authorization request
// and their encoding, which the login and consent forms carry along. A GET
// sends them in the query; a POST (OpenID Connect Core section 3.1.2.1)
// in its form-encoded body, and may send some in the query: a parameter in
// both is repeated, and parseAuthorize refuses it as such.
func authorizeParameters(r *http.Request) (url.Values, string, error) {
	if r.Method != http.MethodPost {
		return r.URL.Query(), r.URL.RawQuery, nil
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, "", &pageError{http.StatusUnsupportedMediaType, "The authorization endpoint takes a form (application/x-www-form-urlencoded)."}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxAuthorizeRequestSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, "", &pageError{http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body is larger than %d bytes.", MaxAuthorizeRequestSize)}
		}
		return nil, "", &pageError{http.StatusBadRequest, "The request body could not be read."}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, "", &pageError{http.StatusBadRequest, "The request body is not a valid form."}
	}
	params := r.URL.Query()
	for k, vs := range form {
		params[k] = append(params[k], vs...)
	}
	return params, params.Encode(), nil
}

// continueAuthorization takes an authorization request with the user's
// session (nil without one) to its next step: the login page, the consent
// page, or the code. fresh is true right after the user signed in.
func (s *Server) continueAuthorization(w http.ResponseWriter, r *http.Request, ar *authorizeRequest, ses *sessions.Session, fresh bool) {
	ctx := r.Context()
	needLogin := ses == nil || (!fresh &&
		(ar.prompt == "login" || (ar.maxAge >= 0 && s.now().Sub(ses.AuthTime) > ar.maxAge)))
	if needLogin {
		if ar.prompt == "none" {
			s.authorizeFailed(w, r, ar, errLoginRequired.WithDescription("The user is not signed in."))
			return
		}
		s.showLogin(w, r, ar, http.StatusOK, "", ar.loginHint)
		return
	}
	user, err := s.sessionUser(ctx, ses)
	if err != nil {
		s.authorizeFailed(w, r, ar, err)
		return
	}
	if user == nil {
		s.continueAuthorization(w, r, ar, nil, fresh)
		return
	}
	granted, err := s.grantedScopes(ctx, ar, user.UserID)
	if err != nil {
		s.authorizeFailed(w, r, ar, err)
		return
	}
	if ask, err := s.needsConsent(ctx, ar, user.UserID, granted); err != nil {
		s.authorizeFailed(w, r, ar, err)
		return
	} else if ask {
		if ar.prompt == "none" {
			s.authorizeFailed(w, r, ar, errConsentRequired.WithDescription("The user has not consented to the requested scopes."))
			return
		}
		s.showConsent(w, r, ar, user.Email, granted)
		return
	}
	s.completeAuthorization(w, r, ar, ses, user, granted)
}

// sessionUser returns the user of a session, or nil when the session
// outlived its user or the user was blocked since: the session is then
// ended, and the request goes on as without one.
func (s *Server) sessionUser(ctx context.Context, ses *sessions.Session) (*users.User, error) {
	user, err := s.store.User(ctx, ses.UserID)
	if err == nil && !user.Blocked {
		return user, nil
	}
	_ = s.store.DeleteSession(ctx, ses.ID)
	if err == nil || errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return nil, err
}

var (
	errLoginRequired   = &Error{Code: "login_required", Status: http.StatusBadRequest}
	errConsentRequired = &Error{Code: "consent_required", Status: http.StatusBadRequest}
)

// grantedScopes decides the scopes of the authorization: the requested
// OpenID Connect scopes (offline_access only when the API allows offline
// access and the client may use refresh tokens), then the API permissions
// that access.UserScopes allows the user.
func (s *Server) grantedScopes(ctx context.Context, ar *authorizeRequest, userID string) ([]string, error) {
	var out, apiScopes []string
	for _, sc := range ar.scopes {
		switch {
		case sc == access.ScopeOfflineAccess:
			if ar.api != nil && ar.api.AllowOfflineAccess && ar.client.AllowsGrant(clients.GrantRefreshToken) {
				out = append(out, sc)
			}
		case slices.Contains(access.OIDCScopes, sc):
			out = append(out, sc)
		default:
			apiScopes = append(apiScopes, sc)
		}
	}
	if ar.api == nil {
		return out, nil
	}
	grant, err := s.store.FindClientGrant(ctx, ar.client.ClientID, ar.api.Identifier, access.SubjectUser)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	var permissions []string
	if ar.api.EnforcePolicies {
		if permissions, err = s.store.EffectivePermissions(ctx, userID, ar.api.Identifier); err != nil {
			return nil, err
		}
	}
	allowed, err := access.UserScopes(ar.api, grant, ar.client.ClientID, permissions, apiScopes)
	var denial *access.Denial
	if errors.As(err, &denial) {
		return nil, ErrAccessDenied.WithDescription(denial.Reason)
	}
	if err != nil {
		return nil, err
	}
	return append(out, allowed...), nil
}

// completeAuthorization issues what the request's response type asks
// for, a code, an ID token or both, and sends it to the client.
func (s *Server) completeAuthorization(w http.ResponseWriter, r *http.Request, ar *authorizeRequest, ses *sessions.Session, user *users.User, granted []string) {
	params := url.Values{}
	if ar.responseType.code {
		code, err := s.storeCode(r.Context(), ar, ses, granted)
		if err != nil {
			s.authorizeFailed(w, r, ar, err)
			return
		}
		params.Set("code", code)
	}
	if ar.responseType.idToken {
		t := tokens.IDToken{IssuedAt: s.now(), AuthTime: ses.AuthTime, Nonce: ar.nonce}
		if ar.responseType.code {
			// The hybrid flow's hashes bind the code and the state to
			// the ID token (OpenID Connect Core section 3.3.2.11; FAPI
			// 1.0 Advanced section 5.2.2.1 for s_hash).
			t.Code, t.State = params.Get("code"), ar.state
		}
		idToken, err := s.signIDToken(ar.client, user, granted, t)
		if err != nil {
			s.authorizeFailed(w, r, ar, err)
			return
		}
		params.Set("id_token", idToken)
		s.logger.Info("issued ID token at the authorization endpoint", zap.String("client_id", ar.client.ClientID), zap.String("user_id", user.UserID))
	}
	s.respondToClient(w, r, ar, params)
}

// storeCode stores an authorization code for the request and returns it.
func (s *Server) storeCode(ctx context.Context, ar *authorizeRequest, ses *sessions.Session, granted []string) (string, error) {
	code := sessions.NewSecret()
	ac := &sessions.AuthorizationCode{
		ID:                  sessions.Key(code),
		ClientID:            ar.client.ClientID,
		UserID:              ses.UserID,
		RedirectURI:         ar.redirectURI,
		Scopes:              granted,
		Nonce:               ar.nonce,
		CodeChallenge:       ar.codeChallenge,
		CodeChallengeMethod: ar.codeChallengeMethod,
		AuthTime:            ses.AuthTime,
		SessionID:           ses.ID,
		FamilyID:            sessions.NewSecret(),
		ExpiresAt:           s.now().Add(CodeLifetime),
	}
	if ar.api != nil {
		ac.Audience = ar.api.Identifier
	}
	if err := s.store.CreateAuthorizationCode(ctx, ac); err != nil {
		return "", err
	}
	s.logger.Info("issued authorization code", zap.String("client_id", ac.ClientID), zap.String("user_id", ac.UserID), zap.String("audience", ac.Audience))
	return code, nil
}

// authorizeFailed answers a failed authorization request: on a page when
// the redirect URI is not trusted, otherwise at the redirect URI. Errors
// that are not *Error become temporarily_unavailable while the database is
// unavailable, server_error otherwise, their text only logged.
func (s *Server) authorizeFailed(w http.ResponseWriter, r *http.Request, ar *authorizeRequest, err error) {
	unavailable := storage.IsUnavailable(err)
	var pe *pageError
	if errors.As(err, &pe) || ar == nil {
		switch {
		case pe != nil:
		case unavailable:
			pe = &pageError{http.StatusServiceUnavailable, "Signing in is not possible right now. Try again in a few moments."}
		default:
			s.logger.Error("authorization request failed", zap.Error(err))
			pe = &pageError{http.StatusInternalServerError, "The server could not complete the request."}
		}
		s.showError(w, r, pe)
		return
	}
	var e *Error
	switch {
	case errors.As(err, &e):
	case unavailable:
		e = ErrTemporarilyUnavailable.WithDescription("The authorization server's database is unavailable; try again shortly.")
	default:
		s.logger.Error("authorization request failed", zap.Error(err))
		e = ErrServerError.WithDescription("The server could not complete the request.")
	}
	params := url.Values{"error": {e.Code}}
	if e.Description != "" {
		params.Set("error_description", e.Description)
	}
	s.respondToClient(w, r, ar, params)
}

// respondToClient sends an authorization response (a code, an ID token,
// or an error) to the redirect URI with the request's state and the issuer
// (RFC 9207): in the query, in the fragment, or, for
// response_mode=form_post, in a form the browser posts.
func (s *Server) respondToClient(w http.ResponseWriter, r *http.Request, ar *authorizeRequest, params url.Values) {
	if ar.state != "" {
		params.Set("state", ar.state)
	}
	params.Set("iss", s.issuer)
	var target string
	switch ar.responseMode {
	case "form_post":
		fields := make(map[string]string, len(params))
		for k := range params {
			fields[k] = params.Get(k)
		}
		page := &ui.FormPost{Page: ui.Page{Title: "Signing in"}, Action: ar.redirectURI, Fields: fields}
		page.Branding = s.branding(r.Context())
		ui.Render(w, http.StatusOK, "form_post", page, originOf(ar.redirectURI))
		return
	case "fragment":
		// Registered callbacks have no fragment.
		target = ar.redirectURI + "#" + params.Encode()
	default:
		u, _ := url.Parse(ar.redirectURI) // it matched a validated callback
		q := u.Query()
		for k := range params {
			q.Set(k, params.Get(k))
		}
		u.RawQuery = q.Encode()
		target = u.String()
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
}

// originOf returns scheme://host of an absolute URL, for a CSP source.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "'none'"
	}
	return u.Scheme + "://" + u.Host
}

// verifiable reports whether a redirect URI proves which application it
// leads to: Auth0 never skips consent for localhost callbacks, which any
// application on the user's machine could serve.
func verifiable(redirectURI string) bool {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
