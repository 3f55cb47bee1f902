#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time from the committed seed corpus.
# usage: scripts/run-fuzz.sh FUZZER SECONDS   (seeds: tests/fuzz/corpus/FUZZER's name/)
# New inputs go to a scratch corpus (never into the repo); a crash leaves its reproducer in fuzz-artifacts/.
set -euo pipefail
fuzzer=$1
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
name=$(basename "$fuzzer")
work="$root/fuzz-corpus-work/$name"
mkdir -p "$work" "$root/fuzz-artifacts"
# A target's dictionary (tests/fuzz/TARGET.dict) gives mutations values that plain bit flips
# rarely reach, such as dimensions near 2^62 whose byte size overflows.
dict="$root/tests/fuzz/$name.dict"
dict_flag=()
[[ -f "$dict" ]] && dict_flag=(-dict="$dict")
"$fuzzer" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 "${dict_flag[@]}" \
  -artifact_prefix="$root/fuzz-artifacts/" -print_final_stats=1 \
  "$work" "$root/tests/fuzz/corpus/$name" 2>&1 | tail -n 25
