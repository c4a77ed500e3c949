/* graph-metrics.c — rendering of upkeep-graph's /metrics page (see graph-metrics.h). */
#include "graph-metrics.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

static int write_requests(GraphStreams *gs, Buf *b)
{
        char code[16];
        int r;

        r = metrics_header(b, "upkeep_graph_requests_total", "counter",
                           "Requests to /v1/graph by stream and HTTP status.");
        for (size_t i = 0; r >= 0 && i <= gs->n_streams; i++) {
                const uint64_t *c = i < gs->n_streams ? gs->streams[i]->requests : gs->other_requests;
                const char *name = i < gs->n_streams ? gs->streams[i]->cfg->name : "_other";
                for (GraphStatus k = 0; r >= 0 && k < _GRAPH_STATUS_MAX; k++) {
                        uint64_t v = LOAD(&c[k]);
                        const char *labels[] = { "stream", name, "code", code, NULL };
                        if (!v)
                                continue;
                        if (graph_status_code(k))
                                snprintf(code, sizeof(code), "%u", graph_status_code(k));
                        else
                                strcpy(code, "other");
                        r = metrics_sample_u64(b, "upkeep_graph_requests_total", labels, v);
                }
        }
        return r;
}

/* upkeep_graph_nodes or (edges) upkeep_graph_edges of every graph served. */
static int write_sizes(GraphStreams *gs, bool edges, Buf *b)
{
        const char *name = edges ? "upkeep_graph_edges" : "upkeep_graph_nodes";
        int r = metrics_header(b, name, "gauge",
                               edges ? "Edges in the current graph." : "Nodes in the current graph.");

        for (size_t i = 0; r >= 0 && i < gs->n_streams; i++) {
                Stream *s = gs->streams[i];
                StreamGraph *sg = stream_get(s);
                for (size_t a = 0; r >= 0 && sg && a < sg->n_arches; a++)
                        for (GraphScheme sc = 0; r >= 0 && sc < _GRAPH_SCHEME_MAX; sc++) {
                                const Graph *g = stream_graph_view(sg, a, sc)->graph;
                                const char *labels[] = {
                                        "stream",   s->cfg->name,
                                        "basearch", sg->basearches[a],
                                        "scheme",   sc == GRAPH_SCHEME_OCI ? "oci" : "checksum",
                                        NULL
                                };
                                r = metrics_sample_u64(b, name, labels, edges ? g->n_edges : g->n_nodes);
                        }
                stream_graph_unref(sg);
        }
        return r;
}

static int write_refreshes(GraphStreams *gs, Buf *b)
{
        int r = metrics_header(b, "upkeep_graph_last_refresh_timestamp_seconds", "gauge",
                               "When each stream's inputs were last read successfully (unix time).");

        for (size_t i = 0; r >= 0 && i < gs->n_streams; i++) {
                const char *labels[] = { "stream", gs->streams[i]->cfg->name, NULL };
                r = metrics_sample(b, "upkeep_graph_last_refresh_timestamp_seconds", labels,
                                   (double)LOAD(&gs->streams[i]->last_refresh));
        }
        if (r >= 0)
                r = metrics_header(b, "upkeep_graph_refresh_failures_total", "counter",
                                   "Refreshes that failed (fetch, parse or validation); the last good graph "
                                   "kept serving.");
        for (size_t i = 0; r >= 0 && i < gs->n_streams; i++) {
                const char *labels[] = { "stream", gs->streams[i]->cfg->name, NULL };
                r = metrics_sample_u64(b, "upkeep_graph_refresh_failures_total", labels,
                                       LOAD(&gs->streams[i]->refresh_failures));
        }
        if (r >= 0)
                r = metrics_header(b, "upkeep_graph_refreshes_total", "counter", "Successful refreshes.");
        for (size_t i = 0; r >= 0 && i < gs->n_streams; i++) {
                const char *labels[] = { "stream", gs->streams[i]->cfg->name, NULL };
                r = metrics_sample_u64(b, "upkeep_graph_refreshes_total", labels,
                                       LOAD(&gs->streams[i]->refreshes));
        }
        return r;
}

static int write_cache(GraphStreams *gs, Buf *b)
{
        int r = metrics_header(b, "upkeep_graph_cache_lookups_total", "counter",
                               "Answers served from the cache (hit) or serialized anew (miss).");

        for (size_t i = 0; r >= 0 && i < gs->n_streams; i++) {
                StreamGraph *sg = stream_get(gs->streams[i]);
                uint64_t hits = 0, misses = 0;
                for (size_t v = 0; sg && v < sg->n_arches * _GRAPH_SCHEME_MAX; v++) {
                        hits += LOAD(&sg->views[v]->hits);
                        misses += LOAD(&sg->views[v]->misses);
                }
                stream_graph_unref(sg);
                const char *hl[] = { "stream", gs->streams[i]->cfg->name, "result", "hit", NULL };
                const char *ml[] = { "stream", gs->streams[i]->cfg->name, "result", "miss", NULL };
                r = metrics_sample_u64(b, "upkeep_graph_cache_lookups_total", hl, hits);
                if (r >= 0)
                        r = metrics_sample_u64(b, "upkeep_graph_cache_lookups_total", ml, misses);
        }
        return r;
}

int graph_metrics_write(GraphStreams *gs, Buf *out)
{
        int r;

        assert(gs);
        assert(out);
        r = write_requests(gs, out);
        if (r >= 0)
                r = write_sizes(gs, false, out);
        if (r >= 0)
                r = write_sizes(gs, true, out);
        if (r >= 0)
                r = write_refreshes(gs, out);
        if (r >= 0)
                r = metrics_header(out, "upkeep_graph_rollout_wariness", "histogram",
                                   "Rollout wariness of graph requests.");
        if (r >= 0)
                r = histogram_write(out, "upkeep_graph_rollout_wariness", NULL, &gs->wariness);
        if (r >= 0)
                r = write_cache(gs, out);
        if (r >= 0)
                r = metrics_header(out, "process_start_time_seconds", "gauge",
                                   "Start time of the process since unix epoch in seconds.");
        if (r >= 0)
                r = metrics_sample(out, "process_start_time_seconds", NULL, (double)gs->started_at);
        return r;
}
