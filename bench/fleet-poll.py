#!/usr/bin/python3
"""bench/fleet-poll.py — drive upkeep-graph at a fixed request rate with a fleet's steady-state polls and
measure the server's CPU: its headroom at that rate is 1 / (the share of one core it used).

A load generator of our own, because wrk's HTTP parser reads a body after a 304 whose Content-Length names
the 200's length (what RFC 9110, 8.6 allows and upkeep-graph sends), so it cannot drive conditional polls.
Each request is a random node (node_uuid) asking for the stable graph with the headers given; every
REPORT_EVERY-th request is an outcome report instead. Responses are read whole (Content-Length; none after
a 304) on keep-alive connections, and checked.

usage: fleet-poll.py BASE_URL PID RATE SECONDS CONNECTIONS REPORT_EVERY FROM TO [HEADER ...]
prints one line of JSON: the rate reached, the status counts, the server's CPU share and the headroom."""
import collections
import json
import os
import random
import selectors
import socket
import sys
import time
import urllib.parse


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    base, pid, rate, seconds, nconn, every, from_v, to_v = sys.argv[1:9]
    headers = "".join(h + "\r\n" for h in sys.argv[9:])
    rate, seconds, nconn, every = float(rate), float(seconds), int(nconn), int(every)
    u = urllib.parse.urlparse(base)
    rnd = random.Random(42)

    def request(i):
        node = "%032x" % rnd.getrandbits(128)
        if every and i % every == 0:
            body = json.dumps({"node": node, "group": "default", "stream": "stable", "basearch": "x86_64",
                               "from_version": from_v, "to_version": to_v, "outcome": "succeeded",
                               "time": int(time.time())}).encode()
            return (f"POST /v1/report HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        return (f"GET /v1/graph?basearch=x86_64&stream=stable&node_uuid={node}&os_version={from_v}"
                f"&group=default&platform=metal HTTP/1.1\r\nHost: x\r\n{headers}\r\n").encode()

    sel = selectors.DefaultSelector()
    idle = collections.deque()  # FIFO: every connection takes turns (an unused one would hit the
    # server's 10 s request deadline)
    for _ in range(nconn):
        s = socket.create_connection((u.hostname, u.port))
        s.setblocking(False)
        idle.append(s)
    state = {}  # socket -> bytearray of the response so far
    codes, sent, done, wire = {}, 0, 0, 0
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    end = t0 + seconds
    while True:
        now = time.monotonic()
        if now >= end and not state:
            break
        # send what the rate allows on idle connections
        while idle and now < end and sent < (now - t0) * rate:
            s = idle.popleft()
            s.sendall(request(sent))
            sent += 1
            state[s] = bytearray()
            sel.register(s, selectors.EVENT_READ)
        timeout = 0.001 if idle and now < end else 0.05
        for key, _ in sel.select(timeout):
            s = key.fileobj
            chunk = s.recv(1 << 20)
            if not chunk:
                raise SystemExit("server closed a connection")
            buf = state[s]
            buf += chunk
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                continue
            head = bytes(buf[:head_end]).decode("latin-1").split("\r\n")
            code = int(head[0].split()[1])
            length = 0
            if code != 304:
                for line in head[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v)
            if len(buf) < head_end + 4 + length:
                continue
            wire += len(buf)
            codes[code] = codes.get(code, 0) + 1
            done += 1
            del state[s]
            sel.unregister(s)
            idle.append(s)
    elapsed = time.monotonic() - t0
    cpu = (cpu_seconds(pid) - cpu0) / elapsed
    print(json.dumps({"rate": round(done / elapsed), "codes": codes, "server_cpu_share": round(cpu, 4),
                      "headroom": round(1 / cpu, 1) if cpu > 0 else None,
                      "response_bytes_per_request": round(wire / max(done, 1))}))


if __name__ == "__main__":
    main()
