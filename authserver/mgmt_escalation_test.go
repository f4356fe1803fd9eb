package authserver_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/authserver"
	"github.com/portcullis-gw/portcullis/authserver/storage/postgres"
	"github.com/portcullis-gw/portcullis/internal/pgtest"
)

// caller is a machine-to-machine client of the Management API: its
// credentials, its client grant for the Management API, and a token.
type caller struct {
	authserver.Credentials
	grantID string
	token   string
}

// mgmtCaller creates a caller whose grant allows scopes, with a token
// carrying them all.
func (e *env) mgmtCaller(t *testing.T, scopes ...string) caller {
	t.Helper()
	c := caller{Credentials: e.createClient(t, obj{"name": uniq("caller-"), "app_type": "non_interactive"})}
	c.grantID = e.grant(t, c.ClientID, e.mgmtAudience(), scopes...)
	c.token = e.token(t, c.Credentials, e.mgmtAudience()).AccessToken
	return c
}

// call makes a Management API request with the caller's token.
func (c caller) call(t *testing.T, e *env, method, path string, body any) reply {
	t.Helper()
	return e.do(t, request{method: method, path: "api/v2/" + path, auth: "Bearer " + c.token, body: body})
}

// mgmtGrantID returns the id of clientID's client grant for the Management
// API.
func (e *env) mgmtGrantID(t *testing.T, clientID string) string {
	t.Helper()
	var grants []struct{ ID string }
	e.must(t, "GET", "client-grants?client_id="+clientID+"&audience="+e.mgmtAudience(), nil, http.StatusOK, &grants)
	if len(grants) != 1 {
		t.Fatalf("client %s has %d grants for the Management API, want 1", clientID, len(grants))
	}
	return grants[0].ID
}

// wantScopeRefused checks Auth0's 403 insufficient_scope naming scope, in
// the body and the challenge, with a message containing msg.
func wantScopeRefused(t *testing.T, r reply, scope, msg string) {
	t.Helper()
	wantMgmtError(t, r, http.StatusForbidden, "insufficient_scope", msg)
	if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, `scope="`+scope+`"`) {
		t.Errorf("WWW-Authenticate %q, want an insufficient_scope challenge naming %s", h, scope)
	}
}

// wantNoMgmtToken checks that c cannot get a Management API token with
// scopes.
func (e *env) wantNoMgmtToken(t *testing.T, c authserver.Credentials, scopes ...string) {
	t.Helper()
	if tok, err := e.fetchToken(t, c, oauth2.AuthStyleInParams, e.mgmtAudience(), scopes...); err == nil {
		t.Fatalf("client %s got a Management API token with scope %q", c.ClientID, scopeOf(tok))
	}
}

// TestManagementClientTakeover checks that a caller cannot take over a
// client through how it authenticates: choosing its secret takes
// update:client_keys (as in Auth0), making it public or confidential too,
// and setting its secret or certificates, or rotating its secret, takes
// every Management API scope its grant allows.
func TestManagementClientTakeover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const chosen = "chosen-by-the-caller-0123456789-abcdefgh"
	adminPath := "clients/" + e.admin.ClientID
	// wantAdminIntact checks that the bootstrap admin still authenticates
	// with its secret alone, and not with the chosen one.
	wantAdminIntact := func(t *testing.T) {
		t.Helper()
		e.token(t, e.admin, e.mgmtAudience())
		_, err := e.fetchToken(t, authserver.Credentials{ClientID: e.admin.ClientID, ClientSecret: chosen}, oauth2.AuthStyleInParams, e.mgmtAudience())
		wantTokenRefused(t, err, http.StatusUnauthorized, "invalid_client")
	}

	t.Run("client_secret with update:clients alone", func(t *testing.T) {
		attacker := e.mgmtCaller(t, "update:clients")
		before := e.clientSnapshot(t, e.admin.ClientID)
		wantScopeRefused(t, attacker.call(t, e, "PATCH", adminPath, obj{"client_secret": chosen}), "update:client_keys",
			"Insufficient scope, expected any of: update:client_keys")
		e.wantClientUnchanged(t, e.admin.ClientID, before)
		wantAdminIntact(t)
	})

	t.Run("client_secret of a client holding more", func(t *testing.T) {
		attacker := e.mgmtCaller(t, "update:clients", "update:client_keys")
		before := e.clientSnapshot(t, e.admin.ClientID)
		wantScopeRefused(t, attacker.call(t, e, "PATCH", adminPath, obj{"client_secret": chosen}), "read:clients",
			"Insufficient scope, expected any of: read:clients")
		e.wantClientUnchanged(t, e.admin.ClientID, before)
		wantAdminIntact(t)
	})

	t.Run("rotate-secret of a client holding more", func(t *testing.T) {
		attacker := e.mgmtCaller(t, "update:client_keys")
		before := e.clientSnapshot(t, e.admin.ClientID)
		r := attacker.call(t, e, "POST", adminPath+"/rotate-secret", nil)
		wantScopeRefused(t, r, "read:clients", "Insufficient scope, expected any of: read:clients")
		wantNoSecret(t, r, e.admin.ClientSecret)
		e.wantClientUnchanged(t, e.admin.ClientID, before)
		wantAdminIntact(t)
	})

	t.Run("certificates of a client holding more", func(t *testing.T) {
		attacker := e.mgmtCaller(t, "update:clients", "create:client_credentials", "update:client_credentials")
		r := attacker.call(t, e, "POST", adminPath+"/credentials", x509Body("attacker", selfSigned(t, uniq("attacker"))))
		if r.status != http.StatusCreated {
			t.Fatalf("POST credentials: %s", r)
		}
		credID := r.object(t)["id"].(string)
		before := e.clientSnapshot(t, e.admin.ClientID)
		wantScopeRefused(t, attacker.call(t, e, "PATCH", adminPath,
			obj{"token_endpoint_auth_method": nil, "client_authentication_methods": methods("self_signed_tls_client_auth", credID)}),
			"read:clients", "Insufficient scope, expected any of: read:clients")
		e.wantClientUnchanged(t, e.admin.ClientID, before)
		wantAdminIntact(t)
	})

	// A public client needs no secret: making a confidential client
	// public is worth knowing its secret.
	t.Run("token_endpoint_auth_method none with update:clients alone", func(t *testing.T) {
		app := e.createClient(t, obj{"name": uniq("web-"), "app_type": "regular_web", "callbacks": []string{"https://app.example/cb"}})
		attacker := e.mgmtCaller(t, "update:clients")
		before := e.clientSnapshot(t, app.ClientID)
		wantScopeRefused(t, attacker.call(t, e, "PATCH", "clients/"+app.ClientID,
			obj{"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"}}),
			"update:client_keys", "Insufficient scope, expected any of: update:client_keys")
		e.wantClientUnchanged(t, app.ClientID, before)
	})

	t.Run("legitimate", func(t *testing.T) {
		// update:client_keys sets the secret of a client holding nothing
		// on the Management API.
		fx := e.newFixture(t, "keys")
		keys := e.mgmtCaller(t, "update:clients", "update:client_keys")
		r := keys.call(t, e, "PATCH", "clients/"+fx.client.ClientID, obj{"client_secret": chosen})
		if r.status != http.StatusOK {
			t.Fatalf("PATCH client_secret with update:client_keys: %s", r)
		}
		wantNoSecret(t, r, chosen)
		e.token(t, authserver.Credentials{ClientID: fx.client.ClientID, ClientSecret: chosen}, fx.audience)
		_, err := e.fetchToken(t, fx.client, oauth2.AuthStyleInParams, fx.audience)
		wantTokenRefused(t, err, http.StatusUnauthorized, "invalid_client")

		// ... and makes a confidential client public.
		app := e.createClient(t, obj{"name": uniq("web-"), "app_type": "regular_web"})
		if r := keys.call(t, e, "PATCH", "clients/"+app.ClientID, obj{"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code"}}); r.status != http.StatusOK {
			t.Fatalf("PATCH token_endpoint_auth_method none with update:client_keys: %s", r)
		}

		// A caller holding every scope of the client's grant rotates its
		// secret.
		target := e.mgmtCaller(t, "read:clients")
		rotator := e.mgmtCaller(t, "update:client_keys", "read:clients")
		var rotated authserver.Credentials
		if r := rotator.call(t, e, "POST", "clients/"+target.ClientID+"/rotate-secret", nil); r.status != http.StatusOK {
			t.Fatalf("rotate-secret of a client holding less: %s", r)
		} else {
			r.decode(t, &rotated)
		}
		if got := scopeOf(e.token(t, rotated, e.mgmtAudience())); got != "read:clients" {
			t.Errorf("rotated client's token scope %q, want read:clients", got)
		}

		// The admin, holding every scope, sets any secret, its own too.
		e.must(t, "PATCH", "clients/"+target.ClientID, obj{"client_secret": chosen}, http.StatusOK, nil)
		e.token(t, authserver.Credentials{ClientID: target.ClientID, ClientSecret: chosen}, e.mgmtAudience())
	})
}

// TestManagementGrantsGiveOnlyHeldScopes checks that no caller gives, on
// the Management API, a scope it does not hold (in its token and, live,
// in its grant), where Auth0 lets any holder of create:client_grants or
// update:client_grants give any scope.
func TestManagementGrantsGiveOnlyHeldScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mgmt := e.mgmtAudience()

	t.Run("allow_all_scopes on its own grant", func(t *testing.T) {
		attacker := e.mgmtCaller(t, "update:client_grants")
		before := e.state(t, nil)
		wantScopeRefused(t, attacker.call(t, e, "PATCH", "client-grants/"+attacker.grantID, obj{"allow_all_scopes": true}),
			"read:clients", "Insufficient scope, expected any of: read:clients")
		wantSameState(t, before, e.state(t, nil))
		e.wantNoMgmtToken(t, attacker.Credentials, "delete:clients")
	})

	t.Run("scope on its own grant", func(t *testing.T) {
		attacker := e.mgmtCaller(t, "update:client_grants")
		before := e.state(t, nil)
		wantScopeRefused(t, attacker.call(t, e, "PATCH", "client-grants/"+attacker.grantID, obj{"scope": []string{"update:client_grants", "delete:clients"}}),
			"delete:clients", "Insufficient scope, expected any of: delete:clients")
		wantSameState(t, before, e.state(t, nil))
		e.wantNoMgmtToken(t, attacker.Credentials, "delete:clients")
	})

	t.Run("a new client granted everything", func(t *testing.T) {
		attacker := e.mgmtCaller(t, "create:clients", "create:client_grants")
		var minion authserver.Credentials
		if r := attacker.call(t, e, "POST", "clients", obj{"name": uniq("minion-"), "app_type": "non_interactive"}); r.status != http.StatusCreated {
			t.Fatalf("POST clients: %s", r)
		} else {
			r.decode(t, &minion)
		}
		before := e.state(t, nil)
		for _, body := range []obj{
			{"client_id": minion.ClientID, "audience": mgmt, "allow_all_scopes": true},
			{"client_id": minion.ClientID, "audience": mgmt, "scope": mgmtScopes},
			{"client_id": minion.ClientID, "audience": mgmt, "scope": []string{"create:clients", "read:clients"}},
		} {
			wantScopeRefused(t, attacker.call(t, e, "POST", "client-grants", body), "read:clients", "Insufficient scope, expected any of: read:clients")
		}
		wantSameState(t, before, e.state(t, nil))
		e.wantNoMgmtToken(t, minion)
	})

	t.Run("widening another client's grant", func(t *testing.T) {
		other := e.mgmtCaller(t, "read:users")
		attacker := e.mgmtCaller(t, "update:client_grants", "read:users")
		before := e.state(t, nil)
		wantScopeRefused(t, attacker.call(t, e, "PATCH", "client-grants/"+other.grantID, obj{"scope": []string{"read:users", "delete:users"}}),
			"delete:users", "Insufficient scope, expected any of: delete:users")
		wantSameState(t, before, e.state(t, nil))
		e.wantNoMgmtToken(t, other.Credentials, "delete:users")
	})

	t.Run("a scope granted but not in the token", func(t *testing.T) {
		attacker := e.mgmtCaller(t, "create:client_grants", "read:users", "delete:users")
		narrow := e.token(t, attacker.Credentials, mgmt, "create:client_grants", "read:users").AccessToken
		minion := e.createClient(t, obj{"name": uniq("minion-"), "app_type": "non_interactive"})
		r := e.do(t, request{method: "POST", path: "api/v2/client-grants", auth: "Bearer " + narrow,
			body: obj{"client_id": minion.ClientID, "audience": mgmt, "scope": []string{"read:users", "delete:users"}}})
		wantScopeRefused(t, r, "delete:users", "Insufficient scope, expected any of: delete:users")
		e.wantNoMgmtToken(t, minion)
	})

	t.Run("a scope in the token but no longer granted", func(t *testing.T) {
		attacker := e.mgmtCaller(t, "create:client_grants", "read:users")
		e.must(t, "PATCH", "client-grants/"+attacker.grantID, obj{"scope": []string{"create:client_grants"}}, http.StatusOK, nil)
		minion := e.createClient(t, obj{"name": uniq("minion-"), "app_type": "non_interactive"})
		r := attacker.call(t, e, "POST", "client-grants", obj{"client_id": minion.ClientID, "audience": mgmt, "scope": []string{"read:users"}})
		wantScopeRefused(t, r, "read:users", "no longer allows read:users")
		e.wantNoMgmtToken(t, minion)
	})

	// User tokens for the Management API are refused, so a user grant
	// for it is refused too, whatever the caller holds.
	t.Run("a user grant on the Management API", func(t *testing.T) {
		minion := e.createClient(t, obj{"name": uniq("minion-"), "app_type": "regular_web"})
		before := e.state(t, nil)
		for _, body := range []obj{
			{"client_id": minion.ClientID, "audience": mgmt, "subject_type": "user", "scope": []string{}},
			{"client_id": minion.ClientID, "audience": mgmt, "subject_type": "user", "allow_all_scopes": true},
		} {
			wantMgmtError(t, e.mgmt(t, "POST", "client-grants", body), http.StatusBadRequest, "invalid_body", "Management API")
		}
		wantSameState(t, before, e.state(t, nil))
	})

	// Already refused: what identifies a grant or the Management API
	// cannot change.
	t.Run("moving a grant or redefining the Management API", func(t *testing.T) {
		fx := e.newFixture(t, "move")
		attacker := e.mgmtCaller(t, "update:client_grants", "create:resource_servers", "update:resource_servers")
		before := e.state(t, fx)
		wantMgmtError(t, attacker.call(t, e, "PATCH", "client-grants/"+fx.grantID, obj{"audience": mgmt}), http.StatusBadRequest, "invalid_body", "audience cannot be changed")
		wantMgmtError(t, attacker.call(t, e, "PATCH", "client-grants/"+e.mgmtGrantID(t, e.admin.ClientID), obj{"client_id": attacker.ClientID}), http.StatusBadRequest, "invalid_body", "client_id cannot be changed")
		wantMgmtError(t, attacker.call(t, e, "POST", "resource-servers", obj{"identifier": mgmt}), http.StatusConflict, "conflict", "already exists")
		wantMgmtError(t, attacker.call(t, e, "PATCH", "resource-servers/"+strings.ReplaceAll(mgmt, "/", "%2F"), obj{"scopes": scopeList("everything")}), http.StatusForbidden, "operation_not_supported", "Management API")
		e.wantUnchanged(t, fx, before)
	})

	t.Run("legitimate", func(t *testing.T) {
		// The admin, holding every scope, grants every scope.
		minion := e.createClient(t, obj{"name": uniq("minion-"), "app_type": "non_interactive"})
		e.must(t, "POST", "client-grants", obj{"client_id": minion.ClientID, "audience": mgmt, "allow_all_scopes": true}, http.StatusCreated, nil)
		if got := strings.Fields(scopeOf(e.token(t, minion, mgmt))); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(mgmtScopes))) {
			t.Errorf("allow_all_scopes token scope %v, want every management scope", got)
		}

		// A caller grants the scopes it holds, and widens a grant with
		// them.
		giver := e.mgmtCaller(t, "create:client_grants", "update:client_grants", "read:clients", "read:users")
		second := e.createClient(t, obj{"name": uniq("minion-"), "app_type": "non_interactive"})
		var g struct{ ID string }
		if r := giver.call(t, e, "POST", "client-grants", obj{"client_id": second.ClientID, "audience": mgmt, "scope": []string{"read:clients"}}); r.status != http.StatusCreated {
			t.Fatalf("granting a held scope: %s", r)
		} else {
			r.decode(t, &g)
		}
		if r := giver.call(t, e, "PATCH", "client-grants/"+g.ID, obj{"scope": []string{"read:clients", "read:users"}}); r.status != http.StatusOK {
			t.Fatalf("widening with a held scope: %s", r)
		}
		if got := scopeOf(e.token(t, second, mgmt)); got != "read:clients read:users" {
			t.Errorf("token scope %q, want read:clients read:users", got)
		}

		// It narrows grants beyond what it holds: removing a scope gives
		// nothing.
		wide := e.mgmtCaller(t, "read:users", "delete:users")
		if r := giver.call(t, e, "PATCH", "client-grants/"+wide.grantID, obj{"scope": []string{"read:users"}}); r.status != http.StatusOK {
			t.Fatalf("narrowing a grant: %s", r)
		}
		all := e.createClient(t, obj{"name": uniq("minion-"), "app_type": "non_interactive"})
		allID := e.grant(t, all.ClientID, mgmt)
		e.must(t, "PATCH", "client-grants/"+allID, obj{"allow_all_scopes": true}, http.StatusOK, nil)
		if r := giver.call(t, e, "PATCH", "client-grants/"+allID, obj{"allow_all_scopes": false, "scope": []string{"read:clients"}}); r.status != http.StatusOK {
			t.Fatalf("turning allow_all_scopes off: %s", r)
		}
		if r := giver.call(t, e, "PATCH", "client-grants/"+allID, obj{"scope": []string{}}); r.status != http.StatusOK {
			t.Fatalf("emptying a grant: %s", r)
		}

		// Grants for other APIs take only the endpoint's scope.
		fx := e.newFixture(t, "other")
		others := e.mgmtCaller(t, "create:client_grants", "update:client_grants")
		if r := others.call(t, e, "PATCH", "client-grants/"+fx.grantID, obj{"allow_all_scopes": true}); r.status != http.StatusOK {
			t.Fatalf("allow_all_scopes on another API: %s", r)
		}
		if r := others.call(t, e, "POST", "client-grants", obj{"client_id": fx.client.ClientID, "audience": fx.audience, "subject_type": "user", "scope": []string{"read:x", "write:x"}}); r.status != http.StatusCreated {
			t.Fatalf("a user grant on another API: %s", r)
		}
	})
}

// TestManagementGrantRace checks that what a change adds to a grant is
// judged in the transaction that writes it: a caller keeping a scope it
// does not hold while adding one it does cannot restore the scope that an
// administrator removes concurrently.
func TestManagementGrantRace(t *testing.T) {
	t.Parallel()
	for _, backend := range []struct {
		name      string
		configure func(t *testing.T) func(*authserver.Config)
	}{
		{"sqlite", func(*testing.T) func(*authserver.Config) { return nil }},
		{"postgres", func(t *testing.T) func(*authserver.Config) {
			st, err := postgres.Open(t.Context(), pgtest.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return func(cfg *authserver.Config) { cfg.Store = st }
		}},
	} {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWith(t, backend.configure(t))
			target := e.mgmtCaller(t, "delete:users")
			attacker := e.mgmtCaller(t, "update:client_grants", "read:users")
			for round := range 30 {
				e.must(t, "PATCH", "client-grants/"+target.grantID, obj{"scope": []string{"delete:users"}}, http.StatusOK, nil)
				start := make(chan struct{})
				var wg sync.WaitGroup
				var attack, revoke reply
				wg.Go(func() {
					<-start
					attack = attacker.call(t, e, "PATCH", "client-grants/"+target.grantID, obj{"scope": []string{"delete:users", "read:users"}})
				})
				wg.Go(func() {
					<-start
					revoke = e.mgmt(t, "PATCH", "client-grants/"+target.grantID, obj{"scope": []string{}})
				})
				close(start)
				wg.Wait()
				if revoke.status != http.StatusOK || attack.status != http.StatusOK && attack.status != http.StatusForbidden {
					t.Fatalf("round %d: revoke %s, attack %s", round, revoke, attack)
				}
				var g struct{ Scope []string }
				e.must(t, "GET", "client-grants/"+target.grantID, nil, http.StatusOK, &g)
				if slices.Contains(g.Scope, "delete:users") {
					t.Fatalf("round %d: the grant has %v after the administrator emptied it and a caller lacking delete:users changed it (attack %s)", round, g.Scope, attack)
				}
			}
			e.wantNoMgmtToken(t, target.Credentials, "delete:users")
		})
	}
}
