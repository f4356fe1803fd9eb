package spans_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/portcullis-gw/portcullis/internal/spans"
)

// TestOffAllocatesNothing is the cost of tracing off: no span in the
// context, or one that is not sampled, starts nothing and allocates
// nothing.
func TestOffAllocatesNothing(t *testing.T) {
	unsampled, _ := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample())).Tracer("test").Start(context.Background(), "server")
	for name, ctx := range map[string]context.Context{
		"no span":        context.Background(),
		"unsampled span": unsampled,
	} {
		t.Run(name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, func() {
				got, span := spans.Start(ctx, "child")
				if got != ctx || span.IsRecording() || spans.Recording(got) != nil {
					t.Fatal("a span was started with tracing off")
				}
				span.End()
			})
			if allocs != 0 {
				t.Errorf("Start allocated %v times per call with tracing off", allocs)
			}
		})
	}
}

// TestChildOfTheRequestSpan: with a recording span in the context, the
// span is its child, from its provider, in Portcullis's scope.
func TestChildOfTheRequestSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	ctx, server := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("caddy").Start(context.Background(), "server")
	ctx, child := spans.Start(ctx, "child")
	if spans.Recording(ctx) != child {
		t.Error("Recording is not the span Start put in the context")
	}
	child.End()
	server.End()
	ended := rec.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans ended, want 2", len(ended))
	}
	got := ended[0]
	if got.Name() != "child" || got.Parent().SpanID() != server.SpanContext().SpanID() || got.SpanContext().TraceID() != server.SpanContext().TraceID() {
		t.Errorf("span %q has parent %s in trace %s, want child of %s in %s", got.Name(), got.Parent().SpanID(), got.SpanContext().TraceID(),
			server.SpanContext().SpanID(), server.SpanContext().TraceID())
	}
	if got.InstrumentationScope().Name != spans.Scope {
		t.Errorf("scope %q, want %q", got.InstrumentationScope().Name, spans.Scope)
	}
}

// BenchmarkStartOff is what every span of Portcullis costs with tracing
// off: a context lookup.
func BenchmarkStartOff(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, span := spans.Start(ctx, "child")
		span.End()
	}
}
