#!/usr/bin/env bash
# Runs on the GPU machine (through the device tool) with binaries built here and carried over:
# checks that the CUDA build's code runs on the card and records what the card is.
# usage: scripts/gpu-check.sh BUILD_DIR   (results also written to $OUT when set)
set -uo pipefail
build=${1:-build}
out=${OUT:-/tmp/rocmforge-gpu}
mkdir -p "$out"
{
  echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader
  echo "== ldd (must list only system libraries)"
  ldd "$build/src/cli/rocmforge"
  echo "== rocmforge devices --self-test"
  "$build/src/cli/rocmforge" devices --self-test
  echo "exit: $?"
} 2>&1 | tee "$out/gpu-check.log"
