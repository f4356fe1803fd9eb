#!/usr/bin/env bash
# Token issuance against the bare signature of the same claims, in one run.
# Prints the mean ns/op of each and their ratio per algorithm.
# Usage: bench/issuance.sh [count]   (default 5 runs of each benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5}
go test -run '^$' -bench 'BenchmarkClientCredentials' -benchtime 2s -count "$count" ./authserver/ |
	tee /dev/stderr |
	awk '
	/^BenchmarkClientCredentials\// {
		split($1, name, "/"); alg = name[2]; kind = name[3]; sub(/-[0-9]+$/, "", kind)
		sum[alg "/" kind] += $3; n[alg "/" kind]++
	}
	END {
		split("RS256 ES256", algs, " ")
		for (i = 1; i <= 2; i++) {
			a = algs[i]
			iss = sum[a "/issuance"] / n[a "/issuance"]; bare = sum[a "/bare_signature"] / n[a "/bare_signature"]
			printf "%s: issuance %.0f ns/op, bare signature %.0f ns/op, ratio %.2f\n", a, iss, bare, iss / bare
		}
	}'
