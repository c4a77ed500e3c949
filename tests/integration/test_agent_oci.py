"""upkeep-agent on the two kinds of Fedora CoreOS hosts, end to end against the real upkeep-graph: a host
booted from a container image (Zincati's FCOS 43.20251024.3.0 status sample, tests/data/rpm-ostree/
oci-booted.json) asks for the OCI graph with its image digest and deploys the next image by digest, as
Zincati does; a host booted from an OSTree commit keeps asking for the checksum graph and deploying by
revision. rpm-ostree is the fake of tests/data, which records its arguments."""
import copy
import json
import pathlib
import platform

import pytest

from agentutil import Node, agent_config
from graphutil import GraphServer

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
FAKE = DATA / "fake-rpm-ostree"
IMAGE = "quay.io/fedora/fedora-coreos"
OLD_DIGEST = "sha256:ca99893c80a7b84dd84d4143bd27538207c2f38ab6647a58d9c8caa251f9a087"
NEW_DIGEST = "sha256:" + "7b" * 32
OLD_COMMIT_OCI = "36ff46d732a070a1bf10f7157f764e316f99a836dcdbf56702798e5042411fe9"
NEW_COMMIT_OCI = "4e" * 32

GRAPH_CONFIG = """
[refresh]
interval_secs = 30

[streams.stable]
releases = "releases.json"
updates = "updates.json"
basearches = ["x86_64", "aarch64", "ppc64le", "s390x"]
"""


def release(version, commit, digest, arch):
    return {"version": version,
            "commits": [{"architecture": arch, "checksum": commit}],
            "oci-images": [{"architecture": arch, "image": f"{IMAGE}:stable",
                            "digest-ref": f"{IMAGE}@{digest}"}],
            "metadata": f"https://example.invalid/{version}/release.json"}


def start_graph(build_dir, tmp_path, releases):
    gdir = tmp_path / "graph"
    gdir.mkdir()
    (gdir / "releases.json").write_text(json.dumps({
        "note": "test", "stream": "stable", "metadata": {"last-modified": "2025-11-11T00:00:00Z"},
        "releases": releases}))
    (gdir / "updates.json").write_text(json.dumps({
        "stream": "stable", "metadata": {"last-modified": "2025-11-11T00:00:00Z"},
        "releases": [{"version": releases[-1]["version"], "metadata": {"rollout": {"start_percentage": 1.0}}}]}))
    g = GraphServer(build_dir, gdir, GRAPH_CONFIG)
    g.wait_ready()
    return g


def checksum_host(tmp_path):
    """booted.json, and the same host after staging a newer commit."""
    booted = json.loads((DATA / "rpm-ostree" / "booted.json").read_text())
    cur = next(d for d in booted["deployments"] if d["booted"])
    new = copy.deepcopy(cur)
    new.update(booted=False, staged=True, checksum="b" * 64, version="38.20230806.3.0",
               timestamp=cur.get("timestamp", 0) + 86400)
    new.pop("base-checksum", None)
    staged = copy.deepcopy(booted)
    staged["deployments"] = [new] + staged["deployments"]
    (tmp_path / "staged.json").write_text(json.dumps(staged))
    (tmp_path / "status.json").write_text(json.dumps(booted))
    return (cur["version"], cur.get("base-checksum") or cur["checksum"]), (new["version"], new["checksum"])


@pytest.mark.parametrize("kind", ["oci", "checksum"])
def test_update_through_upkeep_graph(build_dir, tmp_path, monkeypatch, kind):
    arch = platform.machine()
    if kind == "oci":
        (tmp_path / "status.json").write_text((DATA / "rpm-ostree" / "oci-booted.json").read_text())
        (tmp_path / "staged.json").write_text((DATA / "rpm-ostree" / "oci-staged.json").read_text())
        releases = [release("43.20251024.3.0", OLD_COMMIT_OCI, OLD_DIGEST, arch),
                    release("43.20251110.3.1", NEW_COMMIT_OCI, NEW_DIGEST, arch)]
        deploy = f"[deploy] [--lock-finalization] [{NEW_DIGEST}] [--disallow-downgrade]"
        finalize = f"[finalize-deployment] [{NEW_DIGEST}]"
        new_version = "43.20251110.3.1"
    else:
        (old_v, old_c), (new_version, new_c) = checksum_host(tmp_path)
        releases = [release(old_v, old_c, "sha256:" + "01" * 32, arch),
                    release(new_version, new_c, "sha256:" + "02" * 32, arch)]
        deploy = f"[deploy] [--lock-finalization] [--skip-branch-check] [revision={new_c}] [--disallow-downgrade]"
        finalize = f"[finalize-deployment] [{new_c}]"
    log = tmp_path / "rpm-ostree.log"
    monkeypatch.setenv("FAKE_RPMOSTREE_LOG", str(log))
    monkeypatch.setenv("FAKE_RPMOSTREE_STATUS", str(tmp_path / "status.json"))
    monkeypatch.setenv("FAKE_RPMOSTREE_DEPLOY_STATUS", str(tmp_path / "staged.json"))
    graph = start_graph(build_dir, tmp_path, releases)
    n = Node(build_dir, tmp_path, "host", None, None, 0, config_text=agent_config(
        graph_url=graph.base + "/", sysroot="/", node_dir=tmp_path / "host", node_uuid="0" * 31 + "7",
        strategy="immediate") + f'os_backend = "rpm-ostree"\nrpm_ostree_path = "{FAKE}"\n')
    n.start(supervise=False)
    try:
        n.wait_for(lambda: "finalize-deployment" in log.read_text(), timeout=30, what="finalize-deployment")
        calls = [line.split("argv: ", 1)[1] for line in log.read_text().splitlines()]
        assert deploy in calls, (calls, n.logs())
        assert calls[-1] == finalize, calls
        n.wait_for(lambda: n.status()["state"] in ("update_finalized", "end"), timeout=30, what="finalized")
        st = n.status()
        assert st["deployments"]["staged"]["version"] == new_version
        url = next(line for line in n.logs().splitlines() if "GET " in line and "/v1/graph?" in line)
        if kind == "oci":
            assert "oci=true" in url and "stream=stable" in url
            assert "os_checksum=quay.io%2Ffedora%2Ffedora-coreos%40sha256%3Aca99893c" in url
        else:
            assert "oci=true" not in url and f"os_checksum={releases[0]['commits'][0]['checksum']}" in url
    finally:
        n.stop()
        assert graph.stop() == 0
