#!/usr/bin/env python3
"""Benchmark baselines: the figures of `rocmforge bench` tables (markdown, as scripts/gpu-check.sh logs
them) kept per card in bench/baselines/<card>.json, and a check of a new run against them.

  perf_baseline.py record  --log LOG --card NAME --commit SHA --out FILE   (a new baseline)
  perf_baseline.py compare --log LOG --baseline FILE                      (exit 1 on a regression)

A figure regresses when it falls below the baseline by more than its noise: three times the larger
of the two runs' standard deviations (bench's ± over its repetitions), and never less than 2% (the
spread between device calls, which a single run's ± does not see)."""
import argparse
import datetime
import json
import re
import sys

ROW = re.compile(r"^\| (?P<model>[^|]+?) \|[^|]*\|[^|]*\| (?P<backend>\w+) \|[^|]*\| (?P<test>[^|]+?) \| "
                 r"(?P<value>[\d.]+) ± (?P<sd>[\d.]+) \|$")


def figures(log_path):
    found = {}
    with open(log_path, encoding="utf-8") as log:
        for line in log:
            m = ROW.match(line.strip())
            if m:
                key = f"{m['model']} | {m['backend']} | {m['test']}"
                found[key] = {"tokens_per_second": float(m["value"]), "stddev": float(m["sd"])}
    return found


def record(args):
    data = {"card": args.card, "date": datetime.date.today().isoformat(), "commit": args.commit,
            "figures": figures(args.log)}
    if not data["figures"]:
        sys.exit(f"perf_baseline: no bench rows in {args.log}")
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1, sort_keys=True)
        out.write("\n")
    print(f"perf_baseline: {len(data['figures'])} figures recorded for {args.card} in {args.out}")


def compare(args):
    with open(args.baseline, encoding="utf-8") as f:
        base = json.load(f)
    new = figures(args.log)
    worse = 0
    for key, b in sorted(base["figures"].items()):
        if key not in new:
            continue
        n = new[key]
        noise = max(3 * max(b["stddev"], n["stddev"]), 0.02 * b["tokens_per_second"])
        delta = n["tokens_per_second"] - b["tokens_per_second"]
        verdict = "REGRESSION" if delta < -noise else "ok"
        worse += verdict != "ok"
        print(f"[baseline] {key:<45} {b['tokens_per_second']:>10.2f} -> {n['tokens_per_second']:>10.2f} "
              f"({delta:+.2f}, noise {noise:.2f}) {verdict}")
    compared = len(set(base["figures"]) & set(new))
    print(f"[baseline] {compared} figures compared with {base['card']} of {base['date']} ({base['commit']}): "
          f"{worse} worse than their noise")
    sys.exit(1 if worse else 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record")
    r.add_argument("--log", required=True)
    r.add_argument("--card", required=True)
    r.add_argument("--commit", required=True)
    r.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--log", required=True)
    c.add_argument("--baseline", required=True)
    args = parser.parse_args()
    record(args) if args.command == "record" else compare(args)


if __name__ == "__main__":
    main()
