/* worker-call.h — running one action in upkeep-agent-worker: spawn it, write the JSON request to its stdin,
 * pass its progress lines to a callback as they arrive, return its result line. The resident agent thus
 * never maps libcurl or libostree (see docs/agent.md, "The worker"). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

#define WORKER_LINE_MAX (4u << 20) /* one line of the worker's output */

typedef void (*WorkerProgressFn)(const json_t *progress, void *userdata);

/* Runs `path` with request on stdin. *pid_slot (may be NULL) holds the worker's pid while it runs (0
 * otherwise), written atomically so another thread may kill it to stop early. On success *ret is the result
 * object (which may itself say {"ok":false,...}). Errors: -ETIMEDOUT after timeout_sec (the worker is
 * killed), -EIO when it died or wrote no result (e names the exit status and its last words), -EBADMSG for
 * output that is not JSON lines, -E2BIG beyond WORKER_LINE_MAX, or the spawn error. */
int worker_call(const char *path, const char *request, unsigned timeout_sec, pid_t *pid_slot,
                WorkerProgressFn progress, void *userdata, json_t **ret, Error *e);
