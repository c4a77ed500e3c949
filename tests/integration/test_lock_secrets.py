"""upkeep-lock and the permissions of files holding secrets (issue 14): an admin token file, the generated
token or a configuration with admin_token / client_tokens that others may read draws a warning naming the
file, at start and in --check-config; one that others may write is refused (the start fails, naming the
file)."""
import os
import subprocess

import pytest

from lockutil import LockServer

TOKEN = "s3cret-admin-token"


@pytest.fixture(autouse=True)
def umask_022():
    """Files this test writes get 0644 unless it says otherwise, whatever the caller's umask."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def config_with_token_file(tmp_path, mode):
    token = tmp_path / "admin.token"
    token.write_text(TOKEN + "\n")
    os.chmod(token, mode)
    return token, f'[backend]\nsqlite_path = "{tmp_path}/l.db"\n[auth]\nadmin_token_file = "{token}"\n'


def run_lock(build_dir, config, *args):
    return subprocess.run([str(build_dir / "src/lock/upkeep-lock"), "-c", str(config), *args],
                          capture_output=True, text=True, timeout=30)


def start_refused(build_dir, tmp_path, config_text):
    """Starts upkeep-lock on config_text, which must fail: returns its stderr."""
    config = tmp_path / "lock.toml"
    config.write_text(config_text)
    os.chmod(config, 0o600)
    p = run_lock(build_dir, config, "--address", "127.0.0.1", "--port", "0")
    assert p.returncode == 1, p.stderr
    return p.stderr


def test_token_file_private_no_warning(build_dir, tmp_path):
    token, cfg = config_with_token_file(tmp_path, 0o600)
    s = LockServer(build_dir, tmp_path, cfg)  # the configuration (0644) holds no token itself
    try:
        assert s.admin("GET", "", TOKEN).status_code == 200
        assert "readable by" not in s.logs() and "writable by" not in s.logs()
    finally:
        assert s.stop() == 0


def test_token_file_readable_by_others_warns(build_dir, tmp_path):
    token, cfg = config_with_token_file(tmp_path, 0o644)
    s = LockServer(build_dir, tmp_path, cfg)
    try:
        assert s.admin("GET", "", TOKEN).status_code == 200  # a warning: it still serves
        assert f"{token} holds a secret and is readable by others (mode 0644); chmod o-rwx {token}" in s.logs()
    finally:
        assert s.stop() == 0
    p = run_lock(build_dir, s.config, "--check-config")
    assert p.returncode == 0, p.stderr
    assert f"{token} holds a secret and is readable by others (mode 0644)" in p.stderr


def test_token_file_writable_by_others_refused(build_dir, tmp_path):
    token, cfg = config_with_token_file(tmp_path, 0o666)
    err = start_refused(build_dir, tmp_path, cfg)
    assert f"{token} is writable by others (mode 0666)" in err, err
    p = run_lock(build_dir, tmp_path / "lock.toml", "--check-config")
    assert p.returncode == 1 and p.stdout == ""
    assert f"{token} is writable by others (mode 0666)" in p.stderr, p.stderr


def test_token_file_of_another_user_refused(build_dir, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root can give a file away (test-fileio covers the rule)")
    token, cfg = config_with_token_file(tmp_path, 0o600)
    os.chown(token, 4242, 4242)
    err = start_refused(build_dir, tmp_path, cfg)
    assert f"{token} is owned by uid 4242, neither root nor this process's user" in err, err


def test_config_with_inline_tokens(build_dir, tmp_path):
    """A configuration holding admin_token or client_tokens is a secret file too; one without is not."""
    plain = f'[backend]\nsqlite_path = "{tmp_path}/l.db"\n'
    inline = plain + f'[auth]\nadmin_token = "{TOKEN}"\n'
    clients = plain + '[[lock.groups]]\nname = "secure"\nclient_tokens = ["node-token"]\n'
    config = tmp_path / "lock.toml"
    for text, warned in ((plain, False), (inline, True), (clients, True)):
        config.write_text(text)
        os.chmod(config, 0o644)
        p = run_lock(build_dir, config, "--check-config")
        assert p.returncode == 0, p.stderr
        warning = f"admin_token or client_tokens: {config} holds a secret and is readable by others (mode 0644)"
        assert (warning in p.stderr) == warned, p.stderr
    s = LockServer(build_dir, tmp_path, inline)  # written 0644
    try:
        assert s.admin("GET", "", TOKEN).status_code == 200
        assert f"{config} holds a secret and is readable by others (mode 0644)" in s.logs()
    finally:
        assert s.stop() == 0
    for text in (inline, clients):
        config.write_text(text)
        os.chmod(config, 0o646)
        p = run_lock(build_dir, config, "--check-config")
        assert p.returncode == 1 and p.stdout == ""
        assert f"{config} is writable by others (mode 0646)" in p.stderr, p.stderr
        p = run_lock(build_dir, config, "--address", "127.0.0.1", "--port", "0")
        assert p.returncode == 1
        assert f"{config} is writable by others (mode 0646)" in p.stderr, p.stderr


def test_generated_token_made_readable_warns(build_dir, tmp_path):
    cfg = f'[backend]\nsqlite_path = "{tmp_path}/l.db"\n'
    path = tmp_path / "admin.token"
    s = LockServer(build_dir, tmp_path, cfg)
    assert s.stop() == 0
    assert path.stat().st_mode & 0o7777 == 0o600
    os.chmod(path, 0o644)
    s = LockServer(build_dir, tmp_path, cfg)
    try:
        assert s.admin("GET", "", path.read_text().strip()).status_code == 200
        assert f"generated admin token: {path} holds a secret and is readable by others (mode 0644)" in s.logs()
    finally:
        assert s.stop() == 0
