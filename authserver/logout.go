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
	"github.com/portcullis-gw/portcullis/authserver/ui"
)

// serveLogout is Auth0's GET /v2/logout: it ends the login session and
// redirects to returnTo, which must be one of the client's Allowed Logout
// URLs (client_id given) or of the tenant's (no client_id). Without
// returnTo it shows that the user is signed out.
func (s *Server) serveLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.showError(w, r, &pageError{http.StatusMethodNotAllowed, "Logout accepts only GET."})
		return
	}
	q := r.URL.Query()
	returnTo, err := s.logoutTarget(r.Context(), q.Get("client_id"), q.Get("returnTo"), "returnTo")
	if err != nil {
		s.authorizeFailed(w, r, nil, err)
		return
	}
	s.logout(w, r, returnTo, "")
}

// serveOIDCLogout is OpenID Connect RP-Initiated Logout at /oidc/logout.
// With a valid id_token_hint (or client_id) it ends the session and
// redirects to post_logout_redirect_uri, which must be an Allowed Logout
// URL of that client, with state. Without either, the user confirms the
// logout on a page first, so that other sites cannot sign users out
// unseen.
func (s *Server) serveOIDCLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var q url.Values
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		q = r.URL.Query()
	case http.MethodPost:
		if err := s.checkForm(r); err != nil {
			s.authorizeFailed(w, r, nil, err)
			return
		}
		q = r.URL.Query()
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.showError(w, r, &pageError{http.StatusMethodNotAllowed, "Logout accepts only GET and POST."})
		return
	}
	clientID := q.Get("client_id")
	if hint := q.Get("id_token_hint"); hint != "" {
		aud, err := s.idTokenHintClient(ctx, hint)
		if err != nil || (clientID != "" && clientID != aud) {
			s.showError(w, r, &pageError{http.StatusBadRequest, "The id_token_hint is not a valid ID token of this server for this client."})
			return
		}
		clientID = aud
	}
	target, err := s.logoutTarget(ctx, clientID, q.Get("post_logout_redirect_uri"), "post_logout_redirect_uri")
	if err != nil {
		s.authorizeFailed(w, r, nil, err)
		return
	}
	if clientID == "" && r.Method != http.MethodPost {
		page := &ui.Message{
			Page:    ui.Page{Branding: s.branding(ctx), Title: "Sign out"},
			Message: "Do you want to sign out?",
			Action:  s.prefix + "oidc/logout?" + r.URL.RawQuery,
			CSRF:    s.csrfToken(w, r),
			Button:  "Sign out",
		}
		ui.Render(w, http.StatusOK, "message", page)
		return
	}
	s.logout(w, r, target, q.Get("state"))
}

// idTokenHintClient verifies an ID token of this server, expired or not,
// and returns its audience (the client it was issued to).
func (s *Server) idTokenHintClient(ctx context.Context, hint string) (string, error) {
	unverified, err := jwt.ParseInsecure([]byte(hint))
	if err != nil || len(unverified.Audience()) != 1 {
		return "", errors.New("not an ID token")
	}
	aud := unverified.Audience()[0]
	v := *s.verifier
	// An ID token that expired still names who signed in (RP-Initiated
	// Logout section 2): check it as of its own expiry.
	if exp := unverified.Expiration(); !exp.IsZero() && exp.Before(s.now()) {
		v.Now = func() time.Time { return exp.Add(-time.Second) }
	}
	if _, err := v.Verify(ctx, hint, aud); err != nil {
		return "", err
	}
	return aud, nil
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
	if state != "" {
		u, _ := url.Parse(target)
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
		target = u.String()
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}
