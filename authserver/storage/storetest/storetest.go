// Package storetest checks a storage backend against the contract of
// package storage. A backend's tests call Run:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storage.Store {
//			s, err := mybackend.Open(...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// Beyond the interface's documentation, the suite requires that lists are
// ordered by key (client_id, user_id or id), that updates keep an API's
// identifier, a grant's client, audience and subject type, and a user's
// connection, created_at and sign-in record without failing, and that a
// page with
// PerPage < 1 or Page < 0 is an error.
//
// Of Portcullis it imports storage and the model packages.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// Run runs the contract tests as subtests of t, its suites in parallel.
// open must return a new, empty store each time it is called, and be safe
// to call from several goroutines; Run closes the store when the subtest
// that opened it ends.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	fresh := func(t *testing.T) storage.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	for _, suite := range []struct {
		name string
		run  func(t *testing.T, open func(t *testing.T) storage.Store)
	}{
		{"Fixtures", testFixtures},
		{"Clients", testClients},
		{"ResourceServers", testResourceServers},
		{"ClientGrants", testClientGrants},
		{"SigningKeys", testSigningKeys},
		{"InstallationSecret", testInstallationSecret},
		{"ReplaceInstallationSecret", testReplaceInstallationSecret},
		{"Atomically", testAtomically},
		{"Users", testUsers},
		{"Roles", testRoles},
		{"RolePermissions", testRolePermissions},
		{"UserRoles", testUserRoles},
		{"UserPermissions", testUserPermissions},
		{"EffectivePermissions", testEffectivePermissions},
		{"AtomicallyUsers", testAtomicallyUsers},
		{"RecordSignIn", testRecordSignIn},
		{"Sessions", testSessions},
		{"AuthorizationCodes", testAuthorizationCodes},
		{"RefreshTokens", testRefreshTokens},
		{"RevokedFamilies", testRevokedFamilies},
		{"RevokeRaces", testRevokeRaces},
		{"Consents", testConsents},
		{"LoginFailures", testLoginFailures},
		{"PurgeExpired", testPurgeExpired},
		{"SigninCascades", testSigninCascades},
		{"Settings", testSettings},
		{"ChangeVersion", testChangeVersion},
		{"CountHits", testCountHits},
	} {
		// Each suite opens stores of its own: they run side by side.
		t.Run(suite.name, func(t *testing.T) {
			t.Parallel()
			suite.run(t, fresh)
		})
	}
}

// Fixtures. Every field is set (testFixtures checks it), so a round trip
// that drops one is noticed.

func newClient(id string) *clients.Client {
	return &clients.Client{
		ClientID:                 id,
		Name:                     "App " + id,
		Description:              "The " + id + " application",
		AppType:                  clients.AppRegularWeb,
		IsFirstParty:             true,
		OIDCConformant:           true,
		GrantTypes:               []string{clients.GrantAuthorizationCode, clients.GrantClientCredentials},
		TokenEndpointAuthMethod:  clients.AuthSecretBasic,
		Callbacks:                []string{"https://" + id + ".example/callback"},
		AllowedOrigins:           []string{"https://" + id + ".example"},
		WebOrigins:               []string{"https://web." + id + ".example"},
		AllowedLogoutURLs:        []string{"https://" + id + ".example/bye"},
		LogoURI:                  "https://" + id + ".example/logo.png",
		InitiateLoginURI:         "https://" + id + ".example/login",
		JWTConfiguration:         clients.JWTConfiguration{Alg: "ES256", LifetimeInSeconds: 3600},
		ClientMetadata:           map[string]string{"tier": "gold", "owner": id},
		RequireProofOfPossession: true,
		AllowPKCEPlain:           true,
		RefreshToken: clients.RefreshTokenConfig{
			RotationType: clients.RefreshNonRotating, ExpirationType: clients.RefreshExpiring, Leeway: 5,
			TokenLifetime: 86400, InfiniteTokenLifetime: true, IdleTokenLifetime: 3600, InfiniteIdleTokenLifetime: true,
		},
		ClientAuthenticationMethods: &clients.AuthenticationMethods{
			SelfSignedTLSClientAuth: &clients.MethodCredentials{Credentials: []clients.CredentialRef{{ID: "cred_" + id}}},
		},
		Credentials: []clients.Credential{{
			ID: "cred_" + id, Name: "laptop", CredentialType: clients.CredentialX509Cert,
			SubjectDN: "C=NL\nCN=" + id, ThumbprintSHA256: "abc-" + id,
			ExpiresAt: &expiry, CreatedAt: created,
		}},
		// Bytes that are not text: NUL, invalid UTF-8.
		SecretHash: []byte("hash\x00of\xff" + id),
	}
}

var (
	created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	expiry  = time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
)

func newResourceServer(id, identifier string) *access.ResourceServer {
	return &access.ResourceServer{
		ID:                  id,
		Name:                "API " + id,
		Identifier:          identifier,
		IsSystem:            true,
		Scopes:              []access.Scope{{Value: "read:things", Description: "Read things"}, {Value: "write:things"}},
		SigningAlg:          "PS256",
		TokenLifetime:       7200,
		TokenLifetimeForWeb: 3600,
		TokenDialect:        access.DialectRFC9068Authz,
		EnforcePolicies:     true,
		AllowOfflineAccess:  true,
		SkipConsent:         true,
		SubjectTypeAuthorization: access.SubjectTypeAuthorization{
			User:   access.SubjectPolicy{Policy: access.PolicyRequireClientGrant},
			Client: access.SubjectPolicy{Policy: access.PolicyDenyAll},
		},
		ProofOfPossession: &access.ProofOfPossession{Mechanism: "mtls", Required: true},
	}
}

func newGrant(id, clientID, audience string, subject access.SubjectType) *access.ClientGrant {
	return &access.ClientGrant{
		ID:                        id,
		ClientID:                  clientID,
		Audience:                  audience,
		Scope:                     []string{"read:things", "write:things"},
		SubjectType:               subject,
		AllowAllScopes:            true,
		OrganizationUsage:         "allow",
		AllowAnyOrganization:      true,
		AuthorizationDetailsTypes: []string{"payment_initiation"},
	}
}

func newSigningKey(kid string, state keys.State) keys.SigningKey {
	return keys.SigningKey{
		KID:          kid,
		Alg:          jwa.ES256,
		State:        state,
		CreatedAt:    time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC),
		CurrentSince: new(time.Date(2025, 3, 15, 1, 2, 3, 4000, time.UTC)),
		CurrentUntil: new(time.Date(2025, 4, 15, 1, 2, 3, 4000, time.UTC)),
		RevokedAt:    new(time.Date(2025, 5, 15, 1, 2, 3, 4000, time.UTC)),
		PrivateJWK:   json.RawMessage(`{"kty":"EC","crv":"P-256","kid":"` + kid + `"}`),
		Certificate:  []byte("DER of " + kid),
	}
}

func testFixtures(t *testing.T, _ func(t *testing.T) storage.Store) {
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"client", newClient("c")},
		{"resource server", newResourceServer("a", "https://a")},
		{"client grant", newGrant("g", "c", "https://a", access.SubjectUser)},
		{"signing key", newSigningKey("k", keys.StateCurrent)},
		{"user", newUser("u")},
		{"role", newRole("r")},
		{"permission", newPermission("https://a", "read:things")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := reflect.Indirect(reflect.ValueOf(tc.v))
			for i := range v.NumField() {
				if v.Field(i).IsZero() {
					t.Errorf("fixture leaves %s.%s unset, so round trips do not check it", v.Type().Name(), v.Type().Field(i).Name)
				}
			}
		})
	}
}

// Helpers.

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func wantEqual(t *testing.T, got, want any, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, dump(got), dump(want))
	}
}

// wantEmptyPage checks a list call that must succeed with no items and a
// total of zero.
func wantEmptyPage[T any](t *testing.T, items []T, total int, err error, what string) {
	t.Helper()
	must(t, err, what)
	wantEqual(t, len(items), 0, what)
	wantEqual(t, total, 0, what)
}

// dump shows v with the contents of pointers and byte strings.
func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	s := string(b)
	if c, ok := v.(*clients.Client); ok && c != nil {
		s += fmt.Sprintf(" secret_hash=%q", c.SecretHash)
	}
	if u, ok := v.(*users.User); ok && u != nil {
		s += fmt.Sprintf(" password_hash=%q", u.PasswordHash)
	}
	return s
}

// state is everything a store holds but its installation secrets.
type state struct {
	Clients []*clients.Client
	APIs    []*access.ResourceServer
	Grants  []*access.ClientGrant
	Keys    []keys.SigningKey
}

func snapshot(t *testing.T, s storage.Store) state {
	t.Helper()
	ctx := t.Context()
	all := storage.Page{PerPage: 1000}
	var st state
	var err error
	st.Clients, _, err = s.ListClients(ctx, storage.ClientFilter{}, all)
	must(t, err, "ListClients")
	st.APIs, _, err = s.ListResourceServers(ctx, all)
	must(t, err, "ListResourceServers")
	st.Grants, _, err = s.ListClientGrants(ctx, storage.GrantFilter{}, all)
	must(t, err, "ListClientGrants")
	st.Keys, err = s.SigningKeys(ctx)
	must(t, err, "SigningKeys")
	slices.SortFunc(st.Keys, func(a, b keys.SigningKey) int { return strings.Compare(a.KID, b.KID) })
	return st
}

// seed fills s with two clients, two APIs, grants between them and two
// signing keys.
func seed(t *testing.T, s storage.Store) {
	t.Helper()
	ctx := t.Context()
	must(t, s.CreateClient(ctx, newClient("c1")), "CreateClient c1")
	must(t, s.CreateClient(ctx, newClient("c2")), "CreateClient c2")
	must(t, s.CreateResourceServer(ctx, newResourceServer("a1", "https://a1")), "CreateResourceServer a1")
	must(t, s.CreateResourceServer(ctx, newResourceServer("a2", "https://a2")), "CreateResourceServer a2")
	for _, g := range []*access.ClientGrant{
		newGrant("g1", "c1", "https://a1", access.SubjectClient),
		newGrant("g2", "c1", "https://a2", access.SubjectClient),
		newGrant("g3", "c2", "https://a1", access.SubjectUser),
		newGrant("g4", "c2", "https://a2", access.SubjectClient),
	} {
		must(t, s.CreateClientGrant(ctx, g), "CreateClientGrant "+g.ID)
	}
	must(t, s.SaveSigningKeys(ctx, []keys.SigningKey{
		newSigningKey("k1", keys.StateCurrent), newSigningKey("k2", keys.StateNext),
	}), "SaveSigningKeys")
}

func grantIDs(gs []*access.ClientGrant) []string {
	ids := []string{}
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	return ids
}
