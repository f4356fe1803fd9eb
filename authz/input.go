// Package authz asks Rego policies for edge decisions. A Policy is a set of
// Rego modules compiled once; Decide evaluates data.portcullis.authz.decision
// for an Input and returns a Decision, failing closed.
//
// Of Portcullis it imports only authserver/tokens (verified claims).
package authz

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis-gw/portcullis/authserver/tokens"
)

// Input is the policy input document. Its JSON shape (what policies see as
// `input`) is documented in policies/README.md.
type Input struct {
	// Request is the HTTP request, without its Authorization header.
	Request Request
	// Token is the verified access token.
	Token *Token
	// Route holds what the matching scopes and permissions lines require.
	Route Route
	// ClientGrant is the live client grant of an M2M token's client for the
	// audience, from the embedded authorization server; nil when there is
	// none or the token is not an M2M token of that server.
	ClientGrant *Grant
	// ClientCert is the TLS client certificate; nil when none was
	// presented.
	ClientCert *ClientCert
}

// Request is input.request. Headers and the query are turned into input
// only when the policy reads them.
type Request struct {
	Method string
	Path   string
	Host   string
	// Header becomes input.request.headers: lower-case names, repeated
	// values joined with ", ", and never Authorization or
	// Proxy-Authorization.
	Header http.Header
	// RawQuery becomes input.request.query: each parameter's values.
	RawQuery string
}

// Route is input.route.
type Route struct {
	RequiredScopes      []string
	RequiredPermissions []string
}

// Grant is input.client_grant: Scopes are the scopes the grant allows now
// (every API scope for allow_all_scopes).
type Grant struct {
	ID             string
	ClientID       string
	Audience       string
	Scopes         []string
	AllowAllScopes bool
}

// ClientCert is input.client_cert.
type ClientCert struct {
	// Verified: the chain was verified against a trusted CA.
	Verified bool
	// Fingerprint is the hex SHA-256 of the certificate; Thumbprint the
	// same digest as RFC 8705's x5t#S256 (unpadded base64url).
	Fingerprint string
	Thumbprint  string
	// Subject is the RFC 4514 distinguished name.
	Subject  string
	DNSNames []string
	URIs     []string
	// NotAfter is the end of validity, in seconds since the epoch.
	NotAfter int64
}

// Token is input.token, built once per verified token and shared by every
// request that presents it.
type Token struct {
	Subject     string
	ClientID    string
	Issuer      string
	Scopes      []string
	Permissions []string
	// CertThumbprint is cnf.x5t#S256 of a certificate-bound token.
	CertThumbprint string
	// IsM2M is true for client credentials tokens.
	IsM2M bool
	// LocalIssuer is true for tokens of the embedded authorization server.
	LocalIssuer bool

	claims map[string]any // the verified claims, as decoded
	// value is the whole of input.token, made the first time the policy is
	// evaluated for the token (inputValue): a token answered from
	// remembered decisions never needs it.
	valueOnce sync.Once
	value     ast.Value
	valueErr  error
	recentDecisions
}

// NewToken describes verified claims for policies: input.token.claims
// is every claim as the token has it (c.All). local says whether they come
// from the embedded authorization server.
func NewToken(c *tokens.Claims, local bool) *Token {
	return &Token{
		Subject:     c.Subject,
		ClientID:    c.ClientID,
		Issuer:      c.Issuer,
		Scopes:      c.Scopes,
		Permissions: c.Permissions,

		CertThumbprint: c.CertThumbprint,
		IsM2M:          c.IsMachineToMachine(),
		LocalIssuer:    local,
		claims:         c.All,
	}
}

// SubjectType is input.token.subject_type, in the words of Auth0's client
// grants: "client" for a machine-to-machine token, "user" for a token
// issued to a user.
func (t *Token) SubjectType() string {
	if t.IsM2M {
		return "client"
	}
	return "user"
}

// inputValue is input.token, made once.
func (t *Token) inputValue() (ast.Value, error) {
	t.valueOnce.Do(func() {
		claims := ast.Value(ast.NewObject())
		if t.claims != nil {
			if claims, t.valueErr = ast.InterfaceToValue(t.claims); t.valueErr != nil {
				t.valueErr = fmt.Errorf("the token's claims cannot be read: %w", t.valueErr)
				return
			}
		}
		t.value = t.astValue(claims)
	})
	return t.value, t.valueErr
}

// astValue builds input.token with claims as input.token.claims.
func (t *Token) astValue(claims ast.Value) ast.Value {
	return ast.NewObject(
		item("claims", claims),
		item("subject", ast.String(t.Subject)),
		item("client_id", ast.String(t.ClientID)),
		item("issuer", ast.String(t.Issuer)),
		item("scopes", stringArray(nonNil(t.Scopes))),
		item("permissions", stringArray(nonNil(t.Permissions))),
		item("cert_thumbprint", ast.String(t.CertThumbprint)),
		item("is_m2m", ast.Boolean(t.IsM2M)),
		item("subject_type", ast.String(t.SubjectType())),
		item("local_issuer", ast.Boolean(t.LocalIssuer)),
	)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// value builds the input document as an OPA value, without a JSON round
// trip; the headers and query only when the policy reads them.
func (in *Input) value(uses inputUse) (ast.Value, error) {
	headers := ast.NewObject()
	if uses.headers {
		for k, vs := range in.Request.Header {
			lower := strings.ToLower(k)
			if lower == "authorization" || lower == "proxy-authorization" {
				continue
			}
			headers.Insert(ast.StringTerm(lower), ast.StringTerm(strings.Join(vs, ", ")))
		}
	}
	query := ast.NewObject()
	if uses.query {
		// A malformed pair is left out, as net/url does.
		values, _ := url.ParseQuery(in.Request.RawQuery)
		for k, vs := range values {
			query.Insert(ast.StringTerm(k), ast.NewTerm(stringArray(vs)))
		}
	}
	grant := ast.Value(ast.Null{})
	if g := in.ClientGrant; g != nil {
		grant = ast.NewObject(
			item("id", ast.String(g.ID)),
			item("client_id", ast.String(g.ClientID)),
			item("audience", ast.String(g.Audience)),
			item("scopes", stringArray(g.Scopes)),
			item("allow_all_scopes", ast.Boolean(g.AllowAllScopes)),
		)
	}
	cert := ast.Value(ast.Null{})
	if c := in.ClientCert; c != nil {
		cert = ast.NewObject(
			item("present", ast.Boolean(true)),
			item("verified", ast.Boolean(c.Verified)),
			item("fingerprint", ast.String(c.Fingerprint)),
			item("thumbprint", ast.String(c.Thumbprint)),
			item("subject", ast.String(c.Subject)),
			item("dns_names", stringArray(nonNil(c.DNSNames))),
			item("uris", stringArray(nonNil(c.URIs))),
			item("not_after", ast.Number(strconv.FormatInt(c.NotAfter, 10))),
		)
	}
	token := ast.Value(ast.Null{})
	if in.Token != nil {
		var err error
		if token, err = in.Token.inputValue(); err != nil {
			return nil, err
		}
	}
	return ast.NewObject(
		item("request", ast.NewObject(
			item("method", ast.String(in.Request.Method)),
			item("path", ast.String(in.Request.Path)),
			item("host", ast.String(in.Request.Host)),
			item("headers", headers),
			item("query", query),
		)),
		item("token", token),
		item("route", ast.NewObject(
			item("required_scopes", stringArray(in.Route.RequiredScopes)),
			item("required_permissions", stringArray(in.Route.RequiredPermissions)),
		)),
		item("client_grant", grant),
		item("client_cert", cert),
	), nil
}

func item(key string, v ast.Value) [2]*ast.Term {
	return ast.Item(ast.StringTerm(key), ast.NewTerm(v))
}

// stringArray is a Rego array of strings.
func stringArray(ss []string) ast.Value {
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ast.StringTerm(s)
	}
	return ast.NewArray(terms...)
}
