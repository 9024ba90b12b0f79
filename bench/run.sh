#!/usr/bin/env bash
# vsearch bench and the Node peer stack in one run (docs/performance.md). Not part of scripts/test.sh.
#   bench/run.sh                                   # everything: index sizes 10k, 100k and 1M (about 20 min on 2 cores)
#   bench/run.sh --sizes 10000,100000 --json       # any vsearch bench option passes through
# The peer stack (bench/peer: sharp + onnxruntime-node, both with their Linux binaries inside the npm
# packages) is installed with npm ci; without node/npm the bench runs alone and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.bin/perf
dotnet build tools/VisualSearch.Cli -c Release -o "$out" -nologo -v quiet >/dev/null
peer=()
if command -v node >/dev/null && command -v npm >/dev/null; then
  # skip: onnxruntime-node's install script would otherwise fetch the optional CUDA provider.
  if (cd bench/peer && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    peer=(--peer bench/peer)
  else
    echo "bench/run.sh: the peer stack could not be installed (npm ci in bench/peer); running without it" >&2
  fi
else
  echo "bench/run.sh: node/npm not found; running without the peer stack" >&2
fi
exec "$out/vsearch" bench "${peer[@]}" "$@"
