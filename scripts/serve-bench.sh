#!/bin/bash
# The serving issue's measurements, end to end through HTTP: the aggregate-throughput curve at
# 1/4/8/16 parallel sequences (64-token prompts, 32 generated tokens, as llama-batched-bench ran)
# and a 60 s load test with 64 streaming clients. The server gets 2 pinned cores; the client
# (tools/serve_bench.py) runs on the others.
#   scripts/serve-bench.sh [BIN_DIR] [MODEL] [CORES] [OUT_DIR]
# LOAD=0 skips the load test; SERVER_FLAGS are added to the server's command line (e.g. --no-repack).
set -euo pipefail
BIN=${1:-build/src/cli}
MODEL=${2:-/tmp/rf-cpu-bench/Q4_0.gguf}
CORES=${3:-2,3}
OUT=${4:-/tmp/rf-serve-bench}
PORT=${PORT:-18080}
mkdir -p "$OUT"
OTHER=$(python3 -c "import os; c=set(int(x) for x in '$CORES'.split(',')); print(','.join(str(i) for i in sorted(os.sched_getaffinity(0)) if i not in c) or '0')")
URL=http://127.0.0.1:$PORT

taskset -c "$CORES" "$BIN/rocmforge" serve -m "$MODEL" --port "$PORT" -t 2 --parallel 16 -c 2048 \
    --queue 256 ${SERVER_FLAGS:-} >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true' EXIT
python3 - "$URL" <<'PY'
import sys, time, urllib.request
for _ in range(600):
    try:
        if urllib.request.urlopen(sys.argv[1] + "/ready", timeout=1).status == 200:
            sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit("server did not become ready")
PY
echo "# $(date -u +%F) $(lscpu | sed -n 's/^Model name: *//p'), server on cores $CORES, model $(basename "$MODEL")"
taskset -c "$OTHER" python3 tools/serve_bench.py --url "$URL" throughput --concurrency 1 4 8 16 --repetitions 3 \
    --json "$OUT/throughput.json" --plot "$OUT/throughput.png" --reference 47 70 76 100 \
    --title "TinyLlama-1.1B-shape Q4_0, 2 cores, through HTTP"
if [ "${LOAD:-1}" != 0 ]; then
    taskset -c "$OTHER" python3 tools/serve_bench.py --url "$URL" load --clients 64 --duration 60 --pid "$SERVER"
fi
kill -TERM "$SERVER"
wait "$SERVER" || true
trap - EXIT
tail -3 "$OUT/server.log"
