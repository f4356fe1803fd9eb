// Package authserver is Portcullis's embedded OAuth 2.0 authorization
// server with Auth0's model and Management API v2. It is a plain library:
// New builds a Server on a storage.Store, and Handler serves its endpoints
// under the issuer's path:
//
//	GET  /authorize (and POST)                    authorization endpoint (code, PKCE)
//	     /u/login, /u/consent                     Universal Login: sign-in and consent forms
//	GET  /v2/logout, /oidc/logout                 logout (Auth0's, and OIDC RP-initiated)
//	POST /oauth/token                             client_credentials, authorization_code
//	                                              and refresh_token grants
//	POST /oauth/revoke                            refresh token revocation (RFC 7009)
//	GET  /userinfo (and POST)                     the user's claims (OIDC)
//	GET  /.well-known/openid-configuration        discovery (OIDC)
//	GET  /.well-known/oauth-authorization-server  discovery (RFC 8414)
//	GET  /.well-known/jwks.json                   signing keys
//	     /api/v2/...                              Management API v2
//
// It imports its own parts (the packages below authserver/), clientcert and
// internal/issuerurl; never Caddy nor modules/.
package authserver

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/bearer"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/mgmt"
	"github.com/portcullis-gw/portcullis/authserver/signing"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/authserver/users"
	"github.com/portcullis-gw/portcullis/internal/auditlog"
	"github.com/portcullis-gw/portcullis/internal/issuerurl"
)

// Config configures a Server.
type Config struct {
	// Issuer is the iss of every token and the base URL of every endpoint,
	// such as https://auth.example.com/. It must be https (http only to
	// localhost, 127.0.0.0/8 or ::1), end with a slash, and have no query
	// or fragment.
	Issuer string
	// Store keeps clients, APIs, grants and keys. The Server does not close
	// it.
	Store storage.Store
	// KeyEncryptionKey, when set, is the 32-byte key that encrypts the
	// private signing keys and the client secret hashing key in Store (see
	// keys.KEK); set it in production, so that a copy of the database
	// alone cannot sign tokens. Plaintext keys stored before it was set are
	// encrypted on start. Every Server sharing a Store needs the same key,
	// and New fails on a Store whose keys were encrypted with another key
	// or when the Store's keys are encrypted and no key is set. Default:
	// none, and the keys are stored in plaintext.
	KeyEncryptionKey []byte
	// BootstrapAdmin, when set, is a client created on start if it does not
	// exist, with a grant for every Management API scope.
	BootstrapAdmin *Credentials
	// MTLSEndpointAliases, when set, is the base URL (ending in a slash) of
	// the host that serves the token endpoint with TLS client certificates,
	// such as https://mtls.auth.example.com/; discovery publishes it as
	// mtls_endpoint_aliases (RFC 8705 section 5).
	MTLSEndpointAliases string
	// ClientCAs verifies the TLS client certificates of clients using
	// tls_client_auth. Default: none, so only self_signed_tls_client_auth
	// clients can authenticate over this server's own TLS.
	ClientCAs *x509.CertPool
	// EdgeKey is the cname-api-key a customer edge sends along with a client
	// certificate it forwards in Auth0's headers. Default: none, and such
	// forwarded certificates are refused.
	EdgeKey string
	// PasswordPolicy is what passwords of users must satisfy when the
	// Management API sets them. Default: at least 8 characters.
	PasswordPolicy users.PasswordPolicy
	// BruteForce bounds failed sign-ins on the login page.
	BruteForce BruteForceProtection
	// RateLimits bounds requests per minute to the token and revocation
	// endpoints and the login page.
	RateLimits RateLimits
	// UserinfoTokenInQuery lets /userinfo also take the access token in
	// the access_token query parameter (RFC 6750 section 2.3), as Auth0
	// does and passport-auth0 needs. Tokens in URLs leak into access
	// logs, proxy logs and browser histories (RFC 9700 section 4.3.2), so
	// turn it on only to migrate applications that send them. Default:
	// off, and such requests are refused with 400 invalid_request.
	UserinfoTokenInQuery bool
	// ClientIP returns the address of the client of a request, such as
	// the embedding server's view through trusted proxies. Default: the
	// connection's peer.
	ClientIP func(*http.Request) string
	// Logger receives the server's logs. Default: none.
	Logger *zap.Logger
	// IssuedTokenLogFlush is the longest an "issued access token" line
	// waits before it is written: the lines are written in batches off the
	// request path, and Close writes those still held. At least 10ms.
	// Default: 1s.
	IssuedTokenLogFlush time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Credentials are a client's id and secret.
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// Server is the authorization server. It is safe for concurrent use.
type Server struct {
	issuer   string
	prefix   string // the issuer's path, ending in "/"
	store    *storage.CachedStore
	hasher   *clients.Hasher
	keyring  *signing.Keyring
	verifier *tokens.Verifier
	// userinfoGuard authenticates calls to /userinfo.
	userinfoGuard *bearer.Guard[*tokens.Claims]
	handler       http.Handler
	// routes is the route table (see endpoints).
	routes       []endpoint
	logger       *zap.Logger
	issuedLog    *auditlog.Sink[issuedLine]
	now          func() time.Time
	discoveryDoc []byte
	// mtlsAliasBase is Config.MTLSEndpointAliases.
	mtlsAliasBase string
	clientCAs     *x509.CertPool
	edgeKey       string
	bruteForce    BruteForceProtection
	rateLimits    RateLimits
	// hits counts requests for the rate limits.
	hits         hitCounter
	clientIPFunc func(*http.Request) string
	// hashing bounds how many password verifications run at once.
	hashing chan struct{}
	// issuing bounds how many token requests authenticate their client and
	// issue at once (GOMAXPROCS), in arrival order.
	issuing *slots
	// origins is every origin a client allows, for CORS preflights.
	origins atomic.Pointer[originIndex]
}

// ValidateIssuer checks an issuer URL (see Config.Issuer).
func ValidateIssuer(issuer string) error {
	u, err := issuerurl.Parse(issuer)
	if err != nil {
		return fmt.Errorf("issuer %q: %w", issuer, err)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("issuer %q must not have user info, a query or a fragment", issuer)
	}
	if !strings.HasSuffix(u.Path, "/") {
		return fmt.Errorf("issuer %q must end with a slash, like https://auth.example.com/", issuer)
	}
	return nil
}

// New opens the authorization server on cfg.Store: it loads (on first
// start, creates) the signing keys (see signing.Open), the client secret
// hashing key and the Management API, and the bootstrap admin client if
// configured. With cfg.KeyEncryptionKey, it first encrypts the plaintext
// signing keys, then the plaintext hashing key, each in one transaction
// with its loading; signing keys encrypted with another key-encryption
// key, or with none configured, fail New before anything is written.
// Close the Server when done with it, to write its last log lines.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := ValidateIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.Store == nil {
		return nil, errors.New("no storage configured")
	}
	if err := cfg.PasswordPolicy.Validate(); err != nil {
		return nil, err
	}
	if cfg.MTLSEndpointAliases != "" {
		if err := ValidateIssuer(cfg.MTLSEndpointAliases); err != nil {
			return nil, fmt.Errorf("mtls_endpoint_aliases: %w", err)
		}
	}
	if cfg.IssuedTokenLogFlush < 0 || (cfg.IssuedTokenLogFlush > 0 && cfg.IssuedTokenLogFlush < auditlog.MinInterval) {
		return nil, fmt.Errorf("the issued token log flush interval must be at least %s, got %s", auditlog.MinInterval, cfg.IssuedTokenLogFlush)
	}
	kek, err := newKEK(cfg.KeyEncryptionKey)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.Issuer)
	s := &Server{
		issuer: cfg.Issuer,
		prefix: u.Path,
		store:  storage.Cached(cfg.Store),
		logger: cfg.Logger,
		now:    cfg.Now,

		mtlsAliasBase: cfg.MTLSEndpointAliases,
		clientCAs:     cfg.ClientCAs,
		edgeKey:       cfg.EdgeKey,
		bruteForce:    cfg.BruteForce,
		rateLimits:    cfg.RateLimits,
		clientIPFunc:  cfg.ClientIP,
		hashing:       make(chan struct{}, maxConcurrentPasswordChecks),
		issuing:       newSlots(runtime.GOMAXPROCS(0)),
	}
	s.bruteForce.applyDefaults()
	s.rateLimits.applyDefaults()
	if s.logger == nil {
		s.logger = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	// The change version this cache starts from, so that this server's
	// own writes do not empty its cache again at its first poll.
	if _, err := s.store.Refresh(ctx); err != nil {
		return nil, err
	}
	s.keyring, err = signing.Open(ctx, signing.Config{Store: s.store, KEK: kek, Domain: u.Hostname(), Now: s.now})
	if err != nil {
		return nil, err
	}
	if s.hasher, err = loadHasher(ctx, s.store, kek); err != nil {
		return nil, err
	}
	if err := EnsureManagementAPI(ctx, s.store, s.issuer); err != nil {
		return nil, err
	}
	if cfg.BootstrapAdmin != nil {
		created, err := EnsureAdminClient(ctx, s.store, s.hasher, s.issuer, *cfg.BootstrapAdmin)
		if err != nil {
			return nil, fmt.Errorf("bootstrap admin: %w", err)
		}
		if created {
			s.logger.Info("created the bootstrap admin client", zap.String("client_id", cfg.BootstrapAdmin.ClientID))
		}
	}
	s.verifier = &tokens.Verifier{Issuer: s.issuer, Keys: s.keyring, Leeway: tokens.MaxLeeway, Now: s.now}
	s.userinfoGuard = s.guard(UserinfoAudience(s.issuer))
	s.userinfoGuard.TokenInQuery = cfg.UserinfoTokenInQuery
	if s.discoveryDoc, err = s.discovery(); err != nil {
		return nil, err
	}
	mgmtAPI := mgmt.New(mgmt.Config{
		Store:    s.store,
		Hasher:   s.hasher,
		Guard:    s.guard(ManagementAudience(s.issuer)),
		Audience: ManagementAudience(s.issuer),
		Logger:   s.logger.Named("mgmt"),
		Now:      s.now,

		PasswordPolicy: cfg.PasswordPolicy,
		Keys:           s.keyring,
	})
	s.routes = s.endpoints(mgmtAPI)
	mux := http.NewServeMux()
	for _, e := range s.routes {
		mux.Handle(s.prefix+e.path, e.handler)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, ErrNotFound.WithDescription("No such endpoint."))
	})
	s.handler = mux
	s.startIssuedLog(cfg.IssuedTokenLogFlush)
	return s, nil
}

// endpoint is one route of the server: a path under the issuer's and its
// handler. A path ending in "/" is a subtree: it routes every path below
// it, and its bare form too, which the mux redirects to it.
type endpoint struct {
	path    string
	handler http.Handler
}

// endpoints is the server's route table, the one list both Handler's mux
// and Owns are made from. mgmtAPI serves the Management API.
func (s *Server) endpoints(mgmtAPI http.Handler) []endpoint {
	return []endpoint{
		{"oauth/token", s.cors("POST", s.serveToken)},
		{"oauth/revoke", s.cors("POST", s.serveRevoke)},
		{"userinfo", s.cors("GET, POST", s.serveUserinfo)},
		{"authorize", http.HandlerFunc(s.serveAuthorize)},
		{"u/login", http.HandlerFunc(s.serveLogin)},
		{"u/consent", http.HandlerFunc(s.serveConsent)},
		{"v2/logout", http.HandlerFunc(s.serveLogout)},
		{"oidc/logout", http.HandlerFunc(s.serveOIDCLogout)},
		{".well-known/openid-configuration", http.HandlerFunc(s.serveDiscovery)},
		{".well-known/oauth-authorization-server", http.HandlerFunc(s.serveDiscovery)},
		{".well-known/jwks.json", http.HandlerFunc(s.serveJWKS)},
		{"api/v2/", http.StripPrefix(strings.TrimSuffix(s.prefix, "/")+"/api/v2", mgmtAPI)},
	}
}

// maxConcurrentPasswordChecks is how many argon2id verifications run at
// once; more sign-ins wait for a turn.
const maxConcurrentPasswordChecks = 4

// secretHashKeyName names the installation secret that keys client secret
// hashes.
const secretHashKeyName = "client_secret_hmac"

func newSecretHashKey() []byte { return []byte(rand.Text() + rand.Text()) }

// newKEK returns the KEK of a configured key-encryption key, nil for none.
func newKEK(key []byte) (*keys.KEK, error) {
	if key == nil {
		return nil, nil
	}
	return keys.NewKEK(key)
}

// loadHasher reads (on first start, creates) the client secret hashing
// key, stored encrypted with kek when there is one; a plaintext key is
// then encrypted in place.
func loadHasher(ctx context.Context, st storage.Store, kek *keys.KEK) (*clients.Hasher, error) {
	var key []byte
	err := st.Atomically(ctx, func(tx storage.Store) error {
		stored, err := tx.InstallationSecret(ctx, secretHashKeyName, func() []byte {
			return kek.SealSecret(secretHashKeyName, newSecretHashKey())
		})
		if err != nil {
			return err
		}
		if key, err = kek.OpenSecret(secretHashKeyName, stored); err != nil {
			return err
		}
		if kek == nil || keys.IsEncryptedSecret(stored) {
			return nil
		}
		return tx.ReplaceInstallationSecret(ctx, secretHashKeyName, kek.SealSecret(secretHashKeyName, key))
	})
	if err != nil {
		return nil, fmt.Errorf("loading the client secret hashing key: %w", err)
	}
	return clients.NewHasher(key)
}

// PurgeExpired deletes login sessions, authorization codes and refresh
// tokens that have ended, the records of refresh token families (and of
// their revocation) past the end of every token they could hold, and
// failed sign-ins and rate-limit counts older than the brute-force window
// (or than the current rate-limit window, when that started earlier).
// Call it now and then; nothing depends on it for correctness.
func (s *Server) PurgeExpired(ctx context.Context) error {
	now := s.now()
	before := now.Add(-s.bruteForce.Window)
	if w := rateWindow(now); w.Before(before) {
		before = w
	}
	return s.store.PurgeExpired(ctx, now, before)
}

// Issuer returns the issuer URL.
func (s *Server) Issuer() string { return s.issuer }

// guard authenticates requests to one of the server's own resource
// servers (/userinfo, the Management API): tokens of this issuer for
// audience, presented with the certificate they are bound to, which comes
// from the TLS connection or the customer edge's forwarded headers.
func (s *Server) guard(audience string) *bearer.Guard[*tokens.Claims] {
	return &bearer.Guard[*tokens.Claims]{
		Verify: func(ctx context.Context, token string) (*tokens.Claims, error) {
			return s.verifier.Verify(ctx, token, audience)
		},
		Certificate: s.requestCertificate,
	}
}

// Keyring returns the server's signing keys: rotate and revoke them there,
// and verify this server's tokens with it as the tokens.KeySource.
func (s *Server) Keyring() *signing.Keyring { return s.keyring }

// Handler returns the HTTP handler of every endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

// Owns reports whether path is one of the server's endpoints (those its
// route table lists), so that a host may pass other paths on to other
// handlers.
func (s *Server) Owns(path string) bool {
	rest, ok := strings.CutPrefix(path, s.prefix)
	if !ok {
		return false
	}
	return slices.ContainsFunc(s.routes, func(e endpoint) bool { return e.routes(rest) })
}

// routes reports whether the endpoint serves rest, a path under the
// issuer's (see endpoint).
func (e endpoint) routes(rest string) bool {
	subtree, ok := strings.CutSuffix(e.path, "/")
	if !ok {
		return rest == e.path
	}
	return rest == subtree || strings.HasPrefix(rest, e.path)
}

// Store returns the server's (cached) store.
func (s *Server) Store() storage.Store { return s.store }

// Generation changes whenever what LiveClientGrant answers may have
// changed (a change to the store's clients, APIs, client grants, signing
// keys or settings, by this process or another): something derived from its
// answers may be kept until then.
func (s *Server) Generation() uint64 { return s.store.Generation() }

// LiveClientGrant returns clientID's current client grant (subject type
// client) for the API audience and the scopes it allows right now, or nil
// when there is no such grant or API. Lookups are served from memory.
func (s *Server) LiveClientGrant(ctx context.Context, clientID, audience string) (*access.ClientGrant, []string, error) {
	return storage.LiveClientGrant(ctx, s.store, clientID, audience)
}
