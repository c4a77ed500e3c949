/* graph-status.c — GET /status: the snapshot gathered for the renderer, and upkeep-lock's groups fetched
 * on a thread of their own (see graph-status.h). */
#include "graph-status.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "graph-status-page.h"
#include "http-client.h"
#include "macros.h"
#include "strutil.h"
#include "time-util.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define TOKEN_FILE_MAX 4096

/* The fetcher of upkeep-lock's groups. Everything below lock is guarded by it; url, auth and client are
 * set before the thread starts and only the thread uses client. */
struct GraphStatusFetcher {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        pthread_t thread;
        bool stop;
        char *base; /* the configured URL, shown on the page */
        char *url;  /* base + /v1/groups */
        char *auth; /* "Authorization: Bearer ..." or NULL */
        HttpClient *client;
        /* The last fetch's result. */
        bool fetched, available;
        int64_t fetched_at; /* unix seconds of the last successful fetch */
        char error[ERROR_MESSAGE_MAX];
        GraphStatusLock data;
};

/* One GET of the groups: 0 with *ret filled, or a negative errno with err saying why. */
static int fetch_once(GraphStatusFetcher *f, GraphStatusLock *ret, char *err, size_t err_size)
{
        const char *headers[] = { f->auth, NULL };
        HttpResponse resp = { 0 };
        Error e = { { 0 } };
        char body[201];
        int r;

        r = http_client_request(f->client, "GET", f->url, headers, NULL, 0, &resp, &e);
        if (r < 0) {
                snprintf(err, err_size, "%s", e.message);
                return r;
        }
        if (resp.status != 200) {
                text_clean(body, sizeof(body), resp.body ? resp.body : "", resp.body ? resp.body_len : 0, 0);
                snprintf(err, err_size, "GET %s answered %ld: %s", f->url, resp.status, body);
                http_response_done(&resp);
                return -EPROTO;
        }
        r = graph_status_lock_parse(resp.body, resp.body_len, ret, &e);
        http_response_done(&resp);
        if (r < 0)
                snprintf(err, err_size, "GET %s: not upkeep-lock's groups: %s", f->url, e.message);
        return r;
}

static void *fetch_loop(void *userdata)
{
        GraphStatusFetcher *f = userdata;

        pthread_mutex_lock(&f->lock);
        while (!f->stop) {
                GraphStatusLock got = { 0 };
                char err[ERROR_MESSAGE_MAX] = "";
                struct timespec deadline;
                int r;

                pthread_mutex_unlock(&f->lock); /* the page shows the previous result meanwhile */
                r = fetch_once(f, &got, err, sizeof(err));
                pthread_mutex_lock(&f->lock);
                f->fetched = true;
                f->available = r >= 0;
                if (r >= 0) {
                        graph_status_lock_done(&f->data);
                        f->data = got;
                        f->fetched_at = now_unix();
                        f->error[0] = 0;
                } else
                        snprintf(f->error, sizeof(f->error), "%s", err);
                deadline = timespec_from_nsec(now_nsec(CLOCK_MONOTONIC) +
                                              (uint64_t)GRAPH_STATUS_LOCK_CACHE_SECS * NSEC_PER_SEC);
                while (!f->stop && pthread_cond_timedwait(&f->wake, &f->lock, &deadline) != ETIMEDOUT)
                        ;
        }
        pthread_mutex_unlock(&f->lock);
        return NULL;
}

/* "Authorization: Bearer <the file's token>" into *ret. */
static int read_auth(const char *path, char **ret, Error *warn, Error *e)
{
        _cleanup_free_ char *token = NULL;
        int r = read_token_file(path, TOKEN_FILE_MAX, &token, warn, e);

        if (r < 0)
                return error_prefixf(e, r, "status.lock_admin_token_file");
        if (asprintf(ret, "Authorization: Bearer %s", token) < 0)
                return -ENOMEM;
        return r;
}

static int fetcher_setup(GraphStatusFetcher *f, const GraphConfig *config, Error *warn, Error *e)
{
        const char *u = config->status_lock_admin_url;
        size_t n = strlen(u);
        HttpClientOptions o = { .connect_timeout_ms = GRAPH_STATUS_LOCK_TIMEOUT_MS,
                                .total_timeout_ms = GRAPH_STATUS_LOCK_TIMEOUT_MS,
                                .max_body_bytes = GRAPH_STATUS_LOCK_MAX_ANSWER,
                                .max_redirects = -1,
                                .no_proxy = true };
        int r, w = 0;

        /* the URL was checked with the configuration (graph-config.c) */
        while (n > 0 && u[n - 1] == '/')
                n--;
        if (!(f->base = strndup(u, n)) || asprintf(&f->url, "%s/v1/groups", f->base) < 0) {
                f->url = NULL;
                return -ENOMEM;
        }
        if (config->status_lock_admin_token_file &&
            (w = read_auth(config->status_lock_admin_token_file, &f->auth, warn, e)) < 0)
                return w;
        r = http_client_new(&o, &f->client);
        if (r < 0)
                return error_setf(e, r, "status.lock_admin_url: cannot set up the HTTP client: %m");
        return w; /* 1: warn says others may read the token file */
}

static void fetcher_free(GraphStatusFetcher *f)
{
        if (!f)
                return;
        http_client_free(f->client);
        free(f->base);
        free(f->url);
        free(f->auth);
        graph_status_lock_done(&f->data);
        pthread_mutex_destroy(&f->lock);
        free(f);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(GraphStatusFetcher *, fetcher_free);

int graph_status_fetcher_new(const GraphConfig *config, GraphStatusFetcher **ret, Error *warn, Error *e)
{
        _cleanup_(fetcher_freep) GraphStatusFetcher *f = NULL;
        pthread_condattr_t a;
        int r, w;

        assert(config && ret);
        if (!config->status_lock_admin_url) {
                *ret = NULL;
                return 0;
        }
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        pthread_mutex_init(&f->lock, NULL);
        w = fetcher_setup(f, config, warn, e);
        if (w < 0)
                return w;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&f->wake, &a);
        pthread_condattr_destroy(&a);
        r = -pthread_create(&f->thread, NULL, fetch_loop, f);
        if (r < 0) {
                pthread_cond_destroy(&f->wake);
                return error_setf(e, r, "cannot start the thread that fetches upkeep-lock's groups: %m");
        }
        *ret = TAKE_PTR(f);
        return w;
}

GraphStatusFetcher *graph_status_fetcher_free(GraphStatusFetcher *f)
{
        if (!f)
                return NULL;
        pthread_mutex_lock(&f->lock);
        f->stop = true;
        pthread_cond_signal(&f->wake);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->thread, NULL);
        pthread_cond_destroy(&f->wake);
        fetcher_free(f);
        return NULL;
}

bool graph_status_path(const char *path)
{
        return streq(path, "/status") || streq(path, "/");
}

/* The streams as the page shows them; sgs[i] holds the reference to what streams[i].graph points into. */
static int gather_streams(GraphStreams *gs, GraphStatusStream *st, StreamGraph **sgs)
{
        for (size_t i = 0; i < gs->n_streams; i++) {
                Stream *s = gs->streams[i];
                StreamGraph *sg = stream_get(s);
                bool has = sg && sg->n_arches > 0;

                sgs[i] = sg;
                st[i] = (GraphStatusStream){
                        .name = s->cfg->name,
                        .basearch = has ? sg->basearches[0] : NULL,
                        .n_basearches = s->cfg->n_basearches,
                        .graph = has ? stream_graph_view(sg, 0, GRAPH_SCHEME_CHECKSUM)->graph : NULL,
                        .last_refresh = LOAD(&s->last_refresh),
                        .refreshes = LOAD(&s->refreshes),
                        .refresh_failures = LOAD(&s->refresh_failures),
                };
        }
        return 0;
}

/* Renders under the streams' read lock and the fetcher's lock (the fetch itself never holds it). */
static int render(const GraphService *svc, GraphStatusSnapshot *snap, int64_t now, Buf *out)
{
        GraphStreams *gs = svc->streams;
        _cleanup_free_ GraphStatusStream *st = NULL;
        _cleanup_free_ StreamGraph **sgs = NULL;
        GraphStatusFetcher *f = svc->status;
        int r;

        graph_streams_read_lock(gs);
        st = calloc(gs->n_streams + 1, sizeof(GraphStatusStream));
        sgs = calloc(gs->n_streams + 1, sizeof(StreamGraph *));
        if (!st || !sgs) {
                graph_streams_read_unlock(gs);
                return -ENOMEM;
        }
        gather_streams(gs, st, sgs);
        snap->streams = st;
        snap->n_streams = gs->n_streams;
        snap->started_at = gs->started_at;
        if (f) {
                pthread_mutex_lock(&f->lock);
                snap->lock = (GraphStatusLockView){ .configured = true,
                                                    .url = f->base,
                                                    .available = f->available,
                                                    .error = f->fetched ? f->error : NULL,
                                                    .fetched_at = f->fetched_at,
                                                    .lock = &f->data };
        }
        r = graph_status_page_render(snap, now, out);
        if (f)
                pthread_mutex_unlock(&f->lock);
        for (size_t i = 0; i < gs->n_streams; i++)
                stream_graph_unref(sgs[i]);
        graph_streams_read_unlock(gs);
        return r;
}

static int reply_page(const GraphService *svc, int64_t now, HttpReply *reply)
{
        _cleanup_free_ GraphPause *pauses = NULL;
        GraphReportCounts counts = { 0 };
        GraphStatusSnapshot snap = { .reports_enabled = svc->reports };
        Buf b = BUF_INIT(GRAPH_STATUS_PAGE_MAX_BYTES);
        int r = 0;

        if (svc->reports) {
                GraphReportStore *store = graph_report_service_store(svc->reports);
                r = graph_report_store_counts(store, &counts);
                if (r >= 0)
                        r = graph_report_store_pauses(store, &pauses, &snap.n_pauses);
                snap.counts = &counts;
                snap.pauses = pauses;
        }
        if (r >= 0)
                r = render(svc, &snap, now, &b);
        graph_report_counts_done(&counts);
        if (r < 0) {
                buf_free(&b);
                return r;
        }
        reply->status = 200;
        reply->content_type = "text/html; charset=utf-8";
        reply->owned = buf_steal(&b, &reply->owned_len);
        http_reply_add_header(reply, "Cache-Control", "no-store");
        http_reply_add_header(reply, "Content-Security-Policy",
                              "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                              "frame-ancestors 'none'");
        http_reply_add_header(reply, "X-Content-Type-Options", "nosniff");
        return reply->owned ? 0 : -ENOMEM;
}

int graph_status_handle(const GraphService *svc, const HttpRequest *req, int64_t now, HttpReply *reply)
{
        assert(svc && svc->streams && req && reply);
        if (!streq(req->method, "GET") && !streq(req->method, "HEAD")) {
                http_reply_add_header(reply, "Allow", "GET, HEAD");
                return http_reply_error(reply, 405, "method_not_allowed", "use GET");
        }
        if (streq(req->path, "/")) {
                http_reply_add_header(reply, "Location", "/status");
                http_reply_add_header(reply, "Cache-Control", "no-store");
                reply->status = 302;
                reply->content_type = "text/html; charset=utf-8";
                reply->owned = strdup("<a href=\"/status\">/status</a>\n");
                reply->owned_len = reply->owned ? strlen(reply->owned) : 0;
                return reply->owned ? 0 : -ENOMEM;
        }
        return reply_page(svc, now, reply);
}
