package authserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver/access"
)

// tenantState is the tenant settings and the branding as the Management
// API returns them: what a refused PATCH must leave as it was.
func (e *env) tenantState(t *testing.T) string {
	t.Helper()
	return string(e.must(t, "GET", "tenants/settings", nil, http.StatusOK, nil).body) + "\n" +
		string(e.must(t, "GET", "branding", nil, http.StatusOK, nil).body)
}

// wantBody checks that a response is the JSON document want.
func wantBody(t *testing.T, what string, r reply, want string) {
	t.Helper()
	var got any
	r.decode(t, &got)
	var wanted any
	if err := json.Unmarshal([]byte(want), &wanted); err != nil {
		t.Fatalf("%s: bad expected JSON %s: %v", what, want, err)
	}
	if !jsonEqual(got, wanted) {
		t.Errorf("%s:\n got  %s\n want %s", what, r.body, want)
	}
}

// patchAndRead sends a PATCH to path, which must succeed with want, and
// checks that a GET then returns want too.
func (e *env) patchAndRead(t *testing.T, path string, body any, want string) {
	t.Helper()
	wantBody(t, "PATCH /api/v2/"+path, e.must(t, "PATCH", path, body, http.StatusOK, nil), want)
	wantBody(t, "GET /api/v2/"+path, e.must(t, "GET", path, nil, http.StatusOK, nil), want)
}

// badPatch is a PATCH body that must be refused with 400 invalid_body and a
// message containing msg.
type badPatch struct {
	name string
	body any
	msg  string
}

// wantRefused sends each PATCH and checks that it is refused, changing
// nothing.
func (e *env) wantRefused(t *testing.T, path string, cases []badPatch) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.tenantState(t)
			wantMgmtError(t, e.mgmt(t, "PATCH", path, tc.body), http.StatusBadRequest, "invalid_body", tc.msg)
			wantSameState(t, before, e.tenantState(t))
		})
	}
}

func TestTenantSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	audience := newAudience("default")
	e.createAPI(t, audience, nil, nil)

	t.Run("defaults", func(t *testing.T) {
		wantBody(t, "GET", e.must(t, "GET", "tenants/settings", nil, http.StatusOK, nil), `{"session_lifetime":168,"idle_session_lifetime":72}`)
	})

	t.Run("set, merge and reset", func(t *testing.T) {
		e.patchAndRead(t, "tenants/settings", obj{
			"friendly_name": "Acme & Co", "picture_url": "https://cdn.example.com/logo.png",
			"support_email": "help@example.com", "support_url": "http://localhost:8080/help",
			"session_lifetime": 720, "idle_session_lifetime": 24.5,
			"default_audience": audience, "allowed_logout_urls": []string{"https://app.example.com/bye", "com.example.app://logout"},
		}, `{"friendly_name":"Acme & Co","picture_url":"https://cdn.example.com/logo.png",
			"support_email":"help@example.com","support_url":"http://localhost:8080/help",
			"session_lifetime":720,"idle_session_lifetime":24.5,
			"default_audience":"`+audience+`","allowed_logout_urls":["https://app.example.com/bye","com.example.app://logout"]}`)

		// Properties left out keep their values.
		e.patchAndRead(t, "tenants/settings", obj{"friendly_name": "Acme"}, `{"friendly_name":"Acme","picture_url":"https://cdn.example.com/logo.png",
			"support_email":"help@example.com","support_url":"http://localhost:8080/help",
			"session_lifetime":720,"idle_session_lifetime":24.5,
			"default_audience":"`+audience+`","allowed_logout_urls":["https://app.example.com/bye","com.example.app://logout"]}`)
		e.patchAndRead(t, "tenants/settings", obj{}, `{"friendly_name":"Acme","picture_url":"https://cdn.example.com/logo.png",
			"support_email":"help@example.com","support_url":"http://localhost:8080/help",
			"session_lifetime":720,"idle_session_lifetime":24.5,
			"default_audience":"`+audience+`","allowed_logout_urls":["https://app.example.com/bye","com.example.app://logout"]}`)

		// null resets a property; the lifetimes to their defaults.
		e.patchAndRead(t, "tenants/settings", obj{"picture_url": nil, "support_email": nil, "session_lifetime": nil, "allowed_logout_urls": nil},
			`{"friendly_name":"Acme","support_url":"http://localhost:8080/help",
			"session_lifetime":168,"idle_session_lifetime":24.5,"default_audience":"`+audience+`"}`)
		e.patchAndRead(t, "tenants/settings", obj{"friendly_name": nil, "support_url": nil, "idle_session_lifetime": nil, "default_audience": nil},
			`{"session_lifetime":168,"idle_session_lifetime":72}`)
	})

	t.Run("fields", func(t *testing.T) {
		e.must(t, "PATCH", "tenants/settings", obj{"friendly_name": "Acme"}, http.StatusOK, nil)
		wantBody(t, "fields", e.must(t, "GET", "tenants/settings?fields=friendly_name,session_lifetime", nil, http.StatusOK, nil), `{"friendly_name":"Acme","session_lifetime":168}`)
		wantBody(t, "excluded fields", e.must(t, "GET", "tenants/settings?fields=friendly_name&include_fields=false", nil, http.StatusOK, nil), `{"session_lifetime":168,"idle_session_lifetime":72}`)
		wantMgmtError(t, e.mgmt(t, "GET", "tenants/settings?page=1", nil), http.StatusBadRequest, "invalid_query_string", "Additional properties not allowed: page")
	})

	t.Run("refused", func(t *testing.T) {
		e.must(t, "PATCH", "tenants/settings", obj{"session_lifetime": 48, "idle_session_lifetime": 24}, http.StatusOK, nil)
		logoutURLs := make([]string, 101)
		for i := range logoutURLs {
			logoutURLs[i] = fmt.Sprintf("https://app.example.com/%d", i)
		}
		e.wantRefused(t, "tenants/settings", []badPatch{
			{"long friendly_name", obj{"friendly_name": strings.Repeat("a", 256)}, "friendly_name must be at most 255 characters"},
			{"friendly_name with markup", obj{"friendly_name": "<b>Acme</b>"}, "friendly_name must not contain < or >"},
			{"friendly_name with a control character", obj{"friendly_name": "Acme\u0007"}, "friendly_name must not contain control characters"},
			{"http picture_url", obj{"picture_url": "http://cdn.example.com/logo.png"}, "picture_url must be an https URL (http only for localhost)"},
			{"relative support_url", obj{"support_url": "/help"}, "support_url: the URL must be absolute"},
			{"javascript support_url", obj{"support_url": "javascript://x/%0aalert(1)"}, "support_url: scheme javascript is not allowed"},
			{"long picture_url", obj{"picture_url": "https://cdn.example.com/" + strings.Repeat("a", 2048)}, "picture_url: the URL is longer than 2048 characters"},
			{"support_email", obj{"support_email": "help@"}, "support_email must be an e-mail address"},
			{"session_lifetime 0", obj{"session_lifetime": 0}, "session_lifetime must be between 1 and 720 hours"},
			{"session_lifetime over 30 days", obj{"session_lifetime": 721}, "session_lifetime must be between 1 and 720 hours"},
			{"idle_session_lifetime 0", obj{"idle_session_lifetime": 0}, "idle_session_lifetime must be between 1 and 72 hours"},
			{"idle_session_lifetime over 72 hours", obj{"idle_session_lifetime": 73}, "idle_session_lifetime must be between 1 and 72 hours"},
			{"idle above absolute", obj{"session_lifetime": 12}, "idle_session_lifetime must not be above session_lifetime"},
			{"idle reset above absolute", obj{"session_lifetime": 48, "idle_session_lifetime": 50}, "idle_session_lifetime must not be above session_lifetime"},
			{"101 logout URLs", obj{"allowed_logout_urls": logoutURLs}, "allowed_logout_urls holds at most 100 URLs"},
			{"logout URL with a fragment", obj{"allowed_logout_urls": []string{"https://app.example.com/bye#x"}}, `allowed_logout_urls: "https://app.example.com/bye#x": the URL must not have a fragment`},
			{"unknown default_audience", obj{"default_audience": "https://nothing.example/"}, "'default_audience must be the identifier of an API'"},
			{"unknown property", obj{"friendly_name": "x", "enabled_locales": []string{"en"}}, "'Additional properties not allowed: enabled_locales'"},
			{"lifetime in minutes", obj{"session_lifetime_in_minutes": 60}, "'Additional properties not allowed: session_lifetime_in_minutes'"},
			{"string lifetime", obj{"session_lifetime": "24"}, "'Expected type number but found type string' on property session_lifetime"},
			{"number friendly_name", obj{"friendly_name": 1}, "'Expected type string but found type number' on property friendly_name"},
			{"logout URLs as a string", obj{"allowed_logout_urls": "https://app.example.com/"}, "'Expected type array but found type string' on property allowed_logout_urls"},
		})
	})

	t.Run("a deleted default audience blocks no other change", func(t *testing.T) {
		other := newAudience("gone")
		id := e.createAPI(t, other, nil, nil)["id"].(string)
		e.must(t, "PATCH", "tenants/settings", obj{"default_audience": other}, http.StatusOK, nil)
		e.must(t, "DELETE", "resource-servers/"+id, nil, http.StatusNoContent, nil)
		var s map[string]any
		e.must(t, "PATCH", "tenants/settings", obj{"friendly_name": "Still Acme"}, http.StatusOK, &s)
		if s["friendly_name"] != "Still Acme" || s["default_audience"] != other {
			t.Errorf("settings after the PATCH: %v", s)
		}
		wantMgmtError(t, e.mgmt(t, "PATCH", "tenants/settings", obj{"default_audience": other}), http.StatusBadRequest, "invalid_body", "default_audience must be the identifier of an API")
	})
}

func TestBranding(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("defaults", func(t *testing.T) {
		wantBody(t, "GET", e.must(t, "GET", "branding", nil, http.StatusOK, nil), `{}`)
	})

	t.Run("set, merge and reset", func(t *testing.T) {
		e.patchAndRead(t, "branding", obj{
			"logo_url": "https://cdn.example.com/logo.svg", "favicon_url": "https://cdn.example.com/favicon.ico",
			"colors": obj{"primary": "#0059d6", "page_background": "#FFF"},
		}, `{"logo_url":"https://cdn.example.com/logo.svg","favicon_url":"https://cdn.example.com/favicon.ico","colors":{"primary":"#0059d6","page_background":"#FFF"}}`)

		// The colours merge one level deep.
		e.patchAndRead(t, "branding", obj{"colors": obj{"primary": "#000"}},
			`{"logo_url":"https://cdn.example.com/logo.svg","favicon_url":"https://cdn.example.com/favicon.ico","colors":{"primary":"#000","page_background":"#FFF"}}`)
		e.patchAndRead(t, "branding", obj{"colors": obj{"page_background": nil}},
			`{"logo_url":"https://cdn.example.com/logo.svg","favicon_url":"https://cdn.example.com/favicon.ico","colors":{"primary":"#000"}}`)
		e.patchAndRead(t, "branding", obj{"favicon_url": nil, "colors": obj{"primary": nil}},
			`{"logo_url":"https://cdn.example.com/logo.svg"}`)
		e.patchAndRead(t, "branding", obj{"colors": obj{"page_background": "#123456"}},
			`{"logo_url":"https://cdn.example.com/logo.svg","colors":{"page_background":"#123456"}}`)
		e.patchAndRead(t, "branding", obj{"logo_url": nil, "colors": nil}, `{}`)
	})

	t.Run("refused", func(t *testing.T) {
		e.must(t, "PATCH", "branding", obj{"colors": obj{"primary": "#0059d6"}}, http.StatusOK, nil)
		cases := []badPatch{
			{"http logo_url", obj{"logo_url": "http://cdn.example.com/logo.svg"}, "logo_url must be an https URL (http only for localhost)"},
			{"logo_url leaving url()", obj{"logo_url": "https://cdn.example.com/x);}body{display:none"}, "logo_url: character '}' is not allowed"},
			{"data favicon_url", obj{"favicon_url": "data:image/png;base64,AAAA"}, "favicon_url: scheme data is not allowed"},
			{"gradient page_background", obj{"colors": obj{"page_background": obj{"type": "linear-gradient", "start": "#fff", "end": "#000", "angle_deg": 90}}},
				"'Expected type string but found type object' on property colors"},
			{"number primary", obj{"colors": obj{"primary": 255}}, "'Expected type string but found type number' on property colors"},
			{"unknown colour", obj{"colors": obj{"secondary": "#fff"}}, "'Additional properties not allowed: secondary'"},
			{"font", obj{"font": obj{"url": "https://cdn.example.com/font.woff2"}}, "'Additional properties not allowed: font'"},
		}
		// The colours go into the login pages' style sheet.
		for _, injection := range []string{
			"red;}body{display:none", "#fff;", "#fff;}", "#fff }", "#fff\n", " #fff",
			"url(https://evil.example/x.png)", "expression(alert(1))", `#fff"`, "#fff</style>", "#fff/**/",
			"red", "#ffff", "#fffffff", "#ggg", "fff", "rgb(0,0,0)", "var(--x)",
		} {
			for _, property := range []string{"primary", "page_background"} {
				cases = append(cases, badPatch{fmt.Sprintf("%s %q", property, injection), obj{"colors": obj{property: injection}},
					"colors." + property + " must be a CSS hex colour, #rgb or #rrggbb"})
			}
		}
		e.wantRefused(t, "branding", cases)
	})
}

// tenantEndpoints are the tenant settings and branding endpoints.
var tenantEndpoints = []rbacEndpoint{
	{"GET", "tenants/settings", "read:tenant_settings", 200, nil},
	{"PATCH", "tenants/settings", "update:tenant_settings", 200, func(string, string) obj { return obj{"friendly_name": uniq("Acme ")} }},
	{"GET", "branding", "read:branding", 200, nil},
	{"PATCH", "branding", "update:branding", 200, func(string, string) obj { return obj{"logo_url": "https://cdn.example.com/" + uniq("logo")} }},
}

func TestTenantScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	testScopeGating(t, e, tenantEndpoints, e.tenantState, func(*testing.T) (string, string) { return "", "" })
}

func TestTenantSettingsSurviveRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(t, "PATCH", "tenants/settings", obj{"friendly_name": "Acme", "session_lifetime": 24, "idle_session_lifetime": 2}, http.StatusOK, nil)
	e.must(t, "PATCH", "branding", obj{"logo_url": "https://cdn.example.com/logo.svg", "colors": obj{"primary": "#0059d6"}}, http.StatusOK, nil)
	before := e.tenantState(t)

	e.restart(t)

	if after := e.tenantState(t); after != before {
		t.Errorf("after a restart:\n%s\nwant\n%s", after, before)
	}
}

// The management scopes a version adds reach a Management API that an
// earlier version created, and the admin client, whose grant allows all
// scopes, can use them.
func TestTenantScopesAddedToExistingManagementAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	added := []string{"read:tenant_settings", "update:tenant_settings", "read:branding", "update:branding"}
	st := e.srv.Store()
	rs, err := st.ResourceServerByIdentifier(t.Context(), e.mgmtAudience())
	if err != nil {
		t.Fatal(err)
	}
	rs.Scopes = slices.DeleteFunc(rs.Scopes, func(s access.Scope) bool { return slices.Contains(added, s.Value) })
	if err := st.UpdateResourceServer(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	if e.mgmt(t, "GET", "branding", nil).status != http.StatusForbidden {
		t.Fatal("the Management API still defines read:branding")
	}

	e.restart(t)

	var list []map[string]any
	e.must(t, "GET", "resource-servers", nil, http.StatusOK, &list)
	i := slices.IndexFunc(list, func(rs map[string]any) bool { return rs["identifier"] == e.mgmtAudience() })
	if got := scopeValues(list[i]); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(mgmtScopes))) {
		t.Errorf("Management API scopes after a restart: %v, want %v", got, mgmtScopes)
	}
	token := e.token(t, e.admin, e.mgmtAudience(), added...).AccessToken
	if r := e.do(t, request{method: "GET", path: "api/v2/branding", auth: "Bearer " + token}); r.status != http.StatusOK {
		t.Errorf("GET /api/v2/branding with the new scopes: %s", r)
	}
}
