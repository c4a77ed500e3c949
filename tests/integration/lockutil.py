"""Helpers for the upkeep-lock integration tests: start the daemon on loopback port 0 and speak
FleetLock the way Zincati and Airlock's clients do."""
import json
import pathlib

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
