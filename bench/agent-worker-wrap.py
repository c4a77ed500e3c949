#!/usr/bin/python3
"""bench/agent-worker-wrap.py — stands in for upkeep-agent-worker (UPKEEP_AGENT_WORKER) in bench/agent.sh's
worker-RSS pass: runs the real worker ($UPKEEP_BENCH_WORKER) on the same request and appends one line to
$UPKEEP_BENCH_WORKER_LOG:

    COMMAND MAXRSS_KIB WALL_S USER_S SYS_S EXIT

The request (stdin, closed by the agent after writing it) is read whole to learn its "command", then handed
to the worker on a memfd; the worker's stdout is this process's, so its progress and result lines reach the
agent unchanged. The measurement is GNU time's (wait4's ru_maxrss of the worker): this process execs
/usr/bin/time, which forks and execs the worker. Measuring from Python instead would be wrong: a child
spawned by Python (vfork, or fork) carries Python's own peak RSS (about 10-14 MiB) into its ru_maxrss,
since exec keeps the highest RSS the process had so far. /usr/bin/time's image is under 1 MiB.

The agent stops a worker with SIGTERM to its pid, which is /usr/bin/time's after the exec: time dies and the
worker, which asked for PR_SET_PDEATHSIG, gets SIGTERM in turn. Used for this pass only: the timing and CPU
runs start the worker directly.
"""
import json
import os
import sys

worker, log = os.environ["UPKEEP_BENCH_WORKER"], os.environ["UPKEEP_BENCH_WORKER_LOG"]
req = sys.stdin.buffer.read()
try:
    cmd = str(json.loads(req).get("command", "?"))
except (ValueError, AttributeError):
    cmd = "?"
fd = os.memfd_create("request")
view = memoryview(req)
while view:
    view = view[os.write(fd, view):]
os.lseek(fd, 0, os.SEEK_SET)
os.dup2(fd, 0)
os.close(fd)
os.execv("/usr/bin/time", ["time", "-a", "-o", log, "-f", f"{cmd} %M %e %U %S %x", worker, *sys.argv[1:]])
