/* test-release-plan.c — the share of the fleet bound for each release over time: a plain ramp, a barrier
 * that holds nodes until its own rollout lets them through, a pause (no duration), dead-ends, the real
 * Fedora CoreOS metadata of 2021-01-05, and the text table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-build.h"
#include "release-plan.h"
#include "test-util.h"

#define T0 INT64_C(1800000000)

static Graph *build(const char *versions_csv, const char *updates)
{
        char rel[4096] = "{\"releases\": [";
        char *copy = strdup(versions_csv), *save = NULL;
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        Graph *g = NULL;
        Error e = { { 0 } };
        bool first = true;

        for (char *v = strtok_r(copy, ",", &save); v; v = strtok_r(NULL, ",", &save), first = false)
                snprintf(
                        rel + strlen(rel), sizeof(rel) - strlen(rel),
                        "%s{\"version\": \"%s\", \"commits\": [{\"architecture\": \"x86_64\", \"checksum\": "
                        "\"c%s\"}]}",
                        first ? "" : ",", v, v);
        strcat(rel, "]}");
        free(copy);
        if (release_index_parse(rel, strlen(rel), &ri, &e) < 0 ||
            update_metadata_parse(updates, strlen(updates), &um, &e) < 0 ||
            graph_build(ri, um, "x86_64", GRAPH_SCHEME_CHECKSUM, &g, &e) < 0)
                fail_msg("%s", e.message);
        release_index_free(ri);
        update_metadata_free(um);
        return g;
}

static double share_of(const Plan *p, size_t row, const char *version)
{
        for (size_t c = 0; c < p->n_columns; c++)
                if (strcmp(p->versions[c], version) == 0)
                        return p->share[row * p->n_columns + c];
        return 0.0;
}

static Plan *plan_at(const Graph *g, size_t from, const int64_t *times, size_t n)
{
        Plan *p = NULL;
        Error e = { { 0 } };
        if (plan_compute(g, from, times, n, &p, &e) < 0)
                fail_msg("%s", e.message);
        for (size_t i = 0; i < n; i++) {
                double sum = 0;
                for (size_t c = 0; c < p->n_columns; c++)
                        sum += p->share[i * p->n_columns + c];
                assert_true(fabs(sum - 1.0) < 1e-9);
        }
        return p;
}

static void test_ramp(void **state)
{
        Graph *g = build("1,2,3",
                         "{\"stream\": \"s\", \"releases\": ["
                         "{\"version\": \"2\", \"metadata\": {\"rollout\": {\"start_percentage\": 1.0}}},"
                         "{\"version\": \"3\", \"metadata\": {\"rollout\": {\"start_epoch\": 1800000000, "
                         "\"duration_minutes\": 100, \"start_percentage\": 0.2}}}]}");
        const int64_t times[] = { T0 - 1, T0, T0 + 50 * 60, T0 + 100 * 60 + 1 };
        Plan *p = plan_at(g, 0, times, 4);

        assert_true(fabs(share_of(p, 0, "2") - 1.0) < 1e-9);
        assert_true(fabs(share_of(p, 1, "3") - 0.2) < 1e-9);
        assert_true(fabs(share_of(p, 2, "3") - 0.6) < 1e-9);
        assert_true(fabs(share_of(p, 2, "2") - 0.4) < 1e-9);
        assert_true(fabs(share_of(p, 3, "3") - 1.0) < 1e-9);
        assert_int_equal(p->n_columns, 2);
        plan_free(p);
        graph_free(g);
}

static void test_barrier_and_pause(void **state)
{
        /* 2 is a barrier rolling out over 100 min; 3 is fully available but only from 2 on; 4 is paused at
         * 0.3 (no duration). Nodes on 1 reach 3 (then 4 for a third of them) only once 2 lets them through.
         */
        Graph *g = build("1,2,3,4",
                         "{\"stream\": \"s\", \"releases\": ["
                         "{\"version\": \"2\", \"metadata\": {\"barrier\": {\"reason\": \"\"}, "
                         "\"rollout\": {\"start_epoch\": 1800000000, \"duration_minutes\": 100}}},"
                         "{\"version\": \"3\", \"metadata\": {\"rollout\": {\"start_percentage\": 1.0}}},"
                         "{\"version\": \"4\", \"metadata\": {\"rollout\": {\"start_epoch\": 1700000000, "
                         "\"start_percentage\": 0.3}}}]}");
        const int64_t times[] = { T0 - 60, T0 + 50 * 60, T0 + 86400 * 30 };
        Plan *p = plan_at(g, 0, times, 3);

        assert_true(fabs(share_of(p, 0, "1") - 1.0) < 1e-9); /* held below the barrier */
        assert_true(fabs(share_of(p, 1, "1") - 0.5) < 1e-9);
        assert_true(fabs(share_of(p, 1, "4") - 0.3) < 1e-9);
        assert_true(fabs(share_of(p, 1, "3") - 0.2) < 1e-9);
        assert_true(fabs(share_of(p, 2, "4") - 0.3) < 1e-9); /* the pause holds a month later */
        assert_true(fabs(share_of(p, 2, "3") - 0.7) < 1e-9);
        assert_true(share_of(p, 2, "2") == 0.0); /* nobody stops at the barrier */

        Buf b = BUF_INIT(1u << 20);
        assert_int_equal(plan_write_table(p, &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        assert_non_null(strstr((char *)b.data, "2027-01-15 07:59"));
        assert_non_null(strstr((char *)b.data, "100.00%"));
        assert_non_null(strstr((char *)b.data, " 30.00%"));
        buf_free(&b);
        plan_free(p);
        graph_free(g);
}

static void test_deadend(void **state)
{
        Graph *g =
                build("1,2,3",
                      "{\"stream\": \"s\", \"releases\": ["
                      "{\"version\": \"2\", \"metadata\": {\"deadend\": {\"reason\": \"x\"}, "
                      "\"rollout\": {\"start_percentage\": 1.0}}},"
                      "{\"version\": \"3\", \"metadata\": {\"rollout\": {\"start_percentage\": 0.25}}}]}");
        const int64_t times[] = { T0 };
        Plan *p = plan_at(g, 0, times, 1);
        /* From 1: 3 for a quarter (the newest visible), else the dead-end 2, which goes nowhere. */
        assert_true(fabs(share_of(p, 0, "3") - 0.25) < 1e-9);
        assert_true(fabs(share_of(p, 0, "2") - 0.75) < 1e-9);
        plan_free(p);
        p = plan_at(g, 1, times, 1);
        assert_true(fabs(share_of(p, 0, "2") - 1.0) < 1e-9);
        plan_free(p);
        graph_free(g);
}

static void test_fcos(void **state)
{
        size_t ul, rl;
        char *u = test_read_shared("testdata/fcos/updates-stable-4c055c1.json", &ul);
        char *r = test_read_shared("testdata/fcos/releases-2021-01-05.json", &rl);
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        Graph *g = NULL;
        Error e = { { 0 } };
        int64_t *times = NULL, s = 1609860600;

        assert_int_equal(release_index_parse(r, rl, &ri, &e), 0);
        assert_int_equal(update_metadata_parse(u, ul, &um, &e), 0);
        assert_int_equal(graph_build(ri, um, "x86_64", GRAPH_SCHEME_CHECKSUM, &g, &e), 0);
        assert_true(plan_default_end(g, s) >= s + 2880 * 60);
        assert_int_equal(plan_times(s, s + 2880 * 60, 5, &times, &e), 0);
        Plan *p = plan_at(g, 0, times, 5);
        /* The oldest release goes through the barriers to 33.20201201.3.0, and the newest ramps 0 → 1. */
        for (size_t i = 0; i < 5; i++)
                assert_true(fabs(share_of(p, i, "33.20201214.3.1") - i / 4.0) < 1e-9);
        assert_int_equal(p->n_columns, 2);
        plan_free(p);
        assert_int_equal(plan_times(s, s, 5, &times, &e), -EINVAL);
        free(times);
        graph_free(g);
        update_metadata_free(um);
        release_index_free(ri);
        free(u);
        free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ramp),
                cmocka_unit_test(test_barrier_and_pause),
                cmocka_unit_test(test_deadend),
                cmocka_unit_test(test_fcos),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
