/* graph-stream.c — the streams' current graphs, their update from fetched inputs, and their counters (see
 * graph-stream.h). */
#include "graph-stream.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph-metadata.h"
#include "siphash13.h"
#include "strutil.h"

static const unsigned status_codes[_GRAPH_STATUS_MAX] = {
        [GRAPH_STATUS_200] = 200, [GRAPH_STATUS_400] = 400, [GRAPH_STATUS_404] = 404,
        [GRAPH_STATUS_405] = 405, [GRAPH_STATUS_406] = 406, [GRAPH_STATUS_413] = 413,
        [GRAPH_STATUS_500] = 500, [GRAPH_STATUS_503] = 503, [GRAPH_STATUS_OTHER] = 0,
};

/* The buckets of the rollout wariness histogram. */
static const double wariness_bounds[] = { 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0 };

unsigned graph_status_code(GraphStatus s)
{
        assert(s < _GRAPH_STATUS_MAX);
        return status_codes[s];
}

void graph_count_status(uint64_t counters[static _GRAPH_STATUS_MAX], unsigned status)
{
        size_t i;

        for (i = 0; i < GRAPH_STATUS_OTHER && status_codes[i] != status; i++)
                ;
        __atomic_add_fetch(&counters[i], 1, __ATOMIC_RELAXED);
}

StreamGraph *stream_graph_ref(StreamGraph *g)
{
        if (g)
                __atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
        return g;
}

StreamGraph *stream_graph_unref(StreamGraph *g)
{
        if (!g || __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return NULL;
        for (size_t i = 0; i < g->n_arches * _GRAPH_SCHEME_MAX; i++)
                graph_view_free(g->views[i]);
        free(g->views);
        free(g);
        return NULL;
}

StreamGraph *stream_get(Stream *s)
{
        StreamGraph *g;

        pthread_mutex_lock(&s->lock);
        g = stream_graph_ref(s->current);
        pthread_mutex_unlock(&s->lock);
        return g;
}

static int stream_graph_build(const GraphStreamConfig *cfg, size_t max_answers, const ReleaseIndex *ri,
                              const UpdateMetadata *um, StreamGraph **ret, Error *e)
{
        StreamGraph *sg = calloc(1, sizeof(*sg));
        int r = 0;

        if (!sg || !(sg->views = calloc(cfg->n_basearches * _GRAPH_SCHEME_MAX, sizeof(GraphView *)))) {
                free(sg);
                return -ENOMEM;
        }
        sg->refs = 1;
        sg->n_arches = cfg->n_basearches;
        for (size_t a = 0; r >= 0 && a < cfg->n_basearches; a++)
                for (GraphScheme scheme = 0; r >= 0 && scheme < _GRAPH_SCHEME_MAX; scheme++) {
                        Graph *g = NULL;
                        r = graph_build(ri, um, cfg->basearches[a], scheme, &g, e);
                        if (r >= 0) {
                                r = graph_view_new(g, max_answers,
                                                   &sg->views[a * _GRAPH_SCHEME_MAX + scheme]);
                                if (r < 0)
                                        graph_free(g);
                        }
                }
        if (r < 0) {
                stream_graph_unref(sg);
                return r;
        }
        *ret = sg;
        return 0;
}

/* Parses both inputs, checks that they are this stream's, and builds its graphs. */
static int stream_build(const Stream *s, size_t max_answers, const char *rdata, size_t rlen,
                        const char *udata, size_t ulen, StreamGraph **ret, Error *e)
{
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        int r;

        r = release_index_parse(rdata, rlen, &ri, e);
        if (r < 0)
                return error_prefixf(e, r, "%s", s->releases);
        r = update_metadata_parse(udata, ulen, &um, e);
        if (r < 0) {
                release_index_free(ri);
                return error_prefixf(e, r, "%s", s->updates);
        }
        if (!streq(um->stream, s->cfg->name))
                r = error_setf(e, -EINVAL, "%s: update metadata is for stream '%s', not '%s'", s->updates,
                               um->stream, s->cfg->name);
        else if (ri->stream && !streq(ri->stream, s->cfg->name))
                r = error_setf(e, -EINVAL, "%s: release index is for stream '%s', not '%s'", s->releases,
                               ri->stream, s->cfg->name);
        else
                r = stream_graph_build(s->cfg, max_answers, ri, um, ret, e);
        release_index_free(ri);
        update_metadata_free(um);
        return r;
}

int stream_update(Stream *s, size_t max_answers, const char *rdata, size_t rlen, const char *udata,
                  size_t ulen, Error *e)
{
        StreamGraph *sg = NULL, *old;
        uint64_t h;
        int r;

        assert(s);
        assert(s->releases && s->updates);
        assert(rdata && udata);
        h = siphash13(siphash13(0, 0, rdata, rlen), rlen, udata, ulen);
        if (s->current && h == s->content_hash)
                return 0; /* nothing changed: keep the graphs and their cached answers */

        r = stream_build(s, max_answers, rdata, rlen, udata, ulen, &sg, e);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->lock);
        old = s->current;
        s->current = sg;
        pthread_mutex_unlock(&s->lock);
        stream_graph_unref(old);
        s->content_hash = h;
        return 1;
}

int graph_streams_init(GraphStreams *gs, const GraphConfig *config, int64_t now)
{
        int r;

        assert(gs);
        assert(config);
        *gs = (GraphStreams){
                .n_streams = config->n_streams,
                .started_at = now,
        };
        r = histogram_init(&gs->wariness, wariness_bounds, ELEMENTSOF(wariness_bounds));
        if (r < 0)
                return r;
        gs->streams = calloc(config->n_streams + 1, sizeof(Stream));
        if (!gs->streams)
                return -ENOMEM;
        for (size_t i = 0; i < gs->n_streams; i++) {
                gs->streams[i].cfg = &config->streams[i];
                pthread_mutex_init(&gs->streams[i].lock, NULL);
        }
        return 0;
}

void graph_streams_done(GraphStreams *gs)
{
        for (size_t i = 0; gs->streams && i < gs->n_streams; i++) {
                Stream *s = &gs->streams[i];
                stream_graph_unref(s->current);
                free(s->releases);
                free(s->updates);
                pthread_mutex_destroy(&s->lock);
        }
        free(gs->streams);
        gs->streams = NULL;
        gs->n_streams = 0;
}

Stream *graph_streams_find(GraphStreams *gs, const char *name)
{
        Stream *found = NULL;

        for (size_t i = 0; i < gs->n_streams; i++)
                if (streq(gs->streams[i].cfg->name, name))
                        found = &gs->streams[i]; /* the last one, as before */
        return found;
}

size_t graph_streams_ready(GraphStreams *gs)
{
        size_t ready = 0;

        for (size_t i = 0; i < gs->n_streams; i++) {
                StreamGraph *sg = stream_get(&gs->streams[i]);
                ready += sg != NULL;
                stream_graph_unref(sg);
        }
        return ready;
}
