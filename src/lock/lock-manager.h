/* lock-manager.h — upkeep-lock's state: the backend, the loaded configuration as "generations" with
 * their groups, each group name's lasting state (its batcher and counters), the daemon's counters, and
 * what changes it: reloads (SIGHUP) and the expiry sweep. The daemon's main builds one Manager; the
 * FleetLock handlers (lock-server.h), the admin API (lock-admin.h) and /metrics read it.
 *
 * Generations: SIGHUP builds a new one from the configuration file and swaps it in whole; every request
 * holds a reference to the one it started with until it is answered, so a reload never changes or frees
 * a group under a request. Retired generations are freed by the main thread once no request holds them
 * (manager_collect_retired()). A group name's GroupState lives as long as a live generation names it:
 * its counters and its batcher survive reloads. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar.h"
#include "daemon-util.h"
#include "http-server.h"
#include "lock-backend.h"
#include "lock-batch.h"
#include "lock-config.h"
#include "lock-metrics.h"
#include "metrics.h"
#include "tzfile.h"

/* A loaded configuration, shared by the generations built from it and by the manager (the boot one).
 * Main thread only. */
typedef struct ConfigRef {
        LockConfig *config;
        unsigned refs;
} ConfigRef;

/* What lives as long as a group's name stays configured, across reloads. Created and freed by the main
 * thread only. */
typedef struct GroupState GroupState;
struct GroupState {
        char *name;
        /* A reference to the batcher its requests go through (see lock-batch.h): with SQLite one for every
         * group (one transaction and one fsync for all), with etcd one per group (one compare-and-swap per
         * group). */
        LockBatcher *batcher;
        unsigned refs;              /* live generations that name it (main thread only) */
        LockGroupCounters counters; /* atomic */
        GroupState *next;
};

typedef struct Group {
        const LockGroupConfig *cfg;
        Calendar *calendar; /* NULL: always open */
        TimeZone *tz;
        GroupState *st;
} Group;

typedef struct Generation Generation;
struct Generation {
        ConfigRef *config;
        Group *groups;
        size_t n_groups;
        char *admin_token;
        unsigned refs;    /* atomic: the manager's while current, and each request's */
        Generation *next; /* among the retired */
};

typedef struct Manager {
        const DaemonOptions *opt;    /* the command line, read again at each reload; NULL: none */
        const char *sqlite_override; /* --sqlite */
        ConfigRef *boot; /* as started: listeners, TLS, threads and backend (a reload keeps them) */
        LockBackend *backend;
        pthread_mutex_t gen_lock; /* guards gen, and the states' list for the metrics */
        Generation *gen;
        Generation *retired; /* main thread only */
        GroupState *states;
        LockBatcher *shared_batcher; /* when the backend writes several groups at once */
        LockBatchStats freed;        /* counters of the per-group batchers freed so far (under gen_lock) */
        HttpServer *server, *status_server;
        Histogram latency;
        uint64_t requests[_ENDPOINT_MAX][LOCK_N_COUNTED_CODES]; /* atomic */
        uint64_t backend_errors;                                /* atomic */
        uint64_t reloads[2];                                    /* atomic: [done, failed] */
        bool last_reload_failed;                                /* atomic */
        bool generate_admin_token; /* write the generated token's file when missing (a running daemon) */
        int64_t started_at;
} Manager;

/* Reads the configuration (opt->config_path, or the defaults when there is none and it was not named),
 * applies the command line's overrides (--address, --port, --sqlite), and builds a Manager on it.
 * Errors are logged. opt must outlive the manager. */
int manager_load(const DaemonOptions *opt, const char *sqlite_override, Manager **ret);
/* A Manager on a configuration already parsed (taken over, even on failure), without a backend yet.
 * Errors are logged. */
int manager_new(LockConfig *config, Manager **ret);
/* Gives the manager its backend (taken over, even on failure) and the groups their batchers. */
int manager_set_backend(Manager *m, LockBackend *backend);
/* Sets up the backend the boot configuration names (SQLite or etcd3). Errors are logged. */
int manager_open_backend(Manager *m);
/* A daemon about to serve: from now on, the generated admin token (lock_config_generated_token_path) is
 * written when its file is missing, now and at reloads. Call before the HTTP servers start. Errors are
 * logged. */
int manager_generate_admin_token(Manager *m);
/* Stops the HTTP servers and frees everything no request holds any more. */
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* The service's TLS certificate and key (PEM, at most 1 MiB each). Errors are logged. */
int manager_read_tls(const Manager *m, char **ret_cert, char **ret_key);
/* --check-config: what the configuration amounts to, on stdout. */
void manager_print_summary(const Manager *m);

/* SIGHUP: reads the configuration again, as a restart would, and applies what can change while running
 * (the groups, their windows, pause flags and tokens, the admin token); keys that need a restart are
 * named and keep their running values. A configuration that does not load changes nothing. Tells the
 * service manager (RELOADING=1, then READY=1). Main thread. */
void manager_reload(Manager *m);
/* Main thread, every few seconds: releases holders past their group's maximum hold time, and frees the
 * retired generations no request holds any more. */
void manager_sweep(Manager *m);
void manager_collect_retired(Manager *m);

/* The current generation, with a reference for the caller; generation_unref() drops it. */
Generation *manager_get_generation(Manager *m);
void generation_unref(Generation *g);
Generation *generation_ref(Generation *g);
Group *generation_find_group(Generation *gen, const char *name);
bool group_window_open(const Group *g, int64_t now);

/* Runs op on the group's state through its batcher and waits (see lock-batch.h): 0, or a negative errno
 * (backend trouble, counted) with e. Expired holders are logged and counted. */
int manager_run_op(Manager *m, Group *g, LockOp *op, Error *e);
/* Logs and counts the holders op released because they held their slot too long. */
void manager_log_expired(Group *g, const LockOp *op);
/* Counts a FleetLock answer and how long it took (seconds since t0, CLOCK_MONOTONIC). */
void manager_count_answer(Manager *m, FleetLockEndpoint endpoint, unsigned status, double t0);
void manager_count_backend_error(Manager *m);
/* The counters of every batcher, those freed with their groups included (writes, updates, gathering). */
void manager_batch_stats(Manager *m, LockBatchStats *ret);
