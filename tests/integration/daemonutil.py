"""What every daemon fixture shares: start the real daemon on 127.0.0.1 port 0 with --port-file, keep its
log, stop it with SIGTERM, and fail the test on any sanitizer report in the log."""
import pathlib
import signal
import subprocess
import time

import requests


class Daemon:
    name = None  # "upkeep-graph", "upkeep-lock": the binary under build/src/<dir>/
    subdir = None

    def __init__(self, build, workdir, config_name, config_text, extra_args=()):
        self.build = pathlib.Path(build)
        self.workdir = pathlib.Path(workdir)
        self.config = self.workdir / config_name
        self.config.write_text(config_text)
        self.extra_args = list(extra_args)
        self.log_path = self.workdir / f"{self.name}.log"
        self.log = open(self.log_path, "a")
        self.port = 0
        self.start()

    def start(self):
        """Starts (or restarts, on the same port) the daemon and waits until it listens."""
        port_file = self.workdir / "port"
        if port_file.exists():
            port_file.unlink()
        self.proc = subprocess.Popen(
            [str(self.build / "src" / self.subdir / self.name), "-c", str(self.config), "--address", "127.0.0.1",
             "--port", str(self.port), "--port-file", str(port_file), *self.extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n" + self.logs())
            time.sleep(0.01)
        self.port = int(port_file.read_text())
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = requests.Session()

    def logs(self):
        self.log.flush()
        return self.log_path.read_text()

    def metric(self, name, **labels):
        return metric(requests.get(self.base + "/metrics", timeout=20).text, name, **labels)

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
                raise AssertionError(f"{self.name} did not stop on SIGTERM")
        self.log.close()
        text = self.log_path.read_text()
        # Sanitizer reports mean a bug even when every assertion passed.
        assert "ERROR: AddressSanitizer" not in text, text
        assert "ERROR: LeakSanitizer" not in text, text
        assert "runtime error:" not in text, text
        return self.proc.returncode


def metric(text, name, **labels):
    """The value of the first sample of metric name in Prometheus text whose labels include labels, as a
    float; None when there is none."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key.split("{")[0] == name and all(f'{k}="{v}"' in key for k, v in labels.items()):
            return float(value)
    return None


def assert_error(resp, status, kind):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert body["kind"] == kind, body
    assert isinstance(body["value"], str) and body["value"], body
    return body
