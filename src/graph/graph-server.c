/* graph-server.c — upkeep-graph's HTTP endpoints (see graph-server.h). */
#include "graph-server.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "graph-admin.h"
#include "graph-metrics.h"
#include "graph-query.h"
#include "graph-report.h"
#include "graph-status.h"
#include "macros.h"
#include "strutil.h"
#include "time-util.h"

#define GRAPH_SERVER_MAX_HEADER_BYTES 4096
#define GRAPH_SERVER_MAX_BODY_BYTES GRAPH_REPORT_MAX_BODY_BYTES

/* The end of the list element that starts at p: the next ',' or the end of the string. */
static const char *element_end(const char *p)
{
        return p + strcspn(p, ",");
}

static const char *skip_space(const char *p)
{
        return p + strspn(p, " \t");
}

bool graph_etag_matches(const char *if_none_match, const char *etag)
{
        const char *p, *end, *close;
        size_t n;

        assert(etag);
        if (!if_none_match)
                return false;
        if (startswith(etag, "W/"))
                etag += 2;
        n = strlen(etag);
        for (p = if_none_match; *p; p = *end ? end + 1 : end) {
                p = skip_space(p);
                end = element_end(p);
                if (*p == '*' && skip_space(p + 1) == end)
                        return true;
                if (startswith(p, "W/"))
                        p += 2;
                if (*p != '"' || !(close = memchr(p + 1, '"', (size_t)(end - p - 1))))
                        continue; /* not an entity tag */
                if ((size_t)(close + 1 - p) == n && memcmp(p, etag, n) == 0)
                        return true;
        }
        return false;
}

/* Whether the parameters of a list element, p to end (";q=0.5", say), leave its q-value above 0. */
static bool q_positive(const char *p, const char *end)
{
        while ((p = memchr(p, ';', (size_t)(end - p)))) {
                p = skip_space(p + 1);
                if ((*p == 'q' || *p == 'Q') && *skip_space(p + 1) == '=') {
                        for (p = skip_space(skip_space(p + 1) + 1); p < end && strchr("0123456789.", *p);
                             p++)
                                if (*p >= '1' && *p <= '9')
                                        return true;
                        return false;
                }
        }
        return true; /* no q: 1 */
}

bool graph_accepts_gzip(const char *accept_encoding)
{
        int gzip = -1, any = -1; /* -1: not listed, else whether the q-value is above 0 */
        const char *p, *end;
        size_t n;

        if (!accept_encoding)
                return false;
        for (p = accept_encoding; *p; p = *end ? end + 1 : end) {
                p = skip_space(p);
                end = element_end(p);
                n = strcspn(p, ",; \t");
                if ((n == 4 && strncasecmp(p, "gzip", 4) == 0) ||
                    (n == 6 && strncasecmp(p, "x-gzip", 6) == 0))
                        gzip = q_positive(p, end);
                else if (n == 1 && *p == '*')
                        any = q_positive(p, end);
        }
        return gzip >= 0 ? gzip : any > 0;
}

Blob *graph_answer_gzip(const Blob *answer)
{
        _cleanup_free_ unsigned char *out = NULL;
        const char *etag = graph_answer_etag(answer);
        char gz_etag[GRAPH_ETAG_MAX];
        z_stream z = { 0 };
        size_t cap;
        int r;

        if (strlen(etag) < 2 || strlen(etag) + 3 >= sizeof(gz_etag))
                return NULL;
        snprintf(gz_etag, sizeof(gz_etag), "%.*s-gz\"", (int)strlen(etag) - 1, etag);
        if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return NULL;
        cap = deflateBound(&z, answer->len);
        out = malloc(cap);
        if (!out) {
                deflateEnd(&z);
                return NULL;
        }
        z.next_in = (unsigned char *)answer->data;
        z.avail_in = (uInt)answer->len;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        r = deflate(&z, Z_FINISH);
        deflateEnd(&z);
        if (r != Z_STREAM_END)
                return NULL;
        return graph_answer_new(out, z.total_out, gz_etag);
}

/* A graph answer: its ETag and encoding, or 304 without a body when the client has it already. The
 * ETag's text lives in the blob that the reply carries. */
static int reply_answer(const GraphRequest *req, Blob *blob, bool gzip, HttpReply *reply)
{
        const char *etag = graph_answer_etag(blob);

        if (graph_etag_matches(req->if_none_match, etag)) {
                /* The answer's bytes are not sent with a 304, but its Content-Length is: a 304 may only
                 * carry the length the 200 would have (RFC 9110, 8.6). */
                reply->status = 304;
                reply->blob = blob;
                http_reply_add_header(reply, "ETag", etag);
                http_reply_add_header(reply, "Vary", "Accept-Encoding");
                return 0;
        }
        reply->status = 200;
        reply->content_type = "application/json";
        reply->blob = blob;
        http_reply_add_header(reply, "ETag", etag);
        http_reply_add_header(reply, "Vary", "Accept-Encoding");
        if (gzip)
                http_reply_add_header(reply, "Content-Encoding", "gzip");
        return 0;
}

/* The reply to a request for the graph of a stream that exists: 200 with the cached answer, or the
 * 404 and 503 of an unknown basearch and a stream not loaded yet. */
static int reply_stream_graph(GraphStreams *gs, Stream *s, const GraphQuery *q, const GraphRequest *req,
                              HttpReply *reply)
{
        _cleanup_free_ bool *canary_hidden = NULL;
        int64_t now = req->now;
        GraphView *v;
        StreamGraph *sg;
        char msg[600];
        Blob *blob;
        bool gzip;
        double w;
        size_t a;
        int r;

        for (a = 0; a < s->cfg->n_basearches && !streq(s->cfg->basearches[a], q->basearch); a++)
                ;
        if (a == s->cfg->n_basearches) {
                snprintf(msg, sizeof(msg), "unknown basearch '%s' for stream '%s'", q->basearch, q->stream);
                return http_reply_error(reply, 404, "does_not_exist", msg);
        }
        sg = stream_get(s);
        /* Just after a reload added the basearch, the stream may still serve the graphs of before. */
        if (!sg || stream_graph_find_arch(sg, q->basearch, &a) < 0) {
                stream_graph_unref(sg);
                snprintf(msg, sizeof(msg), "no graph loaded yet for stream '%s'", q->stream);
                return http_reply_error(reply, 503, "graph_unavailable", msg);
        }
        w = q->has_wariness ? q->wariness
                            : wariness_from_uuid(q->node_uuid ? q->node_uuid : "",
                                                 q->node_uuid ? strlen(q->node_uuid) : 0);
        histogram_observe(&gs->wariness, w);
        v = stream_graph_view(sg, a, q->oci ? GRAPH_SCHEME_OCI : GRAPH_SCHEME_CHECKSUM);
        if (req->reports && v->graph->n_rollouts > 0) { /* a canary phase may keep rollouts from it */
                canary_hidden = calloc(v->graph->n_rollouts, sizeof(bool));
                if (!canary_hidden) {
                        stream_graph_unref(sg);
                        return -ENOMEM;
                }
                graph_report_service_canary(req->reports, q->stream, v->graph, q->node_uuid, w, now,
                                            canary_hidden);
        }
        gzip = graph_accepts_gzip(req->accept_encoding);
        r = graph_view_answer_hiding(v, w, now, canary_hidden, gzip ? graph_answer_gzip : NULL, &blob);
        if (r >= 0)
                r = reply_answer(req, blob, gzip, reply);
        stream_graph_unref(sg);
        return r;
}

/* A CORS preflight (or any OPTIONS) of /v1/graph: any origin may GET it, as fedora-coreos-cincinnati
 * allows. The requested headers are allowed as asked; the request outlives the reply's headers. */
static int reply_options(const GraphRequest *req, HttpReply *reply)
{
        reply->status = 204;
        http_reply_add_header(reply, "Access-Control-Allow-Origin", "*");
        http_reply_add_header(reply, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
        if (req->cors_request_headers)
                http_reply_add_header(reply, "Access-Control-Allow-Headers", req->cors_request_headers);
        http_reply_add_header(reply, "Access-Control-Max-Age", "86400");
        return 0;
}

static int reply_graph(GraphStreams *gs, const GraphRequest *req, HttpReply *reply)
{
        uint64_t *counters = gs->other_requests;
        GraphQuery q = { 0 };
        GraphQueryError kind;
        Error e = { { 0 } };
        char msg[600];
        Stream *s;
        int r;

        if (!accept_allows_json(req->accept)) { /* only something else entirely, e.g. "image/png" */
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
        s = graph_streams_find(gs, q.stream);
        if (!s) {
                snprintf(msg, sizeof(msg), "unknown stream '%s'", q.stream);
                r = http_reply_error(reply, 404, "does_not_exist", msg);
                goto done;
        }
        counters = s->requests;
        r = reply_stream_graph(gs, s, &q, req, reply);
done:
        graph_query_done(&q);
        if (r >= 0)
                graph_count_status(counters, reply->status);
        return r;
}

static int reply_metrics(GraphStreams *gs, GraphReportService *reports, HttpReply *reply)
{
        Buf b = BUF_INIT(GRAPH_METRICS_MAX_BYTES);
        int r;

        r = graph_metrics_write(gs, &b);
        if (r >= 0 && reports)
                r = graph_report_service_metrics_write(reports, &b);
        if (r < 0) {
                buf_free(&b);
                return r;
        }
        reply->status = 200;
        reply->content_type = METRICS_CONTENT_TYPE;
        reply->owned = buf_steal(&b, &reply->owned_len);
        return reply->owned ? 0 : -ENOMEM;
}

/* /readyz: 503 naming the streams without a graph, else what /healthz says. */
static int reply_not_ready(GraphStreams *gs, HttpReply *reply)
{
        char missing[512] = "", msg[600];

        for (size_t i = 0; i < gs->n_streams; i++) {
                StreamGraph *sg = stream_get(gs->streams[i]);
                const char *name = gs->streams[i]->cfg->name;
                if (!sg && strlen(missing) + strlen(name) + 3 < sizeof(missing)) {
                        strcat(missing, *missing ? ", " : "");
                        strcat(missing, name);
                }
                stream_graph_unref(sg);
        }
        if (!*missing)
                return 0;
        snprintf(msg, sizeof(msg), "streams without a graph: %s", missing);
        return http_reply_error(reply, 503, "not_ready", msg) < 0 ? -ENOMEM : 1;
}

static int reply_status(GraphStreams *gs, const GraphRequest *req, HttpReply *reply)
{
        const char *path = req->path;
        int r;

        if (streq(path, "/metrics"))
                return reply_metrics(gs, req->reports, reply);
        if (streq(path, "/readyz") && (r = reply_not_ready(gs, reply)) != 0)
                return r < 0 ? r : 0;
        reply->status = 200;
        reply->content_type = "application/json";
        reply->owned = strdup("{\"status\":\"ok\"}");
        reply->owned_len = reply->owned ? strlen(reply->owned) : 0;
        return reply->owned ? 0 : -ENOMEM;
}

/* /v1/graph: the graph, or an error, for any origin (CORS); an answer depends on the time (rollouts
 * progress) and on the inputs, refreshed every few seconds: caches must ask again (docs/graph.md). */
static int reply_graph_endpoint(GraphStreams *gs, const GraphRequest *req, bool get, HttpReply *reply)
{
        int r;

        if (streq(req->method, "OPTIONS")) {
                graph_count_status(gs->other_requests, 204);
                return reply_options(req, reply);
        }
        if (!get) {
                graph_count_status(gs->other_requests, 405);
                http_reply_add_header(reply, "Allow", "GET, HEAD, OPTIONS");
                r = http_reply_error(reply, 405, "method_not_allowed", "use GET");
        } else
                r = reply_graph(gs, req, reply);
        if (r < 0)
                return r;
        http_reply_add_header(reply, "Access-Control-Allow-Origin", "*");
        http_reply_add_header(reply, "Cache-Control",
                              reply->status == 200 || reply->status == 304 ? "no-cache" : "no-store");
        return 0;
}

int graph_server_answer(GraphStreams *gs, const GraphRequest *req, HttpReply *reply)
{
        bool get;
        int r;

        assert(gs);
        assert(req && req->method && req->path && req->query);
        assert(reply);
        get = streq(req->method, "GET") || streq(req->method, "HEAD");
        if (streq(req->path, "/v1/graph")) {
                graph_streams_read_lock(gs);
                r = reply_graph_endpoint(gs, req, get, reply);
                graph_streams_read_unlock(gs);
                return r;
        }
        if (streq(req->path, "/metrics") || streq(req->path, "/healthz") || streq(req->path, "/readyz")) {
                if (!get) {
                        http_reply_add_header(reply, "Allow", "GET, HEAD");
                        return http_reply_error(reply, 405, "method_not_allowed", "use GET");
                }
                graph_streams_read_lock(gs);
                r = reply_status(gs, req, reply);
                graph_streams_read_unlock(gs);
                return r;
        }
        return http_reply_error(reply, 404, "not_found", "no such endpoint");
}

static int handle(void *userdata, const HttpRequest *req, HttpReply *reply)
{
        GraphService *svc = userdata;
        GraphRequest r = {
                .method = req->method,
                .path = req->path,
                .query = req->query,
                .accept = http_request_header(req, "Accept"),
                .accept_encoding = http_request_header(req, "Accept-Encoding"),
                .if_none_match = http_request_header(req, "If-None-Match"),
                .cors_request_headers = http_request_header(req, "Access-Control-Request-Headers"),
                .now = (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_SEC),
                .reports = svc->reports,
        };

        if (svc->reports && streq(req->path, "/v1/report"))
                return graph_report_service_handle(svc->reports, req, (int64_t)now_usec(CLOCK_REALTIME),
                                                   reply);
        if (svc->reports && graph_admin_path(req->path))
                return graph_admin_handle(svc->reports, svc->streams, svc->admin_token, req, r.now, reply);
        if (graph_status_path(req->path))
                return graph_status_handle(svc, req, r.now, reply);
        return graph_server_answer(svc->streams, &r, reply);
}

int graph_server_start(const GraphConfig *config, GraphService *svc, HttpServer **ret, Error *e)
{
        HttpServerConfig scfg = {
                .address = config->address,
                .port = config->port,
                .threads = config->threads,
                .max_connections = config->max_connections,
                .max_connections_per_address = config->max_connections_per_address,
                .request_timeout_sec = config->request_timeout_secs,
                .idle_timeout_sec = config->idle_timeout_secs,
                .max_header_bytes = GRAPH_SERVER_MAX_HEADER_BYTES,
                .max_body_bytes = GRAPH_SERVER_MAX_BODY_BYTES,
                .allow_deferred = true,
                .handler = handle,
                .userdata = svc,
        };

        assert(config && svc && svc->streams && ret);
        return http_server_start(&scfg, ret, e);
}
