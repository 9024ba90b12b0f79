#!/usr/bin/env bash
# Runs every test: restores NuGet and npm packages (Azurite), builds, runs the test projects (the
# integration tests start Azurite from node_modules when it is not already listening), and ends with
# the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/azurite-blob ] || npm ci --no-audit --no-fund --loglevel=error || exit 1
dotnet build VisualSearch.sln -nologo -v minimal 2>&1 | tail -n 3
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "0 passed, 1 failed"; exit 1; }
log=$(mktemp)
dotnet test VisualSearch.sln --no-build -nologo 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(sed -n 's/.*Passed:[[:space:]]*\([0-9][0-9]*\),.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(sed -n 's/.*Failed:[[:space:]]*\([0-9][0-9]*\),.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
rm -f "$log"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
exit "$rc"
