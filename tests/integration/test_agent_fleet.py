"""upkeep-agent with real pieces: an OSTree archive repo of releases served over loopback HTTP, upkeep-graph on
Fedora CoreOS-format metadata describing them, upkeep-lock (SQLite, one slot), and agents on test sysroots
whose reboot command restarts the agent."""
import json
import socket
import subprocess
import time

import pytest

import osfixture
from agentutil import Node, agent_config, lock_history
from graphutil import DocServer


@pytest.fixture
def os3(tmp_path):
    """Three releases, the middle one a barrier, served over HTTP, with upkeep-graph in front."""
    fx = osfixture.build(tmp_path / "os", releases=3, barrier=[1])
    srv = osfixture.RepoServer(fx.dir)
    yield fx, srv
    srv.stop()


def stop_all(nodes):
    codes = [n.stop() for n in nodes]
    for n in nodes:
        assert not n.crashes, f"{n.name} crashed: {n.crashes}\n{n.logs()}"
    return codes


def test_fleet_converges_through_barrier(build_dir, tmp_path, os3, graph, lock):
    """Three nodes on release 0 reach release 2 through the barrier (two reboots each), never more than one
    rebooting at a time (from the lock server's records), each keeping its previous deployment."""
    fx, srv = os3
    nodes = [Node(build_dir, tmp_path, f"node{i}", fx, srv.url, 0, graph_url=graph.base + "/",
                  lock_url=lock.base + "/") for i in range(3)]
    for n in nodes:
        n.start()
    try:
        for n in nodes:
            n.wait_for(lambda n=n: n.booted_index() == 2 and n.status()["lock"]["state"] == "released",
                       timeout=150, what="release 2 booted and the slot released")
    finally:
        stop_all(nodes)
    for n in nodes:
        deps = n.deployments()
        assert [d.index for d in deps] == [2, 1], (n.name, deps)  # the previous one kept for rollback
        assert n.reboots() == 2, (n.name, n.reboots())  # 0 -> 1 (barrier) -> 2
    peak, events, holders = lock_history(lock.logs())
    assert peak == 1, events
    assert not holders, holders
    assert len([e for e in events if e[0] == "take"]) == 6, events
    # every reboot happened while that node held the slot: takes and releases alternate per node
    for n in nodes:
        mine = [e[0] for e in events if e[1] == n.uuid]
        assert mine == ["take", "release"] * 2, (n.name, mine)


def test_status_metrics_and_cli(build_dir, tmp_path, os3, graph):
    """A node with the immediate strategy: `upkeep status` and the metrics socket show what it does."""
    fx, srv = os3
    n = Node(build_dir, tmp_path, "solo", fx, srv.url, 1, graph_url=graph.base + "/", strategy="immediate")
    n.start()
    try:
        n.wait_for(lambda: n.booted_index() == 2, timeout=60, what="release 2")
        n.wait_for(lambda: n.status()["state"] == "no_new_update", timeout=30, what="no_new_update")
        st = n.status()
        assert st["deployments"]["booted"]["version"] == fx.version(2)
        assert st["deployments"]["rollback"]["version"] == fx.version(1)
        assert st["deployments"]["staged"] is None
        assert st["node"]["uuid"] == n.uuid and st["node"]["stream"] == "stable"
        assert st["strategy"]["name"] == "immediate"
        assert st["lock"]["state"] == "unused"
        assert st["last_check"]["result"].startswith("no update")
        out = subprocess.run([str(build_dir / "src/cli/upkeep"), "status", "--socket", str(n.dir / "status.sock")],
                             capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        assert f"Booted:         {fx.version(2)} ({fx.checksum(2)[:12]})" in out.stdout, out.stdout
        assert f"Rollback:       {fx.version(1)}" in out.stdout, out.stdout
        assert "State:          no_new_update" in out.stdout
        js = subprocess.run([str(build_dir / "src/cli/upkeep"), "status", "--json", "--socket",
                             str(n.dir / "status.sock")], capture_output=True, text=True, timeout=20)
        assert json.loads(js.stdout)["status"]["state"] == "no_new_update"
        assert n.metric("upkeep_agent_cincinnati_update_checks_total") >= 1
        assert n.metric("upkeep_agent_os_deploy_attempts_total") == 0  # after the reboot: a fresh agent
        assert n.metric("upkeep_agent_updates_strategy_mode", strategy="immediate") == 1
        assert n.metric("upkeep_agent_identity_os_info", os_version=fx.version(2), stream="stable") == 1
        assert n.metric("upkeep_agent_cincinnati_graph_nodes_count") == 3
        # steady-state polls are conditional: the graph has not changed, upkeep-graph answers 304 (no body)
        # and the worker uses the answer it kept, so every check still sees the whole graph
        checks = n.metric("upkeep_agent_cincinnati_update_checks_total")
        n.wait_for(lambda: (graph.metric("upkeep_graph_requests_total", stream="stable", code="304") or 0) >= 2,
                   timeout=30, what="two 304 answers")
        n.wait_for(lambda: n.metric("upkeep_agent_cincinnati_update_checks_total") >= checks + 2, timeout=30,
                   what="two more checks")
        assert n.metric("upkeep_agent_cincinnati_graph_nodes_count") == 3
        assert sum(float(line.rpartition(" ")[2]) for line in n.metrics().splitlines()
                   if line.startswith("upkeep_agent_cincinnati_update_checks_errors_total")) == 0
        assert n.status()["state"] == "no_new_update"
        assert (n.dir / "state" / "graph-answer.cache").read_bytes().startswith(b"upkeep-graph-cache 1\n")
        # bad requests on the status socket get an error, and the agent carries on
        assert n.call("reboot") == {"ok": False, "error": "unknown method 'reboot' (status, update-now, forget-release)"}
        bad = subprocess.run([str(build_dir / "src/cli/upkeep"), "status", "--socket", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=20)
        assert bad.returncode == 1 and "cannot reach upkeep-agent" in bad.stderr
        assert n.running()
    finally:
        stop_all([n])


def test_update_now_ignores_wariness(build_dir, tmp_path, os3, graph):
    """A rollout open to 10% of the fleet: a wary node (0.9) is not offered it until `upkeep update-now`."""
    fx, srv = os3
    fx.write_updates(rollouts={1: {"start_epoch": int(time.time()) - 60, "start_percentage": 0.1,
                                   "duration_minutes": 100000}, 2: None})
    time.sleep(2.5)  # upkeep-graph refreshes every second
    n = Node(build_dir, tmp_path, "wary", fx, srv.url, 0, graph_url=graph.base + "/", strategy="periodic",
             wariness=0.9, extra='[[updates.periodic.window]]\ndays = ["Mon"]\nstart_time = "00:00"\n'
                                 'length_minutes = 1\n[updates.periodic]\ntime_zone = "UTC"\n')
    # a one-minute window: the node stages but (almost always) does not reboot during the test
    n.start()
    try:
        n.wait_for(lambda: n.metric("upkeep_agent_cincinnati_update_checks_total") >= 3, timeout=30,
                   what="three checks")
        assert n.status()["state"] == "no_new_update"
        out = subprocess.run([str(build_dir / "src/cli/upkeep"), "update-now", "--socket",
                              str(n.dir / "status.sock")], capture_output=True, text=True, timeout=20)
        assert out.returncode == 0 and "Update check started." in out.stdout, (out.stdout, out.stderr)
        n.wait_for(lambda: n.status()["deployments"]["staged"] is not None, timeout=30, what="staged")
        st = n.status()
        assert st["deployments"]["staged"]["version"] == fx.version(1)
        # download progress: what the stage fetched, in status and metrics
        assert st["download"]["active"] is False and st["download"]["version"] == fx.version(1)
        assert st["download"]["bytes"] > 0 and st["download"]["objects_fetched"] > 0
        assert n.metric("upkeep_agent_download_bytes_total") == st["download"]["bytes"]
        assert n.metric("upkeep_agent_download_objects_total") == st["download"]["objects_fetched"]
        assert st["strategy"]["windows"] and st["strategy"]["next_window"]["start"]
        assert "rollout_wariness=0.000000" in n.logs()
    finally:
        stop_all([n])


def test_deadend_writes_motd_and_stops(build_dir, tmp_path, os3, graph):
    fx, srv = os3
    fx.write_updates(barrier=[1], deadend=[0])
    time.sleep(2.5)
    n = Node(build_dir, tmp_path, "dead", fx, srv.url, 0, graph_url=graph.base + "/", strategy="immediate")
    n.start()
    try:
        motd = n.dir / "motd.d" / "85-upkeep-deadend.motd"
        n.wait_for(motd.exists, timeout=30, what="the dead-end MOTD")
        text = motd.read_text()
        assert text.startswith("This release is a dead-end and will not further auto-update: "), text
        st = n.status()
        assert st["dead_end"] is not None and st["state"] == "no_new_update"
        assert n.metric("upkeep_agent_cincinnati_booted_release_is_deadend") == 1
        time.sleep(2)
        assert [d.index for d in n.deployments()] == [0] and n.reboots() == 0
        # no longer a dead-end: the MOTD goes away and the node updates
        fx.write_updates(barrier=[1])
        n.wait_for(lambda: not motd.exists(), timeout=30, what="the MOTD removed")
        n.wait_for(lambda: n.booted_index() == 2, timeout=60, what="release 2")
    finally:
        stop_all([n])


def downgrade_graph(fx):
    """A hand-made graph offering only an edge from release 1 back to release 0."""
    nodes = [{"version": fx.version(i), "payload": fx.checksum(i),
              "metadata": {"org.fedoraproject.coreos.scheme": "checksum",
                           "org.fedoraproject.coreos.releases.age_index": str(i)}} for i in range(2)]
    return json.dumps({"nodes": nodes, "edges": [[1, 0]]}).encode()


def test_downgrade_refused(build_dir, tmp_path, os3):
    fx, srv = os3
    doc = DocServer()
    doc.routes["/v1/graph"] = (200, downgrade_graph(fx))
    n = Node(build_dir, tmp_path, "down", fx, srv.url, 1, graph_url=doc.url + "/", strategy="immediate")
    n.start()
    try:
        n.wait_for(lambda: "refusing downgrade" in n.logs(), timeout=30, what="the refusal")
        st = n.status()
        assert st["state"] == "no_new_update" and "downgrade" in st["last_check"]["result"]
        assert [d.index for d in n.deployments()] == [1] and n.reboots() == 0
    finally:
        stop_all([n])
        doc.close()


def test_stage_failures_abandon_target(build_dir, tmp_path, os3, graph):
    """The repository answers 500: 12 failed attempts, then the release is abandoned (and not retried)."""
    fx, srv = os3
    n = Node(build_dir, tmp_path, "fail", fx, srv.url, 0, graph_url=graph.base + "/", strategy="immediate")
    srv.fail_all = True
    n.start()
    try:
        n.wait_for(lambda: "abandoning" in n.logs(), timeout=60, what="the target abandoned")
        assert n.metric("upkeep_agent_os_deploy_failures_total") == 12
        time.sleep(3)
        assert n.metric("upkeep_agent_os_deploy_attempts_total") == 12  # denylisted: not tried again
        st = n.status()
        assert st["state"] == "no_new_update"
        assert "staging" in st["last_error"]["message"]
        assert [d.index for d in n.deployments()] == [0] and n.reboots() == 0
        assert n.running()
    finally:
        srv.fail_all = False
        stop_all([n])


def test_corrupted_object_fails_cleanly(build_dir, tmp_path, os3, graph):
    fx, srv = os3
    n = Node(build_dir, tmp_path, "corrupt", fx, srv.url, 0, graph_url=graph.base + "/", strategy="immediate")
    before = [d.key() for d in n.deployments()]
    srv.corrupt(".filez")
    n.start()
    try:
        n.wait_for(lambda: n.metric("upkeep_agent_os_deploy_failures_total") >= 2, timeout=60,
                   what="failed stages")
        assert [d.key() for d in n.deployments()] == before
        assert n.status()["last_error"]["message"].startswith("staging")
        assert n.reboots() == 0 and n.running()
        # the repository heals: the node updates
        srv.clear_faults()
        n.wait_for(lambda: n.booted_index() == 1, timeout=60, what="release 1")
    finally:
        stop_all([n])


def test_servers_down_or_garbage(build_dir, tmp_path, os3):
    """Graph server down, then garbage; lock server down, then garbage: the agent logs, counts, retries, and
    never reboots without the lock."""
    fx, srv = os3
    doc = DocServer()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead_port = s.getsockname()[1]
    s.close()
    doc.post_routes = {"/v1/steady-state": (200, b"")}
    n = Node(build_dir, tmp_path, "faults", fx, srv.url, 0, graph_url=f"http://127.0.0.1:{dead_port}/",
             lock_url=doc.url + "/")
    n.start()
    try:
        n.wait_for(lambda: (n.metric("upkeep_agent_cincinnati_update_checks_errors_total",
                                     kind="client_failed_request") or 0) >= 2,
                   timeout=30, what="connection errors")
        # garbage graph
        n.stop()
        doc.routes["/v1/graph"] = (200, b"\x00garbage{")
        n.write_config(agent_config(graph_url=doc.url + "/", lock_url=doc.url + "/", sysroot=n.sysroot,
                                    node_dir=n.dir, node_uuid=n.uuid))
        n.start()
        n.wait_for(lambda: (n.metric("upkeep_agent_cincinnati_update_checks_errors_total",
                                     kind="client_failed_json_decoding") or 0) >= 2,
                   timeout=30, what="graph parse errors")
        # a real graph, but the lock server answers garbage to pre-reboot and steady-state
        doc.routes["/v1/graph"] = (200, json.dumps({
            "nodes": [{"version": fx.version(i), "payload": fx.checksum(i),
                       "metadata": {"org.fedoraproject.coreos.releases.age_index": str(i)}} for i in range(2)],
            "edges": [[0, 1]]}).encode())
        doc.post_routes = {"/v1/steady-state": (200, b""), "/v1/pre-reboot": (500, b"<html>oops</html>")}
        n.wait_for(lambda: n.status()["deployments"]["staged"] is not None, timeout=60, what="staged")
        # (the error counter appears with the first error of its kind)
        n.wait_for(lambda: (n.metric("upkeep_agent_strategy_fleet_lock_errors_total", **{"api": "pre-reboot"},
                                     kind="http_status") or 0) >= 2, timeout=30, what="lock errors")
        assert n.reboots() == 0 and [d.index for d in n.deployments()][0] == 0
        assert n.status()["lock"]["state"] == "error"
        # the lock server answers 404 to everything: still no reboot
        doc.post_routes = {}
        time.sleep(3)
        assert n.reboots() == 0 and n.running()
        # the lock is granted: the node reboots into release 1
        doc.post_routes = {"/v1/steady-state": (200, b""), "/v1/pre-reboot": (200, b"")}
        n.wait_for(lambda: n.booted_index() == 1 and n.reboots() == 1, timeout=60, what="release 1")
    finally:
        stop_all([n])
        doc.close()


def test_killed_during_download_resumes(build_dir, tmp_path, os3, graph):
    """kill -9 while the pull is in flight: the sysroot stays consistent and the next start finishes the job."""
    fx, srv = os3
    n = Node(build_dir, tmp_path, "kill", fx, srv.url, 0, graph_url=graph.base + "/", strategy="immediate")
    before = [d.key() for d in n.deployments()]
    srv.delay = 0.3  # every object takes a while
    n.start(supervise=False)
    try:
        n.wait_for(lambda: n.status()["download"]["active"], timeout=30, what="a download in progress")
        n.kill9()
        after = n.deployments()
        # the booted deployment is still the default; at most a complete new deployment was added after it
        # (when the kill landed after the deploy), never a half-written one
        assert after[0].key() == before[0], (before, after)
        assert len(after) <= 2 and all(d.index in (0, 1) for d in after), after
        fsck = subprocess.run(["ostree", "fsck", "--repo", str(n.sysroot / "ostree/repo")], capture_output=True,
                              text=True, env=dict(osfixture.os.environ, **osfixture.OSTREE_ENV))
        assert fsck.returncode == 0, fsck.stderr
        srv.delay = 0
        n.start()
        n.wait_for(lambda: n.booted_index() == 1, timeout=60, what="release 1 after the restart")
    finally:
        srv.delay = 0
        stop_all([n])


def test_bad_config_is_a_startup_error(build_dir, tmp_path):
    n = Node(build_dir, tmp_path, "badconf", None, None, 0,
             config_text='[updates]\nstrategy = "sometimes"\n[cincinnati]\nbase_url = "http://x/"\n')
    out = subprocess.run([str(build_dir / "src/agent/upkeep-agent"), "--root", str(n.dir / "root")],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 1
    assert "50-test.toml:2: updates.strategy: must be one of" in out.stderr, out.stderr
    n.write_config('[updates]\nstrategy = "immediate"\nbogus = 1\n[cincinnati]\nbase_url = "http://x/"\n'
                   '[upkeep]\nsysroot = "/nonexistent/sysroot"\n')
    out = subprocess.run([str(build_dir / "src/agent/upkeep-agent"), "--root", str(n.dir / "root")],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 1
    assert "unknown key" in out.stderr and "bogus" in out.stderr, out.stderr
    assert "/nonexistent/sysroot" in out.stderr, out.stderr


@pytest.mark.parametrize("window_open", [True, False])
def test_fleet_lock_inside_periodic_windows(build_dir, tmp_path, os3, graph, lock, window_open):
    """Upkeep's combination (Zincati cannot): reboot only inside a window AND holding a slot. Outside the
    window the node stages, never asks for the lock and never reboots."""
    fx, srv = os3
    now = time.gmtime()
    day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][now.tm_wday]
    if window_open:  # the whole week
        window = 'days = ["Mon"]\nstart_time = "00:00"\nlength_minutes = 10080\n'
    else:  # one minute, twelve hours from now
        h = (now.tm_hour + 12) % 24
        window = f'days = ["{day}"]\nstart_time = "{h:02d}:00"\nlength_minutes = 1\n'
    n = Node(build_dir, tmp_path, "win", fx, srv.url, 1, graph_url=graph.base + "/", lock_url=lock.base + "/")
    # a second fragment, as an operator would drop it in (windows accumulate across fragments)
    n.write_config('[updates.fleet_lock]\nonly_in_periodic_windows = true\n[updates.periodic]\ntime_zone = "UTC"\n'
                   '[[updates.periodic.window]]\n' + window, name="60-windows.toml")
    n.start()
    try:
        st = None
        n.wait_for(lambda: n.status()["deployments"]["staged"] is not None or n.booted_index() == 2, timeout=60,
                   what="staged or updated")
        if window_open:
            n.wait_for(lambda: n.booted_index() == 2 and n.status()["lock"]["state"] == "released", timeout=60,
                       what="release 2 with the slot released")
            assert n.reboots() == 1
            assert n.status()["strategy"]["name"] == "fleet_lock+periodic"
            # the restarted agent (after the "reboot") has not been asked yet; its predecessor's counts
            # are gone with it, as Zincati's are
            assert n.metric("upkeep_agent_strategy_can_finalize_responses", response="error") == 0
        else:
            time.sleep(3)
            st = n.status()
            assert st["state"] == "update_staged" and st["strategy"]["in_window"] is False, st
            assert n.reboots() == 0 and n.booted_index() == 1
            assert (n.metric("upkeep_agent_strategy_fleet_lock_requests_total", **{"api": "pre-reboot"}) or 0) == 0
            # outside the window the strategy says no, without asking the lock server
            assert n.metric("upkeep_agent_strategy_can_finalize_responses", response="deny") >= 1
            assert n.metric("upkeep_agent_strategy_can_finalize_responses", response="allow") == 0
            assert "outside maintenance window" in st["status_text"] or st["lock"]["state"] != "held", st
    finally:
        stop_all([n])
