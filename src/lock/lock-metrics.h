/* lock-metrics.h — upkeep-lock's /metrics text (Prometheus 0.0.4): the daemon gathers a snapshot (its
 * counters, each group's stored state, the backend's and the batchers' counters) and this renders it.
 * Pure: the snapshot carries the time and every value. Also the names the answers and the metrics share:
 * the FleetLock endpoints, the counted status codes and the kinds of denial. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "lock-semaphore.h"
#include "metrics.h"

/* Denial kinds, as they appear in error bodies and metrics. */
typedef enum Denial {
        DENIAL_FULL,
        DENIAL_OUTSIDE_WINDOW,
        DENIAL_PAUSED,
        _DENIAL_MAX,
} Denial;

const char *denial_kind(Denial d);

typedef enum FleetLockEndpoint {
        ENDPOINT_PRE_REBOOT,
        ENDPOINT_STEADY_STATE,
        _ENDPOINT_MAX,
} FleetLockEndpoint;

const char *fleetlock_endpoint_to_string(FleetLockEndpoint e);

/* The FleetLock answers counted by status code: 200, 400, 401, 404, 423, 503. */
#define LOCK_N_COUNTED_CODES 7
/* The index of a counted status code, or -1 when it is not counted. */
int lock_counted_code_index(unsigned status);

/* What happened to a group's slots (atomic in the daemon). */
typedef struct LockGroupCounters {
        uint64_t grants, releases, expirations, denials[_DENIAL_MAX];
} LockGroupCounters;

/* One group as /metrics shows it. */
typedef struct LockGroupMetrics {
        const char *name;
        uint64_t slots;
        bool stored;       /* false: its stored state could not be read (holders, age, paused are NaN) */
        size_t holders;    /* when stored */
        double oldest_age; /* seconds, 0 when nobody holds a slot or no holder's start is known */
        bool paused;       /* through the admin API or in the configuration */
        bool window_open;  /* true when the group has no windows */
        LockGroupCounters counters;
} LockGroupMetrics;

/* Fills the stored part of *g from the group's state at time now. */
void lock_group_metrics_set_state(LockGroupMetrics *g, const Semaphore *s, bool paused_in_config,
                                  int64_t now);

typedef struct LockMetrics {
        uint64_t requests[_ENDPOINT_MAX][LOCK_N_COUNTED_CODES];
        const Histogram *latency;
        const LockGroupMetrics *groups;
        size_t n_groups;
        uint64_t backend_errors, backend_conflicts;
        /* Summed over every batcher, those already freed included (see lock-batch.h). */
        uint64_t writes, write_updates, gather_waits, gather_timeouts;
        int64_t started_at;
        uint64_t reloads_ok, reloads_failed;
        bool last_reload_failed;
} LockMetrics;

/* Appends the whole exposition to out: -ENOMEM or -ENOBUFS (out's cap) on failure. */
int lock_metrics_format(const LockMetrics *m, Buf *out);
