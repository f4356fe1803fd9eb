// Package users holds the user model of the authorization server, in the
// shape of Auth0's Management API v2: users of a database connection with
// their profile and metadata, roles and the permissions (API scopes) they
// carry, password hashing (argon2id) and the password policy of a
// connection.
//
// Of Portcullis it imports only authserver/internal/randid.
package users

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultConnection is the name of Auth0's default database connection, the
// one users are created in when none is named.
const DefaultConnection = "Username-Password-Authentication"

// Provider is the identity provider of database-connection users, as
// Auth0 writes it in a user's identities and the prefix of its user_id.
const Provider = "auth0"

// Limits of a user's properties. The name lengths follow Auth0's
// Management API user schema as remembered (given_name and family_name 150
// characters, name and nickname 300; the seeds do not give them); the
// e-mail limits are RFC 5321's (a path of 254 octets, a local part of 64).
const (
	MaxNameLength       = 300
	MaxNicknameLength   = 300
	MaxGivenNameLength  = 150
	MaxFamilyNameLength = 150
	MaxEmailLength      = 254
	MaxEmailLocalLength = 64
	MaxPictureLength    = 2048
	MaxUserIDLength     = 255
	MaxConnectionLength = 128
)

// MaxMetadataSize is the largest user_metadata, and separately the largest
// app_metadata, in bytes of compact JSON. Auth0's hard limit is 16 MB, but
// it documents 16 kB as the practical upper limit "for performance
// reasons"; this server enforces that one, since metadata is copied into
// every token and every cached profile.
const MaxMetadataSize = 16 * 1024

// reservedAppMetadata are the top-level names Auth0 refuses in
// app_metadata: they collide with its internal profile fields. The
// Management API SDK types them as "null" in app_metadata.
var reservedAppMetadata = []string{
	"__tenant", "_id", "blocked", "clientID", "created_at", "email",
	"email_verified", "globalClientID", "global_client_id", "identities",
	"lastIP", "lastLogin", "loginsCount", "metadata", "multifactor",
	"updated_at", "user_id",
}

// User is a user of a database connection, in the shape of Auth0's
// Management API v2 user object. The password itself is never stored:
// PasswordHash holds its argon2id hash (see HashPassword).
type User struct {
	// UserID is "auth0|" followed by an id unique in the tenant: 24
	// lowercase hex digits when generated (NewUserID).
	UserID        string `json:"user_id"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	// Blocked users cannot sign in.
	Blocked    bool   `json:"blocked"`
	Name       string `json:"name,omitempty"`
	Nickname   string `json:"nickname,omitempty"`
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	Picture    string `json:"picture,omitempty"`
	// UserMetadata is data the user may read and change; AppMetadata is
	// data only the tenant's applications change. Both are JSON objects:
	// their values are what encoding/json decodes into an any (string,
	// float64, bool, nil, []any, map[string]any).
	UserMetadata map[string]any `json:"user_metadata"`
	AppMetadata  map[string]any `json:"app_metadata"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
	// LastLogin and LastIP are those of the latest successful sign-in;
	// zero before the first.
	LastLogin   time.Time `json:"last_login,omitzero"`
	LastIP      string    `json:"last_ip,omitempty"`
	LoginsCount int       `json:"logins_count"`
	// Connection is the database connection the user belongs to; e-mail
	// addresses are unique within it.
	Connection string `json:"connection"`

	// PasswordHash is the PHC-encoded argon2id hash of the password (see
	// HashPassword); empty for a user who has no password yet. It never
	// leaves the server.
	PasswordHash []byte `json:"-"`
}

// Identity is one entry of a user's identities, as the Management API lists
// them.
type Identity struct {
	Connection string `json:"connection"`
	UserID     string `json:"user_id"`
	Provider   string `json:"provider"`
	IsSocial   bool   `json:"isSocial"`
}

// Identities returns the user's identities: database users have one, from
// their connection, whose user_id is theirs without the "auth0|" prefix.
func (u *User) Identities() []Identity {
	return []Identity{{
		Connection: u.Connection,
		UserID:     strings.TrimPrefix(u.UserID, Provider+"|"),
		Provider:   Provider,
	}}
}

// NewUserID returns a new user id: "auth0|" and 24 lowercase hex digits
// (96 random bits), the form of Auth0's database user ids.
func NewUserID() string {
	b := make([]byte, 12)
	rand.Read(b) // never returns an error; it crashes the program instead
	return Provider + "|" + hex.EncodeToString(b)
}

// EmailKey is what makes an e-mail address unique: the connection and the
// address in lower case, so that Ann@Example.com and ann@example.com are one
// user of a connection. The connection's length comes first, so that no
// two (connection, address) pairs share a key whatever characters they
// hold: "7:example:ann@example.com".
func EmailKey(connection, email string) string {
	return strconv.Itoa(len(connection)) + ":" + connection + ":" + strings.ToLower(email)
}

// Clone returns a deep copy, so callers may modify it freely.
func (u *User) Clone() *User {
	cp := *u
	cp.UserMetadata = cloneObject(u.UserMetadata)
	cp.AppMetadata = cloneObject(u.AppMetadata)
	if u.PasswordHash != nil {
		cp.PasswordHash = append([]byte(nil), u.PasswordHash...)
	}
	return &cp
}

func cloneObject(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	cp := make(map[string]any, len(m))
	for k, v := range m {
		cp[k] = cloneValue(v)
	}
	return cp
}

// cloneValue deep-copies the objects and arrays of a decoded JSON value;
// other values are immutable and shared.
func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneObject(v)
	case []any:
		cp := make([]any, len(v))
		for i, e := range v {
			cp[i] = cloneValue(e)
		}
		return cp
	}
	return v
}

// ApplyDefaults fills what a new user leaves out, as Auth0 does for a
// database user: the default connection, name set to the e-mail address,
// nickname to its local part, empty metadata objects, and created_at and
// updated_at set to now (in UTC, to the millisecond, as Auth0 reports
// times). It sets no user_id (see NewUserID) and no picture: Auth0's default
// is a Gravatar URL, which would tell a third party a hash of the address
// whenever it is shown.
func (u *User) ApplyDefaults(now time.Time) {
	if u.Connection == "" {
		u.Connection = DefaultConnection
	}
	if u.Name == "" {
		u.Name = u.Email
	}
	if u.Nickname == "" {
		if at := strings.LastIndexByte(u.Email, '@'); at > 0 {
			u.Nickname = u.Email[:at]
		}
	}
	if u.UserMetadata == nil {
		u.UserMetadata = map[string]any{}
	}
	if u.AppMetadata == nil {
		u.AppMetadata = map[string]any{}
	}
	now = now.UTC().Truncate(time.Millisecond)
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = now
	}
}

// Validate checks the user against the rules of the Management API and
// returns an error that names the offending property. It does not look at
// the password hash.
func (u *User) Validate() error {
	if err := ValidateUserID(u.UserID); err != nil {
		return err
	}
	if err := ValidateEmail(u.Email); err != nil {
		return err
	}
	if err := ValidateConnection(u.Connection); err != nil {
		return err
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"name", u.Name, MaxNameLength},
		{"nickname", u.Nickname, MaxNicknameLength},
		{"given_name", u.GivenName, MaxGivenNameLength},
		{"family_name", u.FamilyName, MaxFamilyNameLength},
	} {
		if err := CheckText(f.name, f.value, f.max); err != nil {
			return err
		}
	}
	if u.Picture != "" {
		if len(u.Picture) > MaxPictureLength {
			return fmt.Errorf("picture must be at most %d characters", MaxPictureLength)
		}
		p, err := url.Parse(u.Picture)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return errors.New("picture must be an absolute http or https URL")
		}
	}
	if err := validateMetadata("user_metadata", u.UserMetadata); err != nil {
		return err
	}
	if err := validateMetadata("app_metadata", u.AppMetadata); err != nil {
		return err
	}
	for k := range u.AppMetadata {
		for _, r := range reservedAppMetadata {
			if k == r {
				return fmt.Errorf("app_metadata: %q is reserved and cannot be stored", k)
			}
		}
	}
	if u.LoginsCount < 0 {
		return errors.New("logins_count must not be negative")
	}
	if u.LastIP != "" && (len(u.LastIP) > 45 || strings.IndexFunc(u.LastIP, unicode.IsSpace) >= 0) {
		return errors.New("last_ip must be an IP address")
	}
	return nil
}

// ValidateUserID checks a user_id: "auth0|" followed by 1 to 249 printable
// characters without white space.
func ValidateUserID(id string) error {
	rest, ok := strings.CutPrefix(id, Provider+"|")
	switch {
	case id == "":
		return errors.New("user_id is required")
	case !ok || rest == "":
		return fmt.Errorf("user_id must start with %q followed by an id", Provider+"|")
	case len(id) > MaxUserIDLength:
		return fmt.Errorf("user_id must be at most %d characters", MaxUserIDLength)
	case !utf8.ValidString(id) || strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		return errors.New("user_id must not contain white space or control characters")
	}
	return nil
}

// ValidateEmail checks an e-mail address: a bare addr-spec as net/mail
// parses it (no display name, no angle brackets), at most 254 octets with a
// local part of at most 64.
func ValidateEmail(email string) error {
	if email == "" {
		return errors.New("email is required")
	}
	if len(email) > MaxEmailLength {
		return fmt.Errorf("email must be at most %d characters", MaxEmailLength)
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email {
		return errors.New("email is not a valid e-mail address")
	}
	at := strings.LastIndexByte(email, '@')
	if at > MaxEmailLocalLength {
		return fmt.Errorf("email: the part before @ must be at most %d characters", MaxEmailLocalLength)
	}
	return nil
}

// ValidateConnection checks a connection name as Auth0 does: ASCII letters
// and digits, single hyphens between them, at most 128 characters.
func ValidateConnection(name string) error {
	if name == "" {
		return errors.New("connection is required")
	}
	if len(name) > MaxConnectionLength {
		return fmt.Errorf("connection must be at most %d characters", MaxConnectionLength)
	}
	prevHyphen := true // no leading hyphen
	for _, r := range name {
		switch {
		case r == '-':
			if prevHyphen {
				return errors.New("connection must be letters and digits with single hyphens between them")
			}
			prevHyphen = true
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			prevHyphen = false
		default:
			return errors.New("connection must be letters and digits with single hyphens between them")
		}
	}
	if prevHyphen {
		return errors.New("connection must not end with a hyphen")
	}
	return nil
}

// validateMetadata checks a metadata object: JSON-encodable, at most
// MaxMetadataSize bytes, and with no "." or "$" in any key at any depth,
// which Auth0 refuses.
func validateMetadata(property string, m map[string]any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("%s must be a JSON object", property)
	}
	if len(b) > MaxMetadataSize {
		return fmt.Errorf("%s must be at most %d bytes of JSON", property, MaxMetadataSize)
	}
	return checkKeys(property, m)
}

func checkKeys(property string, v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if k == "" || strings.ContainsAny(k, ".$") {
				return fmt.Errorf("%s: field names must be non-empty and must not contain . or $ (%q)", property, k)
			}
			if err := checkKeys(property, e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range v {
			if err := checkKeys(property, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckText checks a free-text property: valid UTF-8, at most max
// characters, no control characters.
func CheckText(name, value string, max int) error {
	if !utf8.ValidString(value) {
		return fmt.Errorf("%s must be valid UTF-8", name)
	}
	if utf8.RuneCountInString(value) > max {
		return fmt.Errorf("%s must be at most %d characters", name, max)
	}
	if strings.IndexFunc(value, unicode.IsControl) >= 0 {
		return fmt.Errorf("%s must not contain control characters", name)
	}
	return nil
}
