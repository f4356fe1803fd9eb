package authserver

import (
	"encoding/json"
	"net/http"

	"github.com/portcullis-gw/portcullis/authserver/access"
)

// metadata is the authorization server metadata (RFC 8414), also served as
// the OpenID Connect discovery document. It lists only what is implemented.
type metadata struct {
	Issuer                        string   `json:"issuer"`
	AuthorizationEndpoint         string   `json:"authorization_endpoint"`
	TokenEndpoint                 string   `json:"token_endpoint"`
	EndSessionEndpoint            string   `json:"end_session_endpoint"`
	UserinfoEndpoint              string   `json:"userinfo_endpoint"`
	RevocationEndpoint            string   `json:"revocation_endpoint"`
	JWKSURI                       string   `json:"jwks_uri"`
	ScopesSupported               []string `json:"scopes_supported"`
	ResponseTypesSupported        []string `json:"response_types_supported"`
	ResponseModesSupported        []string `json:"response_modes_supported"`
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
	PromptValuesSupported         []string `json:"prompt_values_supported"`
	// RFC 9207: authorization responses carry iss.
	AuthorizationResponseISSParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	ClaimsSupported                            []string `json:"claims_supported"`
	// RFC 8705: tokens can be bound to client certificates, and the
	// endpoints that take mTLS may live on another host.
	TLSClientCertificateBoundAccessTokens bool              `json:"tls_client_certificate_bound_access_tokens"`
	MTLSEndpointAliases                   map[string]string `json:"mtls_endpoint_aliases,omitempty"`
}

func (s *Server) discovery() ([]byte, error) {
	var aliases map[string]string
	if base := s.mtlsAliasBase; base != "" {
		aliases = map[string]string{"token_endpoint": base + "oauth/token", "revocation_endpoint": base + "oauth/revoke"}
	}
	// How clients authenticate at the token and revocation endpoints;
	// none is public clients', with PKCE.
	authMethods := []string{"client_secret_basic", "client_secret_post", "tls_client_auth", "self_signed_tls_client_auth", "none"}
	return json.Marshal(metadata{
		Issuer:                s.issuer,
		AuthorizationEndpoint: s.issuer + "authorize",
		TokenEndpoint:         s.issuer + "oauth/token",
		EndSessionEndpoint:    s.issuer + "oidc/logout",
		UserinfoEndpoint:      s.issuer + "userinfo",
		RevocationEndpoint:    s.issuer + "oauth/revoke",
		JWKSURI:               s.issuer + ".well-known/jwks.json",
		ScopesSupported:       access.OIDCScopes,
		// No response type sends an access token through the browser
		// (RFC 9700 section 2.1.2).
		ResponseTypesSupported:        []string{"code", "id_token", "code id_token"},
		ResponseModesSupported:        []string{"query", "fragment", "form_post"},
		CodeChallengeMethodsSupported: []string{"S256", "plain"},
		PromptValuesSupported:         []string{"none", "login", "consent"},

		AuthorizationResponseISSParameterSupported: true,
		GrantTypesSupported:                        []string{"authorization_code", "implicit", "refresh_token", "client_credentials"},
		TokenEndpointAuthMethodsSupported:          authMethods,
		RevocationEndpointAuthMethodsSupported:     authMethods,
		ClaimsSupported: []string{
			"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "c_hash", "s_hash",
			"name", "nickname", "given_name", "family_name", "picture", "updated_at", "email", "email_verified",
		},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: []string{"RS256", "PS256", "ES256"},

		TLSClientCertificateBoundAccessTokens: true,
		MTLSEndpointAliases:                   aliases,
	})
}

func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	serveDocument(w, r, s.discoveryDoc, "application/json")
}

// serveJWKS publishes the current, next and previous keys of every ring.
func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	serveDocument(w, r, s.keyring.Ring().JWKS(), "application/json")
}

// serveDocument answers GET and HEAD with a public document that caches
// may keep for five minutes.
func serveDocument(w http.ResponseWriter, r *http.Request, doc []byte, contentType string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, ErrMethodNotAllowed.WithDescription("Only GET and HEAD are allowed."))
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(doc)
	}
}
