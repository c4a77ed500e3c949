"""Proof at fleet scale (issue 15), scenario 1: upkeep-sim drives thousands of simulated nodes, each on the
agent's real state machine and target choice, on a virtual clock against the real upkeep-graph (with a
[[policy]] and a canary phase) and upkeep-lock on loopback. A release that fails its health checks on 30%
of the nodes must pause itself after at most 1% of the fleet tried it, and no lock group may ever have more
holders than slots (docs/sim.md). Scenario 2: a healthy release through a barrier with one slot per group
converges within 10% of the closed form docs/sim.md derives.

Also the harness of bench/fleet-sim.sh:
    UPKEEP_BUILD=build /usr/bin/python3 tests/integration/test_fleet_sim.py --nodes 10000"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from graphutil import GraphServer  # noqa: E402
from lockutil import LockServer  # noqa: E402

STREAM, ARCH = "stable", "x86_64"
GOOD, BAD = "40.20261201.3.0", "40.20261201.3.1"
BARRIER, NEWEST = "40.20261201.3.1", "40.20261201.3.2"  # scenario 2: GOOD -> BARRIER -> NEWEST
POLICY = """
[reports]
enabled = true
database = "{db}"

[[policy]]
stream = "stable"
canary = {canary}
failure_threshold_count = 2
failure_threshold_ratio = 0.05
min_sample = 5
"""


def checksum(i):
    return f"{i:064x}"


def write_metadata(d, start_percentage, barrier=False):
    """releases.json and updates.json. Scenario 1 (barrier False): GOOD then BAD, BAD a rollout that started
    a minute ago at start_percentage and ramps over ~70 days, so it stays where it started during a run.
    Scenario 2: GOOD, BARRIER (a barrier), NEWEST, both offered to everyone."""
    versions = (GOOD, BARRIER, NEWEST) if barrier else (GOOD, BAD)
    rels = [{"commits": [{"architecture": ARCH, "checksum": checksum(i + 1)}], "version": v}
            for i, v in enumerate(versions)]
    (d / "releases.json").write_text(json.dumps({"releases": rels, "stream": STREAM,
                                                 "metadata": {"last-modified": "2026-12-01T00:02:00Z"}}))
    if barrier:
        updates = [{"version": BARRIER, "metadata": {"rollout": {"start_percentage": 1.0},
                                                     "barrier": {"reason": "https://upkeep.invalid/barrier"}}},
                   {"version": NEWEST, "metadata": {"rollout": {"start_percentage": 1.0}}}]
    else:
        rollout = {"start_epoch": int(time.time()) - 60, "start_percentage": start_percentage,
                   "duration_minutes": 100000}
        updates = [{"version": BAD, "metadata": {"rollout": rollout}}]
    (d / "updates.json").write_text(json.dumps({"stream": STREAM,
                                                "metadata": {"last-modified": "2026-12-01T00:02:00Z"},
                                                "releases": updates}))


def run_scenario(build, workdir, nodes, groups=10, slots=2, canary=20, fail_permille=300,
                 start_percentage=0.5, interval=300, duration=4 * 3600, after_pause=2 * 3600, seed=1,
                 barrier=False, reboot=60, window=0, period=0):
    """Starts upkeep-graph and upkeep-lock in workdir, runs upkeep-sim, returns (summary, rollouts).
    barrier: scenario 2 (every boot healthy, run until every node is on NEWEST)."""
    build, workdir = pathlib.Path(build), pathlib.Path(workdir)
    (workdir / "graph").mkdir()
    (workdir / "lock").mkdir()
    write_metadata(workdir / "graph", start_percentage, barrier)
    gconf = (f'[refresh]\ninterval_secs = 3600\n\n[streams.{STREAM}]\nreleases = "releases.json"\n'
             f'updates = "updates.json"\nbasearches = ["{ARCH}"]\n'
             + POLICY.format(db=workdir / "graph" / "reports.db", canary=canary))
    g = GraphServer(build, workdir / "graph", gconf)
    lk = None
    try:
        g.wait_ready()
        lconf = (f'[backend]\ntype = "sqlite"\nsqlite_path = "{workdir / "lock" / "lock.db"}"\n'
                 f'[lock]\ndefault_slots = {slots}\n'
                 + "".join(f'[[lock.groups]]\nname = "g{i}"\nslots = {slots}\n' for i in range(groups)))
        lk = LockServer(build, workdir / "lock", lconf)
        cmd = [str(build / "src" / "sim" / "upkeep-sim"), "--graph", g.base, "--lock", lk.base,
               "--stream", STREAM, "--basearch", ARCH, "--from", GOOD, "--nodes", str(nodes),
               "--groups", str(groups), "--slots", str(slots), "--fail-permille", str(fail_permille),
               "--interval", str(interval), "--duration", str(duration), "--reboot", str(reboot),
               "--seed", str(seed)]
        cmd += ["--target", NEWEST] if barrier else ["--bad", BAD, "--after-pause", str(after_pause)]
        if window:
            cmd += ["--window", str(window), "--period", str(period)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, (p.returncode, p.stderr, g.logs()[-4000:])
        summary = json.loads(p.stdout)
        rollouts = g.get("/v1/rollouts").json()["rollouts"]
        return summary, rollouts
    finally:
        g.stop()
        if lk:
            lk.stop()


def test_bad_release_pauses_itself_at_fleet_scale(build_dir, tmp_path):
    nodes = 10000  # the fleet: ~40 s real (about a minute under ASan) for 7,785 s virtual
    s, rollouts = run_scenario(build_dir, tmp_path, nodes, canary=20)
    ro = next(r for r in rollouts if r["stream"] == STREAM and r["release"] == BAD)
    assert ro["paused"] is True, ro
    assert s["paused"] is True, s
    # the canary admits a few nodes, two of them fail, the policy pauses B: at most 1% of the fleet tried it
    assert 2 <= s["tried_bad"] <= nodes // 100, s
    assert s["tried_bad_before_pause"] <= s["tried_bad"], s
    assert s["rolled_back"] >= 2 and s["rolled_back"] + s["succeeded"] == s["finalized"], s
    # the real boot assessment: a red node retries B (3 boot attempts), rolls back and boots A once more
    assert s["boots"] == s["succeeded"] + 4 * s["rolled_back"] and s["manual"] == 0, s
    # the server counted exactly the outcomes the simulated nodes reported
    assert ro["reports"]["failed"] == s["rolled_back"], (ro, s)
    assert ro["reports"]["succeeded"] == s["succeeded"], (ro, s)
    # the lock invariant, from the simulator's own view; every slot released at the end
    assert s["invariant_violations"] == 0 and 1 <= s["max_holders_per_group"] <= s["slots"], s
    assert s["holding_at_end"] == 0, s
    # every node kept polling for the whole run, through the real server, without errors
    assert s["checks"] >= nodes * 2 and s["check_errors"] == 0 and s["report_errors"] == 0, s
    assert s["lock_errors"] == 0, s


def predicted_convergence(nodes_per_group, interval, reboot, checks=30):
    """Scenario 2's closed form (docs/sim.md): one slot per group, so a group's nodes go one at a time; each
    holds its slot for two hops (barrier, then newest: each a reboot and a run of the health checks, back to
    back, as the fresh agent re-checks and re-takes the slot its green boot just released); between holders
    the slot waits for the first of the k nodes still waiting to tick (they retry every steady interval, mean
    1.05 x interval with the jitter):
    1.05 x interval / (k + 1); the first holder is the first of n first ticks (interval / (n + 1)). Valid
    when a holder holds longer than the longest retry interval (2 x (reboot + checks) >= 1.1 x interval): every
    waiter has retried during the hold and their retry times are spread uniformly when the slot frees."""
    hold = 2 * (reboot + checks)
    if hold < 1.1 * interval:
        raise ValueError("the closed form needs 2 x (reboot + checks) >= 1.1 x interval (docs/sim.md)")
    n = nodes_per_group
    waits = sum(1.05 * interval / (k + 1) for k in range(1, n))
    return n * hold + interval / (n + 1) + waits


def test_barrier_convergence_matches_closed_form(build_dir, tmp_path):
    nodes, groups, interval, reboot = 200, 10, 300, 300
    s, _ = run_scenario(build_dir, tmp_path, nodes, groups=groups, slots=1, fail_permille=0, interval=interval,
                        duration=24 * 3600, barrier=True, reboot=reboot)
    assert s["on_target"] == nodes and s["converged_at_virtual_secs"] > 0, s
    assert s["succeeded"] == 2 * nodes and s["rolled_back"] == 0, s  # every node took both hops
    assert s["invariant_violations"] == 0 and s["max_holders_per_group"] == 1, s
    predicted = predicted_convergence(nodes // groups, interval, reboot)
    assert abs(s["converged_at_virtual_secs"] - predicted) <= 0.10 * predicted, (predicted, s)


def test_sim_fails_on_bad_arguments(build_dir):
    sim = str(pathlib.Path(build_dir) / "src" / "sim" / "upkeep-sim")
    p = subprocess.run([sim, "--graph", "http://127.0.0.1:9", "--lock", "http://127.0.0.1:9", "--from", GOOD,
                        "--bad", BAD, "--nodes", "0"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--nodes" in p.stderr, p.stderr
    p = subprocess.run([sim, "--graph", "http://127.0.0.1:9", "--lock", "http://127.0.0.1:9", "--from", GOOD,
                        "--bad", BAD, "--nodes", "5"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "127.0.0.1:9" in p.stderr, p.stderr


def main_barrier(build, a):
    """Scenario 2: convergence through a barrier, one slot per group, against the closed form."""
    with tempfile.TemporaryDirectory(prefix="upkeep-sim-") as d:
        s, _ = run_scenario(build, d, a.nodes, groups=a.groups, slots=1, fail_permille=0, interval=a.interval,
                            duration=int(a.hours * 3600), barrier=True, reboot=a.reboot)
    print(json.dumps(s, indent=1))
    predicted = predicted_convergence(a.nodes // a.groups, a.interval, a.reboot)
    got = s["converged_at_virtual_secs"]
    ok = s["on_target"] == a.nodes and abs(got - predicted) <= 0.10 * predicted and s["invariant_violations"] == 0
    print(f"{a.nodes} nodes in {a.groups} groups of 1 slot, {GOOD} -> {BARRIER} (barrier) -> {NEWEST}: converged "
          f"in {got} s virtual, closed form {predicted:.0f} s ({100 * (got - predicted) / predicted:+.1f}%); "
          f"max holders per group {s['max_holders_per_group']}; {s['real_secs']} s real: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description="upkeep-sim scenarios against real daemons")
    ap.add_argument("--build", default=None)
    ap.add_argument("--scenario", type=int, choices=(1, 2), default=1)
    ap.add_argument("--nodes", type=int, default=10000)
    ap.add_argument("--groups", type=int, default=10)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--canary", type=int, default=20)
    ap.add_argument("--hours", type=float, default=4)
    ap.add_argument("--interval", type=int, default=300)
    ap.add_argument("--reboot", type=int, default=300)
    a = ap.parse_args()
    import os
    build = a.build or os.environ.get("UPKEEP_BUILD") or str(pathlib.Path(__file__).resolve().parents[2] / "build")
    if a.scenario == 2:
        return main_barrier(build, a)
    with tempfile.TemporaryDirectory(prefix="upkeep-sim-") as d:
        s, rollouts = run_scenario(build, d, a.nodes, groups=a.groups, slots=a.slots, canary=a.canary,
                                   duration=int(a.hours * 3600))
    print(json.dumps(s, indent=1))
    print(json.dumps([r for r in rollouts if r["release"] == BAD], indent=1))
    ok = s["paused"] and s["tried_bad"] <= a.nodes // 100 and s["invariant_violations"] == 0
    print(f"tried {BAD}: {s['tried_bad']} of {a.nodes} nodes ({100 * s['tried_bad'] / a.nodes:.2f}%), "
          f"{s['tried_bad_before_pause']} before the pause was seen; max holders per group "
          f"{s['max_holders_per_group']} of {s['slots']} slots; {s['virtual_secs']} s virtual in "
          f"{s['real_secs']} s real: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())


def predicted_convergence_in_windows(in_window_secs, window, period):
    """With maintenance windows (periodic fleet_lock: a node takes the slot, so starts a reboot, only while a
    window is open; windows of `window` seconds at every multiple of `period` from the start), the work of
    the closed form above happens only in windows: after k = floor(T / window) whole windows the rest
    follows the (k+1)-th window's opening. Boundary effects (a hop that started before a window closed
    ends after it; the first ticks in a new window) stay within a few steady intervals per window."""
    whole = int(in_window_secs // window)
    return whole * period + (in_window_secs - whole * window)


def test_barrier_convergence_in_windows_matches_closed_form(build_dir, tmp_path):
    nodes, groups, interval, reboot, window, period = 200, 10, 300, 300, 3600, 4 * 3600
    s, _ = run_scenario(build_dir, tmp_path, nodes, groups=groups, slots=1, fail_permille=0, interval=interval,
                        duration=4 * 24 * 3600, barrier=True, reboot=reboot, window=window, period=period)
    assert s["on_target"] == nodes and s["converged_at_virtual_secs"] > 0, s
    assert s["succeeded"] == 2 * nodes and s["rolled_back"] == 0, s
    assert s["invariant_violations"] == 0 and s["max_holders_per_group"] == 1, s
    predicted = predicted_convergence_in_windows(predicted_convergence(nodes // groups, interval, reboot),
                                                 window, period)
    assert abs(s["converged_at_virtual_secs"] - predicted) <= 0.10 * predicted, (predicted, s)
