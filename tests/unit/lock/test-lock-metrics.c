/* test-lock-metrics.c — upkeep-lock's /metrics text (lock-metrics.c) from a snapshot: every family in its
 * order, with its HELP and TYPE, the per-group gauges (NaN when the state could not be read), counters
 * and denials, the backend's counters and the reloads; the names shared with the answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lock-metrics.h"

static void assert_contains(const char *haystack, const char *needle)
{
        if (!strstr(haystack, needle))
                fail_msg("the text does not contain '%s'", needle);
}

static void test_names(void **state)
{
        assert_string_equal(denial_kind(DENIAL_FULL), "failed_lock_semaphore_full");
        assert_string_equal(denial_kind(DENIAL_OUTSIDE_WINDOW), "outside_window");
        assert_string_equal(denial_kind(DENIAL_PAUSED), "group_paused");
        assert_string_equal(fleetlock_endpoint_to_string(ENDPOINT_PRE_REBOOT), "pre-reboot");
        assert_string_equal(fleetlock_endpoint_to_string(ENDPOINT_STEADY_STATE), "steady-state");
        assert_int_equal(lock_counted_code_index(200), 0);
        assert_int_equal(lock_counted_code_index(503), LOCK_N_COUNTED_CODES - 1);
        assert_int_equal(lock_counted_code_index(403), 3);
        assert_int_equal(lock_counted_code_index(405), -1);
        assert_int_equal(lock_counted_code_index(500), -1);
}

static void test_group_state(void **state)
{
        SemaphoreHolder holders[] = { { .id = "a", .since = 900 },
                                      { .id = "b", .since = 0 },
                                      { .id = "c", .since = 950 } };
        Semaphore s = { .total_slots = 3, .holders = holders, .n_holders = 3 };
        LockGroupMetrics g = { 0 };

        lock_group_metrics_set_state(&g, &s, false, 1000);
        assert_true(g.stored);
        assert_int_equal(g.holders, 3);
        assert_true(g.oldest_age == 100); /* b's start is unknown: not counted */
        assert_false(g.paused);
        s.paused = true;
        lock_group_metrics_set_state(&g, &s, false, 1000);
        assert_true(g.paused);
        s = (Semaphore){ .total_slots = 1 };
        lock_group_metrics_set_state(&g, &s, true, 1000);
        assert_true(g.paused);
        assert_int_equal(g.holders, 0);
        assert_true(g.oldest_age == 0);
}

static void test_format(void **state)
{
        static const double bounds[] = { 0.001, 0.01 };
        Histogram h;
        LockGroupMetrics groups[2] = {
                { .name = "default",
                  .slots = 2,
                  .stored = true,
                  .holders = 1,
                  .oldest_age = 42,
                  .window_open = true,
                  .counters = { .grants = 5, .releases = 4, .expirations = 1, .denials = { 7, 0, 2 } } },
                { .name = "db", .slots = 1, .stored = false, .window_open = false },
        };
        LockMetrics lm = {
                .latency = &h,
                .groups = groups,
                .n_groups = 2,
                .backend_errors = 3,
                .backend_conflicts = 11,
                .writes = 20,
                .write_updates = 30,
                .gather_waits = 4,
                .gather_timeouts = 1,
                .started_at = 1700000000,
                .reloads_ok = 2,
                .reloads_failed = 1,
                .last_reload_failed = true,
        };
        Buf b = BUF_INIT(1u << 20), small = BUF_INIT(100);
        const char *names[] = { "upkeep_lock_requests_total",
                                "upkeep_lock_request_duration_seconds",
                                "upkeep_lock_slots",
                                "upkeep_lock_holders",
                                "upkeep_lock_oldest_holder_age_seconds",
                                "upkeep_lock_paused",
                                "upkeep_lock_window_open",
                                "upkeep_lock_grants_total",
                                "upkeep_lock_releases_total",
                                "upkeep_lock_expirations_total",
                                "upkeep_lock_denials_total",
                                "upkeep_lock_backend_errors_total",
                                "upkeep_lock_backend_conflicts_total",
                                "upkeep_lock_backend_writes_total",
                                "upkeep_lock_backend_write_updates_total",
                                "upkeep_lock_backend_gather_waits_total",
                                "upkeep_lock_backend_gather_timeouts_total",
                                "process_start_time_seconds",
                                "upkeep_lock_config_reloads_total",
                                "upkeep_lock_config_last_reload_successful" };
        const char *last = NULL;
        char *text;
        size_t len;

        assert_int_equal(histogram_init(&h, bounds, 2), 0);
        histogram_observe(&h, 0.005);
        lm.requests[ENDPOINT_PRE_REBOOT][0] = 9;
        lm.requests[ENDPOINT_STEADY_STATE][LOCK_N_COUNTED_CODES - 1] = 8;
        assert_int_equal(lock_metrics_format(&lm, &b), 0);
        text = buf_steal(&b, &len);
        assert_non_null(text);
        /* every family once, in this order */
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                char help[128];
                const char *at;

                snprintf(help, sizeof(help), "# HELP %s ", names[i]);
                at = strstr(text, help);
                if (!at)
                        fail_msg("no %s", names[i]);
                assert_true(!last || at > last);
                last = at;
        }
        assert_contains(text, "upkeep_lock_requests_total{endpoint=\"pre-reboot\",code=\"200\"} 9\n");
        assert_contains(text, "upkeep_lock_requests_total{endpoint=\"steady-state\",code=\"503\"} 8\n");
        assert_contains(text, "upkeep_lock_request_duration_seconds_count 1\n");
        assert_contains(text, "# TYPE upkeep_lock_slots gauge\n");
        assert_contains(text, "upkeep_lock_slots{group=\"db\"} 1\n");
        assert_contains(text, "upkeep_lock_holders{group=\"default\"} 1\n");
        assert_contains(text, "upkeep_lock_holders{group=\"db\"} NaN\n");
        assert_contains(text, "upkeep_lock_oldest_holder_age_seconds{group=\"default\"} 42\n");
        assert_contains(text, "upkeep_lock_oldest_holder_age_seconds{group=\"db\"} NaN\n");
        assert_contains(text, "upkeep_lock_paused{group=\"db\"} NaN\n");
        assert_contains(text, "upkeep_lock_window_open{group=\"default\"} 1\n");
        assert_contains(text, "upkeep_lock_window_open{group=\"db\"} 0\n");
        assert_contains(text, "# TYPE upkeep_lock_grants_total counter\n");
        assert_contains(text, "upkeep_lock_grants_total{group=\"default\"} 5\n");
        assert_contains(text, "upkeep_lock_releases_total{group=\"default\"} 4\n");
        assert_contains(text, "upkeep_lock_expirations_total{group=\"default\"} 1\n");
        assert_contains(
                text,
                "upkeep_lock_denials_total{group=\"default\",kind=\"failed_lock_semaphore_full\"} 7\n");
        assert_contains(text, "upkeep_lock_denials_total{group=\"default\",kind=\"group_paused\"} 2\n");
        assert_contains(text, "upkeep_lock_denials_total{group=\"db\",kind=\"outside_window\"} 0\n");
        assert_contains(text, "upkeep_lock_backend_errors_total 3\n");
        assert_contains(text, "upkeep_lock_backend_conflicts_total 11\n");
        assert_contains(text, "upkeep_lock_backend_writes_total 20\n");
        assert_contains(text, "upkeep_lock_backend_write_updates_total 30\n");
        assert_contains(text, "upkeep_lock_backend_gather_waits_total 4\n");
        assert_contains(text, "upkeep_lock_backend_gather_timeouts_total 1\n");
        assert_contains(text, "process_start_time_seconds 1700000000\n");
        assert_contains(text, "upkeep_lock_config_reloads_total{result=\"ok\"} 2\n");
        assert_contains(text, "upkeep_lock_config_reloads_total{result=\"failed\"} 1\n");
        assert_contains(text, "upkeep_lock_config_last_reload_successful 0\n");
        free(text);

        /* the cap holds */
        assert_int_equal(lock_metrics_format(&lm, &small), -ENOBUFS);
        buf_free(&small);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_group_state),
                cmocka_unit_test(test_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
