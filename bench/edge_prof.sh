#!/usr/bin/env bash
# The edge's cost: one Caddy process serves two routes to the same upstream,
# /plain/ through reverse_proxy alone and /protected/ through bearer_auth
# (default policy, M2M token, live client grant) then reverse_proxy. wrk
# loads each in turn; the script prints both request rates and their ratio.
#
# Usage: bench/edge.sh [seconds per run] [rounds]   (default 10 s, 3 rounds)
# Installs wrk from Debian's packages when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
rounds=${2:-3}
connections=${CONNECTIONS:-32}

if ! command -v wrk >/dev/null 2>&1; then
	apt-get update >/dev/null
	apt-get install -y --no-install-recommends wrk >/dev/null
fi

work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/portcullis" ./cmd/portcullis

secret=bench-admin-secret-0123456789abcdefghijkl
cat >"$work/Caddyfile" <<EOF
{
	storage file_system $work/caddy
	admin localhost:2999
	skip_install_trust
	auto_https disable_redirects
	servers {
		protocols h1 h2
	}
	portcullis {
		issuer https://localhost:18443/
		storage sqlite $work/portcullis.db
		bootstrap_admin bench-admin $secret
	}
}
https://localhost:18443 {
	tls internal
	authorization_server
}
https://localhost:19443 {
	tls internal
	handle /plain/* {
		reverse_proxy 127.0.0.1:19080
	}
	handle /protected/* {
		bearer_auth {
			audience https://bench.example.com/
			scopes GET /protected/* read:bench
		}
		reverse_proxy 127.0.0.1:19080
	}
}
http://:19080 {
	bind 127.0.0.1
	respond "ok" 200
}
EOF
"$work/portcullis" run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
pid=$!
ca=$work/caddy/pki/authorities/local/root.crt
for _ in $(seq 1 100); do
	curl -sf -o /dev/null --cacert "$ca" https://localhost:18443/.well-known/jwks.json 2>/dev/null && break
	sleep 0.2
done

json() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
as=https://localhost:18443
admin=$(curl -sf --cacert "$ca" $as/oauth/token -d grant_type=client_credentials -d audience=$as/api/v2/ \
	-d client_id=bench-admin -d client_secret=$secret | json access_token)
mgmt() { curl -sf --cacert "$ca" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' "$@"; }
mgmt $as/api/v2/resource-servers -d '{"identifier":"https://bench.example.com/","signing_alg":"ES256","scopes":[{"value":"read:bench"}]}' >/dev/null
client=$(mgmt $as/api/v2/clients -d '{"name":"bench","app_type":"non_interactive"}')
id=$(echo "$client" | json client_id)
sec=$(echo "$client" | json client_secret)
mgmt $as/api/v2/client-grants -d "{\"client_id\":\"$id\",\"audience\":\"https://bench.example.com/\",\"scope\":[\"read:bench\"]}" >/dev/null
token=$(curl -sf --cacert "$ca" $as/oauth/token -d grant_type=client_credentials -d client_id="$id" -d client_secret="$sec" \
	-d audience=https://bench.example.com/ | json access_token)
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -H "Authorization: Bearer $token" https://localhost:19443/protected/x)" = 200 ] || {
	echo "the protected route does not answer 200" >&2
	exit 1
}

rate() { # route -> requests/s
	wrk -t2 -c"$connections" -d"${seconds}s" -H "Authorization: Bearer $token" "https://localhost:19443/$1/x" |
		awk '/^Requests\/sec/ {print $2}'
}
(sleep 2; curl -s -o /tmp/caddy.prof "http://localhost:2999/debug/pprof/profile?seconds=5") & 
plain=0
protected=0
q=$(rate protected); echo "protected $q"; wait; exit 0
for r in $(seq 1 "$rounds"); do
	p=$(rate plain)
	q=$(rate protected)
	echo "round $r: plain $p req/s, protected $q req/s"
	plain=$(echo "$plain + $p" | bc -l)
	protected=$(echo "$protected + $q" | bc -l)
done
printf 'plain reverse_proxy: %.0f req/s\nbearer_auth + reverse_proxy: %.0f req/s\nratio: %.3f\n' \
	"$(echo "$plain / $rounds" | bc -l)" "$(echo "$protected / $rounds" | bc -l)" "$(echo "$protected / $plain" | bc -l)"
