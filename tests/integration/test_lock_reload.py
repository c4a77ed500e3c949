"""upkeep-lock's SIGHUP reload, on both backends: what it applies (groups, slots, pause, windows, tokens),
what it only names (listeners, threads, backend), a configuration that does not load changing nothing, and
reloads under load never failing, losing or over-granting a request (run under ASan+UBSan in CI too, where a
group freed under a request would be reported)."""
import json
import signal
import threading
import time

import pytest
import requests

from etcdutil import EtcdCluster
from lockutil import LockServer, assert_error

T1, T2 = "first-admin-token", "second-admin-token"


def config(backend, db, etcd, body):
    head = f'[backend]\ntype = "{backend}"\nsqlite_path = "{db}"\n'
    if etcd:
        head += f'[etcd3]\nendpoints = ["{etcd}"]\n'
    return head + body


@pytest.fixture(params=["sqlite", "etcd3"])
def backend(request, tmp_path):
    """(backend name, a function turning a config body into the whole file)."""
    cluster = EtcdCluster(1) if request.param == "etcd3" else None
    etcd = cluster.client[0] if cluster else None
    yield request.param, lambda body: config(request.param, tmp_path / "lock.db", etcd, body)
    if cluster:
        cluster.close()


def reload(server, text, expect="configuration reloaded", count=None):
    """Writes the new configuration, sends SIGHUP and waits for the daemon to say it is done."""
    before = server.logs().count(expect)
    server.config.write_text(text)
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while server.logs().count(expect) <= before:
        assert server.proc.poll() is None, server.logs()
        assert time.monotonic() < deadline, f"no '{expect}' in:\n{server.logs()}"
        time.sleep(0.02)


def holders(server, group, token):
    r = server.admin("GET", f"/{group}", token)
    assert r.status_code == 200, r.text
    return sorted(h["id"] for h in r.json()["holders"])


def test_reload_applies_groups_slots_pause_and_tokens(build_dir, tmp_path, backend):
    name, make = backend
    s = LockServer(build_dir, tmp_path, make(f"""
[auth]
admin_token = "{T1}"
[lock]
default_slots = 1
[[lock.groups]]
name = "workers"
slots = 2
"""))
    try:
        assert s.lock("n1").status_code == 200
        assert_error(s.lock("n2"), 423, "failed_lock_semaphore_full")
        assert s.lock("w1", "workers").status_code == 200

        reload(s, make(f"""
[service]
threads = 5
[auth]
admin_token = "{T2}"
[lock]
default_slots = 2
[[lock.groups]]
name = "db"
slots = 1
paused = true
"""))
        logs = s.logs()
        assert "reload: [service] threads changed: it takes effect at the next start" in logs
        assert "reload: group default: slots 1 -> 2" in logs
        assert "reload: group db added (1 slots)" in logs
        assert "reload: group workers removed" in logs
        # The port given on the command line is not a change, though the file has none.
        assert "[service] port changed" not in logs

        assert s.lock("n2").status_code == 200  # two slots now
        assert_error(s.lock("n3"), 423, "failed_lock_semaphore_full")
        assert_error(s.lock("w2", "workers"), 404, "unknown_group")
        assert_error(s.lock("d1", "db"), 423, "group_paused")
        assert s.admin("GET", "", T1).status_code == 401
        assert holders(s, "default", T2) == ["n1", "n2"]
        # Counters outlive the reload; the removed group's series are gone.
        assert s.metric("upkeep_lock_grants_total", group="default") == 2
        assert s.metric("upkeep_lock_slots", group="default") == 2
        assert s.metric("upkeep_lock_slots", group="workers") is None
        assert s.metric("upkeep_lock_config_reloads_total", result="ok") == 1
        assert s.metric("upkeep_lock_config_last_reload_successful") == 1

        # Back: the removed group's holder was stored all along (nothing is deleted by a reload).
        reload(s, make(f"""
[auth]
admin_token = "{T1}"
[lock]
default_slots = 2
[[lock.groups]]
name = "workers"
slots = 2
"""))
        assert holders(s, "workers", T1) == ["w1"]
        assert s.unlock("w1", "workers").status_code == 200
        assert s.metric("upkeep_lock_config_reloads_total", result="ok") == 2
    finally:
        assert s.stop() == 0


def test_reload_that_fails_changes_nothing(build_dir, tmp_path):
    good = f"""
[backend]
sqlite_path = "{tmp_path}/lock.db"
[auth]
admin_token = "{T1}"
[lock]
default_slots = 1
"""
    s = LockServer(build_dir, tmp_path, good)
    try:
        assert s.lock("n1").status_code == 200
        bad = [
            ("[lock]\ndefault_slots = 2\n[lock\n", "lock.toml"),  # broken TOML
            (good.replace("default_slots = 1", "default_slots = 2\n[[lock.groups]]\nname = \"db\"\n"
                          "time_zone = \"Nowhere/Atlantis\"\n[[lock.groups.window]]\ndays = [\"Mon\"]\n"
                          "start_time = \"01:00\"\nlength_minutes = 60"), "Nowhere/Atlantis"),
            (good.replace(f'admin_token = "{T1}"', f'admin_token_file = "{tmp_path}/missing.token"'),
             "missing.token"),
        ]
        for i, (text, what) in enumerate(bad, 1):
            reload(s, text, expect="reload failed: still running the previous configuration")
            assert what in s.logs()
            assert s.metric("upkeep_lock_config_reloads_total", result="failed") == i
            assert s.metric("upkeep_lock_config_last_reload_successful") == 0
            assert_error(s.lock("n2"), 423, "failed_lock_semaphore_full")  # still one slot
            assert s.admin("GET", "", T1).status_code == 200  # still the old token
        assert s.proc.poll() is None

        reload(s, good.replace("default_slots = 1", "default_slots = 2"))
        assert s.metric("upkeep_lock_config_last_reload_successful") == 1
        assert s.lock("n2").status_code == 200
    finally:
        assert s.stop() == 0


def test_reloads_under_load(build_dir, tmp_path, backend):
    """Sixteen clients lock and unlock in two groups while the configuration flips between two versions
    forty times: one where "extra" exists, one where it does not (its state and, on etcd, its batcher
    are freed once its last request is answered). Every reply is 200, an honest 423, or 404 for "extra"
    while it is not configured; never a 5xx or a dropped connection; and holders never exceed slots."""
    name, make = backend
    with_extra = make(f"""
[auth]
admin_token = "{T1}"
[lock]
default_slots = 4
[[lock.groups]]
name = "extra"
slots = 4
""")
    without_extra = make(f"""
[auth]
admin_token = "{T1}"
[lock]
default_slots = 4
""")
    s = LockServer(build_dir, tmp_path, with_extra)
    stop = threading.Event()
    problems, counts, most = [], {}, 0
    lock = threading.Lock()

    def client(i):
        group = "extra" if i % 2 else "default"
        body = json.dumps({"client_params": {"id": f"node-{i}", "group": group}})
        session = requests.Session()  # one kept-alive connection per client
        n = 0
        while not stop.is_set():
            endpoint = "pre-reboot" if n % 2 == 0 else "steady-state"
            try:
                r = session.post(f"{s.base}/v1/{endpoint}", data=body, timeout=20,
                                 headers={"fleet-lock-protocol": "true"})
            except requests.RequestException as e:
                problems.append(f"node-{i}: {e!r}")
                return
            ok = r.status_code == 200 or \
                (r.status_code == 423 and r.json()["kind"] == "failed_lock_semaphore_full") or \
                (r.status_code == 404 and group == "extra" and r.json()["kind"] == "unknown_group")
            if not ok:
                problems.append(f"node-{i} {endpoint} {group}: {r.status_code} {r.text}")
                return
            with lock:
                counts[r.status_code] = counts.get(r.status_code, 0) + 1
            if r.status_code != 423:
                n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    try:
        for t in threads:
            t.start()
        for k in range(40):
            reload(s, without_extra if k % 2 == 0 else with_extra)
            time.sleep(0.05)
            most = max(most, len(holders(s, "default", T1)))
        assert most <= 4
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert not problems, problems[:5]
        assert counts.get(200, 0) > 100, counts
        assert counts.get(404, 0) > 0, counts  # "extra" was really gone at times
        assert s.metric("upkeep_lock_config_reloads_total", result="ok") == 40
        for group in ("default", "extra"):
            assert len(holders(s, group, T1)) <= 4
        assert s.proc.poll() is None
    finally:
        stop.set()
        assert s.stop() == 0
