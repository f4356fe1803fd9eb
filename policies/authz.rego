# Portcullis's default edge policy. bearer_auth asks for
# data.portcullis.authz.decision with the input document described in
# policies/README.md, after the token's signature, issuer, audience and
# lifetime have been verified.
package portcullis.authz

# The route's scopes the token's scope claim lacks.
missing_scopes contains s if {
	some s in input.route.required_scopes
	not s in input.token.scopes
}

# The route's RBAC permissions the token's permissions claim lacks.
missing_permissions contains p if {
	some p in input.route.required_permissions
	not p in input.token.permissions
}

# Machine-to-machine tokens of the embedded authorization server must still
# be backed by a client grant, read live: deleting the grant, or removing a
# scope from it, denies tokens issued before.
grant_checked if {
	input.token.is_m2m
	input.token.local_issuer
}

no_client_grant if {
	grant_checked
	input.client_grant == null
}

# The route's scopes the client's grant no longer covers.
grant_missing_scopes contains s if {
	grant_checked
	input.client_grant != null
	some s in input.route.required_scopes
	not s in input.client_grant.scopes
}

deny(reason, extra) := object.union({"allow": false, "status": 403, "reason": reason}, extra)

decision := deny("client grant revoked", {"error": "insufficient_scope"}) if {
	no_client_grant
} else := deny("client grant no longer covers the route", {
	"error": "insufficient_scope",
	"scope": concat(" ", sort(grant_missing_scopes)),
}) if {
	count(grant_missing_scopes) > 0
} else := deny("insufficient scope", {
	"error": "insufficient_scope",
	"scope": concat(" ", sort(missing_scopes)),
}) if {
	count(missing_scopes) > 0
} else := deny("insufficient permissions", {
	"error": "insufficient_scope",
	"permissions": concat(" ", sort(missing_permissions)),
}) if {
	count(missing_permissions) > 0
} else := {"allow": true, "status": 200, "reason": "allowed"}
