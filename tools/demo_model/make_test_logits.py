#!/usr/bin/env python3
"""Cuts the reference the demo model's logit test needs out of train.py's metrics.json.

metrics.json holds PyTorch's fp32 logits at every position of a fixed token sequence (32 x 4096
floats, 1.7 MB). The comparison protocol of shared/README.md only needs the full vector at the last
position and the best five tokens (with their logits and so their margins) at every position, so
that is all this keeps (about 50 KB).

usage: make_test_logits.py METRICS.json OUT.json
"""
import json
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        metrics = json.load(f)
    logits = metrics["test_logits"]
    top5 = []
    for row in logits:
        best = sorted(range(len(row)), key=lambda i: -row[i])[:5]
        top5.append([[i, row[i]] for i in best])
    out = {
        "source": "tools/demo_model/train.py metrics.json (PyTorch, " + metrics["precision"] + ", "
                  + metrics["device"] + ", best step " + str(metrics["best_step"]) + ")",
        "tokens": metrics["test_tokens"],
        "prompt_top5": top5,
        "last_logits": logits[-1],
        "val_loss": metrics["val_loss"],
        "val_perplexity": metrics["val_perplexity"],
        "val_tokens_scored": metrics["val_tokens_scored"],
    }
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
