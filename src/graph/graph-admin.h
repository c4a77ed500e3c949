/* graph-admin.h — upkeep-graph's rollout API, over the reports' store (docs/graph.md, "Rollouts"):
 *   GET  /v1/rollouts       every rollout of every stream: live and effective percentage, pause, counts;
 *   POST /v1/admin/pause    {"stream", "release", "reason"?}: an emergency stop, at the current percentage;
 *   POST /v1/admin/resume   {"stream", "release"}: the ramp continues over the duration that remained.
 * The admin calls need "Authorization: Bearer <the token in [admin] token_file>"; without a token file
 * they do not exist (404). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "graph-report-server.h"
#include "graph-stream.h"
#include "http-server.h"

#define GRAPH_ADMIN_MAX_BODY 4096

/* Whether path is one of this API's. */
bool graph_admin_path(const char *path);
/* Answers a request to one of them at now (unix seconds). admin_token NULL: no admin calls. Returns 0,
 * or a negative errno that the server turns into a 500. */
int graph_admin_handle(GraphReportService *reports, GraphStreams *gs, const char *admin_token,
                       const HttpRequest *req, int64_t now, HttpReply *reply);
