package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"
	"golang.org/x/net/http/httpguts"
)

// Query is the decision every policy must define.
const Query = "data.portcullis.authz.decision"

// Policy is a compiled set of Rego modules, ready to evaluate. It is safe
// for concurrent use.
type Policy struct {
	// Timeout bounds an evaluation (a remembered decision needs none).
	// Default: no bound but the caller's context.
	Timeout time.Duration

	query rego.PreparedEvalQuery
	uses  inputUse
	// memoizable: the policy's decisions may be remembered, per token
	// (see sameDecision); false when it reads request headers or calls a
	// nondeterministic builtin (time.now_ns, http.send, ...).
	memoizable bool
	// shared holds decisions for tokens alike in all the policy reads,
	// when it does not read the claims: nil otherwise.
	shared *sharedDecisions
	// Files are the modules it was compiled from.
	Files []string
}

// Load compiles the policy in fsys: every *.rego file except *_test.rego,
// in any directory, and data.json at the root as data. Errors name the file
// and line, with prefix joined to the file names.
func Load(ctx context.Context, fsys fs.FS, prefix string) (*Policy, error) {
	p := &Policy{}
	opts := []func(*rego.Rego){rego.Query(Query)}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, "_test.rego") {
			return err
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		display := path.Join(prefix, name)
		m, err := ast.ParseModuleWithOpts(display, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		p.Files = append(p.Files, display)
		p.uses.scan(m)
		opts = append(opts, rego.ParsedModule(m))
		return nil
	})
	var astErrs ast.Errors
	if errors.As(err, &astErrs) {
		return nil, fmt.Errorf("compiling policy: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading policy %s: %w", prefix, err)
	}
	if len(p.Files) == 0 {
		return nil, fmt.Errorf("policy %s has no .rego files", prefix)
	}
	if raw, err := fs.ReadFile(fsys, "data.json"); err == nil {
		var data map[string]any
		if err := util.UnmarshalJSON(raw, &data); err != nil {
			return nil, fmt.Errorf("%s: %w", path.Join(prefix, "data.json"), err)
		}
		opts = append(opts, rego.Store(inmem.NewFromObject(data)))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	q, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("compiling policy: %w", err)
	}
	p.query = q
	p.memoizable = !p.uses.nondeterministic && !p.uses.headers
	if p.memoizable && !p.uses.claims {
		p.shared = newSharedDecisions()
	}
	return p, nil
}

// Decision is what a policy answers.
type Decision struct {
	// Allow lets the request through.
	Allow bool
	// Status is the HTTP status of a denial (403 unless the policy says
	// otherwise; always 4xx or 5xx).
	Status int
	// Reason is a short, fixed phrase (it labels metrics), such as
	// "insufficient scope".
	Reason string
	// Error is the RFC 6750 error code for WWW-Authenticate, e.g.
	// insufficient_scope; Scope lists the scopes needed.
	Error string
	Scope string
	// Headers are added to the request sent upstream when allowed.
	Headers map[string]string
}

// decide is Decide without its span.
func (p *Policy) decide(ctx context.Context, in *Input) (Decision, error) {
	deny := Decision{Status: http.StatusForbidden, Reason: "policy error"}
	remember := p.memoizable && in.Token != nil
	if remember {
		if d, ok := p.recall(in); ok {
			traceMemoHit(ctx)
			return d, nil
		}
	}
	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Timeout)
		defer cancel()
	}
	input, err := in.value(p.uses)
	if err != nil {
		return deny, err
	}
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(input))
	switch {
	case err != nil:
		return deny, fmt.Errorf("evaluating policy: %w", err)
	case len(rs) == 0:
		return deny, errors.New("undefined decision")
	case len(rs) > 1 || len(rs[0].Expressions) != 1:
		return deny, errors.New("multiple decisions")
	}
	d, err := parseDecision(rs[0].Expressions[0].Value)
	if err != nil {
		return deny, err
	}
	if !d.Allow && (d.Status < 400 || d.Status > 599) {
		d.Status = http.StatusForbidden
	}
	if d.Reason == "" {
		d.Reason = map[bool]string{true: "allowed", false: "denied"}[d.Allow]
	}
	if remember {
		p.remember(in, d)
	}
	return d, nil
}

// parseDecision reads the decision object: allow (boolean, required),
// status (number), reason, error and scope (strings), headers (an object of
// strings, each a valid HTTP header).
func parseDecision(v any) (Decision, error) {
	var d Decision
	m, ok := v.(map[string]any)
	if !ok {
		return d, fmt.Errorf("decision is %T, not an object", v)
	}
	if d.Allow, ok = m["allow"].(bool); !ok {
		return d, errors.New("decision has no boolean allow")
	}
	if s, ok := m["status"]; ok {
		n, ok := s.(json.Number)
		status, err := n.Int64()
		if !ok || err != nil {
			return d, fmt.Errorf("decision status %v is not an integer", s)
		}
		d.Status = int(status)
	}
	for key, dst := range map[string]*string{"reason": &d.Reason, "error": &d.Error, "scope": &d.Scope} {
		if s, ok := m[key]; ok {
			if *dst, ok = s.(string); !ok {
				return d, fmt.Errorf("decision %s is not a string", key)
			}
		}
	}
	if h, ok := m["headers"]; ok {
		hm, ok := h.(map[string]any)
		if !ok {
			return d, errors.New("decision headers is not an object")
		}
		d.Headers = make(map[string]string, len(hm))
		for name, v := range hm {
			s, ok := v.(string)
			if !ok || !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(s) {
				return d, fmt.Errorf("decision header %q is not a valid HTTP header", name)
			}
			d.Headers[name] = s
		}
	}
	return d, nil
}

// inputUse records what of the input a policy reads: the costly parts of
// input.request, so that Decide builds only those, and whether decisions
// may be remembered (no headers, no nondeterministic builtin) and shared by
// tokens alike but for their claims. Any reference it cannot follow (the
// whole input, the whole request or token, a computed key) counts as
// reading everything under it.
type inputUse struct {
	headers, query bool
	// claims: the policy reads input.token.claims (or the whole token),
	// so two tokens alike in every other field may still decide apart.
	claims bool
	// nondeterministic: the policy calls a builtin whose answer can change
	// for the same input, so its decisions cannot be remembered.
	nondeterministic bool
}

func (u *inputUse) scan(m *ast.Module) {
	u.scanNode(m)
	// A rule head ref longer than name[key] (p.q[input.x] := ...) keeps
	// its terms only in Head.Reference, which ast.WalkRefs and
	// ast.WalkTerms do not visit.
	ast.WalkRules(m, func(r *ast.Rule) bool {
		for _, t := range r.Head.Reference {
			u.scanNode(t)
		}
		return false
	})
}

// readsTheClock are builtins OPA does not call nondeterministic whose
// answer still changes with the time: a certificate chain verified
// against the current time (unless given a CurrentTime option) fails once
// a certificate in it expires.
var readsTheClock = map[string]bool{
	"crypto.x509.parse_and_verify_certificates":              true,
	"crypto.x509.parse_and_verify_certificates_with_options": true,
}

// scanNode records what the references and calls under x read.
func (u *inputUse) scanNode(x any) {
	ast.WalkTerms(x, func(t *ast.Term) bool {
		var op *ast.Term
		switch v := t.Value.(type) {
		case ast.Call:
			op = v[0]
		case ast.Ref:
			op = t
		default:
			return false
		}
		if b, ok := ast.BuiltinMap[op.String()]; ok && (b.Nondeterministic || readsTheClock[b.Name]) {
			u.nondeterministic = true
		}
		return false
	})
	ast.WalkRefs(x, func(ref ast.Ref) bool {
		if !ref[0].Equal(ast.InputRootDocument) {
			return false
		}
		key := func(i int) (string, bool) {
			if i >= len(ref) {
				return "", false
			}
			s, ok := ref[i].Value.(ast.String)
			return string(s), ok
		}
		first, ok := key(1)
		if !ok {
			u.headers, u.query, u.claims = true, true, true
			return false
		}
		if first == "token" {
			if second, ok := key(2); !ok || second == "claims" {
				u.claims = true
			}
			return false
		}
		if first != "request" {
			return false
		}
		switch second, ok := key(2); {
		case !ok:
			u.headers, u.query = true, true
		case second == "headers":
			u.headers = true
		case second == "query":
			u.query = true
		}
		return false
	})
}
