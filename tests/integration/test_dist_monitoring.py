"""dist/grafana/upkeep.json and dist/prometheus/upkeep-alerts.yml against the real daemons: the dashboard is a
Grafana JSON model on a Prometheus datasource variable, the rules file is valid YAML of Prometheus rule groups
(and passes `promtool check rules` when promtool is installed), every metric name their PromQL uses is one
upkeep-graph, upkeep-lock or upkeep-agent really exports (their live /metrics) or documents (docs/*.md), and
every metric family the graph and lock servers export has a panel."""
import json
import re
import shutil
import subprocess
import time

import pytest
import requests
import yaml

from conftest import TOP
from graphutil import GraphServer
from lockutil import LockServer
from test_agent_socket import start_agent

DASHBOARD = TOP / "dist" / "grafana" / "upkeep.json"
ALERTS = TOP / "dist" / "prometheus" / "upkeep-alerts.yml"
PROMETHEUS_OWN = {"up"}  # what Prometheus itself records for every scrape
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "inf", "nan"}
TOKEN = "adm1n"
NEW = "33.20201214.3.1"


def dashboard():
    return json.loads(DASHBOARD.read_text())


def alert_rules():
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def dashboard_exprs():
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def metric_names(expr):
    """The metric names a PromQL expression reads: identifiers that are not functions, keywords, label names
    in by/without/on/ignoring lists, label matchers, strings or durations."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w$.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()", e):
        if m.group(1) not in KEYWORDS:
            names.add(m.group(1))
    return names


def test_metric_names_parser():
    assert metric_names('sum by (code) (rate(upkeep_graph_requests_total{job=~"$graph_job"}[$__rate_interval]))') \
        == {"upkeep_graph_requests_total"}
    assert metric_names('time() - max by (instance, stream) (x_seconds) > 600 and on (a) y == 1') == {"x_seconds", "y"}
    assert metric_names('absent(up{job="upkeep-graph"} == 1)') == {"up"}


def family(name):
    return re.sub(r"_(bucket|sum|count)$", "", name)


def exported(text):
    """Metric names in Prometheus text: the samples' and the families' (# TYPE)."""
    names = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) ", line) or re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", line)
        if m:
            names.add(m.group(1))
    return names


def documented():
    """upkeep_* and process_* names in docs/*.md, with brace lists expanded (upkeep_agent_download_{a,b}_total)."""
    names = set()
    for doc in (TOP / "docs").glob("*.md"):
        for m in re.finditer(r"\b((?:upkeep|process)_[a-z0-9_]*(?:\{[a-z0-9_,]+\}[a-z0-9_]*)*)", doc.read_text()):
            parts = [m.group(1)]
            while any("{" in p for p in parts):
                out = []
                for p in parts:
                    b = re.search(r"\{([a-z0-9_,]+)\}", p)
                    out += [p[:b.start()] + alt + p[b.end():] for alt in b.group(1).split(",")] if b else [p]
                parts = out
            names.update(parts)
    return names


@pytest.fixture(scope="module")
def live(build_dir, shared_dir, tmp_path_factory):
    """The metric names each daemon exports with something in every family: a graph server with a report and
    a paused rollout, a lock server with a holder, and an agent."""
    w = tmp_path_factory.mktemp("graph")
    shutil.copy(shared_dir / "testdata/fcos/releases-2021-01-05.json", w / "releases.json")
    (w / "updates.json").write_text(json.dumps({"stream": "stable", "releases": [{"version": NEW, "metadata": {
        "rollout": {"start_epoch": int(time.time()) - 60, "start_percentage": 0.0, "duration_minutes": 60}}}]}))
    (w / "admin-token").write_text(TOKEN + "\n")
    g = GraphServer(build_dir, w, f"""
[streams.stable]
releases = "releases.json"
updates = "updates.json"
basearches = ["x86_64"]
[reports]
enabled = true
database = "{w}/reports.db"
[admin]
token_file = "{w}/admin-token"
""")
    lw = tmp_path_factory.mktemp("lock")
    lock = LockServer(build_dir, lw, f'[backend]\nsqlite_path = "{lw}/lock.db"\n[auth]\nadmin_token = "{TOKEN}"\n')
    try:
        g.wait_ready()
        assert g.graph(basearch="x86_64", stream="stable").status_code == 200
        r = requests.post(g.base + "/v1/report", headers={"Content-Type": "application/json"}, timeout=10,
                          data=json.dumps({"node": "1" * 32, "group": "default", "stream": "stable",
                                           "basearch": "x86_64", "from_version": "1", "to_version": NEW,
                                           "outcome": "rolled_back", "time": int(time.time())}))
        assert r.status_code == 202, r.text
        r = requests.post(g.base + "/v1/admin/pause", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10,
                          data=json.dumps({"stream": "stable", "release": NEW, "reason": "test"}))
        assert r.status_code == 200, r.text
        assert lock.lock("node-a").status_code == 200
        graph = exported(requests.get(g.base + "/metrics", timeout=10).text)
        lk = exported(requests.get(lock.base + "/metrics", timeout=10).text)
    finally:
        assert g.stop() == 0
        assert lock.stop() == 0
    mp = pytest.MonkeyPatch()
    at = tmp_path_factory.mktemp("agent")
    node, doc = start_agent(build_dir, at, mp)
    try:
        node.status()
        agent = exported(node.metrics())
    finally:
        node.stop()
        doc.close()
        mp.undo()
    return {"graph": graph, "lock": lk, "agent": agent}


def test_dashboard_model():
    d = dashboard()
    assert d["title"] and d["uid"] and isinstance(d["schemaVersion"], int)
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    rows = [p["title"] for p in d["panels"] if p["type"] == "row"]
    assert any("upkeep-graph" in t for t in rows) and any("upkeep-lock" in t for t in rows) \
        and any("upkeep-agent" in t for t in rows)
    for p in d["panels"]:
        pos = p["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}" and t["expr"].strip() and t["refId"], p["title"]
            assert metric_names(t["expr"]), (p["title"], t["expr"])
            for var in re.findall(r"\$(\w+)", t["expr"]):
                assert var in variables or var.startswith("__"), (p["title"], var)
    # No two panels overlap.
    cells = set()
    for p in d["panels"]:
        pos = p["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, p["title"]
                cells.add((x, y))


def test_alert_rules_model():
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    for r in rules:
        assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, r
        assert r["labels"]["severity"] in ("info", "warning", "critical"), r
        assert r["annotations"]["summary"] and r["annotations"]["description"], r
        assert metric_names(r["expr"]), r
        if "for" in r:
            assert re.fullmatch(r"\d+[smhd]", r["for"]), r
    exprs = {r["alert"]: r["expr"] for r in rules}
    # What the issue asks for: rollout paused, lock held too long, node rolled back, graph inputs stale, daemon down.
    assert "upkeep_graph_rollout_paused" in metric_names(exprs["UpkeepRolloutPaused"])
    assert "upkeep_lock_oldest_holder_age_seconds" in metric_names(exprs["UpkeepLockHeldTooLong"])
    assert "rolled_back" in exprs["UpkeepNodeRolledBack"]
    assert "upkeep_graph_last_refresh_timestamp_seconds" in metric_names(exprs["UpkeepGraphInputsStale"])
    assert metric_names(exprs["UpkeepDaemonDown"]) == {"up"}


def test_every_metric_name_exists(live):
    known = live["graph"] | live["lock"] | live["agent"] | PROMETHEUS_OWN
    docs = documented()
    used = {n for e in dashboard_exprs() + [r["expr"] for r in alert_rules()] for n in metric_names(e)}
    unknown = sorted(n for n in used if n not in known and family(n) not in docs)
    assert not unknown, f"not exported by any daemon nor documented: {unknown}"
    # The parser and the sets are not vacuous: a misspelt name would be caught.
    assert "upkeep_graph_rollout_pausd" not in known | docs


def test_dashboard_covers_every_server_metric(live):
    used = {family(n) for e in dashboard_exprs() for n in metric_names(e)}
    for component in ("graph", "lock"):
        missing = sorted({family(n) for n in live[component]} - used)
        assert not missing, f"upkeep-{component} metrics without a panel in dist/grafana/upkeep.json: {missing}"
    # The agent's: state, updates, health checks, can_finalize, rollbacks, reports (exported once reporting
    # is configured: documented).
    for name in ("upkeep_agent_state", "upkeep_agent_os_deploy_attempts_total", "upkeep_agent_health_checks_failed",
                 "upkeep_agent_strategy_can_finalize_responses", "upkeep_agent_rollbacks_total",
                 "upkeep_agent_reports_sent_total", "upkeep_agent_fleet_lock_held"):
        assert name in used and (name in live["agent"] or name in documented()), name
    assert "upkeep_agent_state" in live["agent"]


def test_promtool_check_rules(tmp_path):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool is not installed (Debian package prometheus, not in scripts/install-deps: ~100 MB)")
    r = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_meson_install_places_them(build_dir, tmp_path):
    dest = tmp_path / "dest"
    r = subprocess.run(["meson", "install", "-C", str(build_dir), "--no-rebuild", "--destdir", str(dest)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for name, src in (("upkeep.json", DASHBOARD), ("upkeep-alerts.yml", ALERTS)):
        found = list(dest.rglob(f"doc/upkeep/examples/{name}"))
        assert len(found) == 1 and found[0].read_bytes() == src.read_bytes(), found
