/* graph-server.h — upkeep-graph's HTTP endpoints: GET /v1/graph (the Cincinnati protocol, answered from
 * the streams' cached bytes), /metrics, /healthz and /readyz, POST /v1/report when reports are enabled
 * (graph-report-server.h), GET /v1/rollouts and the admin API (graph-admin.h), and the server that calls
 * them. A request goes in, a reply comes out:
 * graph_server_answer() needs no socket. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "graph-config.h"
#include "graph-stream.h"
#include "http-server.h"
#include "graph-report-server.h"

/* What an answer depends on. */
typedef struct GraphRequest {
        const char *method;
        const char *path;
        const char *query;                /* raw, still percent-encoded; "" when none */
        const char *accept;               /* the Accept header; NULL when absent */
        const char *accept_encoding;      /* Accept-Encoding; NULL when absent */
        const char *if_none_match;        /* If-None-Match; NULL when absent */
        const char *cors_request_headers; /* Access-Control-Request-Headers (preflights); NULL when absent */
        int64_t now;                      /* unix time, for rollout throttling */
        GraphReportService *reports;      /* its counts join /metrics; NULL when reports are disabled */
} GraphRequest;

typedef struct GraphStatusFetcher GraphStatusFetcher; /* graph-status.h */

/* What the server's handler serves: the streams, and the reports (NULL when disabled). */
typedef struct GraphService {
        GraphStreams *streams;
        GraphReportService *reports;
        GraphStatusFetcher *status; /* upkeep-lock's groups for the status page; NULL: not configured */
        const char *admin_token;    /* NULL: no admin API (graph-admin.h) */
} GraphService;

/* Whether an If-None-Match value (a comma-separated list of entity tags, or "*") matches etag, compared
 * weakly (RFC 9110 13.1.2: a W/ prefix on either side is ignored). */
bool graph_etag_matches(const char *if_none_match, const char *etag);
/* Whether an Accept-Encoding value allows gzip: "gzip" (or "x-gzip"), else "*", listed with a q-value
 * above 0. NULL (no header) allows only identity. */
bool graph_accepts_gzip(const char *accept_encoding);
/* The gzip encoding of an answer (level 6), an answer blob with the answer's ETag plus "-gz". NULL when
 * out of memory. */
Blob *graph_answer_gzip(const Blob *answer);

/* Fills reply (status, content type, body, headers) and counts the request. /v1/graph answers carry
 * Access-Control-Allow-Origin: * and Cache-Control (no-cache for a graph, no-store for an error); a graph
 * carries its ETag and Vary: Accept-Encoding, is gzip-encoded when the client accepts it, and is
 * 304 Not Modified, without a body, when If-None-Match matches;
 * OPTIONS /v1/graph answers a CORS preflight with 204. Takes gs's read lock. Returns 0, or a negative
 * errno (out of memory) that the server turns into a 500. */
int graph_server_answer(GraphStreams *gs, const GraphRequest *req, HttpReply *reply);

/* Listens where config says (with its caps and threads) and answers with graph_server_answer() at the
 * current time, and POST /v1/report with svc->reports; svc and what it points to must outlive the
 * server. */
int graph_server_start(const GraphConfig *config, GraphService *svc, HttpServer **ret, Error *e);
