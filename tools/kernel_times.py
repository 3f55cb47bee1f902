#!/usr/bin/env python3
"""Per-kernel GPU times of one step, from Nsight Compute's raw CSV (the device script's kernel_times step).

Nsight Compute runs each kernel on its own and times it (gpu__time_duration), so the sum over a step
is the time its kernels take without launch gaps; set beside the measured step time it says how much
of a step is kernels and how much is gaps between them. The step is cut out of the launches by its
first kernel (the embedding lookup, which starts every forward step): the last whole step is kept.

    ncu --csv --page raw --print-units base --metrics gpu__time_duration.sum PROGRAM ... > times.csv
    tools/kernel_times.py times.csv [--first embed_kernel] [--last-launches N]
"""
import argparse
import collections
import csv
import re
import sys


def short_name(name: str) -> str:
    """'void rf::gpu::(anonymous namespace)::gemv_kernel<(rf::TensorType)12, 4, false>(rf::gpu::GemvArgs)'
    -> 'gemv_kernel<12, 4, false>'."""
    name = re.sub(r"^void ", "", name)
    name = re.sub(r"\([^()]*\)$", "", name)  # the parameter list
    name = re.sub(r"\((?:rf::)?[\w:]+\)", "", name)  # casts in template arguments
    name = name.replace("(anonymous namespace)::", "")
    name = re.sub(r"^(?:<?unnamed>::|\w+::)+", "", name)  # the namespaces (ncu writes "unnamed>::")
    name = re.sub(r"\b(?:rf::gpu::|rf::|TensorType::|ActRounding::|MapOp::)", "", name)
    return name


def read_launches(path: str) -> list[tuple[str, str, float]]:
    """(kernel, grid, microseconds) for every profiled launch, in launch order."""
    launches = []
    with open(path, newline="") as f:
        text = f.read()
    # The table starts at its header; what comes before it is ncu's log (and, without --log-file, the
    # program's own output, which may end in the header's line).
    start = text.find('"ID","Process ID"')
    if start < 0:
        return []
    lines = [line for line in text[start:].splitlines() if line.startswith('"')]
    for row in csv.DictReader(lines):
        value = row.get("gpu__time_duration.sum", "")
        try:
            ns = float(value.replace(",", ""))
        except ValueError:
            continue  # the units row
        launches.append((short_name(row["Kernel Name"]), row.get("Grid Size", ""), ns / 1e3))
    return launches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv")
    parser.add_argument("--first", default="embed_kernel", help="the kernel that starts each step")
    parser.add_argument("--last-launches", type=int, default=0,
                        help="instead of a step: the last N launches (a filtered profile)")
    parser.add_argument("--title", default="")
    args = parser.parse_args()

    launches = read_launches(args.csv)
    if not launches:
        print(f"kernel_times: no launches in {args.csv}", file=sys.stderr)
        return 1
    if args.last_launches:
        step = launches[-args.last_launches:]
    else:
        starts = [i for i, (name, _, _) in enumerate(launches) if name.startswith(args.first)]
        if len(starts) < 2:
            print(f"kernel_times: fewer than two steps (launches of {args.first}) in {args.csv}", file=sys.stderr)
            return 1
        step = launches[starts[-2]:starts[-1]]

    groups: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    for name, grid, us in step:
        groups[(name, grid)].append(us)
    total = sum(us for _, _, us in step)
    print(f"{args.title}{len(step)} launches, kernels {total:.1f} us in all (no gaps)")
    print(f"{'kernel':<60} {'grid':<16} {'n':>4} {'us each':>9} {'us all':>9} {'share':>6}")
    for (name, grid), times in sorted(groups.items(), key=lambda kv: -sum(kv[1])):
        print(f"{name[:60]:<60} {grid[:16]:<16} {len(times):>4} {sum(times) / len(times):>9.2f} "
              f"{sum(times):>9.1f} {100 * sum(times) / total:>5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
