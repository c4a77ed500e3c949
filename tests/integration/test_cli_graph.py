"""`upkeep graph build` and `upkeep graph query`: the release engineer's view of a graph."""
import json
import subprocess

import pytest

from graphutil import GraphServer

FCOS = "testdata/fcos"


def upkeep(build_dir, *args, check=True):
    p = subprocess.run([str(build_dir / "src/cli/upkeep"), *args], capture_output=True, text=True, timeout=60)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture
def files(shared_dir):
    return (str(shared_dir / FCOS / "releases-2021-01-05.json"), str(shared_dir / FCOS / "updates-stable-4c055c1.json"))


def test_build_equals_golden(build_dir, shared_dir, files):
    golden = json.loads((shared_dir / FCOS / "golden-graph-2021-01-05.x86_64.json").read_text())
    out = json.loads(upkeep(build_dir, "graph", "build", "--releases", files[0], "--updates", files[1],
                            "--basearch", "x86_64").stdout)
    assert [(n["version"], n["payload"], n["metadata"]) for n in out["nodes"]] == \
        [(n["version"], n["payload"], n["metadata"]) for n in golden["nodes"]]
    assert out["edges"] == golden["edges"]


@pytest.mark.parametrize("now,w,visible", [
    (1609860600 - 1, "0.0", True), (1609860600 - 1, "0.000001", False),
    (1609860600 + 86400, "0.5", True), (1609860600 + 86400, "0.5000001", False),
    (1609860600 + 172801, "1.0", True),
])
def test_build_throttle_checks(build_dir, files, now, w, visible):
    out = json.loads(upkeep(build_dir, "graph", "build", "--releases", files[0], "--updates", files[1],
                            "--basearch", "x86_64", "--wariness", w, "--now", str(now)).stdout)
    assert ([24, 25] in out["edges"]) == visible


def test_build_text_and_dot(build_dir, files):
    text = upkeep(build_dir, "graph", "build", "--releases", files[0], "--updates", files[1],
                  "--basearch", "x86_64", "--format", "text", "--wariness", "0.9", "--now", "1609860600").stdout
    assert text.startswith("nodes 26 edges 24\n")
    assert "33.20201214.3.1" in text and "hidden" in text and "barrier" in text
    dot = upkeep(build_dir, "graph", "build", "--releases", files[0], "--updates", files[1],
                 "--basearch", "x86_64", "--format", "dot").stdout
    assert dot.startswith("digraph") and "n24 -> n25;" in dot


def test_build_errors_name_the_file(build_dir, files, tmp_path):
    bad = tmp_path / "updates.json"
    bad.write_text('{"stream":"stable","releases":[{"version":"1","metadata":{"rollout":{"start_epoch":"soon"}}}]}')
    p = upkeep(build_dir, "graph", "build", "--releases", files[0], "--updates", str(bad), "--basearch", "x86_64",
               check=False)
    assert p.returncode == 1
    assert str(bad) in p.stderr and "release 0 (1)" in p.stderr and "start_epoch" in p.stderr
    p = upkeep(build_dir, "graph", "build", "--releases", str(tmp_path / "none.json"), "--updates", files[1],
               "--basearch", "x86_64", check=False)
    assert p.returncode == 1 and "none.json" in p.stderr
    p = upkeep(build_dir, "graph", "build", "--releases", files[0], check=False)
    assert p.returncode == 1 and "required" in p.stderr
    p = upkeep(build_dir, "graph", "build", "--releases", files[0], "--updates", files[1], "--basearch", "x86_64",
               "--format", "yaml", check=False)
    assert p.returncode == 1 and "unknown format" in p.stderr
    p = upkeep(build_dir, "graph", "build", "--releases", files[0], "--updates", files[1], "--basearch", "x86_64",
               "--stream", "testing", check=False)
    assert p.returncode == 1 and "not 'testing'" in p.stderr


def test_query_matches_server_and_build(build_dir, shared_dir, tmp_path, files):
    import shutil
    shutil.copy(files[0], tmp_path / "releases.json")
    shutil.copy(files[1], tmp_path / "updates.json")
    s = GraphServer(build_dir, tmp_path, '[streams.stable]\nreleases = "releases.json"\nupdates = "updates.json"\n'
                                         'basearches = ["x86_64"]\n')
    try:
        s.wait_ready()
        raw = s.graph(basearch="x86_64", stream="stable", rollout_wariness="0.25").text
        q = upkeep(build_dir, "graph", "query", s.base, "--stream", "stable", "--basearch", "x86_64",
                   "--wariness", "0.25").stdout
        assert q == raw + "\n"
        # The server's bytes and the CLI's build are the same bytes.
        b = upkeep(build_dir, "graph", "build", "--releases", files[0], "--updates", files[1],
                   "--basearch", "x86_64", "--wariness", "0.25").stdout
        assert b == q
        text = upkeep(build_dir, "graph", "query", s.base + "/", "--stream", "stable", "--basearch", "x86_64",
                      "--format", "text").stdout
        assert text.startswith("nodes 26 edges 25\n")
        p = upkeep(build_dir, "graph", "query", s.base, "--stream", "nope", "--basearch", "x86_64", check=False)
        assert p.returncode == 1 and "does_not_exist" in p.stderr
    finally:
        assert s.stop() == 0
    p = upkeep(build_dir, "graph", "query", s.base, "--stream", "stable", "--basearch", "x86_64", check=False)
    assert p.returncode == 1 and ("refused" in p.stderr.lower() or "connect" in p.stderr.lower())


def test_query_accepts_the_endpoint_url(build_dir, tmp_path, files):
    """A base URL that already names /v1/graph (as copied from a browser or Zincati's config), with or
    without a trailing slash, is the endpoint itself, not a base to append v1/graph to."""
    import shutil
    shutil.copy(files[0], tmp_path / "releases.json")
    shutil.copy(files[1], tmp_path / "updates.json")
    s = GraphServer(build_dir, tmp_path, '[streams.stable]\nreleases = "releases.json"\nupdates = "updates.json"\n'
                                         'basearches = ["x86_64"]\n')
    try:
        s.wait_ready()
        want = upkeep(build_dir, "graph", "query", s.base, "--stream", "stable", "--basearch", "x86_64").stdout
        for url in (s.base + "/v1/graph", s.base + "/v1/graph/"):
            p = upkeep(build_dir, "graph", "query", url, "--stream", "stable", "--basearch", "x86_64", check=False)
            assert p.returncode == 0, (url, p.stderr)
            assert p.stdout == want
    finally:
        assert s.stop() == 0


def test_help_lists_every_verb(build_dir):
    out = upkeep(build_dir, "--help").stdout
    for verb in ("graph build", "graph query", "lock status", "lock release", "lock pause", "lock resume",
                 "status", "update-now"):
        assert f"\n  {verb} " in out, verb


def test_build_warns_about_start_percentage(build_dir, files, tmp_path):
    """FCOS's testing stream published start_percentage 100 in 2019: accepted as upstream does, with a
    warning, and the graph throttled with upstream's arithmetic (every node sees it once started)."""
    releases = json.loads(open(files[0]).read())
    newest = releases["releases"][-1]["version"]
    upd = tmp_path / "updates.json"
    upd.write_text(json.dumps({"stream": "stable", "releases": [
        {"version": newest, "metadata": {"rollout": {"start_epoch": 1000, "start_percentage": 100,
                                                     "duration_minutes": 60}}}]}))
    p = upkeep(build_dir, "graph", "build", "--releases", files[0], "--updates", str(upd), "--basearch", "x86_64",
               "--wariness", "1.0", "--now", "1001")
    assert "start_percentage 100 is outside [0, 1]" in p.stderr and str(upd) in p.stderr
    out = json.loads(p.stdout)
    assert out["nodes"][25]["metadata"]["org.fedoraproject.coreos.updates.start_value"] == "100"
    assert [24, 25] in out["edges"]
    out = json.loads(upkeep(build_dir, "graph", "build", "--releases", files[0], "--updates", str(upd),
                            "--basearch", "x86_64", "--wariness", "0.1", "--now", "999").stdout)
    assert [24, 25] not in out["edges"]
