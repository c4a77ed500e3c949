"""Proof at fleet scale (issue 15), scenario 3: the poll load of 1,000,000 nodes polling every 5 minutes
(3,333 requests per second) plus their outcome reports, on one upkeep-graph instance serving today's
stable-size graph (179 releases, bench/fcos-metadata.py) with a rollout ramping and reports stored in SQLite.

This checks what the load must not break: every request answered, conditional polls answered 304 without a
body, every report stored once, nothing but 202/304 (upkeep-agent nodes) or 200 (Zincati nodes). The
headroom at this rate is a figure, not a pass mark: bench/graph-fleet.sh measures it (docs/PERFORMANCE.md)
with the same load generator, bench/fleet-poll.py."""
import json
import pathlib
import re
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from graphutil import GraphServer  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
RATE, SECS, CONNS, REPORT_EVERY = 3333, 4, 64, 100


def start_graph(build, workdir):
    d = pathlib.Path(workdir)
    subprocess.run(["/usr/bin/python3", str(ROOT / "bench" / "fcos-metadata.py"), "179", str(d / "stable"),
                    str(int(time.time()))], check=True)
    conf = (f'[server]\nthreads = 1\n\n[streams.stable]\nreleases = "{d}/stable/releases.json"\n'
            f'updates = "{d}/stable/updates.json"\nbasearches = ["x86_64"]\n\n'
            f'[reports]\nenabled = true\ndatabase = "{d}/reports.db"\n')
    g = GraphServer(build, d, conf)
    g.wait_ready()
    rels = json.loads((d / "stable" / "releases.json").read_text())["releases"]
    return g, rels[-2]["version"], rels[-1]["version"]


def poll(g, every, from_v, to_v, *headers):
    p = subprocess.run(["/usr/bin/python3", str(ROOT / "bench" / "fleet-poll.py"), g.base, str(g.proc.pid), str(RATE),
                        str(SECS), str(CONNS), str(every), from_v, to_v, *headers],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (p.stdout, p.stderr, g.logs()[-3000:])
    r = json.loads(p.stdout)
    print(f"{every and 'upkeep-agent' or 'Zincati'} nodes: {r}")
    return {int(k): v for k, v in r["codes"].items()}, r


def metric(g, name, **labels):
    text = g.get("/metrics").text
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{name}(?:\{{([^}}]*)\}})? (\S+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    return total


def etags(g):
    """The answers a node may hold: one per side of the ramping rollout."""
    out = []
    for w in ("0.0", "0.999"):
        r = g.get("/v1/graph", params={"basearch": "x86_64", "stream": "stable", "rollout_wariness": w},
                  headers={"Accept": "application/json", "Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.headers["ETag"], r
        out.append(r.headers["ETag"])
    assert out[0] != out[1], "the ramping rollout gives the two sides different answers"
    return ",".join(out)


def test_poll_load_of_a_million_nodes(build_dir, tmp_path):
    g, from_v, to_v = start_graph(build_dir, tmp_path)
    try:
        # upkeep-agent nodes: gzip, If-None-Match with the answer they hold, a report every REPORT_EVERY requests
        codes, r = poll(g, REPORT_EVERY, from_v, to_v, "Accept: application/json", "Accept-Encoding: gzip",
                        f"If-None-Match: {etags(g)}")
        total = sum(codes.values())
        reports = (total + REPORT_EVERY - 1) // REPORT_EVERY
        assert set(codes) == {202, 304}, codes
        assert codes[202] == reports and codes[304] == total - reports, codes
        assert total >= RATE * SECS // 4, r  # the load generator ran (its rate is the bench's business)
        # every report stored once (each a different node), and the server counted what it answered
        assert metric(g, "upkeep_graph_reports_total", outcome="succeeded") == reports
        assert metric(g, "upkeep_graph_requests_total", code="304") == codes[304]
        rollout = next(x for x in g.get("/v1/rollouts").json()["rollouts"] if x["release"] == to_v)
        assert rollout["reports"]["succeeded"] == reports and rollout["paused"] is False, rollout
        # Zincati nodes: the whole graph every time, uncompressed, no reports
        codes, r = poll(g, 0, from_v, to_v, "Accept: application/json")
        assert set(codes) == {200}, codes
        assert r["response_bytes_per_request"] > 40000, r  # the 179-release graph, whole
        assert g.proc.poll() is None
    finally:
        g.stop()
