#!/usr/bin/env python3
"""Slow senders against a running `rocmforge serve`: --connections sockets each send one header line
every --interval seconds (never finishing the request) while /health is asked every 0.1 s on fresh
connections. Reports /health latency (p50, p99, max) and failures, and how the slow connections
ended (an answer such as 408, closed, or still open at the end).

  tools/slow_senders.py --port 8080 --connections 1000 --duration 20"""
import argparse
import http.client
import socket
import statistics
import threading
import time


def probe(host, port, timeout):
    start = time.perf_counter()
    try:
        c = http.client.HTTPConnection(host, port, timeout=timeout)
        c.request("GET", "/health")
        r = c.getresponse()
        r.read()
        c.close()
        return time.perf_counter() - start, r.status
    except Exception as e:  # a timeout, refused or reset connection
        return time.perf_counter() - start, type(e).__name__


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=3.0, help="seconds between header lines")
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--probe-timeout", type=float, default=5.0)
    a = ap.parse_args()

    slow, refused = [], 0
    for _ in range(a.connections):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((a.host, a.port))
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            s.setblocking(False)
            slow.append(s)
        except OSError:
            refused += 1
    print(f"{len(slow)} slow connections open, {refused} refused")

    latencies, failures, stop = [], [], threading.Event()

    def prober():
        while not stop.is_set():
            t, status = probe(a.host, a.port, a.probe_timeout)
            (latencies if status == 200 else failures).append((t, status))
            time.sleep(0.1)

    th = threading.Thread(target=prober)
    th.start()
    ended = {}
    end = time.time() + a.duration
    line = 0
    while time.time() < end:
        time.sleep(a.interval)
        line += 1
        for s in slow:
            if s.fileno() < 0:
                continue
            try:
                data = s.recv(4096)
                if data:
                    key = data.split(b"\r\n", 1)[0].decode(errors="replace")
                else:
                    key = "closed"
                ended[key] = ended.get(key, 0) + 1
                s.close()
                continue
            except BlockingIOError:
                pass
            except OSError as e:
                ended[type(e).__name__] = ended.get(type(e).__name__, 0) + 1
                s.close()
                continue
            try:
                s.send(f"X-Slow-{line}: 1\r\n".encode())
            except OSError as e:
                ended[type(e).__name__] = ended.get(type(e).__name__, 0) + 1
                s.close()
    stop.set()
    th.join()
    still = sum(1 for s in slow if s.fileno() >= 0)
    for s in slow:
        if s.fileno() >= 0:
            s.close()
    ts = sorted(t for t, _ in latencies)
    if ts:
        p = lambda q: ts[min(len(ts) - 1, int(q * len(ts)))] * 1000
        print(f"/health answered {len(ts)} times: p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {ts[-1]*1000:.1f} ms")
    print(f"/health failed {len(failures)} times" + (f" ({failures[0][1]} after {failures[0][0]:.1f} s, ...)" if failures else ""))
    print(f"slow connections: {ended or 'none ended'}; still open at the end: {still}")


if __name__ == "__main__":
    main()
