/* graph-status.h — upkeep-graph's status page, GET /status (and / redirecting to it): the snapshot of the
 * streams, reports and pauses gathered for graph-status-page.h's renderer, and upkeep-lock's groups fetched
 * from its admin API ([status] lock_admin_url, lock_admin_token_file) on a thread of their own: at most
 * every GRAPH_STATUS_LOCK_CACHE_SECS seconds, each fetch bounded by
 * GRAPH_STATUS_LOCK_TIMEOUT_MS. A page request only reads the last fetch's result: neither it nor any
 * graph request ever waits for upkeep-lock. The fetcher is a GraphStatusFetcher the service points to. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "graph-config.h"
#include "graph-server.h"
#include "http-server.h"

#define GRAPH_STATUS_LOCK_CACHE_SECS 5
#define GRAPH_STATUS_LOCK_TIMEOUT_MS 2000
#define GRAPH_STATUS_LOCK_MAX_ANSWER (1u * 1024u * 1024u)

/* Starts the lock fetcher when config has status.lock_admin_url (reading the token file, when set, once)
 * and gives it in *ret: 0 (*ret NULL without a URL: the page has no lock section), 1 with warn filled when
 * others may read the token file, or a negative errno with e naming the key or the file. The first fetch
 * starts at once. */
int graph_status_fetcher_new(const GraphConfig *config, GraphStatusFetcher **ret, Error *warn, Error *e);
/* Stops the fetcher (waits for a fetch under way, at most its timeout) and frees it. NULL. */
GraphStatusFetcher *graph_status_fetcher_free(GraphStatusFetcher *s);

/* Whether path is the status page's: "/status" or "/". */
bool graph_status_path(const char *path);
/* Answers GET/HEAD /status with the page at now (unix seconds), / with a 302 to /status, anything else
 * with 405. Takes the streams' read lock. 0, or a negative errno the server turns into a 500. */
int graph_status_handle(const GraphService *svc, const HttpRequest *req, int64_t now, HttpReply *reply);
