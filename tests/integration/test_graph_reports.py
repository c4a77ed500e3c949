"""upkeep-graph's outcome reports end to end (POST /v1/report): the real daemon on loopback port 0 with a
SQLite store, malformed and oversized reports, duplicates and floods counted once, bearer tokens, counts
that survive a restart, and the graph still served while reports arrive."""
import json
import signal
import sqlite3
import threading
import time

import pytest
import requests

from graphutil import STABLE_CONFIG, GraphServer, assert_error, copy_fcos

CONFIG = STABLE_CONFIG + """
[reports]
enabled = true
database = "{db}"
per_minute = {per_minute}
{extra}
"""
NODE = "0123456789abcdef0123456789abcdef"


def report(**over):
    r = {"node": NODE, "group": "default", "stream": "stable", "basearch": "x86_64", "from_version": "41.2",
         "to_version": "41.3", "outcome": "rolled_back", "detail": "health check 00-net failed",
         "failed_checks": ["00-net"], "time": 1700000000}
    r.update(over)
    return {k: v for k, v in r.items() if v is not None}


@pytest.fixture
def fcos(shared_dir, tmp_path):
    return copy_fcos(shared_dir, tmp_path)


def start(build_dir, fcos, per_minute=10, extra=""):
    s = GraphServer(build_dir, fcos, CONFIG.format(db=fcos / "reports.db", per_minute=per_minute, extra=extra))
    s.wait_ready()
    return s


@pytest.fixture
def server(build_dir, fcos):
    s = start(build_dir, fcos, per_minute=1000)
    yield s
    assert s.stop() == 0


def post(server, body, headers=None, raw=False):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    data = body if raw else json.dumps(body)
    return requests.post(server.base + "/v1/report", data=data, headers=h, timeout=10)


def test_accepted_and_counted(server):
    r = post(server, report())
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": True, "duplicate": False}
    r = post(server, report(outcome="succeeded", node="f" * 32, group="canary"))
    assert r.json() == {"accepted": True, "duplicate": False}
    assert server.metric("upkeep_graph_reports_total", stream="stable", release="41.3", group="default",
                         outcome="rolled_back") == 1
    assert server.metric("upkeep_graph_reports_total", stream="stable", release="41.3", group="canary",
                         outcome="succeeded") == 1
    assert server.metric("upkeep_graph_report_requests_total", code="202") == 2
    # Unknown members are ignored (newer agents may send more); optional ones may be left out.
    r = post(server, report(node="e" * 32, detail=None, failed_checks=None, future={"x": 1}))
    assert r.status_code == 202, r.text


@pytest.mark.parametrize("over,field", [
    ({"node": "ABC"}, "node"),
    ({"node": None}, "node"),
    ({"group": "a\x01b"}, "group"),
    ({"to_version": "x" * 257}, "to_version"),
    ({"stream": 3}, "stream"),
    ({"to_version": ""}, "to_version"),
    ({"outcome": "exploded"}, "outcome"),
    ({"time": -5}, "time"),
    ({"time": "now"}, "time"),
    ({"detail": "x" * 1025}, "detail"),
    ({"failed_checks": ["c"] * 33}, "failed_checks"),
    ({"failed_checks": "00-net"}, "failed_checks"),
])
def test_invalid_reports_name_the_field(server, over, field):
    body = report(**over)
    if over.get("node", 1) is None:
        body.pop("node", None)
    r = post(server, body)
    err = assert_error(r, 400, "invalid_report")
    assert err["value"].startswith(field + ":"), err


def test_malformed_bodies(server):
    for body in ["", "{", "[1]", '{"node": "a", "node": "b"}', "\xff"]:
        err = assert_error(post(server, body, raw=True), 400, "invalid_report")
        assert err["value"].startswith("body"), err
    assert_error(post(server, report(), headers={"Content-Type": "text/plain"}), 415, "invalid_content_type")
    r = requests.get(server.base + "/v1/report", timeout=10)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "POST"
    assert server.metric("upkeep_graph_reports_total") is None  # nothing stored


def test_oversize(server):
    body = json.dumps(report(detail="x" * 1000, padding="y" * 8000))
    assert len(body) > 8192
    r = post(server, body, raw=True)
    assert r.status_code == 413, r.text
    # Exactly at the cap is fine (unknown members ignored).
    body = json.dumps(report(padding=""))
    body = json.dumps(report(padding="y" * (8192 - len(body))))
    assert len(body) == 8192
    assert post(server, body, raw=True).status_code == 202


def test_duplicates_counted_once(server):
    assert post(server, report()).json()["duplicate"] is False
    for _ in range(3):
        r = post(server, report(detail="again"))
        assert r.status_code == 202
        assert r.json() == {"accepted": True, "duplicate": True}
    # Another outcome for the same target is another report.
    assert post(server, report(outcome="succeeded")).json()["duplicate"] is False
    assert server.metric("upkeep_graph_reports_total", release="41.3", outcome="rolled_back") == 1
    assert server.metric("upkeep_graph_reports_total", release="41.3", outcome="succeeded") == 1


def test_flood_from_one_node(build_dir, fcos):
    s = start(build_dir, fcos, per_minute=5)
    try:
        codes = [post(s, report()).status_code for _ in range(20)]
        assert codes[:5] == [202] * 5 and set(codes[5:]) == {429}, codes
        r = post(s, report())
        assert_error(r, 429, "rate_limited")
        assert r.headers["Retry-After"] == "60"
        # Other nodes are not limited by it; the flood was counted once.
        assert post(s, report(node="1" * 32)).status_code == 202
        assert s.metric("upkeep_graph_reports_total", release="41.3", outcome="rolled_back") == 2
        assert s.metric("upkeep_graph_report_requests_total", code="429") == 16
    finally:
        assert s.stop() == 0


def post_from(server, source, body):
    """POST a report from the client address source (one of loopback's 127.0.0.0/8)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10, source_address=(source, 0))
    try:
        c.request("POST", "/v1/report", json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        c.close()


def test_flood_from_one_address(build_dir, fcos):
    """Many node ids from one address: its bucket stops them ([reports] per_address_per_minute); other
    addresses, and the host's own 127.0.0.1 (a local proxy), are not limited by it."""
    s = start(build_dir, fcos, per_minute=1000, extra="per_address_per_minute = 5")
    try:
        got = [post_from(s, "127.0.0.2", report(node="%032x" % i)) for i in range(8)]
        assert [c for c, _ in got] == [202] * 5 + [429] * 3, got
        assert got[5][1] == {"kind": "rate_limited", "value": "too many reports from this address"}
        assert post_from(s, "127.0.0.3", report(node="%032x" % 100))[0] == 202
        assert [post_from(s, "127.0.0.1", report(node="%032x" % (200 + i)))[0] for i in range(8)] == [202] * 8
        # the refused ones were not counted
        assert s.metric("upkeep_graph_reports_total", release="41.3", outcome="rolled_back") == 5 + 1 + 8
        assert s.metric("upkeep_graph_report_requests_total", code="429") == 3
    finally:
        assert s.stop() == 0


def test_tokens(build_dir, fcos):
    s = start(build_dir, fcos, extra='tokens = ["s3cret", "other"]')
    try:
        assert_error(post(s, report()), 401, "unauthorized")
        assert_error(post(s, report(), {"Authorization": "Bearer wrong"}), 401, "unauthorized")
        assert_error(post(s, report(), {"Authorization": "s3cret"}), 401, "unauthorized")
        r = post(s, report(), {"Authorization": "Bearer s3cret"})
        assert r.status_code == 202, r.text
        assert post(s, report(node="1" * 32), {"Authorization": "Bearer other"}).status_code == 202
        assert s.metric("upkeep_graph_reports_total", outcome="rolled_back") == 2
        assert s.metric("upkeep_graph_report_requests_total", code="401") == 3
    finally:
        assert s.stop() == 0


def test_counts_survive_restart(build_dir, fcos):
    s = start(build_dir, fcos)
    try:
        for i in range(3):
            assert post(s, report(node=f"{i:032x}")).status_code == 202
        assert post(s, report(outcome="succeeded", to_version="41.4")).status_code == 202
    finally:
        assert s.stop() == 0
    s = start(build_dir, fcos)
    try:
        assert s.metric("upkeep_graph_reports_total", release="41.3", outcome="rolled_back") == 3
        assert s.metric("upkeep_graph_reports_total", release="41.4", outcome="succeeded") == 1
        # A report stored before the restart is still a duplicate.
        assert post(s, report(node=f"{0:032x}")).json()["duplicate"] is True
        assert s.metric("upkeep_graph_reports_total", release="41.3", outcome="rolled_back") == 3
    finally:
        assert s.stop() == 0


def test_store_locked_503_while_graphs_served(build_dir, fcos):
    s = start(build_dir, fcos)
    try:
        assert post(s, report()).status_code == 202
        # Another writer holds the database's write lock: the store cannot be written (after its busy
        # timeout), the report is refused with 503 and nothing is counted; graphs keep being answered
        # meanwhile, since the write waits on the store's own thread.
        db = sqlite3.connect(fcos / "reports.db", isolation_level=None, timeout=0)
        db.execute("BEGIN IMMEDIATE")
        result = {}
        t = threading.Thread(target=lambda: result.update(r=post(s, report(node="1" * 32))))
        t.start()
        started = time.monotonic()
        while t.is_alive():
            assert s.graph(basearch="x86_64", stream="stable").status_code == 200
        assert time.monotonic() - started >= 1.5  # the busy timeout
        assert_error(result["r"], 503, "store_unavailable")
        db.execute("ROLLBACK")
        db.close()
        assert "cannot store a report" in s.logs()
        assert s.metric("upkeep_graph_reports_total", outcome="rolled_back") == 1
        # The node tries again later and is stored.
        assert post(s, report(node="1" * 32)).json() == {"accepted": True, "duplicate": False}
        assert s.metric("upkeep_graph_reports_total", outcome="rolled_back") == 2
    finally:
        assert s.stop() == 0


def test_disabled_by_default(build_dir, fcos):
    s = GraphServer(build_dir, fcos, CONFIG.split("[reports]")[0])
    try:
        s.wait_ready()
        assert_error(post(s, report()), 404, "not_found")
        assert not (fcos / "reports.db").exists()
    finally:
        assert s.stop() == 0


def test_graphs_served_during_a_report_flood(server):
    stop = threading.Event()
    errors = []

    def reporter(k):
        i = 0
        while not stop.is_set():
            r = post(server, report(node=f"{k:016x}{i:016x}"))
            if r.status_code != 202:
                errors.append(r.status_code)
            i += 1

    threads = [threading.Thread(target=reporter, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(50):
            assert server.graph(basearch="x86_64", stream="stable").status_code == 200
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []


# ---- the policy, pauses and the admin API ----

NEW = "33.20201214.3.1"
POLICY = """
[admin]
token_file = "{token_file}"

[[policy]]
stream = "stable"
failure_threshold_count = 2
failure_threshold_ratio = 0.05
min_sample = 5
"""


def rollout_updates(start, minutes):
    return json.dumps({
        "stream": "stable",
        "releases": [
            {"version": "33.20201201.3.0", "metadata": {"barrier": {"reason": "b"}, "rollout": {"start_percentage": 1.0}}},
            {"version": NEW, "metadata": {"rollout": {
                "start_epoch": start, "start_percentage": 0.0, "duration_minutes": minutes}}},
        ]})


def sees_new(server, wariness):
    body = server.graph(basearch="x86_64", stream="stable", rollout_wariness=str(wariness)).json()
    return any(e[1] == len(body["nodes"]) - 1 for e in body["edges"])


def rollouts(server):
    r = server.get("/v1/rollouts")
    assert r.status_code == 200, r.text
    return {(x["stream"], x["release"]): x for x in r.json()["rollouts"]}


def wait_for(cond, timeout=10):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def ramp(fcos):
    # 2 minutes, started 1 minute ago: about 50% now, +0.83% a second.
    (fcos / "updates.json").write_text(rollout_updates(int(time.time()) - 60, 2))
    (fcos / "admin-token").write_text("adm1n\n")
    return fcos


def admin(server, what, token="adm1n", **body):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = f"Bearer {token}"
    return requests.post(server.base + f"/v1/admin/{what}", data=json.dumps(body), headers=h, timeout=10)


def test_failing_release_pauses_itself(build_dir, ramp):
    s = start(build_dir, ramp, extra=POLICY.format(token_file=ramp / "admin-token"))
    try:
        ro = rollouts(s)[("stable", NEW)]
        assert ro["paused"] is False and ro["in_graph"] is True
        assert 0.4 < ro["live_percentage"] < 0.65 and ro["effective_percentage"] == ro["live_percentage"]
        assert sees_new(s, 0.3) and not sees_new(s, 0.95)
        # One failure does not trip (threshold 2); a success and another failure do.
        assert post(s, report(to_version=NEW, node="1" * 32)).status_code == 202
        assert post(s, report(to_version=NEW, node="2" * 32, outcome="succeeded")).status_code == 202
        assert rollouts(s)[("stable", NEW)]["paused"] is False
        assert post(s, report(to_version=NEW, node="3" * 32, outcome="boot_fallback")).status_code == 202
        wait_for(lambda: rollouts(s)[("stable", NEW)]["paused"])
        ro = rollouts(s)[("stable", NEW)]
        frozen = ro["frozen_percentage"]
        assert 0.4 < frozen < 0.7, ro
        assert ro["reason"].startswith("2 of 3 nodes failed"), ro
        assert ro["reports"] == {"succeeded": 1, "failed": 2}
        assert "paused at" in s.logs()
        assert s.metric("upkeep_graph_rollout_paused", stream="stable", release=NEW) == 1
        assert s.metric("upkeep_graph_rollout_frozen_percentage", release=NEW) == pytest.approx(frozen)
        # Nodes that saw the edge keep it; the live ramp goes on but nobody new gets it.
        wait_for(lambda: not sees_new(s, frozen + 0.01))
        time.sleep(2.5)
        ro = rollouts(s)[("stable", NEW)]
        assert ro["live_percentage"] > frozen + 0.015 and ro["effective_percentage"] == frozen, ro
        assert sees_new(s, frozen - 0.01) and not sees_new(s, frozen + 0.01)
    finally:
        assert s.stop() == 0
    # Durable: after a restart, still paused at the same value.
    s = start(build_dir, ramp, extra=POLICY.format(token_file=ramp / "admin-token"))
    try:
        ro = rollouts(s)[("stable", NEW)]
        assert ro["paused"] is True and ro["frozen_percentage"] == frozen
        assert sees_new(s, frozen - 0.01) and not sees_new(s, frozen + 0.01)
        # Resumed by an operator: from the frozen value over the minute that remained.
        assert_error(admin(s, "resume", token=None, stream="stable", release=NEW), 401, "unauthorized")
        assert_error(admin(s, "resume", token="wrong", stream="stable", release=NEW), 401, "unauthorized")
        r = admin(s, "resume", stream="stable", release=NEW)
        assert r.status_code == 200, r.text
        assert r.json()["paused"] is False and r.json()["changed"] is True
        assert admin(s, "resume", stream="stable", release=NEW).json()["changed"] is False
        assert s.metric("upkeep_graph_rollout_paused", stream="stable", release=NEW) == 0
        wait_for(lambda: rollouts(s)[("stable", NEW)]["effective_percentage"] > frozen)
        ro = rollouts(s)[("stable", NEW)]
        assert ro["effective_percentage"] < frozen + 0.1, ro  # continues from frozen, not from live
        # A resumed release is not paused again by the same reports (the operator's call stands).
        assert post(s, report(to_version=NEW, node="4" * 32)).status_code == 202
        time.sleep(0.3)
        assert rollouts(s)[("stable", NEW)]["paused"] is False
    finally:
        assert s.stop() == 0


def test_admin_pause(build_dir, ramp):
    s = start(build_dir, ramp, extra=POLICY.format(token_file=ramp / "admin-token"))
    try:
        assert_error(admin(s, "pause", token=None, stream="stable", release=NEW), 401, "unauthorized")
        assert_error(admin(s, "pause", stream="nope", release=NEW), 404, "does_not_exist")
        assert_error(admin(s, "pause", stream="stable"), 400, "invalid_params")
        r = requests.get(s.base + "/v1/admin/pause", timeout=10)
        assert_error(r, 405, "method_not_allowed")
        r = admin(s, "pause", stream="stable", release=NEW, reason="bad kernel")
        assert r.status_code == 200, r.text
        assert r.json()["paused"] is True and r.json()["changed"] is True
        frozen = r.json()["frozen_percentage"]
        assert admin(s, "pause", stream="stable", release=NEW).json()["changed"] is False
        wait_for(lambda: not sees_new(s, frozen + 0.01))
        ro = rollouts(s)[("stable", NEW)]
        assert ro["reason"] == "paused by an operator: bad kernel"
        # A release not in the graph yet can be paused ahead: frozen at 0.
        r = admin(s, "pause", stream="stable", release="99.0")
        assert r.json()["frozen_percentage"] == 0
        ro = rollouts(s)[("stable", "99.0")]
        assert ro["in_graph"] is False and ro["paused"] is True
    finally:
        assert s.stop() == 0


def test_admin_off_without_token_file(server):
    assert_error(admin(server, "pause", stream="stable", release=NEW), 404, "not_found")
    # The golden inputs' rollouts ended long ago: every one at 100%, none paused.
    ro = rollouts(server)
    assert ro and all(x["effective_percentage"] == 1.0 and not x["paused"] for x in ro.values()), ro
    assert_error(requests.post(server.base + "/v1/rollouts", timeout=10), 405, "method_not_allowed")


def test_policy_added_by_reload(build_dir, ramp):
    s = start(build_dir, ramp)
    try:
        for i in range(2):
            assert post(s, report(to_version=NEW, node=f"{i:032x}")).status_code == 202
        time.sleep(0.2)
        assert rollouts(s)[("stable", NEW)]["paused"] is False  # no policy yet
        # The same configuration plus a policy; a change of [reports] would need a restart (logged, kept).
        s.config.write_text(CONFIG.format(db=ramp / "reports.db", per_minute=99, extra="") +
                            "\n[[policy]]\nstream = \"stable\"\n")
        s.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload: configuration applied" in s.logs())
        assert "reports.per_minute (10 -> 99) needs a restart" in s.logs()
        # The next failure is counted with the earlier ones: 3 of 3 trip the new policy.
        assert post(s, report(to_version=NEW, node="f" * 32)).status_code == 202
        wait_for(lambda: rollouts(s)[("stable", NEW)]["paused"])
        assert rollouts(s)[("stable", NEW)]["reason"].startswith("3 of 3 nodes failed")
    finally:
        assert s.stop() == 0


def sees_new_as(server, wariness, node_uuid=None):
    params = {"basearch": "x86_64", "stream": "stable", "rollout_wariness": str(wariness)}
    if node_uuid:
        params["node_uuid"] = node_uuid
    body = server.graph(**params).json()
    return any(e[1] == len(body["nodes"]) - 1 for e in body["edges"])


def test_canary_phase(build_dir, ramp):
    s = start(build_dir, ramp, extra='[[policy]]\nstream = "stable"\ncanary = 2\n')
    try:
        a, b, c = "a" * 32, "b" * 32, "c" * 32
        # Hidden by its wariness anyway: takes no canary place.
        assert not sees_new_as(s, 0.99, "d" * 32)
        # The first 2 distinct nodes that may see it get it, and keep it; the others wait.
        assert sees_new_as(s, 0.1, a)
        assert sees_new_as(s, 0.2, b)
        assert not sees_new_as(s, 0.1, c)
        assert not sees_new_as(s, 0.1)  # no node_uuid: never a canary
        # Only the gated release is kept from them: the rest of the graph (rollouts that ended) is served.
        body = s.graph(basearch="x86_64", stream="stable", rollout_wariness="0.1", node_uuid=c).json()
        assert len(body["edges"]) > 0
        assert sees_new_as(s, 0.1, a) and sees_new_as(s, 0.2, b)
        # One success is not enough; a failure does not open it either.
        assert post(s, report(to_version=NEW, node=a, outcome="succeeded")).status_code == 202
        assert not sees_new_as(s, 0.1, c)
        # Two succeeded: the canary phase is over, the rollout's own throttle rules.
        assert post(s, report(to_version=NEW, node=b, outcome="succeeded")).status_code == 202
        assert sees_new_as(s, 0.1, c) and sees_new_as(s, 0.1)
        assert not sees_new_as(s, 0.99, c)
    finally:
        assert s.stop() == 0
