#!/usr/bin/python3
"""demo-fleet — the whole Upkeep loop on one machine, embedded defaults, no external services.

It builds two releases of a small OSTree OS, serves the repository over loopback HTTP, starts upkeep-graph
on Fedora CoreOS-format metadata describing them and upkeep-lock on its SQLite default with one slot,
boots a fleet of nodes (test sysroots) on the old release with an upkeep-agent each (strategy fleet_lock,
"reboot" = the agent restarts on the new default deployment), schedules a phased rollout of the new
release, and prints the fleet updating itself node by node until every node runs the new release.

usage: demo-fleet.py BUILD_DIR   (env: DEMO_NODES=5, DEMO_ROLLOUT_MINUTES=1, DEMO_TIMEOUT=240)
"""
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

import osfixture  # noqa: E402
from agentutil import Node  # noqa: E402
from graphutil import GraphServer  # noqa: E402
from lockutil import LockServer  # noqa: E402


def short(version):
    return version.rsplit(".", 2)[-2] + "." + version.rsplit(".", 1)[-1] if version else "-"


def main():
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
    n_nodes = int(os.environ.get("DEMO_NODES", "5"))
    minutes = int(os.environ.get("DEMO_ROLLOUT_MINUTES", "1"))
    timeout = float(os.environ.get("DEMO_TIMEOUT", "240"))
    work = pathlib.Path(tempfile.mkdtemp(prefix="upkeep-demo-"))
    started = []

    def cleanup():
        for thing in reversed(started):
            try:
                thing.stop()
            except Exception as e:  # keep stopping the rest
                print(f"    (stopping {thing}: {e})")
        shutil.rmtree(work, ignore_errors=True)

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    try:
        print("==> building two releases of a small OSTree OS (osname testos)")
        fx = osfixture.build(work / "os", releases=2, rollouts={1: None})
        for r in fx.releases:
            print(f"    {r.version}  commit {r.checksum[:16]}…")
        srv = osfixture.RepoServer(fx.dir)
        started.append(srv)
        print(f"    repository served at {srv.url}")

        print("==> starting upkeep-graph on the release index and update metadata (Fedora CoreOS formats)")
        (work / "graph").mkdir()
        graph = GraphServer(build, work / "graph", fx.graph_config_text())
        started.append(graph)
        graph.wait_ready()
        print(f"    {graph.base}/v1/graph — no rollout yet: {fx.version(0)} has no update")

        print("==> starting upkeep-lock on its embedded SQLite backend, one reboot slot, 2 s settle delay")
        (work / "lock").mkdir()
        (work / "lock" / "admin.token").write_text("demo-admin-token\n")
        lock = LockServer(build, work / "lock",
                          f'[backend]\ntype = "sqlite"\nsqlite_path = "{work / "lock" / "lock.db"}"\n'
                          f'[auth]\nadmin_token_file = "{work / "lock" / "admin.token"}"\n'
                          "[lock]\ndefault_slots = 1\ndefault_settle_secs = 2\n")
        started.append(lock)
        print(f"    {lock.base}")

        wariness = [round((i + 0.5) / n_nodes, 2) for i in range(n_nodes)]
        print(f"==> booting {n_nodes} nodes on {fx.version(0)}, each with an upkeep-agent "
              "(strategy fleet_lock, wariness " + ", ".join(map(str, wariness)) + ")")
        nodes = []
        for i in range(n_nodes):
            n = Node(build, work, f"node{i + 1}", fx, srv.url, 0, graph_url=graph.base + "/",
                     lock_url=lock.base + "/", wariness=wariness[i], interval=1, boot_delay=2)
            nodes.append(n)
        for n in nodes:
            n.start()
            started.append(n)

        start = int(time.time()) + 3
        print(f"==> scheduling the rollout of {fx.version(1)}: from 0% at +3 s to 100% over {minutes} min")
        fx.write_updates(rollouts={1: {"start_epoch": start, "start_percentage": 0.0,
                                       "duration_minutes": minutes}})

        names = [n.name for n in nodes]
        by_uuid = {n.uuid: n.name for n in nodes}
        print()
        print("  time  " + "".join(f"{name:<26}" for name in names) + "lock holder")
        last, t0, deadline = None, time.monotonic(), time.monotonic() + timeout
        while True:
            cells, holder, released = [], "-", 0
            for n in nodes:
                try:
                    st = n.status()
                    released += st["lock"]["state"] == "released"
                    booted = short(st["deployments"]["booted"]["version"])
                    staged = st["deployments"]["staged"]
                    state = {"no_new_update": "idle", "reported_steady": "idle", "update_available": "downloading",
                             "update_staged": "staged " + short(staged["version"]) if staged else "staged",
                             "update_finalized": "rebooting", "end": "rebooting"}.get(st["state"], st["state"])
                    cells.append(f"{booted} {state}")
                except (OSError, ValueError, KeyError, TypeError):
                    cells.append("(rebooting)" if n.reboots() else "(booting)")
            try:  # the lock server's own record of who holds the slot
                g = lock.admin("GET", "/default", "demo-admin-token").json()
                ids = [h["id"] if isinstance(h, dict) else h for h in g.get("holders", [])]
                holder = ",".join(by_uuid.get(i, i[:8]) for i in ids) or "-"
            except (OSError, ValueError, KeyError):
                pass
            row = "".join(f"{c:<26}" for c in cells) + holder
            if row != last:
                print(f"{time.monotonic() - t0:5.0f}s " + row, flush=True)
                last = row
            # done: every node answered, reported steady state (slot released) and boots the new release
            done = released == len(nodes) and all(n.booted_index() == 1 for n in nodes)
            if done:
                break
            if time.monotonic() > deadline:
                print("demo: the fleet did not converge in time; agent logs:")
                for n in nodes:
                    print(f"--- {n.name} ---\n" + n.logs()[-3000:])
                return 1
            time.sleep(0.2)

        print()
        print("==> every node runs " + fx.version(1) + "; each kept " + fx.version(0) + " for rollback")
        for n in nodes:
            deps = n.deployments()
            print(f"    {n.name}: " + ", ".join(f"[{i}] {d.version}" for i, d in enumerate(deps)) +
                  f"  (rebooted {n.reboots()}x)")
        print()
        print(f"==> upkeep status on {nodes[0].name}")
        subprocess.run([str(build / "src/cli/upkeep"), "status", "--socket", str(nodes[0].dir / "status.sock")],
                       check=False)
        print()
        print("==> upkeep lock status")
        subprocess.run([str(build / "src/cli/upkeep"), "lock", "status", "--url", lock.base, "--token-file",
                        str(work / "lock" / "admin.token")], check=False)
        takes = lock.logs().count(" took a slot")
        print()
        print(f"demo finished: {n_nodes} nodes updated one at a time ({takes} lock grants, never two at once), "
              "stopping everything.")
        return 0
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
