/* test-graph-status-page.c — the status page's renderer: texts from inputs escaped and cleaned, the figures
 * (percentages, ETA, counts, pause reasons, lock holders and ages) where the page says they are, the caps
 * on what is drawn and on the page; and the parser of upkeep-lock's GET /v1/groups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-build.h"
#include "graph-status-page.h"

#define T0 INT64_C(1767225600) /* 2026-01-01 00:00:00 UTC */

static size_t count(const char *hay, const char *needle)
{
        size_t n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static void test_put_text(void **state)
{
        Buf b = BUF_INIT(1 << 20);
        char *long_text = malloc(5000);

        assert_int_equal(graph_status_put_text(&b, "<script>alert('x')</script>&\"", 29), 0);
        assert_string_equal(b.data, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
        buf_truncate(&b, 0);
        /* Terminal escapes, newlines, invalid UTF-8, bidi controls: cleaned before escaping. */
        assert_int_equal(graph_status_put_text(&b, "a\x1b[31mb\nc\xff\xe2\x80\xae", 11), 0);
        assert_string_equal(b.data, "a?[31mb c??");
        buf_truncate(&b, 0);
        assert_int_equal(graph_status_put_text(&b, NULL, 0), 0);
        assert_int_equal(b.len, 0);
        /* Cut at GRAPH_STATUS_MAX_TEXT bytes. */
        assert_non_null(long_text);
        memset(long_text, 'x', 4999);
        long_text[4999] = 0;
        assert_int_equal(graph_status_put_text(&b, long_text, 4999), 0);
        assert_int_equal(b.len, GRAPH_STATUS_MAX_TEXT);
        free(long_text);
        buf_free(&b);
}

static const char lock_json[] =
        "{\"groups\":[{\"name\":\"default\",\"slots\":2,\"holders\":[{\"id\":\"node-<a>\",\"since\":"
        "1767225570,"
        "\"age_secs\":30}],\"paused\":false,\"paused_in_config\":false,\"max_hold_secs\":20,\"settle_secs\":"
        "0,"
        "\"last_release\":0,\"window\":{\"configured\":true,\"open\":false,\"next_open\":1}},"
        "{\"name\":\"workers\",\"slots\":1,\"holders\":[],\"paused\":true,\"window\":{\"configured\":false,"
        "\"open\":true},\"future\":[1,2]}]}";

static void test_lock_parse(void **state)
{
        GraphStatusLock l = { 0 };
        Error e = { { 0 } };
        char *big;
        size_t n;

        assert_int_equal(graph_status_lock_parse(lock_json, strlen(lock_json), &l, &e), 0);
        assert_int_equal(l.n_groups, 2);
        assert_string_equal(l.groups[0].name, "default");
        assert_int_equal(l.groups[0].slots, 2);
        assert_int_equal(l.groups[0].n_holders, 1);
        assert_string_equal(l.groups[0].holders[0].id, "node-<a>"); /* escaped when rendered */
        assert_int_equal(l.groups[0].holders[0].age_secs, 30);
        assert_int_equal(l.groups[0].max_hold_secs, 20);
        assert_true(l.groups[0].window_configured);
        assert_false(l.groups[0].window_open);
        assert_true(l.groups[1].paused);
        graph_status_lock_done(&l);

        /* Errors name the group and the member. */
        const char *bad[][2] = {
                { "[]", "must be a JSON object" },
                { "{}", "groups" },
                { "{\"groups\":[1]}", "groups[0] must be an object" },
                { "{\"groups\":[{\"slots\":1}]}", "name" },
                { "{\"groups\":[{\"name\":\"a\",\"slots\":\"1\"}]}", "slots" },
                { "{\"groups\":[{\"name\":\"a\",\"slots\":1,\"paused\":1}]}",
                  "field 'paused' must be a boolean, got integer" },
                { "{\"groups\":[{\"name\":\"a\",\"slots\":1,\"holders\":[{\"id\":5}]}]}", "a: holders[0]" },
                { "{\"groups\":[{\"name\":\"a\",\"slots\":1,\"holders\":[{\"id\":\"x\",\"age_secs\":-1}]}]}",
                  "age_secs" },
                { "{\"groups\":[]} trailing", "" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                e.message[0] = 0;
                assert_int_equal(graph_status_lock_parse(bad[i][0], strlen(bad[i][0]), &l, &e), -EINVAL);
                assert_non_null(strstr(e.message, bad[i][1]));
        }

        /* Caps: groups and holders past them are counted, not kept. */
        big = malloc(300 * 64 + 64);
        assert_non_null(big);
        n = (size_t)sprintf(big, "{\"groups\":[");
        for (int i = 0; i < 300; i++)
                n += (size_t)sprintf(big + n, "%s{\"name\":\"g%d\",\"slots\":1}", i ? "," : "", i);
        n += (size_t)sprintf(big + n, "]}");
        assert_int_equal(graph_status_lock_parse(big, n, &l, &e), 0);
        assert_int_equal(l.n_groups, GRAPH_STATUS_LOCK_MAX_GROUPS);
        assert_int_equal(l.n_groups_dropped, 300 - GRAPH_STATUS_LOCK_MAX_GROUPS);
        graph_status_lock_done(&l);
        free(big);
}

/* A stream "stable": 1.0 -> 2.0 (a barrier) -> 3.0 (a rollout over 100 minutes from T0, paused at T0 + 25
 * minutes: frozen at 25%) and 2.5 (a dead-end). */
typedef struct Fixture {
        GraphNode nodes[4];
        GraphEdge edges[3];
        uint32_t rollouts[1];
        Graph g;
        GraphPause pause, pauses[2]; /* pauses: pause and one of a release not in the graph */
        GraphReportCounts counts;
        GraphStatusLock lock;
        GraphStatusStream stream;
        GraphStatusSnapshot snap;
} Fixture;

static void fixture_init(Fixture *f, int64_t now)
{
        Error e = { { 0 } };

        memset(f, 0, sizeof(*f));
        f->nodes[0] = (GraphNode){ .version = "1.0", .age_index = 0 };
        f->nodes[1] = (GraphNode){ .version = "2.0", .age_index = 1, .barrier = true };
        f->nodes[2] = (GraphNode){ .version = "2.5", .age_index = 2, .deadend = true };
        f->nodes[3] = (GraphNode){ .version = "3.0",
                                   .age_index = 3,
                                   .rollout = true,
                                   .has_start_epoch = true,
                                   .start_epoch = T0,
                                   .has_start_value = true,
                                   .start_value = 0.0,
                                   .has_duration = true,
                                   .duration_minutes = 100 };
        f->edges[0] = (GraphEdge){ 0, 1 };
        f->edges[1] = (GraphEdge){ 1, 3 };
        f->edges[2] = (GraphEdge){ 2, 3 };
        f->rollouts[0] = 3;
        f->g = (Graph){ .nodes = f->nodes,
                        .n_nodes = 4,
                        .edges = f->edges,
                        .n_edges = 3,
                        .rollouts = f->rollouts,
                        .n_rollouts = 1 };
        assert_int_equal(graph_pause_init(&f->pause, "stable", "3.0", &f->nodes[3], T0 + 25 * 60,
                                          "2 of 3 nodes failed <b>bad</b>"),
                         0);
        graph_pause_apply(&f->pause, &f->nodes[3]);
        assert_int_equal(graph_pause_init(&f->pauses[1], "stable", "4.0", NULL, T0, "by hand"), 0);
        assert_int_equal(
                graph_report_counts_add(&f->counts, "stable", "3.0", "default", GRAPH_REPORT_SUCCEEDED, 1),
                0);
        assert_int_equal(
                graph_report_counts_add(&f->counts, "stable", "3.0", "default", GRAPH_REPORT_ROLLED_BACK, 2),
                0);
        assert_int_equal(graph_report_counts_add(&f->counts, "stable", "3.0", "<img src=x>",
                                                 GRAPH_REPORT_BOOT_FALLBACK, 1),
                         0);
        assert_int_equal(
                graph_report_counts_add(&f->counts, "other", "9.0", "default", GRAPH_REPORT_STAGE_FAILED, 7),
                0);
        assert_int_equal(graph_status_lock_parse(lock_json, strlen(lock_json), &f->lock, &e), 0);
        f->stream = (GraphStatusStream){ .name = "stable",
                                         .basearch = "x86_64",
                                         .n_basearches = 2,
                                         .graph = &f->g,
                                         .last_refresh = now - 10,
                                         .refreshes = 3 };
        f->snap = (GraphStatusSnapshot){ .streams = &f->stream,
                                         .n_streams = 1,
                                         .started_at = now - 3600,
                                         .reports_enabled = true,
                                         .counts = &f->counts,
                                         .pauses = f->pauses,
                                         .n_pauses = 2,
                                         .lock = { .configured = true,
                                                   .url = "http://lock:3333",
                                                   .available = true,
                                                   .fetched_at = now - 5,
                                                   .lock = &f->lock } };
}

static void fixture_done(Fixture *f)
{
        graph_report_counts_done(&f->counts);
        graph_status_lock_done(&f->lock);
}

static void test_render_figures(void **state)
{
        int64_t now = T0 + 50 * 60; /* live: 50%; effective: frozen at 25% */
        Buf b = BUF_INIT(GRAPH_STATUS_PAGE_MAX_BYTES);
        Fixture f;

        fixture_init(&f, now);
        f.pauses[0] = f.pause;
        assert_int_equal(graph_status_page_render(&f.snap, now, &b), 0);
        assert_true(strncmp(b.data, "<!DOCTYPE html>", 15) == 0);
        assert_non_null(strstr(b.data, "</body></html>\n"));
        assert_null(strstr(b.data, "<script")); /* no script, no external resource */
        assert_null(strstr(b.data, "src=\"http"));
        assert_non_null(strstr(b.data, "<meta http-equiv=\"refresh\" content=\"30\">"));
        /* The graph: every node drawn, marked. */
        assert_int_equal(count(b.data, "<g class=\"node"), 4);
        assert_non_null(strstr(b.data, "<g class=\"node barrier\" data-version=\"2.0\""));
        assert_non_null(strstr(b.data, "<g class=\"node deadend\" data-version=\"2.5\""));
        assert_non_null(strstr(b.data, "<g class=\"node rollout\" data-version=\"3.0\""));
        assert_int_equal(count(b.data, "class=\"edge\""), 2); /* none out of the dead-end */
        /* The rollout: live, effective, paused, why, frozen, ETA, counts over every group. */
        assert_non_null(strstr(b.data, "<tr class=\"rollout\" data-release=\"3.0\">"));
        assert_non_null(strstr(b.data, "<td class=\"n live\" data-value=\"0.500000\">50.0%</td>"));
        assert_non_null(strstr(b.data, "<td class=\"n effective\" data-value=\"0.250000\">25.0%</td>"));
        assert_non_null(strstr(b.data, "<td class=\"eta\" data-value=\"-1\">paused</td>"));
        assert_non_null(strstr(b.data, "<td class=\"state paused\">paused</td>"));
        assert_non_null(
                strstr(b.data, "<td class=\"reason\">2 of 3 nodes failed &lt;b&gt;bad&lt;/b&gt;</td>"));
        assert_non_null(strstr(b.data, "<td class=\"n frozen\" data-value=\"0.250000\">25.0%</td>"));
        assert_non_null(strstr(b.data, "since 2026-01-01 00:25:00 UTC"));
        assert_non_null(strstr(b.data, "<td class=\"n succeeded\">1</td><td class=\"n failed\">3</td>"));
        assert_int_equal(count(b.data, "<svg class=\"ramp\""), 1);
        /* The pause of a release the graph does not have: frozen at 0, listed all the same. */
        assert_non_null(strstr(b.data,
                               "<tr class=\"rollout\" data-release=\"4.0\"><td class=\"release\">4.0 "
                               "<span class=\"muted\">(not in the graph)</span></td>"));
        assert_int_equal(count(b.data, "<tr class=\"rollout\""), 2);
        /* Reports per release and group, only this stream's; the group's name escaped. */
        assert_non_null(strstr(b.data,
                               "data-release=\"3.0\" data-group=\"default\"><td>3.0</td><td>default</td>"
                               "<td class=\"n succeeded\">1</td><td class=\"n rolled_back\">2</td>"
                               "<td class=\"n boot_fallback\">0</td>"));
        assert_non_null(strstr(b.data, "<td>&lt;img src=x&gt;</td>"));
        assert_null(strstr(b.data, "<img"));
        assert_null(strstr(b.data, "9.0"));
        assert_non_null(strstr(b.data, "66.7%")); /* 2 of 3 failed in default */
        /* The lock: groups, holders and their age now (30 s when fetched, 5 s ago), over max_hold_secs. */
        assert_non_null(strstr(b.data, "<tr class=\"lock-group\" data-group=\"default\">"));
        assert_non_null(strstr(b.data, "<td class=\"n holders-count\">1 / 2</td>"));
        assert_non_null(strstr(b.data, "<span class=\"holder\" data-id=\"node-&lt;a&gt;\">node-&lt;a&gt; "
                                       "<span class=\"age bad\" data-value=\"35\">(35s)</span>"));
        assert_non_null(strstr(b.data, "<td class=\"paused\">paused</td><td>always</td>"));
        assert_non_null(strstr(b.data, "<td>granting</td><td>closed</td>"));
        buf_free(&b);
        fixture_done(&f);
}

static void test_render_running_and_resumed(void **state)
{
        int64_t now = T0 + 50 * 60;
        Buf b = BUF_INIT(GRAPH_STATUS_PAGE_MAX_BYTES);
        char want[128];
        Fixture f;

        fixture_init(&f, now);
        /* Resumed at T0 + 40 min: 75 minutes remained, from 25%. */
        graph_pause_resume(&f.pause, T0 + 40 * 60);
        graph_pause_apply(&f.pause, &f.nodes[3]);
        f.pauses[0] = f.pause;
        assert_int_equal(graph_status_rollout_eta(&f.nodes[3], &f.pause, now), T0 + 40 * 60 + 75 * 60);
        assert_int_equal(graph_status_page_render(&f.snap, now, &b), 0);
        assert_non_null(strstr(b.data, "<td class=\"state resumed\">resumed</td>"));
        snprintf(want, sizeof(want), "<td class=\"eta\" data-value=\"%lld\">2026-01-01 01:55:00 UTC</td>",
                 (long long)(T0 + 115 * 60));
        assert_non_null(strstr(b.data, want));
        assert_non_null(strstr(b.data, "<td class=\"n effective\" data-value=\"0.350000\">35.0%</td>"));
        buf_free(&b);
        fixture_done(&f);
}

static void test_eta(void **state)
{
        GraphNode n = { .rollout = true,
                        .has_start_epoch = true,
                        .start_epoch = T0,
                        .has_start_value = true,
                        .start_value = 0.1,
                        .has_duration = true,
                        .duration_minutes = 100 };
        GraphPause p = { .resumed_at = 0 };

        assert_int_equal(graph_status_rollout_eta(&n, NULL, T0 + 60), T0 + 6000);
        assert_int_equal(graph_status_rollout_eta(&n, NULL, T0 + 7000), 0);
        assert_int_equal(graph_status_rollout_eta(&n, &p, T0 + 60), -1); /* paused */
        n.has_duration = false;
        assert_int_equal(graph_status_rollout_eta(&n, NULL, T0 + 60), -1); /* stuck at 10% */
        n.start_value = 1.0;
        assert_int_equal(graph_status_rollout_eta(&n, NULL, T0 + 60), 0);
}

static void test_render_without_reports_and_lock(void **state)
{
        int64_t now = T0;
        Buf b = BUF_INIT(GRAPH_STATUS_PAGE_MAX_BYTES);
        GraphStatusStream st[2] = { { .name = "stable" }, { .name = "<x>" } };
        GraphStatusSnapshot s = { .streams = st, .n_streams = 2, .started_at = now };

        assert_int_equal(graph_status_page_render(&s, now, &b), 0);
        assert_int_equal(count(b.data, "no graph loaded yet"), 2);
        assert_int_equal(count(b.data, "outcome reports are off"), 2);
        assert_non_null(strstr(b.data, "<h2>Stream &lt;x&gt;</h2>"));
        assert_null(strstr(b.data, "upkeep-lock"));
        buf_free(&b);
        /* A lock server that cannot be reached: its error, escaped. */
        s.lock = (GraphStatusLockView){ .configured = true, .url = "http://lock", .error = "refused <now>" };
        b = BUF_INIT(GRAPH_STATUS_PAGE_MAX_BYTES);
        assert_int_equal(graph_status_page_render(&s, now, &b), 0);
        assert_non_null(strstr(b.data, "id=\"lock-unavailable\">unavailable: refused &lt;now&gt;</p>"));
        buf_free(&b);
}

static void test_caps(void **state)
{
        int64_t now = T0;
        GraphNode *nodes = calloc(100, sizeof(GraphNode));
        GraphEdge *edges = calloc(99, sizeof(GraphEdge));
        char(*names)[16] = calloc(100, 16);
        GraphStatusStream st[40];
        Graph g = { .nodes = nodes, .n_nodes = 100, .edges = edges, .n_edges = 99 };
        GraphStatusSnapshot s = { .streams = st, .n_streams = 1, .started_at = now };
        Buf b = BUF_INIT(GRAPH_STATUS_PAGE_MAX_BYTES);

        assert_non_null(nodes);
        assert_non_null(edges);
        assert_non_null(names);
        for (size_t i = 0; i < 100; i++) {
                snprintf(names[i], 16, "v%zu", i);
                nodes[i] = (GraphNode){ .version = names[i], .age_index = 99 - i }; /* newest first */
                if (i < 99)
                        edges[i] = (GraphEdge){ (uint32_t)i + 1, (uint32_t)i };
        }
        for (size_t i = 0; i < 40; i++)
                st[i] = (GraphStatusStream){ .name = "s", .basearch = "x86_64", .graph = &g };
        /* Only the newest releases are drawn. */
        assert_int_equal(graph_status_page_render(&s, now, &b), 0);
        assert_int_equal(count(b.data, "<g class=\"node"), GRAPH_STATUS_MAX_DRAWN_NODES);
        assert_non_null(strstr(b.data, "data-version=\"v0\""));
        assert_null(strstr(b.data, "data-version=\"v99\""));
        assert_non_null(strstr(b.data, "(drawn: the newest 60 releases, 59 edges between them)"));
        buf_free(&b);
        /* A page that does not fit is cut after a whole section and stays well-formed. */
        s.n_streams = 40;
        b = BUF_INIT(64 * 1024);
        assert_int_equal(graph_status_page_render(&s, now, &b), 0);
        assert_true(b.len <= 64 * 1024);
        assert_non_null(strstr(b.data, "id=\"truncated\""));
        assert_true(strcmp(b.data + b.len - 15, "</body></html>\n") == 0);
        assert_int_equal(count(b.data, "<section"), count(b.data, "</section>"));
        assert_true(count(b.data, "<section") < 40);
        buf_free(&b);
        /* Too small for the frame itself. */
        b = BUF_INIT(600);
        assert_int_equal(graph_status_page_render(&s, now, &b), -ENOBUFS);
        buf_free(&b);
        free(nodes);
        free(edges);
        free(names);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_put_text),
                cmocka_unit_test(test_lock_parse),
                cmocka_unit_test(test_render_figures),
                cmocka_unit_test(test_render_running_and_resumed),
                cmocka_unit_test(test_eta),
                cmocka_unit_test(test_render_without_reports_and_lock),
                cmocka_unit_test(test_caps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
