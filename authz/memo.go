package authz

import (
	"slices"
	"sync/atomic"

	"github.com/portcullis-gw/portcullis/internal/bounded"
)

// RecentDecisions is how many decisions a token remembers: the last ones
// made for it, by request.
const RecentDecisions = 4

// SharedTokenShapes is how many token shapes (subject, client and issuer)
// a policy that does not read input.token.claims remembers decisions for.
const SharedTokenShapes = 4096

// A deterministic policy that does not read request headers decides as a
// function of the token and a few request fields, so each token remembers
// its last RecentDecisions decisions (Token.recent) and answers a request
// like one of them without evaluating the policy. A decision is remembered
// with the policy that made it: a new policy decides afresh.
//
// When the policy does not read input.token.claims either, a token is
// known to it only by its described fields (subject, client, issuer,
// scopes, permissions, ...), which every token a client is issued for the
// same grant shares: only the claims (jti, iat, exp) tell them apart. The
// policy then also remembers decisions by token shape (sharedDecisions),
// so that a token new to the edge is answered like an earlier token alike
// in everything the policy reads, without an evaluation.

// remembered is a decision of policy for in (in.Request.Header left out).
// It never changes once made, so a token may keep one made for another.
type remembered struct {
	policy   *Policy
	in       Input
	decision Decision
}

// newRemembered is p's decision d for in. The input is copied, lists
// included, so that a caller changing its own afterwards changes nothing
// here.
func newRemembered(p *Policy, in *Input, d Decision) *remembered {
	r := &remembered{policy: p, in: *in, decision: d}
	r.in.Request.Header = nil
	r.in.Route.RequiredScopes = slices.Clone(in.Route.RequiredScopes)
	r.in.Route.RequiredPermissions = slices.Clone(in.Route.RequiredPermissions)
	if g := in.ClientGrant; g != nil {
		c := *g
		c.Scopes = slices.Clone(g.Scopes)
		r.in.ClientGrant = &c
	}
	if cc := in.ClientCert; cc != nil {
		c := *cc
		c.DNSNames, c.URIs = slices.Clone(cc.DNSNames), slices.Clone(cc.URIs)
		r.in.ClientCert = &c
	}
	return r
}

// recall returns a decision p made for an input that decides as in does:
// one the token remembers, or one of a token of the same shape, which the
// token then remembers too.
func (p *Policy) recall(in *Input) (Decision, bool) {
	if r := in.Token.recall(p, in); r != nil {
		return r.decision, true
	}
	if p.shared == nil {
		return Decision{}, false
	}
	alike, ok := p.shared.Get(in.Token.shape())
	if !ok {
		return Decision{}, false
	}
	r := alike.recall(p, in)
	if r == nil {
		return Decision{}, false
	}
	in.Token.keep(r)
	return r.decision, true
}

// remember keeps p's decision d for in with the token and, when p shares
// decisions, with the token's shape.
func (p *Policy) remember(in *Input, d Decision) {
	r := newRemembered(p, in, d)
	in.Token.keep(r)
	if p.shared == nil {
		return
	}
	shape := in.Token.shape()
	alike, ok := p.shared.Get(shape)
	if !ok {
		alike = new(recentDecisions)
		p.shared.Put(shape, alike)
	}
	alike.keep(r)
}

// recentDecisions are the last RecentDecisions decisions remembered; safe
// for concurrent use.
type recentDecisions struct {
	recent [RecentDecisions]atomic.Pointer[remembered]
	next   atomic.Uint32
}

// recall returns the decision p made for an input that decides as in
// does, if one is remembered.
func (rd *recentDecisions) recall(p *Policy, in *Input) *remembered {
	for i := range rd.recent {
		r := rd.recent[i].Load()
		if r != nil && r.policy == p && sameDecision(p.uses, &r.in, in) {
			return r
		}
	}
	return nil
}

// keep remembers r in place of the oldest decision.
func (rd *recentDecisions) keep(r *remembered) {
	rd.recent[rd.next.Add(1)%RecentDecisions].Store(r)
}

// tokenShape indexes sharedDecisions. It is only an index: tokens of one
// shape may still differ in scopes or permissions, and sameDecision tells.
type tokenShape struct{ subject, clientID, issuer string }

func (t *Token) shape() tokenShape { return tokenShape{t.Subject, t.ClientID, t.Issuer} }

// sharedDecisions are a policy's recent decisions by token shape, the
// shapes in use kept by CLOCK eviction.
type sharedDecisions = bounded.Map[tokenShape, *recentDecisions]

func newSharedDecisions() *sharedDecisions {
	return bounded.New[tokenShape, *recentDecisions](SharedTokenShapes)
}

// sameDecision reports whether a memoizable policy with uses decides a and
// b alike: this is the one place that says which parts of an Input a
// decision depends on. It compares every field (TestSameDecisionCoversEveryInputField
// checks that a field added to Input is added here too) but
// Request.Header, which such a policy never reads, and Request.RawQuery
// when the policy does not read the query. Tokens are alike when they are
// one (a *Token is built once per verified token and never changes) or,
// for a policy that does not read the claims, when every described field
// is equal. Nothing is allocated.
func sameDecision(uses inputUse, a, b *Input) bool {
	ar, br := &a.Request, &b.Request
	if !sameToken(uses, a.Token, b.Token) || ar.Method != br.Method || ar.Path != br.Path || ar.Host != br.Host ||
		(uses.query && ar.RawQuery != br.RawQuery) ||
		!slices.Equal(a.Route.RequiredScopes, b.Route.RequiredScopes) ||
		!slices.Equal(a.Route.RequiredPermissions, b.Route.RequiredPermissions) {
		return false
	}
	return sameGrant(a.ClientGrant, b.ClientGrant) && sameCert(a.ClientCert, b.ClientCert)
}

func sameToken(uses inputUse, a, b *Token) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || uses.claims {
		return false
	}
	return a.Subject == b.Subject && a.ClientID == b.ClientID && a.Issuer == b.Issuer &&
		slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.Permissions, b.Permissions) &&
		a.CertThumbprint == b.CertThumbprint && a.IsM2M == b.IsM2M && a.LocalIssuer == b.LocalIssuer
}

func sameGrant(a, b *Grant) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ID == b.ID && a.ClientID == b.ClientID && a.Audience == b.Audience &&
		a.AllowAllScopes == b.AllowAllScopes && slices.Equal(a.Scopes, b.Scopes)
}

func sameCert(a, b *ClientCert) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Verified == b.Verified && a.Fingerprint == b.Fingerprint && a.Thumbprint == b.Thumbprint &&
		a.Subject == b.Subject && a.NotAfter == b.NotAfter &&
		slices.Equal(a.DNSNames, b.DNSNames) && slices.Equal(a.URIs, b.URIs)
}
