/* graph-stream.h — upkeep-graph's streams: what each configured stream serves now (a graph per basearch
 * and scheme, each with its cache of answers) behind a reference count, so that a refresh swaps it while
 * requests still answer from the old one; the update from freshly fetched inputs, which never replaces a
 * good graph with a broken one; and the counters that /metrics reports. Pure: the caller fetches the
 * inputs and passes the time. Thread-safe where noted. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "graph-build.h"
#include "graph-config.h"
#include "graph-policy.h"
#include "graph-view.h"
#include "metrics.h"

/* The HTTP statuses counted per stream; GRAPH_STATUS_OTHER counts anything else. */
typedef enum GraphStatus {
        GRAPH_STATUS_200,
        GRAPH_STATUS_204,
        GRAPH_STATUS_304, /* conditional requests answered without a body */
        GRAPH_STATUS_400,
        GRAPH_STATUS_404,
        GRAPH_STATUS_405,
        GRAPH_STATUS_406,
        GRAPH_STATUS_413,
        GRAPH_STATUS_500,
        GRAPH_STATUS_503,
        GRAPH_STATUS_OTHER,
        _GRAPH_STATUS_MAX,
} GraphStatus;

/* The code a counter stands for; 0 for GRAPH_STATUS_OTHER. */
unsigned graph_status_code(GraphStatus s);
/* Adds one to the counter of status (atomically). */
void graph_count_status(uint64_t counters[static _GRAPH_STATUS_MAX], unsigned status);

/* One stream's graphs as built from one pair of inputs. Immutable once built, apart from the caches. */
typedef struct StreamGraph {
        unsigned long refs; /* atomic */
        char **basearches;  /* the ones it was built for (a reload may change the stream's) */
        size_t n_arches;
        GraphView **views; /* [arch * _GRAPH_SCHEME_MAX + scheme] */
} StreamGraph;

StreamGraph *stream_graph_ref(StreamGraph *g);
StreamGraph *stream_graph_unref(StreamGraph *g);
static inline GraphView *stream_graph_view(const StreamGraph *g, size_t arch, GraphScheme scheme)
{
        return g->views[arch * _GRAPH_SCHEME_MAX + scheme];
}
/* The index of basearch in g->basearches, or -ENOENT. */
int stream_graph_find_arch(const StreamGraph *g, const char *basearch, size_t *ret);

typedef struct Stream {
        const GraphStreamConfig *cfg;
        char *releases; /* resolved: absolute path or URL (the caller sets them) */
        char *updates;
        pthread_mutex_t lock;
        StreamGraph *current; /* guarded by lock; NULL until the first good inputs */
        uint64_t content_hash;
        bool stale; /* rebuild even from the same inputs (its settings changed; the manager's thread) */
        bool dirty; /* a local input changed (the manager's thread only) */
        /* The rollout pauses (of every stream) applied when the graphs are built (graph_pauses_apply());
         * set by the manager's thread, which marks the stream stale when they change. Not owned. */
        const GraphPause *pauses;
        size_t n_pauses;
        /* Metrics: written and read with atomics. */
        int64_t last_refresh;
        uint64_t refreshes, refresh_failures;
        uint64_t requests[_GRAPH_STATUS_MAX];
} Stream;

/* A new reference to what the stream serves now, or NULL. Thread-safe. */
StreamGraph *stream_get(Stream *s);
/* Parses and checks the inputs (named by s->releases and s->updates in errors), builds every graph and
 * swaps them in. Returns 1 when the graphs were replaced, 0 when the inputs are the ones already served
 * and the stream is not stale (the graphs and their cached answers are kept), or a negative errno with e
 * set, the current graphs kept. On 1, *ret_warnings (when not NULL) gets what the update metadata's
 * parser warned about (NULL-terminated, NULL when nothing; the caller frees it). Called by one thread at
 * a time; requests may use the stream meanwhile. */
int stream_update(Stream *s, size_t max_answers, const char *rdata, size_t rlen, const char *udata,
                  size_t ulen, char ***ret_warnings, Error *e);

/* What the request handlers and /metrics share: every stream, and the counters of requests that name
 * none. The set of streams and their cfg change on a reload: request handlers hold the read lock while
 * they use any Stream (graph_streams_read_lock()); the manager's thread, the only one that changes the
 * set, reads it without. */
typedef struct GraphStreams {
        pthread_rwlock_t lock; /* writer-preferring */
        Stream **streams;
        size_t n_streams;
        uint64_t other_requests[_GRAPH_STATUS_MAX]; /* /v1/graph requests naming no known stream */
        Histogram wariness;                         /* of the /v1/graph requests answered */
        int64_t started_at;                         /* unix time */
} GraphStreams;

/* One Stream per configured stream (config must outlive gs, or until the next reconfigure), none loaded,
 * sources not yet set. */
int graph_streams_init(GraphStreams *gs, const GraphConfig *config, int64_t now);
void graph_streams_read_lock(GraphStreams *gs);
void graph_streams_read_unlock(GraphStreams *gs);
/* Swaps in config's streams under the write lock (config must outlive gs, or until the next call). A
 * stream config still names keeps its graph and counters and takes its new settings and sources; it is
 * marked stale when its sources or basearches changed, or when all_stale. A new stream starts empty, a
 * removed one is freed. sources holds 2 * config->n_streams resolved paths or URLs (releases, updates
 * of each stream, in config's order), all taken over on success. -ENOMEM changes nothing. */
int graph_streams_reconfigure(GraphStreams *gs, const GraphConfig *config, char **sources, bool all_stale);
/* Frees what graph_streams_init() and the callers set (sources included). */
void graph_streams_done(GraphStreams *gs);
Stream *graph_streams_find(GraphStreams *gs, const char *name);
/* How many streams serve a graph. */
size_t graph_streams_ready(GraphStreams *gs);
