package authserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tenant"
)

// Cookies of Universal Login. The session cookie is what makes single
// sign-on work across clients: SameSite=Lax, so that a client's top-level
// redirect to /authorize carries it, and never readable by scripts. The
// CSRF cookie pairs with the hidden field of every form (double submit);
// it is SameSite=Strict, so no other site's form can carry it.
const (
	sessionCookie = "portcullis_session"
	csrfCookie    = "portcullis_csrf"
)

// currentSession returns the login session of the request's cookie, or
// nil when there is none or it has ended (then it is deleted). A live
// session's last use moves to now.
func (s *Server) currentSession(r *http.Request) (*sessions.Session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	ctx := r.Context()
	ses, err := s.store.Session(ctx, sessions.Key(c.Value))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	settings, err := tenant.LoadSettings(ctx, s.store)
	if err != nil {
		return nil, err
	}
	_, idle := settings.SessionDurations()
	now := s.now()
	if !now.Before(ses.ExpiresAt) || now.Sub(ses.LastSeenAt) >= idle {
		return nil, s.store.DeleteSession(ctx, ses.ID)
	}
	ses.LastSeenAt = now
	if err := s.store.UpdateSession(ctx, ses); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	return ses, nil
}

// startSession creates a login session for the user who just signed in,
// replacing the request's previous session, and sets its cookie.
func (s *Server) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string) (*sessions.Session, error) {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := s.store.DeleteSession(ctx, sessions.Key(c.Value)); err != nil {
			return nil, err
		}
	}
	settings, err := tenant.LoadSettings(ctx, s.store)
	if err != nil {
		return nil, err
	}
	absolute, _ := settings.SessionDurations()
	now := s.now()
	secret := sessions.NewSecret()
	ses := &sessions.Session{ID: sessions.Key(secret), UserID: userID, AuthTime: now, LastSeenAt: now, ExpiresAt: now.Add(absolute)}
	if err := s.store.CreateSession(ctx, ses); err != nil {
		return nil, err
	}
	http.SetCookie(w, s.cookie(sessionCookie, secret, http.SameSiteLaxMode, int(absolute.Seconds())))
	return ses, nil
}

// endSession deletes the request's login session, if any, and its cookie.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) error {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	http.SetCookie(w, s.cookie(sessionCookie, "", http.SameSiteLaxMode, -1))
	return s.store.DeleteSession(r.Context(), sessions.Key(c.Value))
}

// cookie makes one of the server's cookies: for the issuer's path only,
// Secure, HttpOnly. maxAge < 0 deletes it.
func (s *Server) cookie(name, value string, sameSite http.SameSite, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: s.prefix, MaxAge: maxAge, Secure: true, HttpOnly: true, SameSite: sameSite}
}

// csrfToken returns the request's CSRF token, setting a new cookie when it
// has none.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	token := sessions.NewSecret()
	http.SetCookie(w, s.cookie(csrfCookie, token, http.SameSiteStrictMode, 0))
	return token
}

// checkForm reads a Universal Login form post and checks that it comes
// from this server's own page: the CSRF field must equal the CSRF cookie,
// and an Origin header, when the browser sends one, must be the issuer's.
func (s *Server) checkForm(r *http.Request) error {
	r.Body = http.MaxBytesReader(nil, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return &pageError{http.StatusBadRequest, "The form could not be read."}
	}
	if o := r.Header.Get("Origin"); o != "" && o != originOf(s.issuer) {
		return &pageError{http.StatusForbidden, "The form was posted from another site."}
	}
	c, err := r.Cookie(csrfCookie)
	field := r.PostForm.Get("csrf")
	if err != nil || field == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(field)) != 1 {
		return &pageError{http.StatusForbidden, "This form has expired or was not sent from the sign-in page. Go back to the application and try again."}
	}
	return nil
}
