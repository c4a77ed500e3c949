#!/usr/bin/python3
"""bench/agent-bench.py BUILD_DIR WORK_DIR — the measurements of bench/agent.sh (which see).

Builds the fixtures (tests/integration/osfixture.py), serves them (osfixture.RepoServer, in this process, so
every object request and byte is counted) behind upkeep-graph, and runs upkeep-agent on test sysroots.

upkeep-agent is two programs: the resident daemon (state machine, sockets; neither libcurl nor libostree) and
upkeep-agent-worker, one short-lived child per action (status, check, lock, stage, finalize) that the daemon
spawns, feeds one JSON request and reaps. So CPU time is counted twice over: the daemon's own threads
(utime+stime, and schedstat in ns) and its reaped workers (cutime+cstime, fields 16-17 of /proc/PID/stat).

1. polling: newest release booted, strategy "immediate", a short steady interval, for DURATION seconds: the
   resident daemon's peak (VmHWM) and steady (VmRSS) RSS and where it is; CPU in total and per tick, the
   daemon's and the workers';
2. idle: a long steady interval; every thread's run time (schedstat, ns) and context switches, the workers'
   CPU and the daemon's children (sampled from /proc) over an idle gap between two ticks, then
   `strace -c -f` on the same gap: nothing should run and no worker should exist;
3. check-and-stage, REPEAT times each: a small tree (release 0 -> 1) and a 100 MB tree (release 0 -> 1, where
   release 1 adds SIZE_MB MiB of new content: a full download), from agent start to staged and to the reboot
   command (workers' start-up included), with the objects and bytes fetched; `ostree pull` +
   `ostree admin deploy` of the same commit on an identical sysroot as the reference;
4. delta: the same nodes, now booted on release 1, stage release 2 (~1% of the data changed): the objects
   fetched are compared with the objects that differ between the two commits (`ostree ls -R -C`);
5. workers' peak RSS per action: a separate pass (a few polling ticks, one stage of each kind) with
   UPKEEP_AGENT_WORKER = bench/agent-worker-wrap.py, which runs the worker under /usr/bin/time and logs its
   ru_maxrss. Only this pass uses the wrapper (Python start-up would distort the times and CPU of 1.-4.).

Environment: DURATION=60 INTERVAL=2 IDLE_INTERVAL=30 IDLE_SECS=20 STRACE_SECS=5 REPEAT=3 SIZE_MB=100.
"""
import hashlib
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
import osfixture  # noqa: E402



def secs(name, default):  # "60" or "60s", as bench/graph.sh's DURATION=10s
    return float(os.environ.get(name, str(default)).removesuffix("s"))


DURATION = secs("DURATION", 60)
INTERVAL = int(secs("INTERVAL", 2))
IDLE_INTERVAL = int(secs("IDLE_INTERVAL", 30))
IDLE_SECS = secs("IDLE_SECS", 20)
STRACE_SECS = secs("STRACE_SECS", 5)
REPEAT = int(os.environ.get("REPEAT", 3))
SIZE_MB = float(os.environ.get("SIZE_MB", 100))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

BUILD = pathlib.Path(sys.argv[1]).resolve()
WORK = pathlib.Path(sys.argv[2]).resolve()
AGENT = BUILD / "src" / "agent" / "upkeep-agent"
WORKER = BUILD / "src" / "agent" / "upkeep-agent-worker"
WRAP = HERE / "agent-worker-wrap.py"
GRAPH = BUILD / "src" / "graph" / "upkeep-graph"
CLI = BUILD / "src" / "cli" / "upkeep"

children = []  # every process we started, stopped on exit


def say(*a):
    print(*a, flush=True)


def note(*a):  # progress, to stderr
    print("  ..", *a, file=sys.stderr, flush=True)


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


# --- fixtures --------------------------------------------------------------------------------------------

def build_big(out):
    """Like `osfixture.py build --releases 3 --barrier 1 --size-mb SIZE_MB`, except that release 0 has none of
    the bulk data: release 1 adds all of it (a node on release 0 downloads the whole 100 MB tree) and
    release 2 changes ~1% of it, as every fixture release does. The barrier on release 1 makes the graph
    lead 0 -> 1 -> 2."""
    orig = osfixture._populate
    chunk = osfixture._chunk_bytes
    write = osfixture._write

    def populate(tree, i, osname, stream, n_chunks):
        if i == 0:
            return orig(tree, 0, osname, stream, 0)
        orig(tree, i, osname, stream, n_chunks)
        if i == 1:
            for c in range(n_chunks):
                p = tree / f"usr/share/upkeep-data/chunk-{c:04d}"
                if not p.exists():
                    write(p, chunk(c, 0))

    osfixture._populate = populate
    try:
        return osfixture.build(out, 3, barrier=[1], size_mb=SIZE_MB)
    finally:
        osfixture._populate = orig


def commit_objects(repo, csum):
    """{checksum.kind} of every object a commit reaches: the commit, dirtrees, dirmetas, file contents."""
    objs = {f"{csum}.commit"}
    for line in osfixture.ostree("ls", f"--repo={repo}", "-R", "-C", csum).splitlines():
        f = line.split()
        if not f:
            continue
        if f[0].startswith("d"):
            objs.add(f"{f[4]}.dirtree")
            objs.add(f"{f[5]}.dirmeta")
        else:
            objs.add(f"{f[4]}.file")
    return objs


def served_object(path):
    """/objects/ab/cdef….filez -> abcdef….file (archive names mapped to kinds), else None."""
    m = re.fullmatch(r"/objects/([0-9a-f]{2})/([0-9a-f]{62})\.(\w+)", path)
    if not m:
        return None
    kind = {"filez": "file", "file": "file"}.get(m.group(3), m.group(3))
    return f"{m.group(1)}{m.group(2)}.{kind}"


# --- daemons ---------------------------------------------------------------------------------------------

def start_graph(fx, name):
    d = WORK / f"graph-{name}"
    d.mkdir()
    (d / "graph.toml").write_text(fx.graph_config_text())
    port_file = d / "port"
    log = open(d / "graph.log", "w")
    p = subprocess.Popen([str(GRAPH), "-c", str(d / "graph.toml"), "--address", "127.0.0.1", "--port", "0",
                          "--port-file", str(port_file)], stdout=log, stderr=subprocess.STDOUT)
    children.append(p)
    deadline = time.monotonic() + 20
    while not port_file.exists() or not port_file.read_text().strip():
        if p.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"upkeep-graph did not start: {(d / 'graph.log').read_text()}")
        time.sleep(0.01)
    return f"http://127.0.0.1:{int(port_file.read_text())}/"


REBOOT_SCRIPT = """#!/bin/sh
# The node's "reboot": what the agent looks like now, then stop it (our parent).
t=$(date +%s.%N)
cp /proc/$PPID/status "{d}/reboot-proc-status"
cp /proc/$PPID/stat "{d}/reboot-proc-stat"
cat /proc/$PPID/task/*/schedstat > "{d}/reboot-proc-schedstat"
"{cli}" status --json --socket "{d}/status.sock" > "{d}/reboot-status.json" 2>&1
echo "$t" > "{d}/reboot-time"
kill -TERM "$PPID"
"""


class Node:
    """A test sysroot and the configuration of an agent running on it (agentutil's layout)."""

    def __init__(self, name, fx, repo_url, release, graph_url):
        self.dir = WORK / name
        self.dir.mkdir()
        self.sysroot = self.dir / "sysroot"
        self.fx, self.graph_url = fx, graph_url
        fx.make_sysroot(self.sysroot, repo_url, release)
        (self.dir / "root/etc/upkeep/agent.d").mkdir(parents=True)
        script = self.dir / "reboot.sh"
        script.write_text(REBOOT_SCRIPT.format(d=self.dir, cli=CLI))
        script.chmod(0o755)
        self.proc = None
        self.lines = []  # (time.time(), line) of the agent's log

    def configure(self, interval):
        (self.dir / "root/etc/upkeep/agent.d/50-bench.toml").write_text(f"""\
[agent.timing]
steady_interval_secs = {interval}
[identity]
group = "default"
node_uuid = "{hashlib.sha256(self.dir.name.encode()).hexdigest()[:32]}"
[cincinnati]
base_url = "{self.graph_url}"
[updates]
strategy = "immediate"
[upkeep]
sysroot = "{self.sysroot}"
reboot_method = "command"
reboot_command = ["{self.dir}/reboot.sh"]
status_socket = "{self.dir}/status.sock"
metrics_socket = "{self.dir}/metrics.sock"
motd_dir = "{self.dir}/motd.d"
platform = "qemu"
""")

    def start(self, worker_log=None):
        """Starts the agent with the build's worker, or (worker_log) with the measuring wrapper, which
        appends a line per worker to worker_log."""
        for f in ("reboot-time", "reboot-status.json", "reboot-proc-status", "reboot-proc-stat",
                  "reboot-proc-schedstat"):
            (self.dir / f).unlink(missing_ok=True)
        self.lines = []
        env = dict(os.environ, **osfixture.OSTREE_ENV, UPKEEP_AGENT_WORKER=str(WORKER))
        if worker_log:
            env.update(UPKEEP_AGENT_WORKER=str(WRAP), UPKEEP_BENCH_WORKER=str(WORKER),
                       UPKEEP_BENCH_WORKER_LOG=str(worker_log))
        t0 = time.time()
        self.proc = subprocess.Popen([str(AGENT), "--root", str(self.dir / "root")], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, env=env, text=True, bufsize=1)
        children.append(self.proc)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return t0

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append((time.time(), line.rstrip("\n")))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.reader.join(timeout=5)

    def log(self):
        return "\n".join(line for _, line in self.lines)

    def when(self, pattern):
        for t, line in self.lines:
            if re.search(pattern, line):
                return t
        return None

    def _unix(self, name, request=b""):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(self.dir / name))
            if request:
                s.sendall(request)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return data.decode()

    def status(self):
        return json.loads(self._unix("status.sock", b'{"method":"status"}\n'))["status"]

    def metric(self, name):
        for line in self._unix("metrics.sock").splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return None

    def wait_checks(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                c = self.metric("upkeep_agent_cincinnati_update_checks_total")
                if c is not None and c >= n:
                    return c
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"no update check within {timeout} s:\n{self.log()}")


# --- /proc -----------------------------------------------------------------------------------------------

def proc_status(pid, text=None):
    text = text if text is not None else open(f"/proc/{pid}/status").read()
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        v = v.split()
        if v and v[0].isdigit():
            out[k] = int(v[0])
    return out


def cpu_ms(pid, text=None):
    """(utime + stime, cutime + cstime) in ms: the process's own threads (exited ones included), and its
    children that it has reaped (the workers; fields 14-17 of /proc/PID/stat)."""
    text = text if text is not None else open(f"/proc/{pid}/stat").read()
    f = text.rsplit(")", 1)[1].split()  # f[0] is field 3
    return ((int(f[11]) + int(f[12])) * 1000 / CLK_TCK, (int(f[13]) + int(f[14])) * 1000 / CLK_TCK)


def children_of(pid):
    """[(pid, comm)] of the live processes whose parent is pid (a scan of /proc: this kernel may lack
    /proc/PID/task/TID/children)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            text = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        head, _, tail = text.rpartition(")")
        if int(tail.split()[1]) == pid:
            out.append((int(d), head.partition("(")[2]))
    return out


def threads(pid):
    """{tid: (name, run ns, voluntary + involuntary context switches)}."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            base = f"/proc/{pid}/task/{tid}"
            name = open(f"{base}/comm").read().strip()
            run_ns = int(open(f"{base}/schedstat").read().split()[0])
            st = proc_status(0, open(f"{base}/status").read())
            out[int(tid)] = (name, run_ns, st["voluntary_ctxt_switches"] + st["nonvoluntary_ctxt_switches"])
        except FileNotFoundError:
            pass
    return out


def rss_by_mapping(pid, top=6):
    """[(KiB, name)] of the mappings with the most resident memory, grouped by file ([anon] for the rest)."""
    sums, cur = {}, None
    for line in open(f"/proc/{pid}/smaps"):
        f = line.split()
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            cur = f[5] if len(f) > 5 else "[anon]"
            cur = os.path.basename(cur) if cur.startswith("/") else cur
        elif f[0] == "Rss:":
            sums[cur] = sums.get(cur, 0) + int(f[1])
    return sorted(((v, k) for k, v in sums.items()), reverse=True)[:top]


# --- 1. polling --------------------------------------------------------------------------------------------

def run_ns(pid):
    """Run time of the live threads (schedstat, ns) and their number."""
    t = threads(pid)
    return sum(ns for _, ns, _ in t.values()), len(t)


def strace_count(pid, secs, out, follow=True):
    """{syscall: calls} over secs seconds, or None without strace: follow, every thread of pid and every
    process it starts (strace -c -f); otherwise the threads of pid alone (its workers are not traced)."""
    if not shutil.which("strace") or secs <= 0:
        return None
    who = ["-f", "-p", str(pid)] if follow else [a for t in os.listdir(f"/proc/{pid}/task") for a in ("-p", t)]
    p = subprocess.Popen(["strace", "-c", *who, "-o", str(out)], stderr=subprocess.DEVNULL)
    children.append(p)
    time.sleep(secs)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=10)
    calls = {}
    for line in out.read_text().splitlines():
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
            calls[f[-1]] = int(f[3])
    return calls


def exec_rss(cmd):
    """VmRSS, RssAnon, RssFile (KiB) of cmd held at its exit_group (strace delays it): what loading the
    program and its libraries costs, nothing else. None without strace."""
    if not shutil.which("strace"):
        return None
    p = subprocess.Popen(["strace", "-f", "-o", "/dev/null", "-e", "trace=exit_group", "-e",
                          "inject=exit_group:delay_enter=3s", *cmd], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    children.append(p)
    out, deadline = None, time.monotonic() + 10
    while out is None and time.monotonic() < deadline:
        try:
            kids = [str(k) for k, _ in children_of(p.pid)]
            if kids and open(f"/proc/{kids[0]}/syscall").read().split()[0] == "231":
                st = proc_status(kids[0])
                out = (st["VmRSS"], st["RssAnon"], st["RssFile"])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
        time.sleep(0.01)
    p.wait(timeout=30)
    return out


def exec_cpu(cmd, n=50):
    """Mean CPU time (utime+stime, ms) of cmd over n runs: for `--version`, the cost of exec, loading the
    libraries and exiting, as every worker pays it."""
    total = 0.0
    for _ in range(n):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, ru = os.wait4(p.pid, 0)
        p.returncode = 0  # reaped here
        total += ru.ru_utime + ru.ru_stime
    return total * 1000 / n


def polling(node):
    node.configure(INTERVAL)
    t0 = node.start()
    pid = node.proc.pid
    node.wait_checks(1)
    t_first = time.time()
    cpu_first, (ns_first, _) = cpu_ms(pid), run_ns(pid)
    rss_first = proc_status(pid)["VmRSS"]
    checks_first = node.metric("upkeep_agent_cincinnati_update_checks_total")
    samples = []
    while time.time() - t0 < DURATION:
        time.sleep(1)
        st = proc_status(pid)
        samples.append((time.time() - t0, st["VmRSS"], st["VmHWM"]))
    st = proc_status(pid)
    cpu_end, (ns_end, nthr) = cpu_ms(pid), run_ns(pid)
    t_end = time.time()
    rollup = proc_status(0, open(f"/proc/{pid}/smaps_rollup").read().replace("[rollup]", ""))
    top = rss_by_mapping(pid)
    names = sorted(n for n, _, _ in threads(pid).values())
    libs = sorted({os.path.basename(l.split()[-1]) for l in open(f"/proc/{pid}/maps") if ".so" in l})
    checks = node.metric("upkeep_agent_cincinnati_update_checks_total")
    # System calls of the daemon's threads per tick (not its workers'), over about five ticks (the metrics
    # queries stay outside the window).
    calls = strace_count(pid, 5 * INTERVAL * 1.05, WORK / "strace-poll.txt", follow=False)
    checks_after = node.metric("upkeep_agent_cincinnati_update_checks_total")
    errors = node.status()["last_error"]
    node.stop()
    base = {name: exec_rss(cmd) for name, cmd in (("upkeep-agent --version", [str(AGENT), "--version"]),
                                                  ("upkeep-agent-worker --version", [str(WORKER), "--version"]))}
    load_cpu = {name: exec_cpu(cmd) for name, cmd in (("upkeep-agent", [str(AGENT), "--version"]),
                                                      ("upkeep-agent-worker", [str(WORKER), "--version"]))}
    steady_ticks = checks - checks_first
    per_tick = (lambda x: x / steady_ticks) if steady_ticks else (lambda x: float("nan"))
    return dict(duration=t_end - t0, checks=int(checks), hwm=st["VmHWM"], rss=st["VmRSS"], rss_first=rss_first,
                rss_min=min(s[1] for s in samples), rss_max=max(s[1] for s in samples), anon=st["RssAnon"],
                file=st["RssFile"], pss=rollup.get("Pss", 0), private=rollup.get("Private_Clean", 0) +
                rollup.get("Private_Dirty", 0), own=cpu_end[0], workers=cpu_end[1], own_first=cpu_first[0],
                workers_first=cpu_first[1], ns_first=ns_first, ns_end=ns_end, ns_tick=per_tick(ns_end - ns_first),
                own_tick=per_tick(cpu_end[0] - cpu_first[0]), workers_tick=per_tick(cpu_end[1] - cpu_first[1]),
                steady_ticks=int(steady_ticks), steady_secs=t_end - t_first, top=top, threads=names,
                nthreads=nthr, base=base, load_cpu=load_cpu, libs=libs, error=errors, calls=calls,
                strace_ticks=int(checks_after - checks))


# --- 2. idle ---------------------------------------------------------------------------------------------

def idle(node):
    node.configure(IDLE_INTERVAL)
    node.start()
    pid = node.proc.pid
    node.wait_checks(1)
    t_check = time.monotonic()
    time.sleep(1)
    a_cpu, a_thr = cpu_ms(pid), threads(pid)
    kids, samples, end = set(), 0, time.monotonic() + IDLE_SECS
    while time.monotonic() < end:  # any worker alive in the gap (scanning /proc costs the agent nothing)
        kids.update(children_of(pid))
        samples += 1
        time.sleep(0.05)
    b_cpu, b_thr = cpu_ms(pid), threads(pid)
    strace = strace_count(pid, STRACE_SECS, WORK / "strace-idle.txt")
    t_done = time.monotonic() - t_check
    checks = node.metric("upkeep_agent_cincinnati_update_checks_total")
    node.stop()
    per_thread = []
    for tid, (name, ns, cs) in sorted(b_thr.items()):
        _, ns0, cs0 = a_thr.get(tid, (name, 0, 0))
        per_thread.append((name, tid, ns - ns0, cs - cs0, tid not in a_thr))
    gone = [a_thr[t][0] for t in a_thr if t not in b_thr]
    return dict(own=b_cpu[0] - a_cpu[0], workers=b_cpu[1] - a_cpu[1], kids=sorted(kids), samples=samples,
                per_thread=per_thread, gone=gone, strace=strace, checks=int(checks), window=t_done, pid=pid)


# --- 3./4. check-and-stage -----------------------------------------------------------------------------------

def stage_run(node, srv, old, new, worker_log=None):
    """Starts the agent on a node booted on `old`; it stages `new`, finalizes it and runs the reboot command,
    which stops it. Returns the timings (s from agent start) and what was fetched. worker_log: run the
    workers under the measuring wrapper (the times are then not the agent's own)."""
    node.configure(3600)
    srv.reset_log()
    t0 = node.start(worker_log)
    try:
        node.proc.wait(timeout=900)
    except subprocess.TimeoutExpired:
        node.stop()
        raise RuntimeError(f"{node.dir.name}: no reboot within 900 s:\n{node.log()}")
    node.reader.join(timeout=5)
    rt = node.dir / "reboot-time"
    if node.proc.returncode != 0 or not rt.exists():
        raise RuntimeError(f"{node.dir.name}: agent exited {node.proc.returncode} without rebooting:\n{node.log()}")
    st = json.loads((node.dir / "reboot-status.json").read_text())["status"]
    staged = st["deployments"]["staged"]
    if not staged or staged["checksum"] != node.fx.checksum(new):
        raise RuntimeError(f"{node.dir.name}: staged {staged}, expected release {new}:\n{node.log()}")
    with srv._lock:
        log = list(srv.log)
    fetched = {served_object(p) for p, s, _ in log if s == 200 and served_object(p)}
    t_staging, t_staged = node.when(r"\bstaging \S+ \("), node.when(r"\bstaged \S+$")
    proc = proc_status(0, (node.dir / "reboot-proc-status").read_text())
    diff = commit_objects(node.fx.repo, node.fx.checksum(new)) - commit_objects(node.fx.repo, node.fx.checksum(old))
    own, workers = cpu_ms(0, (node.dir / "reboot-proc-stat").read_text())
    own_ns = sum(int(line.split()[0]) for line in (node.dir / "reboot-proc-schedstat").read_text().splitlines())
    return dict(check=t_staging - t0, staged=t_staged - t0, reboot=float(rt.read_text()) - t0,
                hwm=proc["VmHWM"], rss=proc["VmRSS"], own=own, own_ns=own_ns, workers=workers,
                dl_bytes=st["download"]["bytes"], dl_objects=st["download"]["objects_fetched"],
                srv_bytes=sum(n for p, s, n in log if s == 200 and p.startswith("/objects/")),
                srv_total=sum(n for _, s, n in log), srv_requests=len(log),
                srv_404=[(s, p) for p, s, _ in log if s != 200], fetched=fetched, diff=diff)


def reference_run(fx, srv, name, old, new):
    """`ostree pull` + `ostree admin deploy` of the same commit on a sysroot booted on `old`, seconds."""
    path = WORK / name
    fx.make_sysroot(path, srv.url, old)
    srv.reset_log()
    r0 = os.times()
    t0 = time.time()
    osfixture.pull_and_deploy(path, fx.checksum(new), fx.ref)
    t = time.time() - t0
    r1 = os.times()
    shutil.rmtree(path)
    return t, (r1.children_user + r1.children_system - r0.children_user - r0.children_system) * 1000


# --- 5. workers' peak RSS ------------------------------------------------------------------------------------

def worker_log(path):
    """[(command, ru_maxrss KiB, wall s, user+sys s, exit)] from agent-worker-wrap.py's log (GNU time's own
    notes, "Command exited with non-zero status", are skipped)."""
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        f = line.split()
        try:
            out.append((f[0], int(f[1]), float(f[2]), float(f[3]) + float(f[4]), int(f[5])))
        except (IndexError, ValueError):
            pass
    return out


def worker_pass(poll_node, small, big, srv_small, srv_big, g_small, g_big):
    """The workers' peak RSS per action, every worker run under agent-worker-wrap.py: a few steady polling
    ticks, then one check-and-stage of each kind. {where: [log entries]}."""
    out = {}
    poll_node.configure(INTERVAL)
    log = WORK / "workers-poll.log"
    poll_node.start(log)
    poll_node.wait_checks(6, timeout=30 + 10 * INTERVAL)
    checks = poll_node.metric("upkeep_agent_cincinnati_update_checks_total")
    poll_node.stop()
    out["poll"], out["poll_checks"] = worker_log(log), checks
    n = Node("wsmall", small, srv_small.url, 0, g_small)
    stage_run(n, srv_small, 0, 1, WORK / "workers-small.log")
    out["small"] = worker_log(WORK / "workers-small.log")
    shutil.rmtree(n.dir)
    n = Node("wbig", big, srv_big.url, 0, g_big)
    stage_run(n, srv_big, 0, 1, WORK / "workers-full.log")
    out["full"] = worker_log(WORK / "workers-full.log")
    stage_run(n, srv_big, 1, 2, WORK / "workers-delta.log")
    out["delta"] = worker_log(WORK / "workers-delta.log")
    shutil.rmtree(n.dir)
    return out


def describe_404(entries):
    kinds = {}
    for status, path in entries:
        k = f"{status} " + ("delta index" if path.startswith("/delta-indexes/") else path.rsplit(".", 1)[-1]
                            if path.startswith("/objects/") else path)
        kinds[k] = kinds.get(k, 0) + 1
    return ", ".join(f"{v}x {k}" for k, v in sorted(kinds.items())) or "none"


def med(xs):
    return statistics.median(xs)


def fmt_runs(xs, unit="s", f="{:.2f}"):
    return f"{f.format(med(xs))} {unit} (" + " ".join(f.format(x) for x in xs) + ")"


# --- main ------------------------------------------------------------------------------------------------

def main():
    say(f"machine: {os.cpu_count()} cores, "
        f"{next(l for l in open('/proc/cpuinfo') if l.startswith('model name')).split(':', 1)[1].strip()}, "
        f"{os.uname().release}; libostree {osfixture.ostree('--version').split(chr(10))[1].split(':')[1].strip()}")
    t = time.monotonic()
    small = osfixture.build(WORK / "fx-small", 2)
    big = build_big(WORK / "fx-big")
    note(f"fixtures built in {time.monotonic() - t:.1f} s")
    srv_small, srv_big = osfixture.RepoServer(small.dir), osfixture.RepoServer(big.dir)
    try:
        return run(small, big, srv_small, srv_big)
    finally:
        srv_small.stop()
        srv_big.stop()


def run(small, big, srv_small, srv_big):
    g_small, g_big = start_graph(small, "small"), start_graph(big, "big")
    size = sum(f.stat().st_size for f in (big.repo / "objects").rglob("*.filez"))
    say(f"fixtures: small tree ({len(commit_objects(small.repo, small.checksum(1)))} objects), "
        f"100 MB tree (release 1: {len(commit_objects(big.repo, big.checksum(1)))} objects, "
        f"{SIZE_MB:g} MiB of incompressible data in {osfixture.CHUNK_BYTES // 1024} KiB files; "
        f"archive repo {size / 2**20:.0f} MiB of file objects); served by osfixture.RepoServer on loopback")
    say()

    # 1. polling
    poll_node = Node("poll", small, srv_small.url, 1, g_small)
    note(f"polling run: {DURATION:g} s, steady_interval_secs = {INTERVAL}")
    p = polling(poll_node)
    say(f"== 1. steady polling: newest release booted, strategy immediate, steady_interval_secs = {INTERVAL} "
        f"(+0-10% jitter), {p['duration']:.0f} s, {p['checks']} update checks")
    say("   resident daemon (upkeep-agent); its workers' CPU is its cutime+cstime, their RSS in 5.")
    rows = [
        ("peak RSS (VmHWM)", mib(p["hwm"])),
        ("steady RSS (VmRSS at the end)", f"{mib(p['rss'])}  (anon {mib(p['anon'])}, file-backed {mib(p['file'])}; "
                                          f"PSS {mib(p['pss'])}, private {mib(p['private'])})"),
        ("RSS after the first check / min / max", f"{mib(p['rss_first'])} / {mib(p['rss_min'])} / {mib(p['rss_max'])}"),
        ("largest RSS by mapping", ", ".join(f"{n} {v / 1024:.1f}" for v, n in p["top"]) + " (MiB)"),
        ("RSS at exec (held at exit_group)", "; ".join(
            f"{k} " + ("not measured (strace missing)" if v is None else f"{mib(v[0])} (anon {mib(v[1])})")
            for k, v in p["base"].items())),
        ("CPU to exec, load and exit (--version)", "; ".join(f"{k} {v:.1f} ms" for k, v in p["load_cpu"].items())
         + " (mean of 50)"),
        ("shared libraries mapped", f"{len(p['libs'])}: {', '.join(l.split('.so')[0] for l in p['libs'])}"),
        ("threads", f"{len(p['threads'])}: {', '.join(p['threads'])}"),
        ("CPU time, total, daemon + workers", f"{p['ns_end'] / 1e6 + p['workers']:.0f} ms = daemon "
                                              f"{p['ns_end'] / 1e6:.1f} ms (schedstat; utime+stime {p['own']:.0f} ms)"
                                              f" + workers {p['workers']:.0f} ms (cutime+cstime); start-up + first "
                                              f"check: {p['ns_first'] / 1e6:.1f} + {p['workers_first']:.0f} ms"),
        ("CPU time per steady tick, daemon", f"{p['ns_tick'] / 1e6:.2f} ms by schedstat ({p['steady_ticks']} ticks "
                                             f"in {p['steady_secs']:.0f} s; utime+stime in clock ticks: "
                                             f"{p['own_tick']:.2f} ms/tick)"),
        ("CPU time per steady tick, workers", f"{p['workers_tick']:.2f} ms (cutime+cstime: "
                                              f"{p['workers'] - p['workers_first']:.0f} ms over the ticks)"),
        ("CPU time per steady tick, total", f"{p['ns_tick'] / 1e6 + p['workers_tick']:.2f} ms"),
        ("daemon's system calls per tick (strace -c)", "not run (strace missing)" if p["calls"] is None else
         f"{sum(p['calls'].values()) / max(p['strace_ticks'], 1):.0f} ({p['strace_ticks']} ticks, its threads only: " +
         ", ".join(f"{k} {v}" for k, v in sorted(p["calls"].items(), key=lambda kv: -kv[1])) + ")"),
        ("last error", str(p["error"])),
    ]
    table(rows)
    say(f"target steady RSS < 8 MiB (resident daemon): {'MET' if p['rss'] < 8192 else 'NOT MET'} ({mib(p['rss'])})")
    say()

    # 2. idle
    note(f"idle run: steady_interval_secs = {IDLE_INTERVAL}, {IDLE_SECS:g} s gap + {STRACE_SECS:g} s strace")
    i = idle(poll_node)
    busy = [t for t in i["per_thread"] if t[2] or t[3] or t[4]]
    say(f"== 2. between ticks: steady_interval_secs = {IDLE_INTERVAL}, from 1 s after the first check, "
        f"{IDLE_SECS:g} s sampled, then {STRACE_SECS:g} s under strace -f")
    table([("CPU time in the gap, daemon (utime+stime)", f"{i['own']:.0f} ms"),
           ("CPU time in the gap, workers (cutime+cstime)", f"{i['workers']:.0f} ms"),
           ("daemon's children seen in the gap", f"{', '.join(f'{k} ({c})' for k, c in i['kids']) or 'none'} "
                                                 f"({i['samples']} scans of /proc, every 50 ms)"),
           *[(f"thread {tid} ({'main' if tid == i['pid'] else 'engine' if len(i['per_thread']) == 2 else n})"
              f"{' NEW' if new else ''}", f"{ns / 1e6:.3f} ms run, {cs} context switches")
             for n, tid, ns, cs, new in i["per_thread"]],
           *([("threads gone in the gap", ", ".join(i["gone"]))] if i["gone"] else []),
           ("strace -c -f (threads and any child)", "not run (strace missing)" if i["strace"] is None else
            (", ".join(f"{k} {v}" for k, v in sorted(i["strace"].items())) or "no system calls")),
           ("update checks by the end of the window", f"{i['checks']} ({i['window']:.1f} s after the first)")])
    calls = sum(v for k, v in (i["strace"] or {}).items() if k != "restart_syscall")  # strace's attach restarts waits
    quiet = i["own"] == 0 and i["workers"] == 0 and not i["kids"] and not busy and i["checks"] == 1 and calls == 0
    say(f"target no CPU between ticks: {'MET' if quiet else 'NOT MET'} "
        f"({i['own']:.0f} + {i['workers']:.0f} ms, {sum(t[3] for t in i['per_thread'])} context switches, "
        f"{calls} system calls, {len(i['kids'])} workers"
        f"{'; a tick fell in the window' if i['checks'] != 1 else ''})")
    say()

    # 3. check-and-stage, 4. delta
    results = {"small": [], "full": [], "delta": []}
    ref = {"small": [], "full": [], "delta": []}
    for r in range(REPEAT):
        note(f"check-and-stage round {r + 1}/{REPEAT}")
        n = Node(f"small{r}", small, srv_small.url, 0, g_small)
        results["small"].append(stage_run(n, srv_small, 0, 1))
        shutil.rmtree(n.dir)
        n = Node(f"big{r}", big, srv_big.url, 0, g_big)
        results["full"].append(stage_run(n, srv_big, 0, 1))
        results["delta"].append(stage_run(n, srv_big, 1, 2))  # booted on release 1 after the "reboot"
        shutil.rmtree(n.dir)
        ref["small"].append(reference_run(small, srv_small, "ref-small", 0, 1))
        ref["full"].append(reference_run(big, srv_big, "ref-full", 0, 1))
        ref["delta"].append(reference_run(big, srv_big, "ref-delta", 1, 2))

    labels = {"small": "small tree, release 0 -> 1", "full": f"{SIZE_MB:g} MB tree, release 0 -> 1 (full)",
              "delta": f"{SIZE_MB:g} MB tree, release 1 -> 2 (delta)"}
    say(f"== 3. check-and-stage, strategy immediate, from agent start (median of {REPEAT}, all runs in brackets)")
    for k in ("small", "full", "delta"):
        rs = results[k]
        say(f"-- {labels[k]}")
        table([
            ("start -> update found (check)", fmt_runs([x["check"] for x in rs])),
            ("start -> staged (check + stage)", fmt_runs([x["staged"] for x in rs])),
            ("start -> reboot command (+ finalize)", fmt_runs([x["reboot"] for x in rs])),
            ("reference: ostree pull + admin deploy", fmt_runs([x[0] for x in ref[k]])),
            ("objects fetched (server 200s / agent)", f"{len(rs[0]['fetched'])} / {rs[0]['dl_objects']} "
                                                     "(agent: status download.objects_fetched)"),
            ("bytes fetched (server objects / agent)", f"{rs[0]['srv_bytes']:,} / {rs[0]['dl_bytes']:,} "
                                                       "(agent: status download.bytes)"),
            ("all server traffic", f"{rs[0]['srv_requests']} requests, {rs[0]['srv_total']:,} body bytes; not found: "
                                   f"{describe_404(rs[0]['srv_404'])}"),
            ("daemon peak RSS (VmHWM) at the reboot", fmt_runs([x["hwm"] / 1024 for x in rs], "MiB", "{:.1f}")),
            ("daemon CPU time at the reboot (schedstat)", fmt_runs([x["own_ns"] / 1e6 for x in rs], "ms", "{:.1f}")
             + f"; utime+stime {fmt_runs([x['own'] for x in rs], 'ms', '{:.0f}')}"),
            ("workers' CPU time at the reboot", fmt_runs([x["workers"] for x in rs], "ms", "{:.0f}")
             + " (cutime+cstime)"),
            ("daemon + workers CPU time", fmt_runs([x["own_ns"] / 1e6 + x["workers"] for x in rs], "ms", "{:.0f}")),
            ("reference CPU time (ostree processes)", fmt_runs([x[1] for x in ref[k]], "ms", "{:.0f}")),
        ])
    say()

    say("== 4. delta: objects fetched against the objects that differ between the two commits")
    ok_all = True
    for k in ("full", "delta"):
        for x in results[k]:
            extra, missing = x["fetched"] - x["diff"], x["diff"] - x["fetched"]
            ok = not extra and not missing
            ok_all &= ok or k == "full"
            x["ok"], x["extra"], x["missing"] = ok, extra, missing
        x = results[k][0]
        kinds = {}
        for o in x["diff"]:
            kinds[o.rsplit(".", 1)[1]] = kinds.get(o.rsplit(".", 1)[1], 0) + 1
        say(f"-- {labels[k]}: {len(x['diff'])} objects differ "
            f"({', '.join(f'{v} {kk}' for kk, v in sorted(kinds.items()))}); fetched {len(x['fetched'])}, "
            f"{x['srv_bytes']:,} bytes; unchanged objects fetched: {len(x['extra'])}; changed ones not fetched: "
            f"{len(x['missing'])}  [{'PASS' if all(y['ok'] for y in results[k]) else 'FAIL'} in "
            f"{sum(y['ok'] for y in results[k])} of {REPEAT} runs]")
    f, d = results["full"][0], results["delta"][0]
    say(f"delta vs full pull: {len(d['fetched'])} vs {len(f['fetched'])} objects, {d['srv_bytes']:,} vs "
        f"{f['srv_bytes']:,} bytes ({100 * d['srv_bytes'] / f['srv_bytes']:.1f}%)")
    say(f"target delta downloads only the changed objects: {'MET' if ok_all else 'NOT MET'}")
    say()

    # 5. workers' peak RSS
    if not os.access("/usr/bin/time", os.X_OK):
        say("== 5. workers' peak RSS: not measured (/usr/bin/time missing)")
        return 0
    note("worker RSS pass: polling ticks and one check-and-stage of each kind, workers under the wrapper")
    w = worker_pass(poll_node, small, big, srv_small, srv_big, g_small, g_big)
    say("== 5. workers' peak RSS per action (a separate pass, each worker run under bench/agent-worker-wrap.py: "
        "GNU time's ru_maxrss and wall time, 10 ms resolution; their CPU is in 1. and 3.)")
    where = {"poll": f"steady polling (steady_interval_secs = {INTERVAL})", **labels}
    rows = []
    for k in ("poll", "small", "full", "delta"):
        for cmd in dict.fromkeys(c for c, *_ in w[k]):
            xs = [x for x in w[k] if x[0] == cmd]
            rss = [x[1] for x in xs]
            rows.append((f"{cmd:<8} {where[k]}", f"{len(xs)} run(s): peak RSS max {mib(max(rss))}, median "
                                                 f"{mib(med(rss))}; wall {med([x[2] for x in xs]):.2f} s (median)"
                                                 f"{'; exit ' + str(sorted({x[4] for x in xs})) if any(x[4] for x in xs) else ''}"))
    table(rows)
    kinds, poll_checks = {}, w["poll_checks"]
    for x in w["poll"]:
        kinds[x[0]] = kinds.get(x[0], 0) + 1
    say(f"   polling: {len(w['poll'])} workers in all (" + ", ".join(f"{v} {k}" for k, v in kinds.items()) +
        f") for {int(poll_checks)} update checks")
    return 0


def table(rows):
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        say(f"  {k:<{w}}  {v}")


def cleanup(*_):
    for p in children:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        rc = main()
    finally:
        cleanup()
    sys.exit(rc)
