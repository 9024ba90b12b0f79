#!/usr/bin/env bash
# Runs every test and ends with the line "N passed, N failed".
#  - installs what the tests need where missing: npm packages (Azurite, playwright-core), Debian's
#    chromium for the browser test and libgomp1 for USearch (apt-get; sudo when not root);
#  - builds the solution;
#  - starts one Azurite (blob service, 127.0.0.1:10000) for all integration tests and stops it at the end
#    (the test fixtures reuse a running Azurite and start their own only when none is listening);
#  - runs the test projects one after another (2-core machines: parallel assemblies only contend).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing Debian's chromium for the browser test"
  { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null; } \
    || { echo "could not install chromium"; echo "0 passed, 1 failed"; exit 1; }
fi
# USearch's native library (the embedded index's HNSW graph) links OpenMP's runtime.
if ! ldconfig -p | grep -q libgomp.so.1; then
  echo "==> installing Debian's libgomp1 for the embedded index's graph search"
  { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq libgomp1 >/dev/null; } \
    || { echo "could not install libgomp1"; echo "0 passed, 1 failed"; exit 1; }
fi
# node_modules must hold the MSAL.js version package.json pins (the page embeds it when built; azurite brings its own).
{ [ -x node_modules/.bin/azurite-blob ] && [ -f node_modules/playwright-core/package.json ] \
  && node -e "process.exit(require('./node_modules/@azure/msal-browser/package.json').version === require('./package.json').dependencies['@azure/msal-browser'] ? 0 : 1)" 2>/dev/null; } \
  || npm ci --no-audit --no-fund --loglevel=error || { echo "0 passed, 1 failed"; exit 1; }

dotnet build VisualSearch.sln -nologo -v minimal 2>&1 | tail -n 3
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "0 passed, 1 failed"; exit 1; }

azurite_pid=""
azurite_dir=$(mktemp -d)
cleanup() { [ -n "$azurite_pid" ] && kill "$azurite_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$azurite_dir"; }
trap cleanup EXIT
if ! scripts/azurite.sh listening 10000; then
  scripts/azurite.sh run 10000 "$azurite_dir" >"$azurite_dir.log" 2>&1 &
  azurite_pid=$!
  scripts/azurite.sh wait 10000 20 || true
fi

log=$(mktemp)
dotnet test VisualSearch.sln --no-build -nologo -m:1 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(sed -n 's/.*Passed:[[:space:]]*\([0-9][0-9]*\),.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(sed -n 's/.*Failed:[[:space:]]*\([0-9][0-9]*\),.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
rm -f "$log"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
exit "$rc"
