/* graph-report-server.h — POST /v1/report on upkeep-graph: the checks in the order a request meets them
 * (method 405, bearer token 401, size 413, content type 415, body 400 naming the field, per-node rate
 * 429), then the store write on the service's own thread, the request's reply deferred meanwhile so
 * that graph answers never wait for the disk (202, or 503 when the store cannot be written or its queue
 * is full). Counts every answer by status for /metrics. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "graph-config.h"
#include "graph-report-store.h"
#include "graph-stream.h"
#include "http-server.h"

#define GRAPH_REPORT_QUEUE_MAX 1024 /* reports waiting for the store; more get 503 */

typedef struct GraphReportService GraphReportService;

/* Called (from any thread) after a pause was written: the graphs must be rebuilt with it. */
typedef void (*GraphPausesChanged)(void *userdata);

/* Opens the store (config->reports_backend: the SQLite database config->reports_database, or etcd
 * with [etcd3]) and starts the writer thread, which also applies the policies
 * (graph_report_service_set_policies()) after each new failure, as the etcd store's refreshes do after
 * counts other instances changed. gs (read for the rollouts' current percentages) must outlive the
 * service. Errors name the database or the etcd endpoint. */
int graph_report_service_new(const GraphConfig *config, GraphStreams *gs, GraphPausesChanged changed,
                             void *userdata, GraphReportService **ret, Error *e);
/* Replaces the policies (copied; a reload's). 0 or -ENOMEM (the old ones kept). */
int graph_report_service_set_policies(GraphReportService *s, const GraphPolicy *p, size_t n);
GraphReportStore *graph_report_service_store(GraphReportService *s);
/* Pauses release of stream at now (reason: who or what), at the throttle value its rollout reached in
 * the current graph. Returns 1 when paused now, 0 when it already was (nothing changes), or a negative
 * errno with e set (the store cannot be written). */
int graph_report_service_pause(GraphReportService *s, const char *stream, const char *release,
                               const char *reason, int64_t now, Error *e);
/* Resumes a paused release at now. 1 when resumed, 0 when it was not paused, or a negative errno. */
int graph_report_service_resume(GraphReportService *s, const char *stream, const char *release, int64_t now,
                                Error *e);
/* Stops the writer thread once the queue is empty, closes the store. Call after the HTTP server
 * stopped (it waits for deferred replies, which this thread finishes). NULL is fine. */
void graph_report_service_free(GraphReportService *s);

/* Answers a request to /v1/report (any method) received at realtime_usec (CLOCK_REALTIME; the rate limit
 * reads the monotonic clock itself). Returns 0, or a negative errno the server turns into a 500. */
int graph_report_service_handle(GraphReportService *s, const HttpRequest *req, int64_t realtime_usec,
                                HttpReply *reply);

/* The canary phase of stream's policy (the first with a canary), for a graph request of a node
 * (node_uuid NULL when none) of this wariness at now: sets also_hidden[k] for each rollout k of g that
 * the phase keeps from the node (graph-policy.h, GraphCanary). Thread-safe. */
void graph_report_service_canary(GraphReportService *s, const char *stream, const Graph *g,
                                 const char *node_uuid, double wariness, int64_t now, bool *also_hidden);

/* Appends upkeep_graph_reports_total, upkeep_graph_rollout_paused, upkeep_graph_rollout_frozen_percentage
 * and upkeep_graph_report_requests_total{code} to a metrics page. */
int graph_report_service_metrics_write(GraphReportService *s, Buf *out);
