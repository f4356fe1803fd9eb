// Package storage defines what the authorization server keeps and the
// contract every backend meets. Backends live in subpackages (sqlite, and
// any database/sql engine through sqlstore); storetest checks a backend
// against the contract.
//
// Of Portcullis it imports only the model packages (access, clients, keys,
// sessions, users).
package storage

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-gw/portcullis/authserver/access"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/keys"
	"github.com/portcullis-gw/portcullis/authserver/sessions"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// Errors every backend returns (possibly wrapped); test with errors.Is.
var (
	// ErrNotFound: no object with that key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key is taken (a client_id, an API identifier,
	// a grant for the same client, audience and subject type, a user_id, a
	// user's e-mail address in its connection, a role id or a role name).
	ErrConflict = errors.New("conflict")
	// ErrUsed: a single-use object (an authorization code, a rotating
	// refresh token) was used before.
	ErrUsed = errors.New("already used")
	// ErrRevoked: the refresh token family was revoked; it takes no new
	// tokens.
	ErrRevoked = errors.New("revoked")
	// ErrUnavailable: the database could not be reached. Backends whose
	// database is a server wrap their connection failures in it; callers
	// answer 503 rather than 500.
	ErrUnavailable = errors.New("the database is unavailable")
)

// IsUnavailable reports whether err means that the database could not be
// reached: ErrUnavailable, or a network failure on the way to it (a
// connection cut or refused in the middle of an operation).
func IsUnavailable(err error) bool {
	var netErr net.Error
	return errors.Is(err, ErrUnavailable) || errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, driver.ErrBadConn)
}

// Page selects part of a list: Page is zero-based, PerPage > 0.
type Page struct {
	Page    int
	PerPage int
	// From, when not empty, starts the list at its first item whose key
	// (the id the list is ordered by) is From or after it: a checkpoint
	// that stays valid whatever is inserted or deleted meanwhile. Page
	// must then be 0, and the total counts the items from From on. Lists
	// of permissions, ordered by two columns, take no From.
	From string
}

// Offset is the position of the page's first item: Page × PerPage, or the
// largest int when that overflows, a page past the end of any list.
func (p Page) Offset() int {
	if p.PerPage > 0 && p.Page > math.MaxInt/p.PerPage {
		return math.MaxInt
	}
	return p.Page * p.PerPage
}

// ClientFilter narrows ListClients; zero fields match everything.
type ClientFilter struct {
	// AppTypes, when not empty, keeps the clients of one of these
	// application types.
	AppTypes []clients.AppType
	// FirstParty, when set, keeps the clients whose is_first_party is
	// *FirstParty.
	FirstParty *bool
	// Global, when set, keeps the clients whose global flag is *Global.
	// Portcullis has no global client (Auth0's legacy "All
	// Applications"), so every client is not global.
	Global *bool
}

// Matches reports whether c passes the filter.
func (f ClientFilter) Matches(c *clients.Client) bool {
	return (len(f.AppTypes) == 0 || slices.Contains(f.AppTypes, c.AppType)) &&
		(f.FirstParty == nil || *f.FirstParty == c.IsFirstParty) &&
		(f.Global == nil || !*f.Global)
}

// IsZero reports whether the filter matches everything.
func (f ClientFilter) IsZero() bool {
	return len(f.AppTypes) == 0 && f.FirstParty == nil && f.Global == nil
}

// RoleFilter narrows ListRoles; the zero filter matches everything.
type RoleFilter struct {
	// NameContains, when not empty, keeps the roles whose name contains
	// it, compared without regard to case.
	NameContains string
}

// Matches reports whether r passes the filter.
func (f RoleFilter) Matches(r *users.Role) bool {
	return strings.Contains(strings.ToLower(r.Name), strings.ToLower(f.NameContains))
}

// UserQuery narrows and orders ListUsers; the zero query lists every user
// by user_id.
type UserQuery struct {
	// Match, when set, keeps the users it returns true for.
	Match func(*users.User) bool
	// Compare, when set, orders the users (negative when a comes first);
	// users it finds equal are ordered by user_id.
	Compare func(a, b *users.User) int
}

// GrantFilter narrows ListClientGrants; empty fields match everything.
type GrantFilter struct {
	ClientID    string
	Audience    string
	SubjectType access.SubjectType
}

// SignIn is a successful sign-in, as RecordSignIn records it.
type SignIn struct {
	At time.Time
	IP string
	// VerifiedHash is the password hash that the password was checked
	// against.
	VerifiedHash []byte
	// Rehash, when set, is a new hash of the same password (with the
	// current hashing parameters). It replaces the user's hash only if
	// that is still VerifiedHash: a password changed since the check is
	// kept.
	Rehash []byte
}

// Store is a backend: every role below, and transactions. Every method is
// atomic on its own; Atomically groups several. Objects returned are the
// caller's to modify. Code that needs only part of a backend takes the
// narrowest role that has it.
type Store interface {
	Catalog
	Directory
	SignInState
	KeyStore
	Settings
	HitCounter
	ChangeLog

	// Atomically runs fn with a Store whose changes are committed together
	// when fn returns nil and discarded otherwise. A user that fn reads
	// (User, UserByEmail) changes in no other way until fn ends: concurrent
	// writes to it, RecordSignIn's included, wait, so that fn can read,
	// change and update a user without undoing them.
	Atomically(ctx context.Context, fn func(tx Store) error) error

	// Close releases the backend.
	Close() error
}

// Catalog keeps what clients may ask for: clients, APIs (resource servers)
// and client grants. Instances cache parts of it (see CachedStore).
type Catalog interface {
	CreateClient(ctx context.Context, c *clients.Client) error
	Client(ctx context.Context, clientID string) (*clients.Client, error)
	// ListClients returns one page of the clients f matches, ordered by
	// client_id, and their number.
	ListClients(ctx context.Context, f ClientFilter, p Page) ([]*clients.Client, int, error)
	UpdateClient(ctx context.Context, c *clients.Client) error
	// DeleteClient deletes the client and its client grants.
	DeleteClient(ctx context.Context, clientID string) error

	CreateResourceServer(ctx context.Context, rs *access.ResourceServer) error
	ResourceServer(ctx context.Context, id string) (*access.ResourceServer, error)
	ResourceServerByIdentifier(ctx context.Context, identifier string) (*access.ResourceServer, error)
	ListResourceServers(ctx context.Context, p Page) ([]*access.ResourceServer, int, error)
	// UpdateResourceServer replaces the API; its identifier never changes.
	UpdateResourceServer(ctx context.Context, rs *access.ResourceServer) error
	// DeleteResourceServer deletes the API, every client grant for it, and
	// every permission of it assigned to roles or users.
	DeleteResourceServer(ctx context.Context, id string) error

	CreateClientGrant(ctx context.Context, g *access.ClientGrant) error
	ClientGrant(ctx context.Context, id string) (*access.ClientGrant, error)
	// FindClientGrant returns the grant of clientID for audience and
	// subject type, or ErrNotFound.
	FindClientGrant(ctx context.Context, clientID, audience string, subject access.SubjectType) (*access.ClientGrant, error)
	ListClientGrants(ctx context.Context, f GrantFilter, p Page) ([]*access.ClientGrant, int, error)
	// UpdateClientGrant replaces the grant; client, audience and subject
	// type never change.
	UpdateClientGrant(ctx context.Context, g *access.ClientGrant) error
	DeleteClientGrant(ctx context.Context, id string) error
}

// Directory keeps users, roles and the permissions given to them (RBAC).
type Directory interface {
	// CreateUser stores a new user. A taken user_id, or an e-mail address
	// that another user of the same connection has in any case, is
	// ErrConflict.
	CreateUser(ctx context.Context, u *users.User) error
	User(ctx context.Context, userID string) (*users.User, error)
	// UserByEmail returns the user of connection whose e-mail address is
	// email, compared without regard to case (users.EmailKey).
	UserByEmail(ctx context.Context, connection, email string) (*users.User, error)
	// ListUsers returns one page of the users q matches, in q's order, and
	// their number. Page.From is refused when q orders the users.
	ListUsers(ctx context.Context, q UserQuery, p Page) ([]*users.User, int, error)
	// UpdateUser replaces the user, password hash included; its connection,
	// created_at and sign-in record (last_login, last_ip, logins_count,
	// which only RecordSignIn writes) never change. An e-mail address taken
	// in the connection is ErrConflict. To change a user without losing a
	// concurrent change, read and update it in one Atomically.
	UpdateUser(ctx context.Context, u *users.User) error
	// RecordSignIn records a successful sign-in on the user: it sets
	// last_login and last_ip, adds one to logins_count and, when in.Rehash
	// is set and the user's password hash is still in.VerifiedHash, stores
	// in.Rehash as the hash. Nothing else of the user changes, so that a
	// block or a password change made since the sign-in read the user
	// stays. A missing user is ErrNotFound.
	RecordSignIn(ctx context.Context, userID string, in SignIn) error
	// DeleteUser deletes the user, its role assignments and its direct
	// permissions.
	DeleteUser(ctx context.Context, userID string) error

	// CreateRole stores a new role; a taken id or name is ErrConflict.
	CreateRole(ctx context.Context, r *users.Role) error
	Role(ctx context.Context, id string) (*users.Role, error)
	// ListRoles returns one page of the roles f matches, ordered by id,
	// and their number.
	ListRoles(ctx context.Context, f RoleFilter, p Page) ([]*users.Role, int, error)
	// UpdateRole replaces the role; a name another role has is
	// ErrConflict.
	UpdateRole(ctx context.Context, r *users.Role) error
	// DeleteRole deletes the role, its permissions and its assignments to
	// users.
	DeleteRole(ctx context.Context, id string) error

	// The RBAC relations. Adding what is there already, or removing what
	// is not, does nothing; every user and role named must exist, or the
	// call is ErrNotFound and changes nothing. Permissions are kept by
	// API identifier and name only: whether the API defines them is the
	// caller's to check. Lists of permissions are ordered by API
	// identifier, then name, and fill in the API's name and the
	// permission's description where the API still defines them.

	// AddRolePermissions adds permissions to the role.
	AddRolePermissions(ctx context.Context, roleID string, ps []users.Permission) error
	RemoveRolePermissions(ctx context.Context, roleID string, ps []users.Permission) error
	RolePermissions(ctx context.Context, roleID string, p Page) ([]users.Permission, int, error)

	// AssignUserRoles assigns the roles to the user.
	AssignUserRoles(ctx context.Context, userID string, roleIDs []string) error
	RemoveUserRoles(ctx context.Context, userID string, roleIDs []string) error
	// UserRoles returns one page of the user's roles, ordered by id.
	UserRoles(ctx context.Context, userID string, p Page) ([]*users.Role, int, error)
	// RoleUsers returns one page of the users the role is assigned to,
	// ordered by user_id.
	RoleUsers(ctx context.Context, roleID string, p Page) ([]*users.User, int, error)

	// AddUserPermissions assigns permissions to the user directly, not
	// through a role.
	AddUserPermissions(ctx context.Context, userID string, ps []users.Permission) error
	RemoveUserPermissions(ctx context.Context, userID string, ps []users.Permission) error
	// UserPermissions returns one page of the user's direct permissions.
	UserPermissions(ctx context.Context, userID string, p Page) ([]users.Permission, int, error)

	// EffectivePermissions returns the names of the permissions of the API
	// audience that the user has, directly or through its roles: sorted
	// byte-wise, each once, never nil.
	EffectivePermissions(ctx context.Context, userID, audience string) ([]string, error)
}

// SignInState keeps login sessions, authorization codes, refresh tokens,
// consents and failed sign-ins. Secrets are stored only by their
// sessions.Key. Deleting a user deletes its sessions, codes, refresh
// tokens and consents; deleting a client deletes its codes, refresh
// tokens and consents.
type SignInState interface {
	CreateSession(ctx context.Context, s *sessions.Session) error
	Session(ctx context.Context, id string) (*sessions.Session, error)
	// UpdateSession replaces the session; its user never changes.
	UpdateSession(ctx context.Context, s *sessions.Session) error
	// DeleteSession deletes the session; a missing one is not an error.
	DeleteSession(ctx context.Context, id string) error

	CreateAuthorizationCode(ctx context.Context, c *sessions.AuthorizationCode) error
	// ConsumeAuthorizationCode marks the code used at `at` and returns it.
	// A code used before is returned along with ErrUsed, and stays used;
	// of concurrent calls for one code exactly one succeeds.
	ConsumeAuthorizationCode(ctx context.Context, id string, at time.Time) (*sessions.AuthorizationCode, error)

	// Refresh tokens come in families: the first token of a code exchange
	// and its successors. A family revoked stays revoked: no token of it
	// is stored afterwards, however a concurrent store and the revocation
	// interleave, until PurgeExpired forgets the revocation.

	// CreateRefreshToken stores a new refresh token, unless its family is
	// revoked (ErrRevoked).
	CreateRefreshToken(ctx context.Context, t *sessions.RefreshToken) error
	RefreshToken(ctx context.Context, id string) (*sessions.RefreshToken, error)
	// RotateRefreshToken marks the rotating token id used at `at` and
	// stores successor, of the same family, all or nothing. A family
	// revoked is ErrRevoked; a token used before is ErrUsed; a token that
	// is not there (or of another family) is ErrNotFound. Of concurrent
	// calls for one token exactly one succeeds.
	RotateRefreshToken(ctx context.Context, id string, at time.Time, successor *sessions.RefreshToken) error
	// TouchRefreshToken moves the idle end of a token that does not rotate.
	TouchRefreshToken(ctx context.Context, id string, idleExpiresAt time.Time) error
	// RevokeRefreshTokenFamily revokes the family: it deletes every token
	// of it and records the revocation until `until` (zero: for ever),
	// which must be no earlier than the family's tokens could end. An
	// unknown family is revoked all the same, so that a token stored for
	// it later is refused; revoking a revoked family again keeps the later
	// end.
	RevokeRefreshTokenFamily(ctx context.Context, familyID string, until time.Time) error

	// Consent returns the user's consent to the client for the API
	// audience, or ErrNotFound.
	Consent(ctx context.Context, userID, clientID, audience string) (*sessions.Consent, error)
	// SaveConsent stores the consent, replacing the one of the same user,
	// client and audience.
	SaveConsent(ctx context.Context, c *sessions.Consent) error

	// RecordLoginFailure records a failed sign-in under key (such as a
	// user and an IP address) at `at`, as the failure of attempt (an ID
	// that the caller chose).
	RecordLoginFailure(ctx context.Context, key, attempt string, at time.Time) error
	// ForgetLoginFailure forgets the failure of attempt recorded under
	// key, if any: a sign-in records its failure before it checks the
	// password, so that attempts made at once count each other, and
	// forgets it when it did not fail.
	ForgetLoginFailure(ctx context.Context, key, attempt string) error
	// LoginFailures counts the failures recorded under key since `since`.
	LoginFailures(ctx context.Context, key string, since time.Time) (int, error)
	// ClearLoginFailures forgets the failures recorded under key.
	ClearLoginFailures(ctx context.Context, key string) error

	// PurgeExpired deletes sessions, authorization codes, refresh tokens
	// and refresh token families (revoked or not) that ended before now,
	// and failed sign-ins and rate-limit windows recorded before
	// failuresBefore.
	PurgeExpired(ctx context.Context, now, failuresBefore time.Time) error
}

// ChangeLog counts changes to what processes hold in memory.
type ChangeLog interface {
	// MarkChanged records that something other processes may hold in
	// memory changed: a client, an API, a client grant, a signing key or
	// a tenant setting. ChangeVersion counts such changes, so that every
	// process sharing the database can tell when to drop what it cached
	// (see CachedStore).
	MarkChanged(ctx context.Context) error
	ChangeVersion(ctx context.Context) (int64, error)
}

// HitCounter counts requests for rate limits.
type HitCounter interface {
	// CountHits adds n hits to the rate-limit window of key that started
	// at window, and returns the window's hits so far, these included.
	// Processes sharing the database share the counts.
	CountHits(ctx context.Context, key string, window time.Time, n int) (int, error)
}

// Settings keeps the tenant settings and the installation secrets.
type Settings interface {
	// Setting returns the JSON document of the tenant setting name (such
	// as "tenant" or "branding"), or ErrNotFound.
	Setting(ctx context.Context, name string) ([]byte, error)
	// SaveSetting stores the document of the setting name, replacing it.
	SaveSetting(ctx context.Context, name string, doc []byte) error

	// InstallationSecret returns the secret stored under name, first
	// storing generate() if there is none. Concurrent callers get the same
	// value.
	InstallationSecret(ctx context.Context, name string, generate func() []byte) ([]byte, error)
	// ReplaceInstallationSecret stores value as the existing secret name,
	// such as the same secret once encrypted, or returns ErrNotFound.
	ReplaceInstallationSecret(ctx context.Context, name string, value []byte) error
}

// KeyStore keeps the signing keys.
type KeyStore interface {
	// SigningKeys returns every stored signing key, revoked ones included.
	SigningKeys(ctx context.Context) ([]keys.SigningKey, error)
	// SaveSigningKeys inserts or replaces the given keys, all or none.
	SaveSigningKeys(ctx context.Context, ks []keys.SigningKey) error
}
