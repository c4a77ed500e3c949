"""upkeep-lock end to end: the FleetLock protocol as Zincati and Airlock's clients speak it and every
error kind (on both backends, SQLite and a real etcd), expiry, settle delay, windows, pause, the admin API,
tokens, metrics, bad input, concurrency and kill -9."""
import datetime
import json
import signal
import socket
import sqlite3
import threading
import time

import pytest
import requests

from etcdutil import EtcdCluster
from lockutil import LockServer, assert_error, hammer

TOKEN = "s3cret-admin-token"
BASE_CONFIG = """
[backend]
type = "sqlite"
sqlite_path = "{db}"

[auth]
admin_token = "{token}"

[lock]
default_slots = 1

[[lock.groups]]
name = "workers"
slots = 2
"""


@pytest.fixture(params=["sqlite", "etcd3"])
def server(request, build_dir, tmp_path):
    """The daemon on each backend, with the same groups and token."""
    cluster = None
    config = BASE_CONFIG.format(db=tmp_path / "lock.db", token=TOKEN)
    if request.param == "etcd3":
        cluster = EtcdCluster(1)
        config = config.replace('type = "sqlite"', 'type = "etcd3"') + \
            f'\n[etcd3]\nendpoints = ["{cluster.client[0]}"]\n'
    s = LockServer(build_dir, tmp_path, config)
    yield s
    try:
        assert s.stop() == 0
    finally:
        if cluster:
            cluster.close()


@pytest.fixture
def sqlite_server(build_dir, tmp_path):
    s = LockServer(build_dir, tmp_path, BASE_CONFIG.format(db=tmp_path / "lock.db", token=TOKEN))
    yield s
    assert s.stop() == 0


def holders(server, group="default"):
    r = server.admin("GET", f"/{group}", TOKEN)
    assert r.status_code == 200, r.text
    return [h["id"] for h in r.json()["holders"]]


def test_zincati_and_airlock_shaped_requests(server):
    a, b = "e0f3745b108f471cbd4883c6fbed8cdd", "c988d2509fdf5cdcbed39037c56406fb"
    r = server.lock(a)  # Zincati: pretty JSON, no Content-Type
    assert r.status_code == 200 and r.text == ""
    assert server.lock(a, zincati=False).status_code == 200  # recursive, Airlock-style body
    body = assert_error(server.lock(b), 423, "failed_lock_semaphore_full")
    assert body["value"] == "all 1 semaphore slots currently locked"
    assert holders(server) == [a]
    assert server.unlock(b).status_code == 200  # unlock if held: a stranger's unlock is fine, changes nothing
    assert holders(server) == [a]
    assert server.unlock(a).status_code == 200
    assert holders(server) == []
    assert server.lock(b).status_code == 200
    # Counting semaphore with 2 slots.
    assert server.lock("n1", "workers").status_code == 200
    assert server.lock("n2", "workers").status_code == 200
    assert_error(server.lock("n3", "workers"), 423, "failed_lock_semaphore_full")
    assert holders(server, "workers") == ["n1", "n2"]


@pytest.mark.parametrize("header,body,kind,status", [
    (None, None, "invalid_request", 400),
    ("false", None, "invalid_request", 400),
    ("TRUE", None, "invalid_request", 400),
    ("true", "", "invalid_request", 400),
    ("true", "{not json", "invalid_request", 400),
    ("true", '{"client_params": {"id": "", "group": "default"}}', "invalid_request", 400),
    ("true", '{"client_params": {"id": "a", "group": ""}}', "invalid_request", 400),
    ("true", '{"client_params": {"id": "a", "group": "bad\\ngroup"}}', "invalid_request", 400),
    ("true", '{"client_params": {"id": "a", "group": "bad\\u0001group"}}', "invalid_request", 400),
    ("true", '{"client_params": {"id": "a", "group": "no such group"}}', "unknown_group", 404),
    ("true", '{"client_params": {"id": "a"}}', "invalid_request", 400),
    ("true", '{"client_params": {"id": 7, "group": "default"}}', "invalid_request", 400),
    ("true", '{"client_params": "x"}', "invalid_request", 400),
    ("true", '{"client_params": {"id": "a\\u0000b", "group": "default"}}', "invalid_request", 400),
    ("true", b'{"client_params": {"id": "\xff\xfe", "group": "default"}}', "invalid_request", 400),
    ("true", '{"client_params": {"id": "a", "group": "default"}, "client_params": {}}', "invalid_request", 400),
    ("true", "[" * 5000 + "]" * 5000, "invalid_request", 400),
    ("true", '{"client_params": {"id": "a", "group": "nosuchgroup"}}', "unknown_group", 404),
])
def test_bad_requests_change_nothing(server, header, body, kind, status):
    assert server.lock("holder").status_code == 200
    for endpoint in ("pre-reboot", "steady-state"):
        r = server.fleetlock(endpoint, "x", header=header, body=body if body is not None else None)
        assert_error(r, status, kind)
    assert holders(server) == ["holder"]



@pytest.mark.parametrize("node,group,field", [
    ("evil\u202egnp", "default", "client_params.id"),      # right-to-left override
    ("a\u2066b\u2069", "default", "client_params.id"),      # isolates
    ("a\u200fb", "default", "client_params.id"),             # right-to-left mark
    ("a\u061cb", "default", "client_params.id"),             # Arabic letter mark
    ("a\u0085b", "default", "client_params.id"),             # NEL
    ("a\u009b2Jb", "default", "client_params.id"),           # CSI
    ("a\x1b[2Jb", "default", "client_params.id"),            # ESC
    ("a\rb", "default", "client_params.id"),
    ("n1", "work\u202aers", "client_params.group"),
])
def test_ids_and_groups_with_control_or_bidi_characters_refused(sqlite_server, node, group, field):
    """Holder ids and group names reach logs, the journal and `upkeep lock status`: one with a control or
    bidi character is refused with 400 naming the field, takes no slot, and is not written to the log."""
    for endpoint in ("pre-reboot", "steady-state"):
        r = sqlite_server.fleetlock(endpoint, node, group, zincati=False)
        body = assert_error(r, 400, "invalid_request")
        assert field in body["value"], body
    assert holders(sqlite_server) == []
    for bad in ("\u202e", "\u2066", "\u200f", "\u061c", "\u0085", "\u009b", "\x1b", "\u202a"):
        assert bad not in sqlite_server.logs()
    assert sqlite_server.lock("a\u00a0b\u05e2", zincati=False).status_code == 200  # other UTF-8 is fine

def test_methods_sizes_and_paths(server):
    r = requests.get(server.base + "/v1/pre-reboot", timeout=10)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "POST"
    assert_error(requests.put(server.base + "/v1/steady-state", timeout=10), 405, "method_not_allowed")
    assert_error(requests.get(server.base + "/v2/pre-reboot", timeout=10), 404, "not_found")
    huge = '{"client_params": {"id": "' + "a" * 100000 + '", "group": "default"}}'
    assert_error(server.fleetlock("pre-reboot", "x", body=huge), 413, "payload_too_large")
    long_id = '{"client_params": {"id": "' + "a" * 300 + '", "group": "default"}}'
    assert_error(server.fleetlock("pre-reboot", "x", body=long_id), 400, "invalid_request")
    assert holders(server) == []


def test_slow_and_half_open_clients(server):
    stalled = []
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(b"POST /v1/pre-reboot HTTP/1.1\r\nHost: x\r\nfleet-lock-protocol: true\r\nContent-Length: 100\r\n\r\n{")
        stalled.append(s)
    t0 = time.monotonic()
    assert server.lock("other").status_code == 200  # others are served meanwhile
    assert time.monotonic() - t0 < 2
    for s in stalled:
        s.close()
    assert holders(server) == ["other"]


def test_admin_api(server):
    assert_error(server.admin("GET", "", None), 401, "unauthorized")
    assert_error(server.admin("GET", "", "wrong"), 401, "unauthorized")
    assert server.lock("n1", "workers").status_code == 200
    r = server.admin("GET", "", TOKEN)
    assert r.status_code == 200
    groups = {g["name"]: g for g in r.json()["groups"]}
    assert set(groups) == {"default", "workers"}
    w = groups["workers"]
    assert w["slots"] == 2 and w["holders"][0]["id"] == "n1" and w["holders"][0]["age_secs"] >= 0
    assert w["paused"] is False and w["window"]["open"] is True
    assert_error(server.admin("GET", "/nope", TOKEN), 404, "unknown_group")
    assert_error(server.admin("POST", "/workers", TOKEN), 405, "method_not_allowed")
    assert_error(server.admin("GET", "/workers/release", TOKEN), 405, "method_not_allowed")
    assert_error(server.admin("POST", "/workers/release", TOKEN, data="{}"), 400, "invalid_request")
    assert_error(server.admin("POST", "/workers/explode", TOKEN), 404, "not_found")
    r = server.admin("POST", "/workers/release", TOKEN, data=json.dumps({"id": "n1"}))
    assert r.status_code == 200 and r.json()["released"] is True
    assert holders(server, "workers") == []
    r = server.admin("POST", "/workers/release", TOKEN, data=json.dumps({"id": "n1"}))
    assert r.json()["released"] is False
    # Pause and resume.
    assert server.admin("POST", "/workers/pause", TOKEN).status_code == 200
    assert_error(server.lock("n2", "workers"), 423, "group_paused")
    assert server.admin("GET", "/workers", TOKEN).json()["paused"] is True
    assert server.unlock("n2", "workers").status_code == 200  # steady-state always works
    assert server.admin("POST", "/workers/resume", TOKEN).status_code == 200
    assert server.lock("n2", "workers").status_code == 200
    assert server.metric("upkeep_lock_denials_total", group="workers", kind="group_paused") == 1


def test_admin_api_off_without_token(build_dir, tmp_path):
    s = LockServer(build_dir, tmp_path, f'[backend]\ntype = "sqlite"\nsqlite_path = "{tmp_path}/l.db"\n'
                   "[auth]\ngenerate_admin_token = false\n")
    try:
        assert_error(s.admin("GET", "", "anything"), 404, "not_found")
        assert s.lock("a").status_code == 200
        assert not (tmp_path / "admin.token").exists()
    finally:
        assert s.stop() == 0


def test_group_names_as_airlock_accepts(build_dir, tmp_path):
    """Any non-empty name without control characters, as in Airlock: FleetLock, the admin API (the name
    percent-encoded in the path, '/' included), JSON and metrics."""
    cfg = f'[backend]\nsqlite_path = "{tmp_path}/l.db"\n[auth]\nadmin_token = "{TOKEN}"\n' \
          '[lock]\ndefault_group_name = "my_workers"\n[[lock.groups]]\nname = "eu/west 2"\n' \
          '[[lock.groups]]\nname = \'say "hi"\'\n'
    s = LockServer(build_dir, tmp_path, cfg)
    try:
        for group in ["my_workers", "eu/west 2", 'say "hi"']:
            assert s.lock("n1", group, zincati=False).status_code == 200, group
        r = s.admin("GET", "/eu%2Fwest%202", TOKEN)
        assert r.status_code == 200 and r.json()["name"] == "eu/west 2", r.text
        r = s.admin("POST", "/say%20%22hi%22/pause", TOKEN)
        assert r.status_code == 200 and r.json() == {"group": 'say "hi"', "action": "pause"}, r.text
        assert [g["name"] for g in s.admin("GET", "", TOKEN).json()["groups"]] == \
            ["my_workers", "eu/west 2", 'say "hi"']
        assert s.metric("upkeep_lock_paused", group='say \\"hi\\"') == 1
        assert s.metric("upkeep_lock_holders", group="eu/west 2") == 1
        assert_error(s.lock("n1", "a\tb", zincati=False), 400, "invalid_request")
    finally:
        assert s.stop() == 0


def test_admin_token_generated_on_defaults(build_dir, tmp_path):
    """Without a configured token, the first start writes one next to the database (0600, 64 hex digits)
    and the admin API takes it; the next start reads the same one; a configured token wins."""
    cfg = f'[backend]\nsqlite_path = "{tmp_path}/l.db"\n'
    path = tmp_path / "admin.token"
    s = LockServer(build_dir, tmp_path, cfg)
    try:
        token = path.read_text()
        assert token.endswith("\n") and len(token) == 65 and set(token[:-1]) <= set("0123456789abcdef")
        assert path.stat().st_mode & 0o7777 == 0o600
        assert f"admin API on: generated its token in {path}" in s.logs()
        assert_error(s.admin("GET", "", "anything"), 401, "unauthorized")
        assert s.admin("GET", "", token.strip()).status_code == 200
    finally:
        assert s.stop() == 0
    s = LockServer(build_dir, tmp_path, cfg)
    try:
        assert path.read_text() == token
        assert f"admin API on: its token is in {path}" in s.logs()
        assert s.admin("GET", "/default", token.strip()).status_code == 200
    finally:
        assert s.stop() == 0
    s = LockServer(build_dir, tmp_path, cfg + f'[auth]\nadmin_token = "{TOKEN}"\n')
    try:
        assert s.admin("GET", "", TOKEN).status_code == 200
        assert_error(s.admin("GET", "", token.strip()), 401, "unauthorized")
    finally:
        assert s.stop() == 0


def test_expiry_settle_and_metrics(build_dir, tmp_path):
    cfg = f"""
[backend]
type = "sqlite"
sqlite_path = "{tmp_path}/l.db"
[auth]
admin_token = "{TOKEN}"
[lock]
default_max_hold_secs = 2
default_settle_secs = 2
"""
    s = LockServer(build_dir, tmp_path, cfg)
    try:
        assert s.lock("dead-node").status_code == 200
        assert_error(s.lock("next"), 423, "failed_lock_semaphore_full")
        time.sleep(2.2)
        # The dead node's slot expired; the settle delay then runs from that release.
        body = assert_error(s.lock("next"), 423, "failed_lock_semaphore_full")
        assert "settle" in body["value"]
        assert "held its slot longer than 2 s" in s.logs()
        assert s.metric("upkeep_lock_expirations_total", group="default") == 1
        time.sleep(2.1)
        assert s.lock("next").status_code == 200
        assert s.metric("upkeep_lock_grants_total", group="default") == 2
        assert s.metric("upkeep_lock_holders", group="default") == 1
        assert s.metric("upkeep_lock_slots", group="default") == 1
        assert 0 <= s.metric("upkeep_lock_oldest_holder_age_seconds", group="default") < 5
        assert s.metric("upkeep_lock_requests_total", endpoint="pre-reboot", code="423") == 2
        assert s.metric("upkeep_lock_request_duration_seconds_count") >= 4
        assert requests.get(s.base + "/healthz", timeout=10).status_code == 200
        assert requests.get(s.base + "/readyz", timeout=10).status_code == 200
    finally:
        assert s.stop() == 0


def test_windows_and_config_pause(build_dir, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc)
    closed_day = (now + datetime.timedelta(days=3)).strftime("%a").lower()
    cfg = f"""
[backend]
type = "sqlite"
sqlite_path = "{tmp_path}/l.db"
[[lock.groups]]
name = "open"
time_zone = "Europe/Berlin"
[[lock.groups.window]]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start_time = "00:00"
length_minutes = 1440
[[lock.groups]]
name = "closed"
[[lock.groups.window]]
days = ["{closed_day}"]
start_time = "00:00"
length_minutes = 60
[[lock.groups]]
name = "frozen"
paused = true
"""
    s = LockServer(build_dir, tmp_path, cfg)
    try:
        assert s.lock("a", "open").status_code == 200
        assert_error(s.lock("a", "closed"), 423, "outside_window")
        assert_error(s.lock("a", "frozen"), 423, "group_paused")
        assert s.metric("upkeep_lock_window_open", group="closed") == 0
        assert s.metric("upkeep_lock_window_open", group="open") == 1
    finally:
        assert s.stop() == 0


def test_client_tokens(build_dir, tmp_path):
    cfg = f"""
[backend]
type = "sqlite"
sqlite_path = "{tmp_path}/l.db"
[[lock.groups]]
name = "secure"
client_tokens = ["node-token"]
"""
    s = LockServer(build_dir, tmp_path, cfg)
    try:
        r = s.lock("a", "secure")
        assert_error(r, 401, "unauthorized")
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert_error(s.lock("a", "secure", token="wrong"), 401, "unauthorized")
        assert s.lock("a", "secure", token="node-token").status_code == 200
        assert_error(s.unlock("a", "secure"), 401, "unauthorized")  # nobody releases another's slot
        assert s.unlock("a", "secure", token="node-token").status_code == 200
        assert s.lock("b").status_code == 200  # groups without tokens stay open
    finally:
        assert s.stop() == 0


@pytest.mark.parametrize("config,message", [
    ('[service]\nport = "x"\n', "service.port"),
    ('[backend]\ntype = "mysql"\n', "backend.type"),
    ('[[lock.groups]]\nname = "a"\ntime_zone = "Mars/Olympus"\n[[lock.groups.window]]\ndays = ["mon"]\n'
     'start_time = "01:00"\nlength_minutes = 5\n', "Mars/Olympus"),
    ('[[lock.groups]]\nname = "a"\n[[lock.groups.window]]\ndays = ["funday"]\nstart_time = "01:00"\n'
     'length_minutes = 5\n', "funday"),
    ('[[lock.groups]]\nname = "a"\n[[lock.groups.window]]\ndays = ["mon"]\nstart_time = "25:00"\n'
     'length_minutes = 5\n', "25:00"),
    ('[auth]\nadmin_token_file = "/nonexistent/token"\n', "/nonexistent/token"),
    ('[backend]\ntype = "sqlite"\nsqlite_path = "/nonexistent/dir/lock.db"\n', "/nonexistent/dir/lock.db"),
])
def test_bad_config(build_dir, tmp_path, config, message):
    import subprocess
    (tmp_path / "lock.toml").write_text(config)
    p = subprocess.run([str(build_dir / "src/lock/upkeep-lock"), "-c", str(tmp_path / "lock.toml"), "--port", "0",
                        "--address", "127.0.0.1", "--sqlite" if "sqlite_path" not in config else "--verbose",
                        *([str(tmp_path / "l.db")] if "sqlite_path" not in config else [])],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert message in p.stderr, p.stderr
    # --check-config finds the same mistakes without starting (the backend is not opened: its directory
    # may not exist before the service's first start).
    if "sqlite_path" not in config:
        p = subprocess.run([str(build_dir / "src/lock/upkeep-lock"), "-c", str(tmp_path / "lock.toml"),
                            "--check-config"], capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and p.stdout == ""
        assert message in p.stderr, p.stderr


def test_check_config(build_dir, tmp_path):
    """--check-config reads everything the configuration names (token file, TLS files, time zones, windows),
    prints what it amounts to and exits 0; unknown keys are warned about; a missing TLS key is an error
    that names the file. Nothing listens and no database is created."""
    import subprocess
    token = tmp_path / "admin.token"
    token.write_text("s3cret\n")
    (tmp_path / "lock.toml").write_text(
        'colour = "blue"\n[service]\nport = 9999\n[backend]\nsqlite_path = "%s"\n[auth]\nadmin_token_file = "%s"\n'
        '[lock]\ndefault_slots = 3\n[[lock.groups]]\nname = "workers"\nslots = 2\nsettle_secs = 120\n'
        'max_hold_secs = 3600\ntime_zone = "Europe/Berlin"\nclient_tokens = ["t1"]\n'
        '[[lock.groups.window]]\ndays = ["mon", "tue"]\nstart_time = "22:00"\nlength_minutes = 360\n'
        % (tmp_path / "db" / "lock.db", token))
    cmd = [str(build_dir / "src/lock/upkeep-lock"), "-c", str(tmp_path / "lock.toml"), "--check-config"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "unknown key 'colour' ignored" in p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "configuration OK: listening on [::]:9999, 2 HTTP threads, admin API on"
    assert lines[1] == f"backend: sqlite, {tmp_path / 'db' / 'lock.db'}"
    assert "group default: 3 slots" in lines
    assert ("group workers: 2 slots, max hold 3600 s, settle 120 s, 1 window (Europe/Berlin), 1 client token"
            in lines), lines
    assert not (tmp_path / "db").exists()

    with open(tmp_path / "lock.toml", "a") as f:
        f.write('\n')
    text = (tmp_path / "lock.toml").read_text().replace(
        "[service]\n", '[service]\ntls = true\ntls_cert_path = "%s"\ntls_key_path = "%s"\n'
        % (token, tmp_path / "missing.key"))
    (tmp_path / "lock.toml").write_text(text)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and p.stdout == ""
    assert f"cannot read the TLS key {tmp_path / 'missing.key'}" in p.stderr, p.stderr


def test_concurrent_clients_never_exceed_slots(sqlite_server, tmp_path):
    """64 clients hammer lock/unlock on a 2-slot group for a bounded time; the database itself is sampled
    meanwhile and never shows more holders than slots; every reply is 200 or an honest 423. (The same on
    etcd, sampled with etcdctl, is in test_lock_etcd.py.)"""
    server = sqlite_server
    db = sqlite3.connect(f"file:{tmp_path / 'lock.db'}?mode=ro", uri=True, timeout=10, check_same_thread=False)
    try:
        bad, most = hammer([server.base], "workers", 64, lambda: db.execute(
            "SELECT COUNT(*) FROM holders WHERE group_name = 'workers'").fetchone()[0])
    finally:
        db.close()
    assert bad == []
    assert 1 <= most <= 2
    grants = server.metric("upkeep_lock_grants_total", group="workers")
    assert grants > 10
    assert server.metric("upkeep_lock_backend_gather_waits_total") == 0  # SQLite does not gather


def test_kill9_and_restart_consistent(build_dir, tmp_path):
    """kill -9 mid-load, restart: every lock acknowledged and not followed by an unlock is still held,
    nothing is held that was never asked for, and the requests in flight at the kill went either way."""
    cfg = BASE_CONFIG.format(db=tmp_path / "lock.db", token=TOKEN)
    s = LockServer(build_dir, tmp_path, cfg)
    acknowledged, inflight = {}, {}
    stop = threading.Event()

    def client(i):
        node = f"n{i}"
        while not stop.is_set():
            for op, call in (("locked", s.lock), ("unlocked", s.unlock)):
                inflight[node] = op
                try:
                    r = call(node, "workers")
                except requests.RequestException:
                    return  # the server died with this request in flight: it may or may not have applied
                inflight[node] = None
                if r.status_code == 200:
                    acknowledged[node] = op

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    s.kill9()
    stop.set()
    for t in threads:
        t.join()
    s.start()
    try:
        state = holders(s, "workers")
        assert len(state) <= 2
        for node in state:  # no phantom: each holder was acknowledged a lock or had one in flight
            assert acknowledged.get(node) == "locked" or inflight.get(node) == "locked", (node, acknowledged, inflight)
        for node, last in acknowledged.items():
            if last == "locked" and inflight.get(node) is None:
                assert node in state, (node, state)  # an acknowledged lock is never lost
        assert acknowledged  # the load did run
        for node in state:
            assert s.unlock(node, "workers").status_code == 200
        assert holders(s, "workers") == []
    finally:
        assert s.stop() == 0


def test_requests_of_different_groups_share_transactions(build_dir, tmp_path):
    """Eight clients, each alone in its own group: a group never has two requests in flight, so every
    transaction that carries more than one request carries several groups. Requests that arrive while a
    transaction is being written share the next one (fewer writes than requests), and every answer and the
    final state are what one request at a time would give."""
    groups = [f"g{i}" for i in range(8)]
    cfg = BASE_CONFIG.format(db=tmp_path / "lock.db", token=TOKEN) + \
        "".join(f'\n[[lock.groups]]\nname = "{g}"\nslots = 1\n' for g in groups)
    s = LockServer(build_dir, tmp_path, cfg)
    stop = threading.Event()
    bad, sent = [], [0] * len(groups)

    def client(i):
        sess = requests.Session()
        body = json.dumps({"client_params": {"id": f"n{i}", "group": groups[i]}})
        while not stop.is_set():
            for endpoint in ("pre-reboot", "steady-state"):
                r = sess.post(f"{s.base}/v1/{endpoint}", headers={"fleet-lock-protocol": "true"}, data=body,
                              timeout=20)
                sent[i] += 1
                if r.status_code != 200:
                    bad.append((groups[i], endpoint, r.status_code, r.text))

    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(groups))]
        for t in threads:
            t.start()
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()
        assert bad == []
        updates = s.metric("upkeep_lock_backend_write_updates_total")
        writes = s.metric("upkeep_lock_backend_writes_total")
        assert updates == sum(sent)
        assert writes < updates, (writes, updates)
        for g in groups:
            assert holders(s, g) == []
            assert s.metric("upkeep_lock_grants_total", group=g) == sent[groups.index(g)] // 2
    finally:
        assert s.stop() == 0


@pytest.mark.parametrize("http_threads", [1, 2])
def test_requests_in_flight_exceed_http_threads(build_dir, tmp_path, http_threads):
    """With one or two HTTP threads, twelve requests sent while another process holds the database's write
    lock are written together once it lets go: a request waiting for a write parks its connection instead
    of holding a thread (deferred replies), so a write carries more requests than there are threads. If
    each waiting request held its thread, two at a time could wait, and twelve would take six writes.
    Meanwhile the server goes on answering: with a single thread it never writes there itself."""
    import sqlite3
    db = tmp_path / "lock.db"
    cfg = f"[service]\nthreads = {http_threads}\n" + BASE_CONFIG.format(db=db, token=TOKEN) + \
        '\n[[lock.groups]]\nname = "wide"\nslots = 12\n'
    s = LockServer(build_dir, tmp_path, cfg)
    results = [None] * 12

    def send(i):
        results[i] = requests.post(f"{s.base}/v1/pre-reboot", headers={"fleet-lock-protocol": "true"},
                                   data=json.dumps({"client_params": {"id": f"n{i}", "group": "wide"}}),
                                   timeout=20)

    try:
        assert s.lock("warm", "wide").status_code == 200 and s.unlock("warm", "wide").status_code == 200
        writes_before = s.metric("upkeep_lock_backend_writes_total")
        updates_before = s.metric("upkeep_lock_backend_write_updates_total")
        other = sqlite3.connect(db, isolation_level=None, timeout=10)
        other.execute("BEGIN IMMEDIATE")  # the daemon's writes wait (busy timeout 5 s)
        threads = [threading.Thread(target=send, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        assert requests.get(f"{s.base}/healthz", timeout=5).status_code == 200
        assert time.monotonic() - t0 < 0.5
        time.sleep(1.0)
        other.execute("ROLLBACK")
        other.close()
        for t in threads:
            t.join()
        assert [r.status_code for r in results] == [200] * 12, [r.text for r in results]
        updates = s.metric("upkeep_lock_backend_write_updates_total") - updates_before
        writes = s.metric("upkeep_lock_backend_writes_total") - writes_before
        assert updates == 12
        assert writes < 6, (writes, updates)
        assert sorted(holders(s, "wide")) == sorted(f"n{i}" for i in range(12))
    finally:
        assert s.stop() == 0


def test_failed_commit_fails_every_request_of_its_batch(sqlite_server, tmp_path):
    """The database's files may not grow (RLIMIT_FSIZE set on the running daemon, as a full disk would
    do): requests for several groups sent together all answer 503 backend_unavailable, whichever
    transaction they were batched into, and change nothing; with room again the same requests succeed."""
    import resource
    s = sqlite_server
    assert s.lock("keep", "workers").status_code == 200
    # Each would write if it were alone (a request that changes nothing, alone in its transaction, has
    # nothing to commit and succeeds).
    requests_ = [("lock", "a", "default"), ("lock", "b", "workers"), ("unlock", "keep", "workers"),
                 ("lock", "c", "workers"), ("lock", "d", "default"), ("lock", "b", "workers")]
    results = [None] * len(requests_)

    def send(i):
        op, node, group = requests_[i]
        results[i] = requests.post(f"{s.base}/v1/{'pre-reboot' if op == 'lock' else 'steady-state'}",
                                   headers={"fleet-lock-protocol": "true"},
                                   data=json.dumps({"client_params": {"id": node, "group": group}}), timeout=20)

    soft, hard = resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE, ((tmp_path / "lock.db-wal").stat().st_size, hard))
    try:
        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests_))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
    for r in results:
        assert_error(r, 503, "backend_unavailable")
    assert s.metric("upkeep_lock_backend_errors_total") == len(requests_)
    assert holders(s, "workers") == ["keep"]
    assert holders(s, "default") == []
    assert s.metric("upkeep_lock_grants_total", group="workers") == 1
    # Room again: the same requests, one at a time, as if the failed ones had never been sent.
    assert s.lock("a", "default").status_code == 200
    assert s.lock("b", "workers").status_code == 200
    assert s.unlock("keep", "workers").status_code == 200
    assert s.lock("c", "workers").status_code == 200
    assert holders(s, "workers") == ["b", "c"]
    assert holders(s, "default") == ["a"]


def upkeep(build_dir, *args, env=None):
    import os
    import subprocess
    e = dict(os.environ)
    e.pop("UPKEEP_ADMIN_TOKEN", None)
    e.update(env or {})
    return subprocess.run([str(build_dir / "src/cli/upkeep"), *args], capture_output=True, text=True, timeout=60,
                          env=e)


def test_cli_lock_commands(build_dir, sqlite_server, tmp_path):
    server = sqlite_server
    token_file = tmp_path / "admin.token"
    token_file.write_text(TOKEN + "\n")
    assert server.lock("e0f3745b108f471cbd4883c6fbed8cdd").status_code == 200
    p = upkeep(build_dir, "lock", "status", "--url", server.base, "--token-file", str(token_file))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["GROUP", "SLOTS", "HOLDERS", "PAUSED", "WINDOW"]
    assert lines[1].split()[:4] == ["default", "1", "1", "no"]
    assert "holder e0f3745b108f471cbd4883c6fbed8cdd" in p.stdout
    assert any(l.split()[:4] == ["workers", "2", "0", "no"] for l in lines)
    p = upkeep(build_dir, "lock", "status", "workers", "--url", server.base, env={"UPKEEP_ADMIN_TOKEN": TOKEN})
    assert p.returncode == 0 and "workers" in p.stdout and "default" not in p.stdout
    p = upkeep(build_dir, "lock", "release", "default", "e0f3745b108f471cbd4883c6fbed8cdd", "--url", server.base,
               "--token-file", str(token_file))
    assert p.returncode == 0 and json.loads(p.stdout)["released"] is True
    assert holders(server) == []
    assert upkeep(build_dir, "lock", "pause", "workers", "--url", server.base, "--token-file",
                  str(token_file)).returncode == 0
    assert_error(server.lock("x", "workers"), 423, "group_paused")
    assert upkeep(build_dir, "lock", "resume", "workers", "--url", server.base, "--token-file",
                  str(token_file)).returncode == 0
    assert server.lock("x", "workers").status_code == 200
    p = upkeep(build_dir, "lock", "status", "--url", server.base, "--json", "--token-file", str(token_file))
    assert json.loads(p.stdout)["groups"]
    # Errors are clear.
    p = upkeep(build_dir, "lock", "status", "--url", server.base)
    assert p.returncode == 1 and "401" in p.stderr and "--token-file" in p.stderr
    p = upkeep(build_dir, "lock", "pause", "nope", "--url", server.base, "--token-file", str(token_file))
    assert p.returncode == 1 and "unknown_group" in p.stderr
    p = upkeep(build_dir, "lock", "release", "default", "--url", server.base)
    assert p.returncode == 1 and "usage" in p.stderr


def test_cli_group_names_and_hints(build_dir, tmp_path):
    """Airlock's group names reach the admin API whole (the CLI percent-encodes them, the server decodes),
    and an admin API that is off or refuses the token gets a hint that says what to do."""
    config = BASE_CONFIG.format(db=tmp_path / "lock.db", token=TOKEN) + \
        '\n[[lock.groups]]\nname = "edge nodes/eu%1"\nslots = 1\n'
    server = LockServer(build_dir, tmp_path, config)
    try:
        env = {"UPKEEP_ADMIN_TOKEN": TOKEN}
        assert upkeep(build_dir, "lock", "pause", "edge nodes/eu%1", "--url", server.base, env=env).returncode == 0
        assert_error(server.lock("x", "edge nodes/eu%1"), 423, "group_paused")
        p = upkeep(build_dir, "lock", "status", "edge nodes/eu%1", "--url", server.base, env=env)
        assert p.returncode == 0 and "edge nodes/eu%1" in p.stdout and "yes" in p.stdout, p.stdout + p.stderr
        assert upkeep(build_dir, "lock", "resume", "edge nodes/eu%1", "--url", server.base, env=env).returncode == 0
        assert server.lock("x", "edge nodes/eu%1").status_code == 200
        p = upkeep(build_dir, "lock", "status", "--url", server.base, env={"UPKEEP_ADMIN_TOKEN": "wrong"})
        assert p.returncode == 1 and "401" in p.stderr and "token was refused" in p.stderr, p.stderr
    finally:
        assert server.stop() == 0
    off = LockServer(build_dir, tmp_path, f'[backend]\nsqlite_path = "{tmp_path / "off.db"}"\n'
                     '[auth]\ngenerate_admin_token = false\n')
    try:
        p = upkeep(build_dir, "lock", "status", "--url", off.base, env={"UPKEEP_ADMIN_TOKEN": TOKEN})
        assert p.returncode == 1 and "404" in p.stderr and "admin API may be off" in p.stderr, p.stderr
    finally:
        assert off.stop() == 0


def test_tls_service(build_dir, tmp_path):
    import shutil
    import subprocess
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    cfg = f"""
[service]
tls = true
tls_cert_path = "{tmp_path}/cert.pem"
tls_key_path = "{tmp_path}/key.pem"
[backend]
type = "sqlite"
sqlite_path = "{tmp_path}/l.db"
"""
    s = LockServer(build_dir, tmp_path, cfg)
    try:
        assert "(TLS)" in s.logs()
        url = f"https://127.0.0.1:{s.port}/v1/pre-reboot"
        body = json.dumps({"client_params": {"id": "a", "group": "default"}})
        r = requests.post(url, data=body, headers={"fleet-lock-protocol": "true"}, verify=str(tmp_path / "cert.pem"),
                          timeout=20)
        assert r.status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.post(url, data=body, headers={"fleet-lock-protocol": "true"}, timeout=20)  # unknown CA
        with pytest.raises(requests.RequestException):
            requests.post(f"http://127.0.0.1:{s.port}/v1/pre-reboot", data=body, timeout=5)  # plain HTTP refused
    finally:
        assert s.stop() == 0


def test_sd_notify(build_dir, tmp_path):
    import os
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    os.environ["NOTIFY_SOCKET"] = path
    try:
        s = LockServer(build_dir, tmp_path, BASE_CONFIG.format(db=tmp_path / "lock.db", token=TOKEN))
    finally:
        del os.environ["NOTIFY_SOCKET"]
    messages = []
    try:
        while not any("READY=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        assert any("STATUS=coordinating reboots for 2 groups (sqlite)" in m for m in messages), messages
        # A reload says so, and says when it is done (systemd's Type=notify reload protocol).
        s.proc.send_signal(signal.SIGHUP)
        messages = []
        while not any("READY=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        assert "RELOADING=1" in messages[0], messages
    finally:
        assert s.stop() == 0
    while not any("STOPPING=1" in m for m in messages):
        messages.append(sock.recv(4096).decode())
    sock.close()
