/* graph-server.h — upkeep-graph's HTTP endpoints: GET /v1/graph (the Cincinnati protocol, answered from
 * the streams' cached bytes), /metrics, /healthz and /readyz, and the server that calls them. A request
 * goes in, a reply comes out: graph_server_answer() needs no socket. */
#pragma once

#include <stdint.h>

#include "error.h"
#include "graph-config.h"
#include "graph-stream.h"
#include "http-server.h"

/* What an answer depends on. */
typedef struct GraphRequest {
        const char *method;
        const char *path;
        const char *query;                /* raw, still percent-encoded; "" when none */
        const char *accept;               /* the Accept header; NULL when absent */
        const char *cors_request_headers; /* Access-Control-Request-Headers (preflights); NULL when absent */
        int64_t now;                      /* unix time, for rollout throttling */
} GraphRequest;

/* Fills reply (status, content type, body, headers) and counts the request. /v1/graph answers carry
 * Access-Control-Allow-Origin: * and Cache-Control (no-cache for a graph, no-store for an error);
 * OPTIONS /v1/graph answers a CORS preflight with 204. Takes gs's read lock. Returns 0, or a negative
 * errno (out of memory) that the server turns into a 500. */
int graph_server_answer(GraphStreams *gs, const GraphRequest *req, HttpReply *reply);

/* Listens where config says (with its caps and threads) and answers with graph_server_answer() at the
 * current time; gs must outlive the server. */
int graph_server_start(const GraphConfig *config, GraphStreams *gs, HttpServer **ret, Error *e);
