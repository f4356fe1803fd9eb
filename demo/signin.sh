#!/usr/bin/env bash
# Signs a demo user in to the demo from Caddyfile.example, with the
# authorization code flow and PKCE, and calls the protected demo API with
# the user's token.
#
#   demo/signin.sh          seeds the demo (an RBAC API, a role, a user and a
#                           public client) and prints the login page's URL
#   demo/signin.sh <code>   exchanges the code the browser came back with and
#                           calls the API: the upstream answers with the user's
#                           identity headers
#
# Environment: PORTCULLIS_AS (default https://localhost:8443), PORTCULLIS_API
# (https://localhost:9443), PORTCULLIS_APP (https://localhost:7443, the demo
# app's callback), PORTCULLIS_DATA (./data: Caddy's root certificate and this
# script's state), PORTCULLIS_ADMIN_CLIENT_ID and _SECRET (the demo admin).
set -euo pipefail

AS=${PORTCULLIS_AS:-https://localhost:8443}
API=${PORTCULLIS_API:-https://localhost:9443}
APP=${PORTCULLIS_APP:-https://localhost:7443}
DATA=${PORTCULLIS_DATA:-./data}
CA=$DATA/caddy/pki/authorities/local/root.crt
STATE=$DATA/demo-signin
ADMIN_ID=${PORTCULLIS_ADMIN_CLIENT_ID:-demo-admin}
ADMIN_SECRET=${PORTCULLIS_ADMIN_CLIENT_SECRET:-demo-admin-secret-0123456789abcdef-not-for-production}
ORDERS=https://api.example.com/orders
EMAIL=demo@example.com
PASSWORD=demo-password-not-for-production
CALLBACK=$APP/callback

field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
urlencode() { printf %s "$1" | sed 's|%|%25|g; s|:|%3A|g; s|/|%2F|g; s| |%20|g'; }
mkdir -p "$STATE"

if [ $# -eq 0 ]; then
	ADMIN=$(curl -sf --cacert "$CA" "$AS/oauth/token" -d grant_type=client_credentials \
		-d audience="$AS/api/v2/" -d client_id="$ADMIN_ID" -d client_secret="$ADMIN_SECRET" | field access_token)
	mgmt() { curl -s --cacert "$CA" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "$@"; }

	# The orders API with RBAC: user tokens get the requested permissions
	# the user holds, and a permissions claim.
	mgmt "$AS/api/v2/resource-servers" -o /dev/null -d '{"name":"Orders","identifier":"'$ORDERS'",
		"scopes":[{"value":"read:orders","description":"See your orders"},{"value":"create:orders","description":"Place orders"},{"value":"delete:orders","description":"Cancel orders"}]}'
	mgmt -X PATCH "$AS/api/v2/resource-servers/$(urlencode "$ORDERS")" -o /dev/null \
		-d '{"enforce_policies":true,"token_dialect":"access_token_authz","allow_offline_access":true}'

	# A role with two of the three permissions, and a user who has it.
	mgmt "$AS/api/v2/roles" -o /dev/null -d '{"name":"demo-order-clerk","description":"Reads and places orders"}'
	ROLE=$(mgmt "$AS/api/v2/roles?per_page=100" | sed -n 's/.*"id":"\([^"]*\)","name":"demo-order-clerk".*/\1/p')
	mgmt "$AS/api/v2/roles/$ROLE/permissions" -o /dev/null -d '{"permissions":[
		{"resource_server_identifier":"'$ORDERS'","permission_name":"read:orders"},
		{"resource_server_identifier":"'$ORDERS'","permission_name":"create:orders"}]}'
	mgmt "$AS/api/v2/users" -o /dev/null -d '{"connection":"Username-Password-Authentication","email":"'$EMAIL'","password":"'$PASSWORD'","name":"Demo User"}'
	USER=$(mgmt "$AS/api/v2/users?per_page=100" | sed -n 's/.*"user_id":"\([^"]*\)","email":"'$EMAIL'".*/\1/p')
	mgmt "$AS/api/v2/users/$USER/roles" -o /dev/null -d '{"roles":["'$ROLE'"]}'

	# A public client (a single-page app) that uses PKCE instead of a secret.
	mgmt "$AS/api/v2/clients" -o /dev/null -d '{"name":"Demo app","app_type":"spa","callbacks":["'$CALLBACK'"]}'
	CLIENT=$(mgmt "$AS/api/v2/clients?per_page=100" | sed -n 's/.*"client_id":"\([^"]*\)","name":"Demo app".*/\1/p')

	VERIFIER=$(openssl rand 32 | b64url)
	CHALLENGE=$(printf %s "$VERIFIER" | openssl dgst -sha256 -binary | b64url)
	printf '%s\n%s\n' "$CLIENT" "$VERIFIER" >"$STATE/pending"
	echo "Open this URL in a browser and sign in as $EMAIL with the password $PASSWORD:"
	echo
	echo "$AS/authorize?response_type=code&client_id=$CLIENT&redirect_uri=$(urlencode "$CALLBACK")&scope=$(urlencode "openid profile email read:orders create:orders delete:orders")&audience=$(urlencode "$ORDERS")&state=demo&code_challenge=$CHALLENGE&code_challenge_method=S256"
	echo
	echo "Then run: demo/signin.sh <the code the page shows>"
	exit 0
fi

{ read -r CLIENT; read -r VERIFIER; } <"$STATE/pending"
RESPONSE=$(curl -s --cacert "$CA" "$AS/oauth/token" -d grant_type=authorization_code -d client_id="$CLIENT" \
	-d code="$1" -d code_verifier="$VERIFIER" -d redirect_uri="$CALLBACK")
TOKEN=$(printf %s "$RESPONSE" | field access_token)
if [ -z "$TOKEN" ]; then
	echo "The code exchange was refused: $RESPONSE" >&2
	exit 1
fi
echo "Granted scope: $(printf %s "$RESPONSE" | field scope)"
echo
echo "GET $API/orders/1 with the user's token:"
curl -s --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$API/orders/1"
echo
echo
echo "DELETE $API/orders/1 (the user lacks delete:orders):"
curl -s -o /dev/null -w '%{http_code} %header{www-authenticate}\n' --cacert "$CA" -X DELETE -H "Authorization: Bearer $TOKEN" "$API/orders/1"
