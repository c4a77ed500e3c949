"""Helpers for upkeep-agent's integration tests: a node is a test sysroot plus an agent whose configuration
lives under its own root (--root), whose reboot command "reboots" by stopping the agent, and a supervisor
thread that starts the agent again, as a booting host would."""
import hashlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import threading
import time

import osfixture
from daemonutil import metric
from graphutil import GraphServer
from lockutil import LockServer

# A health check script that fails while the default deployment (the "booted" one) is the given checksum:
# a release that breaks the node's application. Format with sysroot= and bad=.
FAIL_ON_CHECK = """#!/bin/sh
first=$(ostree admin status --sysroot={sysroot} | grep -m1 -oE '[0-9a-f]{{64}}')
if [ "$first" = "{bad}" ]; then echo "the app does not start on this release"; exit 1; fi
echo "app ok on $first"
"""

# graph.toml: take outcome reports and pause a stream's rollout at its first failure. Format with db=, stream=.
PAUSE_AT_FIRST_FAILURE = """
[reports]
enabled = true
database = "{db}"

[[policy]]
stream = "{stream}"
failure_threshold_count = 1
min_sample = 100
"""


def start_graph(build, workdir, fx, extra=""):
    """upkeep-graph in workdir/graph over fx's stream (graph.toml: the fixture's, then extra), ready."""
    (workdir / "graph").mkdir()
    g = GraphServer(build, workdir / "graph", fx.graph_config_text() + extra)
    g.wait_ready()
    return g


def start_lock(build, workdir, extra="[lock]\ndefault_slots = 1\n"):
    """upkeep-lock in workdir/lock on SQLite (lock.toml: the backend, then extra: one slot by default)."""
    (workdir / "lock").mkdir(exist_ok=True)
    return LockServer(build, workdir / "lock",
                      f'[backend]\ntype = "sqlite"\nsqlite_path = "{workdir / "lock" / "lock.db"}"\n' + extra)

REBOOT_SCRIPT = """#!/bin/sh
# The node's reboot: record it, then stop the agent (our parent); the supervisor boots it again.
echo "$(date +%s.%N) reboot" >> "{node}/reboots"
kill -TERM "$PPID"
sleep {boot_delay}   # the time a host takes to go down and come back
"""


def read_all(s):
    """Everything a socket sends until the peer closes it."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def agent_config(graph_url, sysroot, node_dir, node_uuid, *, strategy="fleet_lock", lock_url=None,
                 interval=1, group="default", wariness=None, health=None, extra=""):
    """The node's drop-in. Its state (health.json, bad-releases.json) and the roots of its health checks live
    in the node's directory; health: more [health] keys (a dict of TOML values as Python values)."""
    lines = [
        "[agent.timing]", f"steady_interval_secs = {interval}",
        "[identity]", f'group = "{group}"', f'node_uuid = "{node_uuid}"',
    ]
    if wariness is not None:
        lines.append(f"rollout_wariness = {wariness}")
    lines += ["[cincinnati]", f'base_url = "{graph_url}"', "[updates]", f'strategy = "{strategy}"']
    if lock_url:
        lines += ["[updates.fleet_lock]", f'base_url = "{lock_url}"']
    # [health] before [upkeep]: callers append more [upkeep] keys to the text
    lines += ["[health]", f'check_root = "{node_dir}/checkroot"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in (health or {}).items()]
    lines += [
        "[upkeep]", f'sysroot = "{sysroot}"', 'reboot_method = "command"',
        f'reboot_command = ["{node_dir}/reboot.sh"]', f'status_socket = "{node_dir}/status.sock"',
        f'metrics_socket = "{node_dir}/metrics.sock"', f'motd_dir = "{node_dir}/motd.d"', 'platform = "qemu"',
        f'state_dir = "{node_dir}/state"',
    ]
    return "\n".join(lines) + "\n" + extra


def _group_alive(pgid):
    """True while any process of group PGID is still running (zombies do not count)."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


class Node:
    """One host: a sysroot booted on a release and its agent, supervised."""

    def __init__(self, build, workdir, name, fixture, repo_url, release, config_text=None, boot_delay=0,
                 **config_kw):
        self.build = pathlib.Path(build)
        self.dir = pathlib.Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.fixture = fixture
        self.sysroot = self.dir / "sysroot"
        if fixture is not None and not self.sysroot.exists():
            fixture.make_sysroot(self.sysroot, repo_url, release)
        self.uuid = hashlib.sha256(name.encode()).hexdigest()[:32]
        self.confdir = self.dir / "root" / "etc" / "upkeep" / "agent.d"
        self.confdir.mkdir(parents=True, exist_ok=True)
        script = self.dir / "reboot.sh"
        script.write_text(REBOOT_SCRIPT.format(node=self.dir, boot_delay=boot_delay))
        script.chmod(0o755)
        if config_text is None:
            config_text = agent_config(sysroot=self.sysroot, node_dir=self.dir, node_uuid=self.uuid, **config_kw)
        self.write_config(config_text)
        self.log_path = self.dir / "agent.log"
        self.proc = None
        self.boots = 0
        self.crashes = []
        self._stop = threading.Event()
        self._supervisor = None

    def write_config(self, text, name="50-test.toml"):
        (self.confdir / name).write_text(text)

    # -- life cycle --
    def _spawn(self):
        env = dict(os.environ, **osfixture.OSTREE_ENV)
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([str(self.build / "src" / "agent" / "upkeep-agent"), "--root",
                                      str(self.dir / "root"), "--verbose"], stdout=log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        log.close()
        self.boots += 1

    def start(self, supervise=True):
        self._stop.clear()
        self._spawn()
        if supervise:
            self._supervisor = threading.Thread(target=self._supervise, daemon=True)
            self._supervisor.start()
        return self

    def _supervise(self):
        while not self._stop.is_set():
            rc = self.proc.poll()
            if rc is None:
                time.sleep(0.02)
                continue
            if self._stop.is_set():
                break
            if rc != 0:  # a crash, not a reboot: record it and do not boot again
                self.crashes.append(rc)
                break
            self._spawn()  # the "reboot": the host comes back with the default deployment booted

    def stop(self):
        """Stops the agent (SIGTERM) and the supervisor; returns the exit code. Fails on sanitizer reports."""
        self._stop.set()
        if self._supervisor:
            self._supervisor.join(timeout=5)
            self._supervisor = None
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name}: agent did not stop on SIGTERM\n" + self.logs())
        elif self.proc:
            rc = self.proc.returncode
        text = self.logs()
        assert "ERROR: AddressSanitizer" not in text, text
        assert "ERROR: LeakSanitizer" not in text, text
        assert "runtime error:" not in text, text
        return rc

    def kill9(self):
        self._stop.set()
        if self._supervisor:
            self._supervisor.join(timeout=5)
            self._supervisor = None
        # as systemd's KillMode=control-group does: SIGKILL the agent and its worker together, then wait
        # until the worker is really gone, so no writer is left behind the test's back
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _group_alive(pgid):
            time.sleep(0.02)
        assert not _group_alive(pgid), f"{self.name}: the agent's worker outlived SIGKILL"

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def logs(self):
        return self.log_path.read_text() if self.log_path.exists() else ""

    # -- the boot assessment --
    @property
    def check_root(self):
        return self.dir / "checkroot"

    def add_check(self, relpath, script, mode=0o755):
        """A check or hook script under the node's check root, e.g. "etc/upkeep/check/required.d/10-x.sh"."""
        p = self.check_root / relpath
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(script)
        p.chmod(mode)
        return p

    def health(self):
        return self.status()["health"]

    def motd(self, name="86-upkeep-health.motd"):
        p = self.dir / "motd.d" / name
        return p.read_text() if p.exists() else None

    def reboots(self):
        p = self.dir / "reboots"
        return len(p.read_text().splitlines()) if p.exists() else 0

    # -- what the node looks like --
    def deployments(self):
        return osfixture.sysroot_status(self.sysroot, self.fixture)

    def booted_index(self):
        d = self.deployments()
        return d[0].index if d else None

    def call(self, method, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(timeout)
                s.connect(str(self.dir / "status.sock"))
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with s:
            s.sendall(json.dumps({"method": method}).encode() + b"\n")
            return json.loads(read_all(s))

    def status(self):
        reply = self.call("status")
        assert reply["ok"], reply
        return reply["status"]

    def metrics(self):
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(10)
                    s.connect(str(self.dir / "metrics.sock"))
                    return read_all(s).decode()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def metric(self, name, **labels):
        return metric(self.metrics(), name, **labels)

    def wait_for(self, predicate, timeout=60, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: timed out waiting for {what}\n--- agent log ---\n" + self.logs()[-6000:])


def lock_history(lock_log_text):
    """Replays upkeep-lock's log ("group G: ID took a slot" / "released its slot") into the largest number
    of holders seen at once and the sequence of events."""
    holders, peak, events = set(), 0, []
    for line in lock_log_text.splitlines():
        if " took a slot" in line:
            node = line.split(": ", 1)[1].split(" took a slot")[0]
            holders.add(node)
            events.append(("take", node))
        elif " released its slot" in line:
            node = line.split(": ", 1)[1].split(" released its slot")[0]
            holders.discard(node)
            events.append(("release", node))
        peak = max(peak, len(holders))
    return peak, events, holders
