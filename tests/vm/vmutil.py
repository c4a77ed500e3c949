"""Helpers to boot the Upkeep OSTree test VM under qemu (TCG) and watch its serial console.

stdlib only; run as root with /usr/bin/python3.

    img = vmutil.build_image()                  # tests/vm/build-image (cached)
    with vmutil.Workspace(img, "my-test") as ws:
        ws.make_release("v2", files={"/usr/share/foo": "bar\n"}, kargs=["quiet"])
        ws.write_guest_script("echo hi; systemctl poweroff --no-block\n")
        vm = ws.vm()
        vm.start()
        vm.wait_for(r"UPKEEP-VM: booted (\\S+) (\\S+)", timeout=300)
        vm.wait_exit(120)

The workspace directory (/var/tmp/upkeep-vm/runs/<name>-XXXX/) holds:
  share/                 9p share, mounted in the guest at /mnt/host (tag "hostshare")
  share/repo             hard-link copy of the image's archive repo (remote "host" in the guest)
  share/run-in-guest.sh  run by the guest at every boot (output on the serial console)
  overlay.qcow2          throw-away overlay on the cached base.raw
  serial.log             raw serial console output
"""

import atexit
import ctypes
import fcntl
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("UPKEEP_VM_CACHE", "/var/tmp/upkeep-vm")
ARTIFACTS = os.environ.get("UPKEEP_ARTIFACTS", "/tmp/upkeep-vm-artifacts")
QEMU = os.environ.get("UPKEEP_QEMU", "qemu-system-x86_64")

_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>78cDEHM]")
_LIVE_VMS = set()


def _log(msg):
    print("[vmutil %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


class Image:
    """A built image: base.raw, archive repo with ref v1, image.env values."""

    def __init__(self, path):
        self.dir = path
        self.base_raw = os.path.join(path, "base.raw")
        self.repo = os.path.join(path, "repo")
        self.env = {}
        with open(os.path.join(path, "image.env")) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    self.env[k] = v.strip('"')
        self.v1 = self.env["V1"]


def build_image(timeout=3600):
    """Run tests/vm/build-image (idempotent, cached) and return the Image."""
    t0 = time.time()
    os.makedirs(CACHE, exist_ok=True)
    # one build at a time (parallel pytest sessions would share the .tmp directories)
    with open(os.path.join(CACHE, ".build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = subprocess.run([os.path.join(HERE, "build-image")], stdout=subprocess.PIPE,
                           timeout=timeout, check=True, text=True)
    path = None
    for line in p.stdout.splitlines():
        if line.startswith("IMAGE_DIR="):
            path = line.split("=", 1)[1]
    if not path:
        raise RuntimeError("build-image printed no IMAGE_DIR")
    _log("image %s (build-image took %.1fs)" % (path, time.time() - t0))
    return Image(path)


def ostree(repo, *args, **kw):
    return subprocess.run(["ostree", "--repo=" + repo] + list(args), check=True,
                          stdout=subprocess.PIPE, text=True, **kw).stdout.strip()


class Workspace:
    """Per-test directory: 9p share with a copy of the repo, overlay disk, logs."""

    def __init__(self, image, name="vm"):
        self.image = image
        self.name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        runs = os.path.join(CACHE, "runs")
        os.makedirs(runs, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=self.name + "-", dir=runs)
        self.share = os.path.join(self.dir, "share")
        os.makedirs(self.share)
        self.repo = os.path.join(self.share, "repo")
        # Objects are immutable: a hard-link copy is instant and keeps the cache clean.
        subprocess.run(["cp", "-al", image.repo, self.repo], check=True)
        self.vms = []
        self.failed = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(failed=exc_type is not None)

    def make_release(self, version, files=None, kargs=None, base="v1", stream="stable"):
        """Commit ref `version` = `base` + a small directory layered on top (instant).

        files: {"/abs/path": str|bytes}; kargs: extra kernel arguments for the
        deployment (stored in /usr/lib/upkeep-vm/kargs, read by the guest's
        stage-release). /usr/lib/os-release gets VERSION_ID="<version>". The commit's metadata
        carries `version` and `upkeep.stream` (the agent's stream_metadata_key), as v1's does.
        Returns the commit checksum."""
        d = tempfile.mkdtemp(prefix="release-", dir=self.dir)
        os.chmod(d, 0o755)

        def put(path, data, mode=0o644):
            full = os.path.join(d, path.lstrip("/"))
            os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
            with open(full, "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
            os.chmod(full, mode)

        osrel = ostree(self.repo, "cat", base, "/usr/lib/os-release")
        osrel = re.sub(r"(?m)^VERSION_ID=.*$", 'VERSION_ID="%s"' % version, osrel)
        put("/usr/lib/os-release", osrel + "\n")
        for path, data in (files or {}).items():
            put(path, data)
        if kargs:
            put("/usr/lib/upkeep-vm/kargs", "\n".join(kargs) + "\n")
        # directories must look like the base's (root-owned, 0755)
        for root, dirs, _ in os.walk(d):
            for x in dirs:
                os.chmod(os.path.join(root, x), 0o755)
        csum = ostree(self.repo, "commit", "-b", version, "--tree=ref=" + base,
                      "--tree=dir=" + d,
                      # fsync would syncfs() the whole busy host disk: 80 s instead of
                      # 0.3 s; and no --owner-uid: with it ostree re-processes all of v1
                      # (a commit modifier), 60-200 s. We run as root: files are 0:0.
                      "--fsync=false",
                      "--subject=upkeep-vm " + version,
                      "--add-metadata-string=version=" + version,
                      "--add-metadata-string=upkeep.stream=" + stream)
        shutil.rmtree(d)
        _log("release %s = %s" % (version, csum))
        return csum

    def write_guest_script(self, text):
        """/mnt/host/run-in-guest.sh, run by the guest at every boot."""
        p = os.path.join(self.share, "run-in-guest.sh")
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, 0o755)
        return p

    def vm(self, **kw):
        vm = VM(self, **kw)
        self.vms.append(vm)
        return vm

    def close(self, failed=False):
        failed = failed or self.failed
        for vm in self.vms:
            vm.kill()
        if failed or os.environ.get("UPKEEP_VM_ALWAYS_ARTIFACTS") == "1":
            self.save_artifacts()
        for vm in self.vms:
            if os.path.exists(vm.overlay):
                os.unlink(vm.overlay)
        if not failed or os.environ.get("UPKEEP_VM_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def save_artifacts(self):
        dest = os.path.join(ARTIFACTS, os.path.basename(self.dir))
        os.makedirs(dest, exist_ok=True)
        for vm in self.vms:
            if os.path.exists(vm.log_path):
                shutil.copy(vm.log_path, dest)
        gs = os.path.join(self.share, "run-in-guest.sh")
        if os.path.exists(gs):
            shutil.copy(gs, dest)
        out = os.path.join(self.share, "out")  # what the guest wrote (test_vm_agent.py: status snapshots)
        if os.path.isdir(out):
            shutil.copytree(out, os.path.join(dest, "out"), dirs_exist_ok=True)
        _log("artefacts kept in %s" % dest)
        return dest


def newc_cpio(entries):
    """An uncompressed initramfs (cpio "newc"): entries = [(name, mode, data)], directories with
    data None. A kernel given one without /init cannot find its root file system and panics."""
    out = b""

    def pad(b):
        return b + b"\0" * (-len(b) % 4)

    for ino, (name, mode, data) in enumerate(list(entries) + [("TRAILER!!!", 0, b"")], start=1):
        data = data or b""
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join("%08x" % v for v in (
            ino if name != "TRAILER!!!" else 0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        out += pad(hdr.encode() + nb) + pad(data)
    return out + b"\0" * (-len(out) % 512)


def _set_pdeathsig():
    # qemu dies with the test process, whatever happens to it.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    os.setsid()


class VMTimeout(AssertionError):
    pass


class VM:
    """One qemu process on an overlay of the base image; serial console read by a thread."""

    def __init__(self, ws, name=None, memory=1024, smp=2, extra_args=()):
        self.ws = ws
        self.name = name or "vm%d" % len(ws.vms)
        self.overlay = os.path.join(ws.dir, self.name + ".qcow2")
        self.log_path = os.path.join(ws.dir, self.name + "-serial.log")
        self.memory = memory
        self.smp = smp
        self.extra_args = list(extra_args)
        self.proc = None
        self._lines = []        # completed, cleaned lines
        self._partial = b""
        self._cursor = 0        # wait_for() searches lines from here
        self._cond = threading.Condition()
        self._eof = False
        self.started_at = None

    # -- lifecycle
    def start(self):
        if not os.path.exists(self.overlay):
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", self.ws.image.base_raw,
                            "-F", "raw", self.overlay], check=True)
        cmd = [QEMU, "-machine", "pc", "-accel", "tcg,thread=multi", "-smp", str(self.smp),
               "-m", str(self.memory), "-nodefaults", "-no-user-config", "-display", "none",
               "-chardev", "stdio,id=ser0,signal=off", "-serial", "chardev:ser0",
               "-drive", "file=%s,if=virtio,format=qcow2,cache=unsafe,discard=unmap" % self.overlay,
               "-virtfs", "local,path=%s,mount_tag=hostshare,security_model=passthrough,id=hostshare"
               % self.ws.share,
               "-nic", "none"] + self.extra_args
        self.cmd = cmd
        self.logf = open(self.log_path, "ab")
        _log("starting %s: %s" % (self.name, " ".join(cmd)))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=_set_pdeathsig)
        _LIVE_VMS.add(self)
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()
        return self

    def _reader(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            self.logf.write(chunk)
            self.logf.flush()
            data = self._partial + chunk
            parts = data.split(b"\n")
            self._partial = parts.pop()
            if parts:
                clean = [_ANSI.sub(b"", p).replace(b"\r", b"").decode("utf-8", "replace")
                         for p in parts]
                with self._cond:
                    self._lines.extend(clean)
                    self._cond.notify_all()
        with self._cond:
            if self._partial:
                self._lines.append(_ANSI.sub(b"", self._partial).decode("utf-8", "replace"))
            self._eof = True
            self._cond.notify_all()

    def elapsed(self):
        return time.time() - self.started_at if self.started_at else 0.0

    def _scan(self, pattern, since, timeout, fail_on):
        """The first line from index `since` on matching regex `pattern`: (re.Match, the index after
        it). `fail_on`: regex that aborts the wait at once."""
        rx = re.compile(pattern)
        frx = re.compile(fail_on) if fail_on else None
        deadline = time.time() + timeout
        i = since
        with self._cond:
            while True:
                while i < len(self._lines):
                    line = self._lines[i]
                    i += 1
                    m = rx.search(line)
                    if m:
                        _log("%s +%.1fs: %s" % (self.name, self.elapsed(), line.strip()))
                        return m, i
                    if frx and frx.search(line):
                        raise VMTimeout("%s: %r seen while waiting for %r\n%s"
                                        % (self.name, line, pattern, self.tail()))
                left = deadline - time.time()
                if self._eof:
                    raise VMTimeout("%s: qemu exited (rc=%s) while waiting for %r\n%s"
                                    % (self.name, self.proc.poll(), pattern, self.tail()))
                if left <= 0:
                    raise VMTimeout("%s: timeout %ss waiting for %r\n%s"
                                    % (self.name, timeout, pattern, self.tail()))
                self._cond.wait(min(left, 1.0))

    def wait_for(self, pattern, timeout=300, fail_on=None):
        """Wait for a serial line matching regex `pattern` (searched after the previous
        match); return the re.Match. `fail_on`: regex that aborts the wait at once."""
        m, self._cursor = self._scan(pattern, self._cursor, timeout, fail_on)
        return m

    def mark(self):
        """Index of the line after wait_for()'s last match, for find()."""
        with self._cond:
            return self._cursor

    def find(self, pattern, since=0, timeout=300, fail_on=None):
        """Like wait_for(), but searches every line from index `since` on and leaves wait_for()'s
        cursor alone: for lines whose order against other awaited lines is not fixed (daemons
        logging while the test waits for something else)."""
        return self._scan(pattern, since, timeout, fail_on)[0]

    def lines(self):
        with self._cond:
            return list(self._lines)

    def tail(self, n=40):
        return "\n".join("  | " + x for x in self.lines()[-n:])

    def wait_exit(self, timeout=120):
        """Wait for qemu to exit (guest powered off); kill it on timeout."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise VMTimeout("%s: did not power off within %ss\n%s" % (self.name, timeout, self.tail()))
        self._thread.join(5)
        _LIVE_VMS.discard(self)
        _log("%s exited rc=%s after %.1fs" % (self.name, rc, self.elapsed()))
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            _log("killing %s (pid %d)" % (self.name, self.proc.pid))
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except OSError:
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    self.proc.kill()
                self.proc.wait(10)
        if self.proc:
            self._thread.join(5)
        _LIVE_VMS.discard(self)
        if getattr(self, "logf", None) and not self.logf.closed:
            self.logf.close()


@atexit.register
def _kill_all():
    for vm in list(_LIVE_VMS):
        vm.kill()
