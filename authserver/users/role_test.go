package users

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestNewRoleID(t *testing.T) {
	form := regexp.MustCompile(`^rol_[A-Za-z0-9]{16}$`)
	seen := map[string]bool{}
	chars := map[rune]bool{}
	for range 500 {
		id := NewRoleID()
		if !form.MatchString(id) || !ValidRoleID(id) {
			t.Fatalf("NewRoleID() = %q", id)
		}
		if seen[id] {
			t.Fatalf("NewRoleID repeated %q", id)
		}
		seen[id] = true
		for _, r := range id[4:] {
			chars[r] = true
		}
	}
	// 8000 draws from 62 characters miss one with probability ~1e-54.
	if len(chars) != 62 {
		t.Errorf("NewRoleID used %d distinct characters, want 62", len(chars))
	}
	for _, id := range []string{"", "rol_", "rol_0123456789abcde", "rol_0123456789abcdef0", "rol_0123456789abcde-", "role_0123456789abcdef", "ROL_0123456789abcdef"} {
		if ValidRoleID(id) {
			t.Errorf("ValidRoleID(%q) = true", id)
		}
	}
}

func TestRoleValidate(t *testing.T) {
	valid := func() *Role {
		return &Role{ID: "rol_0123456789abcdef", Name: "organizer", Description: "Organizes events"}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid role: %v", err)
	}
	for _, tc := range []struct {
		name     string
		change   func(r *Role)
		property string
	}{
		{"bad id", func(r *Role) { r.ID = "organizer" }, "id"},
		{"no name", func(r *Role) { r.Name = "" }, "name"},
		{"blank name", func(r *Role) { r.Name = "  " }, "name"},
		{"name too long", func(r *Role) { r.Name = strings.Repeat("n", 256) }, "name"},
		{"name with a control character", func(r *Role) { r.Name = "a\nb" }, "name"},
		{"description too long", func(r *Role) { r.Description = strings.Repeat("d", 141) }, "description"},
		{"description not UTF-8", func(r *Role) { r.Description = "\xff" }, "description"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := valid()
			tc.change(r)
			err := r.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tc.property) {
				t.Errorf("Validate = %v, want an error about %s", err, tc.property)
			}
		})
	}
	r := valid()
	c := r.Clone()
	c.Name = "changed"
	if r.Name != "organizer" {
		t.Error("changing the clone changed the original")
	}
	b, _ := json.Marshal(&Role{ID: "rol_0123456789abcdef", Name: "n"})
	if string(b) != `{"id":"rol_0123456789abcdef","name":"n","description":""}` {
		t.Errorf("role JSON %s", b)
	}
}

func TestPermissionValidate(t *testing.T) {
	if err := (Permission{ResourceServerIdentifier: "https://api", PermissionName: "read:things"}).Validate(); err != nil {
		t.Fatalf("valid permission: %v", err)
	}
	for _, tc := range []struct {
		name     string
		p        Permission
		property string
	}{
		{"no identifier", Permission{PermissionName: "read"}, "resource_server_identifier"},
		{"identifier too long", Permission{ResourceServerIdentifier: strings.Repeat("a", 601), PermissionName: "read"}, "resource_server_identifier"},
		{"no name", Permission{ResourceServerIdentifier: "https://api"}, "permission_name"},
		{"name with a space", Permission{ResourceServerIdentifier: "https://api", PermissionName: "read things"}, "permission_name"},
		{"name too long", Permission{ResourceServerIdentifier: "https://api", PermissionName: strings.Repeat("p", 281)}, "permission_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tc.property) {
				t.Errorf("Validate = %v, want an error about %s", err, tc.property)
			}
		})
	}
	b, _ := json.Marshal(Permission{ResourceServerIdentifier: "https://api", PermissionName: "read"})
	if string(b) != `{"resource_server_identifier":"https://api","permission_name":"read"}` {
		t.Errorf("permission JSON %s", b)
	}
}
