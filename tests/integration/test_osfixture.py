"""The OSTree OS + update-server fixture itself (osfixture.py): the repository and metadata it builds, the
sysroots it makes and reads back, its HTTP server's fault switches and logs, and upkeep-graph serving its
metadata with the edges a node follows release by release."""
import json
import re
import subprocess
import sys
import time

import pytest
import requests

import osfixture
from graphutil import GraphServer
from osfixture import RepoServer, make_sysroot, ostree, sysroot_status

HERE = osfixture.__file__


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return osfixture.build(tmp_path_factory.mktemp("os") / "fx", releases=3, barrier=[1])


@pytest.fixture
def srv(fx):
    with RepoServer(fx.dir) as s:
        yield s


def files(repo, rev):
    """{path: content checksum} of the regular files of a commit."""
    out = {}
    for line in ostree("ls", f"--repo={repo}", "-R", "-C", rev, "/").splitlines():
        f = line.split()
        if f[0].startswith("-"):
            out[f[-1]] = f[4]
    return out


def test_build(fx):
    arch = osfixture.host_basearch()
    assert fx.ref == f"testos/{arch}/stable"
    assert [r.version for r in fx.releases] == ["40.20261201.3.0", "40.20261201.3.1", "40.20261201.3.2"]
    # Linear history on the ref, newest last, increasing timestamps, the metadata the agent reads.
    assert ostree("rev-parse", f"--repo={fx.repo}", fx.ref).strip() == fx.checksum(2)
    assert ostree("rev-parse", f"--repo={fx.repo}", f"{fx.ref}^").strip() == fx.checksum(1)
    stamps = []
    for r in fx.releases:
        show = ostree("show", f"--repo={fx.repo}", r.checksum)
        stamps.append(re.search(r"^Date:\s+(.*)$", show, re.M).group(1))
        for key, want in (("version", r.version), ("fedora-coreos.stream", "stable"), ("ostree.bootable", "true")):
            got = ostree("show", f"--repo={fx.repo}", f"--print-metadata-key={key}", r.checksum).strip()
            assert got.strip("'") == want, (key, got)
    assert stamps == sorted(stamps) and len(set(stamps)) == 3, stamps
    cat = lambda i, p: ostree("cat", f"--repo={fx.repo}", fx.checksum(i), p)  # noqa: E731
    assert cat(1, "/usr/share/upkeep-release") == "40.20261201.3.1\n"
    assert "VERSION_ID=40\n" in cat(1, "/usr/etc/os-release")
    assert 'OSTREE_VERSION="40.20261201.3.1"' in cat(1, "/usr/etc/os-release")
    f0, f1 = files(fx.repo, fx.checksum(0)), files(fx.repo, fx.checksum(1))
    for name in ("vmlinuz", "initramfs.img"):
        assert f"/usr/lib/modules/{osfixture.KVER}/{name}" in f0
    assert f0.keys() == f1.keys()
    assert sorted(p for p in f0 if f0[p] != f1[p]) == ["/usr/bin/tool-01", "/usr/etc/os-release",
                                                       "/usr/share/upkeep-release"]
    # The metadata: release index with the real checksums, update metadata with rollouts and the barrier.
    rel = json.loads((fx.meta_dir / "releases.json").read_text())
    assert rel["stream"] == "stable"
    assert [(r["version"], r["commits"]) for r in rel["releases"]] == \
        [(r.version, [{"architecture": arch, "checksum": r.checksum}]) for r in fx.releases]
    upd = json.loads((fx.meta_dir / "updates.json").read_text())
    assert upd["stream"] == "stable"
    assert [(u["version"], u["metadata"]["rollout"], "barrier" in u["metadata"]) for u in upd["releases"]] == \
        [("40.20261201.3.1", {"start_percentage": 1.0}, True), ("40.20261201.3.2", {"start_percentage": 1.0}, False)]
    assert osfixture.Fixture.load(fx.dir) == fx
    assert 'releases = "meta/releases.json"' in (fx.dir / "graph.toml").read_text()


def test_sysroot_and_delta_pull(fx, srv, tmp_path):
    node = tmp_path / "node"
    m0 = srv.mark()
    b0 = srv.bytes_served
    assert fx.make_sysroot(node, srv.url, 0) == fx.checksum(0)
    first = srv.objects_since(m0)
    st = sysroot_status(node)
    assert [d.key() for d in st] == [(fx.checksum(0), fx.version(0), 0)]
    assert st[0].osname == "testos" and st[0].serial == 0 and st[0].refspec == f"origin:{fx.ref}"
    assert not (st[0].booted or st[0].pending or st[0].rollback or st[0].staged)
    origin = (node / f"ostree/deploy/testos/deploy/{fx.checksum(0)}.0.origin").read_text()
    assert f"refspec=origin:{fx.ref}" in origin
    entries = list((node / "boot/loader/entries").glob("*.conf"))
    assert len(entries) == 1 and "root=LABEL=root" in entries[0].read_text()
    # The local ref names the older release, as on a node that has not updated yet.
    repo = node / "ostree/repo"
    assert ostree("rev-parse", f"--repo={repo}", f"origin:{fx.ref}").strip() == fx.checksum(0)

    # By hand, as an agent would: pull release 1 by checksum, deploy it.
    m1 = srv.mark()
    b1 = srv.bytes_served
    ostree("pull", f"--repo={repo}", "origin", f"{fx.ref}@{fx.checksum(1)}")
    ostree("admin", "deploy", f"--sysroot={node}", "--os=testos", f"origin:{fx.ref}")
    second = srv.objects_since(m1)
    assert b1 > b0 and srv.bytes_served > b1
    assert len(second) < len(first), (second, first)
    # Only the changed files' content objects came over.
    f0, f1 = files(fx.repo, fx.checksum(0)), files(fx.repo, fx.checksum(1))
    changed = {f1[p] for p in f1 if f1[p] != f0.get(p)}
    fetched = {re.sub(r"^/objects/(..)/(.*)\.filez$", r"\1\2", p) for p in second if p.endswith(".filez")}
    assert fetched == changed and len(changed) == 3

    st = fx.sysroot_status(node)
    assert [d.key() for d in st] == [(fx.checksum(1), fx.version(1), 1), (fx.checksum(0), fx.version(0), 0)]
    assert [d.serial for d in st] == [0, 0]
    dep = node / f"ostree/deploy/testos/deploy/{fx.checksum(1)}.0"
    assert (dep / "usr/share/upkeep-release").read_text() == "40.20261201.3.1\n"
    assert "root=LABEL=root" in max((node / "boot/loader/entries").glob("*.conf")).read_text()

    # The CLI's status gives the same, as JSON.
    out = subprocess.run([sys.executable, HERE, "status", "--sysroot", str(node), "--fixture", str(fx.dir)],
                         check=True, capture_output=True, text=True).stdout
    assert [(d["checksum"], d["index"]) for d in json.loads(out)] == [(fx.checksum(1), 1), (fx.checksum(0), 0)]


def test_make_sysroot_from_url_only(fx, srv, tmp_path):
    # Without the fixture: the ref and the release's commit are found from the server's history alone.
    assert make_sysroot(tmp_path / "n", srv.url, 2) == fx.checksum(2)
    assert [d.key() for d in sysroot_status(tmp_path / "n")] == [(fx.checksum(2), fx.version(2), 2)]
    with pytest.raises(IndexError):
        make_sysroot(tmp_path / "m", srv.url, 3)


def test_repo_server_faults(fx, srv, tmp_path):
    assert requests.get(srv.url + "/config", timeout=5).text == (fx.repo / "config").read_text()
    assert requests.get(srv.url + "/../fixture.json", timeout=5).status_code == 404
    assert requests.get(srv.url + "/objects", timeout=5).status_code == 404
    assert requests.head(srv.url + "/config", timeout=5).headers["Content-Length"] == \
        str((fx.repo / "config").stat().st_size)
    repo = tmp_path / "r"
    ostree("init", f"--repo={repo}", "--mode=bare-user")
    ostree("remote", "add", f"--repo={repo}", "--no-gpg-verify", "origin", srv.url, fx.ref)

    srv.fail_all = True
    assert requests.get(srv.url + "/config", timeout=5).status_code == 500
    with pytest.raises(osfixture.OstreeError):
        ostree("pull", f"--repo={repo}", "origin", fx.ref)
    srv.clear_faults()
    srv.corrupt(".filez")
    good = (fx.repo / "config").read_bytes()
    with pytest.raises(osfixture.OstreeError):
        ostree("pull", f"--repo={repo}", "origin", fx.ref)
    assert any(p.endswith(".filez") and status == 200 for p, status, _ in srv.log)
    srv.clear_faults()
    srv.fail("/summary", 404)
    ostree("pull", f"--repo={repo}", "origin", fx.ref)
    assert ostree("rev-parse", f"--repo={repo}", f"origin:{fx.ref}").strip() == fx.checksum(2)
    assert (fx.repo / "config").read_bytes() == good  # corruption is on the wire only
    srv.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(srv.url + "/config", timeout=5)


STATUS_2022_7 = """\
* testos 7afcb312059da5227754d73ee4c4d0f4fc4acb3066872cbec9b31c2da51b56a8.1 (staged)
    Version: 40.20261201.3.2
    origin refspec: origin:testos/x86_64/stable
  testos 640b21dcfc036599e458e90a0bdc8459e57b742e7d5b0f69072030685327b8b5.0 (pending)
    Version: 40.20261201.3.1
    \x1b[31m\x1b[1mUnlocked: development\x1b[22m\x1b[0m
    Pinned: yes
    origin refspec: origin:testos/x86_64/stable
    `- ostree-unverified-registry:quay.io/x:latest
    GPG: Signature made Tue 01 Dec 2026 00:00:00 UTC using RSA key ID 0123456789ABCDEF
  testos fd6c03f6d37932367ff33a8a39b72fdd277cf6fbe22ada73a6de1e04d06c78d1.3 (rollback) (finalization locked)
    origin: <unknown origin type>
"""


def test_parse_status():
    ds = osfixture.parse_status(STATUS_2022_7)
    assert [(d["checksum"][:6], d["serial"], d["version"]) for d in ds] == \
        [("7afcb3", 1, "40.20261201.3.2"), ("640b21", 0, "40.20261201.3.1"), ("fd6c03", 3, None)]
    assert [(d["booted"], d["staged"], d["pending"], d["rollback"]) for d in ds] == \
        [(True, True, False, False), (False, False, True, False), (False, True, False, True)]
    assert [(d["pinned"], d["unlocked"], d["refspec"]) for d in ds] == \
        [(False, None, "origin:testos/x86_64/stable"), (True, "development", "origin:testos/x86_64/stable"),
         (False, None, None)]
    assert osfixture.parse_status("No deployments.\n") == []
    # Leading-space variants and no Version line at all.
    ds = osfixture.parse_status(" * os " + "a" * 64 + ".0\n   os " + "b" * 64 + ".2\n")
    assert [(d["booted"], d["osname"], d["serial"]) for d in ds] == [(True, "os", 0), (False, "os", 2)]
    assert osfixture.index_from_version("40.20261201.3.17") == 17
    assert osfixture.index_from_version("1.2") is None


def targets(body, checksum):
    """Release indices a node booted on checksum may move to: edges out of the node whose payload it is."""
    cur = [i for i, n in enumerate(body["nodes"]) if n["payload"] == checksum]
    assert len(cur) == 1
    return sorted(int(body["nodes"][t]["metadata"]["org.fedoraproject.coreos.releases.age_index"])
                  for f, t in body["edges"] if f == cur[0])


def test_graph_edges(build_dir, tmp_path):
    fx = osfixture.build(tmp_path / "fx", releases=3, barrier=1)
    work = tmp_path / "graph"
    work.mkdir()
    g = GraphServer(build_dir, work, fx.graph_config_text())
    try:
        g.wait_ready()

        def graph(i):
            r = g.graph(basearch=fx.basearch, stream="stable", os_version=fx.version(i), os_checksum=fx.checksum(i),
                        group="default", node_uuid="e0f3745b108f471cbd4883c6fbed8cdd", platform="qemu")
            assert r.status_code == 200, r.text
            return r.json()

        body = graph(0)
        assert [n["payload"] for n in body["nodes"]] == [r.checksum for r in fx.releases]
        assert sorted(map(tuple, body["edges"])) == [(0, 1), (1, 2)]
        assert body["nodes"][1]["metadata"]["org.fedoraproject.coreos.updates.barrier"] == "true"
        # Release by release: 0 must go through the barrier 1, then 1 -> 2, then nothing.
        assert [targets(graph(i), fx.checksum(i)) for i in range(3)] == [[1], [2], []]

        # Rewritten metadata is picked up (inotify): release 1 becomes a dead-end, its edge out goes.
        fx.write_updates(barrier=[1], deadend=[1])
        deadline = time.monotonic() + 5
        while sorted(map(tuple, graph(0)["edges"])) != [(0, 1)]:
            assert time.monotonic() < deadline, g.logs()
            time.sleep(0.05)
        md = graph(1)["nodes"][1]["metadata"]
        assert md["org.fedoraproject.coreos.updates.deadend"] == "true"
        assert md["org.fedoraproject.coreos.updates.deadend_reason"].endswith(fx.version(1))
        assert g.get("/v1/graph", params={"basearch": "s390x", "stream": "stable"}).status_code == 404
    finally:
        assert g.stop() == 0


def test_cli_build_size_and_deadend(tmp_path):
    out = subprocess.run([sys.executable, HERE, "build", "--out", str(tmp_path / "b"), "--releases", "2",
                          "--deadend", "1", "--size-mb", "1", "--stream", "next", "--osname", "otheros"],
                         check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    assert j["ref"] == f"otheros/{osfixture.host_basearch()}/next" and len(j["releases"]) == 2
    fx = osfixture.Fixture.load(tmp_path / "b")
    assert fx.deadend == [1] and fx.stream == "next"
    upd = json.loads((fx.meta_dir / "updates.json").read_text())
    assert upd["stream"] == "next" and "deadend" in upd["releases"][0]["metadata"]
    assert "[streams.next]" in fx.graph_toml.read_text()
    f0, f1 = files(fx.repo, fx.checksum(0)), files(fx.repo, fx.checksum(1))
    chunks = [p for p in f0 if p.startswith("/usr/share/upkeep-data/")]
    assert len(chunks) == 4  # 1 MiB in 256 KiB files
    assert [p for p in chunks if f0[p] != f1[p]] == ["/usr/share/upkeep-data/chunk-0001"]
    with pytest.raises(FileExistsError):
        osfixture.build(tmp_path / "b", releases=1)
    with pytest.raises(ValueError):
        osfixture.build(tmp_path / "c", releases=2, barrier=[2])
