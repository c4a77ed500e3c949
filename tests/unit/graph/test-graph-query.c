/* test-graph-query.c — parsing of /v1/graph query strings and Accept headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "graph-query.h"

static void expect_ok(const char *query, const char *arch, const char *stream)
{
        GraphQuery q;
        GraphQueryError k = 99;
        Error e = { { 0 } };
        assert_int_equal(graph_query_parse(query, &q, &k, &e), 0);
        assert_int_equal(k, GRAPH_QUERY_OK);
        assert_string_equal(q.basearch, arch);
        assert_string_equal(q.stream, stream);
        graph_query_done(&q);
}

static void expect_fail(const char *query, GraphQueryError kind, const char *msg)
{
        GraphQuery q = { 0 };
        GraphQueryError k = GRAPH_QUERY_OK;
        Error e = { { 0 } };
        assert_int_equal(graph_query_parse(query, &q, &k, &e), -EINVAL);
        assert_int_equal(k, kind);
        if (!strstr(e.message, msg))
                fail_msg("'%s' does not contain '%s'", e.message, msg);
        assert_null(q.basearch);
}

static void test_query_ok(void **state)
{
        GraphQuery q;
        GraphQueryError k;
        Error e;

        expect_ok("basearch=x86_64&stream=stable", "x86_64", "stable");
        expect_ok("stream=stable&basearch=x86%5F64", "x86_64", "stable");
        expect_ok("basearch=x86_64&stream=st+able&&x&y=", "x86_64", "st able");
        expect_ok("base%61rch=x86_64&str%65am=s", "x86_64", "s"); /* escaped names are decoded */
        assert_int_equal(graph_query_parse("basearch=a&stream=b&rollout_wariness=0.25&node_uuid=u&oci=true&"
                                           "os_version=1&group=g&platform=p&os_checksum=c",
                                           &q, &k, &e),
                         0);
        assert_true(q.has_wariness && q.wariness == 0.25);
        assert_string_equal(q.node_uuid, "u");
        assert_true(q.oci);
        graph_query_done(&q);
        /* Clamping as upstream. */
        assert_int_equal(graph_query_parse("basearch=a&stream=b&rollout_wariness=2", &q, &k, &e), 0);
        assert_true(q.wariness == 1.0);
        graph_query_done(&q);
        assert_int_equal(
                graph_query_parse("basearch=a&stream=b&rollout_wariness=-0.5&oci=false", &q, &k, &e), 0);
        assert_true(q.wariness == 0.0 && !q.oci);
        assert_null(q.node_uuid);
        graph_query_done(&q);
}

static void test_query_errors(void **state)
{
        char longq[5000];

        expect_fail("", GRAPH_QUERY_MISSING, "mandatory client parameters missing: basearch, stream");
        expect_fail("basearch=x", GRAPH_QUERY_MISSING, "missing: stream");
        expect_fail("stream=x&basearch=", GRAPH_QUERY_MISSING, "missing: basearch");
        expect_fail("basearch=a&stream=b&stream=c", GRAPH_QUERY_INVALID, "'stream' given more than once");
        expect_fail("basearch=a&stream=b%2", GRAPH_QUERY_INVALID, "percent-encoding");
        expect_fail("basearch=a&stream=b%00", GRAPH_QUERY_INVALID, "percent-encoding");
        expect_fail("basearch=a&stream=b&other=%zz", GRAPH_QUERY_INVALID, "percent-encoding");
        expect_fail("basearch=a&stream=b&ot%zzher=1", GRAPH_QUERY_INVALID, "percent-encoding");
        expect_fail("basearch=a&base%61rch=b&stream=c", GRAPH_QUERY_INVALID,
                    "'basearch' given more than once");
        expect_fail("basearch=a&stream=b&rollout_wariness=x", GRAPH_QUERY_INVALID, "rollout_wariness");
        expect_fail("basearch=a&stream=b&rollout_wariness=", GRAPH_QUERY_INVALID, "rollout_wariness");
        expect_fail("basearch=a&stream=b&rollout_wariness=inf", GRAPH_QUERY_INVALID, "rollout_wariness");
        expect_fail("basearch=a&stream=b&oci=1", GRAPH_QUERY_INVALID, "oci must be");
        memset(longq, 'a', sizeof(longq) - 1);
        longq[sizeof(longq) - 1] = 0;
        expect_fail(longq, GRAPH_QUERY_INVALID, "longer than");
        char many[1024] = "basearch=a&stream=b";
        for (int i = 0; i < 70; i++)
                strcat(many, "&p=1");
        expect_fail(many, GRAPH_QUERY_INVALID, "more than 64");
        char big[600] = "basearch=a&stream=b&node_uuid=";
        memset(big + strlen(big), 'u', 300);
        expect_fail(big, GRAPH_QUERY_INVALID, "'node_uuid' is longer than 256");
}

static void test_accept(void **state)
{
        assert_true(accept_allows_json(NULL));
        assert_true(accept_allows_json(""));
        assert_true(accept_allows_json("application/json"));
        assert_true(accept_allows_json("Application/JSON"));
        assert_true(accept_allows_json("text/html, */*;q=0.1"));
        assert_true(accept_allows_json("application/*"));
        assert_true(accept_allows_json(" application/json ; charset=utf-8"));
        assert_false(accept_allows_json("text/html"));
        assert_false(accept_allows_json("application/json;q=0"));
        assert_false(accept_allows_json("application/jsonx"));
        assert_false(accept_allows_json("text/*, image/png"));
        assert_false(accept_allows_json("*/*;q=0.0"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_query_ok),
                cmocka_unit_test(test_query_errors),
                cmocka_unit_test(test_accept),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
