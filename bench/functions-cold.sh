#!/usr/bin/env bash
# Cold start of the Functions app's real worker process, driven over the host protocol by the test harness
# (tests/VisualSearch.Functions.HostTests, ColdStartTests): process start -> gRPC stream, WorkerInitResponse, every
# function loaded, first POST /api/search answered, with the model load and first inference the worker reports,
# over an index of the bundled sample photos; then the local host's cold start (bench/coldstart.sh) in the same run.
# Needs Azurite's blob service on 127.0.0.1:10000 (or node_modules from `npm ci`: the tests start one).
# Usage: bench/functions-cold.sh [runs]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
out=$(mktemp); trap 'rm -f "$out"' EXIT
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
VSEARCH_BENCH_COLD_RUNS=$runs VSEARCH_BENCH_OUT=$out dotnet test tests/VisualSearch.Functions.HostTests -c Release -nologo -v quiet \
  --filter "FullyQualifiedName~ColdStartTests" >/dev/null
echo "Functions worker through the harness ($runs runs, times from process start):"
cat "$out"
echo "load average after the worker runs: $(cut -d' ' -f1-3 /proc/loadavg)"
bench/coldstart.sh
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
