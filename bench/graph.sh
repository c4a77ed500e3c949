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
# usage: bench/graph.sh [BUILD_DIR]   (env: DURATION=10s CONNECTIONS=64 THREADS=1 REPEAT=3)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
REPEAT=${REPEAT:-3}
PY=/usr/bin/python3

for tool in wrk nginx; do
        command -v "$tool" >/dev/null || { echo "bench: $tool missing (scripts/install-deps --bench)"; exit 1; }
done
[ -x "$build/src/graph/upkeep-graph" ] || { echo "bench: build $build first"; exit 1; }

work=$(mktemp -d)
chmod 755 "$work" # nginx workers run unprivileged
gpid="" npid=""
cleanup() {
        [ -n "$gpid" ] && kill "$gpid" 2>/dev/null && wait "$gpid" 2>/dev/null
        [ -n "$npid" ] && kill "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
        rm -rf "$work"
}
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Inputs: the real metadata, newest rollout ramping from an hour ago over two days.
mkdir -p "$work/stable"
cp examples/graph/stable/releases.json "$work/stable/"
$PY - "$(( $(date +%s) - 3600 ))" examples/graph/stable/updates.json "$work/stable/updates.json" <<'PYEOF'
import json, sys
doc = json.load(open(sys.argv[2]))
[r for r in doc["releases"] if "rollout" in r["metadata"]][-1]["metadata"]["rollout"] = {
    "start_epoch": int(sys.argv[1]), "start_percentage": 0.0, "duration_minutes": 2880}
json.dump(doc, open(sys.argv[3], "w"))
PYEOF
cat >"$work/graph.toml" <<TOML
[server]
address = "127.0.0.1"
threads = 1
max_connections = 4096
[streams.stable]
releases = "stable/releases.json"
updates = "stable/updates.json"
basearches = ["x86_64"]
TOML

"$build/src/graph/upkeep-graph" -c "$work/graph.toml" --port 0 --port-file "$work/gport" 2>"$work/graph.log" &
gpid=$!
for _ in $(seq 200); do [ -s "$work/gport" ] && break; sleep 0.05; done
gport=$(cat "$work/gport")
query="/v1/graph?basearch=x86_64&stream=stable&node_uuid=e0f3745b108f471cbd4883c6fbed8cdd&os_version=33.20201201.3.0&group=default&platform=metal&os_checksum=cad80088392f"
curl -sf "http://127.0.0.1:$gport$query" -o "$work/graph.json"

nport=$(free_port)
mkdir -p "$work/www/v1" "$work/nginx"
cp "$work/graph.json" "$work/www/v1/graph"
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; use epoll; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    open_file_cache max=16 inactive=60s;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$nport;
        root $work/www;
        default_type application/json;
        location = /v1/graph { }
    }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work/nginx" &
npid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$nport$query" -o /dev/null && break; sleep 0.05; done
cmp -s <(curl -sf "http://127.0.0.1:$nport$query") "$work/graph.json" || { echo "bench: nginx does not serve the same bytes"; cat "$work/nginx/error.log"; exit 1; }

run() { # $1 label, $2 port, $3 run number → wrk's output in $work/wrk-$1-$3.txt
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$2$query" >"$work/wrk-$1-$3.txt"
}

summarize() { # prints the median run of each server and the ratio of the medians
        $PY - "$work" "$REPEAT" <<'PYEOF'
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
    print(f"{label:14s} {m['rps']:10.0f} req/s (median of {repeat}: {', '.join('%.0f' % r['rps'] for r in runs)})"
          f"   p50 {m['p50']:.3f} ms   p99 {m['p99']:.3f} ms   non-2xx {m['non2xx']}   socket errors: {m['sock']}")
print()
print("ratio upkeep-graph / nginx: %.2fx" % (med["upkeep-graph"]["rps"] / med["nginx"]["rps"]))
PYEOF
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, GET $query ($(stat -c %s "$work/graph.json") bytes)"
echo "upkeep-graph: 1 event-loop thread; nginx $(nginx -v 2>&1 | cut -d/ -f2): worker_processes 1, sendfile, open_file_cache"
echo
# Warm both up, then measure nginx first and upkeep-graph second.
wrk -t1 -c8 -d1s "http://127.0.0.1:$nport$query" >/dev/null
wrk -t1 -c8 -d1s "http://127.0.0.1:$gport$query" >/dev/null
for i in $(seq 0 $(( REPEAT - 1 ))); do
        run nginx "$nport" "$i"
        run upkeep-graph "$gport" "$i"
done
summarize
rss=$(grep VmHWM "/proc/$gpid/status" | awk '{print $2}')
echo "upkeep-graph peak RSS: ${rss} KiB"

# Start-up: from exec to /readyz answering 200 (inputs read, graphs built), 10 times.
$PY - "$build/src/graph/upkeep-graph" "$work/graph.toml" "$work/sport" <<'PYEOF'
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
