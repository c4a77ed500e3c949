/* test-graph-view.c — the cache of serialized answers: one serialization per distinct hidden set, the
 * same bytes as serializing afresh, bounded size, and the uncached mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "graph-build.h"
#include "graph-view.h"

#define REL(v) "{\"version\":\"" v "\",\"commits\":[{\"architecture\":\"x86_64\",\"checksum\":\"c" v "\"}]}"

static Graph *build(void)
{
        const char *releases = "{\"releases\":[" REL("1") "," REL("2") "," REL("3") "]}";
        /* Two rollouts: 2 ramps over 100 minutes from t=0, 3 ramps over 100 minutes from t=3000. */
        const char *updates = "{\"stream\":\"s\",\"releases\":["
                              "{\"version\":\"2\",\"metadata\":{\"rollout\":{\"start_epoch\":0,\"duration_"
                              "minutes\":100}}},"
                              "{\"version\":\"3\",\"metadata\":{\"rollout\":{\"start_epoch\":3000,"
                              "\"duration_minutes\":100}}}]}";
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        Graph *g = NULL;
        Error e;

        assert_int_equal(release_index_parse(releases, strlen(releases), &ri, &e), 0);
        assert_int_equal(update_metadata_parse(updates, strlen(updates), &um, &e), 0);
        assert_int_equal(graph_build(ri, um, "x86_64", GRAPH_SCHEME_CHECKSUM, &g, &e), 0);
        release_index_free(ri);
        update_metadata_free(um);
        return g;
}

static void expect_same_as_fresh(GraphView *v, double w, int64_t now)
{
        Blob *b = NULL;
        bool hidden[3];
        Buf fresh = BUF_INIT(1 << 20);

        assert_int_equal(graph_view_answer(v, w, now, &b), 0);
        graph_hidden_nodes(v->graph, w, now, hidden);
        assert_int_equal(graph_write_json(v->graph, hidden, &fresh), 0);
        assert_int_equal(b->len, fresh.len);
        assert_memory_equal(b->data, fresh.data, fresh.len);
        blob_unref(b);
        buf_free(&fresh);
}

static void test_cache_hits(void **state)
{
        GraphView *v = NULL;
        assert_int_equal(graph_view_new(build(), 16, &v), 0);

        /* At t=3000, node 2 is at 0.5, node 3 at 0: three distinct answers whatever the wariness. */
        for (int i = 0; i <= 100; i++)
                expect_same_as_fresh(v, i / 100.0, 3000);
        assert_int_equal(v->misses, 3);
        assert_int_equal(v->hits, 98);
        assert_int_equal(v->n_used, 3);
        v = graph_view_free(v);
}

static void test_cache_bounded(void **state)
{
        GraphView *v = NULL;
        assert_int_equal(graph_view_new(build(), 2, &v), 0);
        expect_same_as_fresh(v, 0.0, 3000);  /* nothing hidden */
        expect_same_as_fresh(v, 0.25, 3000); /* 3 hidden */
        assert_int_equal(v->n_used, 2);
        expect_same_as_fresh(v, 0.75, 3000); /* 2 and 3 hidden: full → cleared, then stored */
        assert_int_equal(v->n_used, 1);
        expect_same_as_fresh(v, 0.75, 3000);
        assert_int_equal(v->hits, 1);
        v = graph_view_free(v);
}

static void test_uncached(void **state)
{
        GraphView *v = NULL;
        assert_int_equal(graph_view_new(build(), 0, &v), 0);
        for (int i = 0; i <= 10; i++)
                expect_same_as_fresh(v, i / 10.0, 3000 + i * 600);
        assert_int_equal(v->hits, 0);
        assert_int_equal(v->n_used, 0);
        v = graph_view_free(v);
}

static void *hammer(void *arg)
{
        GraphView *v = arg;
        for (int i = 0; i < 2000; i++) {
                Blob *b = NULL;
                if (graph_view_answer(v, (i % 11) / 10.0, 3000 + (i % 7) * 1000, &b) < 0)
                        return (void *)1;
                blob_unref(b);
        }
        return NULL;
}

static void test_threads(void **state)
{
        GraphView *v = NULL;
        pthread_t t[8];
        void *res;

        assert_int_equal(graph_view_new(build(), 4, &v), 0);
        for (int i = 0; i < 8; i++)
                assert_int_equal(pthread_create(&t[i], NULL, hammer, v), 0);
        for (int i = 0; i < 8; i++) {
                assert_int_equal(pthread_join(t[i], &res), 0);
                assert_null(res);
        }
        assert_int_equal(v->hits + v->misses, 16000);
        v = graph_view_free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cache_hits),
                cmocka_unit_test(test_cache_bounded),
                cmocka_unit_test(test_uncached),
                cmocka_unit_test(test_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
