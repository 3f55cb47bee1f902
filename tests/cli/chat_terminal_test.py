#!/usr/bin/env python3
"""`rocmforge chat` at a terminal (a pseudo-terminal, so libedit edits the line): /help, Ctrl-C with
text typed drops the line and prompts again, a message is answered, Ctrl-C at the empty prompt
exits with 0, and the history file keeps what was entered. Usage: chat_terminal_test.py ROCMFORGE_BIN"""
import os, pty, select, sys, tempfile, time

home = tempfile.mkdtemp()
pid, fd = pty.fork()
if pid == 0:
    os.environ["HOME"] = home
    os.environ.pop("XDG_STATE_HOME", None)
    os.execv(sys.argv[1], [sys.argv[1], "chat", "-t", "2", "--temp", "0", "-n", "8"])

seen = ""


def expect(text, what, seconds=30):
    """Reads the terminal until `text` has appeared since the last expect()."""
    global seen
    end = time.time() + seconds
    while text not in seen and time.time() < end:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                seen += os.read(fd, 4096).decode(errors="replace")
            except OSError:
                break
    if text not in seen:
        print(f"FAIL: {what}: {text!r} not in the terminal's output:\n{seen}", file=sys.stderr)
        sys.exit(1)
    seen = seen[seen.index(text) + len(text):]


def typed(data, pause=0.3):
    os.write(fd, data)
    time.sleep(pause)  # a Ctrl-C right behind typed text would make the terminal discard the text


expect("> ", "the first prompt")
typed(b"/help\r")
expect("/save FILE", "/help")
expect("> ", "the prompt after /help")
typed(b"half typed")
typed(b"\x03")
expect("> ", "a new prompt after Ctrl-C with text typed")
typed(b"ROMEO:\r")
expect("\n> ", "the prompt after a reply")
typed(b"\x03")
_, status = os.waitpid(pid, 0)
if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
    print(f"FAIL: Ctrl-C at the empty prompt should exit with 0 (wait status {status})", file=sys.stderr)
    sys.exit(1)
history = open(os.path.join(home, ".local/state/rocmforge/chat_history")).read()
if "ROMEO:" not in history or "/help" not in history or "half" in history:
    print(f"FAIL: the history file holds {history!r}", file=sys.stderr)
    sys.exit(1)
print("ok")
