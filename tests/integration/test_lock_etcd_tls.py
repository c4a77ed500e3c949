"""upkeep-lock against an etcd that only speaks TLS and demands client certificates: with the configured CA
and client certificate it coordinates reboots; with a wrong CA or no client certificate it reports the
backend unavailable (503) and changes nothing."""
import os
import signal
import subprocess
import time

import pytest
import requests

from etcdutil import ETCD, free_ports
from lockutil import LockServer, assert_error


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA; and a
    second, unrelated CA."""
    d.mkdir()
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN=upkeep test {ca}", cwd=d)
    # etcd's own gRPC gateway dials the server with the server certificate: it needs clientAuth too
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    return d


@pytest.fixture
def tls_etcd(tmp_path):
    pki = make_pki(tmp_path / "pki")
    cport, pport = free_ports(2)
    url = f"https://127.0.0.1:{cport}"
    log = open(tmp_path / "etcd.log", "w")
    proc = subprocess.Popen(
        [ETCD, "--name", "tls", "--data-dir", str(tmp_path / "etcd"), "--listen-client-urls", url,
         "--advertise-client-urls", url, "--listen-peer-urls", f"http://127.0.0.1:{pport}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{pport}",
         "--initial-cluster", f"tls=http://127.0.0.1:{pport}", "--cert-file", str(pki / "server.pem"),
         "--key-file", str(pki / "server.key"), "--client-cert-auth", "--trusted-ca-file", str(pki / "ca.pem"),
         "--logger", "zap", "--log-level", "error"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            r = requests.get(url + "/health", verify=str(pki / "ca.pem"),
                             cert=(str(pki / "client.pem"), str(pki / "client.key")), timeout=2)
            if r.status_code == 200:
                break
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, (tmp_path / "etcd.log").read_text()
        time.sleep(0.1)
    yield url, pki
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    log.close()


def lock_config(url, ca, cert=None, key=None):
    lines = ["[etcd3]", f'endpoints = ["{url}"]', f'ca_path = "{ca}"']
    if cert:
        lines += [f'client_cert_pub_path = "{cert}"', f'client_cert_key_path = "{key}"']
    return "\n".join(lines) + "\n[lock]\ndefault_slots = 1\n"


def test_etcd_over_tls_with_client_certificate(build_dir, tmp_path, tls_etcd):
    url, pki = tls_etcd
    (tmp_path / "ok").mkdir()
    s = LockServer(build_dir, tmp_path / "ok", lock_config(url, pki / "ca.pem", pki / "client.pem", pki / "client.key"))
    try:
        assert s.lock("node-a").status_code == 200
        assert_error(s.lock("node-b"), 423, "failed_lock_semaphore_full")
        assert s.unlock("node-a").status_code == 200
        assert s.lock("node-b").status_code == 200
        assert requests.get(s.base + "/readyz", timeout=10).status_code == 200
        # the semaphore is in etcd, in Airlock's key, readable with the same credentials
        key = "com.coreos.airlock/groups/default/v1/semaphore"
        import base64
        r = requests.post(url + "/v3/kv/range", json={"key": base64.b64encode(key.encode()).decode()},
                          verify=str(pki / "ca.pem"), cert=(str(pki / "client.pem"), str(pki / "client.key")),
                          timeout=10)
        value = base64.b64decode(r.json()["kvs"][0]["value"])
        assert b'"holders":["node-b"]' in value, value
    finally:
        assert s.stop() == 0


@pytest.mark.parametrize("case", ["no-client-cert", "wrong-ca"])
def test_etcd_tls_misconfigured_is_unavailable(build_dir, tmp_path, tls_etcd, case):
    url, pki = tls_etcd
    (tmp_path / case).mkdir()
    if case == "no-client-cert":
        cfg = lock_config(url, pki / "ca.pem")
    else:
        cfg = lock_config(url, pki / "other-ca.pem", pki / "client.pem", pki / "client.key")
    s = LockServer(build_dir, tmp_path / case, cfg)
    try:
        assert_error(s.lock("node-a"), 503, "backend_unavailable")
        assert requests.get(s.base + "/readyz", timeout=20).status_code == 503
    finally:
        assert s.stop() == 0
    logs = s.log_path.read_text()
    assert url in logs or "etcd" in logs, logs
