"""A local stand-in for a Hugging Face-style hub, for the `pull` tests (no internet in CI).

It answers the two routes rocmforge uses, as the real hub lays them out:
  GET /api/models/{owner}/{name}/tree/{revision}   the file list (path, size, lfs.oid = SHA-256)
  GET /{owner}/{name}/resolve/{revision}/{file}    302 to /cdn/..., with X-Linked-Etag and X-Linked-Size
and serves the bytes under /cdn/ with Range support. Files can be set to drop the connection
halfway (once), to publish a wrong checksum, to publish the checksum only in X-Linked-Etag, to ignore
Range requests, or to need a token. Every request is recorded in `requests` for the test to assert on.
"""
import hashlib
import http.server
import json
import socket
import threading
import urllib.parse


class HubFile:
    def __init__(self, data, drops=0, wrong_sha=False, sha_in_header_only=False, ignores_range=False):
        self.data = data
        self.ignores_range = ignores_range       # answers Range requests with the whole file (200)
        self.drops = drops                      # how many full GETs are cut off halfway
        self.sha = hashlib.sha256(data).hexdigest()
        self.listed_sha = hashlib.sha256(data + b"x").hexdigest() if wrong_sha else self.sha
        self.sha_in_header_only = sha_in_header_only


class FakeHub:
    def __init__(self):
        self.repos = {}        # "owner/name" -> {path: HubFile}
        self.gated = {}        # "owner/name" -> the token it needs
        self.requests = []     # (method, path, headers dict)
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                hub.requests.append(("GET", self.path, dict(self.headers)))
                hub.answer(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # the dropped connections are on purpose
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()

    def send(self, h, status, body=b"", headers=None, content_type="application/json"):
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def authorized(self, h, repo):
        need = self.gated.get(repo)
        if need is None:
            return True
        got = h.headers.get("Authorization")
        if got == f"Bearer {need}":
            return True
        self.send(h, 401, b'{"error":"Invalid credentials in Authorization header"}')
        return False

    def answer(self, h):
        path = urllib.parse.unquote(h.path.split("?")[0])
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "tree":
            repo = "/".join(parts[2:4])
            if repo not in self.repos:
                return self.send(h, 404, b'{"error":"Repository not found"}')
            if not self.authorized(h, repo):
                return
            listing = []
            for p, f in sorted(self.repos[repo].items()):
                entry = {"type": "file", "oid": hashlib.sha1(f.data).hexdigest(), "size": len(f.data), "path": p}
                if not f.sha_in_header_only:
                    entry["lfs"] = {"oid": f.listed_sha, "size": len(f.data), "pointerSize": 134}
                listing.append(entry)
            return self.send(h, 200, json.dumps(listing).encode())
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, file = "/".join(parts[:2]), "/".join(parts[4:])
            f = self.repos.get(repo, {}).get(file)
            if f is None:
                return self.send(h, 404, b'{"error":"Entry not found"}')
            if not self.authorized(h, repo):
                return
            return self.send(h, 302, b"", {"Location": f"/cdn/{repo}/{urllib.parse.quote(file)}", "X-Linked-Etag": f'"{f.listed_sha}"',
                                           "X-Linked-Size": str(len(f.data))})
        if parts[0] == "cdn" and len(parts) >= 4:
            repo, file = "/".join(parts[1:3]), "/".join(parts[3:])
            f = self.repos.get(repo, {}).get(file)
            if f is None:
                return self.send(h, 404, b"no such blob", content_type="text/plain")
            return self.serve_bytes(h, f)
        self.send(h, 404, b"unknown route", content_type="text/plain")

    def serve_bytes(self, h, f):
        start = 0
        rng = None if f.ignores_range else h.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(f.data):
                return self.send(h, 416, b"", {"Content-Range": f"bytes */{len(f.data)}"})
        body = f.data[start:]
        h.send_response(206 if rng else 200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(body)))
        if rng:
            h.send_header("Content-Range", f"bytes {start}-{len(f.data) - 1}/{len(f.data)}")
        h.end_headers()
        if not rng and f.drops > 0:
            f.drops -= 1
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)  # the connection drops mid-file
            h.close_connection = True
            return
        h.wfile.write(body)
