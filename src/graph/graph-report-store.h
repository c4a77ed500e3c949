/* graph-report-store.h — where upkeep-graph keeps outcome reports and rollout pauses. One API over two
 * backends (GraphReportBackendOps), chosen at start by [reports] backend:
 * - SQLite (default, one instance): a database (WAL), one row per (node, to_version, outcome) so that a
 *   report sent again is stored and counted once, and a table of pauses;
 * - etcd (several instances serving one fleet, graph-report-etcd.c, layout in graph-etcd-keys.h): a key
 *   per (node, to_version, outcome) created only if absent, in the same transaction as the count of its
 *   (stream, release, group, outcome); a pause record per (stream, release) written by compare-and-swap.
 * Either way the counts per (stream, release, group, outcome) and the pauses are kept in memory (read by
 * /metrics, the policy, the canary phase and every graph build without touching the backend), loaded when
 * opened; with etcd they are read again every refresh interval, so each instance sees the others' reports
 * and pauses within that bound. Thread-safe: readers take the memory's mutex only (a backend that is down
 * never blocks them); writes and refreshes are serialized by a second mutex. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "graph-policy.h"
#include "graph-report.h"

typedef struct GraphReportStore GraphReportStore;

#define GRAPH_PAUSES_MAX 1024
#define GRAPH_REPORT_COUNT_UNKNOWN UINT64_MAX

/* A backend. be is its state. Called with the store's write mutex held, never its memory mutex. */
typedef struct GraphReportBackendOps {
        const char *name; /* "sqlite", "etcd" */
        /* Reads every count into counts (empty on entry) and up to GRAPH_PAUSES_MAX pause records into
         * pauses[], each with its revision in revs[] (0 when the backend has none), their number in
         * *ret_n. */
        int (*load)(void *be, GraphReportCounts *counts, GraphPause *pauses, int64_t *revs, size_t *ret_n,
                    Error *e);
        /* Stores r received at `received`, counted under (stream, release, group) (r's own, or the overflow
         * key when the table is full) and r's outcome, a count the store knows as `known`. 1 when new, 0
         * when this (node, to_version, outcome) was stored before. *ret_count: the count after the write as
         * the backend has it, or GRAPH_REPORT_COUNT_UNKNOWN (then the store adds 1 to its own when new). */
        int (*add)(void *be, const GraphReport *r, int64_t received, const char *stream, const char *release,
                   const char *group, uint64_t known, uint64_t *ret_count, Error *e);
        /* Writes p over the record of its stream and release last seen at revision known_rev (0: none seen).
         * 0 when written (*ret_rev: its revision), GRAPH_PAUSE_LOST when another writer's record is there
         * (*ret_stored and *ret_rev: that record), or a negative errno. */
        int (*put_pause)(void *be, const GraphPause *p, int64_t known_rev, GraphPause *ret_stored,
                         int64_t *ret_rev, Error *e);
        void (*close)(void *be);
} GraphReportBackendOps;

#define GRAPH_PAUSE_LOST 1

/* What the store tells its owner (from any thread; it never logs itself). Every member optional. */
typedef struct GraphReportStoreHooks {
        /* A refresh brought pause records another instance wrote: the graphs must be rebuilt. */
        void (*pauses_changed)(void *userdata);
        /* A refresh brought counts another instance changed: the policies may trip on them. */
        void (*counts_changed)(void *userdata);
        /* The backend stopped answering (up = false, message: why) or answers again (up = true). */
        void (*health)(void *userdata, bool up, const char *message);
        void *userdata;
} GraphReportStoreHooks;

/* A store over backend ops/be (taken over: closed with the store, also when this fails), loaded once;
 * refresh_ms > 0 reloads it every refresh_ms on a thread of its own. */
int graph_report_store_new(const GraphReportBackendOps *ops, void *be, unsigned refresh_ms,
                           const GraphReportStoreHooks *hooks, GraphReportStore **ret, Error *e);

/* SQLite: opens (creating it and its schema when missing) the database at path, mode 0600, and loads the
 * counts. Errors name the path. */
int graph_report_store_open(const char *path, GraphReportStore **ret, Error *e);

/* etcd: the client's settings as upkeep-lock's [etcd3] table, the key prefix and the refresh interval. */
typedef struct GraphReportEtcdOptions {
        const char *const *endpoints;
        size_t n_endpoints;
        unsigned transaction_timeout_ms; /* 0 = etcd.h's default */
        const char *ca_file, *client_cert, *client_key;
        const char *prefix; /* graph-etcd-keys.h */
        unsigned refresh_ms;
} GraphReportEtcdOptions;

/* Fails (errors name the endpoint) when etcd cannot be read at start: an instance that does not know
 * the fleet's pauses must not serve graphs. */
int graph_report_store_open_etcd(const GraphReportEtcdOptions *o, const GraphReportStoreHooks *hooks,
                                 GraphReportStore **ret, Error *e);
void graph_report_store_close(GraphReportStore *s);

/* Stores a report received at `received` (unix seconds). Returns 1 when it is new (counted), 0 when
 * this (node, to_version, outcome) was already stored (nothing changes), or a negative errno with e set
 * (the backend cannot be written: nothing counted). */
int graph_report_store_add(GraphReportStore *s, const GraphReport *r, int64_t received, Error *e);

/* Copies the counts (the caller frees them with graph_report_counts_done()). 0 or -ENOMEM. */
int graph_report_store_counts(GraphReportStore *s, GraphReportCounts *ret);

/* What policy p sees of release now (graph_policy_tally() over the counts, without copying them). */
GraphPolicyTally graph_report_store_tally(GraphReportStore *s, const GraphPolicy *p, const char *release);

/* The pauses (active and resumed), durable in the backend. */
/* Copies them into a new array (NULL when none; the caller frees it). 0 or -ENOMEM. */
int graph_report_store_pauses(GraphReportStore *s, GraphPause **ret, size_t *ret_n);
/* Whether (stream, release) has a pause record; *ret (when not NULL) gets a copy. */
bool graph_report_store_find_pause(GraphReportStore *s, const char *stream, const char *release,
                                   GraphPause *ret);
/* Writes *p, replacing the record of its stream and release as last seen. 0 when written;
 * GRAPH_PAUSE_LOST when another instance wrote that record meanwhile: its record stands, and *p (and the
 * memory) now hold it. At most GRAPH_PAUSES_MAX records: -E2BIG beyond. A negative errno with e set when
 * the backend cannot be written (nothing changes). */
int graph_report_store_put_pause(GraphReportStore *s, GraphPause *p, Error *e);

/* Whether the last write or refresh reached the backend. While it did not, a store with a refresh
 * thread fails writes at once with -EIO (no wait for the backend's timeouts) until a refresh succeeds. */
bool graph_report_store_up(GraphReportStore *s);

/* Appends upkeep_graph_reports_total{stream,release,group,outcome} and upkeep_graph_report_store_up
 * {backend} to a metrics page. */
int graph_report_store_metrics_write(GraphReportStore *s, Buf *out);

/* The SQLite backend (graph_report_store_open() uses it). */
int graph_report_sqlite_open(const char *path, void **ret, Error *e);
extern const GraphReportBackendOps graph_report_sqlite_ops;
/* The etcd backend (graph_report_store_open_etcd() uses it). */
int graph_report_etcd_open(const GraphReportEtcdOptions *o, void **ret, Error *e);
extern const GraphReportBackendOps graph_report_etcd_ops;
