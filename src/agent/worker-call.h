/* worker-call.h — running one action in upkeep-agent-worker: spawn it, write the request line to its
 * stdin, pass its progress lines to a callback as they arrive, return its result line. The lines are those
 * of worker-protocol.h. The resident agent thus never maps libcurl or libostree (see docs/agent.md, "The
 * worker"). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "worker-protocol.h"

typedef void (*WorkerProgressFn)(const WorkerProgress *progress, void *userdata);

/* Runs `path` with request on stdin. *pid_slot (may be NULL) holds the worker's pid while it runs (0
 * otherwise), written atomically so another thread may kill it to stop early. On success *ret is the result
 * object (which may itself say {"ok":false,...}: see worker_result_check()). Errors: -ETIMEDOUT after
 * timeout_sec (0: 60 s; the worker is killed), -EIO when it died or wrote no result (e names the exit
 * status or signal), -EBADMSG for output that is not JSON lines, -E2BIG beyond WORKER_LINE_MAX, or the
 * spawn error. The caller ignores SIGPIPE (daemon_event_new() does): a worker may exit unread. */
int worker_call(const char *path, const char *request, unsigned timeout_sec, pid_t *pid_slot,
                WorkerProgressFn progress, void *userdata, json_t **ret, Error *e);
