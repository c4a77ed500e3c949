/* test-graph-server.c — upkeep-graph's endpoints driven as "request in, reply out" (no socket) over
 * streams built from fedora-coreos-cincinnati's inputs: the graph and its throttling, the schemes and
 * basearches, every error the integration tests see (400, 404, 405, 406, 503), health, readiness and the
 * counters /metrics reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fileio.h"
#include "graph-server.h"
#include "json-util.h"
#include "test-util.h"

/* The newest release of the 2021 index is rolled out from START over two days. */
#define START INT64_C(1609860600)

typedef struct Fixture {
        GraphConfig *config;
        GraphStreams gs;
} Fixture;

/* "stable" loaded from the fixtures; "testing" never loaded. */
static int setup(void **state)
{
        static const char toml[] = "[streams.stable]\nbasearches = [\"x86_64\", \"aarch64\"]\n"
                                   "[streams.testing]\nbasearches = [\"x86_64\"]\n";
        Fixture *f = calloc(1, sizeof(*f));
        _cleanup_free_ char *releases = NULL, *updates = NULL;
        char **warnings = NULL;
        Error e = { { 0 } };
        size_t rl, ul;

        assert_non_null(f);
        assert_int_equal(graph_config_parse(toml, strlen(toml), "graph.toml", &f->config, &warnings, &e), 0);
        strv_free(warnings);
        assert_int_equal(graph_streams_init(&f->gs, f->config, START), 0);
        for (size_t i = 0; i < f->gs.n_streams; i++) {
                assert_non_null(f->gs.streams[i]->releases = strdup("releases.json"));
                assert_non_null(f->gs.streams[i]->updates = strdup("updates.json"));
        }
        releases = test_read_shared("testdata/fcos/releases-2021-01-05.json", &rl);
        updates = test_read_shared("testdata/fcos/updates-stable-4c055c1.json", &ul);
        assert_int_equal(stream_update(f->gs.streams[0], 16, releases, rl, updates, ul, NULL, &e), 1);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        Fixture *f = *state;

        graph_streams_done(&f->gs);
        graph_config_free(f->config);
        free(f);
        return 0;
}

typedef struct Answer {
        int r;
        unsigned status;
        const char *content_type;
        char body[1 << 16];
        size_t len;
        const char *allow, *allow_origin, *cache_control, *allow_methods, *allow_headers;
        const char *vary, *content_encoding;
        char etag[64]; /* "" when none */
} Answer;

static void call_request(Fixture *f, const GraphRequest *req, Answer *a)
{
        HttpReply reply = { 0 };
        const char *data;

        *a = (Answer){ 0 };
        a->r = graph_server_answer(&f->gs, req, &reply);
        a->status = reply.status;
        a->content_type = reply.content_type;
        data = reply.blob ? reply.blob->data : reply.owned;
        a->len = reply.blob ? reply.blob->len : reply.owned_len;
        assert_true(a->len < sizeof(a->body));
        if (data)
                memcpy(a->body, data, a->len);
        for (size_t i = 0; i < reply.n_headers; i++) {
                const char *n = reply.header_names[i], *v = reply.header_values[i];
                if (strcmp(n, "Allow") == 0)
                        a->allow = v;
                else if (strcmp(n, "Access-Control-Allow-Origin") == 0)
                        a->allow_origin = v;
                else if (strcmp(n, "Cache-Control") == 0)
                        a->cache_control = v;
                else if (strcmp(n, "Access-Control-Allow-Methods") == 0)
                        a->allow_methods = v;
                else if (strcmp(n, "Access-Control-Allow-Headers") == 0)
                        a->allow_headers = v;
                else if (strcmp(n, "Vary") == 0)
                        a->vary = v;
                else if (strcmp(n, "Content-Encoding") == 0)
                        a->content_encoding = v;
                else if (strcmp(n, "ETag") == 0) {
                        assert_true(strlen(v) < sizeof(a->etag));
                        strcpy(a->etag, v);
                }
        }
        blob_unref(reply.blob);
        free(reply.owned);
}

static void call_cors(Fixture *f, const char *method, const char *path, const char *query,
                      const char *accept, const char *cors_request_headers, int64_t now, Answer *a)
{
        GraphRequest req = { .method = method,
                             .path = path,
                             .query = query,
                             .accept = accept,
                             .cors_request_headers = cors_request_headers,
                             .now = now };

        call_request(f, &req, a);
}

static void call(Fixture *f, const char *method, const char *path, const char *query, const char *accept,
                 int64_t now, Answer *a)
{
        call_cors(f, method, path, query, accept, NULL, now, a);
}

static Answer *get_graph(Fixture *f, const char *query, int64_t now)
{
        static Answer a;
        call(f, "GET", "/v1/graph", query, "application/json", now, &a);
        return &a;
}

static void expect_error(const Answer *a, unsigned status, const char *kind, const char *value)
{
        _cleanup_json_ json_t *body = NULL;
        Error e = { { 0 } };

        assert_int_equal(a->r, 0);
        assert_int_equal(a->status, status);
        assert_string_equal(a->content_type, "application/json");
        assert_int_equal(json_parse_strict(a->body, a->len, &body, &e), 0);
        assert_string_equal(json_string_value(json_object_get(body, "kind")), kind);
        if (value)
                assert_string_equal(json_string_value(json_object_get(body, "value")), value);
}

/* The edges into node 25 (the newest, the one being rolled out) of an answer. */
static size_t edges_into_newest(const Answer *a)
{
        _cleanup_json_ json_t *body = NULL;
        json_t *edge;
        Error e = { { 0 } };
        size_t i, n = 0;

        assert_int_equal(a->status, 200);
        assert_int_equal(json_parse_strict(a->body, a->len, &body, &e), 0);
        assert_int_equal(json_array_size(json_object_get(body, "nodes")), 26);
        json_array_foreach(json_object_get(body, "edges"), i, edge)
                n += json_integer_value(json_array_get(edge, 1)) == 25;
        return n;
}

static void test_graph(void **state)
{
        Fixture *f = *state;
        size_t gl;
        _cleanup_free_ char *golden_text =
                test_read_shared("testdata/fcos/golden-graph-2021-01-05.x86_64.json", &gl);
        _cleanup_json_ json_t *golden = NULL, *ours = NULL;
        Error e = { { 0 } };
        Answer *a;

        /* Once the rollout is over, every node gets the golden graph. */
        a = get_graph(f, "basearch=x86_64&stream=stable&rollout_wariness=1", START + 172801);
        assert_int_equal(a->r, 0);
        assert_int_equal(a->status, 200);
        assert_string_equal(a->content_type, "application/json");
        assert_int_equal(json_parse_strict(golden_text, gl, &golden, &e), 0);
        assert_int_equal(json_parse_strict(a->body, a->len, &ours, &e), 0);
        assert_true(json_equal(golden, ours));
        assert_true(strncmp(a->body, "{\"nodes\":[{\"version\":\"31.20200108.3.0\",\"metadata\":{", 50) ==
                    0);

        /* Half-way through, half of the fleet: by wariness or by the node's UUID (wariness 0.653). */
        assert_int_equal(edges_into_newest(get_graph(f, "basearch=x86_64&stream=stable&rollout_wariness=0.5",
                                                     START + 86400)),
                         1);
        assert_int_equal(edges_into_newest(get_graph(
                                 f, "basearch=x86_64&stream=stable&rollout_wariness=0.51", START + 86400)),
                         0);
        assert_int_equal(
                edges_into_newest(get_graph(
                        f, "basearch=x86_64&stream=stable&node_uuid=e0f3745b108f471cbd4883c6fbed8cdd",
                        START + 86400)),
                0);
        assert_int_equal(
                edges_into_newest(get_graph(
                        f, "basearch=x86_64&stream=stable&node_uuid=c988d2509fdf5cdcbed39037c56406fb",
                        START + 86400)),
                1);
        /* Before the start, only wariness 0 sees it. */
        assert_int_equal(edges_into_newest(get_graph(f, "basearch=x86_64&stream=stable&rollout_wariness=0",
                                                     START - 1)),
                         1);
        assert_int_equal(f->gs.streams[0]->requests[GRAPH_STATUS_200], 6);
        assert_true(f->gs.wariness.count == 6);
}

static void test_schemes_and_arches(void **state)
{
        Fixture *f = *state;
        Answer *a;

        a = get_graph(f, "basearch=aarch64&stream=stable", START);
        assert_int_equal(a->status, 200);
        assert_string_equal(a->body, "{\"nodes\":[],\"edges\":[]}");
        a = get_graph(f, "basearch=x86_64&stream=stable&oci=true", START);
        assert_int_equal(a->status, 200);
        assert_non_null(strstr(a->body, "\"payload\":\"quay.io/fedora/fedora-coreos@sha256:"));
        assert_non_null(strstr(a->body, "\"org.fedoraproject.coreos.scheme\":\"oci\""));
        /* Unknown parameters and empty segments are ignored. */
        a = get_graph(f, "basearch=x86_64&stream=stable&&unknown=1&flag", START);
        assert_int_equal(a->status, 200);
}

static void test_errors(void **state)
{
        Fixture *f = *state;
        Answer a;

        expect_error(get_graph(f, "", START), 400, "missing_params",
                     "mandatory client parameters missing: basearch, stream");
        expect_error(get_graph(f, "stream=stable", START), 400, "missing_params",
                     "mandatory client parameters missing: basearch");
        expect_error(get_graph(f, "basearch=x86_64&stream=stable&oci=maybe", START), 400, "invalid_params",
                     NULL);
        expect_error(get_graph(f, "basearch=x86_64&stream=st%zzable", START), 400, "invalid_params", NULL);
        expect_error(get_graph(f, "basearch=x86_64&stream=nope", START), 404, "does_not_exist",
                     "unknown stream 'nope'");
        expect_error(get_graph(f, "basearch=riscv64&stream=stable", START), 404, "does_not_exist",
                     "unknown basearch 'riscv64' for stream 'stable'");
        expect_error(get_graph(f, "basearch=x86_64&stream=testing", START), 503, "graph_unavailable",
                     "no graph loaded yet for stream 'testing'");

        call(f, "GET", "/v1/graph", "basearch=x86_64&stream=stable", "image/png", START, &a);
        expect_error(&a, 406, "invalid_content_type", NULL);
        call(f, "GET", "/v1/graph", "basearch=x86_64&stream=stable", "application/json;q=0", START, &a);
        expect_error(&a, 406, "invalid_content_type", NULL);
        call(f, "GET", "/v1/graph", "basearch=x86_64&stream=stable", NULL, START, &a); /* no Accept */
        assert_int_equal(a.status, 200);
        call(f, "HEAD", "/v1/graph", "basearch=x86_64&stream=stable", "*/*", START, &a);
        assert_int_equal(a.status, 200);

        call(f, "POST", "/v1/graph", "basearch=x86_64&stream=stable", NULL, START, &a);
        expect_error(&a, 405, "method_not_allowed", NULL);
        assert_string_equal(a.allow, "GET, HEAD, OPTIONS");
        call(f, "DELETE", "/metrics", "", NULL, START, &a);
        expect_error(&a, 405, "method_not_allowed", NULL);
        assert_non_null(a.allow);
        call(f, "GET", "/v2/graph", "", NULL, START, &a);
        expect_error(&a, 404, "not_found", NULL);
        call(f, "GET", "/", "", NULL, START, &a);
        expect_error(&a, 404, "not_found", NULL);

        /* Counted by stream when the stream exists, else under _other. */
        Stream *stable = f->gs.streams[0], *testing = f->gs.streams[1];
        assert_int_equal(f->gs.other_requests[GRAPH_STATUS_400], 4);
        assert_int_equal(f->gs.other_requests[GRAPH_STATUS_404], 1);
        assert_int_equal(f->gs.other_requests[GRAPH_STATUS_406], 2);
        assert_int_equal(f->gs.other_requests[GRAPH_STATUS_405], 1); /* /metrics is not counted */
        assert_int_equal(stable->requests[GRAPH_STATUS_404], 1);
        assert_int_equal(stable->requests[GRAPH_STATUS_200], 2);
        assert_int_equal(testing->requests[GRAPH_STATUS_503], 1);
}

/* What fedora-coreos-cincinnati does for browsers and tools: CORS for any origin, Accept ignored unless
 * the client wants only something else entirely, an unparsable rollout_wariness ignored. */
static void test_browsers_and_tools(void **state)
{
        Fixture *f = *state;
        Answer a;

        /* Every /v1/graph answer, errors included, may be read from any origin; caches must ask again. */
        call(f, "GET", "/v1/graph", "basearch=x86_64&stream=stable",
             "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", START, &a);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.content_type, "application/json");
        assert_string_equal(a.allow_origin, "*");
        assert_string_equal(a.cache_control, "no-cache");
        call(f, "GET", "/v1/graph", "basearch=x86_64&stream=stable", "text/html", START, &a);
        assert_int_equal(a.status, 200);
        call(f, "GET", "/v1/graph", "basearch=x86_64&stream=nope", NULL, START, &a);
        expect_error(&a, 404, "does_not_exist", NULL);
        assert_string_equal(a.allow_origin, "*");
        assert_string_equal(a.cache_control, "no-store");
        /* /metrics is not for browsers. */
        call(f, "GET", "/metrics", "", NULL, START, &a);
        assert_null(a.allow_origin);

        /* A preflight. */
        call_cors(f, "OPTIONS", "/v1/graph", "", NULL, "x-requested-with", START, &a);
        assert_int_equal(a.r, 0);
        assert_int_equal(a.status, 204);
        assert_int_equal(a.len, 0);
        assert_string_equal(a.allow_origin, "*");
        assert_non_null(strstr(a.allow_methods, "GET"));
        assert_string_equal(a.allow_headers, "x-requested-with");
        call(f, "OPTIONS", "/metrics", "", NULL, START, &a);
        assert_int_equal(a.status, 405);

        /* Half-way through the rollout (throttle 0.5): a wariness that does not parse is ignored, so the
         * node_uuid decides (0.653: hidden), or without one the hash of "" (0.188: visible). */
        assert_int_equal(edges_into_newest(get_graph(f,
                                                     "basearch=x86_64&stream=stable&rollout_wariness=lots&"
                                                     "node_uuid=e0f3745b108f471cbd4883c6fbed8cdd",
                                                     START + 86400)),
                         0);
        assert_int_equal(edges_into_newest(get_graph(
                                 f, "basearch=x86_64&stream=stable&rollout_wariness=lots", START + 86400)),
                         1);
        assert_int_equal(edges_into_newest(get_graph(
                                 f, "basearch=x86_64&stream=stable&rollout_wariness=", START + 86400)),
                         1);
        /* NaN parses (Rust's syntax) and hides nothing. */
        assert_int_equal(edges_into_newest(get_graph(f, "basearch=x86_64&stream=stable&rollout_wariness=NaN",
                                                     START + 3600)),
                         1);
        assert_int_equal(edges_into_newest(get_graph(f, "basearch=x86_64&stream=stable&rollout_wariness=inf",
                                                     START + 3600)),
                         0);
}

static void test_health_ready_metrics(void **state)
{
        Fixture *f = *state;
        Answer a;

        call(f, "GET", "/healthz", "", NULL, START, &a);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.body, "{\"status\":\"ok\"}");
        call(f, "GET", "/readyz", "", NULL, START, &a);
        expect_error(&a, 503, "not_ready", "streams without a graph: testing");

        assert_int_equal(get_graph(f, "basearch=x86_64&stream=stable", START)->status, 200);
        assert_int_equal(get_graph(f, "basearch=x86_64&stream=stable", START)->status, 200);
        call(f, "GET", "/metrics", "", NULL, START, &a);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.content_type, METRICS_CONTENT_TYPE);
        assert_non_null(strstr(a.body, "\nupkeep_graph_requests_total{stream=\"stable\",code=\"200\"} 2\n"));
        assert_non_null(strstr(
                a.body,
                "\nupkeep_graph_nodes{stream=\"stable\",basearch=\"x86_64\",scheme=\"checksum\"} 26\n"));
        assert_non_null(
                strstr(a.body, "\nupkeep_graph_cache_lookups_total{stream=\"stable\",result=\"miss\"} 1\n"));
        assert_non_null(
                strstr(a.body, "\nupkeep_graph_cache_lookups_total{stream=\"stable\",result=\"hit\"} 1\n"));
        assert_non_null(strstr(a.body, "\nupkeep_graph_rollout_wariness_count 2\n"));

        /* Once every stream has a graph, ready. */
        f->gs.streams[1]->current = stream_graph_ref(f->gs.streams[0]->current);
        call(f, "GET", "/readyz", "", NULL, START, &a);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.body, "{\"status\":\"ok\"}");
}

#define Q_DONE "basearch=x86_64&stream=stable&rollout_wariness=1"
#define Q_HALF "basearch=x86_64&stream=stable&rollout_wariness=0.5"

static void get_conditional(Fixture *f, const char *query, const char *accept_encoding,
                            const char *if_none_match, Answer *a)
{
        GraphRequest req = { .method = "GET",
                             .path = "/v1/graph",
                             .query = query,
                             .accept_encoding = accept_encoding,
                             .if_none_match = if_none_match,
                             .now = START + 86400 };

        call_request(f, &req, a);
        assert_int_equal(a->r, 0);
}

static void expect_not_modified(Fixture *f, const char *if_none_match, const char *etag)
{
        static Answer a;

        get_conditional(f, Q_DONE, NULL, if_none_match, &a);
        assert_int_equal(a.status, 304);
        /* The answer rides along for its Content-Length (the server never sends a 304's body). */
        assert_true(a.len > 1000);
        assert_null(a.content_type);
        assert_string_equal(a.etag, etag);
        assert_string_equal(a.cache_control, "no-cache");
        assert_string_equal(a.allow_origin, "*");
        assert_string_equal(a.vary, "Accept-Encoding");
}

static void expect_full(Fixture *f, const char *if_none_match)
{
        static Answer a;

        get_conditional(f, Q_DONE, NULL, if_none_match, &a);
        assert_int_equal(a.status, 200);
        assert_true(a.len > 1000);
}

/* A strong ETag per distinct answer, and 304 without a body when If-None-Match lists it. */
static void test_etag_not_modified(void **state)
{
        static Answer a, b, c;
        Fixture *f = *state;
        char list[200];

        get_conditional(f, Q_DONE, NULL, NULL, &a);
        assert_int_equal(a.status, 200);
        assert_int_equal(strlen(a.etag), 18);
        assert_true(a.etag[0] == '"' && a.etag[17] == '"');
        assert_string_equal(a.vary, "Accept-Encoding");
        assert_null(a.content_encoding);
        get_conditional(f, Q_DONE, NULL, NULL, &b);
        assert_string_equal(a.etag, b.etag);
        get_conditional(f, Q_HALF, NULL, NULL, &c); /* another answer: the newest release not yet */
        assert_int_equal(c.status, 200);
        assert_true(c.len != a.len);
        assert_string_not_equal(a.etag, c.etag);

        expect_not_modified(f, a.etag, a.etag);
        snprintf(list, sizeof(list), "\"other\", %s ,W/\"x\"", a.etag);
        expect_not_modified(f, list, a.etag);
        snprintf(list, sizeof(list), "W/%s", a.etag);
        expect_not_modified(f, list, a.etag);
        expect_not_modified(f, "*", a.etag);
        expect_full(f, c.etag);
        expect_full(f, "\"other\"");
        snprintf(list, sizeof(list), "%.16s", a.etag + 1); /* unquoted: not an entity tag */
        expect_full(f, list);
        expect_full(f, "");
        assert_true(graph_etag_matches("W/\"a\"", "W/\"a\""));
        assert_false(graph_etag_matches("\"a\"", "\"ab\""));
        assert_false(graph_etag_matches("*x", "\"a\""));
        assert_false(graph_etag_matches(NULL, "\"a\""));
}

static void test_accept_encoding(void **state)
{
        assert_false(graph_accepts_gzip(NULL));
        assert_false(graph_accepts_gzip(""));
        assert_true(graph_accepts_gzip("gzip"));
        assert_true(graph_accepts_gzip("GZip"));
        assert_true(graph_accepts_gzip("x-gzip"));
        assert_true(graph_accepts_gzip("deflate, gzip, br"));
        assert_false(graph_accepts_gzip("deflate, br"));
        assert_false(graph_accepts_gzip("gzipx, xgzip"));
        assert_false(graph_accepts_gzip("gzip;q=0"));
        assert_false(graph_accepts_gzip("gzip ; q=0.000, deflate"));
        assert_true(graph_accepts_gzip("gzip;q=0.5"));
        assert_true(graph_accepts_gzip("br;q=1, gzip;q=0.001"));
        assert_true(graph_accepts_gzip("gzip;Q=1.0"));
        assert_true(graph_accepts_gzip("*"));
        assert_true(graph_accepts_gzip("identity, *;q=0.1"));
        assert_false(graph_accepts_gzip("*;q=0"));
        assert_false(graph_accepts_gzip("gzip;q=0, *"));
        assert_true(graph_accepts_gzip("*;q=0, gzip"));
}

static size_t inflate_gzip(const char *in, size_t n, char *out, size_t cap)
{
        z_stream z = { 0 };

        assert_int_equal(inflateInit2(&z, 31), Z_OK);
        z.next_in = (unsigned char *)in;
        z.avail_in = (uInt)n;
        z.next_out = (unsigned char *)out;
        z.avail_out = (uInt)cap;
        assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
        assert_int_equal(z.avail_in, 0);
        inflateEnd(&z);
        return z.total_out;
}

/* gzip when accepted, compressed once, with its own ETag; the body inflates to the identity body. */
static void test_gzip(void **state)
{
        static Answer plain, gz, again, nm;
        static char inflated[1 << 16];
        Fixture *f = *state;
        char gz_etag[64];

        get_conditional(f, Q_DONE, "deflate, gzip;q=0", NULL, &plain);
        assert_null(plain.content_encoding);
        get_conditional(f, Q_DONE, "gzip, deflate, br", NULL, &gz);
        assert_int_equal(gz.status, 200);
        assert_string_equal(gz.content_type, "application/json");
        assert_string_equal(gz.content_encoding, "gzip");
        assert_string_equal(gz.vary, "Accept-Encoding");
        assert_true(gz.len < plain.len / 3);
        assert_int_equal(inflate_gzip(gz.body, gz.len, inflated, sizeof(inflated)), plain.len);
        assert_memory_equal(inflated, plain.body, plain.len);
        snprintf(gz_etag, sizeof(gz_etag), "%.17s-gz\"", plain.etag);
        assert_string_equal(gz.etag, gz_etag);

        get_conditional(f, Q_DONE, "gzip", NULL, &again);
        assert_string_equal(again.etag, gz_etag);
        assert_int_equal(again.len, gz.len);
        assert_memory_equal(again.body, gz.body, gz.len);

        get_conditional(f, Q_DONE, "gzip", plain.etag, &nm); /* the identity tag does not name gzip */
        assert_int_equal(nm.status, 200);
        get_conditional(f, Q_DONE, "gzip", gz_etag, &nm);
        assert_int_equal(nm.status, 304);
        assert_int_equal(nm.len, gz.len);
        assert_string_equal(nm.etag, gz_etag);
        get_conditional(f, Q_DONE, NULL, gz_etag, &nm);
        assert_int_equal(nm.status, 200);
        assert_null(nm.content_encoding);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_graph, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schemes_and_arches, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_browsers_and_tools, setup, teardown),
                cmocka_unit_test_setup_teardown(test_health_ready_metrics, setup, teardown),
                cmocka_unit_test_setup_teardown(test_etag_not_modified, setup, teardown),
                cmocka_unit_test(test_accept_encoding),
                cmocka_unit_test_setup_teardown(test_gzip, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
