// Package bearerauth is the bearer_auth handler: it verifies the bearer
// token of each request locally (no call to the authorization server),
// asks the OPA policy for a decision, and only then lets the next handler
// (typically reverse_proxy) run.
//
// It may import the edge's libraries (authserver, authz, remoteissuer,
// policies, clientcert, internal/...) and modules/portcullis, for the
// embedded issuer.
package bearerauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/bearer"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/authz"
	"github.com/portcullis-gw/portcullis/clientcert"
	"github.com/portcullis-gw/portcullis/internal/hopbyhop"
	"github.com/portcullis-gw/portcullis/internal/inbound"
	"github.com/portcullis-gw/portcullis/internal/spans"
	"github.com/portcullis-gw/portcullis/modules/portcullis"
	"github.com/portcullis-gw/portcullis/remoteissuer"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// IdentityHeaderPrefix starts every header bearer_auth sets upstream.
// Inbound headers with this prefix are always deleted first, so a client can
// never spoof them.
const IdentityHeaderPrefix = "X-Portcullis-"

// Defaults.
const (
	DefaultCacheSize     = 10000
	DefaultPolicyTimeout = 100 * time.Millisecond
	DefaultLeeway        = 30 * time.Second
)

// CacheOff is the CacheSize that disables the cache.
const CacheOff = -1

// Handler verifies bearer tokens and enforces the policy.
//
// Requests an upstream could read otherwise than the rules do are refused
// before the token is read: 501 for a method with lower-case letters,
// CONNECT (but a WebSocket over HTTP/2 or HTTP/3, a GET to the rules),
// TRACE, and a method override (X-HTTP-Method-Override, X-HTTP-Method,
// X-Method-Override, a _method query parameter); 400 for a path with empty,
// . or .. segments (plain or percent-encoded), ;, \, control characters, a
// segment ending in a dot or a space, an escaped percent-encoding (%25 and
// two hex digits), a raw #, ı or ſ, or a target that is no path (but * for
// OPTIONS).
//
// Upstream headers on an allowed request (inbound copies deleted first,
// from the header and from the trailer after the body, and their names
// taken out of the client's Connection header, so that no proxy drops them
// as hop-by-hop):
//
//	X-Portcullis-Subject      the token's sub
//	X-Portcullis-Client-Id    its client_id (RFC 9068) or azp (Auth0)
//	X-Portcullis-Scope        its scope claim
//	X-Portcullis-Issuer       its iss
//	X-Portcullis-Decision-Id  the decision's id, as in the decision log
//
// (those IdentityHeaderNames chooses; all five by default), plus any
// headers the policy's decision names.
//
// Placeholders:
//
//	{http.auth.user.id}              the token's sub
//	{http.auth.bearer.client_id}     its client id
//	{http.auth.bearer.scope}         its scope claim
//	{http.auth.bearer.issuer}        its iss
//	{http.auth.bearer.decision_id}   the decision id
//	{http.auth.bearer.reason}        the decision's reason, or why the token was refused
type Handler struct {
	// Audience must be among the token's audiences. Required.
	Audience string `json:"audience,omitempty"`
	// Rules say which scopes and permissions requests need.
	Rules []Rule `json:"rules,omitempty"`
	// Issuers are the trusted issuers. Default: the embedded authorization
	// server (the portcullis app) alone. When set, only these are trusted;
	// an entry equal to the portcullis app's issuer means the embedded
	// server, whose keys are used in-process. Others are found through OIDC
	// discovery and must be https, except on loopback hosts; every
	// bearer_auth of the process that trusts one of them with the same
	// UnknownKeyRefetch shares one copy of its keys, kept across config
	// reloads.
	Issuers []string `json:"issuers,omitempty"`
	// UnknownKeyRefetch is the least time between two fetches of a remote
	// issuer's keys caused by tokens naming a key it has not published
	// (one it may just have rotated in); tokens with unknown keys in
	// between are refused without a fetch. Default: 5s.
	UnknownKeyRefetch caddy.Duration `json:"unknown_key_refetch,omitempty"`
	// PolicyDir replaces the embedded policies with the *.rego files (and
	// optional data.json) of this directory, reloaded when they change. A
	// policy that fails to compile at start stops the config from loading;
	// on a reload, the previous policy keeps serving.
	PolicyDir string `json:"policy_dir,omitempty"`
	// PolicyTimeout bounds a policy evaluation; past it the request is
	// denied. Default: 100ms.
	PolicyTimeout caddy.Duration `json:"policy_timeout,omitempty"`
	// Leeway is the clock skew tolerated on exp, nbf and iat, from 0 to
	// 60s. Default: 30s.
	Leeway *caddy.Duration `json:"leeway,omitempty"`
	// CacheSize is how many verified tokens are remembered (never past
	// their exp, and forgotten once their signing key is no longer
	// published). Default: 10000; CacheOff (-1) disables the cache.
	CacheSize int `json:"cache_size,omitempty"`
	// StripAuthorization removes the Authorization header before the next
	// handler. Default: false (the token is forwarded).
	StripAuthorization bool `json:"strip_authorization,omitempty"`
	// Realm is the realm of WWW-Authenticate challenges. Default: the
	// audience.
	Realm string `json:"realm,omitempty"`
	// IdentityHeaderNames chooses the identity headers set upstream, by
	// name: subject, client_id, scope, issuer, decision_id. Default (nil):
	// all five; an empty list sets none. Inbound X-Portcullis- headers are
	// deleted either way.
	IdentityHeaderNames *[]string `json:"identity_headers,omitempty"`
	// ClientCertHeader reads the client certificate from headers in this
	// format (rfc9440, auth0 or xfcc) when the request comes from one of
	// the server's trusted_proxies; from anyone else those headers are
	// ignored and the TLS connection's certificate is used. Default: the
	// TLS connection's certificate only.
	ClientCertHeader clientcert.Format `json:"client_cert_header,omitempty"`
	// DecisionLog says which decisions are logged and how often the lines
	// are written. Default: every decision, written every second.
	DecisionLog *DecisionLog `json:"decision_log,omitempty"`

	issuers     map[string]*issuer
	fetchers    map[fetcherKey]*fetcher // the remote issuers' keys, held until Cleanup
	guard       *bearer.Guard[*verified]
	server      *authserver.Server            // the embedded one, when trusted
	policy      *atomic.Pointer[authz.Policy] // swapped when the policy directory changes
	cache       *tokenCache
	identity    []identityHeader // the identity headers to set
	metrics     *metrics
	decisionIDs *decisionIDs
	decisions   *decisionLog
	logger      *zap.Logger
	now         func() time.Time
}

// issuer is a trusted issuer and how to check its tokens.
type issuer struct {
	url      string
	local    bool
	verifier *tokens.Verifier
}

// publishes reports whether the issuer still publishes kid.
func (i *issuer) publishes(kid string) bool {
	_, ok := i.verifier.Keys.PublicKeys().LookupKeyID(kid)
	return ok
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.bearer_auth",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets up the issuers, the policy and the cache.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.now = clock
	h.policy = new(atomic.Pointer[authz.Policy])
	h.decisionIDs = newDecisionIDs()
	repl := caddy.NewReplacer()
	h.Audience = repl.ReplaceKnown(h.Audience, "")
	h.PolicyDir = repl.ReplaceKnown(h.PolicyDir, "")
	if h.Realm == "" {
		h.Realm = h.Audience
	}
	if h.PolicyTimeout == 0 {
		h.PolicyTimeout = caddy.Duration(DefaultPolicyTimeout)
	}
	if h.Leeway == nil {
		d := caddy.Duration(DefaultLeeway)
		h.Leeway = &d
	}
	if h.UnknownKeyRefetch == 0 {
		h.UnknownKeyRefetch = caddy.Duration(remoteissuer.DefaultUnknownKIDInterval)
	}
	switch {
	case h.CacheSize == 0:
		h.cache = newTokenCache(DefaultCacheSize)
	default:
		h.cache = newTokenCache(h.CacheSize)
	}
	if err := h.Validate(); err != nil {
		return err
	}
	if err := h.provisionIdentityHeaders(); err != nil {
		return err
	}
	var err error
	if h.metrics, err = newMetrics(ctx.GetMetricsRegistry()); err != nil {
		return err
	}
	for i := range h.Rules {
		if err := h.Rules[i].provision(ctx); err != nil {
			return fmt.Errorf("bearer_auth: rule %s %s: %w", h.Rules[i].Method, h.Rules[i].Path, err)
		}
	}
	if err := h.provisionIssuers(ctx); err != nil {
		return err
	}
	h.provisionDecisionLog()
	h.guard = &bearer.Guard[*verified]{Verify: h.verify, Certificate: h.requestCertificate}
	return h.provisionPolicy(ctx)
}

func (h *Handler) provisionIssuers(ctx caddy.Context) error {
	app, err := ctx.AppIfConfigured("portcullis")
	if err != nil && len(h.Issuers) == 0 {
		return errors.New("bearer_auth trusts the embedded authorization server unless issuers are listed, and the portcullis global option is not configured")
	}
	var embedded *authserver.Server
	if err == nil {
		embedded = app.(*portcullis.App).Server()
	}
	urls := h.Issuers
	if len(urls) == 0 {
		urls = []string{embedded.Issuer()}
	}
	h.issuers = make(map[string]*issuer, len(urls))
	h.fetchers = map[fetcherKey]*fetcher{}
	for _, u := range urls {
		iss := &issuer{url: u, verifier: &tokens.Verifier{Issuer: u, Leeway: time.Duration(*h.Leeway), Now: h.now}}
		if embedded != nil && u == embedded.Issuer() {
			iss.local = true
			iss.verifier.Keys = embedded.Keyring()
			h.server = embedded
		} else {
			key := fetcherKey{issuer: u, unknownKeyRefetch: time.Duration(h.UnknownKeyRefetch)}
			f, ok := h.fetchers[key]
			if !ok {
				if f, err = useFetcher(key, h.logger.Named("issuer"), h.metrics.jwksFetches); err != nil {
					return fmt.Errorf("bearer_auth issuer %s: %w", u, err)
				}
				h.fetchers[key] = f
			}
			iss.verifier.Keys = f.Issuer
		}
		h.issuers[u] = iss
	}
	return nil
}

// Cleanup writes the decision lines still held and lets go of the remote
// issuers' keys.
func (h *Handler) Cleanup() error {
	h.closeDecisionLog()
	var errs []error
	for key, f := range h.fetchers {
		errs = append(errs, releaseFetcher(key, f, h.metrics.jwksFetches))
	}
	h.fetchers = nil
	return errors.Join(errs...)
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if h.Audience == "" {
		return errors.New("bearer_auth: audience is required")
	}
	for i := range h.Rules {
		if err := h.Rules[i].validate(); err != nil {
			return fmt.Errorf("bearer_auth: %w", err)
		}
	}
	if h.Leeway != nil && (*h.Leeway < 0 || time.Duration(*h.Leeway) > tokens.MaxLeeway) {
		return fmt.Errorf("bearer_auth: leeway must be between 0 and %s", tokens.MaxLeeway)
	}
	if h.PolicyTimeout < 0 {
		return errors.New("bearer_auth: policy_timeout must be positive")
	}
	if h.ClientCertHeader != "" {
		if _, err := clientcert.ParseFormat(string(h.ClientCertHeader)); err != nil {
			return fmt.Errorf("bearer_auth: client_cert_header: %w", err)
		}
	}
	if h.UnknownKeyRefetch < 0 {
		return errors.New("bearer_auth: unknown_key_refetch must not be negative")
	}
	if h.CacheSize < CacheOff {
		return errors.New("bearer_auth: cache_size must be -1 (off), 0 (default) or a size")
	}
	return h.DecisionLog.validate()
}

// serve verifies the token, asks the policy, and on allow passes the
// request on with identity headers.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	inbound.Delete(r, isIdentityHeader)
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	method, err := ruleMethod(r)
	if err != nil {
		repl.Set("http.auth.bearer.reason", "method not implemented")
		return caddyhttp.Error(http.StatusNotImplemented, err)
	}
	if err := checkPath(r); err != nil {
		repl.Set("http.auth.bearer.reason", "ambiguous path")
		return caddyhttp.Error(http.StatusBadRequest, err)
	}
	v, err := h.guard.Authenticate(r)
	if err != nil {
		return h.refuse(w, repl, err)
	}

	in := &authz.Input{
		Request: authz.Request{Method: method, Path: r.URL.Path, Host: r.Host, Header: r.Header, RawQuery: r.URL.RawQuery},
		Token:   v.token,
	}
	in.Route.RequiredScopes, in.Route.RequiredPermissions = requirements(h.Rules, asMethod(r, method))
	if in.ClientCert, err = h.clientCert(r); err != nil {
		return h.refuse(w, repl, err)
	}
	if v.issuer.local && v.token.IsM2M {
		if in.ClientGrant, err = h.liveGrant(r.Context(), v); err != nil {
			return caddyhttp.Error(http.StatusServiceUnavailable, fmt.Errorf("reading client grant: %w", err))
		}
	}
	d, err := h.policy.Load().Decide(r.Context(), in)
	traceDecision(r.Context(), v.token, d)
	o := &outcome{Decision: d, ids: h.decisionIDs}
	h.logDecision(o, r, v.token, err)
	o.publish(repl)
	if !d.Allow {
		h.metrics.decision(false, d.Reason).Inc()
		if d.Error != "" {
			denied := bearer.Refusal{Code: d.Error, Scope: d.Scope}
			w.Header().Set("WWW-Authenticate", denied.Challenge(h.Realm))
		}
		return caddyhttp.Error(d.Status, fmt.Errorf("policy denied the request: %s", d.Reason))
	}
	h.metrics.decision(true, d.Reason).Inc()

	repl.Map(v.placeholders)
	for name, value := range d.Headers {
		r.Header.Set(name, value)
	}
	h.setIdentityHeaders(r, v, o)
	// Headers named in Connection would be dropped by reverse_proxy.
	hopbyhop.Protect(r.Header, func(name string) bool { return isIdentityHeader(name) || addsHeader(d.Headers, name) })
	if h.StripAuthorization {
		r.Header.Del("Authorization")
	}
	return next.ServeHTTP(w, r)
}

// asMethod is r, or a shallow copy of it with method as its method for
// Caddy's method matcher.
func asMethod(r *http.Request, method string) *http.Request {
	if r.Method == method {
		return r
	}
	c := new(http.Request)
	*c = *r
	c.Method = method
	return c
}

// isIdentityHeader reports whether an inbound header could pass for one of
// ours upstream: our prefix in any case, with _ or . for any dash (some
// upstreams, such as CGI, read those as dashes).
func isIdentityHeader(name string) bool {
	if len(name) < len(IdentityHeaderPrefix) {
		return false
	}
	folded := strings.Map(func(r rune) rune {
		if r == '_' || r == '.' {
			return '-'
		}
		return r
	}, name[:len(IdentityHeaderPrefix)])
	return strings.EqualFold(folded, IdentityHeaderPrefix)
}

// addsHeader reports whether a decision's headers include name, in any
// letter case.
func addsHeader(headers map[string]string, name string) bool {
	for added := range headers {
		if strings.EqualFold(added, name) {
			return true
		}
	}
	return false
}

// verify returns the token verified, from the cache when it can: a cached
// token is used only within its lifetime and while its signing key is
// still published.
func (h *Handler) verify(ctx context.Context, token string) (*verified, error) {
	ctx, span := spans.Start(ctx, SpanTokenVerification)
	defer span.End()
	key := sha256.Sum256([]byte(token))
	now := h.now()
	if v, ok := h.cache.Get(key); ok {
		if now.Before(v.expiry) && !now.Before(v.notBefore) && v.issuer.publishes(v.kid) {
			h.metrics.cacheHit.Inc()
			traceCache(span, "hit")
			return v, nil
		}
		h.cache.Delete(key)
	}
	h.metrics.cacheMiss.Inc()
	traceCache(span, "miss")
	parsed, err := tokens.Parse(token)
	if err != nil {
		return nil, bearer.InvalidToken(bearer.CauseMalformed, "malformed token")
	}
	iss, err := parsed.Issuer()
	if err != nil {
		return nil, bearer.InvalidToken(bearer.CauseMalformed, "malformed token")
	}
	issuer, ok := h.issuers[iss]
	if !ok {
		return nil, bearer.InvalidToken("untrusted_issuer", "token issuer is not trusted")
	}
	claims, err := issuer.verifier.VerifyParsed(ctx, parsed, h.Audience)
	if err != nil {
		return nil, err
	}
	t := authz.NewToken(claims, issuer.local)
	v := &verified{token: t, expiry: claims.Expiry, notBefore: claims.NotBefore, kid: claims.KID, issuer: issuer,
		scope: strings.Join(t.Scopes, " ")}
	v.placeholders = v.placeholder
	h.cache.Put(key, v)
	return v, nil
}

// refuse answers a refused request with its status and RFC 6750
// challenge.
func (h *Handler) refuse(w http.ResponseWriter, repl *caddy.Replacer, err error) error {
	var rf *bearer.Refusal
	if !errors.As(err, &rf) {
		rf = bearer.InvalidToken(bearer.CauseInvalid, "invalid token")
	}
	h.metrics.verifyFailed.WithLabelValues(rf.Cause).Inc()
	repl.Set("http.auth.bearer.reason", rf.Description)
	w.Header().Set("WWW-Authenticate", rf.Challenge(h.Realm))
	if c := h.logger.Check(zapcore.DebugLevel, "bearer token refused"); c != nil {
		c.Write(zap.String("cause", rf.Cause), zap.String("description", rf.Description))
	}
	return caddyhttp.Error(rf.Status, err)
}

// requestCertificate is the request's client certificate: from a trusted
// proxy's headers when so configured, otherwise from the TLS connection
// (verified when Caddy's client_auth verified its chain).
func (h *Handler) requestCertificate(r *http.Request) (clientcert.Info, error) {
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); trusted && h.ClientCertHeader != "" {
		info, err := clientcert.FromHeaders(r.Header, h.ClientCertHeader)
		if errors.Is(err, clientcert.ErrNoCertificate) {
			return clientcert.Info{}, nil
		}
		return info, err
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return clientcert.Info{}, nil
	}
	info := clientcert.FromTLS(r.TLS, nil, h.now())
	info.Verified = len(r.TLS.VerifiedChains) > 0
	return info, nil
}

// clientCert is the request's client certificate for the policy; nil when
// none was presented. A malformed forwarded certificate is a 400 refusal:
// the request goes no further.
func (h *Handler) clientCert(r *http.Request) (*authz.ClientCert, error) {
	info, err := h.requestCertificate(r)
	if err != nil {
		return nil, &bearer.Refusal{Status: http.StatusBadRequest, Code: bearer.ErrorInvalidRequest, Cause: bearer.CauseCertHeaders,
			Description: "the forwarded client certificate is malformed"}
	}
	if !info.Present {
		return nil, nil
	}
	return &authz.ClientCert{
		Verified: info.Verified, Fingerprint: info.FingerprintSHA256, Thumbprint: info.Thumbprint,
		Subject: info.Subject, DNSNames: info.DNSNames, URIs: info.URIs, NotAfter: info.NotAfter.Unix(),
	}, nil
}

// liveGrant is the token's client's current grant for the audience, from
// the embedded authorization server: the one last read for the token while
// the server's generation has not changed since.
func (h *Handler) liveGrant(ctx context.Context, v *verified) (*authz.Grant, error) {
	gen := h.server.Generation() // before reading: a change during the read makes it stale
	if last := v.grant.Load(); last != nil && last.generation == gen {
		return last.grant, nil
	}
	g, scopes, err := h.server.LiveClientGrant(ctx, v.token.ClientID, h.Audience)
	if err != nil {
		return nil, err
	}
	var grant *authz.Grant
	if g != nil {
		grant = &authz.Grant{ID: g.ID, ClientID: g.ClientID, Audience: g.Audience, Scopes: scopes, AllowAllScopes: g.AllowAllScopes}
	}
	v.grant.Store(&liveGrant{generation: gen, grant: grant})
	return grant, nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
