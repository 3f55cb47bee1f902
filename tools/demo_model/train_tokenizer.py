#!/usr/bin/env python3
"""Trains the demo model's byte-level BPE tokenizer and tokenizes its corpus (issue 20).

Standard library only. Reads the corpus, keeps the last 10% for validation (cut at the first
newline at or after 90% of the bytes, so the held-out text starts on a line of its own), learns
merges on the first 90%, and writes into OUT_DIR:

  tokenizer.json  tokens (byte-level text), token types, merges ("left right", rank order), special
                  token ids, pre-tokenizer name, chat template: what the GGUF exporter stores
  tokens.bin      token ids as little-endian uint16: train ids, then chat ids, then validation ids
  data.json       the counts of the three parts, the split, and the model hyper-parameters that
                  train.py uses (edit them there)
  valid.txt       the held-out text, exactly as tokenized (for `rocmforge perplexity -f`)

The tokenizer is GPT-2's: bytes mapped to printable characters, text split into words by GPT-2's
pre-tokenizer expression (tokenizer.ggml.pre "gpt-2" in ROCmForge), merges applied lowest rank first.
ROCmForge tokenizes exactly as encode() here does; --check-ids compares against its output.
"""
import argparse
import array
import collections
import json
import os
import sys
import time
import unicodedata

N_VOCAB = 4096
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # BOS = EOS, chat turn start, turn end
PRE_TOKENIZER = "gpt-2"
# ChatML; the model learns it from chat-formatted speech pairs of the training text. BOS comes from
# tokenizer.ggml.add_bos_token, so the template does not write it.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Training hyper-parameters, read by train.py (data.json "model" and "train").
MODEL = {"n_vocab": N_VOCAB, "n_ctx": 256, "n_embd": 256, "n_layer": 6, "n_head": 8, "n_head_kv": 4,
         "n_ff": 768, "norm_eps": 1e-5, "rope_freq_base": 10000.0, "tied_output": True}
TRAIN = {"steps": 3000, "batch_size": 64, "lr": 2e-3, "min_lr": 1e-4, "warmup_steps": 100,
         "weight_decay": 0.1, "dropout": 0.1, "eval_every": 100, "seed": 1234}


def byte_chars():
    """GPT-2's byte -> printable character table."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 256
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(extra)
            extra += 1
    return [table[b] for b in range(256)]


BYTE_CHARS = byte_chars()


def char_class(c):
    """'L' letter, 'N' number, 'S' whitespace (PCRE2 UCP \\s: Z categories and \\t\\n\\v\\f\\r), 'O' other."""
    if c in "\t\n\v\f\r":
        return "S"
    cat = unicodedata.category(c)
    if cat[0] == "Z":
        return "S"
    if cat[0] == "L":
        return "L"
    if cat[0] == "N":
        return "N"
    return "O"


def pre_tokenize(text):
    """Splits text as 's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+ does."""
    words, i, n = [], 0, len(text)
    classes = [char_class(c) for c in text]

    def run(j, cls):
        while j < n and classes[j] == cls:
            j += 1
        return j

    while i < n:
        c = text[i]
        if c == "'" and i + 1 < n:
            if text[i + 1] in "stmd":
                words.append(text[i:i + 2]); i += 2; continue
            if text[i + 1:i + 3] in ("re", "ve", "ll"):
                words.append(text[i:i + 3]); i += 3; continue
        cls = classes[i]
        start = i
        if c == " " and i + 1 < n and classes[i + 1] != "S":
            cls, i = classes[i + 1], i + 1  # the space joins the run after it
        if cls != "S":
            j = run(i, cls)
            words.append(text[start:j]); i = j; continue
        j = run(i, "S")
        if j < n and j - i >= 2:
            j -= 1  # \s+(?!\S): leave the last space for the word after it
        elif j < n:
            j = i + 1  # a single space before text: \s+ takes it alone
        words.append(text[i:j]); i = j
    return words


def to_byte_level(word):
    return "".join(BYTE_CHARS[b] for b in word.encode("utf-8"))


def train_merges(words, n_merges):
    """Classic BPE on word counts: repeatedly merge the most frequent adjacent pair (ties: the
    larger pair of texts, so the result does not depend on dictionary order)."""
    counts = collections.Counter(to_byte_level(w) for w in words)
    vocab_words = [list(w) for w in counts]
    freqs = list(counts.values())
    pair_counts = collections.Counter()
    where = collections.defaultdict(set)
    for idx, (syms, f) in enumerate(zip(vocab_words, freqs)):
        for a, b in zip(syms, syms[1:]):
            pair_counts[(a, b)] += f
            where[(a, b)].add(idx)
    merges = []
    for _ in range(n_merges):
        if not pair_counts:
            break
        best = max(pair_counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        a, b = best
        merged = a + b
        for idx in list(where[best]):
            syms, f = vocab_words[idx], freqs[idx]
            for p in zip(syms, syms[1:]):
                pair_counts[p] -= f
                if pair_counts[p] <= 0:
                    del pair_counts[p]
            out, k = [], 0
            while k < len(syms):
                if k + 1 < len(syms) and syms[k] == a and syms[k + 1] == b:
                    out.append(merged); k += 2
                else:
                    out.append(syms[k]); k += 1
            vocab_words[idx] = out
            for p in zip(out, out[1:]):
                pair_counts[p] += f
                where[p].add(idx)
        where.pop(best, None)
        pair_counts.pop(best, None)
    return merges


class Encoder:
    def __init__(self, tokens, merges):
        self.ids = {t: i for i, t in enumerate(tokens)}
        self.ranks = {pair: r for r, pair in enumerate(merges)}
        self.cache = {}

    def encode_word(self, word):
        syms = list(to_byte_level(word))
        while len(syms) > 1:
            best, best_rank = None, None
            for p in zip(syms, syms[1:]):
                r = self.ranks.get(p)
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = p, r
            if best is None:
                break
            out, k = [], 0
            while k < len(syms):
                if k + 1 < len(syms) and syms[k] == best[0] and syms[k + 1] == best[1]:
                    out.append(syms[k] + syms[k + 1]); k += 2
                else:
                    out.append(syms[k]); k += 1
            syms = out
        return [self.ids[s] for s in syms]

    def encode(self, text):
        out = []
        for w in pre_tokenize(text):
            ids = self.cache.get(w)
            if ids is None:
                ids = self.cache[w] = self.encode_word(w)
            out.extend(ids)
        return out


def split_corpus(text):
    cut = text.find("\n", int(len(text) * 0.9))
    cut = len(text) if cut < 0 else cut + 1
    return text[:cut], text[cut:]


def chat_text(train_text):
    """Every third pair of consecutive speeches ("NAME:\\nlines", blank-line separated) as a ChatML
    exchange, so the model learns to answer after <|im_start|>assistant and to end with <|im_end|>."""
    speeches = []
    for block in train_text.split("\n\n"):
        head, _, body = block.partition(":\n")
        if body.strip() and "\n" not in head:
            speeches.append(body.strip())
    parts = []
    for k in range(0, len(speeches) - 1, 6):
        parts.append("<|im_start|>user\n" + speeches[k] + "<|im_end|>\n<|im_start|>assistant\n" +
                     speeches[k + 1] + "<|im_end|>\n")
    return parts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(os.path.dirname(__file__), "../../../shared/corpus/tinyshakespeare.txt"))
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--check-ids", help="a file of token ids (whitespace separated, as `rocmforge tokenize "
                    "--no-bos` prints) that must equal encode() of --check-text")
    ap.add_argument("--check-text", help="the text those ids are for (default: the whole corpus)")
    ap.add_argument("--tokenizer", help="with --check-ids: a tokenizer.json written earlier (instead of training)")
    ap.add_argument("--n-vocab", type=int, default=N_VOCAB, help="vocabulary size (smaller for quick tests)")
    args = ap.parse_args()

    start = time.time()
    with open(args.corpus, "r", encoding="utf-8", newline="") as f:
        text = f.read()
    train_text, valid_text = split_corpus(text)
    if args.check_ids and args.tokenizer:
        with open(args.tokenizer, encoding="utf-8") as f:
            saved = json.load(f)
        tokens, merges = saved["tokens"], [tuple(m.split(" ", 1)) for m in saved["merges"]]
    else:
        n_merges = args.n_vocab - 256 - len(SPECIAL_TOKENS)
        merges = train_merges(pre_tokenize(train_text), n_merges)
        if len(merges) != n_merges:
            sys.exit(f"error: only {len(merges)} merges could be learned")
        tokens = list(BYTE_CHARS) + [a + b for a, b in merges] + SPECIAL_TOKENS
    if len(set(tokens)) != len(tokens):
        sys.exit("error: duplicate token texts")
    bos = tokens.index("<|endoftext|>")
    im_start, im_end = tokens.index("<|im_start|>"), tokens.index("<|im_end|>")
    enc = Encoder(tokens, merges)
    print(f"{len(merges)} merges ready in {time.time() - start:.1f} s", file=sys.stderr)

    if args.check_ids:
        check_text = text
        if args.check_text:
            with open(args.check_text, "r", encoding="utf-8", newline="") as f:
                check_text = f.read()
        with open(args.check_ids) as f:
            theirs = [int(x) for x in f.read().split()]
        ours = enc.encode(check_text)
        if ours != theirs:
            first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            sys.exit(f"MISMATCH: {len(ours)} ids here, {len(theirs)} there, first difference at {first}: "
                     f"{ours[first:first + 8]} vs {theirs[first:first + 8]}")
        print(f"match: {len(ours)} ids equal")
        return

    os.makedirs(args.out, exist_ok=True)
    train_ids = enc.encode(train_text)
    valid_ids = enc.encode(valid_text)
    chat_ids = []
    for exchange in chat_text(train_text):
        # Special-token text becomes the special tokens (as ROCmForge's --parse-special does).
        for piece in exchange.replace("<|im_start|>", "\0S").replace("<|im_end|>", "\0E").split("\0"):
            if piece.startswith("S"):
                chat_ids.append(im_start); piece = piece[1:]
            elif piece.startswith("E"):
                chat_ids.append(im_end); piece = piece[1:]
            chat_ids.extend(enc.encode(piece))
    with open(os.path.join(args.out, "tokens.bin"), "wb") as f:
        data = array.array("H", train_ids + chat_ids + valid_ids)
        if sys.byteorder != "little":
            data.byteswap()
        data.tofile(f)
    with open(os.path.join(args.out, "valid.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(valid_text)
    token_types = [1] * (len(tokens) - len(SPECIAL_TOKENS)) + [3] * len(SPECIAL_TOKENS)  # normal, control
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump({"model": "gpt2", "pre": PRE_TOKENIZER, "tokens": tokens, "token_types": token_types,
                   "merges": [a + " " + b for a, b in merges], "bos_token_id": bos, "eos_token_id": bos,
                   "eot_token_id": im_end, "add_bos_token": True, "chat_template": CHAT_TEMPLATE},
                  f, ensure_ascii=False, indent=0)
    with open(os.path.join(args.out, "data.json"), "w") as f:
        json.dump({"tokens_file": "tokens.bin", "dtype": "uint16-le",
                   "parts": {"train": len(train_ids), "chat": len(chat_ids), "valid": len(valid_ids)},
                   "split": {"corpus_bytes": len(text.encode("utf-8")),
                             "train_bytes": len(train_text.encode("utf-8"))},
                   "bos_token_id": bos, "model": dict(MODEL, n_vocab=len(tokens)), "train": TRAIN}, f, indent=1)
    print(f"train {len(train_ids)} ids, chat {len(chat_ids)} ids, valid {len(valid_ids)} ids; "
          f"{time.time() - start:.1f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
