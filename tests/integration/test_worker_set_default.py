"""upkeep-agent-worker's set-default command (the agent's rollback, and its repair after a bootloader
fallback), run directly with a JSON request on stdin: on a real test sysroot with two deployments, checked
with `ostree admin status` before and after; and through rpm-ostree (`rpm-ostree rollback`) against the fake
rpm-ostree of the rpm-ostree tests."""
import copy
import fcntl
import json
import os
import pathlib
import subprocess

import pytest

import osfixture

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
FAKE = DATA / "fake-rpm-ostree"


def run_worker(build_dir, request, env=None):
    """Runs the worker on one request; returns its result line (the last line) as a dict."""
    p = subprocess.run([str(build_dir / "src/agent/upkeep-agent-worker")], input=json.dumps(request),
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines() if line]
    assert lines and "progress" not in lines[-1], p.stdout
    return lines[-1], p


def ostree_os(path):
    return {"backend": "ostree", "sysroot": str(path)}


def order(path):
    """The sysroot's deployments in boot order (the first is the default), as checksums."""
    return [d.checksum for d in osfixture.sysroot_status(path)]


@pytest.fixture(scope="module")
def os3(tmp_path_factory):
    d = tmp_path_factory.mktemp("os")
    fx = osfixture.build(d / "os", releases=3)
    srv = osfixture.RepoServer(fx.dir)
    yield fx, srv
    srv.stop()


@pytest.fixture
def node(os3, tmp_path):
    """A sysroot on release 0 that then deployed release 1: [v1 (default), v0 (rollback)]."""
    fx, srv = os3
    path = tmp_path / "node"
    osfixture.make_sysroot(path, srv.url, 0)
    osfixture.pull_and_deploy(path, fx.checksum(1), fx.ref)
    assert order(path) == [fx.checksum(1), fx.checksum(0)]
    return fx, path


def test_rollback_to_previous(build_dir, node):
    fx, path = node
    res, _ = run_worker(build_dir, {"command": "set-default", "checksum": fx.checksum(0), "os": ostree_os(path)})
    assert res == {"ok": True, "changed": True}
    # both deployments kept, the previous one now the default
    assert order(path) == [fx.checksum(0), fx.checksum(1)]
    status = osfixture.parse_status(osfixture.admin_status(path))
    assert [d["checksum"] for d in status] == [fx.checksum(0), fx.checksum(1)]

    # again: nothing to do
    res, _ = run_worker(build_dir, {"command": "set-default", "checksum": fx.checksum(0), "os": ostree_os(path)})
    assert res == {"ok": True, "changed": False}
    assert order(path) == [fx.checksum(0), fx.checksum(1)]

    # and back (what the agent does after a bootloader fallback: the booted one becomes the default)
    res, _ = run_worker(build_dir, {"command": "set-default", "checksum": fx.checksum(1), "os": ostree_os(path)})
    assert res == {"ok": True, "changed": True}
    assert order(path) == [fx.checksum(1), fx.checksum(0)]


def test_unknown_deployment(build_dir, node):
    fx, path = node
    res, _ = run_worker(build_dir, {"command": "set-default", "checksum": fx.checksum(2), "os": ostree_os(path)})
    assert res["ok"] is False
    assert res["error_kind"] == "no_deployment"
    assert res["errno"] == 2
    assert fx.checksum(2)[:12] in res["error"]
    assert order(path) == [fx.checksum(1), fx.checksum(0)]


def test_bad_checksum(build_dir, node):
    fx, path = node
    for bad in [fx.checksum(0).upper(), fx.checksum(0)[:63], 42, None]:
        req = {"command": "set-default", "os": ostree_os(path)}
        if bad is not None:
            req["checksum"] = bad
        res, _ = run_worker(build_dir, req)
        assert res["ok"] is False and res["errno"] == 22, res
        assert "checksum" in res["error"]
    assert order(path) == [fx.checksum(1), fx.checksum(0)]


def test_sysroot_locked(build_dir, node):
    fx, path = node
    # libostree creates the lock file on first use; a POSIX lock on it conflicts with libostree's OFD lock
    with open(os.open(path / "ostree/lock", os.O_RDWR | os.O_CREAT, 0o600), "r+") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
        res, _ = run_worker(build_dir, {"command": "set-default", "checksum": fx.checksum(0),
                                        "os": ostree_os(path)})
        fcntl.lockf(f, fcntl.LOCK_UN)
    assert res["ok"] is False
    assert res["error_kind"] == "locked"
    assert res["errno"] == 16
    assert order(path) == [fx.checksum(1), fx.checksum(0)]


def test_staged_is_dropped(build_dir, node):
    """A staged (not finalized) release does not survive a rollback silently: it is removed and named."""
    fx, path = node
    booted = {"osname": fx.osname, "checksum": fx.checksum(1), "serial": 0}
    os_ = dict(ostree_os(path), booted=booted)
    serial = next(d.serial for d in osfixture.sysroot_status(path) if d.checksum == fx.checksum(1))
    booted["serial"] = serial
    res, _ = run_worker(build_dir, {"command": "stage", "release": {"payload": fx.checksum(2)}, "os": os_})
    assert res["ok"] is True, res
    assert order(path) == [fx.checksum(1), fx.checksum(2), fx.checksum(0)]

    res, _ = run_worker(build_dir, {"command": "set-default", "checksum": fx.checksum(0), "os": os_})
    assert res == {"ok": True, "changed": True, "dropped_staged": fx.checksum(2)}
    assert order(path) == [fx.checksum(0), fx.checksum(1)]

    # the status the agent reads next shows no staged deployment
    res, _ = run_worker(build_dir, {"command": "status", "os": os_})
    assert res["ok"] is True
    assert [d["checksum"] for d in res["deployments"]] == [fx.checksum(0), fx.checksum(1)]
    assert not any(d["staged"] for d in res["deployments"])


# --- rpm-ostree ------------------------------------------------------------------------------------------

ROLLBACK_WRAPPER = """#!/bin/sh
# the fake rpm-ostree, plus `rollback`: it replays FAKE_RPMOSTREE_ROLLBACK_STATUS from then on
if [ "${1:-}" = rollback ]; then
        printf 'client=%s argv: [rollback]\\n' "${RPMOSTREE_CLIENT_ID-<unset>}" >>"$FAKE_RPMOSTREE_LOG"
        cp "$FAKE_RPMOSTREE_ROLLBACK_STATUS" "$FAKE_RPMOSTREE_STATUS"
        echo "Moving '$2' to be first deployment"
        exit 0
fi
exec "$FAKE" "$@"
"""


@pytest.fixture
def fcos(tmp_path):
    """A host on booted-rollback.json (booted, then its rollback) and the same host after a rollback."""
    doc = json.loads((DATA / "rpm-ostree" / "booted-rollback.json").read_text())
    booted, rollback = doc["deployments"]
    after = copy.deepcopy(doc)
    after["deployments"] = [copy.deepcopy(rollback), copy.deepcopy(booted)]
    (tmp_path / "status.json").write_text(json.dumps(doc))
    (tmp_path / "after.json").write_text(json.dumps(after))
    wrapper = tmp_path / "rpm-ostree"
    wrapper.write_text(ROLLBACK_WRAPPER)
    wrapper.chmod(0o755)
    log = tmp_path / "rpm-ostree.log"
    env = dict(os.environ, FAKE=str(FAKE), FAKE_RPMOSTREE_LOG=str(log),
               FAKE_RPMOSTREE_STATUS=str(tmp_path / "status.json"),
               FAKE_RPMOSTREE_ROLLBACK_STATUS=str(tmp_path / "after.json"))
    os_ = {"backend": "rpm-ostree", "rpm_ostree_path": str(wrapper), "register": False}
    return booted, rollback, env, os_, log


def calls(log):
    return [line.split("argv: ", 1)[1] for line in log.read_text().splitlines()] if log.exists() else []


def test_rpm_ostree_rollback(build_dir, fcos):
    booted, rollback, env, os_, log = fcos
    res, _ = run_worker(build_dir, {"command": "set-default", "checksum": rollback["checksum"], "os": os_},
                        env=env)
    assert res == {"ok": True, "changed": True}
    assert calls(log) == ["[status] [--json]", "[rollback]", "[status] [--json]"]


def test_rpm_ostree_already_default(build_dir, fcos):
    booted, rollback, env, os_, log = fcos
    res, _ = run_worker(build_dir, {"command": "set-default", "checksum": booted["checksum"], "os": os_},
                        env=env)
    assert res == {"ok": True, "changed": False}
    assert calls(log) == ["[status] [--json]"]


def test_rpm_ostree_unknown(build_dir, fcos):
    booted, rollback, env, os_, log = fcos
    res, _ = run_worker(build_dir, {"command": "set-default", "checksum": "e" * 64, "os": os_}, env=env)
    assert res["ok"] is False and res["error_kind"] == "no_deployment", res
    assert calls(log) == ["[status] [--json]"]


def test_rpm_ostree_rollback_not_applied(build_dir, fcos, tmp_path):
    """rpm-ostree says it rolled back but the default did not change: an error, not a silent success."""
    booted, rollback, env, os_, log = fcos
    env["FAKE_RPMOSTREE_ROLLBACK_STATUS"] = str(tmp_path / "status.json.copy")
    (tmp_path / "status.json.copy").write_text((tmp_path / "status.json").read_text())
    res, _ = run_worker(build_dir, {"command": "set-default", "checksum": rollback["checksum"], "os": os_},
                        env=env)
    assert res["ok"] is False and res["error_kind"] == "os", res
    assert "after rpm-ostree rollback" in res["error"]


def test_rpm_ostree_rollback_fails(build_dir, fcos):
    booted, rollback, env, os_, log = fcos
    env["FAKE_RPMOSTREE_FAIL"] = "rollback"
    wrapper = pathlib.Path(os_["rpm_ostree_path"])
    # the failure switch is the fake's: let the wrapper hand rollback to it
    wrapper.write_text(ROLLBACK_WRAPPER.replace('if [ "${1:-}" = rollback ]', 'if [ "${1:-}" = rollback ] && '
                                                '[ "${FAKE_RPMOSTREE_FAIL:-}" != rollback ]'))
    res, _ = run_worker(build_dir, {"command": "set-default", "checksum": rollback["checksum"], "os": os_},
                        env=env)
    assert res["ok"] is False and res["error_kind"] == "os", res
    assert "rpm-ostree rollback" in res["error"] and "simulated failure" in res["error"]
