/* graph-report.h — outcome reports (POST /v1/report, an Upkeep extension): the wire format parsed and
 * validated field by field, the per-node rate limit (a token bucket per node in a bounded table), and
 * the bearer-token check. Pure: the caller passes the body, the header and the time. The format is in
 * docs/graph.md ("Outcome reports"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define GRAPH_REPORT_MAX_BODY_BYTES 8192
#define GRAPH_REPORT_NODE_LEN 32 /* lower-case hex digits */
/* The caps are the agent's (src/agent/agent-report.h): whatever it sends is accepted. Strings are UTF-8
 * without control characters (tabs and newlines allowed in detail). */
#define GRAPH_REPORT_MAX_NAME 128 /* group, stream, basearch: bytes */
#define GRAPH_REPORT_MAX_VERSION 256
#define GRAPH_REPORT_MAX_DETAIL 1024
#define GRAPH_REPORT_MAX_CHECKS 32
#define GRAPH_REPORT_MAX_CHECK_NAME 128
#define GRAPH_REPORT_MAX_TIME (INT64_C(1) << 40) /* unix seconds; about year 36812 */

typedef enum GraphReportOutcome {
        GRAPH_REPORT_SUCCEEDED,
        GRAPH_REPORT_ROLLED_BACK,
        GRAPH_REPORT_BOOT_FALLBACK,
        GRAPH_REPORT_STAGE_FAILED,
        GRAPH_REPORT_MANUAL_INTERVENTION,
        _GRAPH_REPORT_OUTCOME_MAX,
} GraphReportOutcome;

/* "succeeded", "rolled_back", ...; NULL out of range. */
const char *graph_report_outcome_to_string(GraphReportOutcome o);
/* The outcome, or -EINVAL. */
int graph_report_outcome_from_string(const char *s);
/* Every outcome but succeeded counts as a failure for the rollout policy. */
static inline bool graph_report_outcome_is_failure(GraphReportOutcome o)
{
        return o != GRAPH_REPORT_SUCCEEDED;
}

typedef struct GraphReport {
        char node[GRAPH_REPORT_NODE_LEN + 1];
        char group[GRAPH_REPORT_MAX_NAME + 1];
        char stream[GRAPH_REPORT_MAX_NAME + 1];
        char basearch[GRAPH_REPORT_MAX_NAME + 1];
        char from_version[GRAPH_REPORT_MAX_VERSION + 1];
        char to_version[GRAPH_REPORT_MAX_VERSION + 1];
        GraphReportOutcome outcome;
        char detail[GRAPH_REPORT_MAX_DETAIL + 1]; /* "" when absent */
        char checks[GRAPH_REPORT_MAX_CHECKS][GRAPH_REPORT_MAX_CHECK_NAME + 1];
        size_t n_checks;
        int64_t time; /* unix seconds, as the node says */
} GraphReport;

/* Parses a report body (a JSON object, at most GRAPH_REPORT_MAX_BODY_BYTES). Required: node, group, stream,
 * basearch, from_version, to_version, outcome, time; optional: detail, failed_checks. Members not in
 * the format are ignored (newer agents may send more). On -EINVAL, *ret_field (when not NULL) names the
 * offending member ("body" when the document itself is wrong) and e says why, starting with that name;
 * -E2BIG for a body over the cap. *ret is written only on success. */
int graph_report_parse(const char *data, size_t len, GraphReport *ret, const char **ret_field, Error *e);

/* The per-node rate limit: a bucket of `burst` reports per node, refilled at `per_minute`. The table
 * holds at most `capacity` nodes (a power of two, in sets of GRAPH_REPORT_LIMIT_WAYS); a new node in a full
 * set replaces the one seen least recently, which thereby starts afresh (documented). Not thread-safe:
 * the caller locks. */
#define GRAPH_REPORT_LIMIT_WAYS 4

typedef struct GraphReportLimitEntry {
        char node[GRAPH_REPORT_NODE_LEN];
        bool used;
        double tokens;
        int64_t last_usec;
} GraphReportLimitEntry;

typedef struct GraphReportLimiter {
        GraphReportLimitEntry *entries;
        size_t capacity;
        double per_minute, burst;
        uint64_t k0, k1; /* hash keys */
} GraphReportLimiter;

/* capacity is rounded up to a power of two, at least GRAPH_REPORT_LIMIT_WAYS. */
int graph_report_limiter_init(GraphReportLimiter *l, size_t capacity, double per_minute, double burst,
                              uint64_t k0, uint64_t k1);
void graph_report_limiter_done(GraphReportLimiter *l);
/* Takes one report from node's bucket at now_usec: true when allowed, false when over the rate. */
bool graph_report_limiter_take(GraphReportLimiter *l, const char *node, int64_t now_usec);

/* Whether an Authorization header value is "Bearer <t>" for one of tokens (n of them), compared in
 * constant time per token. With no token configured, every request passes (authorization NULL too). */
bool graph_report_token_ok(char *const *tokens, size_t n, const char *authorization);

/* Counts of reports per (stream, release, group) and outcome, for /metrics and the rollout policy. At
 * most GRAPH_REPORT_COUNTS_MAX keys: beyond, reports are counted under the key ("_other", "_other",
 * "_other") so that a stream of made-up groups cannot grow the table (or the metrics page). Not thread-safe.
 */
#define GRAPH_REPORT_COUNTS_MAX 1024
#define GRAPH_REPORT_COUNTS_OTHER "_other"

typedef struct GraphReportCount {
        char stream[GRAPH_REPORT_MAX_NAME + 1];
        char release[GRAPH_REPORT_MAX_VERSION + 1];
        char group[GRAPH_REPORT_MAX_NAME + 1];
        uint64_t n[_GRAPH_REPORT_OUTCOME_MAX];
} GraphReportCount;

typedef struct GraphReportCounts {
        GraphReportCount *items; /* at most GRAPH_REPORT_COUNTS_MAX + 1 (the overflow key) */
        size_t n;
} GraphReportCounts;

/* A key not in a full table is counted under (GRAPH_REPORT_COUNTS_OTHER x 3) instead. */
/* Adds k reports of outcome o. 0 or -ENOMEM. */
int graph_report_counts_add(GraphReportCounts *c, const char *stream, const char *release, const char *group,
                            GraphReportOutcome o, uint64_t k);
/* Sets the count of outcome o to v (a count read back from a store). 0 or -ENOMEM. */
int graph_report_counts_set(GraphReportCounts *c, const char *stream, const char *release, const char *group,
                            GraphReportOutcome o, uint64_t v);
/* The key a report of (*stream, *release, *group) is counted under: unchanged, or the overflow key when the
 * table is full without it. */
void graph_report_counts_resolve(const GraphReportCounts *c, const char **stream, const char **release,
                                 const char **group);
/* The entry of this key, or NULL. */
const GraphReportCount *graph_report_counts_find(const GraphReportCounts *c, const char *stream,
                                                 const char *release, const char *group);
void graph_report_counts_done(GraphReportCounts *c);
