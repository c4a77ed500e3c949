#!/usr/bin/env bash
# bench/fleet-sim.sh — proof at fleet scale (issue 15; docs/sim.md): upkeep-sim runs simulated nodes, each
# on the agent's real state machine and target choice, on a virtual clock against the real upkeep-graph and
# upkeep-lock on loopback.
#   Scenario 1: NODES nodes; release B fails its health checks on 30% of them (a hash of the node id);
#   upkeep-graph has a [[policy]] with a canary of CANARY nodes (pause at 2 failures and 5%); the lock has
#   LOCK_GROUPS groups of SLOTS slots. Prints how many nodes tried B before the rollout paused itself (must
#   be <= 1% of the fleet) and the most lock holders any group had against its slots.
#   Scenario 2: NODES2 nodes in GROUPS2 groups of one slot go through a barrier (two hops), every boot
#   healthy; the convergence time is compared with the closed form of docs/sim.md (must be within 10%).
#
# usage: bench/fleet-sim.sh [BUILD_DIR]
#   env: NODES=10000 LOCK_GROUPS=10 SLOTS=2 CANARY=20 HOURS=4; NODES2=1000 GROUPS2=20 REBOOT=300 INTERVAL=300
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -x "$build/src/sim/upkeep-sim" ] || { echo "bench: build $build first (upkeep-sim missing)"; exit 1; }
build=$(cd "$build" && pwd)
PY=/usr/bin/python3
echo "upkeep-sim scenario 1: ${NODES:-10000} nodes, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
$PY tests/integration/test_fleet_sim.py --build "$build" --nodes "${NODES:-10000}" --groups "${LOCK_GROUPS:-10}" \
        --slots "${SLOTS:-2}" --canary "${CANARY:-20}" --hours "${HOURS:-4}"
echo "upkeep-sim scenario 2: ${NODES2:-1000} nodes, ${GROUPS2:-20} groups of one slot"
$PY tests/integration/test_fleet_sim.py --build "$build" --scenario 2 --nodes "${NODES2:-1000}" \
        --groups "${GROUPS2:-20}" --reboot "${REBOOT:-300}" --interval "${INTERVAL:-300}" --hours 48
