package authz

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/portcullis-gw/portcullis/internal/spans"
)

// SpanPolicyEvaluation is the name of Decide's span.
const SpanPolicyEvaluation = "policy_evaluation"

// Decide evaluates the policy for in. Any failure (an undefined decision,
// several decisions, a malformed one, an evaluation error, ctx's deadline)
// returns an error with a denying Decision: callers fail closed.
//
// When ctx holds a recording span, the evaluation is its child span
// policy_evaluation, with the decision (portcullis.result allow or deny,
// portcullis.reason, http.response.status_code of a denial) and
// portcullis.decision_memo hit when the decision was remembered rather than
// evaluated.
func (p *Policy) Decide(ctx context.Context, in *Input) (Decision, error) {
	ctx, span := spans.Start(ctx, SpanPolicyEvaluation)
	if !span.IsRecording() {
		return p.decide(ctx, in)
	}
	defer span.End()
	d, err := p.decide(ctx, in)
	if d.Allow {
		span.SetAttributes(attribute.String("portcullis.result", "allow"), attribute.String("portcullis.reason", d.Reason))
	} else {
		span.SetAttributes(attribute.String("portcullis.result", "deny"), attribute.String("portcullis.reason", d.Reason),
			attribute.Int("http.response.status_code", d.Status))
	}
	if err != nil {
		// Not err's text: an evaluation error may quote the input, whose
		// headers hold the token.
		span.SetStatus(codes.Error, "policy failed; request denied")
	}
	return d, err
}

// traceMemoHit marks ctx's span as answered from the decision memo.
func traceMemoHit(ctx context.Context) {
	if s := spans.Recording(ctx); s != nil {
		s.SetAttributes(attribute.String("portcullis.decision_memo", "hit"))
	}
}
