/* test-graph-query.c — parsing of /v1/graph query strings and Accept headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
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
        expect_fail("basearch=a&stream=b&rollout_wariness=1&rollout_wariness=2", GRAPH_QUERY_INVALID,
                    "'rollout_wariness' given more than once");
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

/* The wariness as fedora-coreos-cincinnati takes it: Rust's float syntax, clamped; anything else is
 * ignored (has_wariness false: the node_uuid, or "" without one, decides). */
static void expect_wariness(const char *value, bool has, double w)
{
        char query[128];
        GraphQuery q;
        GraphQueryError k;
        Error e = { { 0 } };

        snprintf(query, sizeof(query), "basearch=a&stream=b&rollout_wariness=%s", value);
        assert_int_equal(graph_query_parse(query, &q, &k, &e), 0);
        if (q.has_wariness != has)
                fail_msg("rollout_wariness=%s: has_wariness is %d", value, q.has_wariness);
        if (has && !(isnan(w) ? isnan(q.wariness) : q.wariness == w))
                fail_msg("rollout_wariness=%s: %g, not %g", value, q.wariness, w);
        graph_query_done(&q);
}

static void test_wariness_fallback(void **state)
{
        expect_wariness("0.5", true, 0.5);
        expect_wariness("%2B.5", true, 0.5);
        expect_wariness("+.5", false, 0); /* "+" is a space in a query */
        expect_wariness("5.", true, 1.0);
        expect_wariness("25e-2", true, 0.25);
        expect_wariness("1E400", true, 1.0); /* overflows to infinity, then clamped */
        expect_wariness("inf", true, 1.0);
        expect_wariness("-Infinity", true, 0.0);
        expect_wariness("NaN", true, NAN); /* NaN > throttle is false: sees every rollout */
        expect_wariness("", false, 0);
        expect_wariness("x", false, 0);
        expect_wariness(".", false, 0);
        expect_wariness("1e", false, 0);
        expect_wariness("%200.5", false, 0); /* no spaces */
        expect_wariness("0x1p-1", false, 0); /* no hex */
        expect_wariness("0.5,", false, 0);
        expect_wariness("nan(1)", false, 0);
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
        /* A browser, or a person asking for text, gets JSON (fedora-coreos-cincinnati ignores Accept). */
        assert_true(accept_allows_json("text/html"));
        assert_true(accept_allows_json("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
        assert_true(accept_allows_json("text/plain"));
        assert_true(accept_allows_json("text/*, image/png"));
        assert_true(accept_allows_json("application/vnd.cincinnati+json"));
        assert_true(accept_allows_json("garbage")); /* no media range at all: not a refusal */
        /* Only something else entirely is refused. */
        assert_false(accept_allows_json("image/png"));
        assert_false(accept_allows_json("image/png, application/xml"));
        assert_false(accept_allows_json("application/json;q=0"));
        assert_false(accept_allows_json("application/jsonx"));
        assert_false(accept_allows_json("text/html;q=0, image/*"));
        assert_false(accept_allows_json("*/*;q=0.0"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_query_ok),
                cmocka_unit_test(test_query_errors),
                cmocka_unit_test(test_wariness_fallback),
                cmocka_unit_test(test_accept),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
