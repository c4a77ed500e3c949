"""Per-node FleetLock tokens (issue 14): with [auth] node_tokens_file, a node takes and releases only its
own slot, with the token provisioned for its id; another node's token gets 403, a group token or none
401; the admin API still releases any slot. The tokens are made with the one-liner docs/lock.md gives."""
import os
import subprocess

from lockutil import LockServer, assert_error

ADMIN = "admin-token-0123456789abcdef0123456789"


def provision(path, node):
    """docs/lock.md's one-liner: appends "NODE_ID TOKEN" to the file and prints the node's token."""
    subprocess.run(["sh", "-c", 'printf "%s %s\\n" "$NODE_ID" "$(openssl rand -hex 32)" >> "$FILE"'],
                   env={**os.environ, "NODE_ID": node, "FILE": str(path)}, check=True)
    for line in path.read_text().splitlines():
        if line.split()[0] == node:
            return line.split()[1]
    raise AssertionError(path.read_text())


def test_node_tokens(build_dir, tmp_path):
    tokens = tmp_path / "node-tokens"
    tokens.touch(mode=0o600)
    n1, n2 = provision(tokens, "n1"), provision(tokens, "n2")
    assert len(n1) == 64 and n1 != n2
    s = LockServer(build_dir, tmp_path, f"""
[backend]
sqlite_path = "{tmp_path / 'lock.db'}"
[auth]
admin_token = "{ADMIN}"
node_tokens_file = "{tokens}"
[[lock.groups]]
name = "default"
client_tokens = ["group-token"]
""")
    try:
        assert "per-node tokens for 2 nodes" in s.logs()
        assert s.lock("n1", token=n1).status_code == 200
        # n2 can neither release n1's slot nor take one in n1's name.
        r = s.unlock("n1", token=n2)
        assert_error(r, 403, "forbidden")
        assert "another node" in r.json()["value"]
        assert_error(s.lock("n1", token=n2), 403, "forbidden")
        assert s.metric("upkeep_lock_requests_total", endpoint="steady-state", code="403") == 1
        assert s.metric("upkeep_lock_requests_total", endpoint="pre-reboot", code="403") == 1
        # A group token (the old way) or none is not enough any more.
        assert_error(s.unlock("n1", token="group-token"), 401, "unauthorized")
        assert_error(s.unlock("n1"), 401, "unauthorized")
        assert_error(s.lock("n2", token=n2), 423, "failed_lock_semaphore_full")
        # The admin API releases any node's slot.
        r = s.admin("POST", "/default/release", ADMIN, json={"id": "n1"})
        assert r.status_code == 200 and r.json()["released"] is True, r.text
        assert s.lock("n2", token=n2).status_code == 200
        assert s.unlock("n2", token=n2).status_code == 200
    finally:
        assert s.stop() == 0


def test_bad_node_tokens_file_stops_the_start(build_dir, tmp_path):
    tokens = tmp_path / "node-tokens"
    tokens.write_text("n1 tooshort\n")
    tokens.chmod(0o600)
    try:
        LockServer(build_dir, tmp_path, f'[backend]\nsqlite_path = "{tmp_path / "l.db"}"\n'
                   f'[auth]\nnode_tokens_file = "{tokens}"\n')
    except RuntimeError as e:
        assert "[auth] node_tokens_file" in str(e) and ":1: the token of n1 is shorter" in str(e), str(e)
    else:
        raise AssertionError("upkeep-lock started with a bad node token file")


def test_node_tokens_file_permissions(build_dir, tmp_path):
    """Readable by others: a warning at start naming the fix; writable by others: refused."""
    tokens = tmp_path / "node-tokens"
    provision(tokens, "n1")
    config = f'[backend]\nsqlite_path = "{tmp_path / "l.db"}"\n[auth]\nnode_tokens_file = "{tokens}"\n'
    tokens.chmod(0o644)
    s = LockServer(build_dir, tmp_path, config)
    try:
        assert "readable by others" in s.logs() and "chmod o-rwx" in s.logs(), s.logs()
    finally:
        assert s.stop() == 0
    tokens.chmod(0o666)
    try:
        LockServer(build_dir, tmp_path, config)
    except RuntimeError as e:
        assert "writable by others" in str(e), str(e)
    else:
        raise AssertionError("upkeep-lock started with a node token file anybody can write")
