#!/usr/bin/python3
"""A reusable OSTree OS + update-server fixture for the agent's fleet tests, the demo and the agent benchmark.

It builds an archive repository holding N releases of a tiny bootable OS on one ref, the Fedora CoreOS
update metadata describing them (release index, update metadata) and an upkeep-graph configuration serving
them; serves the repository over loopback HTTP with fault switches; makes test sysroots booted (deployed) on
any release; and reads a sysroot's deployments back.

Module use:
    fx = osfixture.build(tmp_path / "os", releases=3, barrier=[1])
    with osfixture.RepoServer(fx.dir) as srv:
        osfixture.make_sysroot(tmp_path / "node", srv.url, 0)
        osfixture.sysroot_status(tmp_path / "node")      # [Deployment(checksum, version, index, ...)]
    GraphServer(build_dir, workdir, fx.graph_config_text())  # graphutil's daemon wrapper

CLI (Debian's /usr/bin/python3, stdlib only):
    osfixture.py build --out DIR --releases N [--barrier K]... [--deadend K]... [--size-mb M]
                       [--stream stable] [--osname testos] [--basearch ARCH]
    osfixture.py serve --dir DIR [--port-file PATH]          # serve DIR/repo until SIGINT/SIGTERM
    osfixture.py sysroot --path P --url URL --release I      # a sysroot deployed on release I
    osfixture.py status --sysroot P [--fixture DIR]          # its deployments as JSON, boot order

Every ostree call runs with OSTREE_SYSROOT_DEBUG=mutable-deployments so no deployment gets the immutable
bit (tests run as root; the bit would make temp directories undeletable).

Layout of DIR after build:
    repo/               archive repo, ref <osname>/<basearch>/<stream>, summary generated
    meta/releases.json  release index (oldest first, commits for <basearch>)
    meta/updates.json   update metadata (rollout start_percentage 1.0 on every release after the first,
                        barrier/deadend as asked)
    graph.toml          upkeep-graph configuration for the stream (paths relative to DIR, refresh 1 s)
    fixture.json        what was built: osname, stream, basearch, ref, releases [{index, version, checksum}]
"""
import argparse
import dataclasses
import datetime
import fcntl
import http.server
import json
import os
import pathlib
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

OSTREE_ENV = {"OSTREE_SYSROOT_DEBUG": "mutable-deployments"}
KVER = "6.1.0-upkeep"
# Release i is version 40.20261201.3.<i> (FCOS shape: major, date, 3 = stable, build), committed at
# 2026-12-01T00:00Z + i minutes, so age order, version order and timestamp order all agree.
VERSION_MAJOR, VERSION_DATE = 40, "20261201"
BASE_TIMESTAMP = 1796083200  # 2026-12-01T00:00:00Z
N_TOOLS = 12  # usr/bin files; release i (i >= 1) changes usr/bin/tool-<i % N_TOOLS>
CHUNK_BYTES = 256 * 1024  # --size-mb content is split into files of this size
VERSION_RE = re.compile(r"^([0-9]{2})\.([0-9]{8})\.([0-9]+)\.([0-9]+)$")


class OstreeError(RuntimeError):
    pass


def ostree(*args, check=True, input=None):
    """Runs `ostree ARGS` with the test environment; returns stdout; raises OstreeError with stderr."""
    env = dict(os.environ, **OSTREE_ENV)
    p = subprocess.run(["ostree", *map(str, args)], env=env, input=input, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise OstreeError(f"ostree {' '.join(map(str, args))}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def host_basearch():
    return platform.machine() or os.uname().machine


def version_for(i):
    return f"{VERSION_MAJOR}.{VERSION_DATE}.3.{i}"


def index_from_version(version):
    """The release index encoded in a fixture version (`40.20261201.3.<i>`), or None."""
    m = VERSION_RE.match(version or "")
    return int(m.group(4)) if m else None


@dataclasses.dataclass(frozen=True)
class Release:
    index: int
    version: str
    checksum: str


@dataclasses.dataclass
class Fixture:
    """What build() made. Load an existing one with Fixture.load(DIR)."""
    dir: pathlib.Path
    osname: str
    stream: str
    basearch: str
    ref: str
    releases: list
    barrier: list = dataclasses.field(default_factory=list)
    deadend: list = dataclasses.field(default_factory=list)

    @property
    def repo(self):
        return self.dir / "repo"

    @property
    def meta_dir(self):
        return self.dir / "meta"

    @property
    def graph_toml(self):
        return self.dir / "graph.toml"

    def checksum(self, i):
        return self.releases[i].checksum

    def version(self, i):
        return self.releases[i].version

    def index_of(self, checksum):
        for r in self.releases:
            if r.checksum == checksum:
                return r.index
        return None

    def graph_config_text(self, interval_secs=1, absolute=True):
        """upkeep-graph TOML for this stream; absolute paths by default so any workdir works
        (graphutil.GraphServer writes the text into its own workdir)."""
        base = self.meta_dir if absolute else pathlib.Path("meta")
        return graph_config_text(self.stream, base / "releases.json", base / "updates.json", [self.basearch],
                                 interval_secs)

    def write_updates(self, barrier=(), deadend=(), rollouts=None):
        """Rewrites meta/updates.json atomically (upkeep-graph sees it by inotify within ~100 ms)."""
        self.barrier, self.deadend = sorted(set(barrier)), sorted(set(deadend))
        write_json_atomic(self.meta_dir / "updates.json",
                          updates_doc(self.stream, self.releases, self.barrier, self.deadend, rollouts))
        self._write_fixture_json()

    def make_sysroot(self, path, repo_url, release_index, **kw):
        return make_sysroot(path, repo_url, release_index, checksum=self.checksum(release_index), ref=self.ref,
                            osname=self.osname, **kw)

    def sysroot_status(self, path):
        return sysroot_status(path, releases=self)

    def to_json(self):
        return {"osname": self.osname, "stream": self.stream, "basearch": self.basearch, "ref": self.ref,
                "barrier": self.barrier, "deadend": self.deadend,
                "releases": [dataclasses.asdict(r) for r in self.releases]}

    def _write_fixture_json(self):
        write_json_atomic(self.dir / "fixture.json", self.to_json())

    @classmethod
    def load(cls, d):
        d = pathlib.Path(d)
        j = json.loads((d / "fixture.json").read_text())
        return cls(dir=d, osname=j["osname"], stream=j["stream"], basearch=j["basearch"], ref=j["ref"],
                   releases=[Release(**r) for r in j["releases"]], barrier=j.get("barrier", []),
                   deadend=j.get("deadend", []))


def write_json_atomic(path, doc):
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)


def _iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def releases_doc(stream, basearch, releases):
    return {"note": "upkeep test fixture (tests/integration/osfixture.py)",
            "releases": [{"commits": [{"architecture": basearch, "checksum": r.checksum}], "version": r.version}
                         for r in releases],
            "metadata": {"last-modified": _iso(BASE_TIMESTAMP + 60 * len(releases))},
            "stream": stream}


def updates_doc(stream, releases, barrier=(), deadend=(), rollouts=None):
    """Update metadata: every release after the first gets a finished rollout (start_percentage 1.0) unless
    `rollouts` maps its index to another rollout object, or to None for no rollout (then it is no target)."""
    rollouts = rollouts or {}
    out = []
    for r in releases:
        md = {}
        rollout = rollouts.get(r.index, {"start_percentage": 1.0} if r.index > 0 else None)
        if rollout is not None:
            md["rollout"] = rollout
        if r.index in barrier:
            md["barrier"] = {"reason": f"https://upkeep.invalid/barrier/{r.version}"}
        if r.index in deadend:
            md["deadend"] = {"reason": f"https://upkeep.invalid/deadend/{r.version}"}
        if md:
            out.append({"version": r.version, "metadata": md})
    return {"stream": stream, "metadata": {"last-modified": _iso(BASE_TIMESTAMP + 60 * len(releases))},
            "releases": out}


def graph_config_text(stream, releases_path, updates_path, basearches, interval_secs=1):
    arches = ", ".join(json.dumps(a) for a in basearches)
    return (f'[server]\naddress = "127.0.0.1"\nport = 0\n\n'
            f"[refresh]\ninterval_secs = {interval_secs}\n\n"
            f"[streams.{stream}]\nreleases = {json.dumps(str(releases_path))}\n"
            f"updates = {json.dumps(str(updates_path))}\nbasearches = [{arches}]\n")


# --- building the OS tree and the repository ------------------------------------------------------------

def _tool_content(k, rev):
    # A few KiB of text that differs per tool and revision; compressible, so the repo stays small.
    line = f"#!/bin/sh\n# upkeep test tool {k}, revision {rev}\n"
    return (line + "".join(f"echo tool {k} rev {rev} line {n}\n" for n in range(40))).encode()


def _chunk_bytes(c, rev):
    return random.Random(f"upkeep-chunk-{c}-{rev}").randbytes(CHUNK_BYTES)


def _write(path, data, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)


def _populate(tree, i, osname, stream, n_chunks):
    """Brings the work tree to release i (from release i-1, or from nothing when i == 0)."""
    version = version_for(i)
    os_release = (f'NAME="Upkeep Test OS"\nID={osname}\nVERSION="{version}"\nVERSION_ID={VERSION_MAJOR}\n'
                  f'OSTREE_VERSION="{version}"\nPRETTY_NAME="Upkeep Test OS {version}"\n'
                  f"UPKEEP_STREAM={stream}\n").encode()
    _write(tree / "usr/etc/os-release", os_release)
    _write(tree / "usr/share/upkeep-release", (version + "\n").encode())
    if i == 0:
        _write(tree / f"usr/lib/modules/{KVER}/vmlinuz", b"upkeep test kernel " + KVER.encode() + b"\n" * 64)
        _write(tree / f"usr/lib/modules/{KVER}/initramfs.img", b"upkeep test initramfs\n" * 64)
        _write(tree / "usr/etc/hostname", b"upkeep-node\n")
        _write(tree / "usr/etc/motd", b"Welcome to the Upkeep test OS\n")
        for k in range(N_TOOLS):
            _write(tree / f"usr/bin/tool-{k:02d}", _tool_content(k, 0), 0o755)
        for c in range(n_chunks):
            _write(tree / f"usr/share/upkeep-data/chunk-{c:04d}", _chunk_bytes(c, 0))
        return
    k = i % N_TOOLS
    _write(tree / f"usr/bin/tool-{k:02d}", _tool_content(k, i), 0o755)
    if n_chunks:
        # ~1% of the bulk data changes per release (at least one chunk), a different part each time.
        n_change = max(1, round(n_chunks / 100))
        for j in range(n_change):
            c = (i * n_change + j) % n_chunks
            _write(tree / f"usr/share/upkeep-data/chunk-{c:04d}", _chunk_bytes(c, i))


def build(out, releases, barrier=(), deadend=(), size_mb=0, stream="stable", osname="testos", basearch=None,
          rollouts=None, log=None):
    """Builds DIR=out (must not exist or be empty) with `releases` releases; returns the Fixture.
    barrier / deadend: release indices (ints or iterables); rollouts: {index: rollout object or None}."""
    out = pathlib.Path(out)
    if isinstance(barrier, int):
        barrier = [barrier]
    if isinstance(deadend, int):
        deadend = [deadend]
    if releases < 1:
        raise ValueError("releases must be >= 1")
    for k in [*barrier, *deadend]:
        if not 0 <= k < releases:
            raise ValueError(f"release index {k} out of range 0..{releases - 1}")
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", stream):
        raise ValueError(f"bad stream name {stream!r}")
    basearch = basearch or host_basearch()
    ref = f"{osname}/{basearch}/{stream}"
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    repo = out / "repo"
    ostree("init", f"--repo={repo}", "--mode=archive")
    n_chunks = (int(size_mb * 1024 * 1024) + CHUNK_BYTES - 1) // CHUNK_BYTES
    rels = []
    # Commits go to a scratch bare-user-only repo (no compression: an archive commit recompresses every file
    # each time, 4.6 s per 100 MB release); one pull-local then compresses only the distinct objects, in
    # parallel. bare-user-only needs no xattrs and records every file as root's, as in a real OS image.
    with tempfile.TemporaryDirectory(prefix="osfixture-build-", dir=out) as work:
        tree, stage = pathlib.Path(work) / "tree", pathlib.Path(work) / "stage"
        ostree("init", f"--repo={stage}", "--mode=bare-user-only")
        ostree("config", f"--repo={stage}", "set", "core.fsync", "false")
        for i in range(releases):
            t0 = time.monotonic()
            _populate(tree, i, osname, stream, n_chunks)
            version = version_for(i)
            csum = ostree("commit", f"--repo={stage}", "--bootable", "-b", ref, f"--tree=dir={tree}",
                          f"--timestamp=@{BASE_TIMESTAMP + 60 * i}", f"--subject={osname} {version}",
                          f"--add-metadata-string=version={version}",
                          f"--add-metadata-string=fedora-coreos.stream={stream}").strip()
            rels.append(Release(i, version, csum))
            if log:
                log(f"release {i} {version} {csum} ({time.monotonic() - t0:.2f} s)")
        t0 = time.monotonic()
        ostree("pull-local", f"--repo={repo}", "--depth=-1", "--disable-fsync", stage, ref)
        if log:
            log(f"archive repo written ({time.monotonic() - t0:.2f} s)")
    if ostree("rev-parse", f"--repo={repo}", ref).strip() != rels[-1].checksum:
        raise OstreeError(f"{repo}: {ref} is not the last release after pull-local")
    ostree("summary", f"--repo={repo}", "-u")
    fx = Fixture(dir=out, osname=osname, stream=stream, basearch=basearch, ref=ref, releases=rels)
    (out / "meta").mkdir()
    write_json_atomic(out / "meta/releases.json", releases_doc(stream, basearch, rels))
    fx.write_updates(barrier, deadend, rollouts)  # also writes fixture.json
    (out / "graph.toml").write_text(fx.graph_config_text(absolute=False))
    return fx


# --- sysroots ---------------------------------------------------------------------------------------------

def remote_history(repo_url, ref):
    """[checksum, ...] of the ref's history on the server, oldest first (a metadata-only pull into a scratch
    repository, so the sysroot's own repository gets no extra objects)."""
    with tempfile.TemporaryDirectory(prefix="osfixture-hist-") as d:
        ostree("init", f"--repo={d}", "--mode=bare-user")
        ostree("remote", "add", f"--repo={d}", "--no-gpg-verify", "o", repo_url, ref)
        ostree("pull", f"--repo={d}", "--commit-metadata-only", "--depth=-1", "o", ref)
        history = re.findall(r"^commit ([0-9a-f]{64})$", ostree("log", f"--repo={d}", f"o:{ref}"), re.M)
    return history[::-1]


def remote_refs(repo_url):
    with tempfile.TemporaryDirectory(prefix="osfixture-refs-") as d:
        ostree("init", f"--repo={d}", "--mode=bare-user")
        ostree("remote", "add", f"--repo={d}", "--no-gpg-verify", "o", repo_url)
        return sorted(line.split(":", 1)[1] for line in ostree("remote", "refs", f"--repo={d}", "o").split())


def make_sysroot(path, repo_url, release_index, *, checksum=None, ref=None, osname=None, remote="origin",
                 kargs=("root=LABEL=root",)):
    """Creates a sysroot at path deployed on the given release of repo_url: init-fs --modern, os-init,
    remote `origin` (no GPG), pull <ref>@<checksum> (the local origin:<ref> then names that older commit) and
    `ostree admin deploy origin:<ref>`, so the deployment's origin is `refspec=origin:<ref>` like a real node.
    ref defaults to the server's only ref, osname to its first component, checksum to the
    release_index-th commit (oldest first) of the ref's history. Returns the deployed checksum."""
    path = pathlib.Path(path)
    if ref is None:
        refs = remote_refs(repo_url)
        if len(refs) != 1:
            raise ValueError(f"give ref=: the server has refs {refs}")
        ref = refs[0]
    osname = osname or ref.split("/")[0]
    if checksum is None:
        history = remote_history(repo_url, ref)
        if not 0 <= release_index < len(history):
            raise IndexError(f"release {release_index} not in the {len(history)} commits of {ref}")
        checksum = history[release_index]
    path.mkdir(parents=True, exist_ok=True)
    repo = path / "ostree/repo"
    ostree("admin", "init-fs", "--modern", path)
    ostree("admin", "os-init", osname, f"--sysroot={path}")
    ostree("remote", "add", f"--repo={repo}", "--no-gpg-verify", remote, repo_url, ref)
    ostree("pull", f"--repo={repo}", remote, f"{ref}@{checksum}")
    ostree("admin", "deploy", f"--sysroot={path}", f"--os={osname}", *(f"--karg={k}" for k in kargs),
           f"{remote}:{ref}")
    return checksum


def pull_and_deploy(path, checksum, ref, *, osname=None, remote="origin"):
    """What an agent does to stage a target on this ostree: pull <ref>@<checksum>, deploy it (kernel
    arguments are carried over from the current default deployment)."""
    path = pathlib.Path(path)
    osname = osname or ref.split("/")[0]
    ostree("pull", f"--repo={path / 'ostree/repo'}", remote, f"{ref}@{checksum}")
    ostree("admin", "deploy", f"--sysroot={path}", f"--os={osname}", f"{remote}:{ref}")


@dataclasses.dataclass(frozen=True)
class Deployment:
    checksum: str
    version: str  # None when the commit has no version
    index: int  # release index: by checksum when releases are known, else from the version; None if unknown
    osname: str
    serial: int
    booted: bool = False
    staged: bool = False
    pending: bool = False
    rollback: bool = False
    pinned: bool = False
    refspec: str = None
    unlocked: str = None

    def key(self):
        return (self.checksum, self.version, self.index)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DEPLOY_LINE = re.compile(r"^\s*(\*\s+)?(\S+)\s+([0-9a-f]{64})\.([0-9]+)((?:\s*\([^)]*\))*)\s*$")


def parse_status(text):
    """Parses `ostree admin status` output (2022.7 and later) into dicts, boot order kept. Tolerates colour
    escapes, unknown indented detail lines, `(staged)`/`(pending)`/`(rollback)`/`(finalization locked)`
    markers and `No deployments.`."""
    out = []
    for raw in _ANSI.sub("", text).splitlines():
        m = _DEPLOY_LINE.match(raw)
        if m:
            marks = set(re.findall(r"\(([^)]*)\)", m.group(5)))
            out.append({"booted": m.group(1) is not None, "osname": m.group(2), "checksum": m.group(3),
                        "serial": int(m.group(4)), "staged": "staged" in marks or "finalization locked" in marks,
                        "pending": "pending" in marks, "rollback": "rollback" in marks, "version": None,
                        "refspec": None, "pinned": False, "unlocked": None})
            continue
        line = raw.strip()
        if not out or not raw[:1].isspace() or ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value, cur = key.strip().lower(), value.strip(), out[-1]
        if key == "version":
            cur["version"] = value
        elif key == "origin refspec":
            cur["refspec"] = value
        elif key == "pinned":
            cur["pinned"] = value == "yes"
        elif key == "unlocked":
            cur["unlocked"] = value
    return out


def admin_status(path):
    """`ostree admin status` of a sysroot, read under a shared lock on the sysroot's lock file, which
    libostree holds exclusively (an OFD lock, which conflicts with this POSIX one) while it deploys or
    cleans up. Without it the reader can run in the middle of an agent's write and fail: the fleet tests did
    under load."""
    lock = pathlib.Path(path) / "ostree/lock"
    if not lock.exists():
        return ostree("admin", "status", f"--sysroot={path}")
    with open(lock, "r+") as f:
        fcntl.lockf(f, fcntl.LOCK_SH)
        try:
            return ostree("admin", "status", f"--sysroot={path}")
        finally:
            fcntl.lockf(f, fcntl.LOCK_UN)


def sysroot_status(path, releases=None):
    """The sysroot's deployments in boot order (the first is the default) as Deployment records.
    releases: a Fixture, or a list of checksums (oldest first), to map checksums to release indices;
    without it the index comes from the fixture's version scheme."""
    path = pathlib.Path(path)
    if isinstance(releases, Fixture):
        by_csum = {r.checksum: r.index for r in releases.releases}
    elif releases is not None:
        by_csum = {c: i for i, c in enumerate(releases)}
    else:
        by_csum = None
    out = []
    for d in parse_status(admin_status(path)):
        if d["version"] is None:  # not printed: read the commit itself
            v = ostree("show", f"--repo={path / 'ostree/repo'}", "--print-metadata-key=version", d["checksum"],
                       check=False).strip()
            d["version"] = v.strip("'") or None
        d["index"] = by_csum.get(d["checksum"]) if by_csum is not None else index_from_version(d["version"])
        out.append(Deployment(**d))
    return out


# --- the HTTP server for the repository -------------------------------------------------------------------

class RepoServer:
    """Serves an archive repo (DIR/repo, or DIR itself when it is a repo) on http://127.0.0.1:<port 0>.

    Fault switches: `fail_all = True` answers 500 to everything; `fail(suffix, status)` answers status to
    paths ending in suffix; `corrupt(suffix)` serves the right length of wrong bytes for such paths;
    `delay = secs` sleeps before each answer; `clear_faults()`. Observation: `requests` (every path asked,
    in order), `log` ((path, status, body bytes)), `bytes_served`, `mark()` / `objects_since(mark)`."""

    def __init__(self, d, start=True):
        d = pathlib.Path(d)
        self.root = (d / "repo") if (d / "repo" / "config").exists() else d
        if not (self.root / "config").exists():
            raise FileNotFoundError(f"no ostree repository at {d} or {d / 'repo'}")
        self.root = self.root.resolve()
        self.fail_all = False
        self.delay = 0.0
        self._fail = {}
        self._corrupt = set()
        self._lock = threading.Lock()
        self.requests = []
        self.log = []
        self.bytes_served = 0
        self.httpd = None
        self.thread = None
        if start:
            self.start()

    # faults
    def corrupt(self, path_suffix):
        with self._lock:
            self._corrupt.add(path_suffix)

    def fail(self, path_suffix, status=500):
        with self._lock:
            self._fail[path_suffix] = status

    def clear_faults(self):
        with self._lock:
            self._corrupt.clear()
            self._fail.clear()
            self.fail_all = False
            self.delay = 0.0

    # observation
    def mark(self):
        with self._lock:
            return len(self.requests)

    def objects_since(self, mark=0):
        """Object paths (/objects/xx/....{commit,dirtree,dirmeta,filez,...}) requested since mark."""
        with self._lock:
            return [p for p in self.requests[mark:] if p.startswith("/objects/")]

    def reset_log(self):
        with self._lock:
            self.requests.clear()
            self.log.clear()
            self.bytes_served = 0

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _answer(self, path):
        """(status, body) for a request path."""
        with self._lock:
            fail_all, delay = self.fail_all, self.delay
            fail = next((s for suf, s in self._fail.items() if path.endswith(suf)), None)
            corrupt = any(path.endswith(suf) for suf in self._corrupt)
        if delay:
            time.sleep(delay)
        if fail_all:
            return 500, b"fixture: fail_all\n"
        if fail is not None:
            return fail, b"fixture: failing this path\n"
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            return 404, b"not found\n"
        f = self.root.joinpath(*parts)
        try:
            body = f.read_bytes()
        except (IsADirectoryError, FileNotFoundError, NotADirectoryError, PermissionError):
            return 404, b"not found\n"
        if corrupt:
            body = bytes(b ^ 0x5A for b in body)
        return 200, body

    def start(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Keep-alive + small answers: without this, Nagle and delayed ACKs add ~40 ms per object.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self, send_body):
                path = self.path.split("?", 1)[0]
                status, body = outer._answer(path)
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                sent = 0
                try:
                    if send_body:  # headers and body in one write
                        self._headers_buffer.append(b"\r\n" + body)
                        self.flush_headers()
                        sent = len(body)
                    else:
                        self.end_headers()
                except OSError:
                    self.close_connection = True
                with outer._lock:
                    outer.requests.append(path)
                    outer.log.append((path, status, sent))
                    outer.bytes_served += sent

            def do_GET(self):
                self._serve(True)

            def do_HEAD(self):
                self._serve(False)

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # clients hanging up mid-answer are normal in fault tests

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="osfixture-repo",
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=10)
            self.httpd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --- CLI --------------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(prog="osfixture.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the repo, metadata and graph.toml")
    b.add_argument("--out", required=True, type=pathlib.Path)
    b.add_argument("--releases", required=True, type=int)
    b.add_argument("--barrier", type=int, action="append", default=[])
    b.add_argument("--deadend", type=int, action="append", default=[])
    b.add_argument("--size-mb", type=float, default=0)
    b.add_argument("--stream", default="stable")
    b.add_argument("--osname", default="testos")
    b.add_argument("--basearch", default=None)
    s = sub.add_parser("serve", help="serve DIR/repo until SIGINT/SIGTERM; prints the URL")
    s.add_argument("--dir", required=True, type=pathlib.Path)
    s.add_argument("--port-file", type=pathlib.Path)
    r = sub.add_parser("sysroot", help="make a sysroot deployed on a release")
    r.add_argument("--path", required=True, type=pathlib.Path)
    r.add_argument("--url", required=True)
    r.add_argument("--release", required=True, type=int)
    r.add_argument("--ref")
    t = sub.add_parser("status", help="a sysroot's deployments as JSON, boot order")
    t.add_argument("--sysroot", required=True, type=pathlib.Path)
    t.add_argument("--fixture", type=pathlib.Path, help="fixture DIR, to map checksums to release indices")
    a = ap.parse_args(argv)

    if a.cmd == "build":
        t0 = time.monotonic()
        fx = build(a.out, a.releases, a.barrier, a.deadend, a.size_mb, a.stream, a.osname, a.basearch,
                   log=lambda m: print(m, file=sys.stderr))
        print(json.dumps(dict(fx.to_json(), dir=str(fx.dir), seconds=round(time.monotonic() - t0, 3)), indent=2))
    elif a.cmd == "serve":
        srv = RepoServer(a.dir)
        if a.port_file:
            a.port_file.write_text(str(srv.port))
        print(srv.url, flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        srv.stop()
    elif a.cmd == "sysroot":
        print(make_sysroot(a.path, a.url, a.release, ref=a.ref))
    elif a.cmd == "status":
        rel = Fixture.load(a.fixture) if a.fixture else None
        print(json.dumps([dataclasses.asdict(d) for d in sysroot_status(a.sysroot, rel)], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
