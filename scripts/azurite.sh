#!/usr/bin/env bash
# Azurite's blob service as scripts/test.sh, scripts/demo.sh and the test library (tests/VisualSearch.Testing,
# AzuriteProcess) start it: one command line and one wait, here.
#   scripts/azurite.sh run PORT DIR          azurite-blob on 127.0.0.1:PORT, data in DIR (foreground: exec, so
#                                            the caller's pid is Azurite's)
#   scripts/azurite.sh wait PORT [SECONDS]   until 127.0.0.1:PORT accepts connections (default 20 s); 1 if not
#   scripts/azurite.sh listening PORT        0 if something accepts connections on 127.0.0.1:PORT now
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HOST=127.0.0.1

listening() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

case "${1:-}" in
  run)
    [ $# -eq 3 ] || { echo "usage: $0 run PORT DIR" >&2; exit 2; }
    mkdir -p "$3"
    exec "$ROOT/node_modules/.bin/azurite-blob" --silent --skipApiVersionCheck --loose \
      --blobHost "$HOST" --blobPort "$2" --location "$3"
    ;;
  wait)
    [ $# -ge 2 ] || { echo "usage: $0 wait PORT [SECONDS]" >&2; exit 2; }
    for _ in $(seq 1 $(( ${3:-20} * 5 ))); do listening "$2" && exit 0; sleep 0.2; done
    echo "Azurite did not listen on $HOST:$2 within ${3:-20} s" >&2
    exit 1
    ;;
  listening)
    [ $# -eq 2 ] || { echo "usage: $0 listening PORT" >&2; exit 2; }
    listening "$2"
    ;;
  *)
    echo "usage: $0 run PORT DIR | wait PORT [SECONDS] | listening PORT" >&2
    exit 2
    ;;
esac
