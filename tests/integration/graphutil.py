"""Helpers for the upkeep-graph integration tests: start the daemon on loopback port 0, serve documents
from a controllable test HTTP server, make raw requests."""
import http.server
import json
import os
import pathlib
import signal
import socket
import subprocess
import threading
import time

import requests


class GraphServer:
    def __init__(self, build, workdir, config_text, extra_args=()):
        self.workdir = pathlib.Path(workdir)
        self.config = self.workdir / "graph.toml"
        self.config.write_text(config_text)
        self.port_file = self.workdir / "port"
        self.log_path = self.workdir / "upkeep-graph.log"
        if self.port_file.exists():
            self.port_file.unlink()
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(build / "src/graph/upkeep-graph"), "-c", str(self.config), "--address", "127.0.0.1",
             "--port", "0", "--port-file", str(self.port_file), *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not self.port_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"upkeep-graph exited with {self.proc.returncode}:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError("upkeep-graph did not start:\n" + self.logs())
            time.sleep(0.01)
        self.port = int(self.port_file.read_text())
        self.base = f"http://127.0.0.1:{self.port}"

    def logs(self):
        self.log.flush()
        return self.log_path.read_text()

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

    def metric(self, name, **labels):
        text = self.get("/metrics").text
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            if key.split("{")[0] != name:
                continue
            if all(f'{k}="{v}"' in key for k, v in labels.items()):
                return float(value)
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("upkeep-graph did not stop on SIGTERM")
        self.log.close()
        text = self.log_path.read_text()
        # Sanitizer reports mean a bug even when every assertion passed.
        assert "ERROR: AddressSanitizer" not in text, text
        assert "ERROR: LeakSanitizer" not in text, text
        assert "runtime error:" not in text, text
        return self.proc.returncode


class DocServer:
    """A loopback HTTP server whose answers the test controls: per path (status, body) or a callable."""

    def __init__(self):
        self.routes = {}
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


def assert_error(resp, status, kind):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert body["kind"] == kind, body
    assert isinstance(body["value"], str) and body["value"], body
    return body
