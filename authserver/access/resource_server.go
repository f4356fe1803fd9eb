// Package access holds Auth0's API authorization model: resource servers
// (APIs) with their permissions and access policies, client grants, and the
// rules that decide which scopes a token may carry.
//
// It imports nothing of Portcullis.
package access

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Token lifetimes of a resource server, in seconds.
const (
	DefaultTokenLifetime = 86400
	MaxTokenLifetime     = 2592000
)

// ReservedScopes are the OpenID Connect names that cannot be an API's
// permissions.
var ReservedScopes = []string{
	"address", "created_at", "email", "email_verified", "family_name",
	"given_name", "identities", "name", "nickname", "offline_access",
	"openid", "phone", "picture", "profile",
}

// Dialect is the access token profile of a resource server (token_dialect).
type Dialect string

// Token dialects. The *_authz dialects add a permissions claim.
const (
	DialectAuth0        Dialect = "access_token"
	DialectAuth0Authz   Dialect = "access_token_authz"
	DialectRFC9068      Dialect = "rfc9068_profile"
	DialectRFC9068Authz Dialect = "rfc9068_profile_authz"
)

// IsRFC9068 reports whether tokens follow RFC 9068 (typ at+jwt, client_id).
func (d Dialect) IsRFC9068() bool { return d == DialectRFC9068 || d == DialectRFC9068Authz }

// IncludesPermissions reports whether tokens carry a permissions claim.
func (d Dialect) IncludesPermissions() bool {
	return d == DialectAuth0Authz || d == DialectRFC9068Authz
}

func (d Dialect) valid() bool {
	switch d {
	case DialectAuth0, DialectAuth0Authz, DialectRFC9068, DialectRFC9068Authz:
		return true
	}
	return false
}

// Policy is an API access policy for one subject type.
type Policy string

// Access policies (subject_type_authorization.*.policy).
const (
	// PolicyAllowAll lets any application get a token, with no grant. It is
	// allowed for user access only.
	PolicyAllowAll Policy = "allow_all"
	// PolicyRequireClientGrant lets only applications holding a client grant
	// of the matching subject type get a token; the grant is the ceiling.
	PolicyRequireClientGrant Policy = "require_client_grant"
	// PolicyDenyAll refuses every application, whatever its grants.
	PolicyDenyAll Policy = "deny_all"
)

// SubjectPolicy is the policy object of one subject type.
type SubjectPolicy struct {
	Policy Policy `json:"policy"`
}

// SubjectTypeAuthorization is a resource server's access policy for user
// flows and for client (machine-to-machine) flows.
type SubjectTypeAuthorization struct {
	User   SubjectPolicy `json:"user"`
	Client SubjectPolicy `json:"client"`
}

// Scope is a permission defined on a resource server.
type Scope struct {
	Value       string `json:"value"`
	Description string `json:"description,omitempty"`
}

// ProofOfPossession is Auth0's proof_of_possession of an API: with
// mechanism mtls, tokens for the API issued over a TLS connection carrying a
// client certificate are bound to it (RFC 8705, cnf.x5t#S256); Required
// refuses to issue a token without one.
type ProofOfPossession struct {
	Mechanism string `json:"mechanism"`
	Required  bool   `json:"required"`
}

// Signing algorithms a resource server's tokens may use.
var SigningAlgs = []string{"RS256", "PS256", "ES256"}

// ResourceServer is an API, in the shape of Auth0's Management API v2
// ResourceServer object. Its Identifier is the audience of its tokens.
type ResourceServer struct {
	ID                       string                   `json:"id"`
	Name                     string                   `json:"name"`
	Identifier               string                   `json:"identifier"`
	IsSystem                 bool                     `json:"is_system"`
	Scopes                   []Scope                  `json:"scopes"`
	SigningAlg               string                   `json:"signing_alg"`
	TokenLifetime            int                      `json:"token_lifetime"`
	TokenLifetimeForWeb      int                      `json:"token_lifetime_for_web"`
	TokenDialect             Dialect                  `json:"token_dialect"`
	EnforcePolicies          bool                     `json:"enforce_policies"`
	AllowOfflineAccess       bool                     `json:"allow_offline_access"`
	SkipConsent              bool                     `json:"skip_consent_for_verifiable_first_party_clients"`
	SubjectTypeAuthorization SubjectTypeAuthorization `json:"subject_type_authorization"`
	ProofOfPossession        *ProofOfPossession       `json:"proof_of_possession"`
}

// Clone returns a deep copy.
func (rs *ResourceServer) Clone() *ResourceServer {
	cp := *rs
	cp.Scopes = slices.Clone(rs.Scopes)
	if rs.ProofOfPossession != nil {
		pop := *rs.ProofOfPossession
		cp.ProofOfPossession = &pop
	}
	return &cp
}

// HasScope reports whether value is a permission defined on the API.
func (rs *ResourceServer) HasScope(value string) bool {
	return slices.ContainsFunc(rs.Scopes, func(s Scope) bool { return s.Value == value })
}

// ScopeValues returns the API's permission names in definition order.
func (rs *ResourceServer) ScopeValues() []string {
	out := make([]string, len(rs.Scopes))
	for i, s := range rs.Scopes {
		out[i] = s.Value
	}
	return out
}

// ApplyDefaults fills what a new API leaves out with Auth0's defaults:
// RS256, 24-hour tokens, the Auth0 dialect, user access allowed for all
// applications and client access only through a client grant.
func (rs *ResourceServer) ApplyDefaults() {
	if rs.Name == "" {
		rs.Name = rs.Identifier
	}
	if rs.Scopes == nil {
		rs.Scopes = []Scope{}
	}
	if rs.SigningAlg == "" {
		rs.SigningAlg = "RS256"
	}
	if rs.TokenLifetime == 0 {
		rs.TokenLifetime = DefaultTokenLifetime
	}
	if rs.TokenLifetimeForWeb == 0 {
		rs.TokenLifetimeForWeb = min(7200, rs.TokenLifetime)
	}
	if rs.TokenDialect == "" {
		rs.TokenDialect = DialectAuth0
	}
	if rs.SubjectTypeAuthorization.User.Policy == "" {
		rs.SubjectTypeAuthorization.User.Policy = PolicyAllowAll
	}
	if rs.SubjectTypeAuthorization.Client.Policy == "" {
		rs.SubjectTypeAuthorization.Client.Policy = PolicyRequireClientGrant
	}
}

// Validate checks the API against the Management API's rules and returns an
// error naming the offending property.
func (rs *ResourceServer) Validate() error {
	if err := ValidateIdentifier(rs.Identifier); err != nil {
		return err
	}
	if strings.ContainsAny(rs.Name, "<>") {
		return errors.New("name must not contain < or >")
	}
	if len(rs.Name) > 200 {
		return errors.New("name must be at most 200 characters")
	}
	if err := ValidateScopes(rs.Scopes); err != nil {
		return err
	}
	if rs.SigningAlg == "HS256" {
		return errors.New("signing_alg HS256 is not supported: a shared secret would have to be given to every API that verifies tokens; use RS256, PS256 or ES256")
	}
	if !slices.Contains(SigningAlgs, rs.SigningAlg) {
		return fmt.Errorf("signing_alg must be one of %s", strings.Join(SigningAlgs, ", "))
	}
	if rs.TokenLifetime < 1 || rs.TokenLifetime > MaxTokenLifetime {
		return fmt.Errorf("token_lifetime must be between 1 and %d seconds", MaxTokenLifetime)
	}
	if rs.TokenLifetimeForWeb < 1 || rs.TokenLifetimeForWeb > rs.TokenLifetime {
		return errors.New("token_lifetime_for_web must be between 1 second and token_lifetime")
	}
	if !rs.TokenDialect.valid() {
		return errors.New("token_dialect must be one of access_token, access_token_authz, rfc9068_profile, rfc9068_profile_authz")
	}
	if rs.TokenDialect.IncludesPermissions() && !rs.EnforcePolicies {
		return fmt.Errorf("token_dialect %s adds RBAC permissions to tokens and requires enforce_policies to be true", rs.TokenDialect)
	}
	if pop := rs.ProofOfPossession; pop != nil && pop.Mechanism != "mtls" {
		return errors.New("proof_of_possession.mechanism must be mtls (dpop is not supported)")
	}
	switch rs.SubjectTypeAuthorization.User.Policy {
	case PolicyAllowAll, PolicyRequireClientGrant, PolicyDenyAll:
	default:
		return errors.New("subject_type_authorization.user.policy must be one of allow_all, require_client_grant, deny_all")
	}
	switch rs.SubjectTypeAuthorization.Client.Policy {
	case PolicyRequireClientGrant, PolicyDenyAll:
	case PolicyAllowAll:
		return errors.New("subject_type_authorization.client.policy cannot be allow_all: allow_all is for user access only; use require_client_grant or deny_all")
	default:
		return errors.New("subject_type_authorization.client.policy must be one of require_client_grant, deny_all")
	}
	return nil
}

// ValidateIdentifier checks an API identifier. Identifiers are compared
// byte for byte: https://example.com and https://example.com/ are two APIs.
func ValidateIdentifier(id string) error {
	if id == "" {
		return errors.New("identifier is required")
	}
	if len(id) > 600 {
		return errors.New("identifier must be at most 600 characters")
	}
	if strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return errors.New("identifier must not contain white space or control characters")
	}
	return nil
}

// ValidateScopes checks an API's permission list: names are non-empty,
// unique, free of white space, and none is reserved by OpenID Connect.
func ValidateScopes(scopes []Scope) error {
	seen := make(map[string]bool, len(scopes))
	for _, s := range scopes {
		if s.Value == "" {
			return errors.New("scopes: value is required")
		}
		if len(s.Value) > 280 || len(s.Description) > 500 {
			return fmt.Errorf("scopes: %q: values are at most 280 and descriptions at most 500 characters", s.Value)
		}
		if strings.IndexFunc(s.Value, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '"' || r == '\\' }) >= 0 {
			return fmt.Errorf("scopes: %q must not contain white space, quotes, backslashes or control characters", s.Value)
		}
		if slices.Contains(ReservedScopes, s.Value) {
			return fmt.Errorf("scopes: %q is a reserved OpenID Connect scope and cannot be an API permission", s.Value)
		}
		if seen[s.Value] {
			return fmt.Errorf("scopes: %q is listed twice", s.Value)
		}
		seen[s.Value] = true
	}
	return nil
}
