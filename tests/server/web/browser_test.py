#!/usr/bin/env python3
"""The chat page in a real browser: starts `rocmforge serve` on the demo model, opens GET / in
headless Chromium, types a message, clicks Send and waits for the streamed reply and its speed
to appear in the page. Drives Chromium over the DevTools protocol with the standard library only.
Usage: browser_test.py ROCMFORGE_BIN [--screenshot FILE.png]
Fails (never skips) without Chromium: scripts/install-deps.sh installs it."""
import base64, json, os, re, shutil, socket, struct, subprocess, sys, tempfile, time, urllib.request


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


class DevTools:
    """A minimal WebSocket client (RFC 6455: text frames, client-masked) speaking CDP's JSON."""

    def __init__(self, ws_url):
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)", ws_url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {m.group(3)} HTTP/1.1\r\nHost: {m.group(1)}:{m.group(2)}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(1)
        if b" 101 " not in response.split(b"\r\n")[0]:
            fail("DevTools refused the WebSocket: " + response.decode(errors="replace"))
        self.next_id = 0

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                fail("DevTools closed the connection")
            data += chunk
        return data

    def _send_text(self, text):
        payload, mask = text.encode(), os.urandom(4)
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                  bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                                  bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _receive_text(self):
        message = b""
        while True:
            first, second = self._exact(2)
            n = second & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            message += self._exact(n)
            if first & 0x80:  # the final fragment
                return message.decode()

    def call(self, method, **params):
        self.next_id += 1
        self._send_text(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:  # events come in between; only the answer to this call matters here
            reply = json.loads(self._receive_text())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    fail(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            fail(f"page script failed: {expression}: {result['exceptionDetails']}")
        return result["result"].get("value")


def start_server(binary, log):
    server = subprocess.Popen([binary, "serve", "--port", "0", "-c", "512", "-t", "2"], stdout=log,
                              stderr=subprocess.STDOUT)
    for _ in range(600):
        with open(log.name) as f:
            m = re.search(r"http://[0-9.]+:[0-9]+", f.read())
        if m:
            return server, m.group(0)
        if server.poll() is not None:
            fail("the server exited:\n" + open(log.name).read())
        time.sleep(0.1)
    fail("the server did not start")


def start_browser(profile, log):
    chromium = os.environ.get("ROCMFORGE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        fail("Chromium not found (install the Debian package `chromium`: scripts/install-deps.sh does; "
             "or set ROCMFORGE_CHROMIUM)")
    browser = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1100,760",
                                "about:blank"], stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(600):  # it says "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/..."
        with open(log.name) as f:
            m = re.search(r"ws://127\.0\.0\.1:(\d+)/", f.read())
        if m:
            return browser, int(m.group(1))
        if browser.poll() is not None:
            break
        time.sleep(0.1)
    fail("Chromium did not open DevTools:\n" + open(log.name).read())


def main():
    if len(sys.argv) not in (2, 4):
        fail("usage: browser_test.py ROCMFORGE_BIN [--screenshot FILE.png]")
    binary, screenshot = sys.argv[1], sys.argv[3] if len(sys.argv) == 4 else None
    work = tempfile.mkdtemp()
    log = open(os.path.join(work, "server.log"), "w")
    server = browser = None
    try:
        server, url = start_server(binary, log)
        browser, port = start_browser(os.path.join(work, "profile"), open(os.path.join(work, "chromium.log"), "w"))
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(p for p in pages if p["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        tools.call("Page.enable")
        tools.call("Page.navigate", url=url + "/")
        wait_for(tools, "document.readyState === 'complete' && !!document.getElementById('composer')", "the page to load")
        # The sampling settings and system prompt the request carries come from the page's inputs.
        tools.evaluate("""(() => {
            document.getElementById('temperature').value = '0';
            document.getElementById('max_tokens').value = '24';
            document.getElementById('system').value = 'You are a player in a Shakespeare play.';
            document.getElementById('input').value = 'ROMEO: What light through yonder window breaks?';
            document.getElementById('send').click();
        })()""")
        wait_for(tools, "document.querySelectorAll('.message').length === 2", "the user message and the reply box")
        wait_for(tools, "/tokens\\/s/.test(document.querySelector('.message.assistant .stats').textContent)",
                 "the reply to finish with its speed")
        reply = tools.evaluate("document.querySelector('.message.assistant .content').textContent")
        stats = tools.evaluate("document.querySelector('.message.assistant .stats').textContent")
        error = tools.evaluate("document.querySelector('.message.error') !== null")
        if error or not reply.strip():
            fail(f"no reply in the page (error shown: {error}): {reply!r}")
        if not re.match(r"\d+ tokens, [0-9.]+ tokens/s", stats) or stats.startswith("0 tokens"):
            fail(f"the reply's speed is not shown: {stats!r}")
        # The conversation is kept in the browser: it survives a reload.
        saved = tools.evaluate("JSON.parse(localStorage.getItem('rocmforge.chat')).conversations[0].messages.length")
        if saved != 2:
            fail(f"localStorage holds {saved} messages, expected 2")
        if screenshot:  # with the settings open, to show them too
            tools.evaluate("document.getElementById('settings').open = true")
            shot = tools.call("Page.captureScreenshot", format="png")
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        # Stop, pressed at once, aborts the request: the reply is marked stopped and Send comes back.
        tools.evaluate("""(() => {
            document.getElementById('input').value = 'JULIET: Wherefore art thou Romeo?';
            document.getElementById('send').click();
            document.getElementById('stop').click();
        })()""")
        wait_for(tools, "document.querySelectorAll('.message').length === 4 && "
                        "/\\(stopped\\)/.test(document.querySelectorAll('.message.assistant .stats')[1].textContent)",
                 "the second reply to be marked stopped")
        wait_for(tools, "!document.getElementById('send').hidden && document.getElementById('stop').hidden",
                 "Send to come back after Stop")
        # The Markdown renderer escapes HTML: a reply's markup never becomes elements.
        rendered = tools.evaluate("renderMarkdown('<img src=x onerror=alert(1)> **b** `<i>` \\n```js\\nx<y\\n```')")
        if "<img" in rendered or "<strong>b</strong>" not in rendered or "<code>&lt;i&gt;</code>" not in rendered \
                or '<pre><code class="language-js">x&lt;y</code></pre>' not in rendered:
            fail(f"renderMarkdown gave {rendered!r}")
        print(f"ok: reply {reply.strip()[:60]!r}; {stats}")
    finally:
        for process in (browser, server):
            if process and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def wait_for(tools, condition, what, seconds=90):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if tools.evaluate(f"!!({condition})"):
            return
        time.sleep(0.2)
    body = tools.evaluate("document.body.innerText")
    fail(f"timed out waiting for {what}; the page shows:\n{body}")


if __name__ == "__main__":
    main()
