/* agent-engine.h — upkeep-agent's imperative shell around the pure state machine
 * (src/agent/agent-machine.h): it owns the timer, performs each requested action (graph check, fleet lock
 * calls, staging through the OS layer, users, finalize and reboot) and publishes a snapshot for the status
 * and metrics sockets. Actions that need the network or libostree run in upkeep-agent-worker
 * (worker-call.h), one process per action, so this process maps neither libcurl nor libostree. It runs on
 * its own thread; the main thread only reads snapshots and wakes it (update-now, stop). */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent-config.h"
#include "agent-machine.h"
#include "agent-status.h"
#include "calendar.h"
#include "tzfile.h"

typedef struct Engine Engine;

typedef struct EngineSetup {
        const AgentConfig *config; /* borrowed, outlives the engine */
        const char *worker_path;   /* upkeep-agent-worker, which performs the actions */
        const TimeZone *tz;        /* borrowed; set when config->calendar is */
        const char *node_uuid;     /* 32 lower-case hex */
        const char *basearch;
        const char *platform; /* "" when unknown */
} EngineSetup;

int engine_new(const EngineSetup *s, Engine **ret, Error *e);
Engine *engine_free(Engine *e); /* after engine_stop() */

/* Starts the engine thread; it takes its first tick at once. */
int engine_start(Engine *e);
/* Asks the thread to stop at the next step boundary and waits for it up to timeout_ms. Returns 0 when it
 * stopped, -ETIMEDOUT when it is still busy (a long download): the caller may then exit anyway. */
int engine_stop(Engine *e, unsigned timeout_ms);

/* update-now: tick at once; the next update check ignores the configured wariness (asks as the most
 * eager node). */
void engine_update_now(Engine *e);

/* update-now allowing a version: that one bad release (agent-health.h) may be staged once; NULL: a
 * plain update-now. */
void engine_update_now_allowing(Engine *e, const char *version);
/* Forgets a bad release by version or checksum (its record is stored at once). 0, or -ENOENT or the
 * storing error with err filled. */
int engine_forget_bad_release(Engine *e, const char *version_or_checksum, Error *err);

/* A consistent copy of the current snapshot (computed fields such as the next window are filled). */
void engine_snapshot(Engine *e, AgentSnapshot *ret);
