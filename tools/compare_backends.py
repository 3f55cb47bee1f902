#!/usr/bin/env python3
"""Compares a GPU backend with the CPU backend (the verified one) on synthetic models that
rocmforge-synth writes: every architecture and many weight formats, at shapes larger than the shared
models (many heads, long rows) and a prompt of about 2,000 tokens in a 4,096-token context.

For each model both backends run `rocmforge generate --json --top-logits 5 --temp 0`; the CPU's run is
the reference of ../shared/README.md's protocol: top-1 per prompt position equal wherever the CPU's
top-1/top-2 margin exceeds M (95% of them for quantized weights, all above 1.5), and the greedy tokens
equal up to the first step whose CPU margin is below M. Exits 1 if any model fails.

  compare_backends.py --bin DIR [--out DIR] [--device cuda]"""
import argparse
import json
import random
import subprocess
import sys

SHAPE = ["--layers", "2", "--embd", "1024", "--ff", "2816", "--heads", "16", "--kv-heads", "4",
         "--vocab", "32000", "--ctx", "4096"]
# (architecture, weight type, extra synth flags)
MODELS = [("llama", t, []) for t in ["F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K",
                                      "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "MXFP4"]] + [
    ("qwen2", "Q8_0", []), ("qwen3", "Q4_K", []), ("phi3", "Q6_K", []), ("gemma2", "Q4_K", []),
    ("llama", "Q4_0", ["--experts", "4", "--experts-used", "2"]),
]


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def margin(top):
    return top[0][1] - top[1][1] if len(top) > 1 else float("inf")


def compare(ref, got, quantized):
    m = 0.5 if quantized else 0.1
    problems = []
    above = agree = 0
    for p, (r, g) in enumerate(zip(ref["prompt_top_logits"], got["prompt_top_logits"])):
        same = r[0][0] == g[0][0]
        if margin(r) > m:
            above += 1
            agree += same
            if not quantized and not same:
                problems.append(f"prompt position {p}: top-1 {g[0][0]} instead of {r[0][0]} (margin {margin(r):.2f})")
        if margin(r) > 1.5 and not same:
            problems.append(f"prompt position {p}: top-1 {g[0][0]} instead of {r[0][0]} (margin {margin(r):.2f})")
    if quantized and agree < 0.95 * above:
        problems.append(f"top-1 agrees at {agree} of {above} positions with margin > {m}")
    steps = 0
    for i, (r, g) in enumerate(zip(ref["generated_tokens"], got["generated_tokens"])):
        if margin(ref["generated_top_logits"][i]) < m:
            break
        if r != g:
            problems.append(f"greedy step {i}: {g} instead of {r}")
            break
        steps += 1
    return problems, agree, above, steps


def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--bin", required=True, help="folder with rocmforge and rocmforge-synth")
    a.add_argument("--out", default="/tmp")
    a.add_argument("--device", default="cuda")
    args = a.parse_args()
    rng = random.Random(7)
    words = ["".join(rng.choice("etaoinshrdlu") for _ in range(rng.randint(2, 9))) for _ in range(600)]
    prompt = " ".join(words)
    failed = 0
    for arch, wtype, extra in MODELS:
        name = f"{arch}-{wtype}" + ("-moe" if extra else "")
        path = f"{args.out}/{name}.gguf"
        run([f"{args.bin}/rocmforge-synth", "--arch", arch, "--type", wtype, "--seed", "3", "--out", path] + SHAPE + extra)
        outs = {}
        for device in ("cpu", args.device):
            outs[device] = json.loads(run([f"{args.bin}/rocmforge", "generate", "--device", device, "-m", path,
                                           "-c", "4096", "-p", prompt, "-n", "24", "--temp", "0", "--ignore-eos",
                                           "--json", "--top-logits", "5"]))
        problems, agree, above, steps = compare(outs["cpu"], outs[args.device], wtype not in ("F16", "BF16", "F32"))
        print(f"[compare] {name:16} {len(outs['cpu']['prompt_tokens'])} prompt tokens: top-1 {agree}/{above} "
              f"(margin > M), greedy equal for {steps} required steps: {'ok' if not problems else 'FAIL'}")
        for p in problems[:5]:
            print("    " + p)
        failed += bool(problems)
    print(f"{len(MODELS) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
