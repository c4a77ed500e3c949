#!/usr/bin/python3
"""demo-fleet — the whole Upkeep loop on one machine, embedded defaults, no external services.

It builds three releases of a small OSTree OS, serves the repository over loopback HTTP, starts upkeep-graph
on Fedora CoreOS-format metadata describing them (taking outcome reports, with a safety policy) and
upkeep-lock on its SQLite default with one slot, and boots a fleet of nodes (test sysroots) on the first
release with an upkeep-agent each (strategy fleet_lock, "reboot" = the agent restarts on the new default
deployment, a health check that the second release breaks). Then:
  1. the second release rolls out: the first node offered it reboots into it, its health check fails, it
     rolls back, remembers the release as bad and reports it; upkeep-graph pauses the rollout, so no other
     node is offered it;
  2. a fixed third release rolls out to every node, one at a time.

usage: demo-fleet.py BUILD_DIR   (env: DEMO_NODES=5, DEMO_ROLLOUT_MINUTES=1, DEMO_TIMEOUT=300)
"""
import html
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

import osfixture  # noqa: E402
from agentutil import FAIL_ON_CHECK, PAUSE_AT_FIRST_FAILURE, Node, start_graph, start_lock  # noqa: E402,E501




def short(version):
    return version.rsplit(".", 2)[-2] + "." + version.rsplit(".", 1)[-1] if version else "-"


def cell(n):
    try:
        st = n.status()
        booted = short(st["deployments"]["booted"]["version"])
        staged = st["deployments"]["staged"]
        health = (st.get("health") or {}).get("state", "")
        if health in ("checking", "stabilizing", "rechecking", "rebooting", "rolling_back", "manual"):
            return f"{booted} {health}"
        if health == "recovered" and st.get("bad_releases"):
            return f"{booted} rolled back"
        state = {"no_new_update": "idle", "reported_steady": "idle", "update_available": "downloading",
                 "update_staged": "staged " + short(staged["version"]) if staged else "staged",
                 "update_finalized": "rebooting", "end": "rebooting"}.get(st["state"], st["state"])
        return f"{booted} {state}"
    except (OSError, ValueError, KeyError, TypeError):
        return "(rebooting)" if n.reboots() else "(booting)"


def watch(nodes, lock, done, timeout):
    """Prints a row whenever a node's state or the lock holder changes, until done() or the timeout."""
    by_uuid = {n.uuid: n.name for n in nodes}
    print()
    print("  time  " + "".join(f"{n.name:<24}" for n in nodes) + "lock holder")
    last, t0, deadline = None, time.monotonic(), time.monotonic() + timeout
    while True:
        cells, holder = [cell(n) for n in nodes], "-"
        try:  # the lock server's own record of who holds the slot
            g = lock.admin("GET", "/default", "demo-admin-token").json()
            ids = [h["id"] if isinstance(h, dict) else h for h in g.get("holders", [])]
            holder = ",".join(by_uuid.get(i, i[:8]) for i in ids) or "-"
        except (OSError, ValueError, KeyError):
            pass
        row = "".join(f"{c:<24}" for c in cells) + holder
        if row != last:
            print(f"{time.monotonic() - t0:5.0f}s " + row, flush=True)
            last = row
        if done():
            print()
            return True
        if time.monotonic() > deadline:
            print("demo: the fleet did not get there in time; agent logs:")
            for n in nodes:
                print(f"--- {n.name} ---\n" + n.logs()[-3000:])
            return False
        time.sleep(0.2)


def steady(n, index):
    try:
        st = n.status()
        return (n.booted_index() == index and st["lock"]["state"] == "released"
                and st["health"]["state"] in ("succeeded", "recovered", "steady"))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def rollouts(graph):
    return {(x["stream"], x["release"]): x for x in graph.get("/v1/rollouts").json()["rollouts"]}


def main():
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
    n_nodes = int(os.environ.get("DEMO_NODES", "5"))
    minutes = int(os.environ.get("DEMO_ROLLOUT_MINUTES", "1"))
    timeout = float(os.environ.get("DEMO_TIMEOUT", "300"))
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
        print("==> building three releases of a small OSTree OS (osname testos)")
        fx = osfixture.build(work / "os", releases=3, rollouts={1: None, 2: None})
        for r, what in zip(fx.releases, ("booted everywhere", "BAD: breaks the app", "the fix")):
            print(f"    {r.version}  commit {r.checksum[:16]}…  {what}")
        srv = osfixture.RepoServer(fx.dir)
        started.append(srv)
        print(f"    repository served at {srv.url}")

        print("==> starting upkeep-lock on its embedded SQLite backend, one reboot slot, 2 s settle delay")
        (work / "lock").mkdir()
        (work / "lock" / "admin.token").write_text("demo-admin-token\n")
        (work / "lock" / "admin.token").chmod(0o600)
        lock = start_lock(build, work, f'[auth]\nadmin_token_file = "{work / "lock" / "admin.token"}"\n'
                                       "[lock]\ndefault_slots = 1\ndefault_settle_secs = 2\n")
        started.append(lock)
        print(f"    {lock.base}")

        print("==> starting upkeep-graph (Fedora CoreOS formats), taking outcome reports; policy: pause a "
              "rollout at its first failure; a status page showing the lock groups too")
        policy = PAUSE_AT_FIRST_FAILURE.format(db=work / "graph" / "reports.db", stream=fx.stream)
        policy += (f'[status]\nlock_admin_url = "{lock.base}"\n'
                   f'lock_admin_token_file = "{work / "lock" / "admin.token"}"\n')
        graph = start_graph(build, work, fx, policy)
        started.append(graph)
        print(f"    {graph.base}/v1/graph   {graph.base}/v1/rollouts   {graph.base}/metrics")
        print(f"    status page: {graph.base}/status")

        wariness = [round((i + 0.5) / n_nodes, 2) for i in range(n_nodes)]
        print(f"==> booting {n_nodes} nodes on {fx.version(0)}, each with an upkeep-agent (strategy fleet_lock, "
              "wariness " + ", ".join(map(str, wariness)) + ", a required health check of the app, "
              "1 boot attempt, outcome reports to upkeep-graph)")
        nodes = []
        for i in range(n_nodes):
            n = Node(build, work, f"node{i + 1}", fx, srv.url, 0, graph_url=graph.base + "/",
                     lock_url=lock.base + "/", wariness=wariness[i], interval=1, boot_delay=2,
                     health={"max_boot_attempts": 1},
                     extra=f'report_url = "{graph.base}/v1/report"\n')
            n.add_check("etc/upkeep/check/required.d/50-app.sh",
                        FAIL_ON_CHECK.format(sysroot=n.sysroot, bad=fx.checksum(1)))
            nodes.append(n)
        for n in nodes:
            n.start()
            started.append(n)

        bad, fixed = fx.version(1), fx.version(2)
        first = round(wariness[0] + 0.05, 2)
        print(f"==> 1. rolling out {bad}: {first:.0%} of the fleet at once, the rest over {5 * minutes} min")
        fx.write_updates(rollouts={1: {"start_epoch": int(time.time()), "start_percentage": first,
                                       "duration_minutes": 5 * minutes}, 2: None})
        # (until the graph has read the new metadata, the release is not among its rollouts)
        if not watch(nodes, lock,
                     lambda: steady(nodes[0], 0) and rollouts(graph).get((fx.stream, bad), {}).get("paused"), timeout):
            return 1
        st = nodes[0].status()
        h = st["health"]
        print(f"    {nodes[0].name} rolled back: {h['reason']}")
        for c in h["checks"]:
            print(f"      check {c['name']}: {'ok' if c['ok'] else 'FAILED'}: {c['output'].strip()}")
        print(f"    {nodes[0].name} remembers as bad: " +
              ", ".join(f"{b['version']} ({b['outcome']})" for b in st["bad_releases"]))
        ro = rollouts(graph)[(fx.stream, bad)]
        print(f"    upkeep-graph paused the rollout of {bad} at {ro['frozen_percentage']:.0%}: {ro['reason']}")
        print(f"    (the metadata's ramp goes on, the pause holds: see {graph.base}/v1/rollouts)")
        page = urllib.request.urlopen(f"{graph.base}/status", timeout=10).read().decode()
        shown = "paused" in page and html.escape(ro["reason"].split(" (")[0], quote=False) in page
        print(f"    the status page shows the pause and why: {graph.base}/status"
              + ("" if shown else "  (NOT FOUND on the page)"))
        if not shown:
            return 1
        others = [n.name for n in nodes[1:] if n.booted_index() == 0 and n.reboots() == 0]
        print(f"    never offered {bad}, still on {fx.version(0)} without a reboot: " + ", ".join(others))

        print(f"==> 2. rolling out the fixed {fixed}: from 0% at +3 s to 100% over {minutes} min")
        fx.write_updates(rollouts={1: {"start_epoch": int(time.time()), "start_percentage": first,
                                       "duration_minutes": 5 * minutes},
                                   2: {"start_epoch": int(time.time()) + 3, "start_percentage": 0.0,
                                       "duration_minutes": minutes}})
        if not watch(nodes, lock, lambda: all(steady(n, 2) for n in nodes), timeout):
            return 1

        print("==> every node runs " + fixed + "; each kept its previous release for rollback")
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
        print()
        print("==> outcome reports upkeep-graph counted")
        for line in graph.get("/metrics").text.splitlines():
            if line.startswith("upkeep_graph_reports_total{"):
                print("    " + line)
        takes = lock.logs().count(" took a slot")
        print()
        print(f"demo finished: the bad release stopped itself after one node; the fix reached all {n_nodes} "
              f"nodes one at a time ({takes} lock grants, never two at once). Stopping everything.")
        return 0
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
