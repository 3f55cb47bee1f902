#!/usr/bin/env python3
"""Throughput and load test of a running `rocmforge serve`, through its OpenAI HTTP API.

  throughput: for each concurrency N, N streaming completions start together (prompt of
              --prompt-tokens token ids, --max-tokens generated), as llama-batched-bench runs N
              parallel sequences; reports prompt and generation tokens/s of the whole batch.
  load:       --clients streaming clients send requests back to back for --duration seconds (random
              lengths, some abandoned mid-stream); reports requests/s, tokens/s, latency
              percentiles, failures, and the server's KV blocks and resident set before and after.

Only the Python standard library; a PNG plot of the throughput curve is drawn when matplotlib is
installed (--plot FILE)."""
import argparse
import http.client
import json
import random
import statistics
import threading
import time
import urllib.parse


def stream_completion(url, body, abandon_after=None, timeout=600):
    """POSTs a streaming completion; returns (status, ttft seconds, end seconds, tokens, error, gaps):
    gaps are the seconds between successive streamed tokens (inter-token latency)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    start = time.perf_counter()
    ttft, tokens, gaps, last = None, 0, [], None
    try:
        conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            return resp.status, None, time.perf_counter() - start, 0, resp.read().decode(errors="replace")[:200], gaps
        usage = None
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            if chunk.get("error"):  # the request ended with an error, and was told so
                return "error", ttft, time.perf_counter() - start, tokens, json.dumps(chunk["error"])[:200], gaps
            if chunk.get("usage"):
                usage = chunk["usage"]
            if chunk.get("choices"):
                now = time.perf_counter()
                if ttft is None:
                    ttft = now - start
                else:
                    gaps.append(now - last)
                last = now
                tokens += 1
                if abandon_after is not None and tokens >= abandon_after:
                    conn.close()  # the server must notice and cancel
                    return 499, ttft, time.perf_counter() - start, tokens, None, gaps
        if usage:
            tokens = usage.get("completion_tokens", tokens)
        return 200, ttft, time.perf_counter() - start, tokens, None, gaps
    except Exception as e:  # a failure is counted, not fatal
        return 0, ttft, time.perf_counter() - start, tokens, repr(e)[:200], gaps
    finally:
        conn.close()


def get_json(url, path):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("GET", path)
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    return resp.status, text


def metric(url, name):
    """Sum of a Prometheus metric's samples (None when absent)."""
    _, text = get_json(url, "/metrics")
    values = [float(l.split()[-1]) for l in text.splitlines() if l.startswith(name) and not l.startswith("#")]
    return sum(values) if values else None


def rss_kib(pid):
    if not pid:
        return None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def pct(values, p):
    """The p-th percentile of sorted values (nan when empty)."""
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def prompt_ids(rng, n):
    return [rng.randrange(1000, 20000) for _ in range(n)]


def run_threads(threads):
    """Starts the threads together and waits for all; returns the wall time in seconds."""
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def throughput(args):
    rng = random.Random(1)
    rows = []
    for n in args.concurrency:
        runs, ttfts, gaps = [], [], []
        for _ in range(args.repetitions):
            results = [None] * n
            bodies = [{"model": "m", "prompt": prompt_ids(rng, args.prompt_tokens), "max_tokens": args.max_tokens,
                       "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
                      for _ in range(n)]
            barrier = threading.Barrier(n)

            def run(i):
                barrier.wait()
                results[i] = stream_completion(args.url, bodies[i])
            wall = run_threads([threading.Thread(target=run, args=(i,)) for i in range(n)])
            bad = [r for r in results if r[0] != 200]
            if bad:
                raise SystemExit(f"concurrency {n}: {len(bad)} failed requests, first: {bad[0]}")
            ttfts += [r[1] for r in results]
            gaps += [g for r in results for g in r[5]]
            prefill = max(r[1] for r in results)  # every sequence has its first token
            generated = sum(r[3] for r in results)
            runs.append({"wall": wall, "prefill": prefill, "pp": n * args.prompt_tokens / prefill,
                         "tg": (generated - n) / max(wall - prefill, 1e-9), "e2e": generated / wall})
        row = {"concurrency": n}
        for key in ("pp", "tg", "e2e"):
            vals = [r[key] for r in runs]
            row[key] = statistics.mean(vals)
            row[key + "_sd"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
        ttfts.sort()
        gaps.sort()
        for name, values in (("ttft", ttfts), ("itl", gaps)):
            for p in (50, 99):
                row[f"{name}_p{p}_ms"] = 1e3 * pct(values, p)
        rows.append(row)
        print(f"N={n:3d}  prompt {row['pp']:8.1f} tok/s  generation {row['tg']:8.1f} ± {row['tg_sd']:.1f} tok/s"
              f"  end to end {row['e2e']:8.1f} tok/s  TTFT p50/p99 {row['ttft_p50_ms']:.0f}/{row['ttft_p99_ms']:.0f} ms"
              f"  ITL p50/p99 {row['itl_p50_ms']:.1f}/{row['itl_p99_ms']:.1f} ms", flush=True)
    print("\n| parallel sequences | prompt tok/s | generation tok/s | generated tok/s incl. prefill "
          "| TTFT p50 / p99 ms | inter-token p50 / p99 ms |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['concurrency']} | {r['pp']:.1f} | {r['tg']:.1f} ± {r['tg_sd']:.1f} | {r['e2e']:.1f} "
              f"| {r['ttft_p50_ms']:.0f} / {r['ttft_p99_ms']:.0f} | {r['itl_p50_ms']:.1f} / {r['itl_p99_ms']:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: no plot")
            return
        xs = [r["concurrency"] for r in rows]
        plt.figure(figsize=(6, 4))
        plt.errorbar(xs, [r["tg"] for r in rows], yerr=[r["tg_sd"] for r in rows], marker="o", label="ROCmForge (HTTP)")
        if args.reference:
            plt.plot(xs, args.reference[:len(xs)], marker="s", linestyle="--", label="llama-batched-bench (issue)")
        plt.xscale("log", base=2)
        plt.xticks(xs, [str(x) for x in xs])
        plt.xlabel("parallel sequences")
        plt.ylabel("aggregate generation tokens/s")
        plt.title(args.title)
        plt.grid(alpha=0.3)
        plt.legend()
        plt.tight_layout()
        plt.savefig(args.plot, dpi=120)
        print(f"plot: {args.plot}")


def load(args):
    rng = random.Random(2)
    stop_at = time.perf_counter() + args.duration
    lock = threading.Lock()
    results = []
    blocks_before = metric(args.url, "rocmforge_kv_blocks_used")
    rss_before = rss_kib(args.pid)

    def client(seed):
        r = random.Random(seed)
        while time.perf_counter() < stop_at:
            body = {"model": "m", "prompt": prompt_ids(r, r.randrange(8, 129)), "max_tokens": r.randrange(8, 65),
                    "temperature": r.choice([0, 0.8]), "seed": r.randrange(1 << 30), "stream": True}
            abandon = r.randrange(1, 8) if r.random() < 0.1 else None
            res = stream_completion(args.url, body, abandon_after=abandon)
            with lock:
                results.append(res)
    wall = run_threads([threading.Thread(target=client, args=(rng.randrange(1 << 30),)) for _ in range(args.clients)])
    time.sleep(2)  # let cancelled requests be retired
    done = [r for r in results if r[0] == 200]
    abandoned = [r for r in results if r[0] == 499]
    refused = [r for r in results if r[0] in (429, 503)]
    # Ended with an error the client was told of (an error event in the stream, or a 5xx answer):
    # expected where faults are injected. Anything else (no answer, a broken stream) is lost.
    errored = [r for r in results if r[0] == "error" or (isinstance(r[0], int) and r[0] >= 500 and r[0] != 503)]
    failed = [r for r in results if r[0] not in (200, 499, 429, 503) and r not in errored]
    ttfts = sorted(r[1] for r in done if r[1] is not None)
    ends = sorted(r[2] for r in done)
    tokens = sum(r[3] for r in done + abandoned)
    print(f"{args.clients} clients for {wall:.0f} s: {len(results)} requests, {len(done)} completed, "
          f"{len(abandoned)} abandoned by the client, {len(refused)} refused (overloaded), "
          f"{len(errored)} ended with an error they were told of, {len(failed)} lost (no answer or a broken stream)")
    print(f"requests/s {len(done) / wall:.2f}, generated tokens/s {tokens / wall:.1f}")
    print(f"time to first token p50 {pct(ttfts, 50):.2f} s, p90 {pct(ttfts, 90):.2f} s, p99 {pct(ttfts, 99):.2f} s")
    print(f"request latency p50 {pct(ends, 50):.2f} s, p90 {pct(ends, 90):.2f} s, p99 {pct(ends, 99):.2f} s")
    blocks_after = metric(args.url, "rocmforge_kv_blocks_used")
    print(f"KV blocks used before {blocks_before}, after {blocks_after}")
    if args.pid:
        print(f"server resident set before {rss_before} KiB, after {rss_kib(args.pid)} KiB")
    for r in errored[:2]:
        print("error answered:", r)
    for r in failed[:5]:
        print("lost:", r)
    if failed:
        raise SystemExit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("mode", choices=["throughput", "load"])
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    p.add_argument("--prompt-tokens", type=int, default=64)
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--repetitions", type=int, default=3)
    p.add_argument("--json")
    p.add_argument("--plot")
    p.add_argument("--title", default="Aggregate generation throughput")
    p.add_argument("--reference", type=float, nargs="*", help="reference tokens/s per concurrency, for the plot")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--pid", type=int, help="server process id, to report its resident set")
    args = p.parse_args()
    throughput(args) if args.mode == "throughput" else load(args)


if __name__ == "__main__":
    main()
