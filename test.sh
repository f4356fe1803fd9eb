#!/usr/bin/env bash
# Runs every test of Portcullis on a fresh machine: installs what is
# missing (Node.js, npm, Chromium, curl, openssl and PostgreSQL from
# Debian's packages, the Go modules, the npm packages of the interop tests),
# starts PostgreSQL, then vets and tests everything.
set -euo pipefail
cd "$(dirname "$0")"
# How long the whole run took, printed however it ends.
started=$SECONDS
trap 'echo "test.sh: $((SECONDS - started))s elapsed" >&2' EXIT

packages=()
if ! command -v npm >/dev/null 2>&1; then
	packages+=(nodejs npm)
fi
# The sign-in demo's script (demo/signin.sh) and its test use both.
for tool in curl openssl; do
	command -v "$tool" >/dev/null 2>&1 || packages+=("$tool")
done
# The browser tests' headless Chromium (see internal/testenv/browser.go);
# its dependencies bring the DejaVu fonts that pages render in.
if [ ! -x "${PORTCULLIS_CHROMIUM:-/usr/bin/chromium}" ]; then
	packages+=(chromium)
fi
# The PostgreSQL tests (see internal/pgtest) need a server on
# 127.0.0.1:5432 that lets user postgres in without a password.
pg_ready() {
	command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432
}
install_postgres=
if ! pg_ready && ! command -v pg_ctlcluster >/dev/null 2>&1; then
	packages+=(postgresql)
	install_postgres=1
fi
if [ ${#packages[@]} -gt 0 ]; then
	apt-get update
	apt-get install -y --no-install-recommends "${packages[@]}"
fi
if [ -n "$install_postgres" ]; then
	# A cluster just installed for the tests: trust local connections.
	for hba in /etc/postgresql/*/main/pg_hba.conf; do
		sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
	done
	pg_ctlcluster 15 main restart || service postgresql restart
elif ! pg_ready; then
	pg_ctlcluster 15 main start || service postgresql start
fi
for _ in $(seq 30); do
	pg_ready && break
	sleep 1
done
if [ -z "$(psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'")" ]; then
	createdb -h 127.0.0.1 -U postgres test
fi
export PORTCULLIS_TEST_POSTGRES="${PORTCULLIS_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
go mod download
npm ci --prefix interop/auth0-sdk --no-audit --no-fund
npm ci --prefix interop/express-oidc --no-audit --no-fund
npm ci --prefix interop/auth0-sdk-v7 --no-audit --no-fund
npm ci --prefix interop/jwt-bearer --no-audit --no-fund
npm ci --prefix interop/spa-js --no-audit --no-fund
npm ci --prefix interop/passport-auth0 --no-audit --no-fund

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path '*/node_modules/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
go vet ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
go test -count=1 ./...
# Each fuzz target for a few seconds (their seed corpora ran above as
# tests). go test -fuzz takes one target at a time and builds the package
# again for each, so each package's test binary is built once, with the
# fuzzing instrumentation, and run for each of its targets in the
# package's directory, with go test's corpus cache.
fuzzbin=$(mktemp -d)
fuzzcache="$(go env GOCACHE)/fuzz"
grep -rl --include='*_test.go' --exclude-dir=node_modules '^func Fuzz' . | xargs -n1 dirname | sort -u | while read -r dir; do
	bin="$fuzzbin/$(echo "${dir#./}" | tr / _).test"
	go test -c -fuzz=. -o "$bin" "$dir/"
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "$dir"/*_test.go); do
		(cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^$target\$" -test.fuzztime 3s -test.fuzzcachedir "$fuzzcache")
	done
done
rm -rf "$fuzzbin"
# The concurrent parts once more under the race detector; -short leaves
# out the browser and PostgreSQL tests, which ran above.
go test -count=1 -race -short -timeout 30m ./authserver/... ./authz/... ./remoteissuer/...
