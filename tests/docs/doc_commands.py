#!/usr/bin/env python3
"""Runs the `rocmforge` commands shown in the docs' code blocks and checks them (issue 20).

The convention (docs/README-doc-tests in docs/cli.md, "Examples in these docs are tested"):
- Every line of a ```sh block that starts with `rocmforge` is a command (a trailing `\\` joins the
  next line). Lines starting with anything else (make, curl, python) are not run here.
- A command is run in a scratch directory holding `demo/` (the demo model) and, when the command is
  ended by `# doc-test: flags` (it needs a GPU, the network, a running server or a person at the
  keyboard), only its flags are checked: each `-x`/`--name` must be an option of that command
  (`rocmforge COMMAND --help`). Every other command must exit with 0.
- A ```json block right after a ```sh block is the documented output of that block's last
  command: its stdout must be JSON of the same shape (the same keys in every object, the same kinds
  of value; an array's first element stands for all).
- A ```toml block is a config file (docs/configuration.md): `rocmforge serve --config FILE --help`
  must accept it (every key an option, every value one the option takes).

Usage: doc_commands.py ROCMFORGE_BINARY SOURCE_DIR FILE.md...
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

MARK = "# doc-test: flags"
TIMEOUT_S = 120


def blocks(text):
    """(language, lines) of each fenced block, in order."""
    found, lang, lines = [], None, []
    for line in text.splitlines():
        fence = re.match(r"^\s*```(\w*)\s*$", line)
        if fence and lang is None:
            lang, lines = fence.group(1) or "text", []
        elif fence:
            found.append((lang, lines))
            lang = None
        elif lang is not None:
            lines.append(line)
    return found


def commands(lines):
    """The rocmforge commands of a block's lines, continuation lines joined."""
    out, pending = [], ""
    for line in lines:
        line = line.strip()
        if pending:
            pending += " " + line
        elif line.startswith("rocmforge ") or line == "rocmforge":
            pending = line
        else:
            continue
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        out.append(pending)
        pending = ""
    return out


def shape(value):
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def same_shape(documented, actual, where="$"):
    """Differences between two shapes, as readable lines."""
    if isinstance(documented, dict) and isinstance(actual, dict):
        diffs = []
        for k in documented.keys() - actual.keys():
            diffs.append(f"{where}.{k}: documented, not in the output")
        for k in actual.keys() - documented.keys():
            diffs.append(f"{where}.{k}: in the output, not documented")
        for k in documented.keys() & actual.keys():
            diffs += same_shape(documented[k], actual[k], f"{where}.{k}")
        return diffs
    if isinstance(documented, list) and isinstance(actual, list):
        if documented and actual:
            return same_shape(documented[0], actual[0], where + "[0]")
        return []
    if documented == "NoneType" or actual == "NoneType":
        return []  # null stands for any value
    if documented != actual:
        return [f"{where}: documented {documented}, output {actual}"]
    return []


def option_names(binary, subcommand):
    """The option names `rocmforge SUBCOMMAND --help` lists."""
    args = [binary] + ([subcommand] if subcommand else []) + ["--help"]
    text = subprocess.run(args, capture_output=True, text=True, timeout=30).stdout
    names = set()
    for line in text.splitlines():
        m = re.match(r"^\s+(-[^\s]+)", line)
        if m:
            for name in m.group(1).split(","):
                names.add(re.sub(r"\{.*\}$", "", name))
    return names


def check_flags(binary, words):
    """Errors for the options of a command that its command does not have."""
    subcommand = words[1] if len(words) > 1 and not words[1].startswith("-") else None
    known = option_names(binary, subcommand)
    errors = []
    for w in words[1:]:
        if re.match(r"^--?[A-Za-z]", w):
            name = w.split("=", 1)[0]
            # llama.cpp spellings are rewritten before parsing (cli_habits.h).
            if name in ("-ngl", "-ctk", "-ctv", "-sys", "-np"):
                continue
            if name not in known:
                errors.append(f"{name} is not an option of `rocmforge {subcommand or ''}`")
    return errors


def main():
    binary, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    scratch = tempfile.mkdtemp(prefix="rf_doc_commands_")
    os.symlink(os.path.join(source, "demo"), os.path.join(scratch, "demo"))
    env = dict(os.environ, PATH=os.path.dirname(binary) + os.pathsep + os.environ.get("PATH", ""))
    for name in list(env):
        if name.startswith("ROCMFORGE_"):
            del env[name]
    env["XDG_CONFIG_HOME"] = scratch  # no user config file changes what the docs show
    failures, ran, flag_checked = [], 0, 0
    try:
        for doc in sys.argv[3:]:
            path = os.path.join(source, doc)
            found = blocks(open(path, encoding="utf-8").read())
            for i, (lang, lines) in enumerate(found):
                if lang == "toml":
                    ran += 1
                    conf = os.path.join(scratch, "doc.conf")
                    with open(conf, "w", encoding="utf-8") as f:
                        f.write("\n".join(lines) + "\n")
                    r = subprocess.run([binary, "serve", "--config", conf, "--help"], env=env, capture_output=True,
                                       text=True, timeout=30)
                    if r.returncode != 0:
                        failures.append(f"{doc}: config file block {i}: {r.stderr.strip()}")
                    continue
                if lang not in ("sh", "bash", "shell"):
                    continue
                documented = None
                if i + 1 < len(found) and found[i + 1][0] == "json":
                    documented = json.loads("\n".join(found[i + 1][1]))
                cmds = commands(lines)
                for n, command in enumerate(cmds):
                    flags_only = command.endswith(MARK)
                    command = command.split(" #", 1)[0].strip() if " #" in command else command
                    words = shlex.split(command)
                    where = f"{doc}: `{command}`"
                    errors = check_flags(binary, words)
                    if flags_only:
                        flag_checked += 1
                    else:
                        ran += 1
                        r = subprocess.run(command, shell=True, cwd=scratch, env=env, capture_output=True,
                                           text=True, timeout=TIMEOUT_S)
                        if r.returncode != 0:
                            errors.append(f"exit code {r.returncode}: {r.stderr.strip()[-600:]}")
                        elif documented is not None and n == len(cmds) - 1:
                            try:
                                actual = json.loads(r.stdout)
                            except json.JSONDecodeError as e:
                                errors.append(f"the output is not JSON ({e}): {r.stdout[:300]}")
                            else:
                                errors += same_shape(shape(documented), shape(actual))
                    failures += [f"{where}: {e}" for e in errors]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for f in failures:
        print("FAIL", f)
    print(f"{ran} commands run, {flag_checked} checked for their flags only, {len(failures)} failures")
    if ran == 0:
        print("FAIL no command found: the docs or this script's convention changed")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
