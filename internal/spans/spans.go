// Package spans starts Portcullis's OpenTelemetry spans. It keeps no
// tracer of its own and sets no global provider: a span is started only as
// the child of a recording span already in the context (the server span of
// Caddy's tracing handler), with that span's own TracerProvider. With
// tracing off, there is no such span, and Start costs a context lookup and
// allocates nothing.
package spans

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

// Scope is the instrumentation scope of every Portcullis span.
const Scope = "github.com/portcullis-gw/portcullis"

// Start starts the span name as a child of ctx's span when that span is
// recording, and returns the context holding the new span. Otherwise it
// returns ctx itself and its non-recording span, whose methods do nothing:
// callers check IsRecording before building attributes, which would
// allocate.
func Start(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(Scope).Start(ctx, name)
}

// Recording is the recording span of ctx, or nil when there is none, for
// setting attributes found out below the code that started the span.
func Recording(ctx context.Context) trace.Span {
	if s := trace.SpanFromContext(ctx); s.IsRecording() {
		return s
	}
	return nil
}
