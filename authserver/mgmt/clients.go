package mgmt

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/internal/randid"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
)

// clientFields are the writable properties of a client; a nil field is
// left as it is (PATCH) or defaulted (POST).
type clientFields struct {
	Name                     *string                      `json:"name"`
	Description              *string                      `json:"description"`
	AppType                  *clients.AppType             `json:"app_type"`
	IsFirstParty             *bool                        `json:"is_first_party"`
	OIDCConformant           *bool                        `json:"oidc_conformant"`
	GrantTypes               *[]string                    `json:"grant_types"`
	TokenEndpointAuthMethod  nullable[clients.AuthMethod] `json:"token_endpoint_auth_method"`
	Callbacks                *[]string                    `json:"callbacks"`
	AllowedOrigins           *[]string                    `json:"allowed_origins"`
	WebOrigins               *[]string                    `json:"web_origins"`
	AllowedLogoutURLs        *[]string                    `json:"allowed_logout_urls"`
	LogoURI                  *string                      `json:"logo_uri"`
	InitiateLoginURI         *string                      `json:"initiate_login_uri"`
	JWTConfiguration         *clients.JWTConfiguration    `json:"jwt_configuration"`
	RefreshToken             *refreshTokenFields          `json:"refresh_token"`
	ClientMetadata           *map[string]string           `json:"client_metadata"`
	RequireProofOfPossession *bool                        `json:"require_proof_of_possession"`
	AllowPKCEPlain           *bool                        `json:"allow_pkce_plain"`
	// ClientAuthenticationMethods switches the client to certificate
	// authentication (with token_endpoint_auth_method null), or back
	// (null). See authMethodsFields.
	ClientAuthenticationMethods nullable[authMethodsFields] `json:"client_authentication_methods"`
	// ClientSecret sets a secret chosen by the caller instead of a
	// generated one.
	ClientSecret *string `json:"client_secret"`
}

func (f *clientFields) apply(c *clients.Client) {
	set(&c.Name, f.Name)
	set(&c.Description, f.Description)
	set(&c.AppType, f.AppType)
	set(&c.IsFirstParty, f.IsFirstParty)
	set(&c.OIDCConformant, f.OIDCConformant)
	set(&c.GrantTypes, f.GrantTypes)
	if f.TokenEndpointAuthMethod.Sent {
		// null clears it, for client_authentication_methods.
		c.TokenEndpointAuthMethod = ""
		set(&c.TokenEndpointAuthMethod, f.TokenEndpointAuthMethod.Value)
	}
	set(&c.Callbacks, f.Callbacks)
	set(&c.AllowedOrigins, f.AllowedOrigins)
	set(&c.WebOrigins, f.WebOrigins)
	set(&c.AllowedLogoutURLs, f.AllowedLogoutURLs)
	set(&c.AllowPKCEPlain, f.AllowPKCEPlain)
	set(&c.LogoURI, f.LogoURI)
	set(&c.InitiateLoginURI, f.InitiateLoginURI)
	set(&c.JWTConfiguration, f.JWTConfiguration)
	if rt := f.RefreshToken; rt != nil {
		rt.apply(&c.RefreshToken)
	}
	set(&c.ClientMetadata, f.ClientMetadata)
	set(&c.RequireProofOfPossession, f.RequireProofOfPossession)
}

// refreshTokenFields are the properties of refresh_token; as in Auth0, an
// update changes only the properties it sends.
type refreshTokenFields struct {
	RotationType              *string `json:"rotation_type"`
	ExpirationType            *string `json:"expiration_type"`
	Leeway                    *int    `json:"leeway"`
	TokenLifetime             *int    `json:"token_lifetime"`
	InfiniteTokenLifetime     *bool   `json:"infinite_token_lifetime"`
	IdleTokenLifetime         *int    `json:"idle_token_lifetime"`
	InfiniteIdleTokenLifetime *bool   `json:"infinite_idle_token_lifetime"`
}

func (f *refreshTokenFields) apply(r *clients.RefreshTokenConfig) {
	set(&r.RotationType, f.RotationType)
	set(&r.ExpirationType, f.ExpirationType)
	set(&r.Leeway, f.Leeway)
	set(&r.TokenLifetime, f.TokenLifetime)
	set(&r.InfiniteTokenLifetime, f.InfiniteTokenLifetime)
	set(&r.IdleTokenLifetime, f.IdleTokenLifetime)
	set(&r.InfiniteIdleTokenLifetime, f.InfiniteIdleTokenLifetime)
}

// set copies *src into *dst when src is given.
func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// clientView is a client as the Management API returns it: without its
// credentials, which have their own endpoints (client_authentication_methods
// names them by id).
type clientView struct {
	*clients.Client
	// Credentials shadows the embedded field, so that it is never written.
	Credentials *struct{} `json:"credentials,omitempty"`
}

// view returns the view of c, with the defaults of refresh_token filled
// in for clients stored before it existed.
func view(c *clients.Client) clientView {
	c.RefreshToken.ApplyDefaults()
	return clientView{Client: c}
}

// clientWithSecret is a client as returned on create and rotate, the only
// two responses that carry its secret.
type clientWithSecret struct {
	clientView
	ClientSecret string `json:"client_secret"`
}

// setSecret sets the chosen secret, or a generated one, and returns it.
func (a *api) setSecret(c *clients.Client, chosen *string) (string, error) {
	secret := clients.NewSecret()
	if chosen != nil {
		if err := clients.CheckChosenSecret(*chosen); err != nil {
			return "", invalid(err)
		}
		secret = *chosen
	}
	c.SecretHash = a.Hasher.Hash(secret)
	return secret, nil
}

func (a *api) createClient(r *http.Request, caller *tokens.Claims) (int, any, error) {
	var f clientFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	c := &clients.Client{ClientID: randid.New("", 32), IsFirstParty: true, OIDCConformant: true}
	f.apply(c)
	if m := f.ClientAuthenticationMethods.Value; m != nil {
		// As in Auth0: defining credentials takes the scope that creating
		// them through their own endpoint takes.
		if err := a.requireScopes(r.Context(), a.Store, caller, "create:client_credentials"); err != nil {
			return 0, nil, err
		}
		if err := a.createAuthMethods(c, m); err != nil {
			return 0, nil, err
		}
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return 0, nil, invalid(err)
	}
	secret, err := a.setSecret(c, f.ClientSecret)
	if err != nil {
		return 0, nil, err
	}
	if err := a.Store.CreateClient(r.Context(), c); err != nil {
		return 0, nil, storeError(err, kindClient)
	}
	a.audit("client created", caller, zap.String("client_id", c.ClientID), zap.Bool("certificate_authentication", c.UsesCertificates()))
	// A certificate client gets a secret too, refused at the token
	// endpoint while client_authentication_methods is set, so that
	// reverting to token_endpoint_auth_method needs no rotation.
	return http.StatusCreated, clientWithSecret{view(c), secret}, nil
}

func (a *api) listClients(r *http.Request, _ *tokens.Claims) (int, any, error) {
	q, err := parseListQuery(r)
	if err != nil {
		return 0, nil, err
	}
	proj, err := parseProjection(r)
	if err != nil {
		return 0, nil, err
	}
	f, err := parseClientFilter(r)
	if err != nil {
		return 0, nil, err
	}
	list, total, err := a.Store.ListClients(r.Context(), f, q.page)
	if err != nil {
		return 0, nil, err
	}
	list, next := cut(q, list, func(c *clients.Client) string { return c.ClientID })
	items := make([]any, len(list))
	for i, c := range list {
		if items[i], err = proj.apply(view(c)); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, q.body("clients", items, total, next), nil
}

// parseClientFilter reads app_type (a comma-separated list),
// is_first_party and is_global.
func parseClientFilter(r *http.Request) (storage.ClientFilter, error) {
	var f storage.ClientFilter
	if v := r.URL.Query().Get("app_type"); v != "" {
		for t := range strings.SplitSeq(v, ",") {
			t := clients.AppType(strings.TrimSpace(t))
			if !slices.Contains(clients.AppTypes, t) {
				return f, errBadRequest("invalid_query_string", "Query validation error: 'app_type %q is not one of native, spa, regular_web, non_interactive'.", t)
			}
			f.AppTypes = append(f.AppTypes, t)
		}
	}
	var err error
	if f.FirstParty, err = boolParam(r, "is_first_party"); err != nil {
		return f, err
	}
	if f.Global, err = boolParam(r, "is_global"); err != nil {
		return f, err
	}
	return f, nil
}

func (a *api) getClient(r *http.Request, _ *tokens.Claims) (int, any, error) {
	proj, err := parseProjection(r)
	if err != nil {
		return 0, nil, err
	}
	c, err := a.Store.Client(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, storeError(err, kindClient)
	}
	out, err := proj.apply(view(c))
	return http.StatusOK, out, err
}

func (a *api) updateClient(r *http.Request, caller *tokens.Claims) (int, any, error) {
	ctx := r.Context()
	var f clientFields
	if err := decodeBody(r, &f); err != nil {
		return 0, nil, err
	}
	var c *clients.Client
	err := a.Store.Atomically(ctx, func(tx storage.Store) error {
		// As in Auth0: switching to or from certificate authentication,
		// or changing which certificates are enabled, takes
		// update:client_credentials besides update:clients; setting the
		// secret takes update:client_keys, as rotating it does.
		if f.ClientAuthenticationMethods.Sent {
			if err := a.requireScopes(ctx, tx, caller, "update:client_credentials"); err != nil {
				return err
			}
		}
		if f.ClientSecret != nil {
			if err := a.requireScopes(ctx, tx, caller, "update:client_keys"); err != nil {
				return err
			}
		}
		var methods *clients.AuthenticationMethods
		if m := f.ClientAuthenticationMethods.Value; m != nil {
			var err error
			if methods, err = referAuthMethods(m); err != nil {
				return err
			}
		}
		var err error
		if c, err = tx.Client(ctx, r.PathValue("id")); err != nil {
			return err
		}
		was := authKindOf(c)
		// A client stored before refresh_token existed has the defaults.
		c.RefreshToken.ApplyDefaults()
		f.apply(c)
		if f.ClientAuthenticationMethods.Sent {
			// Replaced as a whole; Validate checks the references.
			c.ClientAuthenticationMethods = methods
		}
		if err := c.Validate(); err != nil {
			return invalid(err)
		}
		now := authKindOf(c)
		if now != was && now != authCertificate {
			// Stricter than Auth0: making a client public lets anyone
			// use it without a secret, and making it take a secret again
			// brings back the one it was created with; either is worth
			// setting its secret.
			if err := a.requireScopes(ctx, tx, caller, "update:client_keys"); err != nil {
				return err
			}
		}
		if f.ClientSecret != nil || f.ClientAuthenticationMethods.Sent || now != was {
			if err := a.requireControlOf(ctx, tx, caller, c.ClientID); err != nil {
				return err
			}
		}
		if f.ClientSecret != nil {
			if _, err := a.setSecret(c, f.ClientSecret); err != nil {
				return err
			}
		}
		return tx.UpdateClient(ctx, c)
	})
	if err != nil {
		return 0, nil, storeError(err, kindClient)
	}
	fields := []zap.Field{zap.String("client_id", c.ClientID), zap.Bool("secret_set", f.ClientSecret != nil)}
	if f.ClientAuthenticationMethods.Sent || f.TokenEndpointAuthMethod.Sent {
		fields = append(fields, zap.String("token_endpoint_auth_method", string(c.TokenEndpointAuthMethod)), zap.Any("client_authentication_methods", c.ClientAuthenticationMethods))
	}
	a.audit("client updated", caller, fields...)
	return http.StatusOK, view(c), nil
}

// authKind is how a client authenticates at the token endpoint.
type authKind string

// Kinds of client authentication.
const (
	authNone        authKind = "none" // a public client
	authSecret      authKind = "secret"
	authCertificate authKind = "certificate"
)

// authKindOf says how c authenticates.
func authKindOf(c *clients.Client) authKind {
	switch {
	case c.UsesCertificates():
		return authCertificate
	case c.IsPublic():
		return authNone
	}
	return authSecret
}

// requireControlOf checks, reading st, that the caller holds every
// Management API scope that client clientID's grant allows, before the
// caller changes how that client authenticates: whoever sets a client's
// secret or certificates gets its tokens, and must not get a scope that
// way. Stricter than Auth0, where update:client_keys alone takes over
// every client.
func (a *api) requireControlOf(ctx context.Context, st storage.Store, caller *tokens.Claims, clientID string) error {
	_, scopes, err := storage.LiveClientGrant(ctx, st, clientID, a.Audience)
	if err != nil {
		return err
	}
	err = a.requireScopes(ctx, st, caller, scopes...)
	return because(err, fmt.Sprintf("client %s has it on the Management API, and changing how the client authenticates would give it to the caller", clientID))
}

func (a *api) deleteClient(r *http.Request, caller *tokens.Claims) (int, any, error) {
	id := r.PathValue("id")
	if err := a.Store.DeleteClient(r.Context(), id); err != nil {
		return 0, nil, storeError(err, kindClient)
	}
	a.audit("client deleted", caller, zap.String("client_id", id))
	return http.StatusNoContent, nil, nil
}

func (a *api) rotateSecret(r *http.Request, caller *tokens.Claims) (int, any, error) {
	ctx := r.Context()
	var c *clients.Client
	var secret string
	err := a.Store.Atomically(ctx, func(tx storage.Store) error {
		var err error
		if c, err = tx.Client(ctx, r.PathValue("id")); err != nil {
			return err
		}
		if err := a.requireControlOf(ctx, tx, caller, c.ClientID); err != nil {
			return err
		}
		secret, _ = a.setSecret(c, nil)
		return tx.UpdateClient(ctx, c)
	})
	if err != nil {
		return 0, nil, storeError(err, kindClient)
	}
	a.audit("client secret rotated", caller, zap.String("client_id", c.ClientID))
	return http.StatusOK, clientWithSecret{view(c), secret}, nil
}

// projection is Auth0's fields / include_fields: a comma-separated list of
// properties to return (include_fields true, the default) or to leave out.
type projection struct {
	fields  []string
	include bool
}

func parseProjection(r *http.Request) (projection, error) {
	p := projection{include: true}
	b, err := boolParam(r, "include_fields")
	if err != nil {
		return p, err
	}
	if b != nil {
		p.include = *b
	}
	if v := r.URL.Query().Get("fields"); v != "" {
		p.fields = strings.Split(v, ",")
	}
	return p, nil
}

func (p projection) apply(v any) (any, error) {
	if len(p.fields) == 0 {
		return v, nil
	}
	doc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	keep := make(map[string]json.RawMessage, len(m))
	for k, val := range m {
		listed := false
		for _, f := range p.fields {
			listed = listed || strings.TrimSpace(f) == k
		}
		if listed == p.include {
			keep[k] = val
		}
	}
	return keep, nil
}

// audit logs a change with the client that made it.
func (a *api) audit(msg string, caller *tokens.Claims, fields ...zap.Field) {
	a.Logger.Info(msg, append(fields, zap.String("by", caller.ClientID))...)
}
