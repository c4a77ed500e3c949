"""upkeep-graph with large inputs (issue 14, "Large inputs keep memory"): a release index over the 4 MiB
default cap is refused with an error naming the limit while the last good graph stays served, and the memory a
large (allowed) index took to parse is given back once the next refresh is done."""
import json
import time

import pytest

from graphutil import GraphServer, copy_fcos

CONFIG = """
[refresh]
interval_secs = 3600

[streams.stable]
releases = "releases.json"
updates = "updates.json"
basearches = ["x86_64"]
"""


def big_index(base, target_bytes):
    """A valid release index of about target_bytes: the real one's releases, repeated under new versions."""
    doc = json.loads(base.read_text())
    out, i = [], 0
    size = len(json.dumps(doc))
    while size < target_bytes:
        for r in doc["releases"]:
            r = dict(r, version=f"99.{i}.3.0")
            i += 1
            out.append(r)
            size += len(json.dumps(r)) + 2
    return json.dumps({"note": doc.get("note", ""), "releases": doc["releases"] + out})


def vm_kib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def wait_for(pred, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def inputs(shared_dir, tmp_path):
    return copy_fcos(shared_dir, tmp_path)


def test_large_index_memory_given_back(build_dir, inputs):
    small = (inputs / "releases.json").read_text()
    (inputs / "releases.json").write_text(big_index(inputs / "releases.json", 3_500_000))
    s = GraphServer(build_dir, inputs, CONFIG)
    try:
        s.wait_ready()
        pid = s.proc.pid
        if "libasan" in open(f"/proc/{pid}/maps").read():
            pytest.skip("ASan's allocator keeps freed memory in quarantine; measured on the regular build")
        peak = vm_kib(pid, "VmHWM")
        assert "graph with" in s.logs()
        # back to the real index: the parse's memory goes back to the system after the refresh
        (inputs / "releases.json").write_text(small)
        wait_for(lambda: s.logs().count("graph with") >= 2)
        time.sleep(0.5)
        after = vm_kib(pid, "VmRSS")
        print(f"peak {peak} KiB with a 3.5 MB index, {after} KiB after the refresh with the real one")
        assert peak > 20_000, peak  # the big index did take memory to parse
        assert after < peak / 2, (peak, after)
    finally:
        s.stop()


def test_index_over_the_cap_refused_and_last_graph_kept(build_dir, inputs):
    s = GraphServer(build_dir, inputs, CONFIG)
    try:
        s.wait_ready()
        before = s.get("/v1/graph", params={"basearch": "x86_64", "stream": "stable"}).json()
        (inputs / "releases.json").write_text(big_index(inputs / "releases.json", 4_300_000))
        wait_for(lambda: "larger than the limit of 4194304 bytes" in s.logs())
        assert "refresh failed, keeping the last good graph" in s.logs()
        assert s.get("/v1/graph", params={"basearch": "x86_64", "stream": "stable"}).json() == before
    finally:
        s.stop()
