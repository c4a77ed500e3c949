#!/usr/bin/env bash
# bench/lock.sh — upkeep-lock's lock/unlock throughput with 1 and 16 concurrent FleetLock clients, on each
# backend (SQLite, and etcd 3.4 from Debian on loopback), and etcd's own raw put and compare-and-swap
# transaction rates with 1 and 16 clients in the same run as the physical limit of the etcd backend (one
# round trip per operation).
#
# A client is one keep-alive connection with its own id alternating pre-reboot and steady-state; the group
# has 16 slots so every answer should be 200: any other answer counts as an error. For upkeep-lock, "per
# write" is how many requests each backend write carried (SQLite: per transaction, i.e. per fsync; etcd:
# per compare-and-swap), from its metrics. After each backend's runs, upkeep-lock's peak resident memory
# (VmHWM in /proc/PID/status) is printed.
#
# usage: bench/lock.sh [BUILD_DIR]   (env: DURATION=10s)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
DURATION=${DURATION:-10s}
PY=/usr/bin/python3
command -v wrk >/dev/null || { echo "bench: wrk missing (scripts/install-deps --bench)"; exit 1; }
[ -x "$build/src/lock/upkeep-lock" ] || { echo "bench: build $build first"; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
        rm -rf "$work"
}
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# etcd, one member, on free ports.
cport=$(free_port) pport=$(free_port)
etcd --name bench --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$cport" \
        --advertise-client-urls "http://127.0.0.1:$cport" --listen-peer-urls "http://127.0.0.1:$pport" \
        --initial-advertise-peer-urls "http://127.0.0.1:$pport" --initial-cluster "bench=http://127.0.0.1:$pport" \
        --logger zap --log-level error >"$work/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$cport/health" >/dev/null && break; sleep 0.1; done

start_lock() { # $1 name, $2 backend config → sets port
        cat >"$work/$1.toml" <<TOML
$2
[service]
threads = ${LOCK_THREADS:-2}      # the default
[lock]
default_slots = 16
TOML
        "$build/src/lock/upkeep-lock" -c "$work/$1.toml" --address 127.0.0.1 --port 0 --port-file "$work/$1.port" \
                2>"$work/$1.log" &
        pids+=($!)
        lock_pid=$!
        for _ in $(seq 200); do [ -s "$work/$1.port" ] && break; sleep 0.05; done
        port=$(cat "$work/$1.port")
}

peak_rss() { # $1 label: upkeep-lock's peak resident memory so far
        echo "$1 peak RSS: $(awk '/^VmHWM:/{printf "%.1f MiB", $2 / 1024}' "/proc/$lock_pid/status")"
}

writes() { # $1 url: "writes updates" from upkeep-lock's metrics
        { curl -sf "$1/metrics" || true; } |
                awk '/^upkeep_lock_backend_writes_total /{w=$2} /^upkeep_lock_backend_write_updates_total /{u=$2} END{print w+0, u+0}'
}

run() { # $1 label, $2 url, $3 clients, $4 script, $5 "lock" for upkeep-lock
        local before="" after=""
        [ "${5:-}" = lock ] && before=$(writes "$2")
        wrk -t"$3" -c"$3" -d"$DURATION" --latency -s "$4" "$2" >"$work/wrk.txt"
        [ "${5:-}" = lock ] && after=$(writes "$2")
        $PY - "$1" "$3" "$work/wrk.txt" "$before" "$after" <<'PYEOF'
import re, sys
label, clients, text = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
before, after = sys.argv[4].split(), sys.argv[5].split()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
def lat(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, text, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v if u == "ms" else v * 1000
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: (.*)", text)
total = int(re.search(r"(\d+) requests in", text).group(1))
per_write = ""
if before and after and float(after[0]) > float(before[0]):
    per_write = f"   {(float(after[1]) - float(before[1])) / (float(after[0]) - float(before[0])):5.1f} per write"
print(f"{label:28s} {clients:>2s} client(s) {rps:10.0f} ops/s   p50 {lat(50):7.3f} ms   p99 {lat(99):7.3f} ms   "
      f"errors {int(errs.group(1)) if errs else 0} of {total}{per_write}{'   socket: ' + sock.group(1) if sock else ''}")
PYEOF
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r); etcd $(etcd --version | head -n1 | awk '{print $3}'); $DURATION per run"
start_lock sqlite "[backend]
type = \"sqlite\"
sqlite_path = \"$work/lock.db\""
for c in 1 16; do run "upkeep-lock (SQLite)" "http://127.0.0.1:$port" "$c" bench/lock.lua lock; done
peak_rss "upkeep-lock (SQLite)"
start_lock etcd "[etcd3]
endpoints = [\"http://127.0.0.1:$cport\"]"
for c in 1 16; do run "upkeep-lock (etcd3)" "http://127.0.0.1:$port" "$c" bench/lock.lua lock; done
peak_rss "upkeep-lock (etcd3)"
for c in 1 16; do ETCD_OP=put run "etcd raw put (JSON gateway)" "http://127.0.0.1:$cport" "$c" bench/etcd-raw.lua; done
for c in 1 16; do ETCD_OP=txn run "etcd raw CAS txn (JSON gw)" "http://127.0.0.1:$cport" "$c" bench/etcd-raw.lua; done
