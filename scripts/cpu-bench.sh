#!/bin/bash
# Times CPU inference on TinyLlama-1.1B-shaped synthetic models, the table of the CPU-inference
# issue: Q4_0, Q4_K_M, Q8_0 and F16, prompt 128 and generation 32 tokens, 2 threads pinned to 2
# cores. Also the read-bandwidth ceiling and the matrix products alone, and the resident set.
#   scripts/cpu-bench.sh [BIN_DIR] [WORK_DIR] [CORES]
# BIN_DIR holds rocmforge, rocmforge-synth and matmul_bench (default: build/...); models are
# written to WORK_DIR (default /tmp/rf-cpu-bench) once and reused. CORES defaults to 2,3; the
# model preparation runs on the other cores.
# BASE=DIR (another build's rocmforge) interleaves that build with this one, ROUNDS times (default
# 2), so that a before/after table comes from one host in one run; BASE_FLAGS are added to the
# base's runs (BASE=build/src/cli BASE_FLAGS=--no-repack: the weights as stored against tiled).
set -euo pipefail
BIN=${1:-}
WORK=${2:-/tmp/rf-cpu-bench}
CORES=${3:-2,3}
if [ -z "$BIN" ]; then
    RF=build/src/cli/rocmforge SYNTH=build/tools/rocmforge-synth MATMUL=build/bench/kernels/matmul_bench
else
    RF=$BIN/rocmforge SYNTH=$BIN/rocmforge-synth MATMUL=$BIN/matmul_bench
fi
mkdir -p "$WORK"
OTHER=$(python3 -c "import os; c=set(int(x) for x in '$CORES'.split(',')); print(','.join(str(i) for i in sorted(os.sched_getaffinity(0)) if i not in c) or '0')")

echo "# $(date -u +%F) $(lscpu | sed -n 's/^Model name: *//p'), pinned to cores $CORES"
if [ ! -s "$WORK/F16.gguf" ]; then
    taskset -c "$OTHER" "$SYNTH" --arch llama --layers 22 --embd 2048 --ff 5632 --heads 32 --kv-heads 4 \
        --vocab 32000 --type F16 --seed 7 --out "$WORK/F16.gguf" >/dev/null
fi
for t in Q4_0 Q4_K_M Q8_0; do
    [ -s "$WORK/$t.gguf" ] || taskset -c "$OTHER" "$RF" quantize -q -t 4 "$WORK/F16.gguf" "$WORK/$t.gguf" "$t" &
done
wait

taskset -c "$CORES" "$MATMUL" --benchmark_filter='StreamRead|TinyLlama' 2>&1 | grep -E '^(StreamRead|TinyLlama)'
bench_all() {  # $1: the rocmforge binary, then extra flags
    for t in Q4_0 Q4_K_M Q8_0 F16; do
        taskset -c "$CORES" "$1" bench -m "$WORK/$t.gguf" -p 128 -n 32 -r 3 -t 2 "${@:2}" | grep -E 'pp128|tg32'
    done
}
if [ -n "${BASE:-}" ]; then
    for round in $(seq "${ROUNDS:-2}"); do
        echo "## round $round: $BASE/rocmforge ${BASE_FLAGS:-}"
        # shellcheck disable=SC2086  # the flags are words
        bench_all "$BASE/rocmforge" ${BASE_FLAGS:-}
        echo "## round $round: $RF"
        bench_all "$RF"
    done
else
    bench_all "$RF"
fi
for t in Q4_0 F16; do
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "$t: max resident set %M KiB" taskset -c "$CORES" "$RF" generate -m "$WORK/$t.gguf" \
            -p "Hello" -n 32 -c 2048 -t 2 --temp 0 >/dev/null 2>"$WORK/time.txt" || true
        grep 'resident' "$WORK/time.txt" || true
    fi
done
ls -l --block-size=M "$WORK"/*.gguf | awk '{print $5, $9}'
