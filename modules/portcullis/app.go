// Package portcullis adapts the embedded authorization server to Caddy: the
// "portcullis" app (global option `portcullis`) owns the authorization
// server, its storage and its keys; the `authorization_server` handler
// serves its endpoints on a site; `portcullis create-admin` makes an admin
// client from the command line, and `portcullis migrate` brings the
// storage's schema up to date.
//
// It may import authserver and its parts, clientcert and internal packages;
// it is the only module that builds an authorization server.
package portcullis

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/storage/postgres"
	"github.com/portcullis-gw/portcullis/authserver/storage/sqlite"
	"github.com/portcullis-gw/portcullis/authserver/users"
	"github.com/portcullis-gw/portcullis/clientcert"
)

func init() {
	caddy.RegisterModule(App{})
}

// stores keeps each storage open across config reloads: a reload
// provisions the new app (one more reference) before cleaning up the old one.
var stores = caddy.NewUsagePool()

// App is the embedded authorization server, configured once per Caddy
// instance and shared by every site that serves it.
type App struct {
	// Issuer is the iss of every token and the base URL of the endpoints,
	// e.g. https://auth.example.com/. Required. It must be https (http only
	// on loopback hosts) and end with a slash.
	Issuer string `json:"issuer,omitempty"`
	// Storage is where clients, APIs, grants and keys are kept.
	// Default: SQLite at ./data/portcullis.db.
	Storage Storage `json:"storage,omitempty"`
	// KeyEncryptionKey encrypts the private signing keys and the client
	// secret hashing key in storage with AES-256-GCM (see
	// authserver.Config.KeyEncryptionKey): 32 bytes written as base64
	// (standard or URL alphabet, padded or not) or 64 hex digits. It goes
	// through placeholders, so write {env.*} or {file.*} to keep the key
	// itself out of the config; surrounding white space is trimmed. Set it
	// in production; every instance sharing the storage needs the same
	// key. Default: none, and the keys are stored in plaintext.
	KeyEncryptionKey string `json:"key_encryption_key,omitempty"`
	// BootstrapAdmin, when set, is a machine-to-machine client created at
	// start if missing, with a grant for every Management API scope. An
	// existing client of that id is left as it is.
	BootstrapAdmin *authserver.Credentials `json:"bootstrap_admin,omitempty"`
	// MTLSEndpointAliases is the base URL of a host that serves the token
	// endpoint with TLS client certificates (e.g. https://mtls.auth.example.com/),
	// published in discovery as mtls_endpoint_aliases. Default: none.
	MTLSEndpointAliases string `json:"mtls_endpoint_aliases,omitempty"`
	// ClientCA lists PEM files of the CAs that tls_client_auth clients'
	// certificates must chain to. Default: none.
	ClientCA []string `json:"client_ca,omitempty"`
	// EdgeKey is the cname-api-key a customer edge must send with a client
	// certificate it forwards in Auth0's headers. Default: none (forwarded
	// certificates are refused).
	EdgeKey string `json:"edge_key,omitempty"`
	// BruteForceProtection bounds failed sign-ins on the login page.
	// Default: 10 failures per account and IP address, 100 per IP address,
	// counted over 15 minutes.
	BruteForceProtection *BruteForceProtection `json:"brute_force_protection,omitempty"`
	// ChangePollInterval is how often the database is asked whether
	// another instance changed a client, an API, a client grant or a
	// signing key; such changes take effect here within it. Default: 1s.
	ChangePollInterval caddy.Duration `json:"change_poll_interval,omitempty"`
	// MaxStale is how long cached clients, APIs and client grants keep
	// serving while the database does not answer; after it, requests that
	// need them fail with 503 until it answers again. Default: 5m.
	MaxStale caddy.Duration `json:"max_stale,omitempty"`
	// RateLimits bounds requests per minute to the token and revocation
	// endpoints and to the login page, counted in the storage so that
	// every instance on it shares the counts. Default: 600 requests per
	// IP address and 300 per client_id to the token and revocation
	// endpoints, 60 sign-in attempts per IP address.
	RateLimits *RateLimits `json:"rate_limits,omitempty"`
	// PasswordPolicy is what users' passwords must satisfy. Default: at
	// least 8 characters.
	PasswordPolicy *PasswordPolicy `json:"password_policy,omitempty"`
	// UserinfoTokenInQuery lets /userinfo take the access token in the
	// access_token query parameter, as Auth0 does and passport-auth0
	// needs. Such tokens end up in access logs, proxy logs and browser
	// histories (RFC 6750 section 2.3, RFC 9700 section 4.3.2): turn it on
	// only while applications that send them migrate, and keep the
	// parameter out of Caddy's access logs. Default: off, and such
	// requests are refused.
	UserinfoTokenInQuery bool `json:"userinfo_token_in_query,omitempty"`

	server   *authserver.Server
	stop     context.CancelFunc
	storeKey string
	logger   *zap.Logger
}

// BruteForceProtection bounds failed sign-ins (see
// authserver.BruteForceProtection); zero fields take the defaults.
type BruteForceProtection struct {
	// UserAttempts is how many failures to one account from one IP
	// address lock that account from that address. Default: 10.
	UserAttempts int `json:"user_attempts,omitempty"`
	// IPAttempts is how many failures from one IP address lock that
	// address out. Default: 100.
	IPAttempts int `json:"ip_attempts,omitempty"`
	// Window is how long failures count. Default: 15m.
	Window caddy.Duration `json:"window,omitempty"`
}

// RateLimits are requests per minute, counted in fixed one-minute windows
// (see authserver.RateLimits). A request over a limit is answered 429
// with Retry-After. 0 or absent takes the default; a negative number (the
// Caddyfile's off) turns the limit off. When the storage cannot count a
// request, the request is let through and a warning logged.
type RateLimits struct {
	// TokenPerIP is how many requests to the token and revocation
	// endpoints one IP address may send in a minute. Default: 600.
	TokenPerIP int `json:"token_per_ip,omitempty"`
	// TokenPerClient is how many requests to the token and revocation
	// endpoints may name one client_id in a minute, authenticated or not.
	// Default: 300.
	TokenPerClient int `json:"token_per_client,omitempty"`
	// LoginPerIP is how many sign-in attempts one IP address may make on
	// the login page in a minute. Default: 60.
	LoginPerIP int `json:"login_per_ip,omitempty"`
}

func (l *RateLimits) limits() authserver.RateLimits {
	if l == nil {
		return authserver.RateLimits{}
	}
	return authserver.RateLimits{
		TokenPerIP:     authserver.RateLimit(l.TokenPerIP),
		TokenPerClient: authserver.RateLimit(l.TokenPerClient),
		LoginPerIP:     authserver.RateLimit(l.LoginPerIP),
	}
}

// PasswordPolicy is the password policy of the database connection, as
// Auth0's connection options name it.
type PasswordPolicy struct {
	// Strength is Auth0's level: none, low, fair, good or excellent.
	// Default: none.
	Strength string `json:"strength,omitempty"`
	// MinLength is the minimum number of characters; the strength may ask
	// for more. Default: 8.
	MinLength int `json:"min_length,omitempty"`
	// NoPersonalInfo refuses passwords containing the user's name or the
	// local part of the e-mail address.
	NoPersonalInfo bool `json:"no_personal_info,omitempty"`
}

func (p *PasswordPolicy) policy() users.PasswordPolicy {
	if p == nil {
		return users.PasswordPolicy{}
	}
	return users.PasswordPolicy{MinLength: p.MinLength, Strength: users.Strength(p.Strength), NoPersonalInfo: p.NoPersonalInfo}
}

// Storage selects a storage backend. Path and DSN may hold placeholders
// such as {env.NAME} or {file./path}, replaced when the app starts, which
// keeps a password out of the configuration.
type Storage struct {
	// Backend is the engine: "sqlite" (one process per database file) or
	// "postgres" (any number of processes on one database). Default:
	// sqlite.
	Backend string `json:"backend,omitempty"`
	// Path is the SQLite database file; its directory is created if
	// missing. Only for sqlite. Default: ./data/portcullis.db.
	Path string `json:"path,omitempty"`
	// DSN is the PostgreSQL connection string, a URL such as
	// postgres://portcullis:password@db.example:5432/portcullis?sslmode=verify-full
	// or keyword=value pairs. Required for postgres, and only for it.
	DSN string `json:"dsn,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "portcullis",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision opens the storage (shared with the previous config on a
// reload) and starts the authorization server on it.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	for _, option := range a.literalSecrets() {
		a.logger.Warn("a secret is written into the configuration itself, where Caddy's admin endpoint (GET /config/) and its autosave.json show it; give it as {env.NAME} or {file./path}, read at start",
			zap.String("option", option))
	}
	repl := caddy.NewReplacer()
	a.Issuer = repl.ReplaceKnown(a.Issuer, "")
	a.Storage.expand(repl)
	if b := a.BootstrapAdmin; b != nil {
		b.ClientID = repl.ReplaceKnown(b.ClientID, "")
		b.ClientSecret = repl.ReplaceKnown(b.ClientSecret, "")
		switch {
		case b.ClientID == "" && b.ClientSecret == "":
			a.BootstrapAdmin = nil
		case b.ClientID == "" || b.ClientSecret == "":
			return errors.New("portcullis: bootstrap_admin needs both a client id and a client secret; one is empty (is the variable or file its placeholder names set?)")
		}
	}
	if err := a.Validate(); err != nil {
		return err
	}
	var clientCAs *x509.CertPool
	if len(a.ClientCA) > 0 {
		files := make([]string, len(a.ClientCA))
		for i, f := range a.ClientCA {
			files[i] = repl.ReplaceKnown(f, "")
		}
		var err error
		if clientCAs, err = clientcert.LoadPool(files...); err != nil {
			return fmt.Errorf("portcullis: client_ca: %w", err)
		}
	}
	var bruteForce authserver.BruteForceProtection
	if b := a.BruteForceProtection; b != nil {
		bruteForce = authserver.BruteForceProtection{UserAttempts: b.UserAttempts, IPAttempts: b.IPAttempts, Window: time.Duration(b.Window)}
	}
	kek, err := resolveKEK(repl, a.KeyEncryptionKey)
	if err != nil {
		return fmt.Errorf("portcullis: %w", err)
	}
	st, key, err := acquireStore(ctx, a.Storage)
	if err != nil {
		return err
	}
	a.storeKey = key
	a.server, err = authserver.New(ctx, authserver.Config{
		Issuer:         a.Issuer,
		Store:          st,
		BootstrapAdmin: a.BootstrapAdmin,
		Logger:         a.logger,

		KeyEncryptionKey: kek,

		MTLSEndpointAliases: repl.ReplaceKnown(a.MTLSEndpointAliases, ""),
		ClientCAs:           clientCAs,
		EdgeKey:             repl.ReplaceKnown(a.EdgeKey, ""),
		BruteForce:          bruteForce,
		RateLimits:          a.RateLimits.limits(),
		PasswordPolicy:      a.PasswordPolicy.policy(),
		ClientIP:            clientIP,

		UserinfoTokenInQuery: a.UserinfoTokenInQuery,
	})
	if err != nil {
		return fmt.Errorf("starting the authorization server: %w", err)
	}
	return nil
}

// Validate checks the configuration.
func (a *App) Validate() error {
	if a.Issuer == "" {
		return errors.New("portcullis: issuer is required (set it in the portcullis global option)")
	}
	if err := authserver.ValidateIssuer(a.Issuer); err != nil {
		return fmt.Errorf("portcullis: %w", err)
	}
	if err := a.Storage.validate(); err != nil {
		return fmt.Errorf("portcullis: %w", err)
	}
	if b := a.BruteForceProtection; b != nil && (b.UserAttempts < 0 || b.IPAttempts < 0 || b.Window < 0) {
		return errors.New("portcullis: brute_force_protection: attempts and window must not be negative")
	}
	if a.ChangePollInterval < 0 || a.MaxStale < 0 {
		return errors.New("portcullis: change_poll_interval and max_stale must not be negative")
	}
	if err := a.PasswordPolicy.policy().Validate(); err != nil {
		return fmt.Errorf("portcullis: %w", err)
	}
	return nil
}

// literalSecrets names the secret-bearing options whose secret is written
// in the configuration rather than read at start through an {env.*} or
// {file.*} placeholder. Caddy keeps the configuration as written: its
// admin endpoint (GET /config/) and autosave.json show it, so a secret
// there is readable by anyone who reaches either. (A Caddyfile's {$NAME}
// is replaced when the Caddyfile is adapted, so it counts as written.)
func (a *App) literalSecrets() []string {
	var found []string
	literal := func(option, value string) {
		if value != "" && !strings.Contains(value, "{env.") && !strings.Contains(value, "{file.") {
			found = append(found, option)
		}
	}
	if a.BootstrapAdmin != nil {
		literal("bootstrap_admin", a.BootstrapAdmin.ClientSecret)
	}
	literal("key_encryption_key", a.KeyEncryptionKey)
	literal("edge_key", a.EdgeKey)
	if a.Storage.dsnHasPassword() {
		literal("storage postgres", a.Storage.DSN)
	}
	return found
}

// clientIP is the client address Caddy decided on, which honours the
// server's trusted_proxies.
func clientIP(r *http.Request) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip
}

// purgeInterval is how often ended sessions, codes, refresh tokens and
// old failed sign-ins are deleted.
const purgeInterval = 10 * time.Minute

// Start begins following changes other instances make to the database
// (authserver.Server.Watch) and deleting ended sign-in state every
// purgeInterval.
func (a *App) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	go a.server.Watch(ctx, time.Duration(a.ChangePollInterval), time.Duration(a.MaxStale))
	go func() {
		tick := time.NewTicker(purgeInterval)
		defer tick.Stop()
		for {
			if err := a.server.PurgeExpired(ctx); err != nil && ctx.Err() == nil {
				a.logger.Warn("purging ended sign-in state", zap.Error(err))
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return nil
}

// Stop ends the watching and purging; Cleanup releases the storage.
func (a *App) Stop() error {
	if a.stop != nil {
		a.stop()
	}
	return nil
}

// Cleanup writes the authorization server's last log lines and releases
// this config's reference to the storage.
func (a *App) Cleanup() error {
	if a.server != nil {
		a.server.Close()
	}
	if a.storeKey == "" {
		return nil
	}
	_, err := stores.Delete(a.storeKey)
	return err
}

// Server returns the authorization server.
func (a *App) Server() *authserver.Server { return a.server }

// expand replaces the placeholders in the path and the DSN.
func (s *Storage) expand(repl *caddy.Replacer) {
	s.Path = repl.ReplaceKnown(s.Path, "")
	s.DSN = repl.ReplaceKnown(s.DSN, "")
}

// dsnHasPassword reports whether the DSN itself holds a password: in the
// URL's user information or query, or as a keyword.
func (s *Storage) dsnHasPassword() bool {
	if u, err := url.Parse(s.DSN); err == nil && u.Scheme != "" {
		if u.User != nil {
			if _, ok := u.User.Password(); ok {
				return true
			}
		}
		return u.Query().Has("password")
	}
	return strings.Contains(s.DSN, "password")
}

func (s *Storage) validate() error {
	switch s.Backend {
	case "", "sqlite":
		if s.DSN != "" {
			return errors.New("storage sqlite takes a path, not a dsn")
		}
		return nil
	case "postgres":
		if s.Path != "" {
			return errors.New("storage postgres takes a dsn, not a path")
		}
		if _, err := postgres.ParseDSN(s.DSN); err != nil {
			return fmt.Errorf("storage postgres: %w", err)
		}
		return nil
	}
	return fmt.Errorf("unknown storage backend %q (supported: sqlite, postgres)", s.Backend)
}

// absPath returns the SQLite path, absolute, so that two spellings of one
// file share one pool entry.
func (s *Storage) absPath() (string, error) {
	p := s.Path
	if p == "" {
		p = filepath.Join("data", "portcullis.db")
	}
	return filepath.Abs(p)
}

// Open opens the storage backend, bringing its schema up to date; the
// caller closes it. Placeholders must have been replaced.
func (s *Storage) Open(ctx context.Context) (storage.Store, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.Backend == "postgres" {
		st, err := postgres.Open(ctx, s.DSN)
		if err != nil {
			return nil, fmt.Errorf("opening PostgreSQL storage: %w", err)
		}
		return st, nil
	}
	p, err := s.absPath()
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(p)
	if err != nil {
		return nil, fmt.Errorf("opening SQLite storage %s: %w", p, err)
	}
	return st, nil
}

// openStore is a pooled store; closing it happens when the last config
// that uses it is cleaned up.
type openStore struct{ storage.Store }

func (o openStore) Destruct() error { return o.Close() }

// acquireStore opens the storage s, or takes another reference to it if
// it is open already, and returns it with its key in stores.
func acquireStore(ctx context.Context, s Storage) (storage.Store, string, error) {
	key := "postgres:" + s.DSN
	if s.Backend != "postgres" {
		p, err := s.absPath()
		if err != nil {
			return nil, "", err
		}
		key = "sqlite:" + p
	}
	v, _, err := stores.LoadOrNew(key, func() (caddy.Destructor, error) {
		st, err := s.Open(ctx)
		if err != nil {
			return nil, err
		}
		return openStore{st}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return v.(openStore).Store, key, nil
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
