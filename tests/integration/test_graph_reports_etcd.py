"""upkeep-graph's report store on a real etcd (Debian's etcd-server), shared by two instances: a report
sent to one is counted once on both, a policy trips on reports split across them, two instances racing to
pause a release end with one record and serve the same frozen edges, and etcd going away makes reports 503
while graphs keep the known pauses, until etcd returns."""
import json
import threading
import time

import pytest
import requests

from etcdutil import EtcdCluster
from graphutil import STABLE_CONFIG, GraphServer, assert_error, copy_fcos
from test_graph_reports import NEW, admin, report, rollout_updates, rollouts, sees_new, wait_for

PREFIX = "upkeep-test/"
REFRESH_MS = 200
CONFIG = STABLE_CONFIG + """
[reports]
enabled = true
backend = "etcd"
per_minute = 1000

[etcd3]
endpoints = ["{endpoint}"]
prefix = "{prefix}"
refresh_interval_ms = {refresh}
transaction_timeout_ms = 1000

[admin]
token_file = "{token_file}"
{extra}
"""
POLICY = """
[[policy]]
stream = "stable"
failure_threshold_count = 2
failure_threshold_ratio = 0.05
min_sample = 5
"""


@pytest.fixture
def etcd():
    c = EtcdCluster(1)
    yield c
    c.close()


def workdir(shared_dir, path, updates=None):
    path.mkdir()
    copy_fcos(shared_dir, path, updates=updates is None)
    if updates is not None:
        (path / "updates.json").write_text(updates)
    (path / "admin-token").write_text("adm1n\n")
    return path


def start(build_dir, d, etcd, extra=""):
    s = GraphServer(build_dir, d, CONFIG.format(endpoint=etcd.client[0], prefix=PREFIX, refresh=REFRESH_MS,
                                                token_file=d / "admin-token", extra=extra))
    s.wait_ready()
    return s


def two_instances(build_dir, shared_dir, tmp_path, etcd, updates=None, extra=""):
    a = start(build_dir, workdir(shared_dir, tmp_path / "a", updates), etcd, extra)
    b = start(build_dir, workdir(shared_dir, tmp_path / "b", updates), etcd, extra)
    return a, b


@pytest.fixture
def pair(build_dir, shared_dir, tmp_path, etcd):
    """Two instances on one etcd, with the golden inputs."""
    a, b = two_instances(build_dir, shared_dir, tmp_path, etcd)
    yield a, b
    assert a.stop() == 0
    assert b.stop() == 0


@pytest.fixture
def ramp_pair(build_dir, shared_dir, tmp_path, etcd):
    """Two instances on one etcd, a rollout at about 50% (+0.83% a second) and a policy."""
    a, b = two_instances(build_dir, shared_dir, tmp_path, etcd, rollout_updates(int(time.time()) - 60, 2), POLICY)
    yield a, b
    assert a.stop() == 0
    assert b.stop() == 0


def post(server, body):
    return requests.post(server.base + "/v1/report", data=json.dumps(body),
                         headers={"Content-Type": "application/json"}, timeout=10)


def count(server, **labels):
    return server.metric("upkeep_graph_reports_total", stream="stable", **labels) or 0


def etcd_keys(etcd, section):
    p = etcd.etcdctl("get", "--prefix", PREFIX + section + "/")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    return dict(zip(lines[0::2], lines[1::2]))


def test_reports_counted_once_across_instances(pair, etcd):
    a, b = pair
    assert post(a, report()).json() == {"accepted": True, "duplicate": False}
    # The same (node, release, outcome) to the other instance: a duplicate there too.
    assert post(b, report(detail="again")).json() == {"accepted": True, "duplicate": True}
    assert post(b, report(node="f" * 32, group="canary", outcome="succeeded")).json()["duplicate"] is False
    assert post(b, report(node="e" * 32)).json()["duplicate"] is False
    for s in (a, b):
        wait_for(lambda: count(s, release="41.3", group="default", outcome="rolled_back") == 2, timeout=3)
        wait_for(lambda: count(s, release="41.3", group="canary", outcome="succeeded") == 1, timeout=3)
        assert s.metric("upkeep_graph_report_store_up", backend="etcd") == 1
    # The layout the docs describe: one key per report, a count per (stream, release, group, outcome).
    reports = etcd_keys(etcd, "reports")
    assert set(reports) == {PREFIX + "reports/41.3/rolled_back/" + "0123456789abcdef0123456789abcdef",
                            PREFIX + "reports/41.3/rolled_back/" + "e" * 32,
                            PREFIX + "reports/41.3/succeeded/" + "f" * 32}
    first = json.loads(reports[PREFIX + "reports/41.3/rolled_back/0123456789abcdef0123456789abcdef"])
    assert first["detail"] == "health check 00-net failed" and first["failed_checks"] == ["00-net"]
    assert etcd_keys(etcd, "counts") == {PREFIX + "counts/stable/41.3/default/rolled_back": "2",
                                         PREFIX + "counts/stable/41.3/canary/succeeded": "1"}
    # Many reports at once to both instances: every one counted exactly once.
    def flood(server, first):
        for i in range(first, first + 20):
            assert post(server, report(node=f"{i:032x}", outcome="stage_failed")).status_code == 202
    threads = [threading.Thread(target=flood, args=(s, k * 20)) for k, s in enumerate((a, b, a, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in (a, b):
        wait_for(lambda: count(s, release="41.3", outcome="stage_failed") == 80, timeout=3)
    assert etcd_keys(etcd, "counts")[PREFIX + "counts/stable/41.3/default/stage_failed"] == "80"


def test_policy_trips_on_reports_split_across_instances(ramp_pair, etcd):
    a, b = ramp_pair
    assert post(a, report(to_version=NEW, node="1" * 32)).status_code == 202
    assert post(b, report(to_version=NEW, node="2" * 32, outcome="succeeded")).status_code == 202
    assert not rollouts(a)[("stable", NEW)]["paused"] and not rollouts(b)[("stable", NEW)]["paused"]
    # The second failure, to the other instance, trips the policy: 2 of 3 across both.
    assert post(b, report(to_version=NEW, node="3" * 32, outcome="boot_fallback")).status_code == 202
    wait_for(lambda: rollouts(b)[("stable", NEW)]["paused"], timeout=3)
    # The other instance applies it within the refresh interval, with the same record.
    wait_for(lambda: rollouts(a)[("stable", NEW)]["paused"], timeout=3)
    ra, rb = rollouts(a)[("stable", NEW)], rollouts(b)[("stable", NEW)]
    assert ra["frozen_percentage"] == rb["frozen_percentage"] and ra["reason"] == rb["reason"]
    assert rb["reason"].startswith("2 of 3 nodes failed"), rb
    assert len(etcd_keys(etcd, "pauses")) == 1
    frozen = ra["frozen_percentage"]
    for s in (a, b):
        wait_for(lambda: not sees_new(s, frozen + 0.01))
        assert sees_new(s, frozen - 0.01)


def same_pause_on_both(a, b, etcd):
    ra, rb = rollouts(a)[("stable", NEW)], rollouts(b)[("stable", NEW)]
    assert ra["paused"] and rb["paused"]
    assert ra["frozen_percentage"] == rb["frozen_percentage"], (ra, rb)
    assert ra["reason"] == rb["reason"]
    records = etcd_keys(etcd, "pauses")
    assert list(records) == [PREFIX + "pauses/stable/" + NEW]
    assert json.loads(records[PREFIX + "pauses/stable/" + NEW])["frozen"] == ra["frozen_percentage"]
    frozen = ra["frozen_percentage"]
    # Both serve the same edge set: the same nodes see the release, on either instance.
    time.sleep(0.3)
    for w in (0.0, frozen - 0.001, frozen + 0.001, 0.99):
        if 0 <= w <= 1:
            assert sees_new(a, w) == sees_new(b, w) == (w <= frozen), w
    return frozen


def test_admin_pauses_racing(ramp_pair, etcd):
    a, b = ramp_pair
    answers = {}
    barrier = threading.Barrier(2)

    def go(name, server):
        barrier.wait()
        answers[name] = admin(server, "pause", stream="stable", release=NEW, reason=f"from {name}")
    threads = [threading.Thread(target=go, args=(n, s)) for n, s in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers["a"].status_code == 200 and answers["b"].status_code == 200
    ja, jb = answers["a"].json(), answers["b"].json()
    assert ja["paused"] and jb["paused"]
    # One wrote the record; the other found it and answers with it.
    assert ja["frozen_percentage"] == jb["frozen_percentage"], (ja, jb)
    assert [ja["changed"], jb["changed"]].count(True) <= 1 or ja["frozen_percentage"] == jb["frozen_percentage"]
    frozen = same_pause_on_both(a, b, etcd)
    assert frozen == ja["frozen_percentage"]
    # Resumed on one, resumed on both; the second resume finds nothing to do.
    assert admin(a, "resume", stream="stable", release=NEW).json()["changed"] is True
    wait_for(lambda: not rollouts(b)[("stable", NEW)]["paused"], timeout=3)
    assert admin(b, "resume", stream="stable", release=NEW).json()["changed"] is False


def test_policies_tripping_at_once(ramp_pair, etcd):
    a, b = ramp_pair
    # One failure known to both; then a failure to each at the same moment: each instance sees two.
    assert post(a, report(to_version=NEW, node="1" * 32)).status_code == 202
    wait_for(lambda: count(b, release=NEW, outcome="rolled_back") == 1, timeout=3)
    barrier = threading.Barrier(2)
    codes = []

    def go(server, node, outcome):
        barrier.wait()
        codes.append(post(server, report(to_version=NEW, node=node, outcome=outcome)).status_code)
    threads = [threading.Thread(target=go, args=(a, "2" * 32, "boot_fallback")),
               threading.Thread(target=go, args=(b, "3" * 32, "stage_failed"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [202, 202]
    for s in (a, b):
        wait_for(lambda: rollouts(s)[("stable", NEW)]["paused"], timeout=3)
    same_pause_on_both(a, b, etcd)
    assert "paused at" in a.logs() + b.logs()


def test_etcd_down_and_back(ramp_pair, etcd):
    a, b = ramp_pair
    r = admin(a, "pause", stream="stable", release=NEW, reason="before the outage")
    frozen = r.json()["frozen_percentage"]
    wait_for(lambda: rollouts(b)[("stable", NEW)]["paused"], timeout=3)
    etcd.stop_member(0)
    # Reports: an honest 503 with a JSON error, nothing counted.
    for s in (a, b):
        assert_error(post(s, report(to_version=NEW, node="9" * 32)), 503, "store_unavailable")
    for s in (a, b):
        wait_for(lambda: s.metric("upkeep_graph_report_store_up", backend="etcd") == 0, timeout=5)
        assert "report store does not answer" in s.logs()
    # Graphs: still served, with the pause known before the outage.
    time.sleep(3 * REFRESH_MS / 1000)
    for s in (a, b):
        assert s.get("/readyz").status_code == 200
        assert sees_new(s, frozen - 0.01) and not sees_new(s, frozen + 0.01)
        ro = rollouts(s)[("stable", NEW)]
        assert ro["paused"] and ro["frozen_percentage"] == frozen
    # An admin write cannot be stored either: 503, nothing changes.
    assert_error(admin(b, "resume", stream="stable", release=NEW), 503, "store_unavailable")
    assert rollouts(b)[("stable", NEW)]["paused"]
    # etcd back: both recover by themselves.
    etcd.start(0)
    etcd.wait_healthy()
    for s in (a, b):
        wait_for(lambda: s.metric("upkeep_graph_report_store_up", backend="etcd") == 1, timeout=10)
        assert "report store answers again" in s.logs()
    assert post(b, report(to_version=NEW, node="9" * 32)).json() == {"accepted": True, "duplicate": False}
    for s in (a, b):
        wait_for(lambda: count(s, release=NEW, outcome="rolled_back") == 1, timeout=3)
    assert admin(a, "resume", stream="stable", release=NEW).json()["changed"] is True
    wait_for(lambda: not rollouts(b)[("stable", NEW)]["paused"], timeout=3)


def test_refuses_to_start_without_etcd(build_dir, shared_dir, tmp_path, etcd):
    d = workdir(shared_dir, tmp_path / "a")
    etcd.stop_member(0)
    with pytest.raises(RuntimeError) as err:
        start(build_dir, d, etcd)
    assert etcd.client[0] in str(err.value)


@pytest.mark.parametrize("etcd3,message", [
    ("", "etcd3.endpoints: the etcd backend needs at least one endpoint"),
    ('endpoints = ["ftp://x"]', "endpoints must be http:// or https:// URLs"),
    ('endpoints = ["http://127.0.0.1:1"]\nprefix = "a b"', "etcd3.prefix: must be 1 to 256 printable"),
    ('endpoints = ["http://127.0.0.1:1"]\nclient_cert_pub_path = "c.pem"', "go together"),
    ('endpoints = ["http://127.0.0.1:1"]\nrefresh_interval_ms = 10', "etcd3.refresh_interval_ms"),
])
def test_bad_etcd_configuration(build_dir, shared_dir, tmp_path, etcd3, message):
    d = workdir(shared_dir, tmp_path / "a")
    text = ('[streams.stable]\nreleases = "releases.json"\nupdates = "updates.json"\n'
            f'[reports]\nenabled = true\nbackend = "etcd"\n[etcd3]\n{etcd3}\n')
    with pytest.raises(RuntimeError) as err:
        GraphServer(build_dir, d, text)
    assert message in str(err.value)
