#!/usr/bin/env bash
# The main job on the embedded defaults, with no Azure account: Azurite as Blob Storage, the local host
# (same engine and HTTP API as the Functions app) watching the images container, the bundled photos
# uploaded as a client would, then a search with an edited copy of one of them.
# Usage: scripts/demo.sh            (leaves nothing running; the index is kept in .vsearch-demo/)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${VSEARCH_PORT:-7071}
INDEX=${VSEARCH_DEMO_INDEX:-$ROOT/.vsearch-demo}
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

echo "==> npm packages (Azurite)"
[ -x node_modules/.bin/azurite-blob ] || npm ci --no-audit --no-fund --loglevel=error

echo "==> build"
dotnet build tools/VisualSearch.Cli -c Release -nologo -v quiet -o "$WORK/bin" >/dev/null
VSEARCH="$WORK/bin/vsearch"

wait_http() { # url, seconds
  for _ in $(seq 1 $(( $2 * 5 ))); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "timed out waiting for $1" >&2; return 1
}

echo "==> Azurite on 127.0.0.1:10000"
if scripts/azurite.sh listening 10000; then
  echo "    (already running)"
else
  scripts/azurite.sh run 10000 "$WORK/azurite" >"$WORK/azurite.log" 2>&1 &
  pids+=($!)
  scripts/azurite.sh wait 10000 20 || { cat "$WORK/azurite.log"; exit 1; }
fi

echo "==> vsearch serve on http://127.0.0.1:$PORT (index: $INDEX)"
BlobSource__PollInterval=00:00:00.500 "$VSEARCH" serve --index "$INDEX" --urls "http://127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$PORT/api/health" 60 || { cat "$WORK/serve.log"; exit 1; }

echo "==> upload samples/photos to the images container"
"$VSEARCH" upload samples/photos
expected=$(find samples/photos -type f \( -name '*.png' -o -name '*.jpg' \) | wc -l)
for _ in $(seq 1 300); do
  # the category space's count (the first; the copy space's, written first per item, follows in "copies")
  count=$(curl -fsS "http://127.0.0.1:$PORT/api/health" | { grep -o '"count":[0-9]*' || true; } | head -1 | cut -d: -f2)
  [ "${count:-0}" -ge "$expected" ] && break; sleep 0.2
done
echo "    indexed: $count of $expected"
curl -fsS "http://127.0.0.1:$PORT/api/health"; echo

echo "==> search with samples/queries/coffee-edited.jpg (a cropped, half-size, JPEG q30 copy of coffee.png)"
curl -fsS -X POST --data-binary @samples/queries/coffee-edited.jpg -H 'Content-Type: image/jpeg' \
  "http://127.0.0.1:$PORT/api/search?k=3" | sed 's/},{"id"/},\n {"id"/g'
echo

echo "==> the same query in the copy space (space=copies: whole image, GeM, detail regions; the default since session 11)"
curl -fsS -X POST --data-binary @samples/queries/coffee-edited.jpg -H 'Content-Type: image/jpeg' \
  "http://127.0.0.1:$PORT/api/search?k=3&space=copies" | sed 's/},{"id"/},\n {"id"/g'
echo
