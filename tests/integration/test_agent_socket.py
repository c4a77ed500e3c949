"""upkeep-agent's status and metrics sockets under slow and hostile clients (issue 14), and the operator
commands on the status socket (issue 13): clients trickling bytes hold only their own connection, the
whole-request deadline cuts them, SIGTERM never waits for them, the connection cap and the request size
cap hold, the peer-credential check stays; `upkeep forget-release` and `upkeep update-now --allow`."""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from agentutil import Node, agent_config, read_all
from graphutil import DocServer

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
FAKE = DATA / "fake-rpm-ostree"
DEADLINE = 2.0  # AGENT_SOCKET_DEADLINE_USEC
MAX_CONNECTIONS = 64  # AGENT_SOCKET_MAX_CONNECTIONS


def cli(build_dir):
    return pathlib.Path(build_dir) / "src" / "cli" / "upkeep"


def start_agent(build_dir, tmp_path, monkeypatch, upkeep=""):
    """A running agent on the fake rpm-ostree whose graph server answers 503 (it keeps checking), with one
    bad release recorded; upkeep: more [upkeep] keys. Returns the node and the graph server."""
    status = json.loads((DATA / "rpm-ostree" / "booted.json").read_text())
    (tmp_path / "status.json").write_text(json.dumps(status))
    monkeypatch.setenv("FAKE_RPMOSTREE_STATUS", str(tmp_path / "status.json"))
    doc = DocServer()
    doc.routes["/v1/graph"] = (503, b'{"kind": "failed_upstream_fetch", "value": "try later"}')
    state = tmp_path / "state"
    state.mkdir()
    (state / "bad-releases.json").write_text(json.dumps({"bad_releases": [{
        "version": "41.20250101.3.0", "checksum": "ab" * 32, "outcome": "rolled_back",
        "reason": "required check 01_dns.sh failed", "checks": ["01_dns.sh"], "when": 1767225600}]}))
    n = Node(build_dir, tmp_path, "node", None, None, 0, config_text=agent_config(
        graph_url=doc.url + "/", sysroot="/", node_dir=tmp_path / "node", node_uuid="0" * 31 + "7",
        strategy="immediate", interval=3600))
    n.write_config(f'[upkeep]\nos_backend = "rpm-ostree"\nrpm_ostree_path = "{FAKE}"\nstate_dir = "{state}"\n'
                   f'{upkeep}', name="60-socket.toml")
    n.start(supervise=False)
    return n, doc


@pytest.fixture
def agent(build_dir, tmp_path, monkeypatch):
    n, doc = start_agent(build_dir, tmp_path, monkeypatch)
    try:
        n.status()  # up and answering
        yield n
    finally:
        n.stop()
        doc.close()


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(path))
    return s


class Tricklers:
    """count clients that each send one byte of a request every `every` seconds and never finish it."""

    def __init__(self, path, count, every=1.5):
        self.socks = [connect(path) for _ in range(count)]
        self.stop = threading.Event()
        self.every = every
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        payload = b'{"method":"status"' * 100
        i = 0
        while not self.stop.is_set():
            for s in self.socks:
                try:
                    s.send(payload[i:i + 1])
                except OSError:
                    pass
            i += 1
            self.stop.wait(self.every)

    def close(self):
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def run_cli(build_dir, node, *args, timeout=10):
    return subprocess.run([cli(build_dir), *args, "--socket", str(node.dir / "status.sock")],
                          capture_output=True, text=True, timeout=timeout)


def test_status_answers_while_trickled(build_dir, agent):
    t = Tricklers(agent.dir / "status.sock", 20)
    try:
        time.sleep(0.2)
        start = time.monotonic()
        p = run_cli(build_dir, agent, "status")
        took = time.monotonic() - start
        assert p.returncode == 0, p.stderr
        assert "State:" in p.stdout
        assert took < 1.0, f"`upkeep status` took {took:.2f} s with 20 trickling clients"
        # and the metrics socket too
        start = time.monotonic()
        text = agent.metrics()
        took = time.monotonic() - start
        assert "upkeep_agent_cincinnati_update_checks_total" in text
        assert took < 1.0, f"the metrics socket took {took:.2f} s while the status socket was trickled"
    finally:
        t.close()


def test_trickler_cut_at_deadline(agent):
    s = connect(agent.dir / "status.sock")
    start = time.monotonic()
    received = b""
    with s:
        for b in b'{"method":"status"}\n':  # a whole request, at one byte every 1.5 s: never in time
            try:
                s.send(bytes([b]))
            except OSError:
                break
            s.settimeout(1.5)
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            received += chunk
            if not chunk:
                break
            received += read_all(s)
            break
    took = time.monotonic() - start
    assert DEADLINE - 0.1 <= took < DEADLINE + 1.0, f"cut after {took:.2f} s"
    reply = json.loads(received)
    assert reply == {"ok": False, "error": "request timed out"}


def test_sigterm_with_clients_connected(agent):
    t = Tricklers(agent.dir / "status.sock", 10, every=0.5)
    idle = [connect(agent.dir / "metrics.sock") for _ in range(3)]  # answered, then never read
    try:
        time.sleep(0.3)
        start = time.monotonic()
        agent.proc.send_signal(signal.SIGTERM)
        rc = agent.proc.wait(timeout=10)
        took = time.monotonic() - start
        assert rc == 0, agent.logs()
        assert took < 2.0, f"the agent took {took:.2f} s to stop with clients connected"
        assert not (agent.dir / "status.sock").exists() and not (agent.dir / "metrics.sock").exists()
    finally:
        t.close()
        for s in idle:
            s.close()


def test_connection_cap(agent):
    held = [connect(agent.dir / "status.sock") for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)
        extra = connect(agent.dir / "status.sock")
        extra.settimeout(1.0)
        start = time.monotonic()
        with extra:
            assert read_all(extra) == b""  # closed at once, not queued behind the others
        assert time.monotonic() - start < 0.5
        # the metrics socket has its own cap: still served
        assert "upkeep_agent_" in agent.metrics()
    finally:
        for s in held:
            s.close()
    # once those are gone, clients are served again
    agent.wait_for(lambda: agent.status(), timeout=5, what="the status socket after the cap")


def test_request_too_large_and_bad_requests(agent):
    with connect(agent.dir / "status.sock") as s:
        s.sendall(b" " * 5000)
        assert json.loads(read_all(s)) == {"ok": False, "error": "request too large"}
    with connect(agent.dir / "status.sock") as s:
        s.sendall(b'{"method":"reboot"}\n')
        assert json.loads(read_all(s)) == {
            "ok": False, "error": "unknown method 'reboot' (status, update-now, forget-release)"}
    # a client that closes its write side without a newline is answered (as before)
    with connect(agent.dir / "status.sock") as s:
        s.sendall(b'{"method":"status"}')
        s.shutdown(socket.SHUT_WR)
        assert json.loads(read_all(s))["ok"]
    # many clients at once are all answered
    socks = [connect(agent.dir / "status.sock") for _ in range(30)]
    for s in socks:
        s.sendall(b'{"method":"status"}\n')
    for s in socks:
        with s:
            assert json.loads(read_all(s))["ok"]


def test_peer_credentials(build_dir, tmp_path, monkeypatch):
    """The socket file is 0600; should it be opened up, the agent still answers only root and its user."""
    if os.getuid() != 0:
        pytest.skip("needs root to connect as another user")
    open_dir = pathlib.Path(tempfile.mkdtemp(prefix="upkeep-sock-", dir="/tmp"))
    open_dir.chmod(0o755)
    path = open_dir / "status.sock"
    n, doc = start_agent(build_dir, tmp_path, monkeypatch, upkeep=f'status_socket = "{path}"\n')
    try:
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (path.stat().st_mode & 0o777) == 0o600
        path.chmod(0o666)
        code = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
                "s.sendall(b'{\"method\":\"status\"}\\n'); sys.stdout.write(s.makefile('rb').read().decode())")
        p = subprocess.run(["/usr/bin/python3", "-c", code, str(path)], user=65534, capture_output=True,
                           text=True, timeout=10)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout) == {"ok": False,
                                        "error": "permission denied: the agent's status socket is for root"}
        with connect(path) as s:  # root is answered
            s.sendall(b'{"method":"status"}\n')
            assert json.loads(read_all(s))["ok"]
    finally:
        n.stop()
        doc.close()
        shutil.rmtree(open_dir, ignore_errors=True)


def test_update_now_allow(build_dir, agent):
    p = run_cli(build_dir, agent, "update-now")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Update check started.\n\nState:")
    p = run_cli(build_dir, agent, "update-now", "--allow", "41.20250101.3.0")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Update check started, allowing 41.20250101.3.0.\n\n"), p.stdout
    assert "does not know --allow" not in p.stderr
    assert "allowing 41.20250101.3.0" in agent.logs()
    p = run_cli(build_dir, agent, "update-now", "--allow", "bad version")
    assert p.returncode == 1
    assert "printable ASCII" in p.stderr
    p = run_cli(build_dir, agent, "status", "--allow", "1")
    assert p.returncode == 1 and "--allow is an option of update-now" in p.stderr


def test_forget_release(build_dir, agent):
    agent.wait_for(lambda: agent.status()["bad_releases"], timeout=10, what="the recorded bad release")
    p = run_cli(build_dir, agent, "status")
    assert p.returncode == 0, p.stderr
    assert "Bad releases:   41.20250101.3.0 (abababababab), rolled_back at 2026-01-01T00:00:00Z: " \
        "required check 01_dns.sh failed\n" in p.stdout, p.stdout
    p = run_cli(build_dir, agent, "status", "--json")
    assert json.loads(p.stdout)["status"]["bad_releases"][0]["version"] == "41.20250101.3.0"

    # unknown: a clear error, nothing forgotten
    p = run_cli(build_dir, agent, "forget-release", "40.1")
    assert p.returncode == 1
    assert p.stderr.startswith("upkeep-agent: ") and "40.1" in p.stderr, p.stderr
    p = run_cli(build_dir, agent, "forget-release")
    assert p.returncode == 1 and "needs a release version or checksum" in p.stderr

    # known, by checksum: gone from the status and from the file
    p = run_cli(build_dir, agent, "forget-release", "ab" * 32)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"Release {'ab' * 32} is no longer recorded as bad.\n\n"), p.stdout
    assert "Bad releases:   none\n" in p.stdout
    assert json.loads((agent.dir.parent / "state" / "bad-releases.json").read_text())["bad_releases"] == []
    p = run_cli(build_dir, agent, "forget-release", "41.20250101.3.0")
    assert p.returncode == 1, p.stdout
