"""upkeep-lock maps libcurl only when its etcd backend is configured (issue 12: libcurl and the libraries it
pulls in cost the default SQLite setup ~3.8 MiB of resident memory): the SQLite daemon never maps it, the
etcd one loads it at start, and without libcurl the etcd backend refuses to start with a message naming the
library."""
import ctypes
import os
import pathlib
import shutil
import subprocess

import pytest

from etcdutil import EtcdCluster
from lockutil import LockServer


def mapped(pid):
    return {line.split()[-1] for line in pathlib.Path(f"/proc/{pid}/maps").read_text().splitlines()
            if len(line.split()) >= 6}


def libcurl_mapped(pid):
    return any("libcurl" in pathlib.Path(p).name for p in mapped(pid))


def test_sqlite_never_maps_libcurl(build_dir, tmp_path):
    s = LockServer(build_dir, tmp_path, f'[backend]\ntype = "sqlite"\nsqlite_path = "{tmp_path}/l.db"\n')
    try:
        assert s.lock("a").status_code == 200
        assert s.unlock("a").status_code == 200
        assert not libcurl_mapped(s.proc.pid), sorted(mapped(s.proc.pid))
    finally:
        assert s.stop() == 0
    # nor does the binary ask the dynamic loader for it
    out = subprocess.run(["readelf", "-d", str(build_dir / "src/lock/upkeep-lock")], capture_output=True,
                         text=True, check=True).stdout
    assert "libcurl" not in out


def etcd_config(urls):
    endpoints = ", ".join(f'"{u}"' for u in urls)
    return f"[etcd3]\nendpoints = [{endpoints}]\ntransaction_timeout_ms = 2000\n"


def test_etcd_loads_libcurl(build_dir, tmp_path):
    c = EtcdCluster(1)
    try:
        s = LockServer(build_dir, tmp_path, etcd_config(c.client))
        try:
            assert s.lock("a").status_code == 200
            assert libcurl_mapped(s.proc.pid)
        finally:
            assert s.stop() == 0
    finally:
        c.close()


def test_etcd_without_libcurl(build_dir, tmp_path):
    """libcurl hidden in a private mount namespace: a clear error naming the library, exit 1."""
    unshare = shutil.which("unshare")
    try:
        ctypes.CDLL("libcurl.so.4")
    except OSError:
        pytest.skip("no libcurl.so.4 here")
    path = next(p for p in mapped(os.getpid()) if pathlib.Path(p).name.startswith("libcurl.so.4"))
    if not unshare:
        pytest.skip("no unshare here")
    (tmp_path / "lock.toml").write_text(etcd_config(["http://127.0.0.1:9"]))
    script = (f'mount --bind /dev/null "{path}" || exit 77; exec "{build_dir}/src/lock/upkeep-lock" '
              f'-c "{tmp_path}/lock.toml" --address 127.0.0.1 --port 0')
    p = subprocess.run([unshare, "--mount", "sh", "-c", script], capture_output=True, text=True, timeout=30)
    if p.returncode == 77 or "unshare failed" in p.stderr:
        pytest.skip(f"cannot hide libcurl here: {p.stderr.strip()}")
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "libcurl.so.4" in p.stderr, p.stderr
    assert "etcd" in p.stderr
