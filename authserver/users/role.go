package users

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/portcullis-gw/portcullis/authserver/internal/randid"
)

// Limits of roles and permissions. Auth0 documents none for roles; these
// follow an application's (name 255, description 140 characters). A
// permission name is an API scope value, at most 280 characters as in
// package access.
const (
	MaxRoleNameLength        = 255
	MaxRoleDescriptionLength = 140
	MaxPermissionNameLength  = 280
	MaxIdentifierLength      = 600
)

// Role is a named collection of permissions that can be assigned to users,
// in the shape of Auth0's Management API v2 role object.
type Role struct {
	// ID is "rol_" and 16 letters and digits (NewRoleID).
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Clone returns a copy, so callers may modify it freely.
func (r *Role) Clone() *Role {
	cp := *r
	return &cp
}

// NewRoleID returns a new role id: "rol_" and 16 random letters and digits
// (about 95 bits), the form of Auth0's role ids.
func NewRoleID() string { return randid.New("rol_", 16) }

// ValidRoleID reports whether id has the form of NewRoleID's ids.
func ValidRoleID(id string) bool {
	rest, ok := strings.CutPrefix(id, "rol_")
	if !ok || len(rest) != 16 {
		return false
	}
	for i := range len(rest) {
		c := rest[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Validate checks the role and returns an error that names the offending
// property.
func (r *Role) Validate() error {
	if !ValidRoleID(r.ID) {
		return errors.New(`id must be "rol_" followed by 16 letters and digits`)
	}
	if strings.TrimSpace(r.Name) == "" {
		return errors.New("name is required")
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"name", r.Name, MaxRoleNameLength},
		{"description", r.Description, MaxRoleDescriptionLength},
	} {
		if err := CheckText(f.name, f.value, f.max); err != nil {
			return err
		}
	}
	return nil
}

// Permission is one permission (a scope of an API) assigned to a role or
// directly to a user. Only the API identifier and the permission name are
// stored; lists also report the API's name and the permission's description
// as the API defines them at the time, or leave them empty when it no longer
// does.
type Permission struct {
	ResourceServerIdentifier string `json:"resource_server_identifier"`
	PermissionName           string `json:"permission_name"`
	ResourceServerName       string `json:"resource_server_name,omitempty"`
	Description              string `json:"description,omitempty"`
}

// Validate checks the identifier and the name of the permission. Whether
// the API exists and defines the permission is for the caller to check.
func (p Permission) Validate() error {
	switch {
	case p.ResourceServerIdentifier == "":
		return errors.New("resource_server_identifier is required")
	case len(p.ResourceServerIdentifier) > MaxIdentifierLength:
		return fmt.Errorf("resource_server_identifier must be at most %d characters", MaxIdentifierLength)
	case p.PermissionName == "":
		return errors.New("permission_name is required")
	case len(p.PermissionName) > MaxPermissionNameLength:
		return fmt.Errorf("permission_name must be at most %d characters", MaxPermissionNameLength)
	case strings.IndexFunc(p.PermissionName, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '"' || r == '\\'
	}) >= 0:
		return errors.New("permission_name must not contain white space, quotes, backslashes or control characters")
	}
	return nil
}
