"""The TLS the HTTP adapter offers (issue 14), checked with `openssl s_client` against upkeep-lock's
FleetLock listener: TLS 1.2 and 1.3 only, ECDHE/DHE key exchange and AEAD ciphers only by default; the
GnuTLS priority string is configurable ([service] tls_priorities) and a bad one stops the start with an
error naming the key."""
import shutil
import subprocess

import pytest

from lockutil import LockServer

CONFIG = """
[service]
tls = true
tls_cert_path = "{tmp}/cert.pem"
tls_key_path = "{tmp}/key.pem"
{extra}
[backend]
type = "sqlite"
sqlite_path = "{tmp}/l.db"
"""


@pytest.fixture
def certs(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    return tmp_path


def handshake(port, *args):
    """Whether an s_client handshake with these options succeeds; the client itself allows everything
    (SECLEVEL=0), so a refusal is the server's. Returns (ok, output)."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", *args],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    return p.returncode == 0 and "Cipher is (NONE)" not in out, out


@pytest.fixture
def server(build_dir, certs):
    s = LockServer(build_dir, certs, CONFIG.format(tmp=certs, extra=""))
    yield s
    assert s.stop() == 0


@pytest.mark.parametrize("args", [
    ["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"],
    ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
    ["-tls1_2", "-cipher", "AES128-SHA@SECLEVEL=0"],             # static RSA, CBC, SHA-1
    ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA@SECLEVEL=0"],   # forward secret, but CBC
    ["-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA384@SECLEVEL=0"],
    ["-tls1_2", "-cipher", "AES256-GCM-SHA384@SECLEVEL=0"],      # AEAD, but static RSA key exchange
])
def test_old_versions_and_weak_suites_refused(server, args):
    ok, out = handshake(server.port, *args)
    assert not ok, out


@pytest.mark.parametrize("args, cipher", [
    (["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], "ECDHE-RSA-AES128-GCM-SHA256"),
    (["-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"], "ECDHE-RSA-AES256-GCM-SHA384"),
    (["-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"], "ECDHE-RSA-CHACHA20-POLY1305"),
    (["-tls1_3"], None),
])
def test_modern_suites_accepted(server, args, cipher):
    ok, out = handshake(server.port, *args)
    assert ok, out
    if cipher:
        assert f"Cipher is {cipher}" in out, out
    else:
        assert "TLSv1.3" in out, out


def test_priorities_configurable(build_dir, certs):
    """An operator's priority string replaces the default: here TLS 1.3 only."""
    s = LockServer(build_dir, certs, CONFIG.format(
        tmp=certs, extra='tls_priorities = "SECURE128:-VERS-ALL:+VERS-TLS1.3"'))
    try:
        assert handshake(s.port, "-tls1_3")[0]
        ok, out = handshake(s.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
        assert not ok, out
    finally:
        assert s.stop() == 0


def test_bad_priorities_refused_at_start(build_dir, certs):
    with pytest.raises(RuntimeError) as e:
        LockServer(build_dir, certs, CONFIG.format(tmp=certs, extra='tls_priorities = "NORMAL:+NO-SUCH-THING"'))
    assert "[service] tls_priorities" in str(e.value), str(e.value)
    assert "NO-SUCH-THING" in str(e.value), str(e.value)
