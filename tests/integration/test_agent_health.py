"""upkeep-agent's boot assessment (issue 13) on test sysroots with the real graph and lock servers: a node
whose checks pass releases its slot only once green; one whose checks fail on a new release retries, rolls
back, keeps its slot until green on the old release, remembers the release as bad and takes a newer one;
red after a rollback stops for a human without a reboot loop; greenboot's own layout works unchanged.

A "reboot" restarts the agent (agentutil.Node); the booted deployment is the sysroot's default when the agent
starts, so a check can tell releases apart by the first deployment `ostree admin status` lists."""
import subprocess
import time

import pytest

import osfixture
from agentutil import FAIL_ON_CHECK, Node, lock_history

@pytest.fixture
def os3(tmp_path):
    """Releases 0, 1 and 2; release 2 is no target until a test opens it."""
    fx = osfixture.build(tmp_path / "os", releases=3)
    fx.write_updates(rollouts={2: None})
    srv = osfixture.RepoServer(fx.dir)
    yield fx, srv
    srv.stop()


def node(build_dir, tmp_path, os3, graph, lock, name="node", **health):
    fx, srv = os3
    return Node(build_dir, tmp_path, name, fx, srv.url, 0, graph_url=graph.base + "/", lock_url=lock.base + "/",
                health=health)


def stop(n):
    n.stop()
    assert not n.crashes, f"{n.name} crashed: {n.crashes}\n{n.logs()}"


def wait_health(build_dir, n, secs=60):
    """`upkeep status --wait-health` (the boot-complete gate) against the node's agent."""
    return subprocess.run([str(build_dir / "src/cli/upkeep"), "status", "--socket", str(n.dir / "status.sock"),
                           f"--wait-health={secs}"], capture_output=True, text=True, timeout=secs + 30)


def my_events(lock, n):
    _, events, holders = lock_history(lock.logs())
    return [e[0] for e in events if e[1] == n.uuid], holders


def test_green_update_releases_slot_after_checks(build_dir, tmp_path, os3, graph, lock):
    """(a) The required check passes on the new release: the slot is held through the stability window and
    released once green; the record is gone and the status shows the check."""
    fx, _ = os3
    n = node(build_dir, tmp_path, os3, graph, lock, stability_secs=3)
    n.add_check("etc/upkeep/check/required.d/10-app.sh", "#!/bin/sh\necho app ok\n")
    n.start()
    try:
        n.wait_for(lambda: n.booted_index() == 1 and n.health()["state"] == "stabilizing", timeout=120,
                   what="release 1 booted, in its stability window")
        assert n.uuid in lock_history(lock.logs())[2]  # the slot is still taken (a fresh agent: "unknown")
        # the boot-complete gate waits through the window and passes once green
        gate = wait_health(build_dir, n)
        assert gate.returncode == 0, gate.stdout + gate.stderr
        assert "waiting for the boot assessment (health: stabilizing)" in gate.stdout
        assert "this boot is good (health: succeeded)" in gate.stdout
        n.wait_for(lambda: n.health()["state"] == "succeeded" and n.status()["lock"]["state"] == "released",
                   timeout=60, what="green and released")
        h = n.health()
        assert h["booted_version"] == fx.version(1)
        checks = {c["name"]: c for c in h["checks"]}
        assert checks["10-app.sh"]["ok"] and checks["10-app.sh"]["required"]
        assert checks["10-app.sh"]["output"] == "app ok\n"
        assert h["failed"] == "" and not h["manual_intervention"]
        assert n.status()["bad_releases"] == []
        assert not (n.dir / "state" / "health.json").exists()
        assert n.metric("upkeep_agent_health_state", state="succeeded") == 1
        assert n.metric("upkeep_agent_health_checks_failed") == 0
        assert n.metric("upkeep_agent_manual_intervention") == 0
        logs = n.logs()
        assert "health check 10-app.sh (required): passed" in logs
        assert n.reboots() == 1
    finally:
        stop(n)
    mine, holders = my_events(lock, n)
    assert mine == ["take", "release"] and not holders


def test_red_release_retried_rolled_back_remembered(build_dir, tmp_path, os3, graph, lock):
    """(b) Release 1 fails its required check: one retry (max_boot_attempts = 2), then a rollback to release 0,
    the slot held throughout and released once green on release 0; release 1 is recorded as bad and never
    staged again, and release 2, opened later, lands."""
    fx, _ = os3
    n = node(build_dir, tmp_path, os3, graph, lock, max_boot_attempts=2)
    n.add_check("etc/upkeep/check/required.d/10-app.sh", FAIL_ON_CHECK.format(sysroot=n.sysroot, bad=fx.checksum(1)))
    n.start()
    try:
        n.wait_for(lambda: n.booted_index() == 0 and n.reboots() == 3 and n.health()["state"] == "recovered"
                   and n.status()["lock"]["state"] == "released", timeout=180,
                   what="rolled back to release 0, green, slot released")
        st = n.status()
        assert [b["version"] for b in st["bad_releases"]] == [fx.version(1)]
        bad = st["bad_releases"][0]
        assert bad["checksum"] == fx.checksum(1) and bad["outcome"] == "rolled_back"
        assert "10-app.sh" in bad["reason"] and bad["time"] > 0
        assert n.metric("upkeep_agent_bad_releases") == 1
        assert n.metric("upkeep_agent_rollbacks_total") == 1
        logs = n.logs()
        assert "the app does not start on this release" in logs
        assert logs.count("boot assessment: rebooting") == 1  # the retry
        assert logs.count("boot assessment: rolling_back") == 1
        # the slot was held from the finalization of release 1 until green on release 0
        mine, _ = my_events(lock, n)
        assert mine == ["take", "release"], mine

        # release 1 is still offered, but never staged again
        checks = n.metric("upkeep_agent_cincinnati_update_checks_total")
        n.wait_for(lambda: n.metric("upkeep_agent_cincinnati_update_checks_total") >= checks + 3, timeout=30,
                   what="three more checks")
        assert n.status()["deployments"]["staged"] is None
        assert n.booted_index() == 0 and n.reboots() == 3

        fx.write_updates()  # release 2 becomes a target
        n.wait_for(lambda: n.booted_index() == 2 and n.health()["state"] == "succeeded"
                   and n.status()["lock"]["state"] == "released", timeout=120, what="release 2 landed")
        assert n.reboots() == 4
    finally:
        stop(n)
    mine, holders = my_events(lock, n)
    assert mine == ["take", "release", "take", "release"] and not holders
    assert lock_history(lock.logs())[0] == 1


def test_red_after_rollback_needs_a_human(build_dir, tmp_path, os3, graph, lock):
    """(c) The check fails on every release: after the rollback the node is red again, so it stops — no
    reboot loop, the slot kept, manual intervention in the status, the MOTD and the metrics."""
    fx, _ = os3
    n = node(build_dir, tmp_path, os3, graph, lock, max_boot_attempts=1)
    n.add_check("etc/upkeep/check/required.d/10-app.sh", "#!/bin/sh\necho broken everywhere\nexit 1\n")
    n.start()
    try:
        n.wait_for(lambda: n.health()["state"] == "manual", timeout=150, what="manual intervention")
        time.sleep(3)  # time to (wrongly) reboot again or take another update
        h = n.health()
        assert h["manual_intervention"] and h["failed"] == "10-app.sh"
        assert "manual intervention" in h["reason"]
        assert n.reboots() == 2  # into release 1, then the rollback: no more
        assert n.booted_index() == 0
        assert n.status()["lock"]["state"] != "released"
        assert "manual intervention" in (n.motd() or "")
        assert n.metric("upkeep_agent_manual_intervention") == 1
        assert n.metric("upkeep_agent_health_state", state="manual") == 1
        assert [b["version"] for b in n.status()["bad_releases"]] == [fx.version(1)]
        assert (n.dir / "state" / "health.json").exists()  # kept for the operator
        gate = wait_health(build_dir, n, secs=5)  # boot-complete.target is never reached
        assert gate.returncode == 1 and "this boot needs manual intervention (health: manual)" in gate.stderr
    finally:
        stop(n)
    mine, holders = my_events(lock, n)
    assert mine == ["take"] and n.uuid in holders


def test_greenboot_layout(build_dir, tmp_path, os3, graph, lock):
    """(d) greenboot's directories and greenboot.conf under check_root, unchanged: a disabled failing check is
    skipped, a failing wanted check is only counted, green.d runs, GREENBOOT_MAX_BOOT_ATTEMPTS is read."""
    fx, _ = os3
    n = node(build_dir, tmp_path, os3, graph, lock)
    marker = n.dir / "green-ran"
    n.add_check("etc/greenboot/greenboot.conf",
                "# greenboot's file, read as data\nGREENBOOT_MAX_BOOT_ATTEMPTS=5\n"
                'DISABLED_HEALTHCHECKS=("20-flaky.sh")\n', mode=0o644)
    n.add_check("etc/greenboot/check/required.d/10-ok.sh", "echo required ok\n", mode=0o644)  # *.sh: bash
    n.add_check("etc/greenboot/check/required.d/20-flaky.sh", "exit 1\n")
    n.add_check("etc/greenboot/check/wanted.d/30-optional.sh", "echo optional broken\nexit 1\n")
    n.add_check("etc/greenboot/green.d/50-mark.sh", f"touch {marker}\n")
    n.start()
    try:
        n.wait_for(lambda: n.booted_index() == 1 and n.health()["state"] == "succeeded"
                   and n.status()["lock"]["state"] == "released", timeout=120, what="green on release 1")
        h = n.health()
        names = [c["name"] for c in h["checks"]]
        assert names == ["10-ok.sh", "30-optional.sh"], names
        assert [c["ok"] for c in h["checks"]] == [True, False]
        assert [c["required"] for c in h["checks"]] == [True, False]
        assert h["attempts_left"] == 4  # GREENBOOT_MAX_BOOT_ATTEMPTS - 1, from the record
        assert n.metric("upkeep_agent_health_checks_failed") == 1
        assert marker.exists()
    finally:
        stop(n)
