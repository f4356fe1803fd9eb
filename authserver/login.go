package authserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tenant"
	"github.com/portcullis-gw/portcullis/authserver/ui"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// BruteForceProtection bounds failed sign-ins, as Auth0's brute-force
// protection (per user and IP address) and suspicious IP throttling (per
// IP address) do. Failures count within Window; a successful sign-in
// clears the user's count from that address.
type BruteForceProtection struct {
	// UserAttempts is how many failed sign-ins to one account from one IP
	// address lock that account from that address. Default 10.
	UserAttempts int
	// IPAttempts is how many failed sign-ins from one IP address, to any
	// accounts, lock that address out. Default 100.
	IPAttempts int
	// Window is how long failures count, and so how long a lock-out lasts
	// at most. Default 15 minutes.
	Window time.Duration
}

func (b *BruteForceProtection) applyDefaults() {
	if b.UserAttempts == 0 {
		b.UserAttempts = 10
	}
	if b.IPAttempts == 0 {
		b.IPAttempts = 100
	}
	if b.Window == 0 {
		b.Window = 15 * time.Minute
	}
}

// Messages of the login page. Wrong e-mail address and wrong password read
// the same, so that the page does not tell which addresses have accounts.
const (
	msgWrongCredentials = "Wrong email or password."
	msgUserLocked       = "Your account has been blocked after multiple consecutive login attempts. Try again in %s."
	msgIPLocked         = "Too many failed sign-ins from your network. Try again in %s."
	msgBlocked          = "This account is blocked. Contact the administrator."
	msgLoginRateLimit   = "Too many sign-in attempts from your network. Try again in %s."
)

// showLogin renders the login page for the authorization request.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, ar *authorizeRequest, status int, message, email string) {
	page := &ui.Login{
		Page:       ui.Page{Branding: s.branding(r.Context()), Title: "Sign in", Error: message},
		Action:     s.prefix + "u/login?" + ar.query,
		CSRF:       s.csrfToken(w, r),
		Email:      email,
		ClientName: ar.client.Name,
	}
	// The form's answer may redirect to the client, which form-action
	// must allow (browsers apply it to the redirects of a submission).
	ui.Render(w, status, "login", page, originOf(ar.redirectURI))
}

// serveLogin is Universal Login's form: GET shows it, POST signs the user
// in and continues the authorization request it carries in its query.
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	ar, err := s.parseAuthorize(r.Context(), r.URL.Query(), r.URL.RawQuery)
	if err != nil {
		s.authorizeFailed(w, r, ar, err)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.showLogin(w, r, ar, http.StatusOK, "", ar.loginHint)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.showError(w, r, &pageError{http.StatusMethodNotAllowed, "The login page accepts only GET and POST."})
		return
	}
	if err := s.checkForm(r); err != nil {
		s.authorizeFailed(w, r, nil, err)
		return
	}
	email, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	if retry := s.overLimit(r.Context(), "login-ip|"+s.clientIP(r), s.rateLimits.LoginPerIP); retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		s.showLogin(w, r, ar, http.StatusTooManyRequests, fmt.Sprintf(msgLoginRateLimit, humanDuration(time.Duration(retry)*time.Second)), email)
		return
	}
	if email == "" || password == "" {
		s.showLogin(w, r, ar, http.StatusBadRequest, "Enter your email address and password.", email)
		return
	}
	if len(email) > users.MaxEmailLength {
		s.showLogin(w, r, ar, http.StatusUnauthorized, msgWrongCredentials, "")
		return
	}
	user, err := s.signIn(r.Context(), email, password, s.clientIP(r))
	var refused *pageError
	switch {
	case errors.As(err, &refused):
		s.showLogin(w, r, ar, refused.status, refused.message, email)
		return
	case err != nil:
		s.authorizeFailed(w, r, ar, err)
		return
	}
	ses, err := s.startSession(r.Context(), w, r, user.UserID)
	if err != nil {
		s.authorizeFailed(w, r, ar, err)
		return
	}
	s.continueAuthorization(w, r, ar, ses, true)
}

// signIn checks an e-mail address and password from ip against the
// brute-force limits and the user's hash. It returns the user, or a
// *pageError with the status and message of the refusal to show on the
// login form, or another error when the attempt could not be checked.
//
// Each attempt counts as a failure before its password is checked, so
// that attempts made at once count each other and no more of them are
// checked than the limits allow; an attempt refused unchecked, or whose
// password is right, is forgotten again.
func (s *Server) signIn(ctx context.Context, email, password, ip string) (*users.User, error) {
	now := s.now()
	since := now.Add(-s.bruteForce.Window)
	ipKey := "ip|" + ip
	userKey := "user|" + users.EmailKey(users.DefaultConnection, email) + "|" + ip
	attempt := rand.Text()
	for _, key := range []string{ipKey, userKey} {
		if err := s.store.RecordLoginFailure(ctx, key, attempt, now); err != nil {
			return nil, err
		}
	}
	forget := func(keys ...string) error {
		for _, key := range keys {
			if err := s.store.ForgetLoginFailure(ctx, key, attempt); err != nil {
				return err
			}
		}
		return nil
	}
	retry := humanDuration(s.bruteForce.Window)
	for _, limit := range []struct {
		key      string
		attempts int
		message  string
	}{{ipKey, s.bruteForce.IPAttempts, msgIPLocked}, {userKey, s.bruteForce.UserAttempts, msgUserLocked}} {
		// This attempt is among the n.
		if n, err := s.store.LoginFailures(ctx, limit.key, since); err != nil {
			return nil, err
		} else if n > limit.attempts {
			if err := forget(ipKey, userKey); err != nil {
				return nil, err
			}
			return nil, &pageError{http.StatusTooManyRequests, fmt.Sprintf(limit.message, retry)}
		}
	}
	user, err := s.store.UserByEmail(ctx, users.DefaultConnection, email)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	if !s.checkPassword(ctx, user, password) {
		s.logger.Info("failed sign-in", zap.String("ip", ip))
		return nil, &pageError{http.StatusUnauthorized, msgWrongCredentials}
	}
	if user.Blocked {
		if err := forget(ipKey, userKey); err != nil {
			return nil, err
		}
		return nil, &pageError{http.StatusForbidden, msgBlocked}
	}
	if err := forget(ipKey); err != nil {
		return nil, err
	}
	if err := s.store.ClearLoginFailures(ctx, userKey); err != nil {
		return nil, err
	}
	// The sign-in writes its record only: a block or a password change
	// made since the user was read stays (the session's next step reads
	// the user again and refuses a blocked one).
	in := storage.SignIn{At: now, IP: ip, VerifiedHash: user.PasswordHash}
	if users.DefaultArgon2Params.NeedsRehash(user.PasswordHash) {
		if hash, err := users.HashPassword(password); err == nil {
			in.Rehash = hash
		}
	}
	err = s.store.RecordSignIn(ctx, user.UserID, in)
	if errors.Is(err, storage.ErrNotFound) {
		// Deleted since it was read.
		return nil, &pageError{http.StatusUnauthorized, msgWrongCredentials}
	}
	if err != nil {
		return nil, err
	}
	s.logger.Info("signed in", zap.String("user_id", user.UserID), zap.String("ip", ip))
	return user, nil
}

// humanDuration writes d as a whole number of minutes, rounded up, or of
// seconds when shorter than a minute.
func humanDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", int(d.Round(time.Second).Seconds()))
	}
	m := int((d + time.Minute - 1) / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// checkPassword verifies the password of user (nil when there is no such
// user, which takes as long), at most a few at a time: each verification
// holds about 19 MiB and a core for tens of milliseconds.
func (s *Server) checkPassword(ctx context.Context, user *users.User, password string) bool {
	select {
	case s.hashing <- struct{}{}:
		defer func() { <-s.hashing }()
	case <-ctx.Done():
		return false
	}
	if user == nil || len(user.PasswordHash) == 0 {
		return users.VerifyNoUser(password)
	}
	ok, err := users.VerifyPassword(user.PasswordHash, password)
	if err != nil {
		s.logger.Error("unreadable password hash", zap.String("user_id", user.UserID), zap.Error(err))
	}
	return ok
}

// clientIP is the request's client address, as the embedding server
// decided it (Config.ClientIP), or the connection's peer.
func (s *Server) clientIP(r *http.Request) string {
	if s.clientIPFunc != nil {
		if ip := s.clientIPFunc(r); ip != "" {
			return ip
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// branding is how the pages look, from the tenant settings and branding;
// when they cannot be read, the pages keep their defaults.
func (s *Server) branding(ctx context.Context) ui.Branding {
	var b ui.Branding
	if settings, err := tenant.LoadSettings(ctx, s.store); err == nil {
		b.Name, b.LogoURL = settings.FriendlyName, settings.PictureURL
	}
	if br, err := tenant.LoadBranding(ctx, s.store); err == nil {
		if br.LogoURL != "" {
			b.LogoURL = br.LogoURL
		}
		if br.Colors != nil {
			b.PrimaryColor, b.BackgroundColor = br.Colors.Primary, br.Colors.PageBackground
		}
	}
	return b
}

// showError renders an error page.
func (s *Server) showError(w http.ResponseWriter, r *http.Request, e *pageError) {
	page := &ui.Message{Page: ui.Page{Branding: s.branding(r.Context()), Title: "Something went wrong", Error: e.message}}
	ui.Render(w, e.status, "message", page)
}
