#!/usr/bin/env bash
# The edge's cost, in one run. One Caddy process serves the authorization
# server, an upstream, and two routes to that upstream: /plain/ through
# reverse_proxy alone, /protected/ through bearer_auth (default policy, M2M
# token, live client grant, decision logs on) then reverse_proxy. wrk, on
# the same cores, loads them over HTTPS with keep-alive, in interleaved
# rounds of three runs:
#
#   plain     /plain/, the baseline
#   cached    /protected/ with one token (in the edge's token cache)
#   rotating  /protected/ with TOKENS tokens (default 60000, minted through
#             the real token endpoint) sent in turn, so that every request
#             brings a token the cache (10000 entries) no longer holds
#
# For each run it reads the Caddy process's CPU time (utime + stime of
# /proc/<pid>/stat) before and after, and divides by the requests. It prints
# each round, then per case the median of the rounds with min–max of: the
# request rate, the ratio to the same round's plain rate, and the server CPU
# µs per request added to plain's.
#
# Environment: DURATION seconds per run (10), ROUNDS (5), CONNECTIONS (32),
# THREADS wrk threads (2), TOKENS (60000), WARMUP seconds (3),
# AS_PORT EDGE_PORT UPSTREAM_PORT (default: free ports), PORTCULLIS_BIN (a
# built binary; default: go build), PROFILE (a directory: during the first
# round, a CPU profile of the Caddy process per case, <case>.pprof, taken
# through Caddy's admin endpoint on a free port; read it with go tool
# pprof). Smoke test: DURATION=2 ROUNDS=1 TOKENS=2000.
# Installs wrk from Debian's packages when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10}
rounds=${ROUNDS:-5}
connections=${CONNECTIONS:-32}
threads=${THREADS:-2}
ntokens=${TOKENS:-60000}
warmup=${WARMUP:-3}

if ! command -v wrk >/dev/null 2>&1; then
	apt-get update >/dev/null
	apt-get install -y --no-install-recommends wrk >/dev/null
fi

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
edge_port=${EDGE_PORT:-$(free_port)}
up_port=${UPSTREAM_PORT:-$(free_port)}
admin_addr=off
if [ -n "${PROFILE:-}" ]; then
	mkdir -p "$PROFILE"
	admin_port=$(free_port)
	admin_addr=localhost:$admin_port
fi

work=$(mktemp -d)
pid=
wrkpid=
cleanup() {
	[ -z "$wrkpid" ] || kill "$wrkpid" 2>/dev/null || true
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bin=${PORTCULLIS_BIN:-}
if [ -z "$bin" ]; then
	bin=$work/portcullis
	go build -o "$bin" ./cmd/portcullis
fi

secret=bench-admin-secret-0123456789abcdefghijkl
as=https://localhost:$as_port
api=https://bench.example.com/
cat >"$work/Caddyfile" <<EOF
{
	storage file_system $work/caddy
	admin $admin_addr
	skip_install_trust
	auto_https disable_redirects
	servers {
		protocols h1 h2
	}
	portcullis {
		issuer $as/
		storage sqlite $work/portcullis.db
		bootstrap_admin bench-admin $secret
		# The minting sends far more than a minute's allowance.
		rate_limits {
			token_per_ip off
			token_per_client off
		}
	}
}
$as {
	tls internal
	authorization_server
}
https://localhost:$edge_port {
	tls internal
	handle /plain/* {
		reverse_proxy 127.0.0.1:$up_port
	}
	handle /protected/* {
		bearer_auth {
			audience $api
			scopes GET /protected/* read:bench
		}
		reverse_proxy 127.0.0.1:$up_port
	}
}
http://127.0.0.1:$up_port {
	bind 127.0.0.1
	respond "ok" 200
}
EOF
"$bin" run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
pid=$!
ca=$work/caddy/pki/authorities/local/root.crt
for i in $(seq 1 300); do
	curl -sf -o /dev/null --cacert "$ca" "$as/.well-known/jwks.json" 2>/dev/null && break
	if ! kill -0 "$pid" 2>/dev/null || [ "$i" = 300 ]; then
		echo "Caddy did not start:" >&2
		tail -20 "$work/caddy.log" >&2
		exit 1
	fi
	sleep 0.2
done

json() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
admin=$(curl -sf --cacert "$ca" "$as/oauth/token" -d grant_type=client_credentials -d "audience=$as/api/v2/" \
	-d client_id=bench-admin -d client_secret=$secret | json access_token)
mgmt() { curl -sf --cacert "$ca" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' "$@"; }
mgmt "$as/api/v2/resource-servers" -d "{\"identifier\":\"$api\",\"signing_alg\":\"ES256\",\"scopes\":[{\"value\":\"read:bench\"}]}" >/dev/null
client=$(mgmt "$as/api/v2/clients" -d '{"name":"bench","app_type":"non_interactive"}')
id=$(echo "$client" | json client_id)
sec=$(echo "$client" | json client_secret)
mgmt "$as/api/v2/client-grants" -d "{\"client_id\":\"$id\",\"audience\":\"$api\",\"scope\":[\"read:bench\"]}" >/dev/null
form="grant_type=client_credentials&client_id=$id&client_secret=$sec&audience=$api"

# The tokens, through the token endpoint: wrk runs until every thread has
# its share.
per_thread=$(((ntokens + threads - 1) / threads))
echo "minting $ntokens tokens through $as/oauth/token ..." >&2
wrk -t"$threads" -c"$connections" -d600s -s bench/post.lua "$as/oauth/token" -- "$form" "$work/minted" "$per_thread" >"$work/mint.out" &
wrkpid=$!
while [ "$(find "$work" -maxdepth 1 -name 'minted.*.done' | wc -l)" -lt "$threads" ]; do
	if ! kill -0 "$wrkpid" 2>/dev/null; then
		echo "minting stopped early:" >&2
		cat "$work/mint.out" >&2
		exit 1
	fi
	sleep 0.5
done
kill -INT "$wrkpid"
wait "$wrkpid" || true
wrkpid=
cat "$work"/minted.? "$work"/minted.?? 2>/dev/null | head -n "$ntokens" >"$work/rotating.txt" || true
[ "$(sort -u "$work/rotating.txt" | wc -l)" = "$ntokens" ] || {
	echo "expected $ntokens distinct tokens" >&2
	exit 1
}
head -n 1 "$work/rotating.txt" >"$work/cached.txt"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -H "Authorization: Bearer $(cat "$work/cached.txt")" \
	"https://localhost:$edge_port/protected/x")
[ "$code" = 200 ] || {
	echo "the protected route answers $code, not 200" >&2
	exit 1
}

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

# run <case> <path> <token file> <seconds> [profile file]: prints "<req/s>
# <requests> <CPU µs per request>".
run() {
	local before after out requests rate bad profiler=
	if [ -n "${5:-}" ]; then
		curl -sf -o "$5" "http://$admin_addr/debug/pprof/profile?seconds=$(($4 > 2 ? $4 - 1 : 1))" &
		profiler=$!
	fi
	before=$(cpu_ticks)
	out=$(wrk -t"$threads" -c"$connections" -d"$4s" -s bench/bearer.lua "https://localhost:$edge_port/$2/x" -- "$3" "$threads")
	after=$(cpu_ticks)
	[ -z "$profiler" ] || wait "$profiler"
	requests=$(echo "$out" | awk '/ requests in / {print $1}')
	rate=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
	bad=$(echo "$out" | awk '/Non-2xx or 3xx responses/ {print $NF}')
	if [ -n "$bad" ] || [ -z "$requests" ] || [ "$requests" = 0 ]; then
		echo "$1: $requests requests, ${bad:-0} not 2xx:" >&2
		echo "$out" >&2
		exit 1
	fi
	echo "$rate $requests $(echo "($after - $before) * 1000000 / $hz / $requests" | bc -l)"
}

run cached protected "$work/cached.txt" "$warmup" >/dev/null
results=$work/results
: >"$results"
for r in $(seq 1 "$rounds"); do
	line="round $r:"
	for c in plain cached rotating; do
		case $c in
		plain) set -- plain "$work/cached.txt" ;;
		cached) set -- protected "$work/cached.txt" ;;
		rotating) set -- protected "$work/rotating.txt" ;;
		esac
		profile=
		[ -z "${PROFILE:-}" ] || [ "$r" != 1 ] || profile=$PROFILE/$c.pprof
		res=$(run "$c" "$1" "$2" "$duration" $profile)
		echo "$r $c $res" >>"$results"
		line="$line $c $(echo "$res" | awk '{printf "%.0f req/s %.1f µs CPU/req", $1, $3}'),"
	done
	echo "${line%,}"
done

# stats <values...>: "median (min–max)" with a printf format.
stats() {
	local f=$1
	shift
	printf '%s\n' "$@" | sort -g | awk -v f="$f" '{a[NR] = $1}
		END {m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			printf f " (" f "–" f ")", m, a[1], a[NR]}'
}
echo
echo "$connections connections, $threads wrk threads, ${duration}s runs, median of $rounds rounds (min–max); $(nproc) CPUs"
mapfile -t plain < <(awk '$2 == "plain" {print $3}' "$results")
echo "plain reverse_proxy: $(stats %.0f "${plain[@]}") req/s"
for c in cached rotating; do
	mapfile -t rate < <(awk -v c=$c '$2 == c {print $3}' "$results")
	mapfile -t ratio < <(awk -v c=$c '$2 == "plain" {p[$1] = $3} $2 == c {print $3 / p[$1]}' "$results")
	mapfile -t cpu < <(awk -v c=$c '$2 == "plain" {p[$1] = $5} $2 == c {print $5 - p[$1]}' "$results")
	echo "bearer_auth $c: $(stats %.0f "${rate[@]}") req/s, ratio $(stats %.3f "${ratio[@]}"), added CPU $(stats %.1f "${cpu[@]}") µs/request"
done
