package access

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// SubjectType says which flows a client grant covers.
type SubjectType string

// Subject types of client grants.
const (
	// SubjectClient covers the client credentials flow (machine to machine).
	SubjectClient SubjectType = "client"
	// SubjectUser covers every flow that yields a token for an end user.
	SubjectUser SubjectType = "user"
)

// ClientGrant authorizes one application to get tokens for one API, in the
// shape of Auth0's Management API v2 ClientGrant object. An application has
// at most one grant per API and subject type.
type ClientGrant struct {
	ID                        string      `json:"id"`
	ClientID                  string      `json:"client_id"`
	Audience                  string      `json:"audience"`
	Scope                     []string    `json:"scope"`
	SubjectType               SubjectType `json:"subject_type"`
	AllowAllScopes            bool        `json:"allow_all_scopes"`
	OrganizationUsage         string      `json:"organization_usage,omitempty"`
	AllowAnyOrganization      bool        `json:"allow_any_organization"`
	AuthorizationDetailsTypes []string    `json:"authorization_details_types,omitempty"`
}

// Clone returns a deep copy.
func (g *ClientGrant) Clone() *ClientGrant {
	cp := *g
	cp.Scope = slices.Clone(g.Scope)
	cp.AuthorizationDetailsTypes = slices.Clone(g.AuthorizationDetailsTypes)
	return &cp
}

// ApplyDefaults makes a grant without a subject type a client grant.
func (g *ClientGrant) ApplyDefaults() {
	if g.SubjectType == "" {
		g.SubjectType = SubjectClient
	}
	if g.Scope == nil {
		g.Scope = []string{}
	}
}

// Validate checks the grant against the API it names.
func (g *ClientGrant) Validate(api *ResourceServer) error {
	switch g.SubjectType {
	case SubjectClient, SubjectUser:
	default:
		return errors.New("subject_type must be client or user")
	}
	if api.IsSystem && g.SubjectType == SubjectUser {
		// Stricter than Auth0: no user flow issues tokens for it.
		return errors.New("subject_type must be client for the Management API, which is not accessed on behalf of users")
	}
	if g.SubjectType == SubjectClient && len(g.AuthorizationDetailsTypes) > 0 {
		return errors.New("authorization_details_types can only be set on a grant with subject_type user")
	}
	switch g.OrganizationUsage {
	case "", "deny", "allow", "require":
	default:
		return errors.New("organization_usage must be one of deny, allow, require")
	}
	seen := make(map[string]bool, len(g.Scope))
	for _, s := range g.Scope {
		if seen[s] {
			return fmt.Errorf("scope: %q is listed twice", s)
		}
		seen[s] = true
		if !api.HasScope(s) {
			return fmt.Errorf("scope: %q is not a permission of the API %s", s, api.Identifier)
		}
	}
	return nil
}

// Ceiling returns the scopes the grant allows on api right now: every
// permission of the API for allow_all_scopes (including ones added after the
// grant), otherwise the grant's scopes that the API still defines.
func (g *ClientGrant) Ceiling(api *ResourceServer) []string {
	if g.AllowAllScopes {
		return api.ScopeValues()
	}
	out := make([]string, 0, len(g.Scope))
	for _, s := range g.Scope {
		if api.HasScope(s) {
			out = append(out, s)
		}
	}
	return out
}

// Denial is why an application may not have a token for an API. Its
// message is Auth0's, safe to show to the client.
type Denial struct{ Reason string }

func (d *Denial) Error() string { return d.Reason }

// ClientCredentialsScopes decides the scopes of a client credentials token
// for api, applying the API's client access policy and the client's grant
// (nil when it has none). requested is the space-separated scope parameter;
// when it is empty the token gets every scope the grant allows. A requested
// scope beyond the grant is refused, never silently dropped.
func ClientCredentialsScopes(api *ResourceServer, grant *ClientGrant, clientID, requested string) ([]string, error) {
	switch api.SubjectTypeAuthorization.Client.Policy {
	case PolicyRequireClientGrant:
	case PolicyDenyAll:
		return nil, &Denial{fmt.Sprintf("Client credentials access to %q is denied by the API's access policy.", api.Identifier)}
	default:
		// Validate refuses anything else; fail closed if storage holds it.
		return nil, &Denial{fmt.Sprintf("The API %q has no valid client access policy.", api.Identifier)}
	}
	if grant == nil || grant.SubjectType != SubjectClient || grant.ClientID != clientID || grant.Audience != api.Identifier {
		return nil, &Denial{fmt.Sprintf("Client %q is not authorized to access %q. You need to create a \"client-grant\" associated to this API.", clientID, api.Identifier)}
	}
	ceiling := grant.Ceiling(api)
	if strings.TrimSpace(requested) == "" {
		return ceiling, nil
	}
	want := strings.Fields(requested)
	var missing []string
	out := make([]string, 0, len(want))
	for _, s := range want {
		switch {
		case slices.Contains(out, s):
		case slices.Contains(ceiling, s):
			out = append(out, s)
		default:
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return nil, &Denial{"Client has not been granted scopes: " + strings.Join(missing, " ")}
	}
	return out, nil
}
