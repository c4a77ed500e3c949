#!/usr/bin/env bash
# bench/graph.sh — upkeep-graph against nginx serving the same graph JSON as a static file.
#
# Both get one worker, the same wrk load (threads, connections, duration) on loopback, in one run.
# upkeep-graph does its real work per request: query parsing, wariness, throttling of a rollout in
# progress (the real FCOS stable metadata with its newest rollout re-scheduled to be ramping now), and
# the cached answer. Prints throughput, latency percentiles, the ratio, and upkeep-graph's peak RSS.
#
# Each server is measured REPEAT times, alternating, and the median run of each is reported (loopback
# figures on a shared 2-core machine move by ±20% from run to run).
#
# Three graphs: the 2021 one in examples/graph (26 releases, 9 KB), and Fedora CoreOS-shaped metadata of
# today's stable size (179 releases, ~43 KB) and next's (200, ~48 KB) from bench/fcos-metadata.py. Each
# request is a random node (bench/graph-random-node.lua: a random node_uuid, hence a random wariness).
#
# usage: bench/graph.sh [BUILD_DIR]
#   env: DURATION=10s CONNECTIONS="64 1000" THREADS=1 REPEAT=3 SIZES="2021 179 200"
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64 1000}
THREADS=${THREADS:-1}
REPEAT=${REPEAT:-3}
SIZES=${SIZES:-2021 179 200}
PY=/usr/bin/python3
LUA=$(pwd)/bench/graph-random-node.lua

for tool in wrk nginx; do
        command -v "$tool" >/dev/null || { echo "bench: $tool missing (scripts/install-deps --bench)"; exit 1; }
done
[ -x "$build/src/graph/upkeep-graph" ] || { echo "bench: build $build first"; exit 1; }
build=$(cd "$build" && pwd)
ulimit -n 65536 2>/dev/null || true

work=$(mktemp -d)
chmod 755 "$work" # nginx workers run unprivileged
gpid="" npid=""
stop_servers() {
        [ -n "$gpid" ] && kill "$gpid" 2>/dev/null && wait "$gpid" 2>/dev/null
        [ -n "$npid" ] && kill "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
        gpid="" npid=""
}
cleanup() {
        stop_servers
        rm -rf "$work"
}
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
query="/v1/graph?basearch=x86_64&stream=stable&node_uuid=e0f3745b108f471cbd4883c6fbed8cdd&os_version=33.20201201.3.0&group=default&platform=metal&os_checksum=cad80088392f"

# Inputs for size $1 in $work/$1/stable: the newest rollout ramping from an hour ago over two days.
make_inputs() {
        local d="$work/$1/stable" now
        now=$(date +%s)
        mkdir -p "$d"
        if [ "$1" = 2021 ]; then
                cp examples/graph/stable/releases.json "$d/"
                $PY - "$(( now - 3600 ))" examples/graph/stable/updates.json "$d/updates.json" <<'PYEOF'
import json, sys
doc = json.load(open(sys.argv[2]))
[r for r in doc["releases"] if "rollout" in r["metadata"]][-1]["metadata"]["rollout"] = {
    "start_epoch": int(sys.argv[1]), "start_percentage": 0.0, "duration_minutes": 2880}
json.dump(doc, open(sys.argv[3], "w"))
PYEOF
        else
                $PY bench/fcos-metadata.py "$1" "$d" "$now"
        fi
        cat >"$work/$1/graph.toml" <<TOML
[server]
address = "127.0.0.1"
threads = 1
max_connections = 4096
[streams.stable]
releases = "stable/releases.json"
updates = "stable/updates.json"
basearches = ["x86_64"]
TOML
}

# Starts upkeep-graph on size $1's inputs and nginx serving its answer as a static file.
start_servers() {
        local w="$work/$1"
        rm -f "$w/gport"
        (cd "$w" && exec "$build/src/graph/upkeep-graph" -c graph.toml --port 0 --port-file gport 2>graph.log) &
        gpid=$!
        for _ in $(seq 200); do [ -s "$w/gport" ] && break; sleep 0.05; done
        gport=$(cat "$w/gport")
        for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gport$query" -o "$w/graph.json" && break; sleep 0.05; done
        nport=$(free_port)
        mkdir -p "$w/www/v1" "$w/nginx"
        cp "$w/graph.json" "$w/www/v1/graph"
        cat >"$w/nginx.conf" <<NGINX
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid $w/nginx/nginx.pid;
error_log $w/nginx/error.log warn;
events { worker_connections 4096; use epoll; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    open_file_cache max=16 inactive=60s;
    client_body_temp_path $w/nginx/body;
    proxy_temp_path $w/nginx/proxy;
    fastcgi_temp_path $w/nginx/fastcgi;
    uwsgi_temp_path $w/nginx/uwsgi;
    scgi_temp_path $w/nginx/scgi;
    server {
        listen 127.0.0.1:$nport;
        root $w/www;
        default_type application/json;
        location = /v1/graph { }
    }
}
NGINX
        nginx -c "$w/nginx.conf" -p "$w/nginx" &
        npid=$!
        for _ in $(seq 100); do curl -sf "http://127.0.0.1:$nport$query" -o /dev/null && break; sleep 0.05; done
        cmp -s <(curl -sf "http://127.0.0.1:$nport$query") "$w/graph.json" ||
                { echo "bench: nginx does not serve the same bytes"; cat "$w/nginx/error.log"; exit 1; }
}

run() { # $1 label, $2 port, $3 output file
        wrk -t"$THREADS" -c"$c" -d"$DURATION" --latency -s "$LUA" "http://127.0.0.1:$2/" >"$3"
}

summarize() { # $1 = directory of wrk-<server>-<i>.txt: the median run of each server and their ratio
        $PY - "$1" "$REPEAT" <<'PYEOF'
import re, sys
work, repeat = sys.argv[1], int(sys.argv[2])
def parse(text):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def lat(p):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, text, re.M)
        v, u = float(m.group(1)), m.group(2)
        return v / 1000 if u == "us" else v if u == "ms" else v * 1000
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: (.*)", text)
    return dict(rps=rps, p50=lat(50), p99=lat(99), non2xx=int(errs.group(1)) if errs else 0,
                sock=sock.group(1) if sock else "none")
med = {}
for label in ("nginx", "upkeep-graph"):
    runs = sorted((parse(open(f"{work}/wrk-{label}-{i}.txt").read()) for i in range(repeat)), key=lambda r: r["rps"])
    m = runs[len(runs) // 2]
    med[label] = m
    print(f"  {label:14s} {m['rps']:10.0f} req/s (median of {repeat}: {', '.join('%.0f' % r['rps'] for r in runs)})"
          f"   p50 {m['p50']:.3f} ms   p99 {m['p99']:.3f} ms   non-2xx {m['non2xx']}   socket errors: {m['sock']}")
print("  ratio upkeep-graph / nginx: %.2fx" % (med["upkeep-graph"]["rps"] / med["nginx"]["rps"]))
PYEOF
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "load: wrk -t$THREADS -d$DURATION -s bench/graph-random-node.lua (a random node per request), connections: $CONNECTIONS"
echo "upkeep-graph: 1 event-loop thread; nginx $(nginx -v 2>&1 | cut -d/ -f2): worker_processes 1, sendfile, open_file_cache"
for size in $SIZES; do
        make_inputs "$size"
        start_servers "$size"
        echo
        echo "graph $size: $(stat -c %s "$work/$size/graph.json") bytes ($( $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["nodes"]), "releases,", len(d["edges"]), "edges")' "$work/$size/graph.json"))"
        # Warm both up, then alternate nginx and upkeep-graph.
        wrk -t1 -c8 -d1s "http://127.0.0.1:$nport$query" >/dev/null
        wrk -t1 -c8 -d1s "http://127.0.0.1:$gport$query" >/dev/null
        for c in $CONNECTIONS; do
                mkdir -p "$work/$size/c$c"
                for i in $(seq 0 $(( REPEAT - 1 ))); do
                        run nginx "$nport" "$work/$size/c$c/wrk-nginx-$i.txt"
                        run upkeep-graph "$gport" "$work/$size/c$c/wrk-upkeep-graph-$i.txt"
                done
                echo " $c connections:"
                summarize "$work/$size/c$c"
        done
        echo "  upkeep-graph peak RSS: $(grep VmHWM "/proc/$gpid/status" | awk '{print $2}') KiB"
        stop_servers
done
echo

# Start-up: from exec to /readyz answering 200 (inputs read, graphs built), 10 times.
$PY - "$build/src/graph/upkeep-graph" "$work/${SIZES##* }/graph.toml" "$work/sport" <<'PYEOF'
import os, subprocess, sys, time, urllib.request
exe, cfg, portfile = sys.argv[1:]
times = []
for _ in range(10):
    if os.path.exists(portfile):
        os.unlink(portfile)
    t0 = time.monotonic()
    p = subprocess.Popen([exe, "-c", cfg, "--port", "0", "--port-file", portfile], stderr=subprocess.DEVNULL)
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{int(open(portfile).read())}/readyz").status == 200:
                break
        except Exception:
            time.sleep(0.0005)
    times.append((time.monotonic() - t0) * 1000)
    p.terminate()
    p.wait()
times.sort()
print(f"upkeep-graph start-up to ready: median {times[5]:.1f} ms (min {times[0]:.1f}, max {times[-1]:.1f})")
PYEOF
