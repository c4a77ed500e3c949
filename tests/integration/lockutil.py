"""Helpers for the upkeep-lock integration tests: start the daemon on loopback port 0, speak FleetLock the
way Zincati and Airlock's clients do, and hammer it with many clients at once."""
import json
import pathlib
import threading
import time

import requests

from daemonutil import Daemon, assert_error  # noqa: F401 (re-exported for the tests)

ZINCATI_BODY = """{{
  "client_params": {{
    "id": "{id}",
    "group": "{group}"
  }}
}}"""


class LockServer(Daemon):
    name, subdir = "upkeep-lock", "lock"

    def __init__(self, build, workdir, config_text, extra_args=()):
        self.db = pathlib.Path(workdir) / "lock.db"
        super().__init__(build, workdir, "lock.toml", config_text, extra_args)

    def fleetlock(self, endpoint, node, group="default", zincati=True, header="true", token=None, body=None):
        headers = {}
        if header is not None:
            headers["fleet-lock-protocol"] = header
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is None:
            if zincati:  # pretty JSON and no Content-Type, as Zincati sends it
                body = ZINCATI_BODY.format(id=node, group=group)
            else:
                body = json.dumps({"client_params": {"id": node, "group": group}})
                headers["Content-Type"] = "application/json"
        return self.session.post(f"{self.base}/v1/{endpoint}", data=body, headers=headers, timeout=20)

    def lock(self, node, group="default", **kw):
        return self.fleetlock("pre-reboot", node, group, **kw)

    def unlock(self, node, group="default", **kw):
        return self.fleetlock("steady-state", node, group, **kw)

    def admin(self, method, path, token, **kw):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, f"{self.base}/v1/groups{path}", headers=headers, timeout=20, **kw)


def hammer(bases, group, clients, count_holders, seconds=5, sample_every=0.002):
    """clients clients take and release a slot of group as fast as they can for seconds, client i through
    bases[i % len(bases)] on its own kept-alive connection, while count_holders() -- how many holders the
    backend itself stores, or None when it stores none -- is sampled on another thread. Returns (bad, most):
    every answer other than 200 or an honest 423 (or what a request or a sample raised), and the most holders
    a sample saw."""
    stop = threading.Event()
    bad, most = [], [0]

    def client(i):
        sess = requests.Session()
        base = bases[i % len(bases)]
        body = json.dumps({"client_params": {"id": f"node-{i}", "group": group}})
        while not stop.is_set():
            for endpoint in ("pre-reboot", "steady-state"):
                try:
                    r = sess.post(f"{base}/v1/{endpoint}", headers={"fleet-lock-protocol": "true"}, data=body,
                                  timeout=20)
                except requests.RequestException as e:
                    bad.append(repr(e))
                    continue
                if r.status_code not in (200, 423) or (r.status_code == 423 and
                                                       r.json()["kind"] != "failed_lock_semaphore_full"):
                    bad.append((r.status_code, r.text))

    def sampler():
        while not stop.is_set():
            try:
                n = count_holders()
            except Exception as e:  # noqa: BLE001 - reported to the test, which fails
                bad.append(f"sampling the backend: {e!r}")
                return
            if n is not None:
                most[0] = max(most[0], n)
            time.sleep(sample_every)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    threads.append(threading.Thread(target=sampler))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return bad, most[0]
