"""Real etcd clusters on loopback for the tests: one member or three, on free ports, in a temp dir."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests

ETCD = "/usr/bin/etcd"


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class EtcdCluster:
    def __init__(self, members=1):
        self.dir = tempfile.mkdtemp(prefix="upkeep-etcd-")
        ports = free_ports(2 * members)
        self.names = [f"m{i}" for i in range(members)]
        self.client = [f"http://127.0.0.1:{ports[2 * i]}" for i in range(members)]
        self.peer = [f"http://127.0.0.1:{ports[2 * i + 1]}" for i in range(members)]
        self.cluster = ",".join(f"{n}={p}" for n, p in zip(self.names, self.peer))
        self.procs = [None] * members
        for i in range(members):
            self.start(i)
        self.wait_healthy()

    def start(self, i):
        log = open(os.path.join(self.dir, f"{self.names[i]}.log"), "a")
        self.procs[i] = subprocess.Popen(
            [ETCD, "--name", self.names[i], "--data-dir", os.path.join(self.dir, self.names[i]),
             "--listen-client-urls", self.client[i], "--advertise-client-urls", self.client[i],
             "--listen-peer-urls", self.peer[i], "--initial-advertise-peer-urls", self.peer[i],
             "--initial-cluster", self.cluster, "--initial-cluster-state", "new",
             "--logger", "zap", "--log-level", "error"],
            stdout=log, stderr=subprocess.STDOUT)

    def stop_member(self, i):
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()

    def wait_healthy(self, timeout=30):
        deadline = time.monotonic() + timeout
        for url, p in zip(self.client, self.procs):
            if p is None or p.poll() is not None:
                continue
            while True:
                try:
                    if requests.get(url + "/health", timeout=2).json().get("health") == "true":
                        break
                except (requests.RequestException, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("etcd did not become healthy")
                time.sleep(0.1)

    def etcdctl(self, *args):
        return subprocess.run(["/usr/bin/etcdctl", "--endpoints", ",".join(self.client), *args],
                              capture_output=True, text=True, timeout=30, env={**os.environ, "ETCDCTL_API": "3"})

    def close(self):
        for p in self.procs:
            if p and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
