package access

import (
	"fmt"
	"slices"
)

// UserScopes decides which of an API's permissions a token issued to a user
// through clientID may carry, in every user flow (authorization code,
// refresh token), as Auth0 does:
//
//   - the API's user access policy: allow_all needs no client grant;
//     require_client_grant makes the client's subject_type user grant
//     (nil when it has none) the ceiling, and refuses clients without one;
//     deny_all refuses every client;
//   - requested names that are not permissions of the API are dropped;
//   - with RBAC (enforce_policies) the scopes are the requested ones the
//     user holds (permissions: the user's permissions for the API, direct
//     and through roles); without it, any permission may be requested.
//
// Unlike client credentials, a user flow narrows rather than refuses: the
// result is the requested scopes that pass, in request order, each once.
func UserScopes(api *ResourceServer, grant *ClientGrant, clientID string, permissions, requested []string) ([]string, error) {
	var ceiling []string
	switch api.SubjectTypeAuthorization.User.Policy {
	case PolicyAllowAll:
		ceiling = api.ScopeValues()
	case PolicyRequireClientGrant:
		if grant == nil || grant.SubjectType != SubjectUser || grant.ClientID != clientID || grant.Audience != api.Identifier {
			return nil, &Denial{fmt.Sprintf("Client %q is not authorized to access %q on behalf of users. You need to create a \"client-grant\" with subject_type user associated to this API.", clientID, api.Identifier)}
		}
		ceiling = grant.Ceiling(api)
	case PolicyDenyAll:
		return nil, &Denial{fmt.Sprintf("User access to %q is denied by the API's access policy.", api.Identifier)}
	default:
		return nil, &Denial{fmt.Sprintf("The API %q has no valid user access policy.", api.Identifier)}
	}
	out := []string{}
	for _, s := range requested {
		if slices.Contains(out, s) || !slices.Contains(ceiling, s) {
			continue
		}
		if api.EnforcePolicies && !slices.Contains(permissions, s) {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// OpenID Connect scopes granted in user flows besides an API's
// permissions: openid (an ID token and /userinfo), profile and email (their
// claims), and offline_access (a refresh token, when the API allows
// offline access and the client the refresh_token grant).
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

// OIDCScopes lists the OpenID Connect scopes above.
var OIDCScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess}
