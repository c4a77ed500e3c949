/* test-graph-stream.c — a stream's graphs built from fedora-coreos-cincinnati's inputs, kept when the
 * inputs do not change, kept (last good) when new inputs are broken or for another stream, swapped while
 * a request still holds the old ones; rollout pauses applied to what it builds; the status counters;
 * finding streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "graph-stream.h"
#include "test-util.h"

typedef struct Fixture {
        GraphConfig *config;
        GraphStreams gs;
        char *releases, *updates;
        size_t rlen, ulen;
} Fixture;

static int setup(void **state)
{
        static const char toml[] = "[streams.stable]\nreleases = \"r.json\"\nupdates = \"u.json\"\n"
                                   "basearches = [\"x86_64\", \"aarch64\"]\n"
                                   "[streams.testing]\nbasearches = [\"x86_64\"]\n";
        Fixture *f = calloc(1, sizeof(*f));
        char **warnings = NULL;
        Error e = { { 0 } };

        assert_non_null(f);
        assert_int_equal(graph_config_parse(toml, strlen(toml), "graph.toml", &f->config, &warnings, &e), 0);
        strv_free(warnings);
        assert_int_equal(graph_streams_init(&f->gs, f->config, 1000), 0);
        for (size_t i = 0; i < f->gs.n_streams; i++) {
                f->gs.streams[i]->releases = strdup("releases.json");
                f->gs.streams[i]->updates = strdup("updates.json");
                assert_non_null(f->gs.streams[i]->releases);
                assert_non_null(f->gs.streams[i]->updates);
        }
        f->releases = test_read_shared("testdata/fcos/releases-2021-01-05.json", &f->rlen);
        f->updates = test_read_shared("testdata/fcos/updates-stable-4c055c1.json", &f->ulen);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        Fixture *f = *state;

        graph_streams_done(&f->gs);
        graph_config_free(f->config);
        free(f->releases);
        free(f->updates);
        free(f);
        return 0;
}

static void test_build_and_keep(void **state)
{
        Fixture *f = *state;
        Stream *s = graph_streams_find(&f->gs, "stable");
        Error e = { { 0 } };
        StreamGraph *sg, *first;

        assert_non_null(s);
        assert_ptr_equal(graph_streams_find(&f->gs, "testing"), f->gs.streams[1]);
        assert_null(graph_streams_find(&f->gs, "nope"));
        assert_null(stream_get(s));
        assert_int_equal(graph_streams_ready(&f->gs), 0);
        assert_int_equal(f->gs.started_at, 1000);

        assert_int_equal(stream_update(s, 16, f->releases, f->rlen, f->updates, f->ulen, NULL, &e), 1);
        assert_int_equal(graph_streams_ready(&f->gs), 1);
        first = sg = stream_get(s);
        assert_non_null(sg);
        assert_int_equal(sg->n_arches, 2);
        assert_int_equal(stream_graph_view(sg, 0, GRAPH_SCHEME_CHECKSUM)->graph->n_nodes, 26);
        assert_int_equal(stream_graph_view(sg, 0, GRAPH_SCHEME_CHECKSUM)->graph->n_edges, 25);
        assert_int_equal(stream_graph_view(sg, 0, GRAPH_SCHEME_OCI)->graph->n_nodes, 1);
        assert_int_equal(stream_graph_view(sg, 1, GRAPH_SCHEME_CHECKSUM)->graph->n_nodes, 0);
        stream_graph_unref(sg);

        /* The same bytes again: nothing rebuilt, the cached answers stay. */
        assert_int_equal(stream_update(s, 16, f->releases, f->rlen, f->updates, f->ulen, NULL, &e), 0);
        sg = stream_get(s);
        assert_ptr_equal(sg, first);
        stream_graph_unref(sg);
}

/* The stream's pauses are applied to every graph it builds; a stale stream rebuilds from the same inputs. */
static void test_pauses_applied(void **state)
{
        static const char updates[] =
                "{\"stream\":\"stable\",\"releases\":[{\"version\":\"33.20201214.3.1\","
                "\"metadata\":{\"rollout\":{\"start_epoch\":1000,\"start_percentage\":0.0,"
                "\"duration_minutes\":100}}}]}";
        Fixture *f = *state;
        Stream *s = graph_streams_find(&f->gs, "stable");
        GraphNode orig = { .rollout = true,
                           .has_start_epoch = true,
                           .start_epoch = 1000,
                           .has_duration = true,
                           .duration_minutes = 100 };
        GraphPause pauses[2];
        Error e = { { 0 } };
        StreamGraph *sg;
        const Graph *g;
        size_t k;

        assert_int_equal(stream_update(s, 16, f->releases, f->rlen, updates, strlen(updates), NULL, &e), 1);
        sg = stream_get(s);
        g = stream_graph_view(sg, 0, GRAPH_SCHEME_CHECKSUM)->graph;
        assert_int_equal(g->n_rollouts, 1);
        k = g->rollouts[0];
        assert_string_equal(g->nodes[k].version, "33.20201214.3.1");
        assert_true(graph_node_throttle(&g->nodes[k], 1000 + 3000) == 0.5); /* live: half-way */
        stream_graph_unref(sg);

        /* Paused 1200 s in (20%), and another stream's pause of the same version. */
        assert_int_equal(graph_pause_init(&pauses[0], "testing", "33.20201214.3.1", &orig, 1000, "x"), 0);
        assert_int_equal(graph_pause_init(&pauses[1], "stable", "33.20201214.3.1", &orig, 1000 + 1200, "y"),
                         0);
        s->pauses = pauses;
        s->n_pauses = 2;
        assert_int_equal(stream_update(s, 16, f->releases, f->rlen, updates, strlen(updates), NULL, &e), 0);
        s->stale = true;
        assert_int_equal(stream_update(s, 16, f->releases, f->rlen, updates, strlen(updates), NULL, &e), 1);
        sg = stream_get(s);
        for (size_t a = 0; a < sg->n_arches; a++) {
                g = stream_graph_view(sg, a, GRAPH_SCHEME_CHECKSUM)->graph;
                for (size_t i = 0; i < g->n_rollouts; i++)
                        assert_true(fabs(graph_node_throttle(&g->nodes[g->rollouts[i]], 1000 + 3000) - 0.2) <
                                    1e-9);
        }
        g = stream_graph_view(sg, 0, GRAPH_SCHEME_CHECKSUM)->graph;
        assert_int_equal(g->n_rollouts, 1);
        assert_true(fabs(graph_node_throttle(&g->nodes[g->rollouts[0]], 1000 + 999999) - 0.2) < 1e-9);
        stream_graph_unref(sg);
        s->pauses = NULL;
        s->n_pauses = 0;
}

static void expect_kept(Stream *s, const char *rdata, const char *udata, const char *msg)
{
        StreamGraph *before = stream_get(s), *after;
        Error e = { { 0 } };

        assert_int_equal(stream_update(s, 16, rdata, strlen(rdata), udata, strlen(udata), NULL, &e),
                         -EINVAL);
        if (!strstr(e.message, msg))
                fail_msg("error '%s' does not contain '%s'", e.message, msg);
        after = stream_get(s);
        assert_ptr_equal(before, after);
        stream_graph_unref(before);
        stream_graph_unref(after);
}

static void test_last_good_kept(void **state)
{
        Fixture *f = *state;
        Stream *stable = f->gs.streams[0], *testing = f->gs.streams[1];
        Error e = { { 0 } };

        assert_int_equal(stream_update(stable, 16, f->releases, f->rlen, f->updates, f->ulen, NULL, &e), 1);
        expect_kept(stable, f->releases, "{\"stream\":\"stable\"", "updates.json: line 1");
        expect_kept(stable, "{\"releases\":7}", f->updates,
                    "releases.json: release index: field 'releases'");
        expect_kept(stable, "{\"stream\":\"next\",\"releases\":[]}", f->updates,
                    "releases.json: release index is for stream 'next', not 'stable'");
        /* stable's update metadata is not testing's: it never gets a graph from it. */
        expect_kept(testing, f->releases, f->updates,
                    "updates.json: update metadata is for stream 'stable', not 'testing'");
        assert_null(stream_get(testing));
        assert_int_equal(graph_streams_ready(&f->gs), 1);
}

static void test_swap_while_held(void **state)
{
        Fixture *f = *state;
        Stream *s = f->gs.streams[0];
        const char *small = "{\"releases\":[{\"version\":\"1\",\"commits\":[{\"architecture\":\"x86_64\","
                            "\"checksum\":\"c\"}]}]}";
        StreamGraph *held, *now;
        Error e = { { 0 } };

        assert_int_equal(stream_update(s, 16, f->releases, f->rlen, f->updates, f->ulen, NULL, &e), 1);
        held = stream_get(s);
        assert_int_equal(stream_update(s, 16, small, strlen(small), f->updates, f->ulen, NULL, &e), 1);
        now = stream_get(s);
        assert_ptr_not_equal(held, now);
        assert_int_equal(stream_graph_view(now, 0, GRAPH_SCHEME_CHECKSUM)->graph->n_nodes, 1);
        /* The old graphs stay whole until their last user lets go. */
        assert_int_equal(stream_graph_view(held, 0, GRAPH_SCHEME_CHECKSUM)->graph->n_nodes, 26);
        assert_null(stream_graph_unref(held));
        assert_null(stream_graph_unref(now));
}

static void test_status_counters(void **state)
{
        uint64_t c[_GRAPH_STATUS_MAX] = { 0 };

        graph_count_status(c, 200);
        graph_count_status(c, 200);
        graph_count_status(c, 503);
        graph_count_status(c, 418);
        graph_count_status(c, 0);
        graph_count_status(c, 304);
        assert_int_equal(c[GRAPH_STATUS_200], 2);
        assert_int_equal(c[GRAPH_STATUS_304], 1);
        assert_int_equal(c[GRAPH_STATUS_503], 1);
        assert_int_equal(c[GRAPH_STATUS_OTHER], 2);
        assert_int_equal(c[GRAPH_STATUS_404], 0);
        assert_int_equal(graph_status_code(GRAPH_STATUS_413), 413);
        assert_int_equal(graph_status_code(GRAPH_STATUS_OTHER), 0);
        for (GraphStatus s = 0; s < GRAPH_STATUS_OTHER; s++) {
                uint64_t one[_GRAPH_STATUS_MAX] = { 0 };
                graph_count_status(one, graph_status_code(s));
                assert_int_equal(one[s], 1);
        }
}

static GraphConfig *parse_config(const char *toml)
{
        GraphConfig *c = NULL;
        char **warnings = NULL;
        Error e = { { 0 } };

        assert_int_equal(graph_config_parse(toml, strlen(toml), "graph.toml", &c, &warnings, &e), 0);
        strv_free(warnings);
        return c;
}

static char **sources_of(const GraphConfig *c, const char *suffix)
{
        char **l = calloc(2 * c->n_streams + 1, sizeof(char *));
        char buf[256];

        assert_non_null(l);
        for (size_t i = 0; i < c->n_streams; i++) {
                snprintf(buf, sizeof(buf), "%s%s", c->streams[i].releases, suffix);
                assert_non_null(l[2 * i] = strdup(buf));
                snprintf(buf, sizeof(buf), "%s%s", c->streams[i].updates, suffix);
                assert_non_null(l[2 * i + 1] = strdup(buf));
        }
        return l;
}

/* A reload: kept streams keep their graphs and counters (stale when their sources or basearches
 * changed), new ones start empty, removed ones go; requests see the new set. */
static void test_reconfigure(void **state)
{
        Fixture *f = *state;
        Stream *stable = graph_streams_find(&f->gs, "stable"),
               *testing = graph_streams_find(&f->gs, "testing");
        GraphConfig *c;
        Error e = { { 0 } };
        char **src;
        size_t a;

        assert_int_equal(stream_update(stable, 16, f->releases, f->rlen, f->updates, f->ulen, NULL, &e), 1);
        assert_int_equal(stream_update(testing, 16, f->releases, f->rlen, f->updates, f->ulen, NULL, &e),
                         -EINVAL);
        graph_count_status(stable->requests, 200);

        /* stable loses aarch64, testing goes, next comes. */
        c = parse_config("[streams.next]\nbasearches = [\"x86_64\"]\n"
                         "[streams.stable]\nreleases = \"r.json\"\nupdates = \"u.json\"\n"
                         "basearches = [\"x86_64\"]\n");
        src = sources_of(c, "");
        assert_int_equal(graph_streams_reconfigure(&f->gs, c, src, false), 0);
        for (size_t i = 0; i < 4; i++)
                assert_null(src[i]); /* taken over */
        free(src);
        graph_config_free(f->config);
        f->config = c;

        assert_int_equal(f->gs.n_streams, 2);
        assert_null(graph_streams_find(&f->gs, "testing"));
        assert_ptr_equal(graph_streams_find(&f->gs, "stable"), stable);
        assert_ptr_equal(f->gs.streams[1], stable);
        assert_ptr_equal(stable->cfg, &c->streams[1]);
        assert_string_equal(stable->releases, "r.json");
        assert_true(stable->stale);
        assert_int_equal(stable->requests[GRAPH_STATUS_200], 1);
        /* Until rebuilt it serves the graphs it has, aarch64 included; then only x86_64. */
        StreamGraph *sg = stream_get(stable);
        assert_int_equal(stream_graph_find_arch(sg, "aarch64", &a), 0);
        stream_graph_unref(sg);
        assert_int_equal(stream_update(stable, 16, f->releases, f->rlen, f->updates, f->ulen, NULL, &e), 1);
        assert_false(stable->stale);
        sg = stream_get(stable);
        assert_int_equal(stream_graph_find_arch(sg, "aarch64", &a), -ENOENT);
        assert_int_equal(stream_graph_find_arch(sg, "x86_64", &a), 0);
        stream_graph_unref(sg);
        Stream *next = graph_streams_find(&f->gs, "next");
        assert_non_null(next);
        assert_null(stream_get(next));
        assert_string_equal(next->updates, "/var/lib/upkeep/graph/next/updates.json");

        /* The same settings again: nothing stale, the graph is kept; all_stale (cache size) rebuilds. */
        c = parse_config("[streams.next]\nbasearches = [\"x86_64\"]\n"
                         "[streams.stable]\nreleases = \"r.json\"\nupdates = \"u.json\"\n"
                         "basearches = [\"x86_64\"]\n");
        src = sources_of(c, "");
        assert_int_equal(graph_streams_reconfigure(&f->gs, c, src, false), 0);
        free(src);
        graph_config_free(f->config);
        f->config = c;
        assert_false(stable->stale);
        assert_int_equal(stream_update(stable, 16, f->releases, f->rlen, f->updates, f->ulen, NULL, &e), 0);
        src = sources_of(c, "");
        assert_int_equal(graph_streams_reconfigure(&f->gs, c, src, true), 0);
        free(src);
        assert_true(stable->stale);
        /* A moved source makes it stale too. */
        assert_int_equal(stream_update(stable, 16, f->releases, f->rlen, f->updates, f->ulen, NULL, &e), 1);
        src = sources_of(c, ".new");
        assert_int_equal(graph_streams_reconfigure(&f->gs, c, src, false), 0);
        free(src);
        assert_true(stable->stale);
        assert_string_equal(stable->updates, "u.json.new");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_build_and_keep, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pauses_applied, setup, teardown),
                cmocka_unit_test_setup_teardown(test_last_good_kept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_swap_while_held, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reconfigure, setup, teardown),
                cmocka_unit_test(test_status_counters),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
