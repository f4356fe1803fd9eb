package authserver

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/ui"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// What the OpenID Connect scopes let an application see, on the consent
// page.
var oidcScopeDescriptions = map[string]string{
	access.ScopeOpenID:        "Sign you in",
	access.ScopeProfile:       "Your name, nickname and picture",
	access.ScopeEmail:         "Your email address",
	access.ScopeOfflineAccess: "Stay signed in: use the permissions below while you are away",
}

// needsConsent reports whether the user must approve the granted scopes,
// as Auth0 decides: third-party clients (is_first_party false) always ask,
// until the user has consented to these scopes; first-party clients ask
// only for an API's permissions, and not when the API allows skipping
// consent (skip_consent_for_verifiable_first_party_clients) and the
// redirect URI is verifiable (not localhost). prompt=consent always asks.
func (s *Server) needsConsent(ctx context.Context, ar *authorizeRequest, userID string, granted []string) (bool, error) {
	if ar.client.IsFirstParty {
		hasAPIScopes := slices.ContainsFunc(granted, func(sc string) bool { return !slices.Contains(access.OIDCScopes, sc) })
		if ar.api == nil || !hasAPIScopes || (ar.api.SkipConsent && verifiable(ar.redirectURI)) {
			return ar.prompt == "consent", nil
		}
	}
	if ar.prompt == "consent" {
		return true, nil
	}
	c, err := s.store.Consent(ctx, userID, ar.client.ClientID, ar.audience())
	if errors.Is(err, storage.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return !c.Covers(granted), nil
}

// audience is the identifier of the request's API, or "".
func (ar *authorizeRequest) audience() string {
	if ar.api == nil {
		return ""
	}
	return ar.api.Identifier
}

// showConsent renders the consent page: the granted scopes, OpenID Connect
// ones first, then the API's with their descriptions.
func (s *Server) showConsent(w http.ResponseWriter, r *http.Request, ar *authorizeRequest, email string, granted []string) {
	profile := ui.ScopeGroup{}
	api := ui.ScopeGroup{}
	if ar.api != nil {
		api.API = ar.api.Name
	}
	for _, sc := range granted {
		if d, ok := oidcScopeDescriptions[sc]; ok {
			profile.Scopes = append(profile.Scopes, ui.ScopeItem{Name: sc, Description: d})
			continue
		}
		item := ui.ScopeItem{Name: sc}
		if i := slices.IndexFunc(ar.api.Scopes, func(d access.Scope) bool { return d.Value == sc }); i >= 0 {
			item.Description = ar.api.Scopes[i].Description
		}
		api.Scopes = append(api.Scopes, item)
	}
	var groups []ui.ScopeGroup
	for _, g := range []ui.ScopeGroup{profile, api} {
		if len(g.Scopes) > 0 {
			groups = append(groups, g)
		}
	}
	page := &ui.Consent{
		Page:       ui.Page{Branding: s.branding(r.Context()), Title: "Authorize " + ar.client.Name},
		Action:     s.prefix + "u/consent?" + ar.query,
		CSRF:       s.csrfToken(w, r),
		ClientName: ar.client.Name,
		UserEmail:  email,
		Groups:     groups,
	}
	ui.Render(w, http.StatusOK, "consent", page, originOf(ar.redirectURI))
}

// serveConsent takes the consent form's answer: accept stores the consent
// (Auth0's user grant) and completes the authorization; decline sends access_denied to
// the client.
func (s *Server) serveConsent(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.showError(w, r, &pageError{http.StatusMethodNotAllowed, "The consent form accepts only POST."})
		return
	}
	ctx := r.Context()
	ar, err := s.parseAuthorize(ctx, r.URL.Query(), r.URL.RawQuery)
	if err != nil {
		s.authorizeFailed(w, r, ar, err)
		return
	}
	if err := s.checkForm(r); err != nil {
		s.authorizeFailed(w, r, nil, err)
		return
	}
	ses, err := s.currentSession(r)
	if err != nil {
		s.authorizeFailed(w, r, ar, err)
		return
	}
	var user *users.User
	if ses != nil {
		if user, err = s.sessionUser(ctx, ses); err != nil {
			s.authorizeFailed(w, r, ar, err)
			return
		}
	}
	// Without a session, or when its user is gone or blocked, the user
	// signs in again.
	if user == nil {
		s.showLogin(w, r, ar, http.StatusOK, "Your session has ended. Sign in again.", "")
		return
	}
	switch r.PostForm.Get("action") {
	case "accept":
	case "deny":
		s.authorizeFailed(w, r, ar, ErrAccessDenied.WithDescription("User did not authorize the request"))
		return
	default:
		s.showError(w, r, &pageError{http.StatusBadRequest, "Choose Accept or Decline."})
		return
	}
	granted, err := s.grantedScopes(ctx, ar, ses.UserID)
	if err != nil {
		s.authorizeFailed(w, r, ar, err)
		return
	}
	consent := &sessions.Consent{UserID: ses.UserID, ClientID: ar.client.ClientID, Audience: ar.audience(), Scopes: granted}
	if old, err := s.store.Consent(ctx, ses.UserID, ar.client.ClientID, ar.audience()); err == nil {
		for _, sc := range old.Scopes {
			if !slices.Contains(consent.Scopes, sc) {
				consent.Scopes = append(consent.Scopes, sc)
			}
		}
	}
	if err := s.store.SaveConsent(ctx, consent); err != nil {
		s.authorizeFailed(w, r, ar, err)
		return
	}
	s.completeAuthorization(w, r, ar, ses, user, granted)
}
