/* test-graph-cache.c — unit tests for the worker's copy of the last graph answer
 * (src/agent/graph-cache.c): the file round-trips, every malformed file is refused, and ETags and URLs
 * that could not be sent back or stored are refused when writing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graph-cache.h"

#define URL "http://g.example/v1/graph?basearch=x86_64&stream=stable&os_version=41.1"

static void test_round_trip(void **state)
{
        const char body[] = "{\"nodes\":[],\"edges\":[]}\n";
        Buf b = BUF_INIT(4096);
        GraphCacheEntry c;

        assert_int_equal(graph_cache_format(URL, "\"38fb17d0e8d1f1e3-gz\"", body, strlen(body), &b), 0);
        assert_true(strncmp(b.data, GRAPH_CACHE_MAGIC, strlen(GRAPH_CACHE_MAGIC)) == 0);
        assert_int_equal(graph_cache_parse(b.data, b.len, &c), 0);
        assert_string_equal(c.url, URL);
        assert_string_equal(c.etag, "\"38fb17d0e8d1f1e3-gz\"");
        assert_int_equal(c.body_len, strlen(body));
        assert_memory_equal(c.body, body, strlen(body));
        buf_free(&b);

        /* An empty body and a weak ETag are fine; a body with newlines and NULs stays as it is. */
        b = BUF_INIT(4096);
        assert_int_equal(graph_cache_format(URL, "W/\"x\"", "", 0, &b), 0);
        assert_int_equal(graph_cache_parse(b.data, b.len, &c), 0);
        assert_int_equal(c.body_len, 0);
        buf_free(&b);
        b = BUF_INIT(4096);
        assert_int_equal(graph_cache_format(URL, "\"e\"", "a\nb\0c", 5, &b), 0);
        assert_int_equal(graph_cache_parse(b.data, b.len, &c), 0);
        assert_int_equal(c.body_len, 5);
        assert_memory_equal(c.body, "a\nb\0c", 5);
        buf_free(&b);
}

static void test_refused_when_writing(void **state)
{
        char long_etag[GRAPH_CACHE_ETAG_MAX + 2];
        Buf b = BUF_INIT(64 * 1024);

        memset(long_etag, 'a', sizeof long_etag - 1);
        long_etag[sizeof long_etag - 1] = '\0';
        assert_false(graph_cache_etag_ok(NULL));
        assert_false(graph_cache_etag_ok(""));
        assert_false(graph_cache_etag_ok("\"a\r\nX-Injected: 1\""));
        assert_false(graph_cache_etag_ok("\"\x7f\""));
        assert_false(graph_cache_etag_ok("\"\xc3\xa9\""));
        assert_false(graph_cache_etag_ok(long_etag));
        long_etag[GRAPH_CACHE_ETAG_MAX] = '\0';
        assert_true(graph_cache_etag_ok(long_etag));
        assert_int_equal(graph_cache_format(URL, NULL, "{}", 2, &b), -EINVAL);
        assert_int_equal(graph_cache_format(URL, "\"a\nb\"", "{}", 2, &b), -EINVAL);
        assert_int_equal(graph_cache_format("", "\"e\"", "{}", 2, &b), -EINVAL);
        assert_int_equal(graph_cache_format(NULL, "\"e\"", "{}", 2, &b), -EINVAL);
        assert_int_equal(graph_cache_format("http://x/\n", "\"e\"", "{}", 2, &b), -EINVAL);
        assert_int_equal(graph_cache_format(URL, "\"e\"", NULL, 2, &b), -EINVAL);
        assert_int_equal(b.len, 0);
        buf_free(&b);
        /* The cap of the buffer is the cap of the file. */
        b = BUF_INIT(16);
        assert_int_equal(graph_cache_format(URL, "\"e\"", "{}", 2, &b), -ENOBUFS);
        buf_free(&b);
}

static void parse_fails(const char *text)
{
        char *copy = strdup(text);
        GraphCacheEntry c;

        assert_non_null(copy);
        assert_int_equal(graph_cache_parse(copy, strlen(copy), &c), -EBADMSG);
        free(copy);
}

static void test_malformed_files(void **state)
{
        GraphCacheEntry c;

        assert_int_equal(graph_cache_parse(NULL, 0, &c), -EBADMSG);
        parse_fails("");
        parse_fails("upkeep-graph-cache 1");                     /* magic without its newline */
        parse_fails("upkeep-graph-cache 2\n" URL "\n\"e\"\n{}"); /* another version */
        parse_fails("{\"nodes\": []}");                          /* a bare answer */
        parse_fails(GRAPH_CACHE_MAGIC URL);                      /* no ETag line */
        parse_fails(GRAPH_CACHE_MAGIC URL "\n\"e\"");            /* no end of the ETag line */
        parse_fails(GRAPH_CACHE_MAGIC "\n\"e\"\n{}");            /* empty URL */
        parse_fails(GRAPH_CACHE_MAGIC URL "\n\n{}");             /* empty ETag */
        parse_fails(GRAPH_CACHE_MAGIC URL "\n\"\x01\"\n{}");     /* a control byte in the ETag */
        parse_fails(GRAPH_CACHE_MAGIC URL "\r\n\"e\"\n{}");      /* CR in the URL */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_refused_when_writing),
                cmocka_unit_test(test_malformed_files),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
