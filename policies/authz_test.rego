package portcullis.authz_test

import data.portcullis.authz

# A user token with two scopes and one permission, on a route needing one
# scope.
base := {
	"request": {"method": "GET", "path": "/orders/1", "host": "api.example.com", "headers": {}, "query": {}},
	"token": {
		"claims": {}, "subject": "auth0|alice", "client_id": "app1", "issuer": "https://auth.example.com/",
		"scopes": ["read:orders", "create:orders"], "permissions": ["delete:orders"],
		"is_m2m": false, "subject_type": "user", "local_issuer": true, "cert_thumbprint": "",
	},
	"route": {"required_scopes": ["read:orders"], "required_permissions": []},
	"client_grant": null,
	"client_cert": null,
}

m2m := object.union(base, {"token": object.union(base.token, {"subject": "c1@clients", "client_id": "c1", "is_m2m": true, "subject_type": "client"})})

grant(scopes) := {"id": "cgr_1", "client_id": "c1", "audience": "https://api.example.com", "scopes": scopes, "allow_all_scopes": false}

test_allows_token_with_required_scope if {
	authz.decision.allow with input as base
	authz.decision.reason == "allowed" with input as base
}

test_allows_route_without_requirements if {
	authz.decision.allow with input as object.union(base, {"route": {"required_scopes": [], "required_permissions": []}})
}

test_denies_missing_scope_naming_it if {
	inp := object.union(base, {"route": {"required_scopes": ["read:orders", "ship:orders", "bill:orders"], "required_permissions": []}})
	d := authz.decision with input as inp
	not d.allow
	d.status == 403
	d.error == "insufficient_scope"
	d.scope == "bill:orders ship:orders"
}

test_needs_every_listed_scope if {
	inp := object.union(base, {"route": {"required_scopes": ["read:orders", "create:orders"], "required_permissions": []}})
	authz.decision.allow with input as inp
	short := object.union(inp, {"token": object.union(base.token, {"scopes": ["read:orders"]})})
	not authz.decision.allow with input as short
}

test_allows_rbac_permission if {
	inp := object.union(base, {"route": {"required_scopes": [], "required_permissions": ["delete:orders"]}})
	authz.decision.allow with input as inp
}

test_denies_missing_permission if {
	inp := object.union(base, {"route": {"required_scopes": [], "required_permissions": ["refund:orders"]}})
	d := authz.decision with input as inp
	not d.allow
	d.status == 403
	d.reason == "insufficient permissions"
	d.permissions == "refund:orders"
}

test_a_scope_is_not_a_permission if {
	inp := object.union(base, {"route": {"required_scopes": [], "required_permissions": ["read:orders"]}})
	not authz.decision.allow with input as inp
}

test_m2m_token_needs_a_live_grant if {
	d := authz.decision with input as m2m
	not d.allow
	d.reason == "client grant revoked"
}

test_m2m_token_with_covering_grant if {
	authz.decision.allow with input as object.union(m2m, {"client_grant": grant(["read:orders"])})
}

test_m2m_grant_that_lost_the_scope if {
	d := authz.decision with input as object.union(m2m, {"client_grant": grant(["create:orders"])})
	not d.allow
	d.reason == "client grant no longer covers the route"
	d.scope == "read:orders"
}

test_m2m_grant_that_lost_a_permission if {
	inp := object.union(m2m, {
		"token": object.union(m2m.token, {"permissions": ["read:orders", "delete:orders"]}),
		"client_grant": grant(["read:orders"]),
		"route": {"required_scopes": [], "required_permissions": ["delete:orders"]},
	})
	d := authz.decision with input as inp
	not d.allow
	d.status == 403
	d.reason == "client grant no longer covers the route"
	d.error == "insufficient_scope"
	d.permissions == "delete:orders"
	d.scope == ""
}

test_m2m_grant_covering_a_permission if {
	inp := object.union(m2m, {
		"token": object.union(m2m.token, {"permissions": ["delete:orders"]}),
		"client_grant": grant(["delete:orders"]),
		"route": {"required_scopes": [], "required_permissions": ["delete:orders"]},
	})
	authz.decision.allow with input as inp
}

test_m2m_grant_does_not_replace_token_permissions if {
	inp := object.union(m2m, {
		"client_grant": grant(["read:orders", "refund:orders"]),
		"route": {"required_scopes": [], "required_permissions": ["refund:orders"]},
	})
	d := authz.decision with input as inp
	not d.allow
	d.reason == "insufficient permissions"
}

test_user_token_permissions_are_not_grant_checked if {
	inp := object.union(base, {"route": {"required_scopes": [], "required_permissions": ["delete:orders"]}})
	authz.decision.allow with input as inp
}

test_m2m_grant_does_not_replace_token_scopes if {
	inp := object.union(m2m, {
		"client_grant": grant(["read:orders", "ship:orders"]),
		"route": {"required_scopes": ["ship:orders"], "required_permissions": []},
	})
	d := authz.decision with input as inp
	not d.allow
	d.reason == "insufficient scope"
}

test_remote_m2m_token_is_not_grant_checked if {
	remote := object.union(m2m, {"token": object.union(m2m.token, {"local_issuer": false})})
	authz.decision.allow with input as remote
}

test_user_token_is_not_grant_checked if {
	authz.decision.allow with input as base
}

cert(thumbprint) := {
	"present": true, "verified": true, "fingerprint": "ab", "thumbprint": thumbprint,
	"subject": "CN=client", "dns_names": [], "uris": [], "not_after": 1900000000,
}

bound := object.union(base, {"token": object.union(base.token, {"cert_thumbprint": "t1"})})

test_bound_token_with_its_certificate if {
	authz.decision.allow with input as object.union(bound, {"client_cert": cert("t1")})
}

test_bound_token_without_a_certificate if {
	d := authz.decision with input as bound
	not d.allow
	d.status == 401
	d.error == "invalid_token"
}

test_bound_token_with_another_certificate if {
	d := authz.decision with input as object.union(bound, {"client_cert": cert("t2")})
	not d.allow
	d.status == 401
}

test_unbound_token_needs_no_certificate if {
	authz.decision.allow with input as object.union(base, {"client_cert": cert("t9")})
}

test_binding_is_checked_before_scopes if {
	inp := object.union(bound, {"route": {"required_scopes": ["ship:orders"], "required_permissions": []}})
	d := authz.decision with input as inp
	d.status == 401
}
