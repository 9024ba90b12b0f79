#!/usr/bin/env bash
# Cold start of the local host: process start -> first POST /api/search answered, and `vsearch search` as a
# whole process, 3 runs each over an index of the bundled sample photos. Usage: bench/coldstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
dotnet build tools/VisualSearch.Cli -c Release -o "$WORK/bin" -nologo -v quiet >/dev/null
VSEARCH="$WORK/bin/vsearch"
"$VSEARCH" index samples/photos --index "$WORK/index" >/dev/null 2>&1
for i in 1 2 3; do
  start=$(date +%s%N)
  "$VSEARCH" serve --index "$WORK/index" --urls http://127.0.0.1:7199 --no-watch >/dev/null 2>&1 &
  pid=$!
  until curl -fsS -o /dev/null -X POST --data-binary @samples/queries/coffee-edited.jpg -H 'Content-Type: image/jpeg' \
    'http://127.0.0.1:7199/api/search?k=1' 2>/dev/null; do sleep 0.01; done
  end=$(date +%s%N)
  echo "run $i: serve, process start -> first search answered: $(( (end - start) / 1000000 )) ms"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  start=$(date +%s%N); "$VSEARCH" search samples/queries/coffee-edited.jpg --index "$WORK/index" --k 1 >/dev/null; end=$(date +%s%N)
  echo "run $i: vsearch search, whole process: $(( (end - start) / 1000000 )) ms"
done
