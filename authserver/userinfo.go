package authserver

import (
	"errors"
	"net/http"
	"slices"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/bearer"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// serveUserinfo is the UserInfo endpoint (OpenID Connect Core section
// 5.3), for GET and POST: the claims of the user an access token was
// issued to, for the profile and email scopes it carries. The token must
// be for the issuer's /userinfo audience, carry openid, and come in the
// Authorization header (RFC 6750 section 2.1). Unlike Auth0, a token in
// the access_token query parameter is refused, as RFC 9700 section 4.3.2
// and RFC 6750 section 2.3 advise: URLs end up in logs and histories.
// Config.UserinfoTokenInQuery takes it, for applications that send it.
func (s *Server) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, ErrMethodNotAllowed.WithDescription("The userinfo endpoint accepts only GET and POST."))
		return
	}
	if !s.userinfoGuard.TokenInQuery && r.URL.Query().Has("access_token") {
		writeBearerError(w, ErrInvalidRequest.WithDescription("Send the access token in the Authorization header, not in the URL."), "")
		return
	}
	claims, err := s.userinfoGuard.Authenticate(r)
	var refused *bearer.Refusal
	if errors.As(err, &refused) {
		w.Header().Set("WWW-Authenticate", refused.Challenge(""))
		if refused.Missing() {
			// RFC 6750 section 3.1: a request without credentials gets a
			// challenge without error details.
			refused = &bearer.Refusal{Status: http.StatusUnauthorized, Code: ErrInvalidToken.Code,
				Description: "Missing access token: send it in an Authorization: Bearer header."}
		}
		writeError(w, &Error{Status: refused.Status, Code: refused.Code, Description: refused.Description})
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if !claims.HasScope(access.ScopeOpenID) {
		writeBearerError(w, ErrInsufficientScope.WithDescription("The token lacks the openid scope."), access.ScopeOpenID)
		return
	}
	if r.Header.Get("Origin") != "" {
		c, err := s.store.Client(r.Context(), claims.ClientID)
		if errors.Is(err, storage.ErrNotFound) {
			writeBearerError(w, ErrInvalidToken.WithDescription("The client the token was issued to no longer exists."), "")
			return
		}
		if err == nil {
			err = allowOrigin(w, r, c)
		}
		if err != nil {
			writeError(w, err)
			return
		}
	}
	u, err := s.store.User(r.Context(), claims.Subject)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.Blocked {
		writeBearerError(w, ErrInvalidToken.WithDescription("The user of the token no longer exists or is blocked."), "")
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	info := userClaims(u, claims.Scopes)
	info["sub"] = u.UserID
	writeJSON(w, http.StatusOK, info)
}

// writeBearerError writes err with the WWW-Authenticate: Bearer challenge
// of RFC 6750 section 3; scope, when set, is the scope the request lacks.
func writeBearerError(w http.ResponseWriter, err *Error, scope string) {
	refusal := bearer.Refusal{Code: err.Code, Description: err.Description, Scope: scope}
	w.Header().Set("WWW-Authenticate", refusal.Challenge(""))
	writeError(w, err)
}

// userClaims are the standard claims of u (OpenID Connect Core section
// 5.4) that the scopes grant, in ID tokens and at /userinfo: name,
// nickname, given_name, family_name, picture and updated_at (an RFC 3339
// time in milliseconds, as Auth0 writes it) for profile; email and email_verified for
// email. Empty values are left out.
func userClaims(u *users.User, scopes []string) map[string]any {
	c := map[string]any{}
	if slices.Contains(scopes, access.ScopeProfile) {
		for name, v := range map[string]string{
			"name": u.Name, "nickname": u.Nickname, "given_name": u.GivenName,
			"family_name": u.FamilyName, "picture": u.Picture,
		} {
			if v != "" {
				c[name] = v
			}
		}
		if !u.UpdatedAt.IsZero() {
			c["updated_at"] = u.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		}
	}
	if slices.Contains(scopes, access.ScopeEmail) && u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	return c
}
