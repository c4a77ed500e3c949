"""What dist/ ships is what runs: systemd accepts every unit (systemd-analyze verify, with ExecStart pointed
at this build), systemd-sysusers creates the accounts, `meson install` puts units, sysusers, tmpfiles and
example configurations where systemd and operators look for them, and the example lock configuration
starts upkeep-lock as it is."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import TOP
from lockutil import LockServer

DIST = TOP / "dist"
BINARIES = {"upkeep-graph": "src/graph/upkeep-graph", "upkeep-lock": "src/lock/upkeep-lock",
            "upkeep-agent": "src/agent/upkeep-agent"}


def need(tool):
    path = shutil.which(tool)
    if not path:
        pytest.fail(f"{tool} not found (scripts/install-deps installs systemd)")
    return path


DAEMON_UNITS = sorted(p.name for p in DIST.glob("*.service") if p.name != "upkeep-health-gate.service")


@pytest.mark.parametrize("unit", DAEMON_UNITS)
def test_unit_verifies(build_dir, tmp_path, unit):
    text = (DIST / unit).read_text()
    execs = re.findall(r"^ExecStart=(\S+)", text, re.M)
    assert execs == [f"/usr/bin/{unit.removesuffix('.service')}"], execs
    for name, rel in BINARIES.items():
        text = text.replace(f"/usr/bin/{name}", str(build_dir / rel))
    (tmp_path / unit).write_text(text)
    r = subprocess.run([need("systemd-analyze"), "verify", "--man=no", str(tmp_path / unit)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    # Every daemon speaks sd_notify. The servers are sandboxed (the agent manages the OS itself).
    assert "Type=notify" in text
    if unit != "upkeep-agent.service":
        assert "NoNewPrivileges=yes" in text and "ProtectSystem=strict" in text and "CapabilityBoundingSet=\n" in text


def test_health_gate_unit(build_dir, tmp_path):
    """The boot-complete gate: required by boot-complete.target, ordered before it and after the agent, and
    its command waits for the agent's verdict (tested against a real agent in test_agent_socket.py)."""
    text = (DIST / "upkeep-health-gate.service").read_text()
    for want in ["Before=boot-complete.target", "After=upkeep-agent.service", "Requires=upkeep-agent.service",
                 "RequiredBy=boot-complete.target", "Type=oneshot", "RemainAfterExit=yes"]:
        assert re.search(rf"^{re.escape(want)}$", text, re.M), want
    assert re.findall(r"^ExecStart=(.*)$", text, re.M) == ["/usr/bin/upkeep status --wait-health=1800"]
    for unit in ("upkeep-health-gate.service", "upkeep-agent.service"):
        t = (DIST / unit).read_text().replace("/usr/bin/upkeep-agent", str(build_dir / BINARIES["upkeep-agent"]))
        (tmp_path / unit).write_text(t.replace("/usr/bin/upkeep ", str(build_dir / "src/cli/upkeep") + " "))
    r = subprocess.run([need("systemd-analyze"), "verify", "--man=no", str(tmp_path / "upkeep-health-gate.service"),
                        str(tmp_path / "upkeep-agent.service")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


def test_sysusers_create_the_accounts(tmp_path):
    need("systemd-sysusers")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    files = sorted(DIST.glob("*.sysusers"))
    assert {f.stem for f in files} >= {"upkeep-graph", "upkeep-lock"}
    r = subprocess.run(["systemd-sysusers", f"--root={root}", *map(str, files)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    passwd = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    assert passwd["upkeep-lock"][5] == "/var/lib/upkeep/lock"
    assert passwd["upkeep-graph"][5] == "/var/lib/upkeep/graph"
    # Each unit runs as the account its sysusers file creates.
    for f in files:
        unit = (DIST / f"{f.stem}.service").read_text()
        assert f"User={f.stem}\n" in unit


def test_lock_unit_state_directory_holds_the_default_database(build_dir, tmp_path):
    """The unit's StateDirectory is where upkeep-lock keeps its database by default, so the unprivileged
    account can create the database and its WAL there."""
    unit = (DIST / "upkeep-lock.service").read_text()
    state = re.search(r"^StateDirectory=(\S+)", unit, re.M).group(1)
    header = (TOP / "src/lock/lock-config.h").read_text()
    default = re.search(r'#define LOCK_DEFAULT_SQLITE_PATH "([^"]+)"', header).group(1)
    assert str(pathlib.PurePath(default).parent) == f"/var/lib/{state}"
    assert f'sqlite_path = "{default}"' in (DIST / "lock.toml").read_text()


def test_meson_install_places_dist_files(build_dir, tmp_path):
    dest = tmp_path / "dest"
    r = subprocess.run(["meson", "install", "-C", str(build_dir), "--no-rebuild", "--destdir", str(dest)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    files = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}

    def has(suffix):
        return any(f.endswith(suffix) for f in files)
    for want in ["lib/systemd/system/upkeep-lock.service", "lib/systemd/system/upkeep-graph.service",
                 "lib/systemd/system/upkeep-agent.service", "lib/systemd/system/upkeep-health-gate.service",
                 "lib/sysusers.d/upkeep-lock.conf",
                 "lib/sysusers.d/upkeep-graph.conf", "doc/upkeep/examples/lock.toml",
                 "doc/upkeep/examples/graph.toml", "doc/upkeep/lock.md", "bin/upkeep-lock", "bin/upkeep"]:
        assert has(want), (want, sorted(files))


def test_example_lock_config_runs(build_dir, tmp_path):
    """dist/lock.toml as shipped (only the database moved to the test's directory) starts upkeep-lock with
    the defaults it documents: one group "default" with one slot."""
    p = subprocess.run([str(build_dir / "src/lock/upkeep-lock"), "-c", str(DIST / "lock.toml"), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert p.stdout.splitlines() == [
        "configuration OK: listening on [::]:3333, 2 HTTP threads, admin API on, token in "
        "/var/lib/upkeep/lock/admin.token",
        "backend: sqlite, /var/lib/upkeep/lock/lock.db", "group default: 1 slot"]
    s = LockServer(build_dir, tmp_path, (DIST / "lock.toml").read_text(),
                   extra_args=["--sqlite", str(tmp_path / "lock.db")])
    try:
        assert s.lock("a").status_code == 200
        r = s.lock("b")
        assert r.status_code == 423 and r.json()["kind"] == "failed_lock_semaphore_full"
        assert s.unlock("a").status_code == 200
        assert s.lock("b").status_code == 200
    finally:
        assert s.stop() == 0


# Man pages: every installed program has one (docs/man, scdoc), it renders without groff warnings, and it
# documents every long option the program's --help prints (upkeep: each command's help as well).
MAN_PAGES = {
    "bin/upkeep": ("man1/upkeep.1", [["--help"], ["graph", "--help"], ["lock", "--help"], ["status", "--help"],
                                        ["release", "--help"]]),
    "bin/upkeep-graph": ("man8/upkeep-graph.8", [["--help"]]),
    "bin/upkeep-lock": ("man8/upkeep-lock.8", [["--help"]]),
    "bin/upkeep-agent": ("man8/upkeep-agent.8", [["--help"]]),
    "libexec/upkeep-agent-worker": ("man8/upkeep-agent-worker.8", [["--help"]]),
}
CONFIG_MAN_PAGES = ["man5/upkeep-graph.toml.5", "man5/upkeep-lock.toml.5", "man5/upkeep-agent.toml.5"]


def render_man(page):
    """The page as man shows it (no hyphenation, no justification, a wide line), and man's stderr with
    every groff warning enabled."""
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="100", MAN_DISABLE_SECCOMP="1")
    env.pop("MAN_KEEP_FORMATTING", None)
    r = subprocess.run([need("man"), "--warnings=w", "--nh", "--nj", "-l", str(page)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, (page, r.stderr)
    # groff's hyphen and minus glyphs read as '-', and a line broken after a hyphen is joined again.
    text = r.stdout.replace("\u2010", "-").replace("\u2212", "-")
    return re.sub(r"-\n\s*", "-", text), r.stderr


def test_man_pages_installed_render_and_document_every_option(build_dir, tmp_path):
    dest = tmp_path / "dest"
    r = subprocess.run(["meson", "install", "-C", str(build_dir), "--no-rebuild", "--destdir", str(dest)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    files = {str(p.relative_to(dest)): p for p in dest.rglob("*") if p.is_file()}

    def installed(suffix):
        found = [p for f, p in files.items() if f.endswith("/" + suffix)]
        assert len(found) == 1, (suffix, sorted(files))
        return found[0]

    for program, (page, helps) in MAN_PAGES.items():
        exe = installed(program)
        text, warnings = render_man(installed(page))
        assert warnings == "", (page, warnings)
        assert f"{exe.name}(" in text.splitlines()[0], (page, text[:200])
        for args in helps:
            h = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=30)
            assert h.returncode == 0, (program, args, h.stderr)
            options = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", h.stdout))
            missing = sorted(o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text))
            assert not missing, (page, args, missing)
    for page in CONFIG_MAN_PAGES:
        text, warnings = render_man(installed(page))
        assert warnings == "" and "DESCRIPTION" in text, (page, warnings)
