"""End-to-end: `rocmforge pull`, `models` and `-m REPO:QUANT` against a local fake hub (fake_hub.py).

usage: pull_test.py ROCMFORGE_BIN DEMO_MODEL.gguf
Every check asserts a real outcome: exit codes, messages, the downloaded bytes, the requests the
hub saw. Exits 1 on the first failed check.
"""
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile

from fake_hub import FakeHub, HubFile

BIN, DEMO = sys.argv[1], sys.argv[2]
DATA = open(DEMO, "rb").read()
SCRATCH = tempfile.mkdtemp(prefix="rf_pull_test_")
CACHE = os.path.join(SCRATCH, "models")

hub = FakeHub()
hub.repos = {
    "acme/tiny-GGUF": {"tiny-Q4_K_M.gguf": HubFile(DATA), "tiny-Q8_0.gguf": HubFile(DATA), "README.md": HubFile(b"hi")},
    "acme/dup-GGUF": {"a/x-Q4_K_M.gguf": HubFile(DATA), "b/y-q4_k_m.gguf": HubFile(DATA)},
    "acme/bad-GGUF": {"bad-Q4_K_M.gguf": HubFile(DATA, wrong_sha=True)},
    "acme/etag-GGUF": {"etag-Q4_K_M.gguf": HubFile(DATA, sha_in_header_only=True)},
    "acme/flaky-GGUF": {"flaky-Q4_K_M.gguf": HubFile(DATA, drops=1)},
    "acme/retry-GGUF": {"retry-Q4_K_M.gguf": HubFile(DATA, drops=1)},
    "acme/gated-GGUF": {"gated-Q4_K_M.gguf": HubFile(DATA)},
    "acme/demo-GGUF": {"demo-Q4_K_M.gguf": HubFile(DATA)},
    "acme/norange-GGUF": {"norange-Q4_K_M.gguf": HubFile(DATA, ignores_range=True)},
    "acme/tty-GGUF": {"tty-Q4_K_M.gguf": HubFile(DATA)},
    "acme/full-GGUF": {"full-Q4_K_M.gguf": HubFile(DATA)},
    "acme/space-GGUF": {"sub dir/a+b-Q4_K_M.gguf": HubFile(DATA)},
}
hub.gated = {"acme/gated-GGUF": "secret"}


def env(**extra):
    e = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "ROCMFORGE_OFFLINE", "HF_ENDPOINT")}
    e.update(ROCMFORGE_MODELS_DIR=CACHE, HF_ENDPOINT=hub.url)
    e.update(extra)
    return e


def rf(*args, **extra):
    r = subprocess.run([BIN, *args], env=env(**extra), capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def check(cond, what, *context):
    if not cond:
        print(f"FAIL: {what}", *context, sep="\n", file=sys.stderr)
        hub.stop()
        shutil.rmtree(SCRATCH, ignore_errors=True)
        sys.exit(1)
    print(f"ok: {what}")


def cached(repo, file):
    return os.path.join(CACHE, repo, file)


def same_bytes(path):
    return os.path.isfile(path) and open(path, "rb").read() == DATA


def requests_since(n):
    return hub.requests[n:]


# A quantization picks its file (any case), through the hub's redirect, checked against lfs.oid.
code, out, err = rf("pull", "acme/tiny-GGUF:q4_k_m")
check(code == 0, "pull REPO:quant exits 0", err)
check(out.strip() == cached("acme/tiny-GGUF", "tiny-Q4_K_M.gguf"), "pull prints the cached path", out)
check(same_bytes(out.strip()), "the pulled file has the hub's bytes")
check(any(p.startswith("/cdn/acme/tiny-GGUF/") for _, p, _ in hub.requests), "the redirect to the CDN was followed")
check("SHA-256 verified" in err, "the checksum was verified", err)
check("\r" not in err and "[#" not in err, "no progress bar into a pipe", err)
check(not os.path.exists(out.strip() + ".part"), "no .part file is left")

# Already cached: no download.
n = len(hub.requests)
code, out, err = rf("pull", "acme/tiny-GGUF:Q4_K_M")
check(code == 0 and not requests_since(n), "a cached model is not downloaded again", err)

# No match, or several: the error lists the repo's GGUF files.
code, out, err = rf("pull", "acme/tiny-GGUF:Q5_K_M")
check(code == 1 and "no GGUF file with quantization Q5_K_M" in err and "tiny-Q8_0.gguf" in err
      and "tiny-Q4_K_M.gguf" in err and "README.md" not in err, "an unknown quantization lists the GGUF files", err)
code, out, err = rf("pull", "acme/dup-GGUF:Q4_K_M")
check(code == 1 and "2 GGUF files with quantization Q4_K_M" in err and "a/x-Q4_K_M.gguf" in err and "b/y-q4_k_m.gguf" in err,
      "an ambiguous quantization lists the matches", err)
code, out, err = rf("pull", "acme/dup-GGUF:b/y-q4_k_m.gguf")
check(code == 0 and same_bytes(cached("acme/dup-GGUF", "b/y-q4_k_m.gguf")), "REPO:FILE picks that file (in a folder)", err)

# A wrong checksum: rejected and deleted.
code, out, err = rf("pull", "acme/bad-GGUF:Q4_K_M")
check(code == 1 and "SHA-256 mismatch" in err, "a wrong checksum is rejected", err)
check(not os.path.exists(cached("acme/bad-GGUF", "bad-Q4_K_M.gguf"))
      and not os.path.exists(cached("acme/bad-GGUF", "bad-Q4_K_M.gguf.part")), "the corrupt download is deleted")

# The checksum from the X-Linked-Etag header when the list has no LFS entry.
code, out, err = rf("pull", "acme/etag-GGUF:Q4_K_M")
check(code == 0 and "SHA-256 verified" in err and same_bytes(out.strip()), "the X-Linked-Etag checksum is used", err)

# A dropped connection without retries: the .part stays, the next run resumes it with a Range request.
code, out, err = rf("pull", "acme/flaky-GGUF:Q4_K_M", "--retries", "0")
part = cached("acme/flaky-GGUF", "flaky-Q4_K_M.gguf.part")
check(code == 1 and "run the same command again to resume" in err, "a dropped connection fails with a resume hint", err)
check(os.path.isfile(part) and 0 < os.path.getsize(part) < len(DATA), "the partial download is kept",
      os.path.getsize(part) if os.path.exists(part) else "no .part")
half = os.path.getsize(part)
n = len(hub.requests)
code, out, err = rf("pull", "acme/flaky-GGUF:Q4_K_M")
check(code == 0 and same_bytes(out.strip()), "the second run completes the file", err)
check(any(h.get("Range") == f"bytes={half}-" for _, p, h in requests_since(n) if p.startswith("/cdn/")),
      "it resumed with a Range request from the partial size", requests_since(n))

# A dropped connection with the default retries: resumed within the same run.
code, out, err = rf("pull", "acme/retry-GGUF:Q4_K_M")
check(code == 0 and "retrying" in err and "resuming" in err and same_bytes(out.strip()), "a drop is resumed in the same run", err)

# A server that ignores the Range request: the stale partial bytes are thrown away, not kept.
os.makedirs(cached("acme/norange-GGUF", ""), exist_ok=True)
with open(cached("acme/norange-GGUF", "norange-Q4_K_M.gguf.part"), "wb") as stale:
    stale.write(b"\0" * 1000)
code, out, err = rf("pull", "acme/norange-GGUF:Q4_K_M")
check(code == 0 and "resuming" in err and same_bytes(out.strip()), "a server without Range support restarts the file", err)

# A gated repo: 401 without a token, fine with HF_TOKEN or --token.
code, out, err = rf("pull", "acme/gated-GGUF:Q4_K_M")
check(code == 1 and "HTTP 401" in err and "HF_TOKEN" in err, "a gated repo without a token says so", err)
code, out, err = rf("pull", "acme/gated-GGUF:Q4_K_M", "--token", "wrong")
check(code == 1 and "HTTP 401" in err and "token was refused" in err, "a wrong token is refused", err)
n = len(hub.requests)
code, out, err = rf("pull", "acme/gated-GGUF:Q4_K_M", HF_TOKEN="secret")
check(code == 0 and same_bytes(out.strip()), "HF_TOKEN opens a gated repo", err)
check(all(h.get("Authorization") == "Bearer secret" for _, p, h in requests_since(n) if not p.startswith("/cdn/")),
      "the token goes as Authorization: Bearer", requests_since(n))

# A full disk: the .part file is /dev/full.
os.makedirs(cached("acme/full-GGUF", ""), exist_ok=True)
os.symlink("/dev/full", cached("acme/full-GGUF", "full-Q4_K_M.gguf.part"))
code, out, err = rf("pull", "acme/full-GGUF:Q4_K_M")
check(code == 1 and "No space left on device" in err, "a full disk is a clear error", err)

# File names are percent-encoded in the URL.
code, out, err = rf("pull", "acme/space-GGUF:Q4_K_M")
check(code == 0 and same_bytes(cached("acme/space-GGUF", "sub dir/a+b-Q4_K_M.gguf")), "a file name with a space and '+'", err)

# On a terminal, a progress bar.
master, slave = pty.openpty()
proc = subprocess.Popen([BIN, "pull", "acme/tty-GGUF:Q4_K_M"], env=env(), stdout=subprocess.PIPE, stderr=slave)
os.close(slave)
tty = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    tty += chunk
proc.wait(timeout=60)
os.close(master)
check(proc.returncode == 0 and b"100%" in tty and b"[###" in tty, "a progress bar on a terminal", tty[-400:])

# Not found, and no hub at all.
code, out, err = rf("pull", "acme/missing-GGUF:Q4_K_M")
check(code == 1 and "HTTP 404" in err, "a missing repo is a 404 error", err)
code, out, err = rf("pull", "acme/tiny-GGUF:Q8_0", "--endpoint", "http://127.0.0.1:1")
check(code == 1 and "listing acme/tiny-GGUF" in err, "an unreachable hub is a clear error (--endpoint wins)", err)
code, out, err = rf("pull", "not a repo")
check(code == 2 and "OWNER/NAME" in err, "a malformed name is a usage error", err)

# --offline and ROCMFORGE_OFFLINE refuse to download, and say how to get the model.
n = len(hub.requests)
code, out, err = rf("pull", "acme/tiny-GGUF:Q8_0", "--offline")
check(code == 1 and "--offline" in err and "rocmforge pull acme/tiny-GGUF:Q8_0" in err, "pull --offline refuses", err)
code, out, err = rf("generate", "-m", "acme/tiny-GGUF:Q8_0", "-p", "hi", "-n", "1", ROCMFORGE_OFFLINE="1")
check(code == 1 and "ROCMFORGE_OFFLINE" in err, "ROCMFORGE_OFFLINE refuses -m REPO:QUANT", err)
code, out, err = rf("generate", "-m", "acme/tiny-GGUF:Q8_0", "--offline", "-p", "hi", "-n", "1")
check(code == 1 and "not in the models cache" in err, "generate --offline refuses", err)
check(not requests_since(n), "offline runs made no request")
code, out, err = rf("pull", "acme/tiny-GGUF:Q4_K_M", "--offline")
check(code == 0 and same_bytes(out.strip()), "--offline still finds a cached model", err)

# -m REPO:QUANT pulls when missing and generates exactly what the file itself generates.
gen = ["-p", "ROMEO:", "-n", "8", "--seed", "1", "--temp", "0", "--device", "cpu", "-t", "1"]
code, direct, err = rf("generate", "-m", DEMO, *gen)
check(code == 0, "generate with a plain path works", err)
code, via_hub, err = rf("generate", "-m", "acme/demo-GGUF:Q4_K_M", *gen)
check(code == 0 and via_hub == direct, "generate -m REPO:QUANT pulls and gives the same text", err, via_hub, direct)
check(same_bytes(cached("acme/demo-GGUF", "demo-Q4_K_M.gguf")), "-m pulled into the cache")
n = len(hub.requests)
code, again, err = rf("generate", "-m", "acme/demo-GGUF:q4_k_m", "--offline", *gen)
check(code == 0 and again == direct and not requests_since(n), "the second run uses the cache (offline)", err)

# models lists the cache by repo, file and quantization.
code, out, err = rf("models")
check(code == 0, "models exits 0", out, err)
for repo, file in [("acme/tiny-GGUF", "tiny-Q4_K_M.gguf"), ("acme/dup-GGUF", "b/y-q4_k_m.gguf"), ("acme/demo-GGUF", "demo-Q4_K_M.gguf")]:
    check(f"{repo}  {file}  Q4_K_M  3.60 MiB" in out, f"models lists {repo} {file}", out)
check(".part" not in out and "bad-GGUF" not in out, "models lists no partial or rejected file", out)
code, out, err = rf("models", "--json")
entries = {(e.get("repo"), e.get("repo_file")): e for e in json.loads(out)}
check(entries[("acme/tiny-GGUF", "tiny-Q4_K_M.gguf")]["quant"] == "Q4_K_M", "models --json has repo, file and quant", out)

hub.stop()
shutil.rmtree(SCRATCH)
print("all pull checks passed")
