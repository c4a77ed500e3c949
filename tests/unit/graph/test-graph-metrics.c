/* test-graph-metrics.c — upkeep-graph's /metrics page: every family in its order, requests by stream and
 * status (with "_other" and "other"), graph sizes per basearch and scheme (none for a stream without a
 * graph), refreshes, the wariness histogram, the cache and the start time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-metrics.h"

#define REL(v) "{\"version\":\"" v "\",\"commits\":[{\"architecture\":\"x86_64\",\"checksum\":\"c" v "\"}]}"

/* The families, in the order the page has them. */
static const char *const families[] = {
        "upkeep_graph_requests_total",
        "upkeep_graph_nodes",
        "upkeep_graph_edges",
        "upkeep_graph_last_refresh_timestamp_seconds",
        "upkeep_graph_refresh_failures_total",
        "upkeep_graph_refreshes_total",
        "upkeep_graph_rollout_wariness",
        "upkeep_graph_cache_lookups_total",
        "process_start_time_seconds",
};

static void expect_line(const char *page, const char *line)
{
        char needle[512];

        snprintf(needle, sizeof(needle), "\n%s\n", line);
        if (!strstr(page, needle))
                fail_msg("no line '%s' in:\n%s", line, page);
}

static void test_page(void **state)
{
        static const char toml[] = "[streams.stable]\nbasearches = [\"x86_64\", \"s390x\"]\n"
                                   "[streams.testing]\nbasearches = [\"x86_64\"]\n";
        const char *releases = "{\"releases\":[" REL("1") "," REL("2") "," REL("3") "]}";
        const char *updates = "{\"stream\":\"stable\",\"releases\":["
                              "{\"version\":\"3\",\"metadata\":{\"barrier\":{\"reason\":\"r\"}}}]}";
        GraphConfig *config = NULL;
        GraphStreams gs;
        char **warnings = NULL;
        Buf b = BUF_INIT(GRAPH_METRICS_MAX_BYTES);
        Error e = { { 0 } };

        assert_int_equal(graph_config_parse(toml, strlen(toml), "graph.toml", &config, &warnings, &e), 0);
        strv_free(warnings);
        assert_int_equal(graph_streams_init(&gs, config, 1700000000), 0);
        for (size_t i = 0; i < gs.n_streams; i++) {
                assert_non_null(gs.streams[i]->releases = strdup("r.json"));
                assert_non_null(gs.streams[i]->updates = strdup("u.json"));
        }
        assert_int_equal(stream_update(gs.streams[0], 4, releases, strlen(releases), updates,
                                       strlen(updates), NULL, &e),
                         1);
        gs.streams[0]->last_refresh = 1700000042;
        gs.streams[0]->refreshes = 3;
        gs.streams[1]->refresh_failures = 2;
        graph_count_status(gs.streams[0]->requests, 200);
        graph_count_status(gs.streams[0]->requests, 200);
        graph_count_status(gs.streams[1]->requests, 503);
        graph_count_status(gs.other_requests, 404);
        graph_count_status(gs.other_requests, 418);
        histogram_observe(&gs.wariness, 0.25);

        assert_int_equal(graph_metrics_write(&gs, &b), 0);
        /* Every family once, in this order. */
        const char *at = b.data;
        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                char help[128];
                snprintf(help, sizeof(help), "# HELP %s ", families[i]);
                at = strstr(at, help);
                if (!at)
                        fail_msg("family %s missing or out of order", families[i]);
        }
        expect_line(b.data, "upkeep_graph_requests_total{stream=\"stable\",code=\"200\"} 2");
        expect_line(b.data, "upkeep_graph_requests_total{stream=\"testing\",code=\"503\"} 1");
        expect_line(b.data, "upkeep_graph_requests_total{stream=\"_other\",code=\"404\"} 1");
        expect_line(b.data, "upkeep_graph_requests_total{stream=\"_other\",code=\"other\"} 1");
        assert_null(strstr(b.data, "code=\"400\"")); /* no zero counters */
        expect_line(b.data,
                    "upkeep_graph_nodes{stream=\"stable\",basearch=\"x86_64\",scheme=\"checksum\"} 3");
        expect_line(b.data, "upkeep_graph_nodes{stream=\"stable\",basearch=\"x86_64\",scheme=\"oci\"} 0");
        expect_line(b.data,
                    "upkeep_graph_nodes{stream=\"stable\",basearch=\"s390x\",scheme=\"checksum\"} 0");
        expect_line(b.data,
                    "upkeep_graph_edges{stream=\"stable\",basearch=\"x86_64\",scheme=\"checksum\"} 2");
        assert_null(strstr(b.data, "upkeep_graph_nodes{stream=\"testing\"")); /* no graph yet */
        expect_line(b.data, "upkeep_graph_last_refresh_timestamp_seconds{stream=\"stable\"} 1700000042");
        expect_line(b.data, "upkeep_graph_last_refresh_timestamp_seconds{stream=\"testing\"} 0");
        expect_line(b.data, "upkeep_graph_refresh_failures_total{stream=\"testing\"} 2");
        expect_line(b.data, "upkeep_graph_refreshes_total{stream=\"stable\"} 3");
        expect_line(b.data, "upkeep_graph_rollout_wariness_count 1");
        expect_line(b.data, "upkeep_graph_cache_lookups_total{stream=\"testing\",result=\"hit\"} 0");
        expect_line(b.data, "upkeep_graph_cache_lookups_total{stream=\"stable\",result=\"miss\"} 0");
        expect_line(b.data, "process_start_time_seconds 1700000000");

        buf_free(&b);
        graph_streams_done(&gs);
        graph_config_free(config);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_page),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
