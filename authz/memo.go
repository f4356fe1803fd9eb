package authz

import (
	"slices"
	"sync/atomic"
)

// RecentDecisions is how many decisions a token remembers: the last ones
// made for it, by request.
const RecentDecisions = 4

// A deterministic policy that does not read request headers decides as a
// function of the token and a few request fields, so each token remembers
// its last RecentDecisions decisions (Token.recent) and answers a request
// like one of them without evaluating the policy. A decision is remembered
// with the policy that made it: a new policy decides afresh.

// remembered is a decision of policy for in (in.Request.Header left out).
type remembered struct {
	policy   *Policy
	in       Input
	decision Decision
}

// recall returns the decision p made for an input that decides as in
// does, if t remembers one.
func (t *Token) recall(p *Policy, in *Input) (Decision, bool) {
	for i := range t.recent {
		r := t.recent[i].Load()
		if r != nil && r.policy == p && sameDecision(p.uses, &r.in, in) {
			return r.decision, true
		}
	}
	return Decision{}, false
}

// remember keeps p's decision d for in, in place of the oldest one. The
// input is copied, lists included, so that a caller changing its own
// afterwards changes nothing here.
func (t *Token) remember(p *Policy, in *Input, d Decision) {
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
	t.recent[t.next.Add(1)%RecentDecisions].Store(r)
}

// recentDecisions is a token's remembered decisions; safe for concurrent
// use.
type recentDecisions struct {
	recent [RecentDecisions]atomic.Pointer[remembered]
	next   atomic.Uint32
}

// sameDecision reports whether a memoizable policy with uses decides a and
// b alike: this is the one place that says which parts of an Input a
// decision depends on. It compares every field (TestSameDecisionCoversEveryInputField
// checks that a field added to Input is added here too) but
// Request.Header, which such a policy never reads, and Request.RawQuery
// when the policy does not read the query. The token is compared by
// pointer: a *Token is built once per verified token and never changes.
// Nothing is allocated.
func sameDecision(uses inputUse, a, b *Input) bool {
	ar, br := &a.Request, &b.Request
	if a.Token != b.Token || ar.Method != br.Method || ar.Path != br.Path || ar.Host != br.Host ||
		(uses.query && ar.RawQuery != br.RawQuery) ||
		!slices.Equal(a.Route.RequiredScopes, b.Route.RequiredScopes) ||
		!slices.Equal(a.Route.RequiredPermissions, b.Route.RequiredPermissions) {
		return false
	}
	return sameGrant(a.ClientGrant, b.ClientGrant) && sameCert(a.ClientCert, b.ClientCert)
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
