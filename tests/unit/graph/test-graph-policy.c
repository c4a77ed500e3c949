/* test-graph-policy.c — the rollout safety policy (when a release trips it) and pauses (the throttle
 * frozen, then the ramp resumed over the remaining duration), on a fake clock; the canary gates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph-build.h"
#include "graph-policy.h"

#define T0 INT64_C(1700000000)

static GraphPolicy policy(void)
{
        return (GraphPolicy){ .stream = "stable",
                              .failure_threshold_count = 2,
                              .failure_threshold_ratio = 0.05,
                              .min_sample = 5 };
}

static bool trips(const GraphPolicy *p, uint64_t ok, uint64_t failed)
{
        return graph_policy_trips(p, (GraphPolicyTally){ .succeeded = ok, .failed = failed }, NULL, 0);
}

static void test_trips(void **state)
{
        GraphPolicy p = policy();
        char reason[GRAPH_PAUSE_REASON_MAX];

        /* Below the minimum sample, the count alone decides. */
        assert_false(trips(&p, 0, 0));
        assert_false(trips(&p, 3, 1));
        assert_true(trips(&p, 0, 2));
        assert_true(trips(&p, 2, 2));
        /* From the minimum sample on, the ratio must be exceeded too. */
        assert_true(trips(&p, 3, 2));     /* 40% of 5 */
        assert_false(trips(&p, 38, 2));   /* exactly 5% of 40: not more than */
        assert_true(trips(&p, 37, 2));    /* 5.1% of 39 */
        assert_false(trips(&p, 1000, 3)); /* 0.3% */
        assert_true(trips(&p, 1000, 60));
        /* A count of 1 (Nebraska's "disable on first failure"). */
        p.failure_threshold_count = 1;
        assert_true(trips(&p, 0, 1));
        p.failure_threshold_ratio = 0.0;
        assert_true(trips(&p, 1000, 1));
        p = policy();
        assert_true(graph_policy_trips(&p, (GraphPolicyTally){ .succeeded = 1, .failed = 3 }, reason,
                                       sizeof(reason)));
        assert_string_equal(reason,
                            "3 of 4 nodes failed (75.0%; threshold: 2 failures and 5.0% once 5 reported)");
        p.group = "canary";
        assert_true(graph_policy_trips(&p, (GraphPolicyTally){ .failed = 2 }, reason, sizeof(reason)));
        assert_non_null(strstr(reason, " in group canary"));
}

static void test_tally(void **state)
{
        GraphReportCounts c = { 0 };
        GraphPolicy p = policy();
        GraphPolicyTally t;

        assert_int_equal(graph_report_counts_add(&c, "stable", "41.3", "default", GRAPH_REPORT_SUCCEEDED, 4),
                         0);
        assert_int_equal(
                graph_report_counts_add(&c, "stable", "41.3", "default", GRAPH_REPORT_ROLLED_BACK, 1), 0);
        assert_int_equal(
                graph_report_counts_add(&c, "stable", "41.3", "canary", GRAPH_REPORT_BOOT_FALLBACK, 2), 0);
        assert_int_equal(
                graph_report_counts_add(&c, "stable", "41.3", "canary", GRAPH_REPORT_STAGE_FAILED, 1), 0);
        assert_int_equal(
                graph_report_counts_add(&c, "stable", "41.4", "default", GRAPH_REPORT_ROLLED_BACK, 9), 0);
        assert_int_equal(graph_report_counts_add(&c, "next", "41.3", "default", GRAPH_REPORT_ROLLED_BACK, 9),
                         0);
        t = graph_policy_tally(&p, &c, "41.3");
        assert_int_equal(t.succeeded, 4);
        assert_int_equal(t.failed, 4); /* every outcome but succeeded is a failure */
        p.group = "canary";
        t = graph_policy_tally(&p, &c, "41.3");
        assert_int_equal(t.succeeded, 0);
        assert_int_equal(t.failed, 3);
        p.group = NULL;
        t = graph_policy_tally(&p, &c, "41.5");
        assert_int_equal(t.succeeded + t.failed, 0);
        graph_report_counts_done(&c);
}

/* A rollout from 0 over 100 minutes starting at T0. */
static GraphNode ramp(void)
{
        return (GraphNode){ .version = "41.3",
                            .rollout = true,
                            .has_start_epoch = true,
                            .start_epoch = T0,
                            .has_start_value = true,
                            .start_value = 0.0,
                            .has_duration = true,
                            .duration_minutes = 100 };
}

static void test_pause_frozen(void **state)
{
        GraphNode n = ramp(), applied = ramp();
        GraphPause p;

        /* Paused 30 minutes in: 30% reached, 70 minutes remained. */
        assert_int_equal(graph_pause_init(&p, "stable", "41.3", &n, T0 + 1800, "3 of 4 failed"), 0);
        assert_true(graph_pause_active(&p));
        assert_true(fabs(p.frozen - 0.3) < 1e-9);
        assert_int_equal(p.remaining_secs, 4200);
        assert_string_equal(p.reason, "3 of 4 failed");
        graph_pause_apply(&p, &applied);
        /* Frozen whatever the time, while the live ramp goes on. */
        for (int64_t t = T0 + 1800; t < T0 + 100000; t += 997) {
                assert_true(fabs(graph_node_throttle(&applied, t) - 0.3) < 1e-9);
                assert_true(fabs(graph_pause_live(&p, t) - graph_node_throttle(&n, t)) < 1e-9);
        }
        /* Who saw the edge keeps it, nobody new gets it. */
        assert_false(0.29 > graph_node_throttle(&applied, T0 + 7200));
        assert_true(0.31 > graph_node_throttle(&applied, T0 + 7200));
}

static void test_pause_resume(void **state)
{
        GraphNode n = ramp(), applied = ramp();
        GraphPause p;

        assert_int_equal(graph_pause_init(&p, "stable", "41.3", &n, T0 + 1800, "r"), 0);
        /* Resumed a day later: from 30% to 100% over the 70 minutes that remained. */
        graph_pause_resume(&p, T0 + 86400);
        assert_false(graph_pause_active(&p));
        graph_pause_apply(&p, &applied);
        assert_true(fabs(graph_node_throttle(&applied, T0 + 86400) - 0.3) < 1e-9);
        assert_true(fabs(graph_node_throttle(&applied, T0 + 86400 + 2100) - 0.65) < 1e-9);
        assert_true(fabs(graph_node_throttle(&applied, T0 + 86400 + 4200) - 1.0) < 1e-9);
        assert_true(graph_node_throttle(&applied, T0 + 86400 + 4201) == 1.0);
        /* A resume can't go back before the pause. */
        assert_int_equal(graph_pause_init(&p, "stable", "41.3", &n, T0 + 1800, "r"), 0);
        graph_pause_resume(&p, T0);
        assert_int_equal(p.resumed_at, T0 + 1800);
}

static void test_pause_edges(void **state)
{
        GraphNode n = ramp(), applied;
        GraphPause p;
        char longname[400];

        /* Before the start: frozen at 0, the whole duration remains. */
        assert_int_equal(graph_pause_init(&p, "stable", "41.3", &n, T0 - 60, "r"), 0);
        assert_true(p.frozen == 0.0);
        assert_int_equal(p.remaining_secs, 6000);
        /* After the end: frozen at 1, nothing remains; resuming gives 1. */
        assert_int_equal(graph_pause_init(&p, "stable", "41.3", &n, T0 + 6001, "r"), 0);
        assert_true(p.frozen == 1.0);
        assert_int_equal(p.remaining_secs, 0);
        graph_pause_resume(&p, T0 + 7000);
        applied = ramp();
        graph_pause_apply(&p, &applied);
        assert_true(graph_node_throttle(&applied, T0 + 7000) == 1.0);
        /* Not in the graph: frozen at 0 (nobody is offered it when it appears). */
        assert_int_equal(graph_pause_init(&p, "stable", "41.3", NULL, T0, "r"), 0);
        assert_true(p.frozen == 0.0);
        assert_true(graph_pause_live(&p, T0) == 0.0);
        /* Not a rollout: offered to all, frozen at 1. */
        n.rollout = false;
        assert_int_equal(graph_pause_init(&p, "stable", "41.3", &n, T0, "r"), 0);
        assert_true(p.frozen == 1.0);
        assert_true(graph_pause_live(&p, T0) == 1.0);
        /* A rollout without a duration holds its start value. */
        n = ramp();
        n.has_duration = false;
        n.start_value = 0.4;
        assert_int_equal(graph_pause_init(&p, "stable", "41.3", &n, T0 + 10, "r"), 0);
        assert_true(p.frozen == 0.4);
        assert_int_equal(p.remaining_secs, 0);
        memset(longname, 'x', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        assert_int_equal(graph_pause_init(&p, "stable", longname, &n, T0, "r"), -EINVAL);
}

static void test_pauses_apply(void **state)
{
        GraphNode nodes[3] = { { .version = "41.1" }, ramp(), ramp() };
        uint32_t rollouts[] = { 1, 2 };
        Graph g = { .nodes = nodes, .n_nodes = 3, .rollouts = rollouts, .n_rollouts = 2 };
        GraphPause pauses[2];
        GraphNode orig = ramp();

        nodes[2].version = "41.4";
        assert_int_equal(graph_pause_init(&pauses[0], "stable", "41.3", &orig, T0 + 600, "r"), 0);
        assert_int_equal(graph_pause_init(&pauses[1], "next", "41.4", &orig, T0 + 600, "r"), 0);
        assert_ptr_equal(graph_pauses_find(pauses, 2, "next", "41.4"), &pauses[1]);
        assert_null(graph_pauses_find(pauses, 2, "stable", "41.4"));
        graph_pauses_apply(pauses, 2, "stable", &g);
        assert_true(fabs(graph_node_throttle(&nodes[1], T0 + 6000) - 0.1) < 1e-9); /* paused */
        assert_true(graph_node_throttle(&nodes[2], T0 + 6000) == 1.0);             /* another stream's */
        /* With wariness 0.5: 41.3 hidden (frozen at 10%), 41.4 offered. */
        assert_int_equal(graph_hidden_mask(&g, 0.5, T0 + 6000), 1);
        assert_int_equal(graph_hidden_mask(&g, 0.05, T0 + 6000), 0);
}

static void test_canary(void **state)
{
        GraphCanary c = { 0 };
        GraphCanaryGate *g, *h;
        char release[32];

        g = graph_canary_gate(&c, "stable", "41.3");
        assert_non_null(g);
        assert_false(g->open);
        assert_ptr_equal(graph_canary_gate(&c, "stable", "41.3"), g);
        h = graph_canary_gate(&c, "next", "41.3");
        assert_ptr_not_equal(h, g);
        /* The first 2 distinct nodes are admitted, and stay; the third is not; no node_uuid never is. */
        assert_true(graph_canary_admit(g, 2, 11));
        assert_true(graph_canary_admit(g, 2, 11));
        assert_false(graph_canary_admit(g, 2, 0));
        assert_true(graph_canary_admit(g, 2, 22));
        assert_false(graph_canary_admit(g, 2, 33));
        assert_true(graph_canary_admit(g, 2, 11));
        assert_int_equal(g->n, 2);
        /* Gates are per (stream, release). */
        assert_true(graph_canary_admit(h, 2, 33));
        /* Once open, everyone. */
        g->open = true;
        assert_true(graph_canary_admit(g, 2, 33));
        assert_true(graph_canary_admit(g, 2, 0));
        g->open = false;
        /* The table is bounded: beyond, no gate (the caller keeps the release from the node). */
        for (int i = 0; i < GRAPH_CANARY_GATES_MAX; i++) {
                snprintf(release, sizeof(release), "r%d", i);
                g = graph_canary_gate(&c, "stable", release);
                assert_true(i < GRAPH_CANARY_GATES_MAX - 2 ? g != NULL : g == NULL);
        }
        /* Full: an open gate's place is taken by a new release. */
        c.gates[5].open = true;
        g = graph_canary_gate(&c, "stable", "new");
        assert_ptr_equal(g, &c.gates[5]);
        assert_false(g->open);
        assert_int_equal(g->n, 0);
        assert_string_equal(g->release, "new");
        assert_null(graph_canary_gate(&c, "stable", "newer"));
        graph_canary_done(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_trips),        cmocka_unit_test(test_tally),
                cmocka_unit_test(test_pause_frozen), cmocka_unit_test(test_pause_resume),
                cmocka_unit_test(test_pause_edges),  cmocka_unit_test(test_pauses_apply),
                cmocka_unit_test(test_canary),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
