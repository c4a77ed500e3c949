/* upkeep-graph.c — the update-graph server. Reads each stream's release index and update metadata
 * (local files or URLs), builds the graph for every configured basearch, and answers
 * GET /v1/graph with the edges the asking node may take now, from cached bytes. Refreshes on an
 * interval, on SIGHUP and when a local file changes; a broken input never replaces a good graph. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon-util.h"
#include "fileio.h"
#include "graph-config.h"
#include "graph-query.h"
#include "graph-view.h"
#include "graph.h"
#include "http-client.h"
#include "http-server.h"
#include "log.h"
#include "metrics.h"
#include "siphash13.h"
#include "source.h"
#include "strutil.h"

/* Status codes counted per stream; the last slot counts anything else. */
static const unsigned counted_status[] = { 200, 400, 404, 405, 406, 413, 500, 503, 0 };
#define N_STATUS ELEMENTSOF(counted_status)

typedef struct StreamGraph {
        unsigned long refs; /* atomic */
        size_t n_arches;
        GraphView **views; /* [arch * 2 + scheme] */
        int64_t built_at;
} StreamGraph;

typedef struct Stream {
        const GraphStreamConfig *cfg;
        char *releases; /* resolved: absolute path or URL */
        char *updates;
        pthread_mutex_t lock;
        StreamGraph *current; /* guarded by lock */
        uint64_t content_hash;
        bool dirty;
        /* Metrics: written by the main thread or request threads with atomics. */
        int64_t last_refresh;
        uint64_t refreshes, refresh_failures;
        uint64_t requests[N_STATUS];
} Stream;

typedef struct Manager {
        GraphConfig *config;
        Stream *streams;
        size_t n_streams;
        uint64_t other_requests[N_STATUS]; /* /v1/graph requests naming no known stream */
        Histogram wariness;
        HttpServer *server;
        HttpClient *client;
        int64_t started_at;
} Manager;

static StreamGraph *stream_graph_ref(StreamGraph *g)
{
        if (g)
                __atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
        return g;
}

static StreamGraph *stream_graph_unref(StreamGraph *g)
{
        if (!g || __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return NULL;
        for (size_t i = 0; i < g->n_arches * 2; i++)
                graph_view_free(g->views[i]);
        free(g->views);
        free(g);
        return NULL;
}

static StreamGraph *stream_get(Stream *s)
{
        StreamGraph *g;
        pthread_mutex_lock(&s->lock);
        g = stream_graph_ref(s->current);
        pthread_mutex_unlock(&s->lock);
        return g;
}

static void count_status(uint64_t *counters, unsigned status)
{
        size_t i;
        for (i = 0; i < N_STATUS - 1 && counted_status[i] != status; i++)
                ;
        __atomic_add_fetch(&counters[i], 1, __ATOMIC_RELAXED);
}

/* ---- refresh ---- */

static int build_stream_graph(Manager *m, Stream *s, const ReleaseIndex *ri, const UpdateMetadata *um,
                              StreamGraph **ret, Error *e)
{
        StreamGraph *sg = calloc(1, sizeof(*sg));
        int r = 0;

        if (!sg || !(sg->views = calloc(s->cfg->n_basearches * 2, sizeof(GraphView *)))) {
                free(sg);
                return -ENOMEM;
        }
        sg->refs = 1;
        sg->n_arches = s->cfg->n_basearches;
        for (size_t a = 0; r >= 0 && a < s->cfg->n_basearches; a++)
                for (int scheme = 0; r >= 0 && scheme < 2; scheme++) {
                        Graph *g = NULL;
                        r = graph_build(ri, um, s->cfg->basearches[a], (GraphScheme)scheme, &g, e);
                        if (r >= 0) {
                                r = graph_view_new(g, m->config->max_cached_answers,
                                                   &sg->views[a * 2 + scheme]);
                                if (r < 0)
                                        graph_free(g);
                        }
                }
        if (r < 0) {
                stream_graph_unref(sg);
                return r;
        }
        sg->built_at = time(NULL);
        *ret = sg;
        return 0;
}

static int refresh_stream(Manager *m, Stream *s, Error *e)
{
        _cleanup_free_ char *rdata = NULL, *udata = NULL;
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        StreamGraph *sg = NULL, *old;
        size_t rlen, ulen;
        uint64_t h;
        int r;

        r = source_fetch(s->releases, m->client, m->config->max_document_bytes, &rdata, &rlen, e);
        if (r < 0)
                return r;
        r = source_fetch(s->updates, m->client, m->config->max_document_bytes, &udata, &ulen, e);
        if (r < 0)
                return r;

        h = siphash13(siphash13(0, 0, rdata, rlen), rlen, udata, ulen);
        if (s->current && h == s->content_hash)
                return 0; /* nothing changed: keep the graph and its cached answers */

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
                r = build_stream_graph(m, s, ri, um, &sg, e);
        release_index_free(ri);
        update_metadata_free(um);
        if (r < 0)
                return r;

        pthread_mutex_lock(&s->lock);
        old = s->current;
        s->current = sg;
        pthread_mutex_unlock(&s->lock);
        stream_graph_unref(old);
        s->content_hash = h;

        for (size_t a = 0; a < sg->n_arches; a++) {
                const Graph *g = sg->views[a * 2]->graph;
                if (g->n_nodes)
                        log_info("stream %s/%s: graph with %zu nodes, %zu edges, %zu rollouts", s->cfg->name,
                                 s->cfg->basearches[a], g->n_nodes, g->n_edges, g->n_rollouts);
        }
        return 0;
}

static void refresh_all(Manager *m, bool only_dirty)
{
        size_t ready = 0;

        for (size_t i = 0; i < m->n_streams; i++) {
                Stream *s = &m->streams[i];
                Error e = { { 0 } };
                int r;

                if (only_dirty && !s->dirty)
                        continue;
                s->dirty = false;
                r = refresh_stream(m, s, &e);
                if (r < 0) {
                        __atomic_add_fetch(&s->refresh_failures, 1, __ATOMIC_RELAXED);
                        if (s->current)
                                log_error("stream %s: refresh failed, keeping the last good graph: %s",
                                          s->cfg->name, e.message);
                        else
                                log_error("stream %s: refresh failed, no graph to serve yet: %s",
                                          s->cfg->name, e.message);
                } else {
                        __atomic_add_fetch(&s->refreshes, 1, __ATOMIC_RELAXED);
                        __atomic_store_n(&s->last_refresh, (int64_t)time(NULL), __ATOMIC_RELAXED);
                }
        }
        for (size_t i = 0; i < m->n_streams; i++)
                ready += m->streams[i].current != NULL;
        daemon_notifyf("STATUS=serving %zu of %zu streams; last refresh %lld", ready, m->n_streams,
                       (long long)time(NULL));
}

/* ---- requests ---- */

static int reply_metrics(Manager *m, HttpReply *reply)
{
        Buf b = BUF_INIT(4u << 20);
        char code[16];
        int r;

        r = metrics_header(&b, "upkeep_graph_requests_total", "counter",
                           "Requests to /v1/graph by stream and HTTP status.");
        for (size_t i = 0; r >= 0 && i <= m->n_streams; i++) {
                uint64_t *c = i < m->n_streams ? m->streams[i].requests : m->other_requests;
                const char *name = i < m->n_streams ? m->streams[i].cfg->name : "_other";
                for (size_t k = 0; r >= 0 && k < N_STATUS; k++) {
                        uint64_t v = __atomic_load_n(&c[k], __ATOMIC_RELAXED);
                        const char *labels[] = { "stream", name, "code", code, NULL };
                        if (!v)
                                continue;
                        if (counted_status[k])
                                snprintf(code, sizeof(code), "%u", counted_status[k]);
                        else
                                strcpy(code, "other");
                        r = metrics_sample_u64(&b, "upkeep_graph_requests_total", labels, v);
                }
        }
        if (r >= 0)
                r = metrics_header(&b, "upkeep_graph_nodes", "gauge", "Nodes in the current graph.");
        for (size_t pass = 0; pass < 2; pass++) {
                if (pass == 1 && r >= 0)
                        r = metrics_header(&b, "upkeep_graph_edges", "gauge", "Edges in the current graph.");
                for (size_t i = 0; r >= 0 && i < m->n_streams; i++) {
                        Stream *s = &m->streams[i];
                        StreamGraph *sg = stream_get(s);
                        for (size_t a = 0; r >= 0 && sg && a < sg->n_arches; a++)
                                for (int sc = 0; r >= 0 && sc < 2; sc++) {
                                        const Graph *g = sg->views[a * 2 + sc]->graph;
                                        const char *labels[] = { "stream",   s->cfg->name,
                                                                 "basearch", s->cfg->basearches[a],
                                                                 "scheme",   sc ? "oci" : "checksum",
                                                                 NULL };
                                        r = metrics_sample_u64(
                                                &b, pass ? "upkeep_graph_edges" : "upkeep_graph_nodes",
                                                labels, pass ? g->n_edges : g->n_nodes);
                                }
                        stream_graph_unref(sg);
                }
        }
        if (r >= 0)
                r = metrics_header(&b, "upkeep_graph_last_refresh_timestamp_seconds", "gauge",
                                   "When each stream's inputs were last read successfully (unix time).");
        for (size_t i = 0; r >= 0 && i < m->n_streams; i++) {
                const char *labels[] = { "stream", m->streams[i].cfg->name, NULL };
                r = metrics_sample(&b, "upkeep_graph_last_refresh_timestamp_seconds", labels,
                                   (double)__atomic_load_n(&m->streams[i].last_refresh, __ATOMIC_RELAXED));
        }
        if (r >= 0)
                r = metrics_header(
                        &b, "upkeep_graph_refresh_failures_total", "counter",
                        "Refreshes that failed (fetch, parse or validation); the last good graph kept "
                        "serving.");
        for (size_t i = 0; r >= 0 && i < m->n_streams; i++) {
                const char *labels[] = { "stream", m->streams[i].cfg->name, NULL };
                r = metrics_sample_u64(&b, "upkeep_graph_refresh_failures_total", labels,
                                       __atomic_load_n(&m->streams[i].refresh_failures, __ATOMIC_RELAXED));
        }
        if (r >= 0)
                r = metrics_header(&b, "upkeep_graph_refreshes_total", "counter", "Successful refreshes.");
        for (size_t i = 0; r >= 0 && i < m->n_streams; i++) {
                const char *labels[] = { "stream", m->streams[i].cfg->name, NULL };
                r = metrics_sample_u64(&b, "upkeep_graph_refreshes_total", labels,
                                       __atomic_load_n(&m->streams[i].refreshes, __ATOMIC_RELAXED));
        }
        if (r >= 0)
                r = metrics_header(&b, "upkeep_graph_rollout_wariness", "histogram",
                                   "Rollout wariness of graph requests.");
        if (r >= 0)
                r = histogram_write(&b, "upkeep_graph_rollout_wariness", NULL, &m->wariness);
        if (r >= 0)
                r = metrics_header(&b, "upkeep_graph_cache_lookups_total", "counter",
                                   "Answers served from the cache (hit) or serialized anew (miss).");
        for (size_t i = 0; r >= 0 && i < m->n_streams; i++) {
                StreamGraph *sg = stream_get(&m->streams[i]);
                uint64_t hits = 0, misses = 0;
                for (size_t a = 0; sg && a < sg->n_arches * 2; a++) {
                        hits += __atomic_load_n(&sg->views[a]->hits, __ATOMIC_RELAXED);
                        misses += __atomic_load_n(&sg->views[a]->misses, __ATOMIC_RELAXED);
                }
                stream_graph_unref(sg);
                const char *hl[] = { "stream", m->streams[i].cfg->name, "result", "hit", NULL };
                const char *ml[] = { "stream", m->streams[i].cfg->name, "result", "miss", NULL };
                r = metrics_sample_u64(&b, "upkeep_graph_cache_lookups_total", hl, hits);
                if (r >= 0)
                        r = metrics_sample_u64(&b, "upkeep_graph_cache_lookups_total", ml, misses);
        }
        if (r >= 0)
                r = metrics_header(&b, "process_start_time_seconds", "gauge",
                                   "Start time of the process since unix epoch in seconds.");
        if (r >= 0)
                r = metrics_sample(&b, "process_start_time_seconds", NULL, (double)m->started_at);
        if (r < 0) {
                buf_free(&b);
                return r;
        }
        reply->status = 200;
        reply->content_type = METRICS_CONTENT_TYPE;
        reply->owned = buf_steal(&b, &reply->owned_len);
        return reply->owned ? 0 : -ENOMEM;
}

static int reply_graph(Manager *m, const HttpRequest *req, HttpReply *reply)
{
        GraphQuery q = { 0 };
        GraphQueryError kind;
        StreamGraph *sg = NULL;
        Stream *s = NULL;
        uint64_t *counters = m->other_requests;
        Error e = { { 0 } };
        char msg[600];
        Blob *blob;
        double w;
        size_t a;
        int r;

        if (!accept_allows_json(http_request_header(req, "Accept"))) {
                r = http_reply_error(reply, 406, "invalid_content_type",
                                     "this server only answers application/json");
                goto done;
        }
        r = graph_query_parse(req->query, &q, &kind, &e);
        if (r == -ENOMEM)
                goto done;
        if (r < 0) {
                r = http_reply_error(reply, 400,
                                     kind == GRAPH_QUERY_MISSING ? "missing_params" : "invalid_params",
                                     e.message);
                goto done;
        }
        for (size_t i = 0; i < m->n_streams; i++)
                if (streq(m->streams[i].cfg->name, q.stream))
                        s = &m->streams[i];
        if (!s) {
                snprintf(msg, sizeof(msg), "unknown stream '%s'", q.stream);
                r = http_reply_error(reply, 404, "does_not_exist", msg);
                goto done;
        }
        counters = s->requests;
        for (a = 0; a < s->cfg->n_basearches && !streq(s->cfg->basearches[a], q.basearch); a++)
                ;
        if (a == s->cfg->n_basearches) {
                snprintf(msg, sizeof(msg), "unknown basearch '%s' for stream '%s'", q.basearch, q.stream);
                r = http_reply_error(reply, 404, "does_not_exist", msg);
                goto done;
        }
        sg = stream_get(s);
        if (!sg) {
                snprintf(msg, sizeof(msg), "no graph loaded yet for stream '%s'", q.stream);
                r = http_reply_error(reply, 503, "graph_unavailable", msg);
                goto done;
        }
        w = q.has_wariness ? q.wariness
                           : wariness_from_uuid(q.node_uuid ? q.node_uuid : "",
                                                q.node_uuid ? strlen(q.node_uuid) : 0);
        histogram_observe(&m->wariness, w);
        r = graph_view_answer(sg->views[a * 2 + (q.oci ? 1 : 0)], w, (int64_t)time(NULL), &blob);
        if (r >= 0) {
                reply->status = 200;
                reply->content_type = "application/json";
                reply->blob = blob;
        }
done:
        stream_graph_unref(sg);
        graph_query_done(&q);
        if (r >= 0)
                count_status(counters, reply->status);
        return r;
}

static int handle(void *userdata, const HttpRequest *req, HttpReply *reply)
{
        Manager *m = userdata;
        bool get = streq(req->method, "GET") || streq(req->method, "HEAD");

        if (streq(req->path, "/v1/graph")) {
                if (!get) {
                        count_status(m->other_requests, 405);
                        http_reply_add_header(reply, "Allow", "GET, HEAD");
                        return http_reply_error(reply, 405, "method_not_allowed", "use GET");
                }
                return reply_graph(m, req, reply);
        }
        if (streq(req->path, "/metrics") || streq(req->path, "/healthz") || streq(req->path, "/readyz")) {
                if (!get) {
                        http_reply_add_header(reply, "Allow", "GET, HEAD");
                        return http_reply_error(reply, 405, "method_not_allowed", "use GET");
                }
                if (streq(req->path, "/metrics"))
                        return reply_metrics(m, reply);
                if (streq(req->path, "/readyz")) {
                        char missing[512] = "";
                        for (size_t i = 0; i < m->n_streams; i++) {
                                StreamGraph *sg = stream_get(&m->streams[i]);
                                if (!sg && strlen(missing) + strlen(m->streams[i].cfg->name) + 3 <
                                                   sizeof(missing)) {
                                        strcat(missing, *missing ? ", " : "");
                                        strcat(missing, m->streams[i].cfg->name);
                                }
                                stream_graph_unref(sg);
                        }
                        if (*missing) {
                                char msg[600];
                                snprintf(msg, sizeof(msg), "streams without a graph: %s", missing);
                                return http_reply_error(reply, 503, "not_ready", msg);
                        }
                }
                reply->status = 200;
                reply->content_type = "application/json";
                reply->owned = strdup("{\"status\":\"ok\"}");
                reply->owned_len = reply->owned ? strlen(reply->owned) : 0;
                return reply->owned ? 0 : -ENOMEM;
        }
        return http_reply_error(reply, 404, "not_found", "no such endpoint");
}

/* ---- setup and main loop ---- */

static int resolve_source(const char *spec, const char *config_dir, char **ret)
{
        char buf[PATH_MAX];
        if (source_is_url(spec) || spec[0] == '/' || !config_dir)
                *ret = strdup(spec);
        else {
                if (snprintf(buf, sizeof(buf), "%s/%s", config_dir, spec) >= (int)sizeof(buf))
                        return -ENAMETOOLONG;
                *ret = strdup(buf);
        }
        return *ret ? 0 : -ENOMEM;
}

static int load_config(const char *path, bool explicit_path, GraphConfig **ret, char **ret_dir)
{
        _cleanup_free_ char *data = NULL;
        char **warnings = NULL;
        Error e = { { 0 } };
        size_t len;
        int r;

        r = daemon_read_config(path, explicit_path, &data, &len);
        if (r < 0)
                return r;
        if (r == 0) {
                *ret_dir = NULL;
                return graph_config_default(ret);
        }
        r = graph_config_parse(data, len, path, ret, &warnings, &e);
        if (r < 0)
                return log_error_errno(r, "%s", e.message);
        daemon_log_warnings(warnings);
        {
                char *copy = strdup(path);
                if (!copy)
                        return -ENOMEM;
                *ret_dir = strdup(dirname(copy));
                free(copy);
        }
        return 0;
}

/* Watches the directories of local sources; returns the inotify fd or -1. */
static int setup_inotify(Manager *m)
{
        int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0)
                return -1;
        for (size_t i = 0; i < m->n_streams; i++) {
                const char *files[] = { m->streams[i].releases, m->streams[i].updates };
                for (size_t k = 0; k < 2; k++) {
                        char *copy;
                        if (source_is_url(files[k]) || !(copy = strdup(files[k])))
                                continue;
                        if (inotify_add_watch(fd, dirname(copy),
                                              IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
                                                      IN_MOVED_FROM) < 0)
                                log_warning(
                                        "cannot watch %s for changes (%m); relying on the refresh interval",
                                        files[k]);
                        free(copy);
                }
        }
        return fd;
}

/* Marks streams whose local files were named by inotify events; returns whether any was. */
static bool drain_inotify(Manager *m, int fd)
{
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool any = false;
        ssize_t n;

        while ((n = read(fd, buf, sizeof(buf))) > 0)
                for (char *p = buf; p < buf + n;) {
                        struct inotify_event *ev = (struct inotify_event *)p;
                        if (ev->len)
                                for (size_t i = 0; i < m->n_streams; i++) {
                                        const char *files[] = { m->streams[i].releases,
                                                                m->streams[i].updates };
                                        for (size_t k = 0; k < 2; k++) {
                                                const char *base = strrchr(files[k], '/');
                                                base = base ? base + 1 : files[k];
                                                if (!source_is_url(files[k]) && streq(base, ev->name)) {
                                                        m->streams[i].dirty = true;
                                                        any = true;
                                                }
                                        }
                                }
                        p += sizeof(struct inotify_event) + ev->len;
                }
        return any;
}

static void arm_timer(int fd, unsigned long ms, unsigned long interval_ms)
{
        struct itimerspec its = {
                .it_value = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L },
                .it_interval = { (time_t)(interval_ms / 1000), (long)(interval_ms % 1000) * 1000000L },
        };
        timerfd_settime(fd, 0, &its, NULL);
}

static int graph_option(int val, const char *arg, void *userdata)
{
        *(bool *)userdata = true; /* --check-config, the only one */
        return 0;
}

int main(int argc, char **argv)
{
        static const DaemonHelp help = {
                .name = "upkeep-graph",
                .description = "The Upkeep update-graph server (Cincinnati protocol).",
                .default_config = GRAPH_CONFIG_DEFAULT_PATH,
                .extra = "      --check-config     parse the configuration and the inputs, print a summary, "
                         "exit\n",
        };
        static const struct option extra[] = {
                { "check-config", no_argument, NULL, 0x100 },
        };
        static const double wbounds[] = { 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0 };
        bool check_only = false;
        _cleanup_free_ char *config_dir = NULL;
        _cleanup_close_ int sfd = -EBADF, tfd = -EBADF, dfd = -EBADF, ifd = -EBADF, efd = -EBADF;
        DaemonOptions opt;
        Manager m = { 0 };
        HttpClientOptions copts = { 0 };
        Error e = { { 0 } };
        int r, exit_code = EXIT_FAILURE;

        daemon_seed_hash_keys();
        r = daemon_parse_options(argc, argv, &help, extra, ELEMENTSOF(extra), graph_option, &check_only,
                                 &opt);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        sfd = daemon_signalfd();
        if (sfd < 0)
                return log_error_errno(sfd, "signalfd: %m"), EXIT_FAILURE;

        r = load_config(opt.config_path, opt.explicit_config, &m.config, &config_dir);
        if (r < 0)
                return EXIT_FAILURE;
        if (opt.address) {
                free(m.config->address);
                m.config->address = strdup(opt.address);
        }
        if (opt.port >= 0)
                m.config->port = (uint16_t)opt.port;

        m.started_at = time(NULL);
        histogram_init(&m.wariness, wbounds, ELEMENTSOF(wbounds));
        m.n_streams = m.config->n_streams;
        m.streams = calloc(m.n_streams, sizeof(Stream));
        if (!m.streams)
                goto out;
        for (size_t i = 0; i < m.n_streams; i++) {
                Stream *s = &m.streams[i];
                s->cfg = &m.config->streams[i];
                pthread_mutex_init(&s->lock, NULL);
                if (resolve_source(s->cfg->releases, config_dir, &s->releases) < 0 ||
                    resolve_source(s->cfg->updates, config_dir, &s->updates) < 0)
                        goto out;
        }
        copts.connect_timeout_ms = 5000;
        copts.total_timeout_ms = m.config->fetch_timeout_secs * 1000;
        copts.max_body_bytes = m.config->max_document_bytes;
        r = http_client_new(&copts, &m.client);
        if (r < 0) {
                log_error_errno(r, "cannot set up the HTTP client: %s", strerror(-r));
                goto out;
        }

        if (check_only) {
                refresh_all(&m, false);
                for (size_t i = 0; i < m.n_streams; i++)
                        if (!m.streams[i].current)
                                goto out;
                printf("configuration and inputs OK: %zu streams\n", m.n_streams);
                exit_code = EXIT_SUCCESS;
                goto out;
        }

        HttpServerConfig scfg = {
                .address = m.config->address,
                .port = m.config->port,
                .threads = m.config->threads,
                .max_connections = m.config->max_connections,
                .idle_timeout_sec = m.config->idle_timeout_secs,
                .max_header_bytes = 4096,
                .max_body_bytes = 4096,
                .handler = handle,
                .userdata = &m,
        };
        r = http_server_start(&scfg, &m.server, &e);
        if (r < 0) {
                log_error("cannot listen on [%s]:%u: %s", m.config->address, m.config->port, e.message);
                goto out;
        }
        log_info("listening on [%s]:%u", m.config->address, http_server_port(m.server));
        if (opt.port_file && (r = daemon_write_port_file(opt.port_file, http_server_port(m.server))) < 0) {
                log_error_errno(r, "cannot write %s: %s", opt.port_file, strerror(-r));
                goto out;
        }

        /* First load; requests meanwhile get 503 for streams not loaded yet. */
        refresh_all(&m, false);
        daemon_notifyf("READY=1");

        efd = epoll_create1(EPOLL_CLOEXEC);
        tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        dfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        ifd = setup_inotify(&m);
        if (efd < 0 || tfd < 0 || dfd < 0) {
                log_error("cannot set up the event loop: %m");
                goto out;
        }
        arm_timer(tfd, m.config->refresh_interval_secs * 1000UL, m.config->refresh_interval_secs * 1000UL);
        {
                int fds[] = { sfd, tfd, dfd, ifd };
                for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fds[i] };
                        if (fds[i] >= 0 && epoll_ctl(efd, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
                                log_error("epoll: %m");
                                goto out;
                        }
                }
        }

        for (;;) {
                struct epoll_event evs[4];
                int n = epoll_wait(efd, evs, ELEMENTSOF(evs), -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error("epoll_wait: %m");
                        goto out;
                }
                for (int i = 0; i < n; i++) {
                        int fd = evs[i].data.fd;
                        uint64_t ticks;
                        if (fd == sfd) {
                                struct signalfd_siginfo si;
                                while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                        if (si.ssi_signo == SIGHUP) {
                                                log_info("SIGHUP: refreshing every stream");
                                                refresh_all(&m, false);
                                        } else {
                                                log_info("received %s, stopping",
                                                         strsignal((int)si.ssi_signo));
                                                daemon_notifyf("STOPPING=1\nSTATUS=stopping");
                                                exit_code = EXIT_SUCCESS;
                                                goto out;
                                        }
                                }
                        } else if (fd == tfd) {
                                while (read(tfd, &ticks, sizeof(ticks)) > 0)
                                        ;
                                refresh_all(&m, false);
                        } else if (fd == ifd) {
                                if (drain_inotify(&m, ifd))
                                        arm_timer(dfd, 100, 0); /* let a burst of writes settle */
                        } else if (fd == dfd) {
                                while (read(dfd, &ticks, sizeof(ticks)) > 0)
                                        ;
                                log_info("local input changed: refreshing");
                                refresh_all(&m, true);
                        }
                }
        }

out:
        http_server_stop(m.server, 5000);
        http_client_free(m.client);
        for (size_t i = 0; m.streams && i < m.n_streams; i++) {
                stream_graph_unref(m.streams[i].current);
                free(m.streams[i].releases);
                free(m.streams[i].updates);
                pthread_mutex_destroy(&m.streams[i].lock);
        }
        free(m.streams);
        graph_config_free(m.config);
        return exit_code;
}
