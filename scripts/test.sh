#!/usr/bin/env bash
# Runs every test of the solution on a fresh machine: restores what it needs, builds, tests, and ends with
# one line "N passed, N failed" (totals over all test projects). Exit code is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

# System packages the tests use for real: Debian's Chromium drives the native EventSource test, nginx
# sits in front of Sluice in the proxy tests, promtool (package prometheus) checks the alert rules, and
# redis-server backs Sluice:Store=redis (each test starts its own on a free port and stops it by PID).
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
apt_install() {
  echo "installing $* with apt-get"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null \
    || { echo "apt-get install $* failed"; echo "0 passed, 1 failed"; exit 1; }
}
[ -x /usr/bin/chromium ] || apt_install chromium
tools=()
[ -x /usr/sbin/nginx ] || tools+=(nginx)
command -v promtool >/dev/null 2>&1 || tools+=(prometheus)
command -v redis-server >/dev/null 2>&1 || tools+=(redis-server)
command -v npm >/dev/null 2>&1 || tools+=(nodejs npm)
# Only the binaries are needed: no recommended exporters or services.
[ ${#tools[@]} -eq 0 ] || apt_install --no-install-recommends "${tools[@]}"

results=$(mktemp -d /tmp/sluice-test-results.XXXXXX)
trap 'rm -rf "$results"' EXIT

# The browser client (clients/js): its unit tests (backoff, dedupe, the state machine on a fake clock) and the check
# that the dashboard committed under src/Sluice.Http/Dashboard is what a fresh build of clients/js makes.
js_exit=0
if (cd clients/js && npm ci --no-audit --no-fund --loglevel=error >/dev/null && npx tsc -p tsconfig.test.json); then
  (cd clients/js && node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$results/js.tap" build/test/) || js_exit=1
else
  echo "clients/js: npm ci or the TypeScript build failed"
  js_exit=1
  echo "# fail 1" >"$results/js.tap"
fi

if ! dotnet build Sluice.slnx -c Release -nologo -clp:ErrorsOnly; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# The request fuzz test (RequestFuzzTests) replays the same cases in CI; run without it for fresh random ones,
# and on a failure replay the seed CsCheck prints with SLUICE_FUZZ_SEED=<seed>.
export SLUICE_FUZZ_SEED="${SLUICE_FUZZ_SEED:-92lOciYLc4H1}"

dotnet test Sluice.slnx -c Release --no-build -nologo \
  --logger "trx" --logger "console;verbosity=minimal" --results-directory "$results"
test_exit=$?

# The functional suite once more with every server it starts on Sluice:Store=redis (one redis-server for the
# run, a key prefix per server). Left out: what is about SQLite's file or another process's default store
# (data directory permissions and schema, the SQLite writer, README commands, the process tests, which start
# their own Redis where they need one).
SLUICE_TEST_STORE=redis dotnet test tests/Sluice.Server.FunctionalTests -c Release --no-build -nologo \
  --filter "FullyQualifiedName!~DataDirectoryTests&FullyQualifiedName!~ReadmeTests&FullyQualifiedName!~ProcessTests&FullyQualifiedName!~TheSqliteWriter" \
  --logger "trx;LogFileName=functional-on-redis.trx" --logger "console;verbosity=minimal" --results-directory "$results"
redis_exit=$?
[ "$test_exit" -ne 0 ] || test_exit=$redis_exit

# Sluice.Client as an application gets it: packed with a version made for this run, restored from a folder as a
# package (not a project), so a stale package of the same version in the NuGet cache cannot stand in for it.
client_version="0.1.0-ci.$(date +%s)"
if dotnet pack src/Sluice.Client -c Release --no-build -nologo -o "$results/nupkg" -p:PackageVersion="$client_version" >"$results/pack.log"; then
  dotnet test tests/Sluice.Client.PackageTests -c Release -nologo -clp:ErrorsOnly \
    -p:SluiceClientVersion="$client_version" -p:SluicePackageSource="$results/nupkg" \
    --logger "trx;LogFileName=client-package.trx" --logger "console;verbosity=minimal" --results-directory "$results"
  package_exit=$?
else
  cat "$results/pack.log"
  echo "dotnet pack src/Sluice.Client failed"
  package_exit=1
fi
[ "$test_exit" -ne 0 ] || test_exit=$package_exit

passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done

if [ -f "$results/js.tap" ]; then
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$results/js.tap" | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$results/js.tap" | tail -1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
fi
[ "$test_exit" -ne 0 ] || test_exit=$js_exit

if [ "$test_exit" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The runner failed without a counted failure (a crashed test host, for instance): count it.
  failed=1
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$test_exit" -eq 0 ]
