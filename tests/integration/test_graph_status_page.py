"""upkeep-graph's status page (GET /status) end to end: the real daemon with reports, a policy and an
upkeep-lock with an admin token; reports posted until the rollout pauses itself; then the page loaded in
headless Chromium (Debian's), its DOM checked against what /v1/rollouts and both daemons' /metrics say
(percentages, counts, pause reason, lock holders), and a screenshot kept in $UPKEEP_ARTIFACTS. Also: a lock
server that hangs or refuses never holds up a graph answer or the page, and the page's routes."""
import html.parser
import json
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest
import requests

from graphutil import DocServer, GraphServer, assert_error, copy_fcos
from lockutil import LockServer

NEW = "33.20201214.3.1"
OLD = "33.20201201.3.0"
LOCK_TOKEN = "l0ck-admin-token"
ARTIFACTS = pathlib.Path(os.environ.get("UPKEEP_ARTIFACTS", "/tmp/upkeep-artifacts"))

GRAPH_CONFIG = """
[streams.stable]
releases = "releases.json"
updates = "updates.json"
basearches = ["x86_64"]

[reports]
enabled = true
database = "{workdir}/reports.db"
per_minute = 1000

[[policy]]
stream = "stable"
failure_threshold_count = 2
failure_threshold_ratio = 0.05
min_sample = 5
{status}
"""
LOCK_CONFIG = """
[backend]
type = "sqlite"
sqlite_path = "{workdir}/lock.db"

[auth]
admin_token = "{token}"

[lock]
default_slots = 2
"""


# ---- a DOM to look at (what Chromium serialised) ----

class Element:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Element):
                yield from c.iter()

    def find_all(self, tag=None, cls=None, **attrs):
        return [e for e in self.iter() if (tag is None or e.tag == tag) and (cls is None or cls in e.classes())
                and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, tag=None, cls=None, **attrs):
        found = self.find_all(tag, cls, **attrs)
        assert len(found) == 1, (tag, cls, attrs, len(found))
        return found[0]


VOID = {"meta", "br", "link", "img", "input", "hr", "area", "base", "col", "embed", "source", "wbr"}


class TreeBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Element("#document", {}, None)

    def handle_starttag(self, tag, attrs):
        e = Element(tag, attrs, self.cur)
        self.cur.children.append(e)
        if tag not in VOID:
            self.cur = e

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Element(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        e = self.cur
        while e is not None and e.tag != tag:
            e = e.parent
        if e is not None and e.parent is not None:
            self.cur = e.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse_dom(text):
    b = TreeBuilder()
    b.feed(text)
    b.close()
    return b.root


# ---- Chromium ----

@pytest.fixture
def chromium(tmp_path):
    path = shutil.which("chromium")
    if not path:
        pytest.skip("chromium is not installed (Debian packages chromium and chromium-driver: scripts/install-deps)")

    def run(*args):
        r = subprocess.run([path, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                            f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout
    return run


# ---- the daemons ----

def metrics(base):
    """Every sample of a /metrics page: [(name, {labels}, value)]."""
    out = []
    for line in requests.get(base + "/metrics", timeout=10).text.splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        if m:
            labels = dict(re.findall(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out.append((m.group(1), labels, float(m.group(3))))
    return out


def wait_for(cond, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def workdir(shared_dir, tmp_path):
    w = tmp_path / "graph"
    w.mkdir()
    copy_fcos(shared_dir, w, updates=False)
    # NEW ramps over 20 minutes, started 10 minutes ago: about 50% now.
    (w / "updates.json").write_text(json.dumps({"stream": "stable", "releases": [
        {"version": OLD, "metadata": {"barrier": {"reason": "b"}, "rollout": {"start_percentage": 1.0}}},
        {"version": NEW, "metadata": {"rollout": {"start_epoch": int(time.time()) - 600, "start_percentage": 0.0,
                                                  "duration_minutes": 20}}}]}))
    return w


def start_graph(build_dir, workdir, status=""):
    g = GraphServer(build_dir, workdir, GRAPH_CONFIG.format(workdir=workdir, status=status))
    g.wait_ready()
    return g


def report(node, outcome, to_version=NEW, group="default"):
    body = {"node": node * 32, "group": group, "stream": "stable", "basearch": "x86_64", "from_version": "33.1",
            "to_version": to_version, "outcome": outcome, "detail": "", "time": int(time.time())}
    return body


def post(g, body):
    r = requests.post(g.base + "/v1/report", data=json.dumps(body), headers={"Content-Type": "application/json"},
                      timeout=10)
    assert r.status_code == 202, r.text


def rollouts(g):
    return {x["release"]: x for x in requests.get(g.base + "/v1/rollouts", timeout=10).json()["rollouts"]}


def pct(v):
    return f"{v * 100:.1f}%"


# ---- the page in a browser ----

def test_status_page_in_chromium(build_dir, tmp_path, workdir, chromium):
    (tmp_path / "lock").mkdir()
    lock = LockServer(build_dir, tmp_path / "lock", LOCK_CONFIG.format(workdir=tmp_path / "lock", token=LOCK_TOKEN))
    (workdir / "lock-token").write_text(LOCK_TOKEN + "\n")
    workdir.joinpath("lock-token").chmod(0o600)
    g = start_graph(build_dir, workdir, f'[status]\nlock_admin_url = "{lock.base}/"\n'
                                        f'lock_admin_token_file = "{workdir / "lock-token"}"\n')
    try:
        assert lock.lock("node-a").status_code == 200
        # A release fails on two of three nodes: the policy pauses it. A made-up group name is shown as text.
        post(g, report("1", "rolled_back"))
        post(g, report("2", "succeeded"))
        post(g, report("4", "succeeded", to_version=OLD, group="<b>evil</b>"))
        post(g, report("3", "boot_fallback"))
        wait_for(lambda: rollouts(g)[NEW]["paused"], what="the pause")
        # The page reads upkeep-lock's groups as last fetched (every 5 s, on a thread of its own).
        wait_for(lambda: 'data-id="node-a"' in g.get("/status").text, what="the lock holder on the page")

        dom = parse_dom(chromium("--dump-dom", g.base + "/status"))
        ro = rollouts(g)[NEW]
        graph_metrics, lock_metrics = metrics(g.base), metrics(lock.base)

        stream = dom.find("section", cls="stream", data_stream="stable")
        row = stream.find("tr", cls="rollout", data_release=NEW)
        assert row.find("td", cls="state").text() == "paused"
        assert row.find("td", cls="reason").text() == ro["reason"]
        assert ro["reason"].startswith("2 of 3 nodes failed")
        frozen = row.find("td", cls="frozen")
        assert float(frozen.attrs["data-value"]) == pytest.approx(ro["frozen_percentage"], abs=1e-6)
        assert frozen.text() == pct(ro["frozen_percentage"])
        effective = row.find("td", cls="effective")
        assert effective.text() == pct(ro["effective_percentage"]) == pct(ro["frozen_percentage"])
        live = float(row.find("td", cls="live").attrs["data-value"])
        assert live == pytest.approx(ro["live_percentage"], abs=0.02)  # the live ramp moves on meanwhile
        assert 0.4 < live < 0.7
        assert row.find("td", cls="eta").text() == "paused"
        assert int(row.find("td", cls="succeeded").text()) == ro["reports"]["succeeded"] == 1
        assert int(row.find("td", cls="failed").text()) == ro["reports"]["failed"] == 2
        assert row.find_all("svg", cls="ramp")
        paused_gauge = [v for n, lb, v in graph_metrics if n == "upkeep_graph_rollout_paused" and lb["release"] == NEW]
        assert paused_gauge == [1.0]
        frozen_gauge = [v for n, lb, v in graph_metrics
                        if n == "upkeep_graph_rollout_frozen_percentage" and lb["release"] == NEW]
        assert len(frozen_gauge) == 1
        assert float(frozen.attrs["data-value"]) == pytest.approx(frozen_gauge[0], abs=1e-6)

        # Reports per release and group: every sample of upkeep_graph_reports_total is in its cell.
        samples = [(lb, v) for n, lb, v in graph_metrics if n == "upkeep_graph_reports_total"]
        assert len(samples) >= 3
        for lb, v in samples:
            cells = [r for r in stream.find_all("tr", cls="report")
                     if r.attrs["data-release"] == lb["release"] and r.attrs["data-group"] == lb["group"]]
            assert len(cells) == 1, lb
            assert int(cells[0].find("td", cls=lb["outcome"]).text()) == v, lb
        evil = [r for r in stream.find_all("tr", cls="report") if r.attrs["data-group"] == "<b>evil</b>"]
        assert len(evil) == 1 and "<b>evil</b>" in evil[0].text()
        assert not dom.find_all("b")  # the name stayed text

        # The graph: every release drawn (26 < the cap), the rollout and the barrier marked.
        nodes = stream.find_all("g", cls="node")
        n_nodes = [v for n, lb, v in graph_metrics if n == "upkeep_graph_nodes" and lb["scheme"] == "checksum"]
        assert len(nodes) == n_nodes[0]
        assert "rollout" in stream.find("g", data_version=NEW).classes()
        assert "barrier" in stream.find("g", data_version=OLD).classes()

        # The lock: the group, its holder and age, as upkeep-lock's metrics say.
        group = dom.find("tr", cls="lock-group", data_group="default")
        holders = {n: v for n, lb, v in lock_metrics if lb.get("group") == "default"}
        assert group.find("td", cls="holders-count").text() == \
            f"{int(holders['upkeep_lock_holders'])} / {int(holders['upkeep_lock_slots'])}" == "1 / 2"
        holder = group.find("span", cls="holder", data_id="node-a")
        assert 0 <= int(holder.find("span", cls="age").attrs["data-value"]) < 60
        assert not dom.find_all(id="lock-unavailable")

        # The screenshot, kept.
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "graph-status-page.png"
        if shot.exists():
            shot.unlink()
        chromium(f"--screenshot={shot}", "--window-size=1400,1600", g.base + "/status")
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000
    finally:
        assert g.stop() == 0
        assert lock.stop() == 0


def test_lock_server_down_never_blocks(build_dir, workdir, chromium):
    """A lock server that hangs: graph answers and the page come at once, the page says why it has no
    lock data; one that refuses the token: its answer is shown."""
    doc = DocServer()
    hang = {"on": True}

    def groups():
        if hang["on"]:
            time.sleep(4)
        return b'{"kind":"unauthorized","value":"the admin API needs the admin bearer token"}'

    doc.routes["/v1/groups"] = (401, groups)
    g = start_graph(build_dir, workdir, f'[status]\nlock_admin_url = "{doc.url}"\n')
    try:
        for _ in range(10):
            t = time.monotonic()
            assert g.graph(basearch="x86_64", stream="stable", rollout_wariness="0.5").status_code == 200
            assert g.get("/status").status_code == 200
            assert time.monotonic() - t < 1.0
            time.sleep(0.2)
        def unavailable():
            t = g.get("/status").text
            return 'id="lock-unavailable">unavailable: GET' in t and t
        text = wait_for(unavailable, what="the timeout shown")
        assert "Timeout" in text or "timed out" in text, text
        hang["on"] = False
        wait_for(lambda: "answered 401" in g.get("/status").text, what="the 401 shown")
        dom = parse_dom(chromium("--dump-dom", g.base + "/status"))
        msg = dom.find("p", id="lock-unavailable").text()
        assert msg.startswith("unavailable: GET " + doc.url + "/v1/groups answered 401: ")
        assert "admin bearer token" in msg
    finally:
        assert g.stop() == 0
        doc.close()


# ---- the routes (no browser needed) ----

def test_routes(build_dir, workdir):
    g = start_graph(build_dir, workdir)
    try:
        r = requests.get(g.base + "/", allow_redirects=False, timeout=10)
        assert r.status_code == 302 and r.headers["Location"] == "/status"
        r = g.get("/status")
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.headers["Cache-Control"] == "no-store"
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert "<script" not in r.text and "http://" not in r.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert 'id="lock"' not in r.text  # no lock server configured: no section
        assert requests.head(g.base + "/status", timeout=10).status_code == 200
        assert_error(requests.post(g.base + "/status", timeout=10), 405, "method_not_allowed")
        # The graph API is untouched by the page.
        assert g.graph(basearch="x86_64", stream="stable").status_code == 200
    finally:
        assert g.stop() == 0


@pytest.mark.parametrize("status, error", [
    ('lock_admin_url = "ftp://lock"', "status.lock_admin_url: must be an http:// or https:// URL"),
    ('lock_admin_url = "http://lock"\nlock_admin_token_file = "/nonexistent/token"',
     "status.lock_admin_token_file"),
])
def test_bad_status_settings(build_dir, workdir, status, error):
    (workdir / "graph.toml").write_text(GRAPH_CONFIG.format(workdir=workdir, status="[status]\n" + status))
    r = subprocess.run([str(build_dir / "src/graph/upkeep-graph"), "-c", str(workdir / "graph.toml"), "--address",
                        "127.0.0.1", "--port", "0"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert error in r.stderr, r.stderr


def test_token_file_readable_by_others_warns(build_dir, workdir):
    """upkeep-lock's admin token in a file others may read: upkeep-graph starts, and says so at start."""
    token = workdir / "lock-token"
    token.write_text("t0ken\n")
    token.chmod(0o644)
    g = start_graph(build_dir, workdir, f'[status]\nlock_admin_url = "http://127.0.0.1:9"\n'
                                        f'lock_admin_token_file = "{token}"\n')
    try:
        assert f"status page: {token} holds a secret and is readable by others (mode 0644)" in g.logs()
        assert g.get("/status").status_code == 200
    finally:
        assert g.stop() == 0
