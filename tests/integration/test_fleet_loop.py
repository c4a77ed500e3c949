"""The fleet loop end to end (issues 13, 14, 15): real upkeep-agent nodes on test sysroots report their
outcomes to the real upkeep-graph, whose policy pauses a failing rollout at its current percentage, so a node
that had not been offered the release never is; and an agent that holds a bearer token for the lock server
(per-node tokens) takes and releases its slot with it."""
import json
import pathlib
import secrets
import time

import pytest

import osfixture
from agentutil import (FAIL_ON_CHECK, PAUSE_AT_FIRST_FAILURE, Node, lock_history, start_graph,
                       start_lock)



def ramp(start_percentage):
    return {"start_epoch": int(time.time()) - 60, "start_percentage": start_percentage,
            "duration_minutes": 100000}


@pytest.fixture
def os3(tmp_path):
    fx = osfixture.build(tmp_path / "os", releases=3)
    fx.write_updates(rollouts={1: ramp(0.5), 2: None})  # release 1 offered to half the fleet
    srv = osfixture.RepoServer(fx.dir)
    yield fx, srv
    srv.stop()


@pytest.fixture
def graph(build_dir, tmp_path, os3):
    """upkeep-graph taking reports, with a policy that pauses a rollout at its first failure."""
    fx, _ = os3
    policy = PAUSE_AT_FIRST_FAILURE.format(db=tmp_path / "graph" / "reports.db", stream=fx.stream)
    g = start_graph(build_dir, tmp_path, fx, policy)
    yield g
    g.stop()


def rollouts(graph):
    r = graph.get("/v1/rollouts")
    assert r.status_code == 200, r.text
    return {(x["stream"], x["release"]): x for x in r.json()["rollouts"]}


def offered(graph, fx, wariness):
    """The versions the graph offers a node of this wariness on release 0."""
    r = graph.get("/v1/graph", params={"basearch": fx.basearch, "stream": fx.stream, "rollout_wariness": wariness,
                                       "node_uuid": "0" * 32})
    g = r.json()
    frm = next(i for i, n in enumerate(g["nodes"]) if n["version"] == fx.version(0))
    return {g["nodes"][b]["version"] for a, b in g["edges"] if a == frm}


def stop(n):
    n.stop()
    assert not n.crashes, f"{n.name} crashed: {n.crashes}\n{n.logs()}"


def test_failing_release_reported_and_rollout_paused(build_dir, tmp_path, os3, graph, lock):
    fx, srv = os3
    report_url = graph.base + "/v1/report"
    early = Node(build_dir, tmp_path, "early", fx, srv.url, 0, graph_url=graph.base + "/", lock_url=lock.base + "/",
                 wariness=0.1, health={"max_boot_attempts": 1}, extra=f'report_url = "{report_url}"\n')
    early.add_check("etc/upkeep/check/required.d/10-app.sh",
                    FAIL_ON_CHECK.format(sysroot=early.sysroot, bad=fx.checksum(1)))
    late = Node(build_dir, tmp_path, "late", fx, srv.url, 0, graph_url=graph.base + "/", lock_url=lock.base + "/",
                wariness=0.9, extra=f'report_url = "{report_url}"\n')
    assert offered(graph, fx, 0.1) == {fx.version(1)} and offered(graph, fx, 0.9) == set()
    early.start()
    late.start()
    try:
        # the early node takes release 1, fails its check, rolls back and reports it
        early.wait_for(lambda: early.health()["state"] == "recovered"
                       and early.status()["lock"]["state"] == "released", timeout=180,
                       what="rolled back to release 0 and green")
        assert early.booted_index() == 0
        # queued before the reboot, sent by whichever agent process ran then (counted on the graph side)
        early.wait_for(lambda: graph.metric("upkeep_graph_reports_total", stream=fx.stream, release=fx.version(1),
                                            group="default", outcome="rolled_back") == 1, timeout=30,
                       what="the rolled_back report delivered")
        assert not list((early.dir / "state" / "reports").glob("r-*.json"))
        # sent through the worker: the resident daemon still maps no libcurl (docs/agent.md, "The worker")
        assert "libcurl" not in (pathlib.Path("/proc") / str(early.proc.pid) / "maps").read_text()
        ro = rollouts(graph)[(fx.stream, fx.version(1))]
        assert ro["paused"] is True, ro
        assert 0.45 < ro["frozen_percentage"] < 0.55, ro
        assert "1 of 1" in ro["reason"], ro
        assert "paused" in graph.logs()
        # the ramp reaches everyone in the metadata now, but the pause holds it where it was
        fx.write_updates(rollouts={1: ramp(1.0), 2: None})
        time.sleep(2)
        assert offered(graph, fx, 0.1) == {fx.version(1)}  # those that saw it keep it
        assert offered(graph, fx, 0.9) == set()  # nobody new
        assert late.booted_index() == 0 and late.reboots() == 0
        assert late.status()["bad_releases"] == []
        # the early node remembers release 1 and does not take it again although it is still offered to it
        assert [b["version"] for b in early.status()["bad_releases"]] == [fx.version(1)]
        reboots = early.reboots()
        time.sleep(3)
        assert early.reboots() == reboots and early.booted_index() == 0
        # release 2 opens for everyone: both nodes land on it, the early one through its bad release's gap
        fx.write_updates(rollouts={1: ramp(1.0), 2: {"start_percentage": 1.0}})
        for n in (early, late):
            n.wait_for(lambda n=n: n.booted_index() == 2 and n.health()["state"] == "succeeded", timeout=180,
                       what=f"{n.name} on release 2")
        early.wait_for(lambda: graph.metric("upkeep_graph_reports_total", release=fx.version(2),
                                            outcome="succeeded") == 2, timeout=30, what="both succeeded reports")
        # this boot's report (succeeded); the agent counts it once the server's answer is back
        early.wait_for(lambda: early.metric("upkeep_agent_reports_sent_total") == 1, timeout=30,
                       what="the succeeded report counted as sent")
        assert early.metric("upkeep_agent_reports_dropped_total") == 0
    finally:
        stop(early)
        stop(late)
    _, _, holders = lock_history(lock.logs())
    assert not holders


def test_reports_wait_for_a_server_that_is_down(build_dir, tmp_path, os3, lock):
    """The graph server that takes reports is down when the node finishes its update: the update is not
    delayed, the report waits in the spool (across an agent restart) and is delivered once a server answers."""
    fx, srv = os3
    fx.write_updates(rollouts={1: {"start_percentage": 1.0}, 2: None})
    g = start_graph(build_dir, tmp_path, fx)  # no [reports]: 404
    n = Node(build_dir, tmp_path, "node", fx, srv.url, 0, graph_url=g.base + "/", lock_url=lock.base + "/",
             extra='report_url = "http://127.0.0.1:9/v1/report"\n')  # nothing listens on port 9
    n.add_check("etc/upkeep/check/required.d/10-app.sh", "#!/bin/sh\necho ok\n")
    n.start()
    try:
        n.wait_for(lambda: n.booted_index() == 1 and n.health()["state"] == "succeeded", timeout=180,
                   what="release 1, green")
        n.wait_for(lambda: n.metric("upkeep_agent_reports_failures_total") >= 1, timeout=30,
                   what="a failed delivery")
        assert n.metric("upkeep_agent_reports_queued") == 1
        spooled = list((n.dir / "state" / "reports").glob("r-*.json"))
        assert len(spooled) == 1
        body = json.loads(spooled[0].read_text())
        assert body["outcome"] == "succeeded" and body["to_version"] == fx.version(1)
        assert body["from_version"] == fx.version(0) and body["node"] == n.uuid
    finally:
        stop(n)
        g.stop()


def test_agent_sends_its_lock_token(build_dir, tmp_path, os3, graph):
    """[upkeep] lock_token_file: the agent's bearer token for a lock server with per-node tokens; a node
    without its token is refused and never reboots."""
    fx, srv = os3
    fx.write_updates(rollouts={1: {"start_percentage": 1.0}, 2: None})
    good = Node(build_dir, tmp_path, "good", fx, srv.url, 0, graph_url=graph.base + "/", lock_url="LOCK")
    bad = Node(build_dir, tmp_path, "bad", fx, srv.url, 0, graph_url=graph.base + "/", lock_url="LOCK")
    (tmp_path / "lock").mkdir()
    tokens = tmp_path / "lock" / "node-tokens"
    tok = {n.uuid: secrets.token_hex(32) for n in (good, bad)}
    tokens.write_text("".join(f"{u} {t}\n" for u, t in tok.items()))
    tokens.chmod(0o600)
    lk = start_lock(build_dir, tmp_path, f'[auth]\nnode_tokens_file = "{tokens}"\n[lock]\ndefault_slots = 1\n')
    good_token = good.dir / "lock.token"
    good_token.write_text(tok[good.uuid] + "\n")
    good_token.chmod(0o600)
    wrong_token = bad.dir / "lock.token"
    wrong_token.write_text(tok[good.uuid] + "\n")  # another node's token
    wrong_token.chmod(0o600)
    for n, path in ((good, good_token), (bad, wrong_token)):
        cfg = (n.dir / "root" / "etc" / "upkeep" / "agent.d" / "50-test.toml")
        text = cfg.read_text().replace("LOCK", lk.base + "/") + f'lock_token_file = "{path}"\n'
        cfg.write_text(text)
    try:
        good.start()
        bad.start()
        good.wait_for(lambda: good.booted_index() == 1 and good.status()["lock"]["state"] == "released",
                      timeout=180, what="the node with its token updated")
        bad.wait_for(lambda: bad.status()["lock"]["state"] == "error" or
                     "403" in json.dumps(bad.status()["lock"]), timeout=60, what="the wrong token refused")
        assert bad.reboots() == 0 and bad.booted_index() == 0
        assert tok[good.uuid] not in good.logs() and tok[good.uuid] not in bad.logs()
    finally:
        stop(good)
        stop(bad)
        lk.stop()
