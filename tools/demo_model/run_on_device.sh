#!/usr/bin/env bash
# Trains the demo model on the GPU machine (issue 20). Run from the repository root, with the files
# written by train_tokenizer.py (data.json, tokens.bin) in .demo/ and $OUT set to the output folder:
#   bash tools/demo_model/run_on_device.sh
# Writes manifest.json, weights-N.bin, metrics.json and loss_curve.png to $OUT (under 6 minutes).
set -euo pipefail
: "${OUT:?set OUT to the output folder}"
test -f .demo/data.json && test -f .demo/tokens.bin || { echo "error: .demo/data.json and .demo/tokens.bin are needed" >&2; exit 1; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)'
python3 tools/demo_model/train.py --data .demo --out "$OUT" 2>&1 | tee "$OUT/train.log"
ls -l "$OUT"
