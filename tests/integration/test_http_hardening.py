"""Request smuggling and unanswered requests (issue 14), end to end: raw sockets against the real
upkeep-graph and upkeep-lock on loopback port 0. Both daemons answer through the same HTTP adapter, so
each refuses the same shapes: 400 (or 501 for a transfer coding other than chunked) with a JSON error
body and "Connection: close", then closes the connection without reading anything after it."""
import json
import shutil
import socket
import time

import pytest

from graphutil import GraphServer
from lockutil import LockServer

GRAPH_CONFIG = """
[refresh]
interval_secs = 30

[streams.stable]
releases = "releases.json"
updates = "updates.json"
basearches = ["x86_64"]
"""
LOCK_CONFIG = """
[backend]
type = "sqlite"
sqlite_path = "{db}"
"""
# Each daemon's GET and POST endpoints.
PATHS = {"graph": ("/readyz", "/v1/graph"), "lock": ("/readyz", "/v1/pre-reboot")}


@pytest.fixture(params=["graph", "lock"])
def daemon(request, build_dir, shared_dir, tmp_path):
    if request.param == "graph":
        shutil.copy(shared_dir / "testdata/fcos/releases-2021-01-05.json", tmp_path / "releases.json")
        shutil.copy(shared_dir / "testdata/fcos/updates-stable-4c055c1.json", tmp_path / "updates.json")
        s = GraphServer(build_dir, tmp_path, GRAPH_CONFIG)
        s.wait_ready()
    else:
        s = LockServer(build_dir, tmp_path, LOCK_CONFIG.format(db=tmp_path / "lock.db"))
    s.kind = request.param
    yield s
    assert s.stop() == 0


def exchange(port, data, timeout=10):
    """Sends data, reads until the server closes (or timeout). Returns (bytes, seconds, closed)."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    chunks, closed = [], False
    try:
        s.sendall(data)
        while True:
            try:
                c = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not c:
                closed = True
                break
            chunks.append(c)
    finally:
        s.close()
    return b"".join(chunks), time.monotonic() - t0, closed


def assert_refused(daemon, data, status, kind):
    out, seconds, closed = exchange(daemon.port, data)
    assert out.startswith(b"HTTP/1.1 %d " % status), out[:200]
    # One answer only: nothing after the refused request was read as another request.
    assert out.count(b"HTTP/1.") == 1, out
    head, _, body = out.partition(b"\r\n\r\n")
    lines = [line.lower() for line in head.split(b"\r\n")[1:]]
    assert b"connection: close" in lines, head
    assert b"content-type: application/json" in lines, head
    error = json.loads(body)
    assert error["kind"] == kind and error["value"], error
    assert closed and seconds < 5, (closed, seconds)
    return error


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


def test_conflicting_lengths(daemon):
    post = PATHS[daemon.kind][1].encode()
    assert_refused(daemon, b"POST " + post + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                   b"Content-Length: %d\r\n\r\n{}" % (2 + len(SMUGGLED)) + SMUGGLED, 400, "bad_request")
    # Identical duplicates are refused as well.
    assert_refused(daemon, b"POST " + post + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                   b"Content-Length: 2\r\n\r\n{}" + SMUGGLED, 400, "bad_request")


def test_length_and_chunked(daemon):
    post = PATHS[daemon.kind][1].encode()
    assert_refused(daemon, b"POST " + post + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, 400, "bad_request")


@pytest.mark.parametrize("name", [b"Transfer-Encoding ", b"Transfer-Encoding\t", b"X Y", b"X@Y", b"X\"Y"])
def test_header_names_that_are_not_tokens(daemon, name):
    post = PATHS[daemon.kind][1].encode()
    assert_refused(daemon, b"POST " + post + b" HTTP/1.1\r\nHost: x\r\n" + name + b": chunked\r\n\r\n"
                   b"0\r\n\r\n" + SMUGGLED, 400, "bad_request")


def test_many_query_arguments(daemon):
    get = PATHS[daemon.kind][0].encode()
    target = get + (b"&" if b"?" in get else b"?") + b"&".join([b"a"] * 1500)  # 3 KB: under both target caps
    error = assert_refused(daemon, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request")
    assert "query arguments" in error["value"]


@pytest.mark.parametrize("coding", [b"gzip", b"foo", b"gzip, chunked"])
def test_unknown_transfer_coding(daemon, coding):
    post = PATHS[daemon.kind][1].encode()
    assert_refused(daemon, b"POST " + post + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding +
                   b"\r\n\r\n{}", 501, "not_implemented")


def test_still_serves_normal_requests(daemon):
    get = PATHS[daemon.kind][0].encode()
    out, _, _ = exchange(daemon.port, b"GET " + get + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 "), out[:200]
