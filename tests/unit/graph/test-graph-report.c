/* test-graph-report.c — outcome reports: parsing and validation of POST /v1/report bodies, the per-node rate
 * limit and the bearer-token check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-report.h"

#define NODE "0123456789abcdef0123456789abcdef"
#define GOOD                                                                                                \
        "{\"node\":\"" NODE "\",\"group\":\"default\",\"stream\":\"stable\",\"basearch\":\"x86_64\","       \
        "\"from_version\":\"41.2\",\"to_version\":\"41.3\",\"outcome\":\"rolled_back\","                    \
        "\"detail\":\"health check failed\",\"failed_checks\":[\"00-net.sh\",\"db ready\"],"                \
        "\"time\":1700000000"

static int parse(const char *body, GraphReport *r, const char **field, Error *e)
{
        return graph_report_parse(body, strlen(body), r, field, e);
}

static void test_parse_ok(void **state)
{
        GraphReport *r = calloc(1, sizeof(*r));
        const char *field = NULL;
        Error e = { { 0 } };

        assert_int_equal(parse(GOOD "}", r, &field, &e), 0);
        assert_string_equal(r->node, NODE);
        assert_string_equal(r->group, "default");
        assert_string_equal(r->stream, "stable");
        assert_string_equal(r->basearch, "x86_64");
        assert_string_equal(r->from_version, "41.2");
        assert_string_equal(r->to_version, "41.3");
        assert_int_equal(r->outcome, GRAPH_REPORT_ROLLED_BACK);
        assert_string_equal(r->detail, "health check failed");
        assert_int_equal(r->n_checks, 2);
        assert_string_equal(r->checks[1], "db ready");
        assert_int_equal(r->time, 1700000000);
        assert_null(field);

        /* Unknown members are ignored; detail and failed_checks are optional. */
        assert_int_equal(parse("{\"node\":\"" NODE "\",\"group\":\"g\",\"stream\":\"s\",\"basearch\":\"a\","
                               "\"from_version\":\"1\",\"to_version\":\"2\",\"outcome\":\"succeeded\","
                               "\"time\":0,\"future\":{\"x\":[1]}}",
                               r, &field, &e),
                         0);
        assert_int_equal(r->outcome, GRAPH_REPORT_SUCCEEDED);
        assert_string_equal(r->detail, "");
        assert_int_equal(r->n_checks, 0);
        free(r);
}

static void test_outcomes(void **state)
{
        for (GraphReportOutcome o = 0; o < _GRAPH_REPORT_OUTCOME_MAX; o++)
                assert_int_equal(graph_report_outcome_from_string(graph_report_outcome_to_string(o)), o);
        assert_int_equal(graph_report_outcome_from_string("Succeeded"), -EINVAL);
        assert_null(graph_report_outcome_to_string(_GRAPH_REPORT_OUTCOME_MAX));
        assert_false(graph_report_outcome_is_failure(GRAPH_REPORT_SUCCEEDED));
        assert_true(graph_report_outcome_is_failure(GRAPH_REPORT_BOOT_FALLBACK));
}

/* GOOD with member `name` replaced by `json` (or removed when json is NULL) must fail naming field. */
static void expect_bad(const char *name, const char *json, const char *field, const char *msg)
{
        char body[GRAPH_REPORT_MAX_BODY_BYTES * 2], key[80];
        GraphReport r;
        const char *f = NULL;
        Error e = { { 0 } };
        const char *p, *end;

        snprintf(key, sizeof(key), "\"%s\":", name);
        p = strstr(GOOD "}", key);
        assert_non_null(p);
        end = p + strlen(key);
        if (*end == '[')
                end = strchr(end, ']') + 1;
        else if (*end == '"')
                end = strchr(end + 1, '"') + 1;
        else
                end += strspn(end, "0123456789");
        snprintf(body, sizeof(body), "%.*s%s%s%s%s", (int)(p - (GOOD "}")), GOOD "}", json ? key : "",
                 json ? json : "", json ? "" : "\"x_removed\":0", end);
        assert_int_equal(graph_report_parse(body, strlen(body), &r, &f, &e), -EINVAL);
        assert_non_null(f);
        assert_string_equal(f, field);
        if (strncmp(e.message, field, strlen(field)) != 0 || !strstr(e.message, msg))
                fail_msg("for %s: '%s' does not name '%s' with '%s'", body, e.message, field, msg);
}

static void test_parse_fields(void **state)
{
        char big[GRAPH_REPORT_MAX_DETAIL + 8];

        expect_bad("node", NULL, "node", "missing");
        expect_bad("node", "\"0123456789ABCDEF0123456789abcdef\"", "node", "32 lower-case hexadecimal");
        expect_bad("node", "\"0123456789abcdef\"", "node", "32 lower-case");
        expect_bad("node", "12", "node", "must be a string, got integer");
        expect_bad("group", "\"\"", "group", "1 to 128 bytes");
        expect_bad("group", "\"a\\u0001b\"", "group", "without control characters");
        expect_bad("stream", NULL, "stream", "missing");
        expect_bad("basearch", "null", "basearch", "must be a string");
        expect_bad("from_version", "\"41\\t2\"", "from_version", "1 to 256 bytes without control");
        expect_bad("to_version", NULL, "to_version", "missing");
        expect_bad("to_version", "\"\\u0085\"", "to_version", "without control characters"); /* C1 */
        expect_bad("outcome", "\"exploded\"", "outcome", "must be one of");
        expect_bad("outcome", "1", "outcome", "must be one of");
        expect_bad("time", NULL, "time", "missing");
        expect_bad("time", "-1", "time", "unix seconds");
        expect_bad("time", "1.5", "time", "unix seconds");
        expect_bad("time", "\"1\"", "time", "unix seconds");
        expect_bad("detail", "\"a\\u0001b\"", "detail", "control characters");
        memset(big, 'x', sizeof(big));
        big[0] = '"';
        big[GRAPH_REPORT_MAX_DETAIL + 2] = '"';
        big[GRAPH_REPORT_MAX_DETAIL + 3] = 0;
        expect_bad("detail", big, "detail", "0 to 1024 bytes");
        expect_bad("failed_checks", "\"x\"", "failed_checks", "must be an array");
        expect_bad("failed_checks", "[1]", "failed_checks", "must be a string");
        expect_bad("failed_checks", "[\"\"]", "failed_checks", "1 to 128 bytes");
        expect_bad("failed_checks", "[\"a\\nb\"]", "failed_checks", "without control characters");
        expect_bad(
                "failed_checks",
                "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\","
                "\"15\",\"16\",\"17\",\"18\",\"19\",\"20\",\"21\",\"22\",\"23\",\"24\",\"25\",\"26\",\"27\","
                "\"28\",\"29\",\"30\",\"31\",\"32\",\"33\"]",
                "failed_checks", "at most 32");
}

static void test_parse_body(void **state)
{
        static char big[GRAPH_REPORT_MAX_BODY_BYTES + 2];
        const char *f = NULL;
        GraphReport r;
        Error e = { { 0 } };

        assert_int_equal(parse("", &r, &f, &e), -EINVAL);
        assert_string_equal(f, "body");
        f = NULL;
        assert_int_equal(parse("[1]", &r, &f, &e), -EINVAL);
        assert_string_equal(f, "body");
        assert_non_null(strstr(e.message, "must be a JSON object"));
        assert_int_equal(parse(GOOD, &r, &f, &e), -EINVAL);                           /* truncated */
        assert_int_equal(parse(GOOD ",\"node\":\"" NODE "\"}", &r, &f, &e), -EINVAL); /* duplicate key */
        assert_string_equal(f, "body");
        memset(big, ' ', sizeof(big) - 1);
        assert_int_equal(graph_report_parse(big, sizeof(big) - 1, &r, &f, &e), -E2BIG);
        /* Exactly at the cap: parsed (here: whitespace, so not JSON). */
        assert_int_equal(graph_report_parse(big, GRAPH_REPORT_MAX_BODY_BYTES, &r, &f, &e), -EINVAL);
}

static void test_limiter(void **state)
{
        GraphReportLimiter l;
        const int64_t min = 60 * INT64_C(1000000);
        char node[GRAPH_REPORT_NODE_LEN + 1];

        assert_int_equal(graph_report_limiter_init(&l, 8, 10, 10, 1, 2), 0);
        assert_int_equal(l.capacity, 8);
        for (int i = 0; i < 10; i++)
                assert_true(graph_report_limiter_take(&l, NODE, 1000));
        assert_false(graph_report_limiter_take(&l, NODE, 1000));
        assert_false(graph_report_limiter_take(&l, NODE, 1000 + min / 20)); /* half a token back */
        assert_true(graph_report_limiter_take(&l, NODE, 1000 + min / 10));  /* one token back */
        assert_false(graph_report_limiter_take(&l, NODE, 1000 + min / 10));
        /* Another node has its own bucket. */
        assert_true(graph_report_limiter_take(&l, "ffffffffffffffffffffffffffffffff", 1000));
        /* A full minute refills, capped at burst. */
        for (int i = 0; i < 10; i++)
                assert_true(graph_report_limiter_take(&l, NODE, 1000 + 10 * min));
        assert_false(graph_report_limiter_take(&l, NODE, 1000 + 10 * min));
        /* The table stays bounded: many nodes evict the least recently seen; the busy node, seen last,
         * is still limited while it keeps asking. */
        for (int i = 0; i < 1000; i++) {
                snprintf(node, sizeof(node), "%032x", i);
                assert_true(graph_report_limiter_take(&l, node, 2000 + 10 * min + i));
                assert_false(graph_report_limiter_take(&l, NODE, 2000 + 10 * min + i));
        }
        graph_report_limiter_done(&l);
}

static void test_tokens(void **state)
{
        char *tokens[] = { "secret-one", "two", NULL };

        assert_true(graph_report_token_ok(NULL, 0, NULL));
        assert_true(graph_report_token_ok(NULL, 0, "Bearer anything"));
        assert_false(graph_report_token_ok(tokens, 2, NULL));
        assert_false(graph_report_token_ok(tokens, 2, "secret-one"));
        assert_false(graph_report_token_ok(tokens, 2, "Basic secret-one"));
        assert_false(graph_report_token_ok(tokens, 2, "Bearer secret-on"));
        assert_false(graph_report_token_ok(tokens, 2, "Bearer secret-one2"));
        assert_true(graph_report_token_ok(tokens, 2, "Bearer secret-one"));
        assert_true(graph_report_token_ok(tokens, 2, "bearer  two"));
}

static void test_counts(void **state)
{
        GraphReportCounts c = { 0 };
        const GraphReportCount *x;
        char group[32];

        assert_null(graph_report_counts_find(&c, "stable", "41.3", "default"));
        assert_int_equal(graph_report_counts_add(&c, "stable", "41.3", "default", GRAPH_REPORT_SUCCEEDED, 1),
                         0);
        assert_int_equal(
                graph_report_counts_add(&c, "stable", "41.3", "default", GRAPH_REPORT_ROLLED_BACK, 2), 0);
        assert_int_equal(graph_report_counts_add(&c, "stable", "41.3", "canary", GRAPH_REPORT_SUCCEEDED, 1),
                         0);
        assert_int_equal(graph_report_counts_add(&c, "next", "41.3", "default", GRAPH_REPORT_SUCCEEDED, 5),
                         0);
        x = graph_report_counts_find(&c, "stable", "41.3", "default");
        assert_non_null(x);
        assert_int_equal(x->n[GRAPH_REPORT_SUCCEEDED], 1);
        assert_int_equal(x->n[GRAPH_REPORT_ROLLED_BACK], 2);
        assert_int_equal(x->n[GRAPH_REPORT_STAGE_FAILED], 0);
        assert_int_equal(graph_report_counts_find(&c, "next", "41.3", "default")->n[GRAPH_REPORT_SUCCEEDED],
                         5);
        assert_int_equal(c.n, 3);
        /* Bounded: keys beyond the cap are counted together under _other. */
        for (int i = 0; i < GRAPH_REPORT_COUNTS_MAX + 10; i++) {
                snprintf(group, sizeof(group), "g%d", i);
                assert_int_equal(
                        graph_report_counts_add(&c, "stable", "41.3", group, GRAPH_REPORT_STAGE_FAILED, 1),
                        0);
        }
        assert_int_equal(c.n, GRAPH_REPORT_COUNTS_MAX + 1);
        x = graph_report_counts_find(&c, GRAPH_REPORT_COUNTS_OTHER, GRAPH_REPORT_COUNTS_OTHER,
                                     GRAPH_REPORT_COUNTS_OTHER);
        assert_non_null(x);
        assert_int_equal(x->n[GRAPH_REPORT_STAGE_FAILED], 13); /* 3 keys existed: 1021 fit, 13 did not */
        /* Existing keys still count as themselves. */
        assert_int_equal(graph_report_counts_add(&c, "stable", "41.3", "default", GRAPH_REPORT_SUCCEEDED, 1),
                         0);
        assert_int_equal(
                graph_report_counts_find(&c, "stable", "41.3", "default")->n[GRAPH_REPORT_SUCCEEDED], 2);
        /* A count read back from a store goes where an added one would: set, not added. */
        assert_int_equal(graph_report_counts_set(&c, "stable", "41.3", "default", GRAPH_REPORT_SUCCEEDED, 7),
                         0);
        assert_int_equal(
                graph_report_counts_find(&c, "stable", "41.3", "default")->n[GRAPH_REPORT_SUCCEEDED], 7);
        assert_int_equal(graph_report_counts_set(&c, "stable", "41.3", "new", GRAPH_REPORT_STAGE_FAILED, 20),
                         0);
        assert_int_equal(x->n[GRAPH_REPORT_STAGE_FAILED], 20);
        assert_int_equal(c.n, GRAPH_REPORT_COUNTS_MAX + 1);
        {
                const char *st = "stable", *rel = "41.3", *g = "default";
                graph_report_counts_resolve(&c, &st, &rel, &g);
                assert_string_equal(g, "default");
                g = "unseen";
                graph_report_counts_resolve(&c, &st, &rel, &g);
                assert_string_equal(st, GRAPH_REPORT_COUNTS_OTHER);
                assert_string_equal(g, GRAPH_REPORT_COUNTS_OTHER);
        }
        graph_report_counts_done(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_ok),     cmocka_unit_test(test_outcomes),
                cmocka_unit_test(test_parse_fields), cmocka_unit_test(test_parse_body),
                cmocka_unit_test(test_limiter),      cmocka_unit_test(test_tokens),
                cmocka_unit_test(test_counts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
