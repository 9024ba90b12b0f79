#!/usr/bin/env bash
# Loopback load benchmark of `vsearch serve` holding 10,000 items (issue 5). Not part of scripts/test.sh.
#   bench/load.sh                      # 10 s per level, concurrency 1,4,16, search by id and by image
#   COUNT=10000 DURATION=10s CONCURRENCY=1,4,16 MODE=both bench/load.sh
# The index is filled by `vsearch seed-synthetic` (random unit vectors under the real model id: 10,000 real
# embeddings would take minutes on two cores). Search by id then measures the HTTP stack and the exact scan;
# search by image adds decode + ResNet18 + the same scan. Traffic goes to 127.0.0.1 only, bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-10000}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-1,4,16}
MODE=${MODE:-both}
PORT=${PORT:-7391}

out=.bin/bench
dotnet build tools/VisualSearch.Cli -c Release -o "$out" -nologo -v quiet >/dev/null
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$out/vsearch" seed-synthetic --count "$COUNT" --index "$work/index"
# No rate limit (one client sends everything), no watcher, quiet logs; the encoder warms up at start.
env Api__PermitsPerSecond=0 Logging__LogLevel__Default=Warning \
  "$out/vsearch" serve --index "$work/index" --urls "http://127.0.0.1:$PORT" --no-watch >"$work/serve.log" 2>&1 &
pid=$!
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1024/1024}' /proc/meminfo), $(dotnet --version) SDK, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run" >&2
status=0
"$out/vsearch" loadtest --url "http://127.0.0.1:$PORT" --duration "$DURATION" --concurrency "$CONCURRENCY" --mode "$MODE" || status=$?
if grep -qiE "fail|exception" "$work/serve.log"; then echo "--- serve log ---" >&2; cat "$work/serve.log" >&2; fi
exit $status
