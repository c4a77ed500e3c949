#!/usr/bin/env bash
# bench/graph-fleet.sh — the poll load of a large fleet on one upkeep-graph instance, and its headroom.
#
# 1,000,000 nodes polling every 5 minutes (Zincati's default) are 3,333 requests per second. This drives one
# upkeep-graph (one event-loop thread, today's stable-size graph of 179 releases with a rollout ramping,
# outcome reports on, in SQLite) at that rate for DURATION_SECS seconds with bench/fleet-poll.py, a random node per
# request, and reads the server's CPU: the headroom is 1 / (the share of one core it used). Two fleets:
#   - upkeep-agent nodes: gzip, If-None-Match with the answer they hold (a 304 without a body), and one
#     outcome report (POST /v1/report, written to SQLite) in every REPORT_EVERY requests;
#   - Zincati nodes: the whole graph every time, uncompressed, no reports.
# Then wrk's saturated rate for the Zincati fleet as a cross-check of the headroom.
#
# usage: bench/graph-fleet.sh [BUILD_DIR]   (env: RATE=3333 DURATION_SECS=20 CONNECTIONS=64 REPORT_EVERY=500)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
RATE=${RATE:-3333}
SECONDS_EACH=${DURATION_SECS:-20}
CONNECTIONS=${CONNECTIONS:-64}
REPORT_EVERY=${REPORT_EVERY:-500}
PY=/usr/bin/python3
command -v wrk >/dev/null || { echo "bench: wrk missing (scripts/install-deps --bench)"; exit 1; }
[ -x "$build/src/graph/upkeep-graph" ] || { echo "bench: build $build first"; exit 1; }
build=$(cd "$build" && pwd)

work=$(mktemp -d)
gpid=""
trap '[ -n "$gpid" ] && kill "$gpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
$PY bench/fcos-metadata.py 179 "$work/stable" "$(date +%s)"
cat >"$work/graph.toml" <<TOML
[server]
address = "127.0.0.1"
threads = 1
[streams.stable]
releases = "stable/releases.json"
updates = "stable/updates.json"
basearches = ["x86_64"]
[reports]
enabled = true
database = "$work/reports.db"
TOML
(cd "$work" && exec "$build/src/graph/upkeep-graph" -c graph.toml --port 0 --port-file port 2>graph.log) &
gpid=$!
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat "$work/port")"
read -r from_v to_v < <($PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["releases"]; print(r[-2]["version"], r[-1]["version"])' "$work/stable/releases.json")
# The answers a node may hold: one per side of the ramping rollout (nodes see it or not by wariness).
etags=$(for w in 0.0 0.999; do
        curl -sf -o /dev/null -D - -H "Accept-Encoding: gzip" "$base/v1/graph?basearch=x86_64&stream=stable&rollout_wariness=$w" |
                awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r'
done | paste -sd, -)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "graph: 179 releases, $(curl -sf "$base/v1/graph?basearch=x86_64&stream=stable" | wc -c) bytes; $RATE req/s for ${SECONDS_EACH}s on $CONNECTIONS connections"
poll() { $PY bench/fleet-poll.py "$base" "$gpid" "$RATE" "$SECONDS_EACH" "$CONNECTIONS" "$@"; }
echo "upkeep-agent nodes (gzip, If-None-Match, 1 report in $REPORT_EVERY): $(poll "$REPORT_EVERY" "$from_v" "$to_v" \
        "Accept: application/json" "Accept-Encoding: gzip" "If-None-Match: $etags")"
echo "Zincati nodes (whole graph, identity):            $(poll 0 "$from_v" "$to_v" "Accept: application/json")"
wrk -t1 -c"$CONNECTIONS" -d10s -s bench/graph-random-node.lua "$base/" | awk '/^Requests\/sec:/ {
        printf "Zincati nodes, saturated (wrk -c'"$CONNECTIONS"' 10 s): %.0f req/s = %.1fx 3,333\n", $2, $2 / 3333 }'
