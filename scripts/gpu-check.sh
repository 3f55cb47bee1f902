#!/usr/bin/env bash
# Runs on the GPU machine (through the device tool) over a bundle made here by scripts/gpu-bundle.sh:
# the card's ceilings, the op suite and the conformance of the bundled reference models on the
# GPU (F32 and F16 KV cache), the engine and server tests with the CUDA backend, determinism,
# 16 concurrent streams through the server, GPU against CPU on synthetic models of every
# architecture (tools/compare_backends.py), and benchmarks. Prints a short table last; logs go to
# $OUT (or /tmp/rocmforge-gpu).
#   scripts/gpu-check.sh [BUNDLE_DIR]          (default .gpu)
#   RF_STEPS="ops conformance ..." picks the steps (bench_8b, the 8B-shaped benchmark, and baseline, its
#   comparison with bench/baselines, only when named; RF_PROFILE=1 adds a step profile per model;
#   RF_BENCH_PARALLEL="1,8,32,64" adds bench_8b's batched curve; hybrid_8b, the 8B-shaped model
#   split between the GPU and the CPU at RF_SPLITS layers, and kernel_times, each kernel's time in a
#   decode step by Nsight Compute, and gemv_profile, its counters for the one-token products, only
#   when named).
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=${1:-.gpu}
out=${OUT:-/tmp/rocmforge-gpu}
mkdir -p "$out"
unpacked=/tmp/rocmforge-gpu-programs
mkdir -p "$unpacked" && xz -dc "$bundle/programs.tar.xz" | tar -C "$unpacked" -xf - || exit 1
bin=$unpacked/bin
export LD_LIBRARY_PATH=$unpacked/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
steps=${RF_STEPS:-"env ceilings ops conformance conformance_f16 engine server determinism streams synthetic hybrid products bench"}
export ROCMFORGE_SHARED_DIR=$PWD/$bundle/shared ROCMFORGE_TEST_DEVICE=cuda
declare -a table=()
# The machine's curl with the machine's libraries (the bundle carries a libcurl of its own).
curl() { LD_LIBRARY_PATH= command curl "$@"; }

models=$(ls "$bundle"/shared/models/*.gguf 2>/dev/null)
first_model=$(echo "$models" | head -1)

# step NAME COMMAND...: runs COMMAND with its output in $out/NAME.log and records pass/fail.
step() {
  local name=$1; shift
  [[ " $steps " == *" $name "* ]] || return 0
  local start=$SECONDS
  echo "== $name: $*"
  "$@" >"$out/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$out/$name.log"
  local summary
  summary=$(grep -E "^\[  (PASSED|FAILED)  \]|passed|FAILED|tokens/s" "$out/$name.log" | tail -n 3 | tr '\n' ' ' | cut -c1-110)
  table+=("$(printf '%-16s %-5s %4ds  %s' "$name" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" $((SECONDS - start)) "$summary")")
}

environment() {
  date -u +%Y-%m-%dT%H:%M:%SZ
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader
  ldd "$bin/rocmforge"
  ! ldd "$bin/rocmforge" | grep -q "not found"
  "$bin/rocmforge" devices --self-test
}

# The card's copy bandwidth (bytes read + written) and dense bf16 product rate, measured now.
ceilings() {
  python3 - <<'PY'
import torch
def timed(fn, n):
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    fn(); torch.cuda.synchronize(); s.record()
    for _ in range(n): fn()
    e.record(); torch.cuda.synchronize(); return s.elapsed_time(e) / n / 1e3
a = torch.randn(1 << 30, device="cuda", dtype=torch.float32).view(-1)[: 1 << 29]
b = torch.empty_like(a)
t = timed(lambda: b.copy_(a), 20)
print(f"copy bandwidth {2 * a.numel() * 4 / t / 1e9:.0f} GB/s (read + written)")
x = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16); y = torch.randn_like(x)
t = timed(lambda: x @ y, 20)
print(f"bf16 8192^3 product {2 * 8192**3 / t / 1e12:.0f} TFLOP/s")
PY
}

# With an F16 cache the reference is the CPU backend's own F16-cache run (the golden files were
# made with an F32 cache), held to the same protocol.
conformance_f16() { ROCMFORGE_TEST_KV=f16 ROCMFORGE_TEST_REFERENCE=cpu "$bin/test_model_conformance"; }

# The op suite, then its products again with the Q4_K int8 tiles switched off (the untiled
# kernel, which Q4_K takes under HIP and the other int8 formats take everywhere), long rows of
# the direct products shared by four groups of lanes and short ones four a group.
ops() {
  "$bin/test_backend_ops" || return 1
  echo "-- products with ROCMFORGE_GPU_INT8_TILES=0 ROCMFORGE_GPU_GEMV_SPLIT=1"
  ROCMFORGE_GPU_INT8_TILES=0 ROCMFORGE_GPU_GEMV_SPLIT=1 "$bin/test_backend_ops" --gtest_filter='*Products*:*Matmul*' ||
    return 1
  echo "-- products with ROCMFORGE_GPU_GEMV_ROWS=4"
  ROCMFORGE_GPU_GEMV_ROWS=4 "$bin/test_backend_ops" --gtest_filter='*Products*:*Matmul*'
}

# NCCL, which tensor parallelism opens at run time (src/backend/cuda/nccl_library.h): the library
# the loader finds, else the first libnccl.so.2 of the CUDA toolkit or a Python package here; then
# the shared models split over as many GPUs as the machine has (groups of one sum through NCCL too).
nccl_library() {
  grep -q "libnccl.so.2 " < <(ldconfig -p) && return 0  # (empty: the loader finds it)
  find /usr/local/cuda*/lib* /usr/lib/x86_64-linux-gnu /usr/lib/python3*/ /usr/local/lib/python3*/ \
    -name libnccl.so.2 2>/dev/null | head -1 | grep . || { echo "no libnccl.so.2 on this machine" >&2; return 1; }
}
nccl_check() {
  local lib
  lib=$(nccl_library) || return 1
  echo "NCCL: ${lib:-libnccl.so.2, as the loader finds it}"
  ROCMFORGE_NCCL_LIBRARY=$lib "$bin/test_nccl_library" || return 1
  ROCMFORGE_NCCL_LIBRARY=$lib NCCL_DEBUG=WARN "$bin/test_tensor_parallel" || return 1
  echo "-- with the all-reduces captured in the step graphs (ROCMFORGE_GPU_NCCL_GRAPHS=1)"
  ROCMFORGE_GPU_NCCL_GRAPHS=1 ROCMFORGE_NCCL_LIBRARY=$lib NCCL_DEBUG=WARN "$bin/test_tensor_parallel" --gtest_brief=1
}

has_model() { [ -f "$bundle/shared/models/$1.gguf" ]; }
engine_tests() {
  "$bin/test_engine" || return 1
  if has_model llama-gqa-q8_0; then "$bin/test_scheduler_reference" || return 1; fi
}

# The same requests twice give the same text: greedy, and sampling with a seed.
determinism() {
  local m=$first_model p="The capital of France is" a b
  for args in "--temp 0" "--temp 0.8 --top-p 0.9 --seed 42"; do
    # shellcheck disable=SC2086
    a=$("$bin/rocmforge" generate --device cuda -m "$m" -p "$p" -n 48 $args 2>/dev/null) || return 1
    # shellcheck disable=SC2086
    b=$("$bin/rocmforge" generate --device cuda -m "$m" -p "$p" -n 48 $args 2>/dev/null) || return 1
    [ "$a" == "$b" ] || { echo "differs with $args:"; echo "$a"; echo "$b"; return 1; }
    echo "same output twice with $args: ${a:0:80}"
  done
  # Several rows a group of lanes sum each row as one row a group does: the same greedy text.
  a=$("$bin/rocmforge" generate --device cuda -m "$m" -p "$p" -n 48 --temp 0 2>/dev/null) || return 1
  b=$(ROCMFORGE_GPU_GEMV_ROWS=4 "$bin/rocmforge" generate --device cuda -m "$m" -p "$p" -n 48 --temp 0 2>/dev/null) ||
    return 1
  [ "$a" == "$b" ] || { echo "differs with ROCMFORGE_GPU_GEMV_ROWS=4:"; echo "$a"; echo "$b"; return 1; }
  echo "same greedy output with four rows a group of lanes"
}

# 16 streaming clients with random lengths and disconnects, then no KV block may stay held.
streams() {
  local port=18080 pid rc
  "$bin/rocmforge" serve --device cuda -m "$first_model" --port $port --parallel 16 -c 512 &
  pid=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
  python3 tools/serve_bench.py --url "http://127.0.0.1:$port" load --clients 16 --duration 20 --pid $pid
  rc=$?
  python3 tools/serve_bench.py --url "http://127.0.0.1:$port" throughput --concurrency 1 8 16 --repetitions 1 ||
    rc=1
  curl -s "http://127.0.0.1:$port/metrics" | grep -E "kv_blocks_used|backend_info"
  curl -s "http://127.0.0.1:$port/metrics" | grep -q "^rocmforge_kv_blocks_used 0$" || { echo "KV blocks leaked"; rc=1; }
  kill $pid; wait $pid
  return $rc
}

# The few-token products on Llama-3-8B shapes against the copy bandwidth (bench/kernels), and the
# same from other builds where the bundle has them (RF_OTHER_BENCHES of gpu-bundle.sh).
products() {
  local args=(--formats "${RF_PRODUCT_FORMATS:-Q4_K,Q6_K,Q4_0,Q8_0,F16}" --tokens "${RF_PRODUCT_TOKENS:-1}") other
  for other in "$bin"/gpu_products_bench_*; do
    [ -x "$other" ] || continue
    echo "-- ${other##*/}"; "$other" "${args[@]}" || return 1
  done
  echo "-- this build"
  "$bin/gpu_products_bench" "${args[@]}"
}

bench() { "$bin/rocmforge" bench --device cuda -m "$first_model" -p 512 -n 128 -r 3; }

# Hybrid execution: every bundled model split between the GPU and the CPU (half the layers on each,
# output head on the GPU; no layer on the GPU; half with the output head on the CPU) against the
# golden references, and the CPU-side split tests.
hybrid() {
  local rc=0
  "$bin/test_hybrid" || rc=1
  ROCMFORGE_TEST_GPU_LAYERS=half "$bin/test_model_conformance" || rc=1
  ROCMFORGE_TEST_GPU_LAYERS=0 "$bin/test_model_conformance" || rc=1
  ROCMFORGE_TEST_GPU_LAYERS=half ROCMFORGE_TEST_OUTPUT_ON=cpu "$bin/test_model_conformance" || rc=1
  return $rc
}

# The host's read bandwidth (all cores) for the split time model: per token, GPU layers' bytes /
# the GPU's bandwidth + CPU layers' bytes / this.
cpu_bandwidth() {
  python3 - <<'PY'
import time, torch
torch.set_num_threads(torch.get_num_threads())
a = torch.ones(1 << 29, dtype=torch.float32)  # 2 GiB
a.sum()
best = 1e9
for _ in range(5):
    t = time.perf_counter(); a.sum(); best = min(best, time.perf_counter() - t)
print(f"cpu read bandwidth {a.numel() * 4 / best / 1e9:.1f} GB/s ({torch.get_num_threads()} threads)")
PY
}

# The 8B shape split at RF_SPLITS layers on the GPU (llama-bench -ngl), prompts and generation.
hybrid_8b() {
  local m=/tmp/llama8b-Q4_K.gguf
  [ -f "$m" ] || "$bin/rocmforge-synth" --arch llama --layers 32 --embd 4096 --ff 14336 --heads 32 --kv-heads 8 \
    --vocab 128256 --ctx 8192 --type Q4_K --out "$m" || return 1
  for n in ${RF_SPLITS:-32 24 16 8 0}; do
    "$bin/rocmforge" bench --device cuda --gpu-layers "$n" -m "$m" -p 512 -n 128 -r 2 -b 512 --kv-type f16 || return 1
  done
}

# The Llama-3-8B shape of the GPU speed issue, written here by rocmforge-synth (Q4_K: Q4_K layers,
# Q6_K output, Q8_0 embeddings, like a Q4_K_M download), at an empty context and at 4096 tokens,
# with llama-bench's defaults: an F16 KV cache (RF_BENCH_KV) and 512-token prompt steps.
bench_8b() {
  for type in ${RF_BENCH_8B_TYPES:-Q4_K F16}; do
    local m=/tmp/llama8b-$type.gguf
    "$bin/rocmforge-synth" --arch llama --layers 32 --embd 4096 --ff 14336 --heads 32 --kv-heads 8 --vocab 128256 \
      --ctx 8192 --type "$type" --out "$m" || return 1
    "$bin/rocmforge" bench --device cuda -m "$m" -p 512 -n 128 -d 0 -d 4096 -r 2 -b 512 --kv-type "${RF_BENCH_KV:-f16}" ||
      return 1
    # The same with dependent launches and with the prefetch of the next product's weights (both
    # off by default: what they bring, in the same call; RF_BENCH_AB picks which of these run).
    [[ " ${RF_BENCH_AB:-dependent_launch prefetch} " == *" dependent_launch "* ]] &&
    ROCMFORGE_GPU_DEPENDENT_LAUNCH=1 "$bin/rocmforge" bench --device cuda -m "$m" -p 512 -n 128 -r 2 -b 512 \
      --kv-type "${RF_BENCH_KV:-f16}" 2>&1 | grep -E "tg128|pp512" | sed "s/^/[dependent launch on] /"
    [[ " ${RF_BENCH_AB:-dependent_launch prefetch} " == *" prefetch "* ]] &&
    ROCMFORGE_GPU_PREFETCH=1 "$bin/rocmforge" bench --device cuda -m "$m" -p 0 -n 128 -d 0 -d 4096 -r 2 -b 512 \
      --kv-type "${RF_BENCH_KV:-f16}" 2>&1 | grep -E "tg128" | sed "s/^/[prefetch on] /"
    # Generation with other layouts of the direct products (cuda_gemv.cu): "split" ("unsplit"), each
    # long row shared by four groups of lanes (one); "rows2", "rows4", "rows8", that many rows a group.
    for word in ${RF_BENCH_AB:-}; do
      local setting
      case $word in
        split) setting=ROCMFORGE_GPU_GEMV_SPLIT=1 ;;
        unsplit) setting=ROCMFORGE_GPU_GEMV_SPLIT=0 ;;
        rows[1-9]|rows[1-9][0-9]) setting=ROCMFORGE_GPU_GEMV_ROWS=${word#rows} ;;
        *) continue ;;
      esac
      env "$setting" "$bin/rocmforge" bench --device cuda -m "$m" -p 0 -n 128 -d 0 -d 4096 -r 2 -b 512 \
        --kv-type "${RF_BENCH_KV:-f16}" 2>&1 | grep -E "tg128" | sed "s/^/[$setting] /"
    done
    # RF_BENCH_AB's "tp": tensor parallel over groups of 1, 2, 4 and 8 GPUs, as many as are here (a
    # group of one sums through NCCL: the code path of several GPUs, against the plain run above).
    if [[ " ${RF_BENCH_AB:-} " == *" tp "* ]]; then
      local gpus n lib
      gpus=$(nvidia-smi -L | wc -l)
      lib=$(nccl_library) || return 1
      for n in 1 2 4 8; do
        [ "$n" -le "$gpus" ] || break
        ROCMFORGE_NCCL_LIBRARY=$lib "$bin/rocmforge" bench --device cuda --tensor-parallel "$n" -m "$m" -p 512 -n 128 \
          -r 2 -b 512 --kv-type "${RF_BENCH_KV:-f16}" 2>&1 | grep -E "pp512|tg128|error" | sed "s/^/[tensor parallel $n] /"
        ROCMFORGE_GPU_NCCL_GRAPHS=1 ROCMFORGE_NCCL_LIBRARY=$lib "$bin/rocmforge" bench --device cuda --tensor-parallel "$n" \
          -m "$m" -p 0 -n 128 -r 2 -b 512 --kv-type "${RF_BENCH_KV:-f16}" 2>&1 | grep -E "tg128|error" |
          sed "s/^/[tensor parallel $n, NCCL in the graphs] /"
      done
    fi
    # Prompt steps with every attention on the decode kernel (cuda_decode_attention.cu).
    [[ " ${RF_BENCH_AB:-dependent_launch prefetch} " == *" attention512 "* ]] &&
    ROCMFORGE_GPU_DECODE_ATTENTION_TOKENS=512 "$bin/rocmforge" bench --device cuda -m "$m" -p 512 -n 0 -r 2 -b 512 \
      --kv-type "${RF_BENCH_KV:-f16}" 2>&1 | grep -E "pp512" | sed "s/^/[decode attention to 512 tokens] /"
    # The batched curve (RF_BENCH_PARALLEL="1,8,32,64"): 128-token prompts, 128 generated each, as
    # llama-batched-bench's -npp 128 -ntg 128 -npl; with RF_BENCH_AB's "untiled" also without the
    # Q4_K int8 tiles, and "attention16" with the decode attention
    # kernel for steps of up to 16 tokens only (the setting before).
    if [ -n "${RF_BENCH_PARALLEL:-}" ]; then
      "$bin/rocmforge" bench --device cuda -m "$m" -p 128 -n 128 --parallel "$RF_BENCH_PARALLEL" -r 1 -b 512 \
        --kv-type "${RF_BENCH_KV:-f16}" || return 1
      [ -x "$bin/rocmforge_base" ] &&  # (RF_BASE_ROCMFORGE of gpu-bundle.sh: another build, same call)
      "$bin/rocmforge_base" bench --device cuda -m "$m" -p 128 -n 128 --parallel "$RF_BENCH_PARALLEL" -r 1 -b 512 \
        --kv-type "${RF_BENCH_KV:-f16}" 2>&1 | grep -E "tg128 x" | sed "s/^/[base build] /"
      [[ " ${RF_BENCH_AB:-} " == *" untiled "* ]] &&
      ROCMFORGE_GPU_INT8_TILES=0 "$bin/rocmforge" bench --device cuda -m "$m" -p 128 -n 128 --parallel "$RF_BENCH_PARALLEL" \
        -r 1 -b 512 --kv-type "${RF_BENCH_KV:-f16}" 2>&1 | grep -E "tg128 x" | sed "s/^/[untiled int8] /"
      [[ " ${RF_BENCH_AB:-} " == *" attention16 "* ]] &&
      ROCMFORGE_GPU_DECODE_ATTENTION_TOKENS=16 "$bin/rocmforge" bench --device cuda -m "$m" -p 128 -n 128 \
        --parallel "$RF_BENCH_PARALLEL" -r 1 -b 512 --kv-type "${RF_BENCH_KV:-f16}" 2>&1 | grep -E "tg128 x" |
        sed "s/^/[decode attention to 16 tokens] /"
    fi
    profile "$m" "$type"
    rm -f "$m"
  done
}

# Where a step's time goes (RF_PROFILE=1): the CUDA backend's own step profile
# (ROCMFORGE_GPU_PROFILE: GPU time per op kind from events, host enqueue and wait per step; it
# launches every kernel on its own, without step graphs) over a
# 64-token generation, and over 512-token prompt steps (bench's warm-up and run).
profile() {
  [ -n "${RF_PROFILE:-}" ] || return 0
  echo "profile of $2: generate -n 64 (63 decode steps; the first step, the prompt's, is left out)"
  ROCMFORGE_GPU_PROFILE=1 "$bin/rocmforge" generate --device cuda -m "$1" -p "Once upon a time" -n 64 --temp 0 \
    --kv-type f16 2>&1 >/dev/null | grep "gpu profile" | head -30
  echo "profile of $2: bench -p 512 -n 0 -r 3 -b 512 (three 512-token prompt steps after the warm-up)"
  ROCMFORGE_GPU_PROFILE=1 "$bin/rocmforge" bench --device cuda -m "$1" -p 512 -n 0 -r 3 -b 512 --kv-type f16 \
    2>&1 >/dev/null | grep "gpu profile" | head -30
  echo "host share of $2's generation with step graphs (ROCMFORGE_GPU_PROFILE=host): generate -n 128"
  ROCMFORGE_GPU_PROFILE=host "$bin/rocmforge" generate --device cuda -m "$1" -p "Once upon a time" -n 128 --temp 0 \
    --kv-type f16 2>&1 >/dev/null | grep "gpu profile" | head -3
  echo "generation of $2 with every kernel launched on its own (ROCMFORGE_GPU_GRAPHS=0)"
  ROCMFORGE_GPU_GRAPHS=0 "$bin/rocmforge" bench --device cuda -m "$1" -p 0 -n 128 -r 2 --kv-type f16 2>&1 | grep "tg128" |
    sed "s/^/[graphs off] /"
}

# Nsight Compute's counters for the one-token direct products of the products benchmark (Q4_K
# by default; RF_STEPS "gemv_profile"): time, DRAM throughput, occupancy and why warps stall, one
# line a launch.
gemv_profile() {
  local ncu metrics csv=$out/gemv_profile.csv
  ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  [ -x "$ncu" ] || { echo "no Nsight Compute (ncu) on this machine"; return 1; }
  metrics=gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum
  metrics+=,sm__warps_active.avg.pct_of_peak_sustained_active,launch__occupancy_limit_registers,launch__registers_per_thread
  metrics+=,launch__waves_per_multiprocessor,smsp__issue_active.avg.pct_of_peak_sustained_active
  local r
  for r in long_scoreboard lg_throttle barrier no_instruction wait short_scoreboard mio_throttle; do
    metrics+=,smsp__warp_issue_stalled_${r}_per_warp_active.pct
  done
  # gpu_products_bench's order, two launches a figure: the default layout (the shapes, the layer's
  # seven, grouped in four), then the same split, 2, 4 and 8 rows a group; profiled: the default
  # layout and the shapes split, and the shapes four rows a group.
  local f shapes n range skip count
  for f in ${RF_GEMV_PROFILE_FORMATS:-Q4_K}; do
    shapes=7
    [[ $f == Q6_K || $f == Q8_0 ]] && shapes=8  # (and the output head)
    n=$(( (shapes + 7 + 4) * 2 ))
    for range in "0 $((n + 2 * shapes))" "$((3 * n)) $((2 * shapes))"; do
    read -r skip count <<<"$range"
    "$ncu" --csv --page raw --print-units base --cache-control none --clock-control none --metrics "$metrics" \
      -k regex:gemv_ --launch-skip "$skip" --launch-count "$count" \
      --log-file "$csv.$f.$skip" "$bin/gpu_products_bench" --formats "$f" --tokens 1 --reps 1 >/dev/null || return 1
    python3 - "$csv.$f.$skip" "$f" <<'PY' || return 1
import csv, sys
text = open(sys.argv[1]).read()
start = text.find('"ID","Process ID"')
rows = [r for r in csv.DictReader([l for l in text[start:].splitlines() if l.startswith('"')]) if r["ID"].isdigit()]
short = lambda m: m.replace("smsp__warp_issue_stalled_", "").replace("_per_warp_active.pct", "")
cols = [c for c in rows[0] if c.startswith(("gpu__", "dram__", "sm__", "launch__", "smsp__"))] if rows else []
print(sys.argv[2], "launch grid", " ".join(short(c).split("__")[-1][:14] for c in cols))
for r in rows:
    print(sys.argv[2], r["ID"], r.get("Grid Size", ""), " ".join(r[c] for c in cols))
PY
    done
  done
}

# Each kernel's own time (Nsight Compute, which runs kernels one at a time: no launch gaps) in one
# decode step of the 8B shape (Q4_K) at an empty context, and the decode attention's at 4096 tokens
# of context (tools/kernel_times.py); only when named in RF_STEPS.
kernel_times() {
  local m=/tmp/llama8b-Q4_K.gguf ncu times=$out/kernel_times.csv
  ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  [ -x "$ncu" ] || { echo "no Nsight Compute (ncu) on this machine"; return 1; }
  [ -f "$m" ] || "$bin/rocmforge-synth" --arch llama --layers 32 --embd 4096 --ff 14336 --heads 32 --kv-heads 8 \
    --vocab 128256 --ctx 8192 --type Q4_K --out "$m" || return 1
  local opts=(--csv --page raw --print-units base --metrics gpu__time_duration.sum --cache-control none
              --clock-control none)
  ROCMFORGE_GPU_GRAPHS=0 "$ncu" "${opts[@]}" --log-file "$times" "$bin/rocmforge" generate --device cuda -m "$m" \
    -p "Once upon a time" -n 4 --temp 0 --kv-type f16 >/dev/null 2>"$out/kernel_times.err" ||
    { tail "$out/kernel_times.err"; return 1; }
  python3 tools/kernel_times.py "$times" --title "decode step, empty context: " || return 1
  ROCMFORGE_GPU_GRAPHS=0 "$ncu" "${opts[@]}" --log-file "$times.4096" -k "regex:decode_attention|merge_splits" \
    "$bin/rocmforge" bench --device cuda -m "$m" -p 0 -n 2 -d 4096 -r 1 --kv-type f16 >/dev/null \
    2>>"$out/kernel_times.err" || return 1
  python3 tools/kernel_times.py "$times.4096" --last-launches 64 --title "decode attention at 4096 tokens: "
}

# The bench_8b figures against the repository's baseline for this card (tools/perf_baseline.py):
# fails on any figure worse than its noise. A new baseline is recorded by hand after a change that
# moves the figures on purpose.
baseline() {
  local card file
  card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
  file=bench/baselines/$(echo "$card" | tr 'A-Z' 'a-z' | tr -cs 'a-z0-9' '-' | sed 's/-$//').json
  [ -f "$file" ] || { echo "no baseline for $card ($file)"; return 0; }
  python3 tools/perf_baseline.py compare --log "$out/bench_8b.log" --baseline "$file"
}

step env environment
step ceilings ceilings
step ops ops
step conformance "$bin/test_model_conformance"
step conformance_f16 conformance_f16
step engine engine_tests
if has_model llama-gqa-q4_0; then step server "$bin/test_server_e2e"; fi
step determinism determinism
step streams streams
step synthetic python3 tools/compare_backends.py --bin "$bin" --out /tmp
step products products
step bench bench
step hybrid hybrid
step cpu_bandwidth cpu_bandwidth
step hybrid_8b hybrid_8b
step bench_8b bench_8b
step kernel_times kernel_times
step gemv_profile gemv_profile
step nccl nccl_check
step baseline baseline

grep -h "^\[conformance\]" "$out"/conformance*.log 2>/dev/null | cut -c1-150
grep -h "copy bandwidth\|TFLOP" "$out/ceilings.log" 2>/dev/null
grep -h "cpu read bandwidth" "$out/cpu_bandwidth.log" 2>/dev/null
grep -h "| llama\|placement:" "$out/hybrid_8b.log" 2>/dev/null
echo "== summary: $(nvidia-smi --query-gpu=name --format=csv,noheader); models: $(for m in $models; do basename "$m" .gguf; done | tr '\n' ' ')"
printf '%s\n' "${table[@]}"
