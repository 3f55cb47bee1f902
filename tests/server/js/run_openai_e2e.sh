#!/usr/bin/env bash
# ctest driver: starts `rocmforge serve` on a free port with an API key, waits until /ready, runs
# the openai-client script against it, then stops the server with SIGTERM (which must exit 0).
# Usage: run_openai_e2e.sh ROCMFORGE_BIN MODEL.gguf
set -euo pipefail
bin=$1 model=$2
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node_modules/openai" ]; then
  echo "FAIL: the openai npm package is missing; run: npm ci --prefix tests/server/js (scripts/install-deps.sh does)" >&2
  exit 1
fi
if [ ! -f "$model" ]; then
  echo "CONFORMANCE SKIPPED: model $model not found (../shared/models)" >&2
  exit 77
fi
log=$(mktemp)
"$bin" serve -m "$model" --port 0 -c 256 --parallel 4 -t 2 --api-key test-key --embeddings >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT
url=
for _ in $(seq 1 300); do
  url=$(grep -o 'http://[0-9.]*:[0-9]*' "$log" || true)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "FAIL: the server exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { cat "$log" >&2; echo "FAIL: the server did not start" >&2; exit 1; }
node "$here/openai_e2e.mjs" "$url"
kill -TERM "$pid"
wait "$pid"
trap - EXIT
rm -f "$log"
