"""The units in dist/ under a real systemd: a minimal Debian 12 system (debootstrap, kept between runs in
$UPKEEP_NSPAWN_ROOT) booted with systemd-nspawn on a throw-away overlay, with the build's binaries and the
dist/ files bound in where a package puts them. systemd-sysusers creates the accounts at boot, the units
start as the unprivileged users with all their sandboxing, and `systemctl` drives them: readiness
(Type=notify), state directory and ownership, reload, restart after a crash, stop."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import time

import pytest

ROOT = pathlib.Path(os.environ.get("UPKEEP_NSPAWN_ROOT", "/var/tmp/upkeep-nspawn-bookworm"))
PACKAGES = ["systemd", "systemd-sysv", "dbus", "curl", "libmicrohttpd12", "libjansson4", "libsqlite3-0",
            "libcurl4", "libsystemd0",
            "libasan8", "libubsan1"]  # the sanitizer build runs in it too
REPO = pathlib.Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="booting a container needs root")


def mirror():
    """The Debian mirror apt uses here, so debootstrap goes where the machine's packages come from."""
    try:
        for line in pathlib.Path("/etc/apt/sources.list.d/debian.sources").read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    except OSError:
        pass
    return "http://deb.debian.org/debian"


@pytest.fixture(scope="module")
def rootfs():
    for tool in ("systemd-nspawn", "debootstrap", "nsenter"):
        assert shutil.which(tool), f"{tool} missing (scripts/install-deps installs it)"
    stamp = ROOT / ".upkeep-complete"
    want = " ".join(PACKAGES)
    if not stamp.exists() or stamp.read_text() != want:
        tmp = ROOT.with_name(ROOT.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(ROOT, ignore_errors=True)
        for attempt in range(2):
            r = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
                                "bookworm", str(tmp), mirror()], capture_output=True, text=True, timeout=900)
            if r.returncode == 0:
                break
            shutil.rmtree(tmp, ignore_errors=True)
        assert r.returncode == 0, "debootstrap failed:\n" + r.stdout[-3000:] + r.stderr[-3000:]
        tmp.rename(ROOT)
        stamp.write_text(want)
    return ROOT


class Container:
    def __init__(self, root, workdir, binds_ro, binds_rw=()):
        self.log_path = workdir / "nspawn.log"
        args = ["systemd-nspawn", "-q", "-D", str(root), "--boot", "--private-network", "--register=no",
                "--keep-unit", "--volatile=overlay", "--console=passive"]
        args += [f"--bind-ro={src}:{dst}" for src, dst in binds_ro]
        args += [f"--bind={src}:{dst}" for src, dst in binds_rw]
        self.proc = subprocess.Popen(args, stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        self.pid = None
        try:
            self.wait_booted()
        except BaseException:
            self.kill()  # a container that never came up must not outlive the test
            raise

    def kill(self):
        """Kills the container's init (and with it its PID namespace), then systemd-nspawn."""
        if self.pid:
            try:
                os.kill(int(self.pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.kill()
        self.proc.wait()

    def wait_booted(self):
        deadline = time.monotonic() + 60
        while self.pid is None:
            assert self.proc.poll() is None, "systemd-nspawn exited:\n" + self.log_path.read_text()
            assert time.monotonic() < deadline, "no container init:\n" + self.log_path.read_text()
            children = pathlib.Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            pids = children.read_text().split() if children.exists() else []
            if pids and pathlib.Path(f"/proc/{pids[0]}/comm").read_text().strip() == "systemd":
                self.pid = pids[0]
            time.sleep(0.05)
        # Until PID 1 listens, systemctl cannot connect and prints nothing.
        state = ""
        while state not in ("running", "degraded"):
            assert time.monotonic() < deadline, f"system state '{state}':\n" + self.log_path.read_text()
            time.sleep(0.1)
            state = self.run("systemctl", "is-system-running", "--wait", check=False).stdout.strip()

    def run(self, *cmd, check=True, timeout=60):
        r = subprocess.run(["nsenter", "-t", self.pid, "-a", *cmd], capture_output=True, text=True,
                           timeout=timeout)
        if check:
            assert r.returncode == 0, f"{cmd}: {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def show(self, unit, *props):
        out = self.run("systemctl", "show", unit, "-p", ",".join(props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit):
        return self.run("journalctl", "-u", unit, "--no-pager", "-o", "cat").stdout

    def curl(self, *args):
        """(status, body) of a request made inside the container (its own loopback)."""
        r = self.run("curl", "-sS", "-o", "/dev/stdout", "-w", "\n%{http_code}", *args)
        body, _, code = r.stdout.rpartition("\n")
        return int(code), body

    def wait_active(self, unit, timeout=20):
        deadline = time.monotonic() + timeout
        while self.run("systemctl", "is-active", unit, check=False).stdout.strip() != "active":
            assert time.monotonic() < deadline, self.run("systemctl", "status", unit, check=False).stdout
            time.sleep(0.1)

    def close(self):
        if self.proc.poll() is None:
            self.run("systemctl", "poweroff", "--no-block", check=False)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def sanitizer_dropin(binary, unit, workdir):
    """For a sanitizer build: binds that turn LeakSanitizer off in the unit. Its exit-time check stops the
    process's threads with ptrace, which the unit's SystemCallFilter= rightly kills; the other tests check
    for leaks. Nothing for a normal build."""
    if "libasan" not in subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout:
        return []
    d = workdir / f"{unit}.d"
    d.mkdir()
    (d / "sanitizer.conf").write_text("[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n")
    return [(d, f"/etc/systemd/system/{unit}.d")]


def fleetlock(c, endpoint, node):
    return c.curl("-X", "POST", "-H", "fleet-lock-protocol: true",
                  "-d", json.dumps({"client_params": {"id": node, "group": "default"}}),
                  f"http://127.0.0.1:3333/v1/{endpoint}")


def test_lock_unit(rootfs, build_dir, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    # The shipped example (every key at its default: a generated admin token), then with an admin token
    # of its own for the checks below.
    config = (REPO / "dist" / "lock.toml").read_text()
    assert "default_slots = 1" in config and "\nadmin_token" not in config
    (etc / "lock.toml").write_text(config)
    config = config.replace("[auth]\n", '[auth]\nadmin_token = "t0ken"\n')
    binary = pathlib.Path(build_dir) / "src/lock/upkeep-lock"
    c = Container(rootfs, tmp_path, [
        (binary, "/usr/bin/upkeep-lock"),
        (REPO / "dist/upkeep-lock.service", "/etc/systemd/system/upkeep-lock.service"),
        (REPO / "dist/upkeep-lock.sysusers", "/usr/lib/sysusers.d/upkeep-lock.conf"),
    ] + sanitizer_dropin(binary, "upkeep-lock.service", tmp_path), [(etc, "/etc/upkeep")])
    try:
        c.run("systemctl", "start", "upkeep-lock")  # returns once READY=1 arrived (Type=notify)
        p = c.show("upkeep-lock", "ActiveState", "SubState", "StatusText", "User")
        assert p["ActiveState"] == "active" and p["SubState"] == "running", p
        assert p["StatusText"] == "coordinating reboots for 1 groups (sqlite)", p
        # StateDirectory= made the database's directory, owned by the account sysusers created.
        stat = c.run("stat", "-c", "%U %a", "/var/lib/upkeep/lock", "/var/lib/upkeep/lock/lock.db").stdout
        assert stat.split("\n")[:2] == ["upkeep-lock 700", "upkeep-lock 600"], stat
        # The admin API works on the defaults: its generated token, the service user's, read by root.
        token_file = "/var/lib/upkeep/lock/admin.token"
        assert c.run("stat", "-c", "%U %a %s", token_file).stdout.strip() == "upkeep-lock 600 65"
        token = c.run("cat", token_file).stdout.strip()
        assert len(token) == 64 and set(token) <= set("0123456789abcdef"), token
        assert f"admin API on: generated its token in {token_file}" in c.journal("upkeep-lock")
        code, body = c.curl("-H", f"Authorization: Bearer {token}",
                            "http://127.0.0.1:3333/v1/groups/default")
        assert code == 200, body
        pid = c.show("upkeep-lock", "MainPID")["MainPID"]
        assert c.run("stat", "-c", "%U", f"/proc/{pid}").stdout.strip() == "upkeep-lock"

        assert fleetlock(c, "pre-reboot", "a")[0] == 200
        code, body = fleetlock(c, "pre-reboot", "b")
        assert code == 423 and json.loads(body)["kind"] == "failed_lock_semaphore_full"

        # systemctl reload: the new slot count applies at once; a broken file changes nothing.
        (etc / "lock.toml").write_text(config.replace("default_slots = 1", "default_slots = 2"))
        assert "default_slots = 2" in (etc / "lock.toml").read_text()
        c.run("systemctl", "reload", "upkeep-lock")
        assert fleetlock(c, "pre-reboot", "b")[0] == 200
        assert "reload: group default: slots 1 -> 2" in c.journal("upkeep-lock")
        (etc / "lock.toml").write_text("[lock\n")
        c.run("systemctl", "reload", "upkeep-lock")
        deadline = time.monotonic() + 10
        while "reload failed: still running the previous configuration" not in c.journal("upkeep-lock"):
            assert time.monotonic() < deadline, c.journal("upkeep-lock")
            time.sleep(0.1)
        assert c.show("upkeep-lock", "ActiveState")["ActiveState"] == "active"
        code, body = fleetlock(c, "pre-reboot", "c")
        assert code == 423, body  # still two slots, both held

        # A crash: Restart=on-failure brings it back with the holders on disk.
        (etc / "lock.toml").write_text(config)
        c.run("systemctl", "kill", "-s", "KILL", "upkeep-lock")
        deadline = time.monotonic() + 20
        while c.show("upkeep-lock", "NRestarts")["NRestarts"] != "1":
            assert time.monotonic() < deadline, c.run("systemctl", "status", "upkeep-lock", check=False).stdout
            time.sleep(0.2)
        c.wait_active("upkeep-lock")
        code, body = c.curl("-H", "Authorization: Bearer t0ken", "http://127.0.0.1:3333/v1/groups/default")
        assert code == 200, body
        assert sorted(h["id"] for h in json.loads(body)["holders"]) == ["a", "b"]

        c.run("systemctl", "stop", "upkeep-lock")
        p = c.show("upkeep-lock", "ActiveState", "Result", "ExecMainStatus")
        assert p == {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"}, p
        assert "received Terminated, stopping" in c.journal("upkeep-lock")
    finally:
        c.close()


def test_graph_unit(rootfs, build_dir, tmp_path):
    binary = pathlib.Path(build_dir) / "src/graph/upkeep-graph"
    c = Container(rootfs, tmp_path, [
        (binary, "/usr/bin/upkeep-graph"),
        (REPO / "dist/upkeep-graph.service", "/etc/systemd/system/upkeep-graph.service"),
        (REPO / "dist/upkeep-graph.sysusers", "/usr/lib/sysusers.d/upkeep-graph.conf"),
        (REPO / "dist/upkeep-graph.tmpfiles", "/usr/lib/tmpfiles.d/upkeep-graph.conf"),
        (REPO / "dist/graph.toml", "/etc/upkeep/graph.toml"),
        (REPO / "examples/graph/stable/releases.json", "/var/lib/upkeep/graph/stable/releases.json"),
        (REPO / "examples/graph/stable/updates.json", "/var/lib/upkeep/graph/stable/updates.json"),
    ] + sanitizer_dropin(binary, "upkeep-graph.service", tmp_path))
    try:
        c.run("systemctl", "start", "upkeep-graph")
        p = c.show("upkeep-graph", "ActiveState", "SubState")
        assert p == {"ActiveState": "active", "SubState": "running"}, p
        code, body = c.curl("http://127.0.0.1:8080/v1/graph?basearch=x86_64&stream=stable")
        assert code == 200, body
        graph = json.loads(body)
        assert graph["nodes"] and "edges" in graph
        c.run("systemctl", "reload", "upkeep-graph")
        c.wait_active("upkeep-graph")
        assert c.curl("http://127.0.0.1:8080/v1/graph?basearch=x86_64&stream=stable")[0] == 200
        c.run("systemctl", "stop", "upkeep-graph")
        p = c.show("upkeep-graph", "ActiveState", "Result")
        assert p == {"ActiveState": "inactive", "Result": "success"}, p
    finally:
        c.close()


def test_units_start_on_a_fresh_install(rootfs, build_dir, tmp_path):
    """A fresh install has no /etc/upkeep: both servers start on their built-in defaults (the units must
    not name a configuration file that does not exist) and answer."""
    lock = pathlib.Path(build_dir) / "src/lock/upkeep-lock"
    graph = pathlib.Path(build_dir) / "src/graph/upkeep-graph"
    c = Container(rootfs, tmp_path, [
        (lock, "/usr/bin/upkeep-lock"),
        (graph, "/usr/bin/upkeep-graph"),
        (REPO / "dist/upkeep-lock.service", "/etc/systemd/system/upkeep-lock.service"),
        (REPO / "dist/upkeep-lock.sysusers", "/usr/lib/sysusers.d/upkeep-lock.conf"),
        (REPO / "dist/upkeep-graph.service", "/etc/systemd/system/upkeep-graph.service"),
        (REPO / "dist/upkeep-graph.sysusers", "/usr/lib/sysusers.d/upkeep-graph.conf"),
        (REPO / "dist/upkeep-graph.tmpfiles", "/usr/lib/tmpfiles.d/upkeep-graph.conf"),
    ] + sanitizer_dropin(lock, "upkeep-lock.service", tmp_path)
      + sanitizer_dropin(graph, "upkeep-graph.service", tmp_path))
    try:
        assert c.run("test", "-e", "/etc/upkeep", check=False).returncode != 0
        for unit in ("upkeep-lock", "upkeep-graph"):
            c.run("systemctl", "start", unit)
            p = c.show(unit, "ActiveState", "SubState")
            assert p == {"ActiveState": "active", "SubState": "running"}, (unit, p)
            assert "using the built-in defaults" in c.journal(unit), c.journal(unit)
        assert fleetlock(c, "pre-reboot", "a")[0] == 200
        # No graph inputs yet: the server runs and says so per stream.
        code, body = c.curl("http://127.0.0.1:8080/v1/graph?basearch=x86_64&stream=stable")
        assert code == 503 and json.loads(body)["kind"] == "graph_unavailable", body
    finally:
        c.close()
