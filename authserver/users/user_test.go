package users

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func validUser() *User {
	u := &User{
		UserID:       "auth0|0123456789abcdef01234567",
		Email:        "ann@example.com",
		GivenName:    "Ann",
		FamilyName:   "Smith",
		Picture:      "https://example.com/ann.png",
		UserMetadata: map[string]any{"lang": "nl", "prefs": map[string]any{"theme": "dark"}},
		AppMetadata:  map[string]any{"plan": "gold", "tags": []any{"a", map[string]any{"b": 1.0}}},
		LastIP:       "2001:db8::1",
		LoginsCount:  3,
	}
	u.ApplyDefaults(time.Date(2026, 1, 2, 3, 4, 5, 6789000, time.UTC))
	return u
}

func TestApplyDefaults(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 7200))
	u := &User{Email: "Ann.Smith@Example.com"}
	u.ApplyDefaults(now)
	want := &User{
		Email:        "Ann.Smith@Example.com",
		Name:         "Ann.Smith@Example.com",
		Nickname:     "Ann.Smith",
		UserMetadata: map[string]any{},
		AppMetadata:  map[string]any{},
		CreatedAt:    time.Date(2026, 5, 6, 5, 8, 9, 123000000, time.UTC),
		UpdatedAt:    time.Date(2026, 5, 6, 5, 8, 9, 123000000, time.UTC),
		Connection:   DefaultConnection,
	}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("ApplyDefaults:\n got  %+v\n want %+v", u, want)
	}

	// Set values are kept.
	set := validUser()
	set.Name, set.Nickname, set.Connection = "Ann", "a", "other-db"
	before := set.Clone()
	set.ApplyDefaults(now)
	if !reflect.DeepEqual(set, before) {
		t.Errorf("ApplyDefaults changed set values:\n got  %+v\n want %+v", set, before)
	}
}

func TestNewUserID(t *testing.T) {
	form := regexp.MustCompile(`^auth0\|[0-9a-f]{24}$`)
	seen := map[string]bool{}
	for range 100 {
		id := NewUserID()
		if !form.MatchString(id) {
			t.Fatalf("NewUserID() = %q", id)
		}
		if err := ValidateUserID(id); err != nil {
			t.Fatalf("ValidateUserID(%q): %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewUserID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestUserValidate(t *testing.T) {
	if err := validUser().Validate(); err != nil {
		t.Fatalf("valid user: %v", err)
	}
	for _, tc := range []struct {
		name     string
		change   func(u *User)
		property string // the error must name it
	}{
		{"no user_id", func(u *User) { u.UserID = "" }, "user_id"},
		{"user_id without provider", func(u *User) { u.UserID = "0123456789abcdef01234567" }, "user_id"},
		{"user_id of another provider", func(u *User) { u.UserID = "google-oauth2|123" }, "user_id"},
		{"user_id with nothing after the provider", func(u *User) { u.UserID = "auth0|" }, "user_id"},
		{"user_id with a space", func(u *User) { u.UserID = "auth0|a b" }, "user_id"},
		{"user_id too long", func(u *User) { u.UserID = "auth0|" + strings.Repeat("a", 250) }, "user_id"},
		{"no email", func(u *User) { u.Email = "" }, "email"},
		{"email without @", func(u *User) { u.Email = "ann.example.com" }, "email"},
		{"email with a display name", func(u *User) { u.Email = "Ann <ann@example.com>" }, "email"},
		{"email in angle brackets", func(u *User) { u.Email = "<ann@example.com>" }, "email"},
		{"email with a space", func(u *User) { u.Email = "ann smith@example.com" }, "email"},
		{"email with a quoted local part", func(u *User) { u.Email = `"ann smith"@example.com` }, "email"},
		{"email with two @", func(u *User) { u.Email = "ann@smith@example.com" }, "email"},
		{"email too long", func(u *User) { u.Email = "ann@" + strings.Repeat("a", 250) + ".com" }, "email"},
		{"email local part too long", func(u *User) { u.Email = strings.Repeat("a", 65) + "@example.com" }, "email"},
		{"no connection", func(u *User) { u.Connection = "" }, "connection"},
		{"connection with a pipe", func(u *User) { u.Connection = "db|x" }, "connection"},
		{"connection with a leading hyphen", func(u *User) { u.Connection = "-db" }, "connection"},
		{"connection with a double hyphen", func(u *User) { u.Connection = "my--db" }, "connection"},
		{"connection with a trailing hyphen", func(u *User) { u.Connection = "db-" }, "connection"},
		{"connection not ASCII", func(u *User) { u.Connection = "dé" }, "connection"},
		{"name too long", func(u *User) { u.Name = strings.Repeat("n", 301) }, "name"},
		{"nickname too long", func(u *User) { u.Nickname = strings.Repeat("n", 301) }, "nickname"},
		{"given_name too long", func(u *User) { u.GivenName = strings.Repeat("n", 151) }, "given_name"},
		{"family_name too long", func(u *User) { u.FamilyName = strings.Repeat("n", 151) }, "family_name"},
		{"name with a control character", func(u *User) { u.Name = "Ann\x00" }, "name"},
		{"name not UTF-8", func(u *User) { u.Name = "Ann\xff" }, "name"},
		{"picture not a URL", func(u *User) { u.Picture = "ann.png" }, "picture"},
		{"picture of another scheme", func(u *User) { u.Picture = "javascript:alert(1)" }, "picture"},
		{"picture too long", func(u *User) { u.Picture = "https://example.com/" + strings.Repeat("a", 2048) }, "picture"},
		{"user_metadata key with a dot", func(u *User) { u.UserMetadata["preference.color"] = "pink" }, "user_metadata"},
		{"user_metadata nested key with $", func(u *User) { u.UserMetadata["prefs"] = map[string]any{"$x": 1.0} }, "user_metadata"},
		{"user_metadata key in an array", func(u *User) { u.UserMetadata["list"] = []any{map[string]any{"a.b": true}} }, "user_metadata"},
		{"user_metadata too large", func(u *User) { u.UserMetadata["big"] = strings.Repeat("x", MaxMetadataSize) }, "user_metadata"},
		{"user_metadata not JSON", func(u *User) { u.UserMetadata["f"] = func() {} }, "user_metadata"},
		{"app_metadata too large", func(u *User) { u.AppMetadata["big"] = strings.Repeat("x", MaxMetadataSize) }, "app_metadata"},
		{"app_metadata key with a dot", func(u *User) { u.AppMetadata["a.b"] = 1.0 }, "app_metadata"},
		{"app_metadata reserved key", func(u *User) { u.AppMetadata["clientID"] = "x" }, "app_metadata"},
		{"app_metadata reserved key email", func(u *User) { u.AppMetadata["email"] = "x" }, "app_metadata"},
		{"negative logins_count", func(u *User) { u.LoginsCount = -1 }, "logins_count"},
		{"last_ip with a space", func(u *User) { u.LastIP = "1.2.3.4 5" }, "last_ip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := validUser()
			tc.change(u)
			err := u.Validate()
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			if !strings.HasPrefix(err.Error(), tc.property) {
				t.Errorf("error %q does not start with the property %s", err, tc.property)
			}
		})
	}
	// Values Auth0 accepts.
	for _, tc := range []struct {
		name   string
		change func(u *User)
	}{
		{"metadata values with dots", func(u *User) { u.UserMetadata["color"] = "light.blue" }},
		{"reserved name nested in app_metadata", func(u *User) { u.AppMetadata["account"] = map[string]any{"email": "x"} }},
		{"reserved name in user_metadata", func(u *User) { u.UserMetadata["email"] = "x" }},
		{"nil metadata", func(u *User) { u.UserMetadata, u.AppMetadata = nil, nil }},
		{"custom user_id", func(u *User) { u.UserID = "auth0|legacy-42" }},
		{"plus address", func(u *User) { u.Email = "ann+tag@example.com" }},
		{"no picture", func(u *User) { u.Picture = "" }},
		{"names at their limits", func(u *User) {
			u.Name, u.GivenName = strings.Repeat("é", 300), strings.Repeat("é", 150)
		}},
		{"other connection", func(u *User) { u.Connection = "Customers-2" }},
	} {
		t.Run("accepts "+tc.name, func(t *testing.T) {
			u := validUser()
			tc.change(u)
			if err := u.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestUserClone(t *testing.T) {
	u := validUser()
	u.PasswordHash = []byte("hash")
	c := u.Clone()
	if !reflect.DeepEqual(c, u) {
		t.Fatalf("Clone differs:\n got  %+v\n want %+v", c, u)
	}
	c.UserMetadata["prefs"].(map[string]any)["theme"] = "light"
	c.AppMetadata["tags"].([]any)[1].(map[string]any)["b"] = 2.0
	c.AppMetadata["plan"] = "silver"
	c.PasswordHash[0] = 'X'
	if !reflect.DeepEqual(u, func() *User { v := validUser(); v.PasswordHash = []byte("hash"); return v }()) {
		t.Errorf("changing the clone changed the original: %+v", u)
	}
	if (&User{}).Clone().UserMetadata != nil {
		t.Error("Clone made nil metadata non-nil")
	}
}

func TestUserJSON(t *testing.T) {
	u := validUser()
	u.PasswordHash = []byte("secret hash")
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"user_id", "email", "email_verified", "blocked", "name", "nickname", "given_name",
		"family_name", "picture", "user_metadata", "app_metadata", "created_at", "updated_at", "last_ip",
		"logins_count", "connection"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
	if _, ok := m["last_login"]; ok {
		t.Errorf("JSON of a user who never signed in has last_login: %s", b)
	}
	if strings.Contains(string(b), "secret hash") || strings.Contains(string(b), `"password`) {
		t.Errorf("JSON shows the password hash: %s", b)
	}
	if m["created_at"] != "2026-01-02T03:04:05.006Z" {
		t.Errorf("created_at = %v", m["created_at"])
	}
	var back User
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	u.PasswordHash = nil
	if !reflect.DeepEqual(&back, u) {
		t.Errorf("JSON round trip:\n got  %+v\n want %+v", &back, u)
	}
}

func TestEmailKey(t *testing.T) {
	for _, tc := range []struct {
		a, b [2]string
		same bool
	}{
		{[2]string{"db", "Ann@Example.COM"}, [2]string{"db", "ann@example.com"}, true},
		{[2]string{"db", "ÅSA@example.com"}, [2]string{"db", "åsa@example.com"}, true},
		{[2]string{"db", "ann@example.com"}, [2]string{"db2", "ann@example.com"}, false},
		{[2]string{"db", "ann@example.com"}, [2]string{"db", "ann@example.org"}, false},
		// Whatever the characters, connection and address do not run into
		// each other.
		{[2]string{"a|b", "c@x.com"}, [2]string{"a", "b|c@x.com"}, false},
		{[2]string{"a:b", "c@x.com"}, [2]string{"a", "b:c@x.com"}, false},
	} {
		if got := EmailKey(tc.a[0], tc.a[1]) == EmailKey(tc.b[0], tc.b[1]); got != tc.same {
			t.Errorf("EmailKey(%q) == EmailKey(%q): %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}

func TestEmailKeyForm(t *testing.T) {
	if got := EmailKey("Username-Password-Authentication", "Ann@Example.com"); got != "32:Username-Password-Authentication:ann@example.com" {
		t.Errorf("EmailKey = %q", got)
	}
}

func TestIdentities(t *testing.T) {
	u := validUser()
	want := []Identity{{Connection: DefaultConnection, UserID: "0123456789abcdef01234567", Provider: "auth0"}}
	if got := u.Identities(); !reflect.DeepEqual(got, want) {
		t.Errorf("Identities = %+v, want %+v", got, want)
	}
	b, _ := json.Marshal(want[0])
	if string(b) != `{"connection":"Username-Password-Authentication","user_id":"0123456789abcdef01234567","provider":"auth0","isSocial":false}` {
		t.Errorf("identity JSON %s", b)
	}
}
