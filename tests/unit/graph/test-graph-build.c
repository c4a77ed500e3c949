/* test-graph-build.c — graph construction against fedora-coreos-cincinnati's golden graph, its throttle
 * checks, barriers, rollouts and dead-ends, the schemes, and the edge cap. */
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
#include "graph-build.h"
#include "json-util.h"
#include "graph-test-util.h"
#include "test-util.h"

static Graph *build_fcos(const char *arch, GraphScheme scheme)
{
        size_t rl, ul;
        _cleanup_free_ char *r = test_read_shared("testdata/fcos/releases-2021-01-05.json", &rl);
        _cleanup_free_ char *u = test_read_shared("testdata/fcos/updates-stable-4c055c1.json", &ul);
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        Graph *g = NULL;
        Error e = { { 0 } };

        assert_int_equal(release_index_parse(r, rl, &ri, &e), 0);
        assert_int_equal(update_metadata_parse(u, ul, &um, &e), 0);
        assert_int_equal(graph_build(ri, um, arch, scheme, &g, &e), 0);
        release_index_free(ri);
        update_metadata_free(um);
        return g;
}

static void test_golden_graph(void **state)
{
        Graph *g = build_fcos("x86_64", GRAPH_SCHEME_CHECKSUM);
        size_t gl;
        _cleanup_free_ char *golden_text =
                test_read_shared("testdata/fcos/golden-graph-2021-01-05.x86_64.json", &gl);
        json_t *golden = NULL, *ours = NULL;
        Buf b = BUF_INIT(1 << 20);
        Error e;

        assert_int_equal(g->n_nodes, 26);
        assert_int_equal(g->n_edges, 25);
        assert_int_equal(graph_write_json(g, NULL, &b), 0);
        assert_int_equal(json_parse_strict(golden_text, gl, &golden, &e), 0);
        assert_int_equal(json_parse_strict(b.data, b.len, &ours, &e), 0);

        json_t *gn = json_object_get(golden, "nodes"), *on = json_object_get(ours, "nodes");
        assert_int_equal(json_array_size(gn), json_array_size(on));
        for (size_t i = 0; i < json_array_size(gn); i++) {
                json_t *a = json_array_get(gn, i), *o = json_array_get(on, i);
                assert_string_equal(json_string_value(json_object_get(a, "version")),
                                    json_string_value(json_object_get(o, "version")));
                assert_string_equal(json_string_value(json_object_get(a, "payload")),
                                    json_string_value(json_object_get(o, "payload")));
                assert_true(json_equal(json_object_get(a, "metadata"), json_object_get(o, "metadata")));
                /* Field order on the wire: version, metadata, payload. */
                assert_int_equal(json_object_size(o), 3);
        }
        assert_true(json_equal(json_object_get(golden, "edges"), json_object_get(ours, "edges")));
        /* Metadata keys come in upstream's insertion order. */
        assert_non_null(strstr(b.data,
                               "\"metadata\":{\"org.fedoraproject.coreos.releases.age_index\":\"25\","
                               "\"org.fedoraproject.coreos.scheme\":\"checksum\","
                               "\"org.fedoraproject.coreos.updates.rollout\":\"true\","
                               "\"org.fedoraproject.coreos.updates.start_epoch\":\"1609860600\","
                               "\"org.fedoraproject.coreos.updates.start_value\":\"0\","
                               "\"org.fedoraproject.coreos.updates.duration_minutes\":\"2880\"}"));
        json_decref(golden);
        json_decref(ours);
        buf_free(&b);
        graph_free(g);
}

static size_t edges_into(const Graph *g, uint32_t to, double w, int64_t now)
{
        bool hidden[64];
        size_t n = 0;
        assert_true(g->n_nodes <= 64);
        graph_hidden_nodes(g, w, now, hidden);
        for (size_t i = 0; i < g->n_edges; i++)
                if (g->edges[i].to == to && !hidden[to])
                        n++;
        return n;
}

static void test_golden_throttle(void **state)
{
        Graph *g = build_fcos("x86_64", GRAPH_SCHEME_CHECKSUM);
        const int64_t s = 1609860600;

        /* The five checks listed in golden-graph-2021-01-05.txt for the edge (24, 25). */
        assert_int_equal(edges_into(g, 25, 0.0, s - 1), 1);
        assert_int_equal(edges_into(g, 25, 0.000001, s - 1), 0);
        assert_int_equal(edges_into(g, 25, 0.5, s + 86400), 1);
        assert_int_equal(edges_into(g, 25, 0.5000001, s + 86400), 0);
        assert_int_equal(edges_into(g, 25, 1.0, s + 172801), 1);
        /* The barrier 24 is a rollout at start_value 1 with no start: open to everyone. */
        assert_int_equal(edges_into(g, 24, 1.0, 0), 11);

        /* The mask form agrees with the per-node form. */
        assert_int_equal(g->n_rollouts, 2);
        assert_true(graph_hidden_mask(g, 0.5000001, s + 86400) == 2);
        assert_true(graph_hidden_mask(g, 0.5, s + 86400) == 0);
        graph_free(g);
}

static void test_other_arch_empty(void **state)
{
        Graph *g = build_fcos("aarch64", GRAPH_SCHEME_CHECKSUM);
        Buf b = BUF_INIT(1024);
        assert_int_equal(g->n_nodes, 0);
        assert_int_equal(g->n_edges, 0);
        assert_int_equal(graph_write_json(g, NULL, &b), 0);
        assert_string_equal(b.data, "{\"nodes\":[],\"edges\":[]}");
        buf_free(&b);
        graph_free(g);
}

static void test_oci_scheme(void **state)
{
        Graph *g = build_fcos("x86_64", GRAPH_SCHEME_OCI);
        /* Only the first release of the 2021 index carries an OCI image. */
        assert_int_equal(g->n_nodes, 1);
        assert_string_equal(g->nodes[0].payload,
                            "quay.io/fedora/fedora-coreos@sha256:"
                            "460576931cf4ce59afe432ea266234f9d34fa77f8ca3087282084bc3a7324632");
        assert_string_equal(g->nodes[0].meta_values[1], "oci");
        graph_free(g);
}

static void test_barriers_rollouts_deadends(void **state)
{
        /* 0 1 2(barrier) 3(deadend) 4(rollout) 5(barrier+rollout) 6(rollout, no duration) */
        const char *releases = "{\"releases\":[" REL("1", "a") "," REL("2", "b") "," REL("3", "c") "," REL(
                "4", "d") "," REL("5", "e") "," REL("6", "f") "," REL("7", "g") "]}";
        const char *updates =
                "{\"stream\":\"s\",\"releases\":["
                "{\"version\":\"3\",\"metadata\":{\"barrier\":{\"reason\":\"\"}}},"
                "{\"version\":\"4\",\"metadata\":{\"deadend\":{\"reason\":\"broken\"}}},"
                "{\"version\":\"5\",\"metadata\":{\"rollout\":{\"start_epoch\":100,\"start_percentage\":0."
                "25,"
                "\"duration_minutes\":0}}},"
                "{\"version\":\"6\",\"metadata\":{\"barrier\":{\"reason\":\"r\"},\"rollout\":{}}},"
                "{\"version\":\"7\",\"metadata\":{\"rollout\":{\"start_percentage\":0.5}}},"
                "{\"version\":\"404\",\"metadata\":{\"rollout\":{}}}]}";
        Error e = { { 0 } };
        int r;
        Graph *g = build_inline(releases, updates, &e, &r);

        assert_int_equal(r, 0);
        assert_int_equal(g->n_nodes, 7);
        assert_string_equal(g->nodes[2].meta_values[3], "generic"); /* empty reason */
        /* Rollout 6 (newest first): from barrier 5 → (5,6). Rollout 5: from barrier 2 → (2,5) (3,5)
         * (4,5) minus dead-end 3 → (2,5) (4,5). Rollout 4: (2,4) (3,4) minus 3 → (2,4).
         * Barrier 2 (not a rollout): (0,2) (1,2). Barrier 5 is a rollout: nothing. */
        GraphEdge expect[] = { { 5, 6 }, { 2, 5 }, { 4, 5 }, { 2, 4 }, { 0, 2 }, { 1, 2 } };
        assert_int_equal(g->n_edges, ELEMENTSOF(expect));
        for (size_t i = 0; i < ELEMENTSOF(expect); i++) {
                assert_int_equal(g->edges[i].from, expect[i].from);
                assert_int_equal(g->edges[i].to, expect[i].to);
        }
        /* duration 0 behaves as one minute; start_value formatted shortest. */
        assert_true(graph_node_throttle(&g->nodes[4], 99) == 0.0);
        assert_true(graph_node_throttle(&g->nodes[4], 100) == 0.25);
        assert_true(graph_node_throttle(&g->nodes[4], 130) == 0.625);
        assert_true(graph_node_throttle(&g->nodes[4], 161) == 1.0);
        /* No duration: stays at its start value forever, from epoch 0. */
        assert_true(graph_node_throttle(&g->nodes[6], 0) == 0.5);
        assert_true(graph_node_throttle(&g->nodes[6], 1LL << 40) == 0.5);
        assert_true(graph_node_throttle(&g->nodes[6], -1) == 0.0);
        /* A barrier rolled out with no parameters: start 0, value 0, no progress: only wariness 0. */
        assert_true(graph_node_throttle(&g->nodes[5], 1000) == 0.0);

        Buf b = BUF_INIT(1 << 16);
        assert_int_equal(graph_write_text(g, NULL, &b), 0);
        assert_non_null(strstr(b.data, "nodes 7 edges 6"));
        buf_truncate(&b, 0);
        assert_int_equal(graph_write_dot(g, NULL, &b), 0);
        assert_non_null(strstr(b.data, "n5 -> n6;"));
        buf_free(&b);
        graph_free(g);
}

static void test_edge_cap(void **state)
{
        /* 3000 releases all rolled out with no barrier: 3000*2999/2 edges > cap. */
        Buf rb = BUF_INIT(16 << 20), ub = BUF_INIT(16 << 20);
        Error e = { { 0 } };
        int r;

        buf_puts(&rb, "{\"releases\":[");
        buf_puts(&ub, "{\"stream\":\"s\",\"releases\":[");
        for (int i = 0; i < 3000; i++) {
                buf_printf(&rb,
                           "%s{\"version\":\"%d\",\"commits\":[{\"architecture\":\"x86_64\",\"checksum\":"
                           "\"c%d\"}]}",
                           i ? "," : "", i, i);
                buf_printf(&ub, "%s{\"version\":\"%d\",\"metadata\":{\"rollout\":{}}}", i ? "," : "", i);
        }
        buf_puts(&rb, "]}");
        buf_puts(&ub, "]}");
        Graph *g = build_inline(rb.data, ub.data, &e, &r);
        assert_null(g);
        assert_int_equal(r, -E2BIG);
        assert_non_null(strstr(e.message, "edges"));
        buf_free(&rb);
        buf_free(&ub);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden_graph),
                cmocka_unit_test(test_golden_throttle),
                cmocka_unit_test(test_other_arch_empty),
                cmocka_unit_test(test_oci_scheme),
                cmocka_unit_test(test_barriers_rollouts_deadends),
                cmocka_unit_test(test_edge_cap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
