package authserver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/portcullis-gw/portcullis/authserver"
)

// TestTokenSpans: under a recording request span, as Caddy's tracing
// handler starts, a token request is the span token_issuance with its
// child client_authentication, each with its attributes; a request refused
// before the client is known has no client_authentication; the revocation
// endpoint's client authentication is a span too.
func TestTokenSpans(t *testing.T) {
	e := newEnv(t)
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {e.mgmtAudience()}}
	for _, tc := range []struct {
		name, path, body string
		// want maps each span expected, by name, to the attributes it must
		// have, and to its parent's name.
		want   map[string]map[string]string
		parent map[string]string
	}{
		{
			name: "client_secret_basic", path: "oauth/token", body: form.Encode(),
			want: map[string]map[string]string{
				authserver.SpanTokenIssuance: {"portcullis.grant_type": "client_credentials", "portcullis.client_id": e.admin.ClientID,
					"portcullis.audience": e.mgmtAudience()},
				authserver.SpanClientAuthentication: {"portcullis.client_auth_method": "client_secret_basic", "portcullis.client_id": e.admin.ClientID},
			},
			parent: map[string]string{authserver.SpanTokenIssuance: "server", authserver.SpanClientAuthentication: authserver.SpanTokenIssuance},
		},
		{
			name: "no grant_type", path: "oauth/token", body: "audience=x",
			want:   map[string]map[string]string{authserver.SpanTokenIssuance: {"portcullis.error": "invalid_request"}},
			parent: map[string]string{authserver.SpanTokenIssuance: "server"},
		},
		{
			name: "revocation", path: "oauth/revoke", body: "token=unknown",
			want: map[string]map[string]string{
				authserver.SpanClientAuthentication: {"portcullis.client_auth_method": "client_secret_basic", "portcullis.client_id": e.admin.ClientID},
			},
			parent: map[string]string{authserver.SpanClientAuthentication: "server"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			ctx, server := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("caddy").Start(context.Background(), "server")
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, e.issuer+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(e.admin.ClientID, e.admin.ClientSecret)
			e.srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
			server.End()
			names := map[string]string{server.SpanContext().SpanID().String(): "server"}
			for _, s := range rec.Ended() {
				names[s.SpanContext().SpanID().String()] = s.Name()
			}
			for _, s := range rec.Ended() {
				if s.Name() == "server" {
					continue
				}
				want, ok := tc.want[s.Name()]
				if !ok {
					t.Errorf("unexpected span %s", s.Name())
					continue
				}
				delete(tc.want, s.Name())
				if parent := names[s.Parent().SpanID().String()]; parent != tc.parent[s.Name()] {
					t.Errorf("span %s's parent is %q, want %q", s.Name(), parent, tc.parent[s.Name()])
				}
				got := map[attribute.Key]string{}
				for _, kv := range s.Attributes() {
					got[kv.Key] = kv.Value.String()
					if strings.Contains(kv.Value.String(), e.admin.ClientSecret) {
						t.Errorf("span %s's %s holds the client secret", s.Name(), kv.Key)
					}
				}
				for k, v := range want {
					if got[attribute.Key(k)] != v {
						t.Errorf("span %s: %s = %q, want %q", s.Name(), k, got[attribute.Key(k)], v)
					}
				}
			}
			for name := range tc.want {
				t.Errorf("no span %s", name)
			}
		})
	}
}
