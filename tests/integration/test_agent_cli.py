"""upkeep-agent's small edges as an operator meets them: `--check-config` on Zincati's fragments,
`upkeep-agent-worker --help`/`--version` from a shell whose parent is PID 1, the metrics dashboards query
(last_refresh_timestamp after failed checks, Zincati's FleetLock label values) and a 2xx graph answer."""
import json
import pathlib
import subprocess
import time

from agentutil import Node, agent_config
from graphutil import DocServer

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
FAKE = DATA / "fake-rpm-ostree"


def agent(build_dir):
    return pathlib.Path(build_dir) / "src" / "agent" / "upkeep-agent"


def worker(build_dir):
    return pathlib.Path(build_dir) / "src" / "agent" / "upkeep-agent-worker"


def test_check_config(build_dir, tmp_path):
    usr = tmp_path / "usr/lib/zincati/config.d"
    etc = tmp_path / "etc/zincati/config.d"
    usr.mkdir(parents=True)
    etc.mkdir(parents=True)
    (usr / "50-fedora-coreos-cincinnati.toml").write_text(
        '[cincinnati]\nbase_url= "https://updates.coreos.fedoraproject.org"\n')
    (etc / "90-user.toml").write_text('[identity]\ngroup = ""\n[updates]\nstrategy = ""\n'
                                      '[agent.timing]\nsteady_interval_secs = 9223372036854775807\n')
    p = subprocess.run([agent(build_dir), "--root", tmp_path, "--check-config"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert f'cincinnati.base_url = "https://updates.coreos.fedoraproject.org"  # {usr}/50-fedora-coreos-cincinnati.toml:2' \
        in lines, p.stdout
    assert f'identity.group = "default"  # {etc}/90-user.toml:2' in lines, p.stdout
    assert f'updates.strategy = "immediate"  # {etc}/90-user.toml:4' in lines, p.stdout
    assert f"agent.timing.steady_interval_secs = 9223372036854775807  # {etc}/90-user.toml:6" in lines
    assert 'upkeep.os_backend = "auto"  # default' in lines
    assert '# os_backend "auto" chooses ostree on this host' in lines

    (etc / "95-bad.toml").write_text('[updates]\nstrategy = "sometimes"\n')
    p = subprocess.run([agent(build_dir), "--root", tmp_path, "--check-config"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1
    assert "95-bad.toml:2: updates.strategy: must be one of immediate, fleet_lock, periodic" in p.stderr
    assert "updates.strategy =" not in p.stdout


def test_worker_help_and_version_orphaned(build_dir, tmp_path):
    """The worker refuses requests once its agent is gone (parent PID 1), but --help and --version answer."""
    w = worker(build_dir)
    for opt in ("--help", "--version"):
        out = tmp_path / f"out{opt}"
        # the subshell's parent exits at once and the subshell execs the worker: it runs re-parented to
        # PID 1 (before, it answered {"ok":false,...,"the agent is gone"} and exited 2)
        subprocess.run(["sh", "-c", f"(sleep 0.3; exec '{w}' {opt} > '{out}.tmp' 2>&1; ) & exit 0"],
                       check=True, timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (out.with_name(out.name + ".tmp").exists()
                                                   and out.with_name(out.name + ".tmp").read_text()):
            time.sleep(0.05)
        time.sleep(0.1)
        out = out.with_name(out.name + ".tmp")
        text = out.read_text().splitlines()
        assert text and text[0].startswith("upkeep-agent-worker "), text
        assert "the agent is gone" not in out.read_text()
    assert out.read_text().splitlines()[0].split()[1][0].isdigit()  # --version: the version alone
    p = subprocess.run([w, "--version"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and p.stdout.count("\n") == 1 and "JSON" not in p.stdout


def test_metrics_after_failed_checks_and_2xx(build_dir, tmp_path, monkeypatch):
    status = json.loads((DATA / "rpm-ostree" / "booted.json").read_text())
    (tmp_path / "status.json").write_text(json.dumps(status))
    monkeypatch.setenv("FAKE_RPMOSTREE_STATUS", str(tmp_path / "status.json"))
    doc = DocServer()
    doc.routes["/v1/graph"] = (503, b'{"kind": "failed_upstream_fetch", "value": "try later"}')
    n = Node(build_dir, tmp_path, "metrics", None, None, 0, config_text=agent_config(
        graph_url=doc.url + "/", sysroot="/", node_dir=tmp_path / "metrics", node_uuid="0" * 31 + "9",
        strategy="immediate"))
    n.write_config(f'[upkeep]\nos_backend = "rpm-ostree"\nrpm_ostree_path = "{FAKE}"\n', name="60-rpm-ostree.toml")
    n.start(supervise=False)
    try:
        start = time.time()
        n.wait_for(lambda: (n.metric("upkeep_agent_cincinnati_update_checks_total") or 0) >= 2, timeout=30,
                   what="two checks")
        # every check failed, yet the agent ran: Zincati's monitoring mixin must not see 0
        assert n.metric("upkeep_agent_last_refresh_timestamp") >= int(start) - 1
        assert n.metric("upkeep_agent_updates_allow_downgrade") == 0
        assert n.metric("upkeep_agent_postponed_finalizations_total") == 0
        # Zincati's error kind: the server's own, from its Cincinnati error body
        assert (n.metric("upkeep_agent_cincinnati_update_checks_errors_total", kind="failed_upstream_fetch")
                or 0) >= 2
        # a 2xx other than 200 is a success, as in Zincati
        cur = next(d for d in status["deployments"] if d["booted"])
        doc.routes["/v1/graph"] = (203, json.dumps({"nodes": [{
            "version": cur["version"], "payload": cur.get("base-checksum") or cur["checksum"],
            "metadata": {"org.fedoraproject.coreos.scheme": "checksum",
                         "org.fedoraproject.coreos.releases.age_index": "0"}}], "edges": []}).encode())
        n.wait_for(lambda: n.metric("upkeep_agent_cincinnati_graph_nodes_count") == 1, timeout=30,
                   what="a graph from a 203 answer")
    finally:
        n.stop()
        doc.close()
