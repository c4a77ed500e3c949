/* test-agent-target.c — the agent's choice of an update target against the real FCOS golden graph and
 * crafted graphs (downgrades, dead-ends, denylists, ordering ties, malformed edges). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-target.h"
#include "fileio.h"
#include "graph.h"

static Graph *golden(void)
{
        const char *dir = getenv("UPKEEP_SHARED");
        char path[1024];
        _cleanup_free_ char *data = NULL;
        size_t len;
        Graph *g = NULL;
        Error e = { { 0 } };

        snprintf(path, sizeof(path), "%s/testdata/fcos/golden-graph-2021-01-05.x86_64.json",
                 dir ? dir : "../shared");
        assert_int_equal(read_full_file(path, 64 << 20, &data, &len), 0);
        assert_int_equal(graph_parse_json(data, len, &g, &e), 0);
        assert_int_equal(g->n_nodes, 26);
        return g;
}

static Graph *parse(const char *json)
{
        Graph *g = NULL;
        Error e = { { 0 } };

        if (graph_parse_json(json, strlen(json), &g, &e) < 0)
                fail_msg("%s", e.message);
        return g;
}

static const char *payload_of(const Graph *g, const char *version)
{
        for (size_t i = 0; i < g->n_nodes; i++)
                if (strcmp(g->nodes[i].version, version) == 0)
                        return g->nodes[i].payload;
        fail_msg("no node %s", version);
        return NULL;
}

static TargetChoice choose(const Graph *g, const char *booted, char *const *deny, bool allow_downgrade)
{
        TargetChoice c;

        memset(&c, 0xa5, sizeof(c));
        assert_int_equal(agent_choose_target(g, booted, deny, allow_downgrade, &c), 0);
        return c;
}

static void test_golden_updates(void **state)
{
        Graph *g = golden();
        TargetChoice c;

        (void)state;
        /* An old 31 goes to the barrier first. */
        c = choose(g, payload_of(g, "31.20200108.3.0"), NULL, false);
        assert_int_equal(c.decision, TARGET_UPDATE);
        assert_int_equal(c.current, 0);
        assert_int_equal(c.target, 11);
        assert_string_equal(g->nodes[c.target].version, "31.20200517.3.0");
        assert_int_equal(c.n_candidates, 1);
        assert_int_equal(c.n_ignored, 0);
        assert_false(c.deadend);
        assert_null(c.deadend_reason);

        c = choose(g, payload_of(g, "31.20200517.3.0"), NULL, false);
        assert_int_equal(c.decision, TARGET_UPDATE);
        assert_int_equal(c.target, 13);

        c = choose(g, payload_of(g, "32.20201104.3.0"), NULL, false);
        assert_int_equal(c.decision, TARGET_UPDATE);
        assert_int_equal(c.current, 23);
        assert_int_equal(c.target, 24);
        assert_string_equal(g->nodes[c.target].version, "33.20201201.3.0");

        c = choose(g, payload_of(g, "33.20201201.3.0"), NULL, false);
        assert_int_equal(c.decision, TARGET_UPDATE);
        assert_int_equal(c.target, 25);
        assert_string_equal(g->nodes[c.target].version, "33.20201214.3.1");

        c = choose(g, payload_of(g, "33.20201214.3.1"), NULL, false);
        assert_int_equal(c.decision, TARGET_NO_UPDATE);
        assert_int_equal(c.current, 25);
        assert_int_equal(c.target, TARGET_NONE);
        assert_int_equal(c.n_candidates, 0);

        /* Every node of the golden graph but the newest has exactly one way forward, always newer. */
        for (size_t i = 0; i + 1 < g->n_nodes; i++) {
                c = choose(g, g->nodes[i].payload, NULL, false);
                assert_int_equal(c.decision, TARGET_UPDATE);
                assert_int_equal(c.current, i);
                assert_true(g->nodes[c.target].age_index > g->nodes[i].age_index);
        }
        graph_free(g);
}

static void test_not_in_graph(void **state)
{
        Graph *g = golden();
        TargetChoice c;
        char version_not_payload[64];

        (void)state;
        c = choose(g, "0000000000000000000000000000000000000000000000000000000000000000", NULL, false);
        assert_int_equal(c.decision, TARGET_NOT_IN_GRAPH);
        assert_int_equal(c.current, TARGET_NONE);
        assert_int_equal(c.target, TARGET_NONE);
        c = choose(g, "", NULL, false);
        assert_int_equal(c.decision, TARGET_NOT_IN_GRAPH);
        /* The version is never compared: a version string is no payload. */
        snprintf(version_not_payload, sizeof(version_not_payload), "%s", "33.20201201.3.0");
        c = choose(g, version_not_payload, NULL, false);
        assert_int_equal(c.decision, TARGET_NOT_IN_GRAPH);
        graph_free(g);
}

static void test_denylist(void **state)
{
        /* 0 → {1, 2, 3}; 3 is the newest. */
        Graph *g =
                parse("{\"nodes\":["
                      "{\"version\":\"1\",\"payload\":\"p0\",\"metadata\":{\"" META_AGE_INDEX "\":\"0\"}},"
                      "{\"version\":\"2\",\"payload\":\"p1\",\"metadata\":{\"" META_AGE_INDEX "\":\"1\"}},"
                      "{\"version\":\"3\",\"payload\":\"p2\",\"metadata\":{\"" META_AGE_INDEX "\":\"2\"}},"
                      "{\"version\":\"4\",\"payload\":\"p3\",\"metadata\":{\"" META_AGE_INDEX "\":\"3\"}}],"
                      "\"edges\":[[0,2],[0,3],[0,1],[0,3]]}");
        char *deny_best[] = { "p3", NULL };
        char *deny_two[] = { "zz", "p3", "p2", NULL };
        char *deny_all[] = { "p1", "p2", "p3", NULL };
        TargetChoice c;

        (void)state;
        c = choose(g, "p0", NULL, false);
        assert_int_equal(c.decision, TARGET_UPDATE);
        assert_int_equal(c.target, 3);
        assert_int_equal(c.n_candidates, 3); /* the duplicate edge counts once */
        assert_int_equal(c.n_ignored, 0);

        c = choose(g, "p0", deny_best, false);
        assert_int_equal(c.decision, TARGET_UPDATE);
        assert_int_equal(c.target, 2);
        assert_int_equal(c.n_ignored, 1);

        c = choose(g, "p0", deny_two, false);
        assert_int_equal(c.decision, TARGET_UPDATE);
        assert_int_equal(c.target, 1);
        assert_int_equal(c.n_ignored, 2);

        c = choose(g, "p0", deny_all, false);
        assert_int_equal(c.decision, TARGET_NO_UPDATE);
        assert_int_equal(c.target, TARGET_NONE);
        assert_int_equal(c.n_candidates, 3);
        assert_int_equal(c.n_ignored, 3);
        graph_free(g);
}

static void test_golden_denylist(void **state)
{
        Graph *g = golden();
        char *deny[] = { (char *)payload_of(g, "33.20201214.3.1"), NULL };
        TargetChoice c;

        (void)state;
        c = choose(g, payload_of(g, "33.20201201.3.0"), deny, false);
        assert_int_equal(c.decision, TARGET_NO_UPDATE);
        assert_int_equal(c.n_candidates, 1);
        assert_int_equal(c.n_ignored, 1);
        graph_free(g);
}

static void test_downgrade(void **state)
{
        /* The booted release (age 5) only has an edge back to age 2, and one to itself. */
        Graph *g = parse(
                "{\"nodes\":["
                "{\"version\":\"old\",\"payload\":\"pold\",\"metadata\":{\"" META_AGE_INDEX "\":\"2\"}},"
                "{\"version\":\"cur\",\"payload\":\"pcur\",\"metadata\":{\"" META_AGE_INDEX "\":\"5\"}},"
                "{\"version\":\"same\",\"payload\":\"psame\",\"metadata\":{\"" META_AGE_INDEX "\":\"0\"}}],"
                "\"edges\":[[1,0],[2,1],[2,2]]}");
        char *deny_self[] = { "pa", NULL };
        TargetChoice c;

        (void)state;
        c = choose(g, "pcur", NULL, false);
        assert_int_equal(c.decision, TARGET_DOWNGRADE_REFUSED);
        assert_int_equal(c.current, 1);
        assert_int_equal(c.target, 0);

        c = choose(g, "pcur", NULL, true);
        assert_int_equal(c.decision, TARGET_UPDATE);
        assert_int_equal(c.target, 0);

        /* Newest candidate wins even when it is older: 2 → {1 (age 5), 2 (itself)}. */
        c = choose(g, "psame", NULL, false);
        assert_int_equal(c.decision, TARGET_UPDATE);
        assert_int_equal(c.target, 1);

        /* An edge to itself is not newer. */
        Graph *h = parse("{\"nodes\":[{\"version\":\"a\",\"payload\":\"pa\",\"metadata\":{\"" META_AGE_INDEX
                         "\":\"1\"}}],\"edges\":[[0,0]]}");
        c = choose(h, "pa", NULL, false);
        assert_int_equal(c.decision, TARGET_DOWNGRADE_REFUSED);
        assert_int_equal(c.target, 0);
        c = choose(h, "pa", deny_self, true);
        assert_int_equal(c.decision, TARGET_NO_UPDATE);
        assert_int_equal(c.n_ignored, 1);
        graph_free(h);
        graph_free(g);
}

static void test_deadend(void **state)
{
        Graph *g =
                parse("{\"nodes\":["
                      "{\"version\":\"34.1\",\"payload\":\"pd\",\"metadata\":{\"" META_AGE_INDEX
                      "\":\"0\",\"" META_DEADEND "\":\"true\",\"" META_DEADEND_REASON
                      "\":\"https://github.com/coreos/fedora-coreos-tracker/issues/1\"}},"
                      "{\"version\":\"34.2\",\"payload\":\"pe\",\"metadata\":{\"" META_AGE_INDEX
                      "\":\"1\",\"" META_DEADEND "\":\"true\"}},"
                      "{\"version\":\"34.3\",\"payload\":\"pf\",\"metadata\":{\"" META_AGE_INDEX
                      "\":\"2\",\"" META_DEADEND "\":\"false\",\"" META_DEADEND_REASON "\":\"ignored\"}}],"
                      "\"edges\":[[1,2]]}");
        Buf b = BUF_INIT(4096);
        TargetChoice c;

        (void)state;
        c = choose(g, "pd", NULL, false);
        assert_int_equal(c.decision, TARGET_NO_UPDATE);
        assert_true(c.deadend);
        assert_string_equal(c.deadend_reason, "https://github.com/coreos/fedora-coreos-tracker/issues/1");
        assert_int_equal(agent_deadend_motd(c.deadend_reason, &b), 0);
        assert_string_equal(b.data, "This release is a dead-end and will not further auto-update: "
                                    "https://github.com/coreos/fedora-coreos-tracker/issues/1\n");

        /* A dead-end without a reason; the client still follows whatever edges the server sent. */
        c = choose(g, "pe", NULL, false);
        assert_true(c.deadend);
        assert_string_equal(c.deadend_reason, "");
        assert_int_equal(c.decision, TARGET_UPDATE);
        assert_int_equal(c.target, 2);

        c = choose(g, "pf", NULL, false);
        assert_false(c.deadend);
        assert_null(c.deadend_reason);

        /* A hostile reason cannot add lines, move the cursor or reorder text on the login screen. */
        buf_free(&b);
        b = (Buf)BUF_INIT(4096);
        assert_int_equal(agent_deadend_motd("a\x1b[2J\r\nroot# \xc2\x9b"
                                            "1m\xe2\x80\xae"
                                            "z",
                                            &b),
                         0);
        assert_string_equal(b.data, "This release is a dead-end and will not further auto-update: "
                                    "a?[2J  root# ?1m?z\n");

        /* A full buffer leaves it unchanged. */
        Buf small = BUF_INIT(10);
        assert_int_equal(buf_puts(&small, "abc"), 0);
        assert_int_equal(agent_deadend_motd("r", &small), -ENOBUFS);
        assert_string_equal(small.data, "abc");
        buf_free(&small);
        buf_free(&b);
        graph_free(g);
}

static void test_ordering_ties(void **state)
{
        /* Same age_index: version bytes decide ("10" < "9" bytewise), then the payload. */
        Graph *g = parse(
                "{\"nodes\":["
                "{\"version\":\"0\",\"payload\":\"start\",\"metadata\":{\"" META_AGE_INDEX "\":\"0\"}},"
                "{\"version\":\"10\",\"payload\":\"pz\",\"metadata\":{\"" META_AGE_INDEX "\":\"7\"}},"
                "{\"version\":\"9\",\"payload\":\"pa\",\"metadata\":{\"" META_AGE_INDEX "\":\"7\"}},"
                "{\"version\":\"9\",\"payload\":\"pb\",\"metadata\":{\"" META_AGE_INDEX "\":\"7\"}},"
                "{\"version\":\"99\",\"payload\":\"pc\",\"metadata\":{\"" META_AGE_INDEX "\":\"6\"}},"
                "{\"version\":\"9\",\"payload\":\"pb\",\"metadata\":{\"" META_AGE_INDEX "\":\"7\"}}],"
                "\"edges\":[[0,1],[0,2],[0,5],[0,3],[0,4]]}");
        char *deny_b[] = { "pb", NULL };
        char *deny_ab[] = { "pb", "pa", NULL };
        TargetChoice c;

        (void)state;
        c = choose(g, "start", NULL, false);
        assert_int_equal(c.decision, TARGET_UPDATE);
        assert_int_equal(c.target, 3);       /* the first node of the two equal releases */
        assert_int_equal(c.n_candidates, 4); /* nodes 3 and 5 are one release */

        c = choose(g, "start", deny_b, false);
        assert_int_equal(c.target, 2);
        assert_int_equal(c.n_ignored, 1);

        c = choose(g, "start", deny_ab, false);
        assert_int_equal(c.target, 1);

        GraphNode a = { .version = "9", .payload = "x", .age_index = 1 };
        GraphNode b = { .version = "9", .payload = "y", .age_index = 1 };
        GraphNode n = { .version = NULL, .payload = NULL, .age_index = 1 };
        assert_true(agent_node_compare(&a, &b) < 0);
        assert_true(agent_node_compare(&b, &a) > 0);
        assert_int_equal(agent_node_compare(&a, &a), 0);
        assert_true(agent_node_compare(&n, &a) < 0);
        graph_free(g);
}

static void test_first_match_and_defensive(void **state)
{
        /* Two nodes share the booted payload: the first one is current. */
        Graph *g =
                parse("{\"nodes\":["
                      "{\"version\":\"a\",\"payload\":\"dup\",\"metadata\":{\"" META_AGE_INDEX "\":\"0\"}},"
                      "{\"version\":\"b\",\"payload\":\"dup\",\"metadata\":{\"" META_AGE_INDEX "\":\"1\"}},"
                      "{\"version\":\"c\",\"payload\":\"pc\",\"metadata\":{\"" META_AGE_INDEX "\":\"2\"}}],"
                      "\"edges\":[[1,2]]}");
        Graph empty = { 0 };
        TargetChoice c;

        (void)state;
        c = choose(g, "dup", NULL, false);
        assert_int_equal(c.current, 0);
        assert_int_equal(c.decision, TARGET_NO_UPDATE);

        /* Out-of-range edges (not produced by graph_parse_json) are skipped, never followed. */
        GraphEdge bad[] = { { 0, 99 }, { 0, UINT32_MAX }, { 0, 2 } };
        GraphEdge *saved = g->edges;
        size_t saved_n = g->n_edges;
        g->edges = bad;
        g->n_edges = 3;
        c = choose(g, "dup", NULL, false);
        assert_int_equal(c.decision, TARGET_UPDATE);
        assert_int_equal(c.target, 2);
        assert_int_equal(c.n_candidates, 1);
        g->edges = saved;
        g->n_edges = saved_n;

        c = choose(&empty, "x", NULL, false);
        assert_int_equal(c.decision, TARGET_NOT_IN_GRAPH);
        assert_int_equal(agent_choose_target(NULL, "x", NULL, false, &c), -EINVAL);
        assert_int_equal(agent_choose_target(g, NULL, NULL, false, &c), -EINVAL);
        assert_int_equal(agent_choose_target(g, "x", NULL, false, NULL), -EINVAL);
        graph_free(g);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden_updates), cmocka_unit_test(test_not_in_graph),
                cmocka_unit_test(test_denylist),       cmocka_unit_test(test_golden_denylist),
                cmocka_unit_test(test_downgrade),      cmocka_unit_test(test_deadend),
                cmocka_unit_test(test_ordering_ties),  cmocka_unit_test(test_first_match_and_defensive),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
