#!/usr/bin/env bash
# Token issuance end to end, in one run. One Caddy process serves the
# authorization server with a static `respond` route on the same site (the
# HTTPS ceiling: a POST answered with a body of a token response's size);
# node oidc-provider (bench/oidc-provider, one worker per CPU) serves the
# same grant. wrk, on the same cores, saturates each over HTTPS with
# keep-alive, in interleaved rounds of five runs:
#
#   ES256, RS256                 client_credentials at our token endpoint
#   static                       the respond route
#   node ES256, node RS256       client_credentials at oidc-provider
#
# Before the rounds, Go's bare-signature limit on this machine: jws.Sign of
# the same claims with the same key on every CPU at once
# (BenchmarkClientCredentials/<alg>/bare_signature_parallel), in signatures/s.
# It prints each round, then per case the median of the rounds with min–max
# of the rate and of p50 and p99 latency (wrk --latency), the ratios
# token/static and ours/oidc-provider per round (medians), and the token
# rate against the signature limit.
#
# Environment: DURATION seconds per run (10), ROUNDS (3), CONNECTIONS (32),
# THREADS wrk threads (2), SIGN_BENCHTIME (3s), AS_PORT NODE_PORT (default:
# free ports), PORTCULLIS_BIN (a built binary; default: go build). Smoke
# test: DURATION=2 ROUNDS=1 SIGN_BENCHTIME=200ms.
# Installs wrk from Debian's packages when it is missing, and oidc-provider
# with npm ci when bench/oidc-provider/node_modules is.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10}
rounds=${ROUNDS:-3}
connections=${CONNECTIONS:-32}
threads=${THREADS:-2}
signtime=${SIGN_BENCHTIME:-3s}

if ! command -v wrk >/dev/null 2>&1; then
	apt-get update >/dev/null
	apt-get install -y --no-install-recommends wrk >/dev/null
fi
[ -d bench/oidc-provider/node_modules ] || (cd bench/oidc-provider && npm ci --no-audit --no-fund >/dev/null)

# free_port prints a port nothing on 127.0.0.1 listens on and that no
# earlier call printed.
taken=" "
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		case $taken in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			taken="$taken$p "
			echo "$p"
			return
		fi
	done
}
as_port=${AS_PORT:-$(free_port)}
node_port=${NODE_PORT:-$(free_port)}

work=$(mktemp -d)
pid=
nodepid=
cleanup() {
	for p in $pid $nodepid; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "Go's signature limit (go test -bench, every CPU) ..." >&2
go test -run '^$' -bench 'BenchmarkClientCredentials/.*/bare_signature_parallel' -benchtime "$signtime" ./authserver/ >"$work/sign.out"
sigrate() { awk -v a="$1" '$1 ~ "/" a "/bare_signature_parallel" {for (i = 1; i < NF; i++) if ($(i + 1) == "signatures/s") print $i}' "$work/sign.out"; }
sig_ES256=$(sigrate ES256)
sig_RS256=$(sigrate RS256)
[ -n "$sig_ES256" ] && [ -n "$sig_RS256" ] || {
	cat "$work/sign.out" >&2
	exit 1
}

bin=${PORTCULLIS_BIN:-}
if [ -z "$bin" ]; then
	bin=$work/portcullis
	go build -o "$bin" ./cmd/portcullis
fi

secret=bench-admin-secret-0123456789abcdefghijkl
as=https://localhost:$as_port
# A token response's size (ES256), for the static route.
static=$(printf '{"access_token":"%0600d","token_type":"Bearer","expires_in":86400,"scope":"read:bench"}' 0)
cat >"$work/Caddyfile" <<EOF
{
	storage file_system $work/caddy
	admin off
	skip_install_trust
	auto_https disable_redirects
	servers {
		protocols h1 h2
	}
	portcullis {
		issuer $as/
		storage sqlite $work/portcullis.db
		bootstrap_admin bench-admin $secret
		# Saturation sends far more than a minute's allowance.
		rate_limits {
			token_per_ip off
			token_per_client off
		}
	}
}
$as {
	tls internal
	handle /static {
		header Content-Type application/json
		respond \`$static\` 200
	}
	handle {
		authorization_server
	}
}
EOF
"$bin" run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
pid=$!

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -keyout "$work/node.key" -out "$work/node.crt" 2>/dev/null
node_secret=bench-secret-0123456789abcdefghijklmnop
(cd bench/oidc-provider && PORT=$node_port ISSUER=https://localhost:$node_port TLS_CERT=$work/node.crt \
	TLS_KEY=$work/node.key CLIENT_ID=bench CLIENT_SECRET=$node_secret exec node server.js) >"$work/node.log" 2>&1 &
nodepid=$!

ca=$work/caddy/pki/authorities/local/root.crt
# wait_for <pid> <log> <curl arguments...>
wait_for() {
	local p=$1 log=$2 i
	shift 2
	for i in $(seq 1 300); do
		curl -sf -o /dev/null "$@" 2>/dev/null && return
		if ! kill -0 "$p" 2>/dev/null || [ "$i" = 300 ]; then
			echo "$log: did not start:" >&2
			tail -20 "$log" >&2
			exit 1
		fi
		sleep 0.2
	done
}
wait_for "$pid" "$work/caddy.log" --cacert "$ca" "$as/.well-known/jwks.json"
wait_for "$nodepid" "$work/node.log" --cacert "$work/node.crt" "https://localhost:$node_port/.well-known/openid-configuration"

json() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
admin=$(curl -sf --cacert "$ca" "$as/oauth/token" -d grant_type=client_credentials -d "audience=$as/api/v2/" \
	-d client_id=bench-admin -d client_secret=$secret | json access_token)
mgmt() { curl -sf --cacert "$ca" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' "$@"; }
client=$(mgmt "$as/api/v2/clients" -d '{"name":"bench","app_type":"non_interactive"}')
id=$(echo "$client" | json client_id)
sec=$(echo "$client" | json client_secret)
for alg in ES256 RS256; do
	api=https://${alg,,}.bench.example.com/
	mgmt "$as/api/v2/resource-servers" -d "{\"identifier\":\"$api\",\"signing_alg\":\"$alg\",\"scopes\":[{\"value\":\"read:bench\"}]}" >/dev/null
	mgmt "$as/api/v2/client-grants" -d "{\"client_id\":\"$id\",\"audience\":\"$api\",\"scope\":[\"read:bench\"]}" >/dev/null
done

# target <case>: the URL and form body of a case, one a line.
target() {
	case $1 in
	ES256 | RS256) printf '%s\n%s\n' "$as/oauth/token" \
		"grant_type=client_credentials&client_id=$id&client_secret=$sec&audience=https://${1,,}.bench.example.com/&scope=read:bench" ;;
	static) printf '%s\n%s\n' "$as/static" "grant_type=client_credentials&client_id=$id&client_secret=$sec" ;;
	node-*) printf '%s\n%s\n' "https://localhost:$node_port/token" \
		"grant_type=client_credentials&client_id=bench&client_secret=$node_secret&resource=https://$(echo "${1#node-}" | tr A-Z a-z).bench.example.com/&scope=read:bench" ;;
	esac
}
cat "$ca" "$work/node.crt" >"$work/cas.pem"
cases="ES256 RS256 static node-ES256 node-RS256"
for c in $cases; do
	{
		read -r url
		read -r body
	} < <(target "$c")
	answer=$(curl -sS --http1.1 --cacert "$work/cas.pem" "$url" -d "$body" 2>&1) || true # HTTP/1.1, as wrk
	case $answer in
	*'"token_type":"Bearer"'*) ;;
	*)
		echo "$c: $url does not answer a token response: $answer" >&2
		exit 1
		;;
	esac
done

# run <case> <seconds>: prints "<req/s> <p50 ms> <p99 ms>".
run() {
	local out url body bad
	{
		read -r url
		read -r body
	} < <(target "$1")
	out=$(wrk -t"$threads" -c"$connections" -d"$2s" --latency -s bench/post.lua "$url" -- "$body")
	bad=$(echo "$out" | awk '/Non-2xx or 3xx responses/ {print $NF}')
	if [ -n "$bad" ] || ! echo "$out" | grep -q '^Requests/sec'; then
		echo "$1: ${bad:-no} responses not 2xx:" >&2
		echo "$out" >&2
		exit 1
	fi
	echo "$out" | awk '
		function ms(v) {
			if (v ~ /us$/) return v / 1000
			if (v ~ /ms$/) return v + 0
			if (v ~ /m$/) return v * 60000
			return v * 1000
		}
		/^Requests\/sec/ {rate = $2}
		$1 == "50%" {p50 = ms($2)}
		$1 == "99%" {p99 = ms($2)}
		END {print rate, p50, p99}'
}

results=$work/results
: >"$results"
for c in $cases; do run "$c" 1 >/dev/null; done # warm-up
for r in $(seq 1 "$rounds"); do
	line="round $r:"
	for c in $cases; do
		res=$(run "$c" "$duration")
		echo "$r $c $res" >>"$results"
		line="$line $c $(echo "$res" | awk '{printf "%.0f/s p50 %.2f p99 %.2f ms", $1, $2, $3}'),"
	done
	echo "${line%,}"
done

# stats <format> <values...>: "median (min–max)".
stats() {
	local f=$1
	shift
	printf '%s\n' "$@" | sort -g | awk -v f="$f" '{a[NR] = $1}
		END {m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			printf f " (" f "–" f ")", m, a[1], a[NR]}'
}
# column <case> <field>: that field of every round.
column() { awk -v c="$1" -v f="$2" '$2 == c {print $f}' "$results"; }
# ratio <case> <case>: the first case's rate over the second's, per round.
ratio() { awk -v a="$1" -v b="$2" '$2 == a {x[$1] = $3} $2 == b {y[$1] = $3} END {for (r in x) print x[r] / y[r]}' "$results"; }

echo
echo "$connections connections, $threads wrk threads, ${duration}s runs, median of $rounds rounds (min–max); $(nproc) CPUs"
for c in $cases; do
	mapfile -t rate < <(column "$c" 3)
	mapfile -t p50 < <(column "$c" 4)
	mapfile -t p99 < <(column "$c" 5)
	mapfile -t tail < <(awk -v c="$c" '$2 == c {print $5 / $4}' "$results")
	echo "$c: $(stats %.0f "${rate[@]}") req/s, p50 $(stats %.2f "${p50[@]}") ms, p99 $(stats %.2f "${p99[@]}") ms, p99/p50 $(stats %.1f "${tail[@]}")"
done
for alg in ES256 RS256; do
	mapfile -t st < <(ratio "$alg" static)
	mapfile -t nd < <(ratio "$alg" "node-$alg")
	mapfile -t rate < <(column "$alg" 3)
	sig=sig_$alg
	echo "$alg: Go signature limit ${!sig} signatures/s; token endpoint/limit $(stats %.3f "$(printf '%s\n' "${rate[@]}" | awk -v s="${!sig}" '{print $1 / s}')"), token/static $(stats %.3f "${st[@]}"), ours/oidc-provider $(stats %.2f "${nd[@]}")"
done
