/* test-graph.c — the graph model: a served graph (fedora-coreos-cincinnati's golden graph) parsed and
 * written back unchanged, metadata key order, the text and dot formats, malformed graph documents, and
 * the wariness vectors. Building graphs is tested in tests/unit/graph/test-graph-build.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "graph.h"
#include "json-util.h"
#include "test-util.h"

static void test_golden_round_trip(void **state)
{
        size_t gl;
        _cleanup_free_ char *golden_text =
                test_read_shared("testdata/fcos/golden-graph-2021-01-05.x86_64.json", &gl);
        json_t *golden = NULL, *ours = NULL;
        Buf b = BUF_INIT(1 << 20);
        Graph *g = NULL;
        Error e = { { 0 } };

        assert_int_equal(graph_parse_json(golden_text, gl, &g, &e), 0);
        assert_int_equal(g->n_nodes, 26);
        assert_int_equal(g->n_edges, 25);
        assert_int_equal(g->n_rollouts, 2);
        assert_int_equal(g->rollouts[1], 25);
        assert_true(g->nodes[25].has_start_epoch && g->nodes[25].start_epoch == 1609860600);
        assert_true(g->nodes[25].has_duration && g->nodes[25].duration_minutes == 2880);
        assert_true(g->nodes[25].has_start_value && g->nodes[25].start_value == 0.0);
        assert_int_equal(g->nodes[25].age_index, 25);
        assert_true(g->nodes[24].barrier);

        /* Written back, it is the same document, metadata keys in upstream's order. */
        assert_int_equal(graph_write_json(g, NULL, &b), 0);
        assert_int_equal(json_parse_strict(golden_text, gl, &golden, &e), 0);
        assert_int_equal(json_parse_strict(b.data, b.len, &ours, &e), 0);
        assert_true(json_equal(golden, ours));
        assert_non_null(strstr(b.data,
                               "\"metadata\":{\"org.fedoraproject.coreos.releases.age_index\":\"25\","
                               "\"org.fedoraproject.coreos.scheme\":\"checksum\","
                               "\"org.fedoraproject.coreos.updates.rollout\":\"true\","
                               "\"org.fedoraproject.coreos.updates.start_epoch\":\"1609860600\","
                               "\"org.fedoraproject.coreos.updates.start_value\":\"0\","
                               "\"org.fedoraproject.coreos.updates.duration_minutes\":\"2880\"}"));

        /* The nodes part and the edges part make the whole. */
        Buf parts = BUF_INIT(1 << 20);
        bool hidden[26] = { [25] = true };
        assert_int_equal(graph_write_json_nodes(g, &parts), 0);
        assert_true(parts.len < b.len && memcmp(parts.data, b.data, parts.len) == 0);
        assert_int_equal(graph_write_json_edges(g, hidden, &parts), 0);
        assert_null(strstr(parts.data, ",25]"));
        assert_non_null(strstr(b.data, "[24,25]"));
        json_decref(golden);
        json_decref(ours);
        buf_free(&b);
        buf_free(&parts);
        graph_free(g);
}

static void test_meta_order(void **state)
{
        GraphNode n = { 0 };

        assert_int_equal(graph_node_set_meta(&n, META_DURATION, "5"), 0);
        assert_int_equal(graph_node_set_meta(&n, META_AGE_INDEX, "1"), 0);
        assert_int_equal(graph_node_set_meta(&n, META_ROLLOUT, "true"), 0);
        assert_int_equal(graph_node_set_meta(&n, META_AGE_INDEX, "2"), 0); /* replaced in place */
        assert_int_equal(n.n_meta, 3);
        assert_string_equal(n.meta_keys[0], META_AGE_INDEX);
        assert_string_equal(n.meta_values[0], "2");
        assert_string_equal(n.meta_keys[1], META_ROLLOUT);
        assert_string_equal(n.meta_keys[2], META_DURATION);
        for (size_t k = 0; k < n.n_meta; k++)
                free(n.meta_values[k]);
}

#define NODE(v, p, md) "{\"version\":\"" v "\",\"payload\":\"" p "\",\"metadata\":{" md "}}"
#define AGE(i) "\"" META_AGE_INDEX "\":\"" i "\""

static void test_text_and_dot(void **state)
{
        const char *doc = "{\"nodes\":[" NODE("1", "aaaaaaaaaaaaaaaa", AGE("0")) "," NODE(
                "2", "b",
                AGE("1") ",\"" META_DEADEND
                         "\":\"true\",\"other.key\":\"x\"") "," NODE("3", "c",
                                                                     AGE("2") ",\"" META_BARRIER
                                                                              "\":\"true\"") "],"
                                                                                             "\"edges\":[[0,"
                                                                                             "2],[1,2],[0,1]"
                                                                                             "]}";
        Buf b = BUF_INIT(1 << 16);
        Graph *g = NULL;
        Error e = { { 0 } };
        bool hidden[3] = { false, true, false };

        assert_int_equal(graph_parse_json(doc, strlen(doc), &g, &e), 0);
        assert_int_equal(g->nodes[1].n_meta, 2); /* unknown keys are not kept */
        /* Edges out of the dead-end 1 are dropped; hidden drops the edge into 1. */
        assert_int_equal(graph_write_text(g, hidden, &b), 0);
        assert_string_equal(b.data, "nodes 3 edges 1\n"
                                    "   0  1                        aaaaaaaaaaaa  age 0\n"
                                    "   1  2                        b  age 1  deadend  hidden\n"
                                    "   2  3                        c  age 2  barrier\n"
                                    "0 -> 2  (1 -> 3)\n");
        buf_truncate(&b, 0);
        assert_int_equal(graph_write_dot(g, NULL, &b), 0);
        assert_string_equal(b.data, "digraph update_graph {\n  rankdir=LR;\n  node [shape=box];\n"
                                    "  n0 [label=\"1\"];\n  n1 [label=\"2\", color=red];\n"
                                    "  n2 [label=\"3\", penwidth=3];\n  n0 -> n2;\n  n0 -> n1;\n}\n");
        buf_free(&b);
        graph_free(g);
}

static void expect_bad_graph(const char *doc, int err, const char *msg)
{
        Graph *g = NULL;
        Error e = { { 0 } };

        assert_int_equal(graph_parse_json(doc, strlen(doc), &g, &e), err);
        assert_null(g);
        if (!strstr(e.message, msg))
                fail_msg("error '%s' does not contain '%s'", e.message, msg);
}

static void test_parse_malformed(void **state)
{
        expect_bad_graph("{\"nodes\":[]}", -EINVAL, "graph: missing field 'edges'");
        expect_bad_graph("{\"nodes\":[" NODE("1", "a", "") "],\"edges\":[]}", -EINVAL,
                         "node 0 (1): missing metadata '" META_AGE_INDEX "'");
        expect_bad_graph("{\"nodes\":[" NODE("1", "a", AGE("x")) "],\"edges\":[]}", -EINVAL,
                         "is not a number: 'x'");
        expect_bad_graph("{\"nodes\":[" NODE("1", "a", "\"" META_AGE_INDEX "\":0") "],\"edges\":[]}",
                         -EINVAL, "must be a string, got integer");
        expect_bad_graph("{\"nodes\":[{\"version\":\"1\",\"metadata\":{}}],\"edges\":[]}", -EINVAL,
                         "node 0: missing field 'payload'");
        expect_bad_graph("{\"nodes\":[" NODE("1", "a", AGE("0")) "],\"edges\":[[0,1]]}", -EINVAL,
                         "graph: edge 0 must be [from, to] with node indices below 1");
        expect_bad_graph("{\"nodes\":[" NODE("1", "a", AGE("0")) "],\"edges\":[[0,-1]]}", -EINVAL, "edge 0");
        expect_bad_graph("{\"nodes\":[" NODE("1", "a", AGE("0")) "],\"edges\":[[0]]}", -EINVAL, "edge 0");
}

static void test_wariness_vectors(void **state)
{
        struct {
                const char *uuid;
                double w;
        } v[] = {
                { "", 0.18848315746051456 },
                { "e0f3745b108f471cbd4883c6fbed8cdd", 0.65332340006517164 },
                { "c988d2509fdf5cdcbed39037c56406fb", 0.24629033157461000 },
                { "975228d46dc94622b9bbe16671e2b58d", 0.70578419997725728 },
        };
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                double w = wariness_from_uuid(v[i].uuid, strlen(v[i].uuid));
                assert_true(w > v[i].w - 1e-15 && w < v[i].w + 1e-15);
        }
        double w;
        assert_int_equal(wariness_parse("0.5", &w), 0);
        assert_true(w == 0.5);
        assert_int_equal(wariness_parse("7", &w), 0);
        assert_true(w == 1.0);
        assert_int_equal(wariness_parse("-3", &w), 0);
        assert_true(w == 0.0);
        assert_int_equal(wariness_parse("abc", &w), -EINVAL);
        assert_int_equal(wariness_parse("nan", &w), -EINVAL);
        assert_int_equal(wariness_parse("", &w), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden_round_trip), cmocka_unit_test(test_meta_order),
                cmocka_unit_test(test_text_and_dot),      cmocka_unit_test(test_parse_malformed),
                cmocka_unit_test(test_wariness_vectors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
