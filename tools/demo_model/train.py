#!/usr/bin/env python3
"""Trains ROCmForge's demo model (issue 20) on one CUDA GPU; see run_on_device.sh.

Input (--data DIR, written by train_tokenizer.py): data.json (parts, hyper-parameters) and
tokens.bin (uint16 little-endian ids: train, chat, valid).

Output (--out DIR, at most 6 files, each under 15 MiB):
  manifest.json      hyper-parameters and, per tensor, its ggml name, ggml shape (ne0 first), shard and
                     byte offset; the exporter (rocmforge-export-demo) turns it into a GGUF
  weights-N.bin      shards (<= 12 MiB) of raw little-endian f32 tensors in ggml layout: a ggml tensor
                     of shape {cols, rows} is rows x cols row-major, i.e. nn.Linear's (out, in) as is
  metrics.json       hyper-parameters, loss curve, final validation loss and perplexity (protocol
                     below), and fp32 logits for a fixed 32-token sequence at every position
  loss_curve.png     when matplotlib is present

The model is llama as ROCmForge computes it: token embedding; per layer RMSNorm -> grouped-query
attention with RoPE on ADJACENT pairs (x[2i], x[2i+1]; ggml's "normal" rope), causal, scale
1/sqrt(head_dim) -> residual; RMSNorm -> SwiGLU (down(silu(gate x) * up x)) -> residual; final
RMSNorm and the output matrix (tied to the embedding). No biases. Query head h reads KV head
h // (n_head / n_head_kv).

Perplexity protocol (the same as `rocmforge perplexity`): the held-out tokens (tokenized without BOS)
are cut into consecutive chunks of n_ctx tokens (the last may be shorter); each chunk is scored from
a fresh context: the model reads BOS followed by the chunk and every token of the chunk is predicted
(the prediction of chunk token j uses BOS and chunk tokens 0..j-1). Validation loss is the mean
negative log-likelihood (natural log) over all held-out tokens; perplexity = exp(loss). Training
windows are made the same way: BOS followed by n_ctx tokens from a random offset of the train+chat
stream, all n_ctx predicted.
"""
import argparse
import array
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHARD_BYTES = 12 * 1024 * 1024
TIME_BUDGET_S = 270  # training stops early past this, so the whole run stays well under 6 minutes


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


def rope_tables(n_ctx, head_dim, base, device):
    """cos/sin of shape (n_ctx, head_dim / 2): pair i at position p turns by p * base^(-2i/head_dim)."""
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(n_ctx, dtype=torch.float64)[:, None] * inv[None, :]
    return angles.cos().float().to(device), angles.sin().float().to(device)


def apply_rope(x, cos, sin):
    """x: (batch, heads, T, head_dim); rotates adjacent pairs (x[2i], x[2i+1])."""
    t = x.shape[2]
    x = x.float()
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[:t][None, None], sin[:t][None, None]
    out = torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)
    return out.flatten(-2)


class Block(nn.Module):
    def __init__(self, m, dropout):
        super().__init__()
        d, hd = m["n_embd"], m["n_embd"] // m["n_head"]
        self.n_head, self.n_head_kv, self.head_dim = m["n_head"], m["n_head_kv"], hd
        self.attn_norm = RMSNorm(d, m["norm_eps"])
        self.wq = nn.Linear(d, m["n_head"] * hd, bias=False)
        self.wk = nn.Linear(d, m["n_head_kv"] * hd, bias=False)
        self.wv = nn.Linear(d, m["n_head_kv"] * hd, bias=False)
        self.wo = nn.Linear(m["n_head"] * hd, d, bias=False)
        self.ffn_norm = RMSNorm(d, m["norm_eps"])
        self.w_gate = nn.Linear(d, m["n_ff"], bias=False)
        self.w_up = nn.Linear(d, m["n_ff"], bias=False)
        self.w_down = nn.Linear(m["n_ff"], d, bias=False)
        self.dropout = dropout

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        h = self.attn_norm(x)
        q = self.wq(h).view(b, t, self.n_head, self.head_dim).transpose(1, 2)
        k = self.wk(h).view(b, t, self.n_head_kv, self.head_dim).transpose(1, 2)
        v = self.wv(h).view(b, t, self.n_head_kv, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin).type_as(v), apply_rope(k, cos, sin).type_as(v)
        group = self.n_head // self.n_head_kv
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        a = a.transpose(1, 2).reshape(b, t, self.n_head * self.head_dim)
        x = x + F.dropout(self.wo(a), self.dropout, self.training)
        h = self.ffn_norm(x)
        f = self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))
        return x + F.dropout(f, self.dropout, self.training)


class Llama(nn.Module):
    def __init__(self, m, dropout):
        super().__init__()
        self.m = m
        self.tok_embd = nn.Embedding(m["n_vocab"], m["n_embd"])
        self.blocks = nn.ModuleList(Block(m, dropout) for _ in range(m["n_layer"]))
        self.output_norm = RMSNorm(m["n_embd"], m["norm_eps"])
        self.dropout = dropout
        head_dim = m["n_embd"] // m["n_head"]
        cos, sin = rope_tables(m["n_ctx"], head_dim, m["rope_freq_base"], "cpu")
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * m["n_layer"]) if name.endswith(("wo.weight", "w_down.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, tokens):
        x = F.dropout(self.tok_embd(tokens), self.dropout, self.training)
        for block in self.blocks:
            x = block(x, self.cos, self.sin)
        return F.linear(self.output_norm(x), self.tok_embd.weight)  # tied output

    def ggml_tensors(self):
        """(ggml name, fp32 CPU tensor in PyTorch layout = ggml row-major layout)."""
        out = [("token_embd.weight", self.tok_embd.weight)]
        for i, b in enumerate(self.blocks):
            p = f"blk.{i}."
            out += [(p + "attn_norm.weight", b.attn_norm.weight), (p + "attn_q.weight", b.wq.weight),
                    (p + "attn_k.weight", b.wk.weight), (p + "attn_v.weight", b.wv.weight),
                    (p + "attn_output.weight", b.wo.weight), (p + "ffn_norm.weight", b.ffn_norm.weight),
                    (p + "ffn_gate.weight", b.w_gate.weight), (p + "ffn_up.weight", b.w_up.weight),
                    (p + "ffn_down.weight", b.w_down.weight)]
        out.append(("output_norm.weight", self.output_norm.weight))
        return [(n, t.detach().float().cpu().contiguous()) for n, t in out]


def load_tokens(data_dir, info):
    raw = array.array("H")
    with open(os.path.join(data_dir, info["tokens_file"]), "rb") as f:
        raw.frombytes(f.read())
    if sys.byteorder != "little":
        raw.byteswap()
    parts = info["parts"]
    if len(raw) != parts["train"] + parts["chat"] + parts["valid"]:
        sys.exit(f"error: tokens.bin holds {len(raw)} ids, data.json says {parts}")
    ids = torch.tensor(raw.tolist(), dtype=torch.long)
    n_train = parts["train"] + parts["chat"]
    return ids[:n_train], ids[n_train:]


def eval_chunks(valid, n_ctx, bos):
    """The protocol's windows: (inputs, targets) pairs; inputs = BOS + chunk[:-1], targets = chunk."""
    out = []
    for start in range(0, len(valid), n_ctx):
        chunk = valid[start:start + n_ctx]
        out.append((torch.cat((torch.tensor([bos]), chunk[:-1])), chunk))
    return out


@torch.no_grad()
def validation_loss(model, chunks, device, autocast, batch=64):
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    n = len(chunks[0][1])
    full = [c for c in chunks if len(c[1]) == n]
    groups = [full[i:i + batch] for i in range(0, len(full), batch)] + [[c] for c in chunks if len(c[1]) != n]
    for group in groups:
        x = torch.stack([c[0] for c in group]).to(device)
        y = torch.stack([c[1] for c in group]).to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            logits = model(x)
        total += F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / count, count


def write_weights(model, m, out_dir):
    tensors, shards, manifest = model.ggml_tensors(), [bytearray()], []
    for name, t in tensors:
        values = array.array("f", t.flatten().tolist())  # no numpy needed
        if sys.byteorder != "little":
            values.byteswap()
        data = values.tobytes()
        if len(data) > SHARD_BYTES:
            sys.exit(f"error: {name} ({len(data)} bytes) does not fit a shard")
        if len(shards[-1]) + len(data) > SHARD_BYTES:
            shards.append(bytearray())
        manifest.append({"name": name, "ggml_shape": list(reversed(t.shape)), "dtype": "f32",
                         "shard": len(shards) - 1, "offset": len(shards[-1]), "bytes": len(data)})
        shards[-1] += data
    files = []
    for i, blob in enumerate(shards):
        files.append(f"weights-{i}.bin")
        with open(os.path.join(out_dir, files[-1]), "wb") as f:
            f.write(blob)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump({"format": "rocmforge-demo-weights-1", "architecture": "llama", "model": m,
                   "shards": files, "tensors": manifest}, f, indent=1)
    return len(files), sum(t.numel() for _, t in tensors)


def plot(curve, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no loss_curve.png")
        return
    steps = [p["step"] for p in curve]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(steps, [p["train_loss"] for p in curve], label="train (every 10th step since the last point)")
    ax.plot(steps, [p["val_loss"] for p in curve], label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title("ROCmForge demo model: tinyshakespeare")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    t0 = time.time()
    ap = argparse.ArgumentParser(description="Train ROCmForge's demo model")
    ap.add_argument("--data", required=True, help="folder with data.json and tokens.bin")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--steps", type=int, help="override data.json train.steps")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("error: no CUDA device")
    device = "cuda"
    with open(os.path.join(args.data, "data.json")) as f:
        info = json.load(f)
    m, hp = info["model"], dict(info["train"])
    if args.steps:
        hp["steps"] = args.steps
    bos, n_ctx = info["bos_token_id"], m["n_ctx"]
    torch.manual_seed(hp["seed"])
    torch.backends.cuda.matmul.allow_tf32 = True  # training only; the reported numbers are fp32
    torch.backends.cudnn.allow_tf32 = True

    train, valid = load_tokens(args.data, info)
    chunks = eval_chunks(valid, n_ctx, bos)
    train_gpu = train.to(device)
    model = Llama(m, hp["dropout"]).to(device)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=hp["lr"], betas=(0.9, 0.95))

    def lr_at(step):
        if step < hp["warmup_steps"]:
            return hp["lr"] * (step + 1) / hp["warmup_steps"]
        frac = (step - hp["warmup_steps"]) / max(1, hp["steps"] - hp["warmup_steps"])
        return hp["min_lr"] + 0.5 * (hp["lr"] - hp["min_lr"]) * (1 + math.cos(math.pi * min(1.0, frac)))

    offsets_max = len(train_gpu) - n_ctx
    bos_col = torch.full((hp["batch_size"], 1), bos, dtype=torch.long, device=device)
    span = torch.arange(n_ctx, device=device)
    curve, best, running, n_running, steps_done = [], None, 0.0, 0, 0
    print(f"startup {time.time() - t0:.1f} s; {sum(p.numel() for p in model.parameters())} parameters; "
          f"{len(train)} train ids, {len(valid)} valid ids", flush=True)
    t_train = time.time()
    for step in range(hp["steps"]):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        starts = torch.randint(0, offsets_max + 1, (hp["batch_size"], 1), device=device)
        y = train_gpu[starts + span]
        x = torch.cat((bos_col, y[:, :-1]), dim=1)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item() if (step + 1) % 10 == 0 else 0.0
        n_running += 1 if (step + 1) % 10 == 0 else 0
        steps_done = step + 1
        last = step + 1 == hp["steps"] or time.time() - t0 > TIME_BUDGET_S
        if (step + 1) % hp["eval_every"] == 0 or last:
            val, _ = validation_loss(model, chunks, device, autocast=True)
            curve.append({"step": step + 1, "train_loss": running / max(1, n_running), "val_loss": val,
                          "lr": lr_at(step), "elapsed_s": round(time.time() - t_train, 1)})
            running, n_running = 0.0, 0
            print(f"step {step + 1:5d}  train {curve[-1]['train_loss']:.4f}  val {val:.4f}  "
                  f"{curve[-1]['elapsed_s']:.0f} s", flush=True)
            if best is None or val < best["val_loss"]:
                best = {"step": step + 1, "val_loss": val,
                        "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
        if last:
            break
    train_seconds = time.time() - t_train

    # The reported numbers: the best checkpoint in fp32, TF32 off.
    model.load_state_dict(best["state"])
    model.eval()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    val_loss, n_scored = validation_loss(model, chunks, device, autocast=False)
    test_tokens = [bos] + valid[:31].tolist()
    with torch.no_grad():
        test_logits = model(torch.tensor([test_tokens], device=device))[0].float().cpu()

    os.makedirs(args.out, exist_ok=True)
    n_shards, n_params = write_weights(model, m, args.out)
    metrics = {
        "model": m, "train": hp, "parameters": n_params, "steps_run": steps_done, "best_step": best["step"],
        "train_seconds": round(train_seconds, 1), "tokens_per_step": hp["batch_size"] * n_ctx,
        "data": info["parts"], "curve": curve,
        "perplexity_protocol": "held-out ids (no BOS) in consecutive chunks of n_ctx (last shorter); each "
                               "chunk read after BOS from a fresh context; every chunk token predicted; "
                               "loss = mean NLL (nats) over all held-out tokens, perplexity = exp(loss)",
        "val_loss": val_loss, "val_perplexity": math.exp(val_loss), "val_tokens_scored": n_scored,
        "precision": "fp32, TF32 off", "device": torch.cuda.get_device_name(0), "torch": torch.__version__,
        "test_tokens": test_tokens,
        "test_logits": [[float(f"{v:.9g}") for v in row] for row in test_logits.tolist()],
    }
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f)
    plot(curve, os.path.join(args.out, "loss_curve.png"))
    print(f"done in {time.time() - t0:.0f} s: {n_params} parameters, {steps_done} steps "
          f"({train_seconds:.0f} s), best step {best['step']}; validation loss {val_loss:.4f} nats, "
          f"perplexity {math.exp(val_loss):.2f} over {n_scored} tokens (fp32); "
          f"{n_shards} weight shards in {args.out}")


if __name__ == "__main__":
    main()
