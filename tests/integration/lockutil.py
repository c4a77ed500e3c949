"""Helpers for the upkeep-lock integration tests: start the daemon on loopback port 0 and speak
FleetLock the way Zincati and Airlock's clients do."""
import json
import pathlib
import signal
import subprocess
import time

import requests

ZINCATI_BODY = """{{
  "client_params": {{
    "id": "{id}",
    "group": "{group}"
  }}
}}"""


class LockServer:
    def __init__(self, build, workdir, config_text, extra_args=()):
        self.build = pathlib.Path(build)
        self.workdir = pathlib.Path(workdir)
        self.config = self.workdir / "lock.toml"
        self.config.write_text(config_text)
        self.db = self.workdir / "lock.db"
        self.extra_args = list(extra_args)
        self.log_path = self.workdir / "upkeep-lock.log"
        self.log = open(self.log_path, "a")
        self.start()

    def start(self):
        port_file = self.workdir / "port"
        if port_file.exists():
            port_file.unlink()
        args = [str(self.build / "src/lock/upkeep-lock"), "-c", str(self.config), "--address", "127.0.0.1",
                "--port", str(getattr(self, "port", 0)), "--port-file", str(port_file), *self.extra_args]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"upkeep-lock exited with {self.proc.returncode}:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError("upkeep-lock did not start:\n" + self.logs())
            time.sleep(0.01)
        self.port = int(port_file.read_text())
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = requests.Session()

    def logs(self):
        self.log.flush()
        return self.log_path.read_text()

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

    def metric(self, name, **labels):
        for line in requests.get(self.base + "/metrics", timeout=20).text.splitlines():
            if line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            if key.split("{")[0] == name and all(f'{k}="{v}"' in key for k, v in labels.items()):
                return float(value)
        return None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("upkeep-lock did not stop on SIGTERM")
        self.log.close()
        text = self.log_path.read_text()
        assert "ERROR: AddressSanitizer" not in text, text
        assert "ERROR: LeakSanitizer" not in text, text
        assert "runtime error:" not in text, text
        return self.proc.returncode


def assert_error(resp, status, kind):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert body["kind"] == kind, body
    assert isinstance(body["value"], str) and body["value"], body
    return body
