"""upkeep-agent-worker's FleetLock call with the agent's bearer token (issue 14, "lock"."token" in the lock
request): the header arrives at a recording server exactly as `Authorization: Bearer <token>`, nothing is
sent without a token, a malformed token is refused before any request, the token appears in nothing the
worker writes; and upkeep-lock with per-group client_tokens grants the slot only with it."""
import http.server
import json
import subprocess
import threading

import pytest

from lockutil import LockServer

TOKEN = "s3cr3t.Token-_~+/=0123456789"


class Recorder:
    """A loopback FleetLock stand-in that records each request's path and headers and answers 200."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.requests.append((self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


def lock_request(base_url, api="pre-reboot", group="default", **extra):
    lock = {"base_url": base_url, "api": api, "node_uuid": "0" * 31 + "1", "group": group, "stream": "stable"}
    lock.update(extra)
    return {"command": "lock", "lock": lock}


def run_worker(build_dir, request):
    p = subprocess.run([str(build_dir / "src/agent/upkeep-agent-worker")], input=json.dumps(request),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.splitlines()[-1]), p


def test_token_header_sent(build_dir, recorder):
    res, p = run_worker(build_dir, lock_request(recorder.url, token=TOKEN))
    assert res["ok"] is True and res["status"] == 200, res
    assert len(recorder.requests) == 1
    path, headers, body = recorder.requests[0]
    assert path == "/v1/pre-reboot"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["fleet-lock-protocol"] == "true"
    assert TOKEN not in p.stdout and TOKEN not in p.stderr
    assert TOKEN.encode() not in body

    res, p = run_worker(build_dir, lock_request(recorder.url, api="steady-state", token=TOKEN))
    assert res["ok"] is True
    assert recorder.requests[1][0] == "/v1/steady-state"
    assert recorder.requests[1][1]["Authorization"] == f"Bearer {TOKEN}"


def test_no_token_no_header(build_dir, recorder):
    res, _ = run_worker(build_dir, lock_request(recorder.url))
    assert res["ok"] is True
    assert "Authorization" not in recorder.requests[0][1]


@pytest.mark.parametrize("token", ["", "with space", "line\r\nX-Injected: yes", "tab\there", "caf\u00e9",
                                   "x" * 4097, 42, None])
def test_bad_token_refused(build_dir, recorder, token):
    res, p = run_worker(build_dir, lock_request(recorder.url, token=token))
    assert res["ok"] is False
    assert res["error_kind"] == "config" and res["errno"] == 22, res
    assert "token" in res["error"]
    if isinstance(token, str) and token:
        assert token not in p.stdout and token not in p.stderr
    assert recorder.requests == []  # refused before any request


def test_longest_token(build_dir, recorder):
    token = "t" * 4096
    res, _ = run_worker(build_dir, lock_request(recorder.url, token=token))
    assert res["ok"] is True
    assert recorder.requests[0][1]["Authorization"] == "Bearer " + token


def test_upkeep_lock_client_tokens(build_dir, tmp_path):
    cfg = f"""
[backend]
type = "sqlite"
sqlite_path = "{tmp_path}/l.db"
[[lock.groups]]
name = "secure"
client_tokens = ["{TOKEN}"]
"""
    s = LockServer(build_dir, tmp_path, cfg)
    try:
        res, _ = run_worker(build_dir, lock_request(s.base + "/", group="secure"))
        assert res["ok"] is True and res["status"] == 401, res
        res, _ = run_worker(build_dir, lock_request(s.base + "/", group="secure", token="wrong"))
        assert res["status"] == 401
        res, _ = run_worker(build_dir, lock_request(s.base + "/", group="secure", token=TOKEN))
        assert res["status"] == 200, res
        res, _ = run_worker(build_dir, lock_request(s.base + "/", api="steady-state", group="secure",
                                                    token=TOKEN))
        assert res["status"] == 200, res
    finally:
        assert s.stop() == 0
