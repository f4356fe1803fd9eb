# Portcullis's default edge policy. bearer_auth asks for
# data.portcullis.authz.decision with the input document described in
# policies/README.md, after the token's signature, issuer, audience and
# lifetime have been verified. Denials are checked in order; the first that
# applies decides.
package portcullis.authz

# Machine-to-machine tokens of the embedded authorization server must still
# be backed by a client grant, read live: deleting the grant, or removing a
# scope from it, denies tokens issued before. The grant's scopes cover the
# route's permissions too: the permissions of such a token are the scopes
# its grant allowed when it was issued (as with Auth0's RBAC for client
# credentials).
grant_checked if {
	input.token.is_m2m
	input.token.local_issuer
}

# A certificate-bound token (RFC 8705) is good only with the client
# certificate whose thumbprint it carries in cnf.x5t#S256.
decision := {
	"allow": false, "status": 401, "reason": "certificate-bound token without its certificate",
	"error": "invalid_token",
} if {
	input.token.cert_thumbprint != ""
	not input.client_cert.thumbprint == input.token.cert_thumbprint
} else := deny("client grant revoked", {"error": "insufficient_scope"}) if {
	grant_checked
	input.client_grant == null
} else := deny("client grant no longer covers the route", {
	"error": "insufficient_scope",
	"scope": lacking(input.route.required_scopes, input.client_grant.scopes),
	"permissions": lacking(input.route.required_permissions, input.client_grant.scopes),
}) if {
	grant_checked
	some n in array.concat(input.route.required_scopes, input.route.required_permissions)
	not n in input.client_grant.scopes
} else := deny("insufficient scope", {
	"error": "insufficient_scope",
	"scope": lacking(input.route.required_scopes, input.token.scopes),
}) if {
	some s in input.route.required_scopes
	not s in input.token.scopes
} else := deny("insufficient permissions", {
	"error": "insufficient_scope",
	"permissions": lacking(input.route.required_permissions, input.token.permissions),
}) if {
	some p in input.route.required_permissions
	not p in input.token.permissions
} else := {"allow": true, "status": 200, "reason": "allowed"}

deny(reason, extra) := object.union({"allow": false, "status": 403, "reason": reason}, extra)

# lacking lists, space-separated and sorted, the required names not held.
lacking(required, held) := concat(" ", sort([n | some n in required; not n in held]))
