"""upkeep-lock on a real etcd (Debian's etcd 3.4): Airlock's key layout and values, switching between
Airlock-written and upkeep-written state, resizing, concurrency across two instances, and faults in a
three-member cluster."""
import json
import threading
import time

import pytest
import requests

from etcdutil import EtcdCluster
from lockutil import LockServer, assert_error, hammer

TOKEN = "etcd-admin"
KEY = "com.coreos.airlock/groups/{}/v1/semaphore"


def config(cluster, slots=1, extra=""):
    endpoints = ", ".join(f'"{u}"' for u in cluster.client)
    return f"""
[etcd3]
endpoints = [{endpoints}]
transaction_timeout_ms = 2000
[auth]
admin_token = "{TOKEN}"
[lock]
default_group_name = "default"
default_slots = {slots}
[[lock.groups]]
name = "workers"
slots = 2
{extra}
"""


@pytest.fixture
def etcd():
    c = EtcdCluster(1)
    yield c
    c.close()


def stored(cluster, group):
    p = cluster.etcdctl("get", KEY.format(group), "--print-value-only")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout) if p.stdout.strip() else None


def test_airlock_layout(build_dir, tmp_path, etcd):
    s = LockServer(build_dir, tmp_path, config(etcd))
    try:
        assert "backend: etcd3" in s.logs()
        assert s.lock("e0f3745b108f471cbd4883c6fbed8cdd").status_code == 200
        v = stored(etcd, "default")
        assert v["total_slots"] == 1 and v["holders"] == ["e0f3745b108f471cbd4883c6fbed8cdd"]
        assert v["upkeep"]["since"]["e0f3745b108f471cbd4883c6fbed8cdd"] > 0
        assert_error(s.lock("other"), 423, "failed_lock_semaphore_full")
        assert s.unlock("e0f3745b108f471cbd4883c6fbed8cdd").status_code == 200
        assert stored(etcd, "default")["holders"] == []
        # A value exactly as Airlock writes it (holders sorted, no upkeep member) is taken as is.
        assert etcd.etcdctl("put", KEY.format("workers"), '{"total_slots":2,"holders":["a1","z9"]}').returncode == 0
        assert_error(s.lock("n3", "workers"), 423, "failed_lock_semaphore_full")
        assert s.lock("z9", "workers").status_code == 200  # recursive for Airlock's holders too
        assert s.unlock("a1", "workers").status_code == 200
        assert stored(etcd, "workers")["holders"] == ["z9"]
        assert s.lock("n3", "workers").status_code == 200
        assert stored(etcd, "workers")["holders"] == ["n3", "z9"]
        # Garbage in etcd: an honest 503, nothing overwritten.
        assert etcd.etcdctl("put", KEY.format("default"), "not json").returncode == 0
        assert_error(s.lock("x"), 503, "backend_unavailable")
        assert etcd.etcdctl("get", KEY.format("default"), "--print-value-only").stdout.strip() == "not json"
    finally:
        assert s.stop() == 0


def test_airlock_group_names_and_null_holders(build_dir, tmp_path, etcd):
    """Names Airlock accepts reach etcd under Airlock's own key (Go's url.QueryEscape); a value Airlock
    wrote with "holders": null is an empty semaphore."""
    extra = '[[lock.groups]]\nname = "my_workers"\n[[lock.groups]]\nname = "eu west/2"\n' \
            '[[lock.groups]]\nname = \'say "hi"\'\n[[lock.groups]]\nname = "Z\u00fcrich"\n'
    s = LockServer(build_dir, tmp_path, config(etcd, extra=extra))
    try:
        for group, escaped in [("my_workers", "my_workers"), ("eu west/2", "eu+west%2F2"),
                               ('say "hi"', "say+%22hi%22"), ("Z\u00fcrich", "Z%C3%BCrich")]:
            assert s.lock("n1", group, zincati=False).status_code == 200, group
            assert stored(etcd, escaped)["holders"] == ["n1"], group
            label = group.replace("\\", "\\\\").replace('"', '\\"')  # Prometheus' escaping
            assert s.metric("upkeep_lock_holders", group=label) == 1, group
        assert etcd.etcdctl("put", KEY.format("workers"), '{"total_slots":2,"holders":null}').returncode == 0
        assert s.lock("n2", "workers").status_code == 200
        assert stored(etcd, "workers")["holders"] == ["n2"]
    finally:
        assert s.stop() == 0


def test_resize_when_slots_change(build_dir, tmp_path, etcd):
    assert etcd.etcdctl("put", KEY.format("default"), '{"total_slots":1,"holders":["a"]}').returncode == 0
    s = LockServer(build_dir, tmp_path, config(etcd, slots=3))
    try:
        assert s.lock("b").status_code == 200  # Airlock would refuse: its stored semaphore keeps 1 slot
        v = stored(etcd, "default")
        assert v["total_slots"] == 3 and v["holders"] == ["a", "b"]
    finally:
        assert s.stop() == 0


def test_two_instances_hammering(build_dir, tmp_path, etcd):
    """Two upkeep-lock instances on one etcd, 32 clients each on a 2-slot group: never more holders than
    slots in etcd itself, and every answer is 200 or an honest 423, never a conflict error."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    servers = [LockServer(build_dir, tmp_path / "a", config(etcd)), LockServer(build_dir, tmp_path / "b", config(etcd))]

    def holders():
        v = stored(etcd, "workers")
        return len(v["holders"]) if v else None

    bad, most = hammer([s.base for s in servers], "workers", 64, holders, sample_every=0.02)
    try:
        assert bad == []
        assert 1 <= most <= 2
        assert sum(s.metric("upkeep_lock_grants_total", group="workers") for s in servers) > 10
        # 32 clients per instance: its writer gathers them, more than one request per compare-and-swap
        # (Python clients are slow to come back, so fewer than with bench/lock.sh).
        assert sum(s.metric("upkeep_lock_backend_gather_waits_total") for s in servers) > 0
        for s in servers:
            assert s.metric("upkeep_lock_backend_write_updates_total") > \
                s.metric("upkeep_lock_backend_writes_total")
    finally:
        for s in servers:
            assert s.stop() == 0


def test_cluster_faults(build_dir, tmp_path):
    """Three etcd members and two upkeep-lock instances: kill one member and one instance mid-load; no lost,
    duplicated or phantom holder, and service resumes on the survivors."""
    cluster = EtcdCluster(3)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    servers = [LockServer(build_dir, tmp_path / "a", config(cluster)),
               LockServer(build_dir, tmp_path / "b", config(cluster))]
    acked, uncertain = {}, set()
    stop = threading.Event()
    errors = []

    def client(i):
        node = f"n{i}"
        while not stop.is_set():
            for s in servers:
                if s.proc.poll() is not None:
                    continue
                for op, call in (("locked", s.lock), ("unlocked", s.unlock)):
                    try:
                        r = call(node, "workers")
                    except requests.RequestException:
                        uncertain.add(node)  # in flight when its instance died: it may have applied
                        break
                    if r.status_code == 200:
                        acked[node] = op
                        uncertain.discard(node)
                    elif r.status_code == 503:
                        uncertain.add(node)  # the etcd member died under it: it may have applied
                    elif r.status_code != 423:
                        errors.append((r.status_code, r.text))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.5)
        cluster.stop_member(0)
        servers[0].kill9()
        time.sleep(2.5)
        stop.set()
        for t in threads:
            t.join()
        assert errors == []
        assert len(acked) == 6  # every client got through at least once
        survivor = servers[1]
        v = None
        for _ in range(50):  # the cluster may still be electing
            try:
                v = json.loads(cluster.etcdctl("--endpoints", ",".join(cluster.client[1:]), "get",
                                               KEY.format("workers"), "--print-value-only").stdout)
                break
            except ValueError:
                time.sleep(0.2)
        assert v is not None
        assert len(v["holders"]) <= 2 and len(set(v["holders"])) == len(v["holders"])
        for node in v["holders"]:
            assert acked.get(node) == "locked" or node in uncertain  # no phantom holder
        for node, last in acked.items():
            if last == "locked" and node not in uncertain:
                assert node in v["holders"]  # no lost holder
        # Service resumes: every holder can release, and new locks are granted.
        for node in v["holders"]:
            assert survivor.unlock(node, "workers").status_code == 200
        assert survivor.lock("fresh", "workers").status_code == 200
        assert requests.get(survivor.base + "/readyz", timeout=10).status_code == 200
    finally:
        stop.set()
        for s in servers:
            if s.proc.poll() is None:
                assert s.stop() == 0
            else:
                s.log.close()
        cluster.close()


def test_etcd_unreachable(build_dir, tmp_path):
    cluster = EtcdCluster(1)
    s = LockServer(build_dir, tmp_path, config(cluster))
    try:
        assert s.lock("a").status_code == 200
        cluster.stop_member(0)
        assert_error(s.lock("b"), 503, "backend_unavailable")
        assert_error(requests.get(s.base + "/readyz", timeout=10), 503, "backend_unavailable")
        assert s.metric("upkeep_lock_backend_errors_total") >= 1
    finally:
        assert s.stop() == 0
        cluster.close()
