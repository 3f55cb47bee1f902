#!/usr/bin/env bash
# End-to-end check of the demo model's pipeline without PyTorch (issue 20): a small tokenizer
# trained on ../shared's corpus, ROCmForge tokenizing the corpus exactly as the Python encoder does,
# random weights in train.py's output format exported to GGUF, then generate, quantize and
# perplexity, the latter equal to the pure-Python reference of train.py's model.
# Usage: demo_export_test.sh ROCMFORGE EXPORTER SOURCE_DIR SHARED_DIR
set -euo pipefail
rocmforge=$1 exporter=$2 src=$3 shared=${ROCMFORGE_SHARED_DIR:-$4}
corpus=$shared/corpus/tinyshakespeare.txt
if [ ! -f "$corpus" ]; then
  echo "CONFORMANCE SKIPPED: $corpus not found (set ROCMFORGE_SHARED_DIR)"
  exit 77  # ctest SKIP_RETURN_CODE
fi
tools=$src/tools/demo_model
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 "$tools/train_tokenizer.py" --corpus "$corpus" --out "$work/data" --n-vocab 600
python3 "$tools/random_weights.py" --data "$work/data" --out "$work/weights" --small
"$exporter" --weights "$work/weights" --tokenizer "$work/data/tokenizer.json" --out "$work/demo.gguf"

# The whole corpus tokenizes to the same ids here and in Python.
"$rocmforge" tokenize -m "$work/demo.gguf" --no-bos --file "$corpus" > "$work/ids.txt"
python3 "$tools/train_tokenizer.py" --corpus "$corpus" --out "$work/unused" --tokenizer "$work/data/tokenizer.json" \
  --check-ids "$work/ids.txt"

"$rocmforge" generate -m "$work/demo.gguf" -p "ROMEO:" -n 8 --seed 1 > "$work/generate.txt"
grep -q "^ROMEO:" "$work/generate.txt" || { echo "generate printed no continuation of the prompt"; cat "$work/generate.txt"; exit 1; }
"$rocmforge" quantize "$work/demo.gguf" "$work/demo-q8.gguf" Q8_0 -q
"$rocmforge" generate -m "$work/demo-q8.gguf" -p "ROMEO:" -n 8 --seed 1 > /dev/null

# Perplexity over part of the held-out text: ROCmForge against the Python reference (float64).
head -c 400 "$work/data/valid.txt" > "$work/text.txt"
"$rocmforge" tokenize -m "$work/demo.gguf" --no-bos --file "$work/text.txt" > "$work/text-ids.txt"
bos=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bos_token_id"])' "$work/data/data.json")
"$rocmforge" perplexity -m "$work/demo.gguf" -f "$work/text.txt" -c 40 --json > "$work/ours.json"
python3 "$tools/random_weights.py" --perplexity --weights "$work/weights" --ids "$work/text-ids.txt" --bos "$bos" -c 40 \
  > "$work/reference.json"
python3 - "$work/ours.json" "$work/reference.json" <<'PY'
import json, sys
ours, ref = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print(f"perplexity loss: rocmforge {ours['loss']:.9f}, reference {ref['loss']:.9f} over {ref['tokens']} tokens")
assert ours["scored"] == ref["tokens"], (ours, ref)
assert abs(ours["loss"] - ref["loss"]) <= 1e-5 * abs(ref["loss"]), "losses differ"
PY
echo "demo export pipeline: OK"
