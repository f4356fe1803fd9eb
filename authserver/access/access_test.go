package access

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func api(scopes ...string) *ResourceServer {
	rs := &ResourceServer{ID: "rs1", Identifier: "https://api.example.com/"}
	for _, s := range scopes {
		rs.Scopes = append(rs.Scopes, Scope{Value: s})
	}
	rs.ApplyDefaults()
	return rs
}

func TestResourceServerDefaults(t *testing.T) {
	rs := api()
	if rs.SubjectTypeAuthorization.User.Policy != PolicyAllowAll {
		t.Errorf("user policy = %q, want allow_all", rs.SubjectTypeAuthorization.User.Policy)
	}
	if rs.SubjectTypeAuthorization.Client.Policy != PolicyRequireClientGrant {
		t.Errorf("client policy = %q, want require_client_grant", rs.SubjectTypeAuthorization.Client.Policy)
	}
	if rs.TokenLifetime != 86400 || rs.SigningAlg != "RS256" || rs.TokenDialect != DialectAuth0 || rs.Name != rs.Identifier {
		t.Errorf("defaults: lifetime %d, alg %s, dialect %s, name %q", rs.TokenLifetime, rs.SigningAlg, rs.TokenDialect, rs.Name)
	}
	if err := rs.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestResourceServerValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*ResourceServer)
		wantErr string // substring; empty means valid
	}{
		{"defaults", func(*ResourceServer) {}, ""},
		{"missing identifier", func(rs *ResourceServer) { rs.Identifier = "" }, "identifier is required"},
		{"identifier with space", func(rs *ResourceServer) { rs.Identifier = "https://a b" }, "white space"},
		{"trailing slash is just another identifier", func(rs *ResourceServer) { rs.Identifier = "https://api.example.com" }, ""},
		{"name with angle bracket", func(rs *ResourceServer) { rs.Name = "<b>" }, "< or >"},
		{"lifetime at maximum", func(rs *ResourceServer) { rs.TokenLifetime = MaxTokenLifetime }, ""},
		{"lifetime over maximum", func(rs *ResourceServer) { rs.TokenLifetime = MaxTokenLifetime + 1 }, "token_lifetime"},
		{"lifetime zero", func(rs *ResourceServer) { rs.TokenLifetime = 0 }, "token_lifetime"},
		{"lifetime negative", func(rs *ResourceServer) { rs.TokenLifetime = -5 }, "token_lifetime"},
		{"web lifetime above maximum lifetime", func(rs *ResourceServer) { rs.TokenLifetime = 3600; rs.TokenLifetimeForWeb = 3601 }, "token_lifetime_for_web"},
		{"PS256", func(rs *ResourceServer) { rs.SigningAlg = "PS256" }, ""},
		{"ES256", func(rs *ResourceServer) { rs.SigningAlg = "ES256" }, ""},
		{"HS256 refused", func(rs *ResourceServer) { rs.SigningAlg = "HS256" }, "HS256 is not supported"},
		{"unknown alg", func(rs *ResourceServer) { rs.SigningAlg = "none" }, "signing_alg"},
		{"rfc9068 dialect", func(rs *ResourceServer) { rs.TokenDialect = DialectRFC9068 }, ""},
		{"unknown dialect", func(rs *ResourceServer) { rs.TokenDialect = "jwt" }, "token_dialect"},
		{"authz dialect needs RBAC", func(rs *ResourceServer) { rs.TokenDialect = DialectAuth0Authz }, "enforce_policies"},
		{"authz dialect with RBAC", func(rs *ResourceServer) { rs.TokenDialect = DialectRFC9068Authz; rs.EnforcePolicies = true }, ""},
		{"client allow_all refused", func(rs *ResourceServer) { rs.SubjectTypeAuthorization.Client.Policy = PolicyAllowAll }, "allow_all is for user access only"},
		{"client deny_all", func(rs *ResourceServer) { rs.SubjectTypeAuthorization.Client.Policy = PolicyDenyAll }, ""},
		{"user require_client_grant", func(rs *ResourceServer) { rs.SubjectTypeAuthorization.User.Policy = PolicyRequireClientGrant }, ""},
		{"user deny_all", func(rs *ResourceServer) { rs.SubjectTypeAuthorization.User.Policy = PolicyDenyAll }, ""},
		{"unknown user policy", func(rs *ResourceServer) { rs.SubjectTypeAuthorization.User.Policy = "maybe" }, "user.policy"},
		{"duplicate scope", func(rs *ResourceServer) { rs.Scopes = []Scope{{Value: "read:a"}, {Value: "read:a"}} }, "listed twice"},
		{"empty scope", func(rs *ResourceServer) { rs.Scopes = []Scope{{Value: ""}} }, "value is required"},
		{"scope with space", func(rs *ResourceServer) { rs.Scopes = []Scope{{Value: "read a"}} }, "white space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := api("read:a")
			tc.change(rs)
			err := rs.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestReservedScopeNamesRefused(t *testing.T) {
	if len(ReservedScopes) != 14 {
		t.Fatalf("%d reserved names, Auth0 has 14", len(ReservedScopes))
	}
	for _, name := range ReservedScopes {
		t.Run(name, func(t *testing.T) {
			err := ValidateScopes([]Scope{{Value: "read:ok"}, {Value: name}})
			if err == nil || !strings.Contains(err.Error(), "reserved") {
				t.Fatalf("ValidateScopes(%q) = %v, want a reserved-name error", name, err)
			}
		})
	}
}

func TestClientGrantValidate(t *testing.T) {
	a := api("read:posts", "write:posts")
	for _, tc := range []struct {
		name    string
		grant   ClientGrant
		wantErr string
	}{
		{"client grant", ClientGrant{Scope: []string{"read:posts"}}, ""},
		{"user grant with RAR types", ClientGrant{SubjectType: SubjectUser, AuthorizationDetailsTypes: []string{"payment"}}, ""},
		{"client grant with RAR types", ClientGrant{AuthorizationDetailsTypes: []string{"payment"}}, "subject_type user"},
		{"undefined scope", ClientGrant{Scope: []string{"read:friends"}}, "not a permission"},
		{"duplicate scope", ClientGrant{Scope: []string{"read:posts", "read:posts"}}, "listed twice"},
		{"unknown subject type", ClientGrant{SubjectType: "robot"}, "subject_type"},
		{"unknown organization usage", ClientGrant{OrganizationUsage: "sometimes"}, "organization_usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.grant
			g.ApplyDefaults()
			err := g.Validate(a)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestClientCredentialsScopes(t *testing.T) {
	const client = "c1"
	social := func() *ResourceServer { return api("read:posts", "write:posts", "read:friends", "delete:posts") }
	grant := func(scopes ...string) *ClientGrant {
		return &ClientGrant{ClientID: client, Audience: "https://api.example.com/", SubjectType: SubjectClient, Scope: scopes}
	}
	for _, tc := range []struct {
		name      string
		api       func() *ResourceServer
		grant     *ClientGrant
		requested string
		want      []string
		wantDeny  string
	}{
		{
			name: "no scope requested yields every granted scope",
			api:  social, grant: grant("read:posts", "write:posts"),
			want: []string{"read:posts", "write:posts"},
		},
		{
			name: "subset requested",
			api:  social, grant: grant("read:posts", "write:posts"), requested: "write:posts",
			want: []string{"write:posts"},
		},
		{
			name: "duplicates collapse",
			api:  social, grant: grant("read:posts"), requested: "read:posts  read:posts",
			want: []string{"read:posts"},
		},
		{
			name: "grant is a hard ceiling",
			api:  social, grant: grant("read:posts", "write:posts"), requested: "read:posts read:friends delete:posts",
			wantDeny: "Client has not been granted scopes: read:friends delete:posts",
		},
		{
			name: "undefined scope is never granted",
			api:  social, grant: grant("read:posts"), requested: "launch:missiles",
			wantDeny: "not been granted scopes: launch:missiles",
		},
		{
			name: "no grant under require_client_grant",
			api:  social, grant: nil,
			wantDeny: "You need to create a \"client-grant\"",
		},
		{
			name: "another client's grant does not count",
			api:  social, grant: &ClientGrant{ClientID: "other", Audience: "https://api.example.com/", SubjectType: SubjectClient, Scope: []string{"read:posts"}},
			wantDeny: "is not authorized to access",
		},
		{
			name: "a user grant does not authorize client credentials",
			api:  social, grant: &ClientGrant{ClientID: client, Audience: "https://api.example.com/", SubjectType: SubjectUser, Scope: []string{"read:posts"}},
			wantDeny: "is not authorized to access",
		},
		{
			name: "deny_all beats a matching grant",
			api: func() *ResourceServer {
				rs := social()
				rs.SubjectTypeAuthorization.Client.Policy = PolicyDenyAll
				return rs
			},
			grant: grant("read:posts"), requested: "read:posts",
			wantDeny: "denied by the API's access policy",
		},
		{
			name: "a stored allow_all client policy fails closed",
			api: func() *ResourceServer {
				rs := social()
				rs.SubjectTypeAuthorization.Client.Policy = PolicyAllowAll
				return rs
			},
			grant: grant("read:posts"), wantDeny: "no valid client access policy",
		},
		{
			name: "allow_all_scopes includes scopes defined after the grant",
			api: func() *ResourceServer {
				rs := social()
				rs.Scopes = append(rs.Scopes, Scope{Value: "read:stories"})
				return rs
			},
			grant:     &ClientGrant{ClientID: client, Audience: "https://api.example.com/", SubjectType: SubjectClient, AllowAllScopes: true},
			requested: "read:stories",
			want:      []string{"read:stories"},
		},
		{
			name: "allow_all_scopes without scope yields every API scope",
			api:  social, grant: &ClientGrant{ClientID: client, Audience: "https://api.example.com/", SubjectType: SubjectClient, AllowAllScopes: true},
			want: []string{"read:posts", "write:posts", "read:friends", "delete:posts"},
		},
		{
			name: "a scope removed from the API leaves the grant's ceiling",
			api:  func() *ResourceServer { return api("read:posts") }, grant: grant("read:posts", "write:posts"),
			requested: "write:posts", wantDeny: "not been granted scopes: write:posts",
		},
		{
			name: "empty grant yields a token without scopes",
			api:  social, grant: grant(),
			want: []string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ClientCredentialsScopes(tc.api(), tc.grant, client, tc.requested)
			if tc.wantDeny != "" {
				var d *Denial
				if !errors.As(err, &d) || !strings.Contains(d.Reason, tc.wantDeny) {
					t.Fatalf("got %v, %v; want a denial containing %q", got, err, tc.wantDeny)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("scopes = %q, want %q", got, tc.want)
			}
		})
	}
}
