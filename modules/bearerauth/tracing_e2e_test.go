package bearerauth_test

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authz"
	"github.com/portcullis-gw/portcullis/internal/testenv"
	"github.com/portcullis-gw/portcullis/internal/testutil"
	"github.com/portcullis-gw/portcullis/modules/bearerauth"
)

// collector is an OTLP/HTTP trace collector: it keeps every span exported
// to it.
type collector struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(raw, &req)
	}
	if r.URL.Path != "/v1/traces" || err != nil {
		http.Error(w, fmt.Sprintf("%s: %v", r.URL.Path, err), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// find returns the spans named name whose attributes include want.
func (c *collector) find(name string, want map[string]string) []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var found []*tracepb.Span
	for _, s := range c.spans {
		if s.Name == name && hasAttributes(s, want) {
			found = append(found, s)
		}
	}
	return found
}

func (c *collector) byID(traceID, spanID []byte) *tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.spans {
		if string(s.TraceId) == string(traceID) && string(s.SpanId) == string(spanID) {
			return s
		}
	}
	return nil
}

func attribute(s *tracepb.Span, key string) (string, bool) {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return value(kv.Value), true
		}
	}
	return "", false
}

func value(v *commonpb.AnyValue) string {
	switch v := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return v.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(v.IntValue, 10)
	default:
		return fmt.Sprint(v)
	}
}

func hasAttributes(s *tracepb.Span, want map[string]string) bool {
	for k, v := range want {
		if got, ok := attribute(s, k); !ok || got != v {
			return false
		}
	}
	return true
}

// TestTracing runs Caddy's tracing directive in front of the authorization
// server and a bearer_auth site, exporting to an in-test OTLP collector:
// a token request is one trace (Caddy's server span, token_issuance,
// client_authentication), and a protected request is one trace from the
// edge through bearer_auth's verification and policy decision to the
// upstream, which receives the trace in its traceparent header. No span
// holds the token or the client's secret.
func TestTracing(t *testing.T) {
	col := &collector{}
	otlp := httptest.NewServer(col)
	t.Cleanup(otlp.Close)
	// Caddy's tracing exports through OpenTelemetry's autoexport, set by
	// the standard environment variables.
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")

	traceparents := make(chan string, 10)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		traceparents <- r.Header.Get("Traceparent")
		io.WriteString(w, "upstream")
	}))
	t.Cleanup(upstream.Close)

	dir := t.TempDir()
	authPort, edgePort := testenv.FreePort(t), testenv.FreePort(t)
	issuer := fmt.Sprintf("https://localhost:%d/", authPort)
	edgeURL := fmt.Sprintf("https://localhost:%d", edgePort)
	audience := issuer + "api/v2/"
	caddy := testenv.Start(t, dir, fmt.Sprintf(`{
%s	portcullis {
		issuer %s
		storage sqlite %s
		bootstrap_admin %s %s
	}
}

https://localhost:%d {
	tls internal
	tracing {
		span token-site
	}
	authorization_server
}

%s {
	tls internal
	tracing {
		span edge-site
	}
	bearer_auth {
		audience %s
		scopes DELETE /orders* delete:orders
	}
	reverse_proxy %s
}
`, testenv.TestGlobals(dir), issuer, filepath.Join(dir, "portcullis.db"), adminID, adminSecret, authPort, edgeURL, audience,
		strings.TrimPrefix(upstream.URL, "http://")), issuer+".well-known/jwks.json")

	token := testutil.ClientCredentialsToken(t, caddy.Client, issuer+"oauth/token", adminID, adminSecret, audience)
	resp, err := caddy.Client.PostForm(issuer+"oauth/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {adminID}, "client_secret": {"wrong-" + adminSecret}, "audience": {audience},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong secret got %d, want 401", resp.StatusCode)
	}
	send := func(method, authorization string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, edgeURL+"/orders/1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", authorization)
		resp, err := caddy.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := send("GET", bearer(token)); status != http.StatusOK {
		t.Fatalf("the protected request got %d, want 200", status)
	}
	traceparent := <-traceparents
	if status := send("GET", bearer("not-a-token")); status != http.StatusUnauthorized {
		t.Fatalf("a malformed token got %d, want 401", status)
	}
	if status := send("DELETE", bearer(token)); status != http.StatusForbidden {
		t.Fatalf("a request the policy denies got %d, want 403", status)
	}

	const wait = 10 * time.Second
	var issued, refused, allowed, rejected, denied []*tracepb.Span
	testutil.Eventually(t, wait, "the spans reach the collector", func() bool {
		issued = col.find(authserver.SpanTokenIssuance, map[string]string{
			"portcullis.grant_type": "client_credentials", "portcullis.client_id": adminID, "portcullis.audience": audience})
		refused = col.find(authserver.SpanTokenIssuance, map[string]string{"portcullis.error": "invalid_client"})
		allowed = col.find(bearerauth.SpanBearerAuth, map[string]string{"portcullis.result": "allow", "portcullis.client_id": adminID})
		rejected = col.find(bearerauth.SpanBearerAuth, map[string]string{"portcullis.result": "refused", "portcullis.cause": "malformed"})
		denied = col.find(bearerauth.SpanBearerAuth, map[string]string{"portcullis.result": "deny", "portcullis.client_id": adminID})
		return len(issued) == 1 && len(refused) == 1 && len(allowed) == 1 && len(rejected) == 1 && len(denied) == 1 &&
			len(col.find(bearerauth.SpanTokenVerification, nil)) == 3 && len(col.find(authz.SpanPolicyEvaluation, nil)) == 2 &&
			len(col.find(authserver.SpanClientAuthentication, nil)) == 2
	})

	// wantChild checks that one span named name, with the attributes
	// want, is a child of parent.
	wantChild := func(t *testing.T, parent *tracepb.Span, name string, want map[string]string) {
		t.Helper()
		var found int
		for _, s := range col.find(name, want) {
			if string(s.ParentSpanId) == string(parent.SpanId) && string(s.TraceId) == string(parent.TraceId) {
				found++
			}
		}
		if found != 1 {
			t.Errorf("%d spans %s %v are children of %s, want 1", found, name, want, parent.Name)
		}
	}
	// wantServerParent checks that s is a child of Caddy's server span
	// named name, a root.
	wantServerParent := func(t *testing.T, s *tracepb.Span, name string) *tracepb.Span {
		t.Helper()
		parent := col.byID(s.TraceId, s.ParentSpanId)
		if parent == nil || parent.Name != name || parent.Kind != tracepb.Span_SPAN_KIND_SERVER || len(parent.ParentSpanId) != 0 {
			t.Fatalf("span %s's parent is %v, want Caddy's root server span %s", s.Name, parent, name)
		}
		return parent
	}

	t.Run("token issuance", func(t *testing.T) {
		wantServerParent(t, issued[0], "token-site")
		wantChild(t, issued[0], authserver.SpanClientAuthentication, map[string]string{
			"portcullis.client_auth_method": "client_secret_post", "portcullis.client_id": adminID})
		wantServerParent(t, refused[0], "token-site")
		wantChild(t, refused[0], authserver.SpanClientAuthentication, map[string]string{
			"portcullis.client_auth_method": "client_secret_post", "portcullis.error": "invalid_client"})
	})
	t.Run("one trace from the edge to the upstream", func(t *testing.T) {
		span := allowed[0]
		server := wantServerParent(t, span, "edge-site")
		wantChild(t, span, bearerauth.SpanTokenVerification, map[string]string{"portcullis.token_cache": "miss"})
		wantChild(t, span, authz.SpanPolicyEvaluation, map[string]string{"portcullis.result": "allow"})
		parts := strings.Split(traceparent, "-")
		if len(parts) != 4 || parts[1] != hex.EncodeToString(span.TraceId) || parts[2] != hex.EncodeToString(server.SpanId) {
			t.Errorf("the upstream got traceparent %q, want trace %x from span %x", traceparent, span.TraceId, server.SpanId)
		}
		if span.EndTimeUnixNano > server.EndTimeUnixNano {
			t.Error("bearer_auth's span ends after the request's")
		}
	})
	t.Run("a request the policy denies", func(t *testing.T) {
		span := denied[0]
		wantServerParent(t, span, "edge-site")
		wantChild(t, span, bearerauth.SpanTokenVerification, map[string]string{"portcullis.token_cache": "hit"})
		wantChild(t, span, authz.SpanPolicyEvaluation, map[string]string{"portcullis.result": "deny", "http.response.status_code": "403"})
		if reason, _ := attribute(span, "portcullis.reason"); reason == "" {
			t.Error("the denial's span has no reason")
		}
		if status, _ := attribute(span, "http.response.status_code"); status != "403" {
			t.Errorf("denied bearer_auth span has status %q, want 403", status)
		}
	})
	t.Run("a refused token", func(t *testing.T) {
		wantServerParent(t, rejected[0], "edge-site")
		if status, _ := attribute(rejected[0], "http.response.status_code"); status != "401" {
			t.Errorf("refused bearer_auth span has status %q, want 401", status)
		}
	})
	t.Run("no span holds a secret", func(t *testing.T) {
		col.mu.Lock()
		defer col.mu.Unlock()
		signature := token[strings.LastIndexByte(token, '.')+1:]
		for _, s := range col.spans {
			for _, kv := range s.Attributes {
				v := value(kv.Value)
				if strings.Contains(v, signature) || strings.Contains(v, adminSecret) {
					t.Errorf("span %s's attribute %s holds the token or the secret", s.Name, kv.Key)
				}
			}
		}
	})
}
