#!/usr/bin/env bash
# bench/agent.sh — upkeep-agent's footprint and update speed on OSTree test sysroots, in one run. The agent is
# a resident daemon (no libcurl, no libostree) plus upkeep-agent-worker, a short-lived child per action
# (status, check, lock, stage, finalize) that the daemon reaps; CPU is reported for both, the daemon's own
# (utime+stime, schedstat) and its workers' (cutime+cstime).
#
#   1. steady polling (newest release booted, strategy "immediate", steady_interval_secs = INTERVAL) for
#      DURATION seconds: the daemon's peak RSS (VmHWM), steady RSS (VmRSS at the end) and where it is; CPU
#      time in total and per tick, daemon and workers;
#   2. between ticks (steady_interval_secs = IDLE_INTERVAL): every thread's run time and context switches,
#      the workers' CPU and any child of the daemon over an IDLE_SECS gap, then `strace -c -f` for
#      STRACE_SECS (when strace is installed): targets 0;
#   3. check-and-stage wall time from agent start to staged and to the reboot command (spawning the workers
#      included), for a small tree and for a release adding SIZE_MB MiB (a full download), with objects and
#      bytes fetched, against `ostree pull` + `ostree admin deploy` of the same commit (median of REPEAT);
#   4. delta: the same nodes, booted on that release, stage the next one (~1% of the data changed): the
#      objects fetched must be exactly those that differ between the two commits;
#   5. the workers' peak RSS per action, in a separate pass where UPKEEP_AGENT_WORKER is
#      bench/agent-worker-wrap.py (GNU time's ru_maxrss of each worker; needs /usr/bin/time). 1.-4. run the
#      worker directly.
#
# The fixtures come from tests/integration/osfixture.py, the repository is served over loopback by its
# RepoServer (which counts requests and bytes), the graph by upkeep-graph. The work is done by
# bench/agent-bench.py; this wrapper checks the build, owns the temporary directory and kills what is left.
#
# usage: bench/agent.sh [BUILD_DIR]
#        (env: DURATION=60 INTERVAL=2 IDLE_INTERVAL=30 IDLE_SECS=20 STRACE_SECS=5 REPEAT=3 SIZE_MB=100)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
PY=/usr/bin/python3

for exe in src/agent/upkeep-agent src/agent/upkeep-agent-worker src/graph/upkeep-graph src/cli/upkeep; do
        [ -x "$build/$exe" ] || { echo "bench: build $build first ($exe missing)"; exit 1; }
done
command -v ostree >/dev/null || { echo "bench: ostree missing (scripts/install-deps)"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (test sysroots are deployed with ostree admin)"; exit 1; }
command -v strace >/dev/null || echo "bench: strace missing: the between-ticks check uses /proc only" >&2
[ -x /usr/bin/time ] || echo "bench: /usr/bin/time (GNU time) missing: the workers' RSS is not measured" >&2

# Short paths: the agent's sockets live under the work directory (sun_path is 108 bytes).
work=$(mktemp -d /tmp/upkeep-agent-bench.XXXXXX)
bpid=""
cleanup() {
        if [ -n "$bpid" ]; then
                kill -TERM "$bpid" 2>/dev/null || true
                wait "$bpid" 2>/dev/null || true
        fi
        rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The helper stops every daemon and agent it started, on success, error or SIGTERM.
$PY bench/agent-bench.py "$build" "$work" &
bpid=$!
rc=0
wait "$bpid" || rc=$?
bpid=""
exit $rc
