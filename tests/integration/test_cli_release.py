"""`upkeep release`: the release engineer's edits of update metadata, run as the real `upkeep` binary on
copies of Fedora CoreOS's metadata (shared/testdata, examples/graph), and what a real upkeep-graph serving
the edited files answers afterwards (barriers, dead-ends, a paused rollout held at its percentage, a
resumed one continuing); validate's exit statuses and messages; plan's table and SVG."""
import json
import pathlib
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from graphutil import GraphServer

REPO = pathlib.Path(__file__).resolve().parents[2]
FCOS = "testdata/fcos"
NEWEST, PREV = "33.20201214.3.1", "33.20201201.3.0"


def upkeep(build_dir, *args, check=True):
    p = subprocess.run([str(build_dir / "src/cli/upkeep"), "release", *args], capture_output=True, text=True,
                       timeout=60)
    if check:
        assert p.returncode == 0, p.stdout + p.stderr
    return p


@pytest.fixture
def stream(tmp_path):
    """examples/graph's stable stream (FCOS 2021-01-05): stable/releases.json beside stable/updates.json."""
    d = tmp_path / "stable"
    shutil.copytree(REPO / "examples/graph/stable", d)
    return d


@pytest.fixture
def server(build_dir, tmp_path, stream):
    s = GraphServer(build_dir, tmp_path, '[refresh]\ninterval_secs = 1\n[streams.stable]\n'
                                         'releases = "stable/releases.json"\nupdates = "stable/updates.json"\n'
                                         'basearches = ["x86_64"]\n')
    s.wait_ready()
    yield s
    s.stop()


def graph(server, w):
    r = server.graph(stream="stable", basearch="x86_64", rollout_wariness=str(w))
    assert r.status_code == 200, r.text
    g = r.json()
    names = [n["version"] for n in g["nodes"]]
    return g, {(names[a], names[b]) for a, b in g["edges"]}


def wait_graph(server, w, predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        g, edges = graph(server, w)
        if predicate(g, edges):
            return g, edges
        if time.monotonic() > deadline:
            raise AssertionError(f"graph for wariness {w} never matched: {sorted(edges)[-6:]}\n{server.logs()}")
        time.sleep(0.1)


def rollout(path, version):
    doc = json.loads(path.read_text())
    return next(r for r in doc["releases"] if r["version"] == version)["metadata"].get("rollout")


def test_written_back_unchanged_is_byte_identical(build_dir, shared_dir, tmp_path):
    u = tmp_path / "updates" / "stable.json"
    u.parent.mkdir()
    shutil.copy(shared_dir / FCOS / "updates-stable-4c055c1.json", u)
    before = u.read_bytes()
    # Before the newest rollout ends there is nothing to clean, and a barrier already there is no change.
    p = subprocess.run([str(build_dir / "src/cli/upkeep"), "release", "clean", "--stream", "stable", "--now",
                        "1609860600"], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "unchanged" in p.stdout
    assert u.read_bytes() == before
    p = upkeep(build_dir, "barrier", PREV, "--updates", str(u), "--releases",
               str(shared_dir / FCOS / "releases-2021-01-05.json"))
    assert "unchanged" in p.stdout and u.read_bytes() == before


def test_rollout_pause_resume_as_the_server_sees_it(build_dir, stream, server):
    u = str(stream / "updates.json")
    wait_graph(server, 0.9, lambda g, e: (PREV, NEWEST) in e)
    # A two-hour rollout that started an hour ago: half the fleet.
    t = int(time.time())
    upkeep(build_dir, "add", NEWEST, "--updates", u, "--now", str(t), "--start", f"@{t - 3600}", "--duration", "2h",
           "--replace")
    assert rollout(stream / "updates.json", NEWEST)["duration_minutes"] == 120
    wait_graph(server, 0.6, lambda g, e: (PREV, NEWEST) not in e)
    _, edges = graph(server, 0.4)
    assert (PREV, NEWEST) in edges
    # Paused as of 45 minutes ago (12.5%): held there now, when the ramp alone would be past 50%.
    p = upkeep(build_dir, "pause", NEWEST, "--updates", u, "--now", str(t - 2700),
               "--reason", "rollbacks")
    assert "12.50% of the fleet" in p.stdout and "(paused)" in p.stdout
    ro = rollout(stream / "updates.json", NEWEST)
    assert ro == {"start_epoch": t - 3600, "start_percentage": 0.125,
                  "paused": {"since_epoch": t - 2700, "remaining_minutes": 105, "reason": "rollbacks"}}
    wait_graph(server, 0.2, lambda g, e: (PREV, NEWEST) not in e)
    _, edges = graph(server, 0.12)
    assert (PREV, NEWEST) in edges
    # Pausing twice is refused; resuming continues from 12.5% with the same slope over the 105 minutes left.
    p = upkeep(build_dir, "pause", NEWEST, "--updates", u, check=False)
    assert p.returncode == 1 and "paused already" in p.stderr
    upkeep(build_dir, "resume", NEWEST, "--updates", u, "--now", str(t), "--start", "now-30m")  # now: 0.375
    ro = rollout(stream / "updates.json", NEWEST)
    assert ro == {"duration_minutes": 105, "start_epoch": t - 1800, "start_percentage": 0.125}
    wait_graph(server, 0.35, lambda g, e: (PREV, NEWEST) in e)
    _, edges = graph(server, 0.4)
    assert (PREV, NEWEST) not in edges
    assert upkeep(build_dir, "validate", "--updates", u).returncode == 0


def test_barrier_and_deadend_as_the_server_sees_them(build_dir, stream, server):
    u = str(stream / "updates.json")
    mid = "32.20201104.3.0"
    p = upkeep(build_dir, "barrier", mid, "--updates", u, "--reason", "https://example.com/barrier")
    assert "updated" in p.stdout

    def has_barrier(g, e):
        return any(n["version"] == mid and n["metadata"].get("org.fedoraproject.coreos.updates.barrier") == "true"
                   for n in g["nodes"])
    g, edges = wait_graph(server, 1.0, has_barrier)
    # The barrier is now a target of every older release, and nothing older jumps past it.
    names = [n["version"] for n in g["nodes"]]
    older = names[:names.index(mid)]
    assert all((o, mid) in edges for o in older[older.index("32.20200615.3.0"):])
    assert not any((o, NEWEST) in edges for o in older)
    upkeep(build_dir, "deadend", mid, "--updates", u, "--reason", "https://example.com/deadend")
    g, edges = wait_graph(server, 1.0, lambda g, e: not any(a == mid for a, _ in e))
    node = next(n for n in g["nodes"] if n["version"] == mid)
    assert node["metadata"]["org.fedoraproject.coreos.updates.deadend_reason"] == "https://example.com/deadend"
    # Unknown releases and missing reasons are refused without touching the file.
    before = (stream / "updates.json").read_bytes()
    p = upkeep(build_dir, "barrier", "33.20201299.3.0", "--updates", u, check=False)
    assert p.returncode == 1 and "not in the release index" in p.stderr
    p = upkeep(build_dir, "deadend", NEWEST, "--updates", u, check=False)
    assert p.returncode == 1 and "needs a reason" in p.stderr
    assert (stream / "updates.json").read_bytes() == before


def test_add_needs_the_release_index(build_dir, tmp_path, shared_dir):
    u = tmp_path / "updates.json"
    shutil.copy(shared_dir / FCOS / "updates-stable-4c055c1.json", u)
    p = upkeep(build_dir, "add", NEWEST, "--updates", str(u), "--start", "now", "--duration", "1d", "--replace",
               check=False)
    assert p.returncode == 1 and "no release index" in p.stderr and "--releases" in p.stderr
    p = upkeep(build_dir, "add", NEWEST, "--updates", str(u), "--start", "2026-12-03 10:00 Europe/Berlin",
               "--duration", "2d", "--replace", "--releases", str(shared_dir / FCOS / "releases-2021-01-05.json"))
    ro = rollout(u, NEWEST)
    assert ro == {"duration_minutes": 2880, "start_epoch": 1796288400, "start_percentage": 0.0}
    p = upkeep(build_dir, "add", NEWEST, "--updates", str(u), "--start", "tomorrow", "--duration", "2d",
               "--replace", "--releases", str(shared_dir / FCOS / "releases-2021-01-05.json"), check=False)
    assert p.returncode == 1 and "--start: time 'tomorrow'" in p.stderr


def test_clean_like_rollout_py(build_dir, stream):
    u = stream / "updates.json"
    upkeep(build_dir, "clean", "--updates", str(u))
    doc = json.loads(u.read_text())
    assert [r["version"] for r in doc["releases"]][-2:] == [PREV, NEWEST]
    assert rollout(u, NEWEST) == {"start_percentage": 1.0}
    assert rollout(u, PREV) is None  # only the newest finished rollout keeps its key
    assert doc["metadata"]["last-modified"].endswith("Z")
    assert upkeep(build_dir, "validate", "--updates", str(u)).returncode == 0


def test_validate_exit_statuses(build_dir, stream, tmp_path):
    u = stream / "updates.json"
    p = upkeep(build_dir, "validate", "--updates", str(u))
    assert "0 errors, 0 warnings" in p.stdout
    doc = json.loads(u.read_text())
    doc["releases"][-1]["metadata"]["rollout"]["start_percentage"] = 5
    doc["releases"].append({"version": "33.20201299.3.0", "metadata": {"deadend": {"reason": ""}}})
    u.write_text(json.dumps(doc))
    p = upkeep(build_dir, "validate", "--updates", str(u), check=False)
    assert p.returncode == 1
    assert f"{u}: error: release 3 ({NEWEST}): metadata.rollout.start_percentage: 5 is outside [0, 1]" in p.stdout
    assert f"{u}: error: release 4 (33.20201299.3.0): version: not in the release index" in p.stdout
    assert "metadata.deadend.reason: is empty" in p.stdout
    # --no-releases skips the cross-checks; warnings fail only with --strict; unreadable inputs are 2.
    u.write_text(json.dumps({"stream": "stable", "releases": [{"version": NEWEST, "metadata": {}}]}))
    assert upkeep(build_dir, "validate", "--updates", str(u), "--no-releases").returncode == 0
    assert upkeep(build_dir, "validate", "--updates", str(u), "--strict", check=False).returncode == 1
    assert upkeep(build_dir, "validate", "--updates", str(tmp_path / "none.json"), check=False).returncode == 2
    assert upkeep(build_dir, "validate", "--updates", str(u), "--releases", str(tmp_path / "none.json"),
                  check=False).returncode == 2
    u.write_text("{")
    p = upkeep(build_dir, "validate", "--updates", str(u), check=False)
    assert p.returncode == 1 and "not valid JSON" in p.stdout


def test_plan_table_and_svg(build_dir, stream, tmp_path):
    u = str(stream / "updates.json")
    svg = tmp_path / "plan.svg"
    p = upkeep(build_dir, "plan", "--updates", u, "--from", "1609860600", "--to", "1609860600",
               "--rows", "5", check=False)
    assert p.returncode == 1  # --to not after --from
    p = upkeep(build_dir, "plan", "--updates", u, "--now", "1609860600", "--to", "now+48h", "--rows", "5",
               "--svg", str(svg))
    rows = [line.split() for line in p.stdout.splitlines()[2:]]
    assert p.stdout.splitlines()[1].split()[2:] == [PREV, NEWEST]
    assert [r[-1] for r in rows] == ["0.00%", "25.00%", "50.00%", "75.00%", "100.00%"]
    root = ET.fromstring(svg.read_text())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "href" not in svg.read_text() and "<script" not in svg.read_text()
    assert {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")} == {PREV, NEWEST}


def test_usage_errors(build_dir, stream):
    assert upkeep(build_dir, check=False).returncode == 2
    p = upkeep(build_dir, "bogus", check=False)
    assert p.returncode == 2 and "unknown release command 'bogus'" in p.stderr
    p = upkeep(build_dir, "add", check=False)
    assert p.returncode == 2 and "--updates FILE or --stream NAME" in p.stderr
    p = upkeep(build_dir, "add", NEWEST, "--updates", str(stream / "updates.json"), "--start", "now",
               "--duration", "48", "--replace", check=False)
    assert p.returncode == 1 and "has no unit" in p.stderr
    p = upkeep(build_dir, "pause", "--updates", str(stream / "updates.json"), check=False)
    assert p.returncode == 1 and "pause needs a VERSION" in p.stderr
    assert upkeep(build_dir, "--help").stdout.startswith("usage: upkeep release")


def test_times_past_9999_are_refused_with_a_message(build_dir, stream):
    u = stream / "updates.json"
    before = u.read_bytes()
    p = upkeep(build_dir, "clean", "--updates", str(u), "--now", "999999999999", check=False)
    assert p.returncode == 2 and "--now: time '999999999999' is after 9999-12-31T23:59:59Z" in p.stderr
    p = upkeep(build_dir, "pause", NEWEST, "--updates", str(u), "--now", "253402300799", "--start", "+1s",
               check=False)
    assert p.returncode == 1 and "--start: time '+1s' is after 9999-12-31T23:59:59Z" in p.stderr
    assert u.read_bytes() == before


def test_numeric_options_are_plain_decimal(build_dir, stream):
    u = str(stream / "updates.json")
    for pct in ("0x0.8", " 0.5", "nan", "1.5", ""):
        p = upkeep(build_dir, "add", NEWEST, "--updates", u, "--start", "now", "--duration", "1d",
                   "--start-percentage", pct, check=False)
        assert p.returncode == 2 and f"--start-percentage: '{pct}' is not a number in [0, 1]" in p.stderr
    for rows in ("0x10", "+5", "-5", "1", "5x", ""):
        p = upkeep(build_dir, "plan", "--updates", u, "--rows", rows, check=False)
        assert p.returncode == 2 and f"--rows: '{rows}' is not a number from 2 to" in p.stderr
