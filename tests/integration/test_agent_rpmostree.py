"""upkeep-agent on Fedora CoreOS's OS layer: the rpm-ostree backend driven end to end through a fake
`rpm-ostree` that records its arguments and replays `status --json` documents (rpm-ostree is not packaged for
Debian); and the agent's sd_notify conversation."""
import copy
import json
import os
import pathlib
import socket

from agentutil import Node, agent_config
from graphutil import DocServer

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
FAKE = DATA / "fake-rpm-ostree"


def graph_doc(nodes, edges):
    return json.dumps({
        "nodes": [{"version": v, "payload": p,
                   "metadata": {"org.fedoraproject.coreos.scheme": "checksum",
                                "org.fedoraproject.coreos.releases.age_index": str(i)}}
                  for i, (v, p) in enumerate(nodes)],
        "edges": edges}).encode()


def status_docs(tmp_path):
    """booted.json as recorded, and the same host after staging a newer commit."""
    booted = json.loads((DATA / "rpm-ostree" / "booted.json").read_text())
    cur = next(d for d in booted["deployments"] if d["booted"])
    new = copy.deepcopy(cur)
    new.update(booted=False, staged=True, checksum="b" * 64, version="38.20230806.3.0",
               timestamp=cur.get("timestamp", 0) + 86400)
    new.pop("base-checksum", None)
    staged = copy.deepcopy(booted)
    staged["deployments"] = [new] + staged["deployments"]
    (tmp_path / "status.json").write_text(json.dumps(booted))
    (tmp_path / "staged.json").write_text(json.dumps(staged))
    return cur, new


def fake_fcos(tmp_path, monkeypatch):
    """A host on booted.json whose graph offers one newer release, and the fake rpm-ostree's environment."""
    cur, new = status_docs(tmp_path)
    checksum = cur.get("base-checksum") or cur["checksum"]
    doc = DocServer()
    doc.routes["/v1/graph"] = (200, graph_doc([(cur["version"], checksum), (new["version"], new["checksum"])],
                                              [[0, 1]]))
    log = tmp_path / "rpm-ostree.log"
    monkeypatch.setenv("FAKE_RPMOSTREE_LOG", str(log))
    monkeypatch.setenv("FAKE_RPMOSTREE_STATUS", str(tmp_path / "status.json"))
    return cur, new, doc, log


def test_rpm_ostree_backend_end_to_end(build_dir, tmp_path, monkeypatch):
    cur, new, doc, log = fake_fcos(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_RPMOSTREE_DEPLOY_STATUS", str(tmp_path / "staged.json"))
    n = Node(build_dir, tmp_path, "fcos", None, None, 0, config_text=agent_config(
        graph_url=doc.url + "/", sysroot="/", node_dir=tmp_path / "fcos", node_uuid="0" * 31 + "1",
        strategy="immediate") + f'os_backend = "rpm-ostree"\nrpm_ostree_path = "{FAKE}"\n')
    n.start(supervise=False)
    try:
        n.wait_for(lambda: "finalize-deployment" in log.read_text(), timeout=30, what="finalize-deployment")
        calls = [line.split("argv: ", 1)[1] for line in log.read_text().splitlines()]
        assert all(line.startswith("client=upkeep-agent ") for line in log.read_text().splitlines())
        assert calls[:2] == ["[status] [--json]", "[deploy] [] [--register-driver=upkeep-agent]"], calls
        assert calls.count("[deploy] [] [--register-driver=upkeep-agent]") == 1, calls
        assert f"[deploy] [--lock-finalization] [--skip-branch-check] [revision={new['checksum']}] " \
               "[--disallow-downgrade]" in calls, calls
        assert calls[-1] == f"[finalize-deployment] [{new['checksum']}]", calls
        # rpm-ostree reboots the host itself: the agent's own reboot command is not run
        n.wait_for(lambda: n.status()["state"] in ("update_finalized", "end"), timeout=30, what="finalized")
        assert n.reboots() == 0
        st = n.status()
        assert st["deployments"]["backend"] == "rpm-ostree"
        assert st["deployments"]["booted"]["version"] == cur["version"]
        assert st["deployments"]["staged"]["version"] == new["version"]
    finally:
        n.stop()
        doc.close()


def test_rpm_ostree_failures_are_retried_and_reported(build_dir, tmp_path, monkeypatch):
    cur, new, doc, log = fake_fcos(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_RPMOSTREE_FAIL", "deploy")
    monkeypatch.setenv("FAKE_RPMOSTREE_FAIL_MESSAGE", "error: Could not depsolve transaction")
    n = Node(build_dir, tmp_path, "fcos", None, None, 0, config_text=agent_config(
        graph_url=doc.url + "/", sysroot="/", node_dir=tmp_path / "fcos", node_uuid="0" * 31 + "2",
        strategy="immediate") + f'os_backend = "rpm-ostree"\nrpm_ostree_path = "{FAKE}"\n')
    # registering the driver is a deploy too: it fails, which is a startup error naming the reason
    n.start(supervise=False)
    n.proc.wait(timeout=30)
    assert n.proc.returncode == 1
    assert "Could not depsolve transaction" in n.logs(), n.logs()
    doc.close()


def test_sd_notify(build_dir, tmp_path, monkeypatch):
    cur, new = status_docs(tmp_path)
    doc = DocServer()
    doc.routes["/v1/graph"] = (200, graph_doc([(cur["version"], cur.get("base-checksum") or cur["checksum"])], []))
    monkeypatch.setenv("FAKE_RPMOSTREE_STATUS", str(tmp_path / "status.json"))
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    n = Node(build_dir, tmp_path, "notify", None, None, 0, config_text=agent_config(
        graph_url=doc.url + "/", sysroot="/", node_dir=tmp_path / "notify", node_uuid="0" * 31 + "3",
        strategy="immediate") + f'os_backend = "rpm-ostree"\nrpm_ostree_path = "{FAKE}"\n')
    n.start(supervise=False)
    messages = []
    try:
        while not any("STATUS=periodically polling for updates (last checked" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        assert any("READY=1" in m for m in messages), messages
    finally:
        assert n.stop() == 0
        doc.close()
    while not any("STOPPING=1" in m for m in messages):
        messages.append(sock.recv(4096).decode())
    sock.close()


def test_backend_detected(build_dir, tmp_path, monkeypatch):
    """No os_backend line: a root with /run/ostree-booted and rpm-ostree's D-Bus service gets the rpm-ostree
    backend (Zincati's fragments alone work on Fedora CoreOS); the same root without them gets libostree."""
    cur, new, doc, log = fake_fcos(tmp_path, monkeypatch)
    config = agent_config(graph_url=doc.url + "/", sysroot="/", node_dir=tmp_path / "auto",
                          node_uuid="0" * 31 + "4", strategy="immediate") + f'rpm_ostree_path = "{FAKE}"\n'
    n = Node(build_dir, tmp_path, "auto", None, None, 0, config_text=config)
    root = n.dir / "root"
    (root / "run").mkdir(parents=True, exist_ok=True)
    (root / "run" / "ostree-booted").write_text("")
    service = root / "usr/share/dbus-1/system-services/org.projectatomic.rpmostree1.service"
    service.parent.mkdir(parents=True, exist_ok=True)
    service.write_text("[D-BUS Service]\nName=org.projectatomic.rpmostree1\n")
    n.start(supervise=False)
    try:
        n.wait_for(lambda: log.exists() and "[status] [--json]" in log.read_text(), timeout=30, what="rpm-ostree")
        n.wait_for(lambda: n.status()["deployments"]["backend"] == "rpm-ostree", timeout=30, what="backend")
    finally:
        assert n.stop() == 0
    # not booted from OSTree: libostree, which finds no booted deployment here and says so
    (root / "run" / "ostree-booted").unlink()
    log.write_text("")
    n.start(supervise=False)
    n.proc.wait(timeout=30)
    doc.close()
    assert n.proc.returncode == 1
    assert "ostree backend" in n.logs(), n.logs()
    assert log.read_text() == ""
