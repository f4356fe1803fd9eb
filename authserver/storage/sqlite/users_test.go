package sqlite_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// A database made before users existed (schema version 1) is upgraded
// when opened, through every later version, keeping its data.
func TestUpgradeFromSchemaVersion1(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "auth.db")
	s := open(t, path)
	c := &clients.Client{ClientID: "c1", Name: "App"}
	c.ApplyDefaults()
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Take the database back to version 1.
	rollBack(t, path,
		`DROP TABLE refresh_token_families`, `DROP TABLE changes`, `DROP TABLE rate_limits`,
		`DROP TABLE sessions`, `DROP TABLE authorization_codes`, `DROP TABLE refresh_tokens`,
		`DROP TABLE consents`, `DROP TABLE login_failures`, `DROP TABLE settings`,
		`DROP TABLE user_permissions`, `DROP TABLE user_roles`, `DROP TABLE role_permissions`,
		`DROP TABLE roles`, `DROP TABLE users`, `DELETE FROM schema_migrations WHERE version > 1`,
	)

	s = open(t, path)
	defer s.Close()
	if got, err := s.Client(ctx, "c1"); err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("client after the upgrade: %+v, %v", got, err)
	}
	u := &users.User{UserID: users.NewUserID(), Email: "ann@example.com", PasswordHash: []byte("h")}
	u.ApplyDefaults(time.Now())
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser after the upgrade: %v", err)
	}
	r := &users.Role{ID: users.NewRoleID(), Name: "admin"}
	if err := s.CreateRole(ctx, r); err != nil {
		t.Fatalf("CreateRole after the upgrade: %v", err)
	}
	if err := s.AssignUserRoles(ctx, u.UserID, []string{r.ID}); err != nil {
		t.Fatalf("AssignUserRoles after the upgrade: %v", err)
	}
	ses := &sessions.Session{ID: "s1", UserID: u.UserID, ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.CreateSession(ctx, ses); err != nil {
		t.Fatalf("CreateSession after the upgrade: %v", err)
	}
}

func TestUsersSurviveReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "auth.db")
	hash, err := users.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	u := &users.User{UserID: users.NewUserID(), Email: "Ann@Example.com", PasswordHash: hash,
		UserMetadata: map[string]any{"lang": "nl"}}
	u.ApplyDefaults(time.Now())
	r := &users.Role{ID: users.NewRoleID(), Name: "organizer", Description: "Organizes events"}
	ps := []users.Permission{
		{ResourceServerIdentifier: "https://events", PermissionName: "create:events"},
		{ResourceServerIdentifier: "https://events", PermissionName: "update:events"},
	}
	s := open(t, path)
	err = s.Atomically(ctx, func(tx storage.Store) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.CreateRole(ctx, r); err != nil {
			return err
		}
		if err := tx.AddRolePermissions(ctx, r.ID, ps); err != nil {
			return err
		}
		return tx.AssignUserRoles(ctx, u.UserID, []string{r.ID})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	defer s.Close()
	got, err := s.UserByEmail(ctx, users.DefaultConnection, "ann@example.com")
	if err != nil || !reflect.DeepEqual(got, u) {
		t.Fatalf("user after reopen: %+v, %v; want %+v", got, err, u)
	}
	if ok, err := users.VerifyPassword(got.PasswordHash, "correct horse battery staple"); !ok || err != nil {
		t.Errorf("VerifyPassword after reopen = %v, %v", ok, err)
	}
	perms, err := s.EffectivePermissions(ctx, u.UserID, "https://events")
	if err != nil || !reflect.DeepEqual(perms, []string{"create:events", "update:events"}) {
		t.Errorf("effective permissions after reopen: %v, %v", perms, err)
	}
}

// Refresh tokens stored before refresh token families had rows (schema
// version 4) rotate and are revoked as any: their family gets its row at
// its first use, and a revocation sticks.
func TestRefreshTokensFromBeforeFamilies(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "auth.db")
	token := func(id string) *sessions.RefreshToken {
		return &sessions.RefreshToken{ID: id, FamilyID: "f1", ClientID: "c1", UserID: "auth0|u1", ExpiresAt: time.Now().Add(time.Hour)}
	}
	s := open(t, path)
	for _, id := range []string{"old", "older"} {
		if err := s.CreateRefreshToken(ctx, token(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rollBack(t, path, `DROP TABLE refresh_token_families`, `ALTER TABLE login_failures DROP COLUMN attempt`, `DELETE FROM schema_migrations WHERE version > 4`)

	s = open(t, path)
	defer s.Close()
	if err := s.RotateRefreshToken(ctx, "old", time.Now(), token("new")); err != nil {
		t.Fatalf("RotateRefreshToken of a token from before the upgrade: %v", err)
	}
	if err := s.RevokeRefreshTokenFamily(ctx, "f1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"old", "older", "new"} {
		if _, err := s.RefreshToken(ctx, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("token %s of the revoked family: %v, want storage.ErrNotFound", id, err)
		}
	}
	if err := s.CreateRefreshToken(ctx, token("newer")); !errors.Is(err, storage.ErrRevoked) {
		t.Errorf("CreateRefreshToken in the revoked family: %v, want storage.ErrRevoked", err)
	}
}

// rollBack takes the closed database at path back to an older schema
// version with statements.
func rollBack(t *testing.T, path string, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range statements {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}
