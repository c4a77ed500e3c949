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
#include "strv.h"

static const unsigned status_codes[_GRAPH_STATUS_MAX] = {
        [GRAPH_STATUS_200] = 200, [GRAPH_STATUS_204] = 204, [GRAPH_STATUS_304] = 304,
        [GRAPH_STATUS_400] = 400, [GRAPH_STATUS_404] = 404, [GRAPH_STATUS_405] = 405,
        [GRAPH_STATUS_406] = 406, [GRAPH_STATUS_413] = 413, [GRAPH_STATUS_500] = 500,
        [GRAPH_STATUS_503] = 503, [GRAPH_STATUS_OTHER] = 0,
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
        for (size_t i = 0; g->views && i < g->n_arches * _GRAPH_SCHEME_MAX; i++)
                graph_view_free(g->views[i]);
        free(g->views);
        strv_free(g->basearches);
        free(g);
        return NULL;
}

int stream_graph_find_arch(const StreamGraph *g, const char *basearch, size_t *ret)
{
        assert(g && basearch && ret);
        for (size_t a = 0; a < g->n_arches; a++)
                if (streq(g->basearches[a], basearch)) {
                        *ret = a;
                        return 0;
                }
        return -ENOENT;
}

StreamGraph *stream_get(Stream *s)
{
        StreamGraph *g;

        pthread_mutex_lock(&s->lock);
        g = stream_graph_ref(s->current);
        pthread_mutex_unlock(&s->lock);
        return g;
}

static int stream_graph_build(const Stream *s, size_t max_answers, const ReleaseIndex *ri,
                              const UpdateMetadata *um, StreamGraph **ret, Error *e)
{
        const GraphStreamConfig *cfg = s->cfg;
        StreamGraph *sg = calloc(1, sizeof(*sg));
        size_t n = 0;
        int r = 0;

        if (!sg)
                return -ENOMEM;
        sg->refs = 1;
        for (size_t a = 0; r >= 0 && a < cfg->n_basearches; a++)
                r = strv_push(&sg->basearches, &n, cfg->basearches[a]);
        if (r < 0 || !(sg->views = calloc(cfg->n_basearches * _GRAPH_SCHEME_MAX, sizeof(GraphView *)))) {
                stream_graph_unref(sg);
                return -ENOMEM;
        }
        sg->n_arches = cfg->n_basearches;
        for (size_t a = 0; r >= 0 && a < cfg->n_basearches; a++)
                for (GraphScheme scheme = 0; r >= 0 && scheme < _GRAPH_SCHEME_MAX; scheme++) {
                        Graph *g = NULL;
                        r = graph_build(ri, um, cfg->basearches[a], scheme, &g, e);
                        if (r >= 0)
                                graph_pauses_apply(s->pauses, s->n_pauses, cfg->name, g);
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
                        const char *udata, size_t ulen, StreamGraph **ret, char ***ret_warnings, Error *e)
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
                r = stream_graph_build(s, max_answers, ri, um, ret, e);
        if (r >= 0 && ret_warnings) {
                *ret_warnings = um->warnings;
                um->warnings = NULL;
        }
        release_index_free(ri);
        update_metadata_free(um);
        return r;
}

int stream_update(Stream *s, size_t max_answers, const char *rdata, size_t rlen, const char *udata,
                  size_t ulen, char ***ret_warnings, Error *e)
{
        StreamGraph *sg = NULL, *old;
        uint64_t h;
        int r;

        assert(s);
        assert(s->releases && s->updates);
        assert(rdata && udata);
        h = siphash13(siphash13(0, 0, rdata, rlen), rlen, udata, ulen);
        if (s->current && !s->stale && h == s->content_hash)
                return 0; /* nothing changed: keep the graphs and their cached answers */

        r = stream_build(s, max_answers, rdata, rlen, udata, ulen, &sg, ret_warnings, e);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->lock);
        old = s->current;
        s->current = sg;
        pthread_mutex_unlock(&s->lock);
        stream_graph_unref(old);
        s->content_hash = h;
        s->stale = false;
        return 1;
}

static Stream *stream_new(const GraphStreamConfig *cfg)
{
        Stream *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->cfg = cfg;
        pthread_mutex_init(&s->lock, NULL);
        return s;
}

static Stream *stream_free(Stream *s)
{
        if (!s)
                return NULL;
        stream_graph_unref(s->current);
        free(s->releases);
        free(s->updates);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}

int graph_streams_init(GraphStreams *gs, const GraphConfig *config, int64_t now)
{
        pthread_rwlockattr_t attr;
        int r;

        assert(gs);
        assert(config);
        *gs = (GraphStreams){
                .started_at = now,
        };
        /* Readers come and go all the time: without preference for the writer a reload could wait
         * forever. */
        pthread_rwlockattr_init(&attr);
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&gs->lock, &attr);
        pthread_rwlockattr_destroy(&attr);
        r = histogram_init(&gs->wariness, wariness_bounds, ELEMENTSOF(wariness_bounds));
        if (r < 0)
                return r;
        gs->streams = calloc(config->n_streams + 1, sizeof(Stream *));
        if (!gs->streams)
                return -ENOMEM;
        for (size_t i = 0; i < config->n_streams; i++) {
                gs->streams[i] = stream_new(&config->streams[i]);
                if (!gs->streams[i])
                        return -ENOMEM;
                gs->n_streams = i + 1;
        }
        return 0;
}

void graph_streams_done(GraphStreams *gs)
{
        for (size_t i = 0; gs->streams && i < gs->n_streams; i++)
                stream_free(gs->streams[i]);
        free(gs->streams);
        gs->streams = NULL;
        gs->n_streams = 0;
        pthread_rwlock_destroy(&gs->lock);
}

void graph_streams_read_lock(GraphStreams *gs)
{
        pthread_rwlock_rdlock(&gs->lock);
}

void graph_streams_read_unlock(GraphStreams *gs)
{
        pthread_rwlock_unlock(&gs->lock);
}

/* Moves the new settings into a kept stream (under the write lock). */
static void stream_reconfigure(Stream *s, const GraphStreamConfig *cfg, char **sources, bool all_stale)
{
        if (all_stale || !streq(s->releases, sources[0]) || !streq(s->updates, sources[1]) ||
            !strv_equal(s->cfg->basearches, s->cfg->n_basearches, cfg->basearches, cfg->n_basearches))
                s->stale = true;
        free(s->releases);
        free(s->updates);
        s->releases = TAKE_PTR(sources[0]);
        s->updates = TAKE_PTR(sources[1]);
        s->cfg = cfg;
}

int graph_streams_reconfigure(GraphStreams *gs, const GraphConfig *config, char **sources, bool all_stale)
{
        _cleanup_free_ Stream **set = NULL, **old = NULL;
        size_t n_old;

        assert(gs && config && sources);
        set = calloc(config->n_streams + 1, sizeof(Stream *));
        old = calloc(gs->n_streams + 1, sizeof(Stream *));
        if (!set || !old)
                return -ENOMEM;
        /* Allocate first: past this point nothing fails. */
        for (size_t i = 0; i < config->n_streams; i++) {
                Stream *kept = graph_streams_find(gs, config->streams[i].name);
                if (!kept && !(set[i] = stream_new(&config->streams[i]))) {
                        for (size_t j = 0; j < i; j++)
                                if (!graph_streams_find(gs, config->streams[j].name))
                                        stream_free(set[j]);
                        return -ENOMEM;
                }
        }

        pthread_rwlock_wrlock(&gs->lock);
        n_old = gs->n_streams;
        memcpy(old, gs->streams, n_old * sizeof(Stream *));
        for (size_t i = 0; i < config->n_streams; i++) {
                Stream *kept = graph_streams_find(gs, config->streams[i].name);
                if (kept) {
                        stream_reconfigure(kept, &config->streams[i], sources + 2 * i, all_stale);
                        set[i] = kept;
                        for (size_t j = 0; j < n_old; j++)
                                if (old[j] == kept)
                                        old[j] = NULL;
                } else {
                        set[i]->releases = TAKE_PTR(sources[2 * i]);
                        set[i]->updates = TAKE_PTR(sources[2 * i + 1]);
                }
        }
        free(gs->streams);
        gs->streams = TAKE_PTR(set);
        gs->n_streams = config->n_streams;
        pthread_rwlock_unlock(&gs->lock);

        for (size_t j = 0; j < n_old; j++)
                stream_free(old[j]);
        return 0;
}

Stream *graph_streams_find(GraphStreams *gs, const char *name)
{
        Stream *found = NULL;

        for (size_t i = 0; i < gs->n_streams; i++)
                if (streq(gs->streams[i]->cfg->name, name))
                        found = gs->streams[i]; /* the last one, as before */
        return found;
}

size_t graph_streams_ready(GraphStreams *gs)
{
        size_t ready = 0;

        for (size_t i = 0; i < gs->n_streams; i++) {
                StreamGraph *sg = stream_get(gs->streams[i]);
                ready += sg != NULL;
                stream_graph_unref(sg);
        }
        return ready;
}
