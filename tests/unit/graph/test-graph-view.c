/* test-graph-view.c — the cache of serialized answers: one serialization per distinct hidden set, the
 * same bytes as serializing afresh, bounded size, and the uncached mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

static Blob *get(GraphView *v, double w, int64_t now, GraphAnswerEncoder encoder)
{
        Blob *b = NULL;

        assert_int_equal(graph_view_answer_hiding(v, w, now, NULL, encoder, &b), 0);
        return b;
}

/* A stand-in for gzip: the bytes reversed, the ETag with "-rev"; counts its calls. */
static unsigned long n_encoded;
static Blob *reverse(const Blob *answer)
{
        char *p = malloc(answer->len + 1), etag[GRAPH_ETAG_MAX];
        Blob *b;

        assert_non_null(p);
        for (size_t i = 0; i < answer->len; i++)
                p[i] = answer->data[answer->len - 1 - i];
        snprintf(etag, sizeof(etag), "%.17s-rev\"", graph_answer_etag(answer));
        b = graph_answer_new(p, answer->len, etag);
        free(p);
        __atomic_add_fetch(&n_encoded, 1, __ATOMIC_RELAXED);
        return b;
}

/* Each answer has a strong ETag: the same for the same bytes, another for other bytes. */
static void test_etags(void **state)
{
        GraphView *v = NULL, *u = NULL;
        Blob *a, *a2, *b, *c;
        const char *t;

        assert_int_equal(graph_view_new(build(), 16, &v), 0);
        assert_int_equal(graph_view_new(build(), 0, &u), 0);
        a = get(v, 0.0, 3000, NULL);
        a2 = get(u, 0.0, 3000, NULL); /* serialized anew: the same tag */
        b = get(v, 0.75, 3000, NULL);
        t = graph_answer_etag(a);
        assert_int_equal(strlen(t), 18);
        assert_true(t[0] == '"' && t[17] == '"' && strspn(t + 1, "0123456789abcdef") == 16);
        assert_int_equal(strlen(a->data), a->len); /* the body ends before the tag */
        assert_string_equal(graph_answer_etag(a2), t);
        assert_string_not_equal(graph_answer_etag(b), t);
        c = graph_answer_new("x", 1, "\"given\"");
        assert_string_equal(graph_answer_etag(c), "\"given\"");
        assert_int_equal(c->len, 1);
        assert_null(graph_answer_new("x", 1, "\"0123456789abcdef0123456789abcdef\""));
        blob_unref(a), blob_unref(a2), blob_unref(b), blob_unref(c);
        v = graph_view_free(v);
        u = graph_view_free(u);
}

/* An encoding is made once per cached answer, on first demand, and is the encoder's output. */
static void test_encoded(void **state)
{
        GraphView *v = NULL;
        Blob *plain, *enc, *again;

        n_encoded = 0;
        assert_int_equal(graph_view_new(build(), 16, &v), 0);
        plain = get(v, 0.0, 3000, NULL);
        assert_int_equal(n_encoded, 0);
        enc = get(v, 0.0, 3000, reverse);
        again = get(v, 0.0, 3000, reverse);
        assert_int_equal(n_encoded, 1);
        assert_ptr_equal(enc, again);
        assert_int_equal(enc->len, plain->len);
        assert_int_equal(enc->data[0], plain->data[plain->len - 1]);
        assert_int_equal(strlen(graph_answer_etag(enc)), 22);
        assert_memory_equal(graph_answer_etag(enc), graph_answer_etag(plain), 17);
        blob_unref(again);
        again = get(v, 0.75, 3000, reverse); /* not cached at all yet: one serialization, one encoding */
        assert_int_equal(n_encoded, 2);
        assert_int_equal(v->misses, 2);
        blob_unref(plain), blob_unref(enc), blob_unref(again);
        v = graph_view_free(v);

        assert_int_equal(graph_view_new(build(), 0, &v), 0); /* uncached: encoded every time */
        blob_unref(get(v, 0.0, 3000, reverse));
        blob_unref(get(v, 0.0, 3000, reverse));
        assert_int_equal(n_encoded, 4);
        v = graph_view_free(v);
}

static void *hammer(void *arg)
{
        GraphView *v = arg;
        for (int i = 0; i < 2000; i++) {
                Blob *b = NULL;
                if (graph_view_answer_hiding(v, (i % 11) / 10.0, 3000 + (i % 7) * 1000, NULL,
                                             i % 3 ? NULL : reverse, &b) < 0)
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
                cmocka_unit_test(test_cache_hits), cmocka_unit_test(test_cache_bounded),
                cmocka_unit_test(test_uncached),   cmocka_unit_test(test_etags),
                cmocka_unit_test(test_encoded),    cmocka_unit_test(test_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
