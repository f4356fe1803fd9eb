package access

import (
	"errors"
	"reflect"
	"testing"
)

func TestUserScopes(t *testing.T) {
	api := func(policy Policy, rbac bool) *ResourceServer {
		rs := &ResourceServer{Identifier: "https://events", EnforcePolicies: rbac, Scopes: []Scope{
			{Value: "create:events"}, {Value: "read:events"}, {Value: "update:events"}, {Value: "delete:events"},
		}}
		rs.ApplyDefaults()
		rs.SubjectTypeAuthorization.User.Policy = policy
		return rs
	}
	userGrant := &ClientGrant{ClientID: "app", Audience: "https://events", SubjectType: SubjectUser, Scope: []string{"read:events", "create:events"}}
	clientGrant := &ClientGrant{ClientID: "app", Audience: "https://events", SubjectType: SubjectClient, AllowAllScopes: true}
	organizer := []string{"create:events", "update:events"}
	all := []string{"create:events", "read:events", "update:events", "delete:events"}
	for _, tc := range []struct {
		name        string
		api         *ResourceServer
		grant       *ClientGrant
		permissions []string
		requested   []string
		want        []string
		denied      bool
	}{
		// Auth0's worked example: the organizer may ask for all four and
		// gets the two it holds.
		{"RBAC: requested ∩ permissions", api(PolicyAllowAll, true), nil, organizer, all, []string{"create:events", "update:events"}, false},
		{"RBAC: nothing held", api(PolicyAllowAll, true), nil, nil, all, []string{}, false},
		{"RBAC: held but not requested", api(PolicyAllowAll, true), nil, organizer, []string{"read:events"}, []string{}, false},
		{"no RBAC: any defined permission", api(PolicyAllowAll, false), nil, nil, all, all, false},
		{"unknown names dropped", api(PolicyAllowAll, false), nil, nil, []string{"read:events", "fly:events", "openid"}, []string{"read:events"}, false},
		{"repeats once, request order", api(PolicyAllowAll, false), nil, nil, []string{"update:events", "read:events", "update:events"}, []string{"update:events", "read:events"}, false},
		{"require_client_grant: the user grant is the ceiling", api(PolicyRequireClientGrant, false), userGrant, nil, all, []string{"create:events", "read:events"}, false},
		{"require_client_grant with RBAC", api(PolicyRequireClientGrant, true), userGrant, organizer, all, []string{"create:events"}, false},
		{"require_client_grant, allow_all_scopes", api(PolicyRequireClientGrant, false), &ClientGrant{ClientID: "app", Audience: "https://events", SubjectType: SubjectUser, AllowAllScopes: true}, nil, all, all, false},
		{"require_client_grant without a grant", api(PolicyRequireClientGrant, false), nil, nil, all, nil, true},
		{"require_client_grant with a client grant only", api(PolicyRequireClientGrant, false), clientGrant, nil, all, nil, true},
		{"require_client_grant with another client's grant", api(PolicyRequireClientGrant, false), &ClientGrant{ClientID: "other", Audience: "https://events", SubjectType: SubjectUser, AllowAllScopes: true}, nil, all, nil, true},
		{"deny_all", api(PolicyDenyAll, false), userGrant, all, all, nil, true},
		{"unknown policy fails closed", api("maybe", false), userGrant, all, all, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UserScopes(tc.api, tc.grant, "app", tc.permissions, tc.requested)
			var denial *Denial
			if tc.denied {
				if !errors.As(err, &denial) {
					t.Fatalf("UserScopes = %v, %v; want a denial", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("UserScopes = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
