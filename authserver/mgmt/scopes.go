package mgmt

// Scope is a Management API permission.
type Scope struct {
	Value       string
	Description string
}

// Scopes are the permissions of the Management API, with Auth0's names.
// Each endpoint requires one of them.
var Scopes = []Scope{
	{"read:clients", "Read applications"},
	{"create:clients", "Create applications"},
	{"update:clients", "Update applications"},
	{"delete:clients", "Delete applications"},
	{"read:client_keys", "Read application secrets"},
	{"update:client_keys", "Rotate application secrets"},
	{"read:client_credentials", "Read application certificate credentials"},
	{"create:client_credentials", "Create application certificate credentials"},
	{"update:client_credentials", "Update application certificate credentials and enable them for authentication"},
	{"delete:client_credentials", "Delete application certificate credentials"},
	{"read:resource_servers", "Read APIs"},
	{"create:resource_servers", "Create APIs"},
	{"update:resource_servers", "Update APIs"},
	{"delete:resource_servers", "Delete APIs"},
	{"read:client_grants", "Read client grants"},
	{"create:client_grants", "Create client grants"},
	{"update:client_grants", "Update client grants"},
	{"delete:client_grants", "Delete client grants"},
	{"read:users", "Read users and their direct permissions"},
	{"create:users", "Create users"},
	{"update:users", "Update users and their direct permissions"},
	{"delete:users", "Delete users"},
	{"read:roles", "Read roles and their permissions"},
	{"create:roles", "Create roles"},
	{"update:roles", "Update roles and their permissions"},
	{"delete:roles", "Delete roles"},
	{"read:role_members", "Read the users of roles and the roles of users"},
	{"create:role_members", "Assign roles to users"},
	{"delete:role_members", "Remove roles from users"},
	{"read:tenant_settings", "Read tenant settings"},
	{"update:tenant_settings", "Update tenant settings"},
	{"read:branding", "Read branding"},
	{"update:branding", "Update branding"},
	{"read:signing_keys", "Read signing keys"},
	{"create:signing_keys", "Rotate signing keys (with update:signing_keys)"},
	{"update:signing_keys", "Revoke signing keys"},
}
