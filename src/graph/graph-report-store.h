/* graph-report-store.h — where upkeep-graph keeps outcome reports: a SQLite database (WAL), one row per
 * (node, to_version, outcome) so that a report sent again is stored and counted once, and the counts per
 * (stream, release, group, outcome) kept in memory for /metrics, loaded from the database when opened.
 * Rollout pauses live there too (table pauses), also mirrored in memory. Thread-safe: every call takes
 * the store's mutex. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "graph-policy.h"
#include "graph-report.h"

typedef struct GraphReportStore GraphReportStore;

/* Opens (creating it and its schema when missing) the database at path, mode 0600, and loads the
 * counts. Errors name the path. */
int graph_report_store_open(const char *path, GraphReportStore **ret, Error *e);
void graph_report_store_close(GraphReportStore *s);

/* Stores a report received at `received` (unix seconds). Returns 1 when it is new (counted), 0 when
 * this (node, to_version, outcome) was already stored (nothing changes), or a negative errno with e set
 * (the database cannot be written: nothing counted). */
int graph_report_store_add(GraphReportStore *s, const GraphReport *r, int64_t received, Error *e);

/* Copies the counts (the caller frees them with graph_report_counts_done()). 0 or -ENOMEM. */
int graph_report_store_counts(GraphReportStore *s, GraphReportCounts *ret);

/* What policy p sees of release now (graph_policy_tally() over the counts, without copying them). */
GraphPolicyTally graph_report_store_tally(GraphReportStore *s, const GraphPolicy *p, const char *release);

/* The pauses (active and resumed), durable in the same database, loaded when opened. */
/* Copies them into a new array (NULL when none; the caller frees it). 0 or -ENOMEM. */
int graph_report_store_pauses(GraphReportStore *s, GraphPause **ret, size_t *ret_n);
/* Whether (stream, release) has a pause record; *ret (when not NULL) gets a copy. */
bool graph_report_store_find_pause(GraphReportStore *s, const char *stream, const char *release,
                                   GraphPause *ret);
/* Writes p (replacing the record of its stream and release). At most GRAPH_PAUSES_MAX records: -E2BIG
 * beyond. A negative errno with e set when the database cannot be written (nothing changes). */
#define GRAPH_PAUSES_MAX 1024
int graph_report_store_put_pause(GraphReportStore *s, const GraphPause *p, Error *e);

/* Appends upkeep_graph_reports_total{stream,release,group,outcome} to a metrics page. */
int graph_report_store_metrics_write(GraphReportStore *s, Buf *out);
