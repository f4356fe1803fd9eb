package authserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"
	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/redirects"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tenant"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/authserver/ui"
)

// serveLogout is Auth0's GET /v2/logout: it ends the login session and
// redirects to returnTo, which must be one of the client's Allowed Logout
// URLs (client_id given) or of the tenant's (no client_id). Without
// returnTo it shows that the user is signed out. As /v2/logout takes no
// id_token_hint, a request from another site asks the user first (see
// logoutOrConfirm).
func (s *Server) serveLogout(w http.ResponseWriter, r *http.Request) {
	q, ok := s.logoutParams(w, r)
	if !ok {
		return
	}
	returnTo, err := s.logoutTarget(r.Context(), q.Get("client_id"), q.Get("returnTo"), "returnTo")
	if err != nil {
		s.authorizeFailed(w, r, nil, err)
		return
	}
	s.logoutOrConfirm(w, r, returnTo, "", "")
}

// serveOIDCLogout is OpenID Connect RP-Initiated Logout 1.0 at
// /oidc/logout. It ends the session and redirects to
// post_logout_redirect_uri, which must be an Allowed Logout URL of the
// client (of id_token_hint's audience, or client_id, which must then be
// the same) or of the tenant, with state. It asks the user first unless
// id_token_hint, an ID token of this server (expired or not), names the
// signed-in user (section 2: the OP asks when it has no such hint).
func (s *Server) serveOIDCLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q, ok := s.logoutParams(w, r)
	if !ok {
		return
	}
	clientID, hintSubject := q.Get("client_id"), ""
	if hint := q.Get("id_token_hint"); hint != "" {
		aud, sub, err := s.verifyIDTokenHint(ctx, hint)
		if err != nil || (clientID != "" && clientID != aud) {
			s.showError(w, r, &pageError{http.StatusBadRequest, "The id_token_hint is not a valid ID token of this server for this client."})
			return
		}
		clientID, hintSubject = aud, sub
	}
	target, err := s.logoutTarget(ctx, clientID, q.Get("post_logout_redirect_uri"), "post_logout_redirect_uri")
	if err != nil {
		s.authorizeFailed(w, r, nil, err)
		return
	}
	s.logoutOrConfirm(w, r, target, q.Get("state"), hintSubject)
}

// logoutParams returns the parameters of a logout request, which are
// always in the query: a GET's, or that of the confirmation form's POST,
// whose origin and CSRF token it checks. On any other request it answers
// with an error page and returns false.
func (s *Server) logoutParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		if err := s.checkForm(r); err != nil {
			s.authorizeFailed(w, r, nil, err)
			return nil, false
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.showError(w, r, &pageError{http.StatusMethodNotAllowed, "Logout accepts only GET, and POST from its confirmation page."})
		return nil, false
	}
	return r.URL.Query(), true
}

// logoutOrConfirm ends the session and goes to target (with state) when
// the request is surely the user's wish, and otherwise shows a page that
// asks the user, so that other sites cannot sign users out unseen (a
// cross-site GET carries the SameSite=Lax session cookie). It is surely
// the user's wish when there is no session to end, when the browser says
// that the request comes from this server's own pages (fromOwnPages), or
// when hintSubject, the subject of a verified id_token_hint, is the
// session's user. The page's form posts back to the same URL with action
// confirm (end the session) or cancel (keep it).
func (s *Server) logoutOrConfirm(w http.ResponseWriter, r *http.Request, target, state, hintSubject string) {
	if r.Method == http.MethodPost {
		switch r.PostForm.Get("action") {
		case "confirm":
			s.logout(w, r, target, state)
		case "cancel":
			page := &ui.Message{Page: ui.Page{Branding: s.branding(r.Context()), Title: "Sign out"}, Message: "You are still signed in."}
			ui.Render(w, http.StatusOK, "message", page)
		default:
			s.showError(w, r, &pageError{http.StatusBadRequest, "Choose Sign out or Stay signed in."})
		}
		return
	}
	ses, err := s.currentSession(r)
	if err != nil {
		s.authorizeFailed(w, r, nil, err)
		return
	}
	if ses == nil || s.fromOwnPages(r) || (hintSubject != "" && hintSubject == ses.UserID) {
		s.logout(w, r, target, state)
		return
	}
	page := &ui.Logout{
		Page:   ui.Page{Branding: s.branding(r.Context()), Title: "Sign out"},
		Action: r.URL.EscapedPath() + "?" + r.URL.RawQuery,
		CSRF:   s.csrfToken(w, r),
	}
	// The form's answer may redirect to target, which form-action must
	// allow (browsers apply it to the redirects of a submission).
	var formAction []string
	if target != "" {
		formAction = append(formAction, originOf(target))
	}
	ui.Render(w, http.StatusOK, "logout", page, formAction...)
}

// fromOwnPages reports whether the browser says that the request comes
// from this server's own pages: Sec-Fetch-Site same-origin, which no other
// site's page, link or redirect can give a request (another origin in its
// redirect chain makes it cross-site), or, from a browser that sends no
// Fetch Metadata, an Origin of the issuer's. Not none: a navigation that
// the user started outside the page (typed in, or a link in an e-mail)
// keeps none through the redirects of any site it goes to first.
func (s *Server) fromOwnPages(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
		return true
	case "":
		return r.Header.Get("Origin") == originOf(s.issuer)
	}
	return false
}

// verifyIDTokenHint verifies an ID token of this server, expired or not,
// and returns its audience (the client it was issued to) and subject (the
// user).
func (s *Server) verifyIDTokenHint(ctx context.Context, hint string) (aud, sub string, err error) {
	unverified, err := jwt.ParseInsecure([]byte(hint))
	if err != nil || len(unverified.Audience()) != 1 {
		return "", "", errors.New("not an ID token")
	}
	aud = unverified.Audience()[0]
	v := *s.verifier
	// An ID token that expired still names who signed in (RP-Initiated
	// Logout section 2): check it as of its own expiry.
	if exp := unverified.Expiration(); !exp.IsZero() && exp.Before(s.now()) {
		v.Now = func() time.Time { return exp.Add(-time.Second) }
	}
	claims, err := v.Verify(ctx, hint, aud)
	if err != nil {
		return "", "", err
	}
	// Access tokens verify too, and one of an API whose identifier is a
	// client's ID has that audience; but every access token has a jti,
	// and no ID token of this server has one.
	if claims.Type != tokens.TypeJWT || claims.JWTID != "" {
		return "", "", errors.New("an access token, not an ID token")
	}
	if claims.Subject == "" {
		return "", "", errors.New("the ID token has no subject")
	}
	return aud, claims.Subject, nil
}

// logoutTarget checks the URL to send the user to after logout: one of
// the Allowed Logout URLs of the client, or of the tenant when clientID is
// empty. An empty target is fine (the signed-out page is shown).
func (s *Server) logoutTarget(ctx context.Context, clientID, target, param string) (string, error) {
	var allowed []string
	if clientID != "" {
		c, err := s.store.Client(ctx, clientID)
		if errors.Is(err, storage.ErrNotFound) {
			return "", &pageError{http.StatusBadRequest, "Unknown client: " + clientID}
		}
		if err != nil {
			return "", err
		}
		allowed = c.AllowedLogoutURLs
	} else {
		settings, err := tenant.LoadSettings(ctx, s.store)
		if err != nil {
			return "", err
		}
		allowed = settings.AllowedLogoutURLs
	}
	if target != "" && !redirects.MatchCallback(allowed, target) {
		where := "the tenant's"
		if clientID != "" {
			where = "the application's"
		}
		return "", &pageError{http.StatusBadRequest, "The " + param + " URL " + target + " is not in " + where + " Allowed Logout URLs."}
	}
	return target, nil
}

// logout ends the session and goes to target (with state, when given), or
// shows the signed-out page.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, target, state string) {
	if target != "" && state != "" {
		u, err := url.Parse(target)
		if err != nil {
			s.showError(w, r, &pageError{http.StatusBadRequest, "The logout URL cannot carry the state parameter."})
			return
		}
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
		target = u.String()
	}
	if err := s.endSession(w, r); err != nil {
		s.logger.Error("ending a session", zap.Error(err))
		s.showError(w, r, &pageError{http.StatusInternalServerError, "The server could not sign you out. Try again."})
		return
	}
	if target == "" {
		page := &ui.Message{Page: ui.Page{Branding: s.branding(r.Context()), Title: "Signed out"}, Message: "You are signed out."}
		ui.Render(w, http.StatusOK, "message", page)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}
