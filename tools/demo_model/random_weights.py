#!/usr/bin/env python3
"""Random weights in train.py's output format, and a pure-Python reference of its model (issue 20).

Standard library only, so the exporter, ROCmForge's loading of the export and `rocmforge perplexity`
can be checked on a machine without PyTorch:

  random_weights.py --data .demo --out DIR [--small]
      writes DIR/manifest.json and DIR/weights-N.bin (the shapes of data.json's model, or a small one)
  random_weights.py --weights DIR --perplexity FILE --tokenizer-ids IDS [-c N]
      the perplexity protocol of train.py computed by reference_logits() below, for the token ids in
      IDS (whitespace separated, as `rocmforge tokenize --no-bos` prints FILE)

The reference follows train.py's Llama line by line (adjacent-pair RoPE, grouped-query attention
with query head h reading KV head h // group, SwiGLU, tied output), in float64.
"""
import argparse
import array
import json
import math
import os
import random
import sys

SHARD_BYTES = 12 * 1024 * 1024


def model_tensors(m):
    d, hd, ff = m["n_embd"], m["n_embd"] // m["n_head"], m["n_ff"]
    # (ggml name, PyTorch shape (rows, cols) or (n,), std; None = a norm weight near 1)
    out = [("token_embd.weight", (m["n_vocab"], d), 1.0)]
    for i in range(m["n_layer"]):
        p = f"blk.{i}."
        out += [(p + "attn_norm.weight", (d,), None), (p + "attn_q.weight", (m["n_head"] * hd, d), d ** -0.5),
                (p + "attn_k.weight", (m["n_head_kv"] * hd, d), d ** -0.5),
                (p + "attn_v.weight", (m["n_head_kv"] * hd, d), d ** -0.5),
                (p + "attn_output.weight", (d, m["n_head"] * hd), (m["n_head"] * hd) ** -0.5),
                (p + "ffn_norm.weight", (d,), None), (p + "ffn_gate.weight", (ff, d), d ** -0.5),
                (p + "ffn_up.weight", (ff, d), d ** -0.5), (p + "ffn_down.weight", (d, ff), ff ** -0.5)]
    out.append(("output_norm.weight", (d,), None))
    return out


def write_random(m, out_dir, seed):
    rng = random.Random(seed)
    shards, manifest = [bytearray()], []
    for name, shape, std in model_tensors(m):
        n = math.prod(shape)
        values = array.array("f", (rng.uniform(0.8, 1.2) if std is None else rng.gauss(0.0, std) for _ in range(n)))
        if sys.byteorder != "little":
            values.byteswap()
        data = values.tobytes()
        if len(shards[-1]) + len(data) > SHARD_BYTES:
            shards.append(bytearray())
        manifest.append({"name": name, "ggml_shape": list(reversed(shape)), "dtype": "f32",
                         "shard": len(shards) - 1, "offset": len(shards[-1]), "bytes": len(data)})
        shards[-1] += data
    os.makedirs(out_dir, exist_ok=True)
    files = []
    for i, blob in enumerate(shards):
        files.append(f"weights-{i}.bin")
        with open(os.path.join(out_dir, files[-1]), "wb") as f:
            f.write(blob)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump({"format": "rocmforge-demo-weights-1", "architecture": "llama", "model": m,
                   "shards": files, "tensors": manifest}, f, indent=1)


def read_weights(weights_dir):
    with open(os.path.join(weights_dir, "manifest.json")) as f:
        manifest = json.load(f)
    blobs = []
    for name in manifest["shards"]:
        with open(os.path.join(weights_dir, name), "rb") as f:
            blobs.append(f.read())
    w = {}
    for t in manifest["tensors"]:
        values = array.array("f")
        values.frombytes(blobs[t["shard"]][t["offset"]:t["offset"] + t["bytes"]])
        if sys.byteorder != "little":
            values.byteswap()
        cols = t["ggml_shape"][0]
        rows = [list(values[r * cols:(r + 1) * cols]) for r in range(len(values) // cols)]
        w[t["name"]] = rows if len(t["ggml_shape"]) == 2 else rows[0]
    return manifest["model"], w


def matvec(rows, x):  # nn.Linear: rows is (out, in)
    return [sum(a * b for a, b in zip(r, x)) for r in rows]


def rms_norm(x, weight, eps):
    scale = 1.0 / math.sqrt(sum(v * v for v in x) / len(x) + eps)
    return [v * scale * g for v, g in zip(x, weight)]


def rope(vec, pos, head_dim, base):
    out = list(vec)
    for h in range(0, len(vec), head_dim):
        for i in range(head_dim // 2):
            theta = pos * base ** (-2.0 * i / head_dim)
            a, b = out[h + 2 * i], out[h + 2 * i + 1]
            out[h + 2 * i] = a * math.cos(theta) - b * math.sin(theta)
            out[h + 2 * i + 1] = a * math.sin(theta) + b * math.cos(theta)
    return out


def reference_logits(m, w, tokens):
    """Logits at every position of `tokens` (one fresh context)."""
    d, hd, eps = m["n_embd"], m["n_embd"] // m["n_head"], m["norm_eps"]
    group = m["n_head"] // m["n_head_kv"]
    xs = [list(w["token_embd.weight"][t]) for t in tokens]
    for i in range(m["n_layer"]):
        p = f"blk.{i}."
        keys, values = [], []
        for pos, x in enumerate(xs):
            h = rms_norm(x, w[p + "attn_norm.weight"], eps)
            q = rope(matvec(w[p + "attn_q.weight"], h), pos, hd, m["rope_freq_base"])
            keys.append(rope(matvec(w[p + "attn_k.weight"], h), pos, hd, m["rope_freq_base"]))
            values.append(matvec(w[p + "attn_v.weight"], h))
            heads = []
            for head in range(m["n_head"]):
                kv = head // group
                qh = q[head * hd:(head + 1) * hd]
                scores = [sum(a * b for a, b in zip(qh, k[kv * hd:(kv + 1) * hd])) / math.sqrt(hd) for k in keys]
                top = max(scores)
                e = [math.exp(s - top) for s in scores]
                total = sum(e)
                heads += [sum(e[j] * values[j][kv * hd + c] for j in range(len(e))) / total for c in range(hd)]
            attn = matvec(w[p + "attn_output.weight"], heads)
            x = [a + b for a, b in zip(x, attn)]
            h = rms_norm(x, w[p + "ffn_norm.weight"], eps)
            gate, up = matvec(w[p + "ffn_gate.weight"], h), matvec(w[p + "ffn_up.weight"], h)
            hidden = [g / (1.0 + math.exp(-g)) * u for g, u in zip(gate, up)]
            xs[pos] = [a + b for a, b in zip(x, matvec(w[p + "ffn_down.weight"], hidden))]
    return [matvec(w["token_embd.weight"], rms_norm(x, w["output_norm.weight"], eps)) for x in xs]


def perplexity(m, w, ids, n_ctx, bos):
    total, count = 0.0, 0
    for start in range(0, len(ids), n_ctx):
        chunk = ids[start:start + n_ctx]
        logits = reference_logits(m, w, [bos] + chunk[:-1])
        for row, target in zip(logits, chunk):
            top = max(row)
            total += top + math.log(sum(math.exp(v - top) for v in row)) - row[target]
            count += 1
    return total / count, count


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder with data.json (for the model shape)")
    ap.add_argument("--out", help="write random weights here")
    ap.add_argument("--small", action="store_true", help="n_embd 64, 2 layers, n_ff 128, n_ctx 64 (keeps the vocabulary)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--weights", help="read weights from here (for --perplexity)")
    ap.add_argument("--ids", help="token ids of the held-out text (for --perplexity)")
    ap.add_argument("--bos", type=int, help="BOS id")
    ap.add_argument("-c", "--ctx", type=int, help="chunk length (default: the model's n_ctx)")
    ap.add_argument("--perplexity", action="store_true")
    args = ap.parse_args()
    if args.perplexity:
        m, w = read_weights(args.weights)
        with open(args.ids) as f:
            ids = [int(x) for x in f.read().split()]
        loss, count = perplexity(m, w, ids, args.ctx or m["n_ctx"], args.bos)
        print(json.dumps({"loss": loss, "perplexity": math.exp(loss), "tokens": count}))
        return
    with open(os.path.join(args.data, "data.json")) as f:
        m = dict(json.load(f)["model"])
    if args.small:
        m.update({"n_embd": 64, "n_layer": 2, "n_head": 4, "n_head_kv": 2, "n_ff": 128, "n_ctx": 64})
    write_random(m, args.out, args.seed)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
