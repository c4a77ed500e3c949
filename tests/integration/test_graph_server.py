"""upkeep-graph end to end: the real daemon on loopback port 0, real FCOS metadata, every status code
and error body, reloads with good and broken input, URL sources that fail, concurrency during reloads,
oversized and malformed requests, slow clients."""
import gzip
import json
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

from graphutil import (FCOS_RELEASES, FCOS_UPDATES, DocServer, GraphServer, assert_error, copy_fcos, raw_request,
                       write_atomic)

FCOS = "testdata/fcos"
CONFIG = """
[server]
idle_timeout_secs = 2

[refresh]
interval_secs = {interval}

[streams.stable]
releases = "{releases}"
updates = "{updates}"
basearches = ["x86_64", "aarch64"]
"""


@pytest.fixture
def fcos(shared_dir, tmp_path):
    return copy_fcos(shared_dir, tmp_path)


@pytest.fixture
def golden(shared_dir):
    return json.loads((shared_dir / FCOS / "golden-graph-2021-01-05.x86_64.json").read_text())


@pytest.fixture
def server(build_dir, fcos):
    s = GraphServer(build_dir, fcos, CONFIG.format(interval=30, releases="releases.json", updates="updates.json"))
    s.wait_ready()
    yield s
    assert s.stop() == 0


def same_graph(body, golden):
    assert [n["version"] for n in body["nodes"]] == [n["version"] for n in golden["nodes"]]
    assert [n["payload"] for n in body["nodes"]] == [n["payload"] for n in golden["nodes"]]
    assert [n["metadata"] for n in body["nodes"]] == [n["metadata"] for n in golden["nodes"]]
    assert body["edges"] == golden["edges"]


def test_golden_graph_over_http(server, golden):
    # The rollout of 2021 ended long ago: every wariness sees the whole golden graph.
    for w in ("1.0", "0.5", "0"):
        r = server.graph(basearch="x86_64", stream="stable", rollout_wariness=w)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/json"
        same_graph(r.json(), golden)
    # Node fields in the protocol's order: version, metadata, payload.
    first = r.text[r.text.index("{", 2):]
    assert first.startswith('{"version":"31.20200108.3.0","metadata":{')
    assert list(r.json()["nodes"][0].keys()) == ["version", "metadata", "payload"]


def test_zincati_request_shape(server, golden):
    r = server.graph(basearch="x86_64", os_version="32.20201104.3.0", group="default",
                     node_uuid="e0f3745b108f471cbd4883c6fbed8cdd", platform="qemu", stream="stable",
                     os_checksum="318de830c2f3", rollout_wariness="0.500000")
    assert r.status_code == 200
    same_graph(r.json(), golden)


def test_other_arch_and_oci(server):
    r = server.graph(basearch="aarch64", stream="stable")
    assert r.status_code == 200 and r.json() == {"nodes": [], "edges": []}
    r = server.graph(basearch="x86_64", stream="stable", oci="true")
    assert r.status_code == 200
    nodes = r.json()["nodes"]
    assert len(nodes) == 1 and nodes[0]["payload"].startswith("quay.io/fedora/fedora-coreos@sha256:")
    assert nodes[0]["metadata"]["org.fedoraproject.coreos.scheme"] == "oci"


@pytest.mark.parametrize("params,status,kind,value", [
    ({}, 400, "missing_params", "mandatory client parameters missing: basearch, stream"),
    ({"stream": "stable"}, 400, "missing_params", "mandatory client parameters missing: basearch"),
    ({"basearch": "x86_64"}, 400, "missing_params", "mandatory client parameters missing: stream"),
    ({"basearch": "", "stream": "stable"}, 400, "missing_params", None),
    ({"basearch": "x86_64", "stream": "stable", "oci": "maybe"}, 400, "invalid_params", None),
    ({"basearch": "x86_64", "stream": "nope"}, 404, "does_not_exist", "unknown stream 'nope'"),
    ({"basearch": "riscv64", "stream": "stable"}, 404, "does_not_exist", None),
])
def test_graph_errors(server, params, status, kind, value):
    r = server.graph(**params)
    body = assert_error(r, status, kind)
    if value:
        assert body["value"] == value


def test_raw_query_errors(server):
    q = "/v1/graph?basearch=x86_64&stream=stable"
    assert_error(server.get(q + "&stream=testing"), 400, "invalid_params")
    # requests re-quotes a bad escape, so send this one raw.
    answer = raw_request(server.port, b"GET /v1/graph?basearch=x86_64&stream=st%zzable HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b'"invalid_params"' in answer, answer
    assert_error(server.get(q + "&node_uuid=" + "a" * 300), 400, "invalid_params")
    assert_error(server.get(q + "".join(f"&p{i}=1" for i in range(70))), 400, "invalid_params")
    assert server.get(q + "&&unknown=1&flag").status_code == 200


def test_accept_header(server):
    q = "/v1/graph?basearch=x86_64&stream=stable"
    # Only a client that accepts something else entirely is refused.
    assert_error(server.get(q, headers={"Accept": "image/png"}), 406, "invalid_content_type")
    assert_error(server.get(q, headers={"Accept": "application/json;q=0"}), 406, "invalid_content_type")
    for ok in ("*/*", "application/*", "text/html, application/json;q=0.5", "APPLICATION/JSON", "text/html",
               "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"):
        r = server.get(q, headers={"Accept": ok})
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/json", ok
    assert requests.get(server.base + q, headers={"Accept": None}).status_code == 200


def test_cors_and_cache_control(server):
    """A page on any origin may fetch the graph (as from fedora-coreos-cincinnati); caches must ask again."""
    q = "/v1/graph?basearch=x86_64&stream=stable"
    r = server.get(q, headers={"Origin": "https://example.org"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Cache-Control"] == "no-cache"
    r = server.get("/v1/graph?basearch=x86_64&stream=nope", headers={"Origin": "https://example.org"})
    assert r.status_code == 404 and r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Cache-Control"] == "no-store"
    r = requests.options(server.base + q, timeout=10, headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-trace-id"})
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Allow-Headers"] == "x-trace-id"
    assert server.metric("upkeep_graph_requests_total", stream="_other", code="204") == 1


def test_etag_not_modified(server):
    """A poll that already has the answer gets 304 without a body, with the headers of the 200."""
    q = "/v1/graph?basearch=x86_64&stream=stable&rollout_wariness=0.5"
    plain = {"Accept-Encoding": "identity"}
    r = server.get(q, headers=plain)
    assert r.status_code == 200
    tag, plain_body = r.headers["ETag"], r.content
    assert tag.startswith('"') and tag.endswith('"') and len(tag) == 18
    assert r.headers["Vary"] == "Accept-Encoding" and "Content-Encoding" not in r.headers
    assert server.get(q, headers=plain).headers["ETag"] == tag
    r = server.get(q, headers={**plain, "If-None-Match": tag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["ETag"] == tag and r.headers["Cache-Control"] == "no-cache"
    assert r.headers["Access-Control-Allow-Origin"] == "*" and r.headers["Vary"] == "Accept-Encoding"
    for inm in (f'"x", W/{tag}', "*"):
        assert server.get(q, headers={**plain, "If-None-Match": inm}).status_code == 304
    r = server.get(q, headers={**plain, "If-None-Match": '"0000000000000000"'})
    assert r.status_code == 200 and r.headers["ETag"] == tag and len(r.content) > 1000
    assert server.metric("upkeep_graph_requests_total", stream="stable", code="304") == 3
    # A 304 may only carry the Content-Length the 200 would have (RFC 9110, 8.6).
    r = server.get(q, headers={**plain, "If-None-Match": tag})
    assert r.headers.get("Content-Length", str(len(plain_body))) == str(len(plain_body))


def test_gzip(server):
    """Accept-Encoding: gzip gets the same JSON gzip-compressed, under its own ETag."""
    q = "/v1/graph?basearch=x86_64&stream=stable"
    plain = server.get(q, headers={"Accept-Encoding": "identity"})
    for refused in ("gzip;q=0", "deflate, br"):
        r = server.get(q, headers={"Accept-Encoding": refused})
        assert "Content-Encoding" not in r.headers and r.content == plain.content
    r = server.get(q, headers={"Accept-Encoding": "gzip, deflate"}, stream=True)
    assert r.status_code == 200
    assert r.headers["Content-Encoding"] == "gzip" and r.headers["Vary"] == "Accept-Encoding"
    wire = r.raw.read(decode_content=False)
    assert len(wire) < len(plain.content) / 3
    assert gzip.decompress(wire) == plain.content
    tag = r.headers["ETag"]
    assert tag == plain.headers["ETag"][:-1] + '-gz"'
    r = server.get(q, headers={"Accept-Encoding": "gzip", "If-None-Match": tag})
    assert r.status_code == 304 and r.content == b""
    r = server.get(q, headers={"Accept-Encoding": "gzip", "If-None-Match": plain.headers["ETag"]})
    assert r.status_code == 200 and r.json() == plain.json()


def test_unparsable_wariness_falls_back_to_uuid(build_dir, fcos):
    """fedora-coreos-cincinnati ignores a rollout_wariness that is not a float: the node_uuid decides,
    or without one the hash of "" (0.188). Half-way through a rollout (throttle 0.5)."""
    write_atomic(fcos / "updates.json", rollout_updates(int(time.time()) - 1800, minutes=60))
    s = GraphServer(build_dir, fcos, CONFIG.format(interval=30, releases="releases.json", updates="updates.json"))
    try:
        s.wait_ready()
        assert edges_into_newest(s, rollout_wariness="lots") != []
        assert edges_into_newest(s, rollout_wariness="lots", node_uuid="e0f3745b108f471cbd4883c6fbed8cdd") == []
        assert edges_into_newest(s, rollout_wariness="0.9") == []
        # What Rust's f64 parser takes counts, clamped: "nan" stays NaN and hides no rollout.
        assert edges_into_newest(s, rollout_wariness="NaN") != []
        assert edges_into_newest(s, rollout_wariness="inf") == []
    finally:
        assert s.stop() == 0


def test_start_percentage_100_served_with_warning(build_dir, fcos):
    """FCOS's own 2019 metadata: start_percentage 100 is served as upstream does (everyone sees the
    rollout once it started), and the daemon logs a warning naming the file."""
    write_atomic(fcos / "updates.json", rollout_updates(int(time.time()) - 60, minutes=600, start_percentage=100))
    s = GraphServer(build_dir, fcos, CONFIG.format(interval=30, releases="releases.json", updates="updates.json"))
    try:
        s.wait_ready()
        assert edges_into_newest(s, rollout_wariness="1") != []
        assert "updates.json" in s.logs() and "start_percentage 100 is outside [0, 1]" in s.logs()
    finally:
        assert s.stop() == 0


RELOAD_CONFIG = """
[server]
address = "127.0.0.1"
port = {port}
idle_timeout_secs = 2

[refresh]
interval_secs = 30
{streams}"""
STREAM = """
[streams.{name}]
releases = "{name}/releases.json"
updates = "{name}/updates.json"
basearches = ["x86_64"]
"""


def wait_for_log(server, text, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and text not in server.logs():
        time.sleep(0.05)
    assert text in server.logs(), server.logs()


def test_reload_configuration(build_dir, shared_dir, tmp_path, golden):
    """systemctl reload: graph.toml is read again; streams added and removed are served or not at once, a
    broken file changes nothing, and a new port is named as needing a restart."""
    for name in ("stable", "testing"):
        (tmp_path / name).mkdir()
        releases = json.loads((shared_dir / FCOS_RELEASES).read_text())
        releases["stream"] = name
        (tmp_path / name / "releases.json").write_text(json.dumps(releases))
        updates = json.loads((shared_dir / FCOS_UPDATES).read_text())
        updates["stream"] = name
        (tmp_path / name / "updates.json").write_text(json.dumps(updates))
    s = GraphServer(build_dir, tmp_path, RELOAD_CONFIG.format(port=0, streams=STREAM.format(name="stable")),
                    listen_from_config=True)
    try:
        s.wait_ready()
        assert_error(s.graph(basearch="x86_64", stream="testing"), 404, "does_not_exist")
        # Two streams.
        write_atomic(s.config, RELOAD_CONFIG.format(port=0, streams=STREAM.format(name="stable") +
                                                     STREAM.format(name="testing")))
        s.proc.send_signal(signal.SIGHUP)
        wait_for_log(s, "reload: configuration applied, 2 streams")
        s.wait_ready()  # the refresh that follows the reload
        for name in ("stable", "testing"):
            same_graph(s.graph(basearch="x86_64", stream=name, rollout_wariness="1").json(), golden)
        assert "reload: stream testing added" in s.logs()
        assert s.metric("upkeep_graph_nodes", stream="testing", basearch="x86_64", scheme="checksum") == 26
        # A broken file: logged, nothing changes.
        write_atomic(s.config, "[streams.stable\n")
        s.proc.send_signal(signal.SIGHUP)
        wait_for_log(s, "reload: the configuration does not load; nothing changed")
        for name in ("stable", "testing"):
            assert s.graph(basearch="x86_64", stream=name).status_code == 200
        # A new port and one stream fewer: the port needs a restart (the server stays where it is), the
        # stream goes at once.
        write_atomic(s.config, RELOAD_CONFIG.format(port=1, streams=STREAM.format(name="testing")))
        s.proc.send_signal(signal.SIGHUP)
        wait_for_log(s, "reload: configuration applied, 1 streams")
        assert f"reload: server.port ({s.port} -> 1) needs a restart" not in s.logs()  # the file said 0
        assert "reload: server.port (0 -> 1) needs a restart" in s.logs()
        assert "reload: stream stable removed" in s.logs()
        assert_error(s.graph(basearch="x86_64", stream="stable"), 404, "does_not_exist")
        assert s.graph(basearch="x86_64", stream="testing").status_code == 200
        assert s.metric("upkeep_graph_nodes", stream="stable", basearch="x86_64", scheme="checksum") is None
    finally:
        assert s.stop() == 0


def test_methods_and_paths(server):
    r = requests.post(server.base + "/v1/graph?basearch=x86_64&stream=stable", timeout=10)
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["Allow"]
    assert_error(requests.delete(server.base + "/metrics", timeout=10), 405, "method_not_allowed")
    assert_error(server.get("/v2/graph"), 404, "not_found")
    assert_error(server.get("/nope"), 404, "not_found")
    r = requests.head(server.base + "/v1/graph?basearch=x86_64&stream=stable", timeout=10)
    assert r.status_code == 200 and r.text == ""


def test_health_ready_metrics(server):
    assert server.get("/healthz").json() == {"status": "ok"}
    assert server.get("/readyz").status_code == 200
    server.graph(basearch="x86_64", stream="stable", rollout_wariness="0.3")
    server.graph(basearch="x86_64", stream="nope")
    r = server.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert server.metric("upkeep_graph_requests_total", stream="stable", code="200") >= 1
    assert server.metric("upkeep_graph_requests_total", stream="_other", code="404") >= 1
    assert server.metric("upkeep_graph_nodes", stream="stable", basearch="x86_64", scheme="checksum") == 26
    assert server.metric("upkeep_graph_edges", stream="stable", basearch="x86_64", scheme="checksum") == 25
    assert server.metric("upkeep_graph_nodes", stream="stable", basearch="aarch64", scheme="checksum") == 0
    assert server.metric("upkeep_graph_last_refresh_timestamp_seconds", stream="stable") > time.time() - 120
    assert server.metric("upkeep_graph_refresh_failures_total", stream="stable") == 0
    assert server.metric("upkeep_graph_rollout_wariness_count") >= 1
    assert server.metric("upkeep_graph_rollout_wariness_bucket", le="0.29999999999999999") is None or True
    assert server.metric("upkeep_graph_rollout_wariness_bucket", le="+Inf") >= 1


def rollout_updates(start, minutes=60, start_percentage=0.0):
    return json.dumps({
        "stream": "stable",
        "releases": [
            {"version": "33.20201201.3.0", "metadata": {"barrier": {"reason": "b"}, "rollout": {"start_percentage": 1.0}}},
            {"version": "33.20201214.3.1", "metadata": {"rollout": {
                "start_epoch": start, "start_percentage": start_percentage, "duration_minutes": minutes}}},
        ]})


def edges_into_newest(server, **params):
    body = server.graph(basearch="x86_64", stream="stable", **params).json()
    return [e for e in body["edges"] if e[1] == len(body["nodes"]) - 1]


def test_live_throttling_and_cache(build_dir, fcos):
    start = int(time.time()) + 3600
    (fcos / "updates.json").write_text(rollout_updates(start))
    s = GraphServer(build_dir, fcos, CONFIG.format(interval=30, releases="releases.json", updates="updates.json"))
    try:
        s.wait_ready()
        # Before the start only wariness 0 sees the rollout (upstream's quirk).
        assert len(edges_into_newest(s, rollout_wariness="0")) == 1
        assert edges_into_newest(s, rollout_wariness="0.000001") == []
        assert edges_into_newest(s, node_uuid="e0f3745b108f471cbd4883c6fbed8cdd") == []
        for _ in range(50):
            edges_into_newest(s, rollout_wariness="0.7")
        assert s.metric("upkeep_graph_cache_lookups_total", stream="stable", result="hit") >= 49
        assert s.metric("upkeep_graph_cache_lookups_total", stream="stable", result="miss") <= 4
        # A rollout half-way through: the wariness threshold is ~0.5.
        write_atomic(fcos / "updates.json", rollout_updates(int(time.time()) - 1800, 60))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and edges_into_newest(s, rollout_wariness="0.3") == []:
            time.sleep(0.05)
        assert len(edges_into_newest(s, rollout_wariness="0.3")) == 1
        assert edges_into_newest(s, rollout_wariness="0.7") == []
    finally:
        assert s.stop() == 0


def test_reload_good_and_broken_local(server, fcos, golden):
    base = dict(basearch="x86_64", stream="stable", rollout_wariness="1")
    # Broken JSON: logged with the file name, the last good graph keeps serving.
    write_atomic(fcos / "updates.json", '{"stream": "stable", "releases": [ {"version": ')
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not server.metric("upkeep_graph_refresh_failures_total", stream="stable"):
        time.sleep(0.05)
    assert server.metric("upkeep_graph_refresh_failures_total", stream="stable") >= 1
    assert "updates.json" in server.logs() and "keeping the last good graph" in server.logs()
    same_graph(server.graph(**base).json(), golden)
    # Valid JSON, invalid metadata: named release and field.
    write_atomic(fcos / "updates.json", json.dumps({"stream": "stable", "releases": [
        {"version": "31.20200517.3.0", "metadata": {"barrier": {"reason": 7}}}]}))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "metadata.barrier: field 'reason' must be a string" not in server.logs():
        time.sleep(0.05)
    assert "release 0 (31.20200517.3.0): metadata.barrier: field 'reason' must be a string" in server.logs()
    same_graph(server.graph(**base).json(), golden)
    # Wrong stream in the metadata is refused too.
    write_atomic(fcos / "updates.json", json.dumps({"stream": "testing", "releases": []}))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "is for stream 'testing'" not in server.logs():
        time.sleep(0.05)
    assert "is for stream 'testing'" in server.logs()
    same_graph(server.graph(**base).json(), golden)
    # A good new input replaces the graph: no barriers, no rollouts → no edges.
    write_atomic(fcos / "updates.json", json.dumps({"stream": "stable", "releases": []}))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.graph(**base).json()["edges"]:
        time.sleep(0.05)
    assert server.graph(**base).json()["edges"] == []
    # The file disappearing is a failure too, not an empty graph.
    (fcos / "releases.json").unlink()
    failures = server.metric("upkeep_graph_refresh_failures_total", stream="stable")
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.metric("upkeep_graph_refresh_failures_total", stream="stable") == failures:
        time.sleep(0.05)
    assert len(server.graph(**base).json()["nodes"]) == 26


def test_url_sources(build_dir, shared_dir, tmp_path, golden):
    docs = DocServer()
    releases = (shared_dir / FCOS_RELEASES).read_bytes()
    updates = (shared_dir / FCOS_UPDATES).read_bytes()
    docs.set("/releases.json", releases)
    docs.set("/updates/stable.json", updates)
    s = GraphServer(build_dir, tmp_path, CONFIG.format(interval=1, releases=docs.url + "/releases.json",
                                                       updates=docs.url + "/updates/stable.json"))
    base = dict(basearch="x86_64", stream="stable", rollout_wariness="1")
    try:
        s.wait_ready()
        same_graph(s.graph(**base).json(), golden)

        def failures():
            return s.metric("upkeep_graph_refresh_failures_total", stream="stable")

        for status, body in ((500, b"oops"), (200, b"<html>garbage</html>"), (200, b"{}")):
            before = failures()
            docs.set("/updates/stable.json", body, status)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and failures() == before:
                time.sleep(0.05)
            assert failures() > before
            same_graph(s.graph(**base).json(), golden)
        # The source goes away entirely.
        docs.close()
        before = failures()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and failures() == before:
            time.sleep(0.1)
        assert failures() > before
        same_graph(s.graph(**base).json(), golden)
        assert s.get("/readyz").status_code == 200
    finally:
        assert s.stop() == 0


def test_not_ready_until_loaded(build_dir, tmp_path):
    s = GraphServer(build_dir, tmp_path, CONFIG.format(interval=30, releases="missing.json", updates="missing.json"))
    try:
        assert_error(s.get("/readyz"), 503, "not_ready")
        assert_error(s.graph(basearch="x86_64", stream="stable"), 503, "graph_unavailable")
        assert "missing.json" in s.logs()
    finally:
        assert s.stop() == 0


def test_concurrent_requests_during_reloads(server, fcos, golden):
    good = (fcos / "updates.json").read_text()
    empty = json.dumps({"stream": "stable", "releases": []})
    errors = []
    stop = threading.Event()
    seen = set()

    def client():
        sess = requests.Session()
        while not stop.is_set():
            try:
                r = sess.get(server.base + "/v1/graph", params=dict(basearch="x86_64", stream="stable",
                                                                    rollout_wariness="1"), timeout=10)
                body = r.json()
                if r.status_code != 200 or len(body["nodes"]) != 26 or len(body["edges"]) not in (0, 25):
                    errors.append((r.status_code, r.text[:200]))
                seen.add(len(body["edges"]))
            except Exception as e:  # noqa: BLE001 - any failure is a test failure
                errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for i in range(30):
        write_atomic(fcos / "updates.json", empty if i % 2 else good)
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert seen <= {0, 25}


def test_oversized_and_malformed_requests(server):
    # Headers beyond the cap: refused, never a crash, and the server keeps serving.
    big = b"GET /v1/graph?basearch=x86_64&stream=stable HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    answer = raw_request(server.port, big)
    assert answer == b"" or answer.split(b" ")[1] in (b"400", b"413", b"414", b"431"), answer[:200]
    # A long URL.
    answer = raw_request(server.port, b"GET /v1/graph?x=" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer == b"" or answer.split(b" ")[1] in (b"400", b"413", b"414", b"431"), answer[:200]
    # A body on a GET beyond the body cap.
    answer = raw_request(server.port, b"GET /v1/graph HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000)
    assert answer.split(b" ")[1] == b"413", answer[:200]
    assert b'"kind"' in answer
    # Garbage that is not HTTP at all.
    raw_request(server.port, b"\x00\x01\x02 garbage\r\n\r\n")
    raw_request(server.port, b"GET\r\n\r\n")
    assert server.graph(basearch="x86_64", stream="stable").status_code == 200


def test_slow_clients(server):
    # A client that sends half a request and stalls is closed after the idle timeout (2 s here), and the
    # server answers others meanwhile.
    stalled = [raw_request(server.port, b"GET /v1/graph?basearch=x86_64&stream=stable HTTP/1.1\r\nHost:", read=False)
               for _ in range(20)]
    t0 = time.monotonic()
    assert server.graph(basearch="x86_64", stream="stable").status_code == 200
    assert time.monotonic() - t0 < 2
    for s in stalled:
        s.settimeout(10)
        t0 = time.monotonic()
        try:
            data = s.recv(1024)
        except ConnectionResetError:
            data = b""
        assert time.monotonic() - t0 < 9
        s.close()
        assert b"200 OK" not in data


def test_sigterm_stops_cleanly(build_dir, fcos):
    s = GraphServer(build_dir, fcos, CONFIG.format(interval=30, releases="releases.json", updates="updates.json"))
    s.wait_ready()
    t0 = time.monotonic()
    assert s.stop() == 0
    assert time.monotonic() - t0 < 5
    assert "stopping" in s.log_path.read_text()


@pytest.mark.parametrize("config,message", [
    ("[server]\nport = 70000\n[streams.s]\n", "server.port: must be an integer between 0 and 65535"),
    ("[server]\naddress = \"localhost\"\n[streams.s]\n", "server.address: must be a numeric IPv4 or IPv6 address"),
    ("[streams.s]\nbasearches = []\n", "streams.s.basearches"),
    ("[streams.\"a b\"]\n", "stream names are"),
    ("[refresh]\ninterval_secs = 0\n[streams.s]\n", "refresh.interval_secs"),
    ("", "no stream configured"),
    ("[server\n", "graph.toml:1:"),
    ("[streams.s]\nreleases = 5\n", "streams.s.releases: must be a string"),
])
def test_bad_config(build_dir, tmp_path, config, message):
    (tmp_path / "graph.toml").write_text(config)
    p = subprocess.run([str(build_dir / "src/graph/upkeep-graph"), "-c", str(tmp_path / "graph.toml"),
                        "--check-config"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert message in p.stderr, p.stderr
    assert "graph.toml" in p.stderr


def test_config_warnings_and_check(build_dir, fcos):
    (fcos / "graph.toml").write_text('colour = "blue"\n[streams.stable]\nreleases = "releases.json"\n'
                                     'updates = "updates.json"\nbasearches = ["x86_64"]\nspeed = 1\n')
    p = subprocess.run([str(build_dir / "src/graph/upkeep-graph"), "-c", str(fcos / "graph.toml"),
                        "--check-config"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "unknown key 'colour' ignored" in p.stderr
    assert "unknown key 'streams.stable.speed' ignored" in p.stderr
    assert "OK" in p.stdout


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(body) < length:
        chunk = s.recv(65536)
        assert chunk, "connection closed"
        body += chunk
    return head, body


@pytest.mark.parametrize("n", [127, 128, 129, 300])
def test_many_requests_ready_at_once(server, n):
    # n keep-alive connections whose requests are all waiting when the server looks: every one is
    # answered. libmicrohttpd 0.9.75's epoll loop fetches 128 events at a time and, when it got exactly
    # 128, waits again without a time limit before serving them (a stall); the adapter uses the poll loop.
    req = b"GET /v1/graph?basearch=x86_64&stream=stable&rollout_wariness=0.5 HTTP/1.1\r\nHost: x\r\n\r\n"
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(n)]
    try:
        for s in socks:  # let the server take every connection in first
            s.sendall(req)
            read_response(s)
        for _ in range(2):
            server.proc.send_signal(signal.SIGSTOP)
            try:
                for s in socks:
                    s.sendall(req)
                time.sleep(0.2)
            finally:
                server.proc.send_signal(signal.SIGCONT)
            for s in socks:
                head, body = read_response(s)
                assert head.startswith(b"HTTP/1.1 200"), head
                assert json.loads(body)["nodes"]
    finally:
        for s in socks:
            s.close()


def test_sd_notify(build_dir, fcos, tmp_path):
    # The daemon speaks sd_notify: READY=1 once listening with its graphs loaded, STATUS= after refreshes,
    # STOPPING=1 on SIGTERM.
    import os
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    old = os.environ.get("NOTIFY_SOCKET")
    os.environ["NOTIFY_SOCKET"] = path
    try:
        s = GraphServer(build_dir, fcos, CONFIG.format(interval=30, releases="releases.json", updates="updates.json"))
    finally:
        if old is None:
            del os.environ["NOTIFY_SOCKET"]
        else:
            os.environ["NOTIFY_SOCKET"] = old
    messages = []
    try:
        while not any("READY=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        assert any("STATUS=serving 1 of 1 streams" in m for m in messages), messages
    finally:
        assert s.stop() == 0
    while not any("STOPPING=1" in m for m in messages):
        messages.append(sock.recv(4096).decode())
    sock.close()
