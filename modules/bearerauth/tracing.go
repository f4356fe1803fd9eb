package bearerauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis-gw/portcullis/authserver/bearer"
	"github.com/portcullis-gw/portcullis/authz"
	"github.com/portcullis-gw/portcullis/internal/spans"
)

// The names of bearer_auth's spans.
const (
	SpanBearerAuth        = "bearer_auth"
	SpanTokenVerification = "token_verification"
)

// ServeHTTP verifies the token, asks the policy, and on allow passes the
// request on with identity headers.
//
// Under Caddy's tracing handler, the work is the span bearer_auth, a child
// of the request's span, ended before the next handler runs; its children
// are token_verification (portcullis.token_cache hit or miss) and
// authz's policy_evaluation. Its attributes: portcullis.result (allow,
// deny, or refused when the token was not accepted), portcullis.reason
// (the decision's, or why the token was refused), portcullis.cause (a
// refusal's cause, as in the metrics), portcullis.client_id, and
// http.response.status_code when the request goes no further. Never the
// token. Without tracing, nothing is recorded and nothing allocated.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	ctx, span := spans.Start(r.Context(), SpanBearerAuth)
	if !span.IsRecording() {
		return h.serve(w, r, next)
	}
	return h.serveTraced(w, r.WithContext(ctx), next, span, r.Context())
}

// serveTraced serves r, whose context holds span, and ends span before the
// next handler, which runs in the caller's context.
func (h *Handler) serveTraced(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, span trace.Span, parent context.Context) error {
	passed := false
	err := h.serve(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		passed = true
		span.End()
		return next.ServeHTTP(w, r.WithContext(parent))
	}))
	if passed {
		return err
	}
	var rf *bearer.Refusal
	if errors.As(err, &rf) {
		span.SetAttributes(attribute.String("portcullis.result", "refused"), attribute.String("portcullis.reason", rf.Description),
			attribute.String("portcullis.cause", rf.Cause))
	}
	var he caddyhttp.HandlerError
	if errors.As(err, &he) {
		span.SetAttributes(attribute.Int("http.response.status_code", he.StatusCode))
	}
	span.End()
	return err
}

// traceDecision sets the policy's decision on ctx's bearer_auth span.
func traceDecision(ctx context.Context, t *authz.Token, d authz.Decision) {
	span := spans.Recording(ctx)
	if span == nil {
		return
	}
	result := "deny"
	if d.Allow {
		result = "allow"
	}
	span.SetAttributes(attribute.String("portcullis.result", result), attribute.String("portcullis.reason", d.Reason),
		attribute.String("portcullis.client_id", t.ClientID))
}

// traceCache sets whether the token came from the verified-token cache.
func traceCache(span trace.Span, hitOrMiss string) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("portcullis.token_cache", hitOrMiss))
	}
}
