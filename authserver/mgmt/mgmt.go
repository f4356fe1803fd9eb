// Package mgmt serves Auth0's Management API v2 for Portcullis: clients
// and their certificate credentials, resource servers (APIs), client
// grants, users, roles and their permissions, tenant settings and branding,
// with Auth0's paths, field names and error bodies, each endpoint gated by
// its management scope. Auth0's own SDKs work against it.
//
// It imports the model packages, bearer, storage, tenant and tokens; never
// the authserver package, which mounts it.
package mgmt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/portcullis-gw/portcullis/authserver/bearer"
	"github.com/portcullis-gw/portcullis/authserver/clients"
	"github.com/portcullis-gw/portcullis/authserver/storage"
	"github.com/portcullis-gw/portcullis/authserver/tokens"
	"github.com/portcullis-gw/portcullis/authserver/users"
)

// MaxBodySize bounds a request body, in bytes.
const MaxBodySize = 1 << 20

// Config configures the Management API.
type Config struct {
	Store  storage.Store
	Hasher *clients.Hasher
	// Guard authenticates callers: their tokens must be for Audience, the
	// Management API's identifier, and present the certificate they are
	// bound to.
	Guard    *bearer.Guard[*tokens.Claims]
	Audience string
	// Keys rotates and revokes signing keys.
	Keys KeyRotator
	// PasswordPolicy is what the Username-Password-Authentication
	// connection requires of passwords.
	PasswordPolicy users.PasswordPolicy
	Logger         *zap.Logger
	// Now is the clock, for the creation time of credentials; nil is
	// time.Now.
	Now func() time.Time
}

type api struct {
	Config
}

func (a *api) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// New returns the Management API handler, to be mounted at /api/v2 with
// that prefix stripped.
func New(cfg Config) http.Handler {
	a := &api{cfg}
	mux := http.NewServeMux()
	route := func(path string, methods map[string]endpoint) {
		mux.Handle(path, a.dispatch(methods))
	}
	list := []string{"page", "per_page", "include_totals"}
	checkpoints := slices.Concat(list, []string{"from", "take"})
	projection := []string{"fields", "include_fields"}
	route("/clients", map[string]endpoint{
		"GET":  {"read:clients", a.listClients, slices.Concat(checkpoints, projection, []string{"app_type", "is_first_party", "is_global"})},
		"POST": {"create:clients", a.createClient, nil},
	})
	route("/clients/{id}", map[string]endpoint{
		"GET":    {"read:clients", a.getClient, projection},
		"PATCH":  {"update:clients", a.updateClient, nil},
		"DELETE": {"delete:clients", a.deleteClient, nil},
	})
	route("/clients/{id}/rotate-secret", map[string]endpoint{
		"POST": {"update:client_keys", a.rotateSecret, nil},
	})
	route("/clients/{id}/credentials", map[string]endpoint{
		"GET":  {"read:client_credentials", a.listCredentials, nil},
		"POST": {"create:client_credentials", a.createCredential, nil},
	})
	route("/clients/{id}/credentials/{credential_id}", map[string]endpoint{
		"GET":    {"read:client_credentials", a.getCredential, nil},
		"PATCH":  {"update:client_credentials", a.updateCredential, nil},
		"DELETE": {"delete:client_credentials", a.deleteCredential, nil},
	})
	route("/resource-servers", map[string]endpoint{
		"GET":  {"read:resource_servers", a.listResourceServers, list},
		"POST": {"create:resource_servers", a.createResourceServer, nil},
	})
	route("/resource-servers/{id}", map[string]endpoint{
		"GET":    {"read:resource_servers", a.getResourceServer, nil},
		"PATCH":  {"update:resource_servers", a.updateResourceServer, nil},
		"DELETE": {"delete:resource_servers", a.deleteResourceServer, nil},
	})
	route("/client-grants", map[string]endpoint{
		"GET":  {"read:client_grants", a.listClientGrants, slices.Concat(checkpoints, []string{"client_id", "audience", "subject_type"})},
		"POST": {"create:client_grants", a.createClientGrant, nil},
	})
	route("/client-grants/{id}", map[string]endpoint{
		"GET":    {"read:client_grants", a.getClientGrant, nil},
		"PATCH":  {"update:client_grants", a.updateClientGrant, nil},
		"DELETE": {"delete:client_grants", a.deleteClientGrant, nil},
	})
	route("/users", map[string]endpoint{
		"GET":  {"read:users", a.listUsers, slices.Concat(list, projection, []string{"q", "search_engine", "sort"})},
		"POST": {"create:users", a.createUser, nil},
	})
	route("/users/{id}", map[string]endpoint{
		"GET":    {"read:users", a.getUser, projection},
		"PATCH":  {"update:users", a.updateUser, nil},
		"DELETE": {"delete:users", a.deleteUser, nil},
	})
	route("/users-by-email", map[string]endpoint{
		"GET": {"read:users", a.usersByEmail, slices.Concat(projection, []string{"email"})},
	})
	route("/users/{id}/roles", map[string]endpoint{
		"GET":    {"read:role_members", a.listUserRoles, list},
		"POST":   {"create:role_members", a.userRoles(true), nil},
		"DELETE": {"delete:role_members", a.userRoles(false), nil},
	})
	route("/users/{id}/permissions", map[string]endpoint{
		"GET":    {"read:users", a.listUserPermissions, list},
		"POST":   {"update:users", a.userPermissions(true), nil},
		"DELETE": {"update:users", a.userPermissions(false), nil},
	})
	route("/roles", map[string]endpoint{
		"GET":  {"read:roles", a.listRoles, slices.Concat(list, []string{"name_filter"})},
		"POST": {"create:roles", a.createRole, nil},
	})
	route("/roles/{id}", map[string]endpoint{
		"GET":    {"read:roles", a.getRole, nil},
		"PATCH":  {"update:roles", a.updateRole, nil},
		"DELETE": {"delete:roles", a.deleteRole, nil},
	})
	route("/roles/{id}/permissions", map[string]endpoint{
		"GET":    {"read:roles", a.listRolePermissions, list},
		"POST":   {"update:roles", a.rolePermissions(true), nil},
		"DELETE": {"update:roles", a.rolePermissions(false), nil},
	})
	route("/roles/{id}/users", map[string]endpoint{
		"GET":  {"read:role_members", a.listRoleUsers, checkpoints},
		"POST": {"create:role_members", a.assignRoleUsers, nil},
	})
	route("/tenants/settings", map[string]endpoint{
		"GET":   {"read:tenant_settings", a.getTenantSettings, projection},
		"PATCH": {"update:tenant_settings", a.updateTenantSettings, nil},
	})
	route("/branding", map[string]endpoint{
		"GET":   {"read:branding", a.getBranding, nil},
		"PATCH": {"update:branding", a.updateBranding, nil},
	})
	route("/keys/signing", map[string]endpoint{
		"GET": {"read:signing_keys", a.listSigningKeys, nil},
	})
	route("/keys/signing/rotate", map[string]endpoint{
		"POST": {"create:signing_keys", a.rotateSigningKeys, nil},
	})
	route("/keys/signing/{kid}", map[string]endpoint{
		"GET": {"read:signing_keys", a.getSigningKey, nil},
	})
	route("/keys/signing/{kid}/revoke", map[string]endpoint{
		"PUT": {"update:signing_keys", a.revokeSigningKey, nil},
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound("not_found", "Not Found"))
	})
	return mux
}

// endpoint is one method of one path: the scope it needs, its handler, and
// the query parameters it takes (any other is refused). A handler returns
// the status and body to send, or an error.
type endpoint struct {
	scope  string
	handle func(r *http.Request, caller *tokens.Claims) (int, any, error)
	query  []string
}

func (a *api) dispatch(methods map[string]endpoint) http.Handler {
	allowed := make([]string, 0, len(methods))
	for m := range methods {
		allowed = append(allowed, m)
	}
	slices.Sort(allowed)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ep, ok := methods[r.Method]
		if !ok {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, &Error{Status: http.StatusMethodNotAllowed, Message: "Method Not Allowed"})
			return
		}
		caller, err := a.authorize(r, ep.scope)
		if err == nil {
			err = checkQuery(r, ep.query)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		status, body, err := ep.handle(r, caller)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				a.Logger.Error("management request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
			}
			writeError(w, err)
			return
		}
		if status == http.StatusNoContent || body == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	})
}

// authorize checks the bearer token (with its certificate binding) and
// that it grants scope.
func (a *api) authorize(r *http.Request, scope string) (*tokens.Claims, error) {
	claims, err := a.Guard.Authenticate(r)
	var refused *bearer.Refusal
	if errors.As(err, &refused) {
		e := &Error{Status: refused.Status, Message: "Invalid token: " + refused.Description, ErrorCode: "invalid_token", challenge: refused.Challenge("management")}
		switch refused.Cause {
		case bearer.CauseMissing:
			e.Message, e.ErrorCode = "Missing authentication", "missing_token"
		case bearer.CauseHeader:
			e.Message = "Bad HTTP authentication header format"
		}
		return nil, e
	}
	if err != nil {
		return nil, err
	}
	// Only clients manage the tenant: a user's token names no client
	// grant that could bound what it may do.
	if !claims.IsMachineToMachine() {
		return nil, &Error{Status: http.StatusForbidden, Message: "The Management API accepts only machine-to-machine tokens (client credentials)", ErrorCode: "insufficient_scope",
			challenge: bearer.InsufficientScope("", scope).Challenge("management")}
	}
	if err := a.requireScopes(r.Context(), a.Store, claims, scope); err != nil {
		return nil, err
	}
	return claims, nil
}

// requireScopes checks, reading st, that the caller holds every one of
// scopes: that its token carries it and that its client's grant for the
// Management API still allows it. Otherwise it answers Auth0's 403
// insufficient_scope naming the first scope missing. Every check of what a
// caller holds goes through it.
func (a *api) requireScopes(ctx context.Context, st storage.Store, caller *tokens.Claims, scopes ...string) error {
	for _, s := range scopes {
		if !caller.HasScope(s) {
			return insufficientScope(s, "Insufficient scope, expected any of: "+s)
		}
	}
	// Stricter than Auth0: the client's grant is read live, so deleting it,
	// or removing the scope from it, stops tokens issued before.
	missing, err := storage.UngrantedScope(ctx, st, caller.ClientID, a.Audience, scopes...)
	if err != nil {
		return err
	}
	if missing != "" {
		return insufficientScope(missing, "The client's grant for the Management API no longer allows "+missing)
	}
	return nil
}

// insufficientScope is the 403 of a caller lacking scope, with a
// WWW-Authenticate challenge naming it (RFC 6750 section 3.1).
func insufficientScope(scope, message string) *Error {
	return &Error{Status: http.StatusForbidden, Message: message, ErrorCode: "insufficient_scope",
		challenge: bearer.InsufficientScope("", scope).Challenge("management")}
}

// because adds why to the message of a refusal from requireScopes, and
// returns any other error as it is.
func because(err error, why string) error {
	var e *Error
	if errors.As(err, &e) && e.ErrorCode == "insufficient_scope" {
		e.Message += "; " + why
	}
	return err
}

// Error is an Auth0-shaped Management API error body.
type Error struct {
	Status    int    `json:"statusCode"`
	Message   string `json:"message"`
	ErrorCode string `json:"errorCode,omitempty"`
	challenge string // WWW-Authenticate value, for 401 and 403
}

func (e *Error) Error() string { return e.Message }

func errBadRequest(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, ErrorCode: code, Message: fmt.Sprintf(format, args...)}
}

func errNotFound(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, ErrorCode: code, Message: fmt.Sprintf(format, args...)}
}

func errConflict(format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, ErrorCode: "conflict", Message: fmt.Sprintf(format, args...)}
}

// invalid reports a body that fails the model's rules.
func invalid(err error) *Error {
	return errBadRequest("invalid_body", "Payload validation error: %s.", err)
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case storage.IsUnavailable(err):
		e = &Error{Status: http.StatusServiceUnavailable, Message: "The database is unavailable; try again shortly.", ErrorCode: "temporarily_unavailable"}
		w.Header().Set("Retry-After", "5")
	default:
		e = &Error{Status: http.StatusInternalServerError, Message: "Internal error", ErrorCode: "internal_error"}
	}
	if e.challenge != "" {
		w.Header().Set("WWW-Authenticate", e.challenge)
	}
	writeJSON(w, e.Status, struct {
		Status    int    `json:"statusCode"`
		Error     string `json:"error"`
		Message   string `json:"message"`
		ErrorCode string `json:"errorCode,omitempty"`
	}{e.Status, http.StatusText(e.Status), e.Message, e.ErrorCode})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"statusCode":500,"error":"Internal Server Error","message":"Internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

// decodeBody reads a JSON object into dst, refusing other content types,
// bodies over MaxBodySize, malformed JSON, wrong types and unknown
// properties, each with Auth0's message.
func decodeBody(r *http.Request, dst any) error {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, ErrorCode: "unsupported_media_type", Message: "Content-Type must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, MaxBodySize))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data")
		}
	}
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, ErrorCode: "payload_too_large", Message: fmt.Sprintf("Payload content length greater than maximum allowed: %d", MaxBodySize)}
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return errBadRequest("invalid_body", "Payload validation error: 'Expected type object but found type %s'.", jsonType(typeErr.Value))
		}
		return errBadRequest("invalid_body", "Payload validation error: 'Expected type %s but found type %s' on property %s.", goJSONType(typeErr.Type), jsonType(typeErr.Value), typeErr.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return errBadRequest("invalid_body", "Payload validation error: 'Additional properties not allowed: %s'.", name)
	}
	return errBadRequest("invalid_body", "Invalid request payload JSON format")
}

// jsonType names the JSON type of a json.UnmarshalTypeError value.
func jsonType(v string) string {
	switch {
	case v == "number" || strings.HasPrefix(v, "number "):
		return "number"
	case v == "":
		return "unknown"
	}
	return v
}

// goJSONType names the JSON type a Go type decodes from.
func goJSONType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "object"
}

// nullable is a property that may be sent as null to clear it: Sent says
// whether it was in the body, Value is nil for null.
type nullable[T any] struct {
	Sent  bool
	Value *T
}

// UnmarshalJSON decodes the value strictly (unknown properties refused).
func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	n.Sent = true
	if string(b) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	n.Value = new(T)
	return dec.Decode(n.Value)
}

// listQuery is the pagination of a list request: by page (page, per_page,
// include_totals) or, where Auth0 offers it, by checkpoint (from, take).
type listQuery struct {
	page          storage.Page
	includeTotals bool
	// take is the number of items of a checkpoint page, 0 when the list
	// is paged by number. The store is asked for one item more, whose key
	// is the next checkpoint.
	take int
}

// maxPerPage bounds per_page and take, as Auth0 does.
const maxPerPage = 100

// checkpointPrefix starts every checkpoint this API hands out, so that a
// from that is not one is refused rather than read as a key.
const checkpointPrefix = "cp1:"

// checkpoint is the from value that resumes a list at key.
func checkpoint(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(checkpointPrefix + key))
}

// checkpointKey is the key a from value resumes a list at.
func checkpointKey(from string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(from)
	key, ok := strings.CutPrefix(string(b), checkpointPrefix)
	// Every key is text; PostgreSQL refuses others outright.
	if err != nil || !ok || key == "" || !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
		return "", errBadRequest("invalid_query_string", "Query validation error: 'from' is not a checkpoint: pass the 'next' value of the previous page, or omit 'from' for the first page.")
	}
	return key, nil
}

// checkQuery refuses query parameters outside allowed, and repeated ones.
func checkQuery(r *http.Request, allowed []string) error {
	for name, vs := range r.URL.Query() {
		if !slices.Contains(allowed, name) {
			return errBadRequest("invalid_query_string", "Query validation error: 'Additional properties not allowed: %s'.", name)
		}
		if len(vs) != 1 {
			return errBadRequest("invalid_query_string", "Query validation error: 'Parameter %s is repeated'.", name)
		}
	}
	return nil
}

// parseListQuery reads page, per_page and include_totals, and from and
// take on the endpoints that take them (checkQuery refuses them
// elsewhere). from or take selects checkpoint pagination, which cannot be
// mixed with page or per_page and answers an object whatever
// include_totals says.
func parseListQuery(r *http.Request) (listQuery, error) {
	q := listQuery{page: storage.Page{PerPage: 50}}
	query := r.URL.Query()
	for _, name := range []string{"page", "per_page", "take"} {
		if !query.Has(name) {
			continue
		}
		n, err := strconv.Atoi(query.Get(name))
		if err != nil || n < 0 {
			return q, errBadRequest("invalid_query_string", "Query validation error: 'Expected type integer of at least 0' on property %s.", name)
		}
		if name == "page" {
			q.page.Page = n
		} else if n < 1 || n > maxPerPage {
			return q, errBadRequest("invalid_query_string", "Query validation error: '%s must be between 1 and %d'.", name, maxPerPage)
		} else {
			q.page.PerPage = n
		}
	}
	if query.Has("from") || query.Has("take") {
		if query.Has("page") || query.Has("per_page") {
			return q, errBadRequest("invalid_query_string", "Query validation error: 'from and take (checkpoint pagination) cannot be combined with page and per_page'.")
		}
		if query.Has("from") {
			key, err := checkpointKey(query.Get("from"))
			if err != nil {
				return q, err
			}
			q.page.From = key
		}
		q.take = q.page.PerPage
		q.page.PerPage++
	}
	b, err := boolParam(r, "include_totals")
	if err != nil {
		return q, err
	}
	q.includeTotals = b != nil && *b
	return q, nil
}

// boolParam reads the boolean query parameter name: nil when absent.
func boolParam(r *http.Request, name string) (*bool, error) {
	query := r.URL.Query()
	if !query.Has(name) {
		return nil, nil
	}
	b, err := strconv.ParseBool(query.Get(name))
	if err != nil {
		return nil, errBadRequest("invalid_query_string", "Query validation error: 'Expected type boolean' on property %s.", name)
	}
	return &b, nil
}

// cut trims a checkpoint page read from the store to take items and
// returns the from value of the next page ("" on the last), key giving
// the key of an item. A list paged by number is returned as it is.
func cut[T any](q listQuery, items []T, key func(T) string) ([]T, string) {
	if q.take == 0 || len(items) <= q.take {
		return items, ""
	}
	return items[:q.take], checkpoint(key(items[q.take]))
}

// body is a list response: with checkpoint pagination Auth0's object of
// the items under key and next (the from of the next page, absent on the
// last); otherwise a plain array or, with include_totals, Auth0's paged
// object.
func (q listQuery) body(key string, items any, total int, next string) any {
	if q.take > 0 {
		out := map[string]any{key: items}
		if next != "" {
			out["next"] = next
		}
		return out
	}
	if !q.includeTotals {
		return items
	}
	return map[string]any{
		"start":  q.page.Offset(),
		"limit":  q.page.PerPage,
		"length": reflect.ValueOf(items).Len(),
		"total":  total,
		key:      items,
	}
}

// Kinds of objects, named as in Auth0's inexistent_* error codes.
const (
	kindClient         = "client"
	kindClientGrant    = "client_grant"
	kindResourceServer = "resource_server"
	kindUser           = "user"
	kindRole           = "role"
)

// storeError turns a storage error about an object of kind into a
// Management API error.
func storeError(err error, kind string) error {
	what := strings.ReplaceAll(kind, "_", " ")
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return errNotFound("inexistent_"+kind, "The %s does not exist", what)
	case errors.Is(err, storage.ErrConflict):
		return errConflict("The %s already exists", what)
	}
	return err
}
