"""Helpers for the upkeep-graph integration tests: start the daemon on loopback port 0, serve documents
from a controllable test HTTP server, make raw requests."""
import http.server
import os
import pathlib
import shutil
import socket
import subprocess
import threading
import time

import requests

from daemonutil import Daemon, assert_error  # noqa: F401 (re-exported for the tests)

# The real Fedora CoreOS stable inputs of 2021-01-05 in ../shared/testdata, and the stream that reads them from
# the server's working directory (the start of most tests' graph.toml).
FCOS_RELEASES = "testdata/fcos/releases-2021-01-05.json"
FCOS_UPDATES = "testdata/fcos/updates-stable-4c055c1.json"
STABLE_CONFIG = """
[server]
idle_timeout_secs = 2

[streams.stable]
releases = "releases.json"
updates = "updates.json"
basearches = ["x86_64"]
"""


def copy_fcos(shared_dir, dest, updates=True):
    """releases.json (and, unless updates is False, updates.json) of 2021-01-05 into dest; returns dest."""
    shutil.copy(shared_dir / FCOS_RELEASES, dest / "releases.json")
    if updates:
        shutil.copy(shared_dir / FCOS_UPDATES, dest / "updates.json")
    return dest


class GraphServer(Daemon):
    name, subdir = "upkeep-graph", "graph"

    def __init__(self, build, workdir, config_text, extra_args=(), listen_from_config=False):
        """listen_from_config: no --address/--port on the command line; graph.toml says where (port = 0
        there for any free port), so that a reload sees the file's listen settings."""
        self.listen_from_config = listen_from_config
        super().__init__(build, workdir, "graph.toml", config_text, extra_args)

    def start(self):
        if not self.listen_from_config:
            return super().start()
        port_file = self.workdir / "port"
        if port_file.exists():
            port_file.unlink()
        self.proc = subprocess.Popen(
            [str(self.build / "src" / self.subdir / self.name), "-c", str(self.config), "--port-file", str(port_file),
             *self.extra_args], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n{self.logs()}")
            time.sleep(0.01)
        self.port = int(port_file.read_text())
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = requests.Session()

    def get(self, path, **kw):
        kw.setdefault("timeout", 10)
        return requests.get(self.base + path, **kw)

    def graph(self, **params):
        return self.get("/v1/graph", params=params, headers={"Accept": "application/json"})

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get("/readyz").status_code == 200:
                return
            time.sleep(0.05)
        raise AssertionError("never ready:\n" + self.logs())


class DocServer:
    """A loopback HTTP server whose answers the test controls: per path (status, body) or a callable."""

    def __init__(self):
        self.routes = {}
        self.post_routes = {}  # POST: path -> (status, body); 404 otherwise
        self.hits = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                path = self.path.split("?")[0]
                outer.hits[path] = outer.hits.get(path, 0) + 1
                status, body = outer.routes.get(path, (404, b"not found"))
                if callable(body):
                    body = body()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                path = self.path.split("?")[0]
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                outer.hits["POST " + path] = outer.hits.get("POST " + path, 0) + 1
                status, body = outer.post_routes.get(path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def set(self, path, body, status=200):
        self.routes[path] = (status, body if isinstance(body, (bytes, type(lambda: 0))) else body.encode())

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def raw_request(port, data, timeout=10, read=True):
    """Sends raw bytes, returns what the server answered before closing (or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if not read:
            return s
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except socket.timeout:
                break
            if not c:
                break
            chunks.append(c)
            if b"\r\n\r\n" in b"".join(chunks):
                head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(body) >= int(line.split(b":")[1]):
                            return b"".join(chunks)
        return b"".join(chunks)
    finally:
        if read:
            s.close()


def write_atomic(path, text):
    tmp = pathlib.Path(str(path) + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
