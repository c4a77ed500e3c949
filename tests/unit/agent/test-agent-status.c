/* test-agent-status.c — the agent's status request parser, status JSON, metrics exposition and the
 * readable `upkeep status` report. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent-status.h"
#include "json-util.h"
#include "macros.h"

#define S(lit) (lit), strlen(lit)

static void test_text_copy(void **state)
{
        char small[6], buf[64];

        agent_text_copy(buf, sizeof buf, "line1\nline2\ttab\x7f");
        assert_string_equal(buf, "line1 line2 tab?");
        /* C1 controls, NEL and bidi overrides from a server never reach a terminal */
        agent_text_copy(buf, sizeof buf,
                        "a\xc2\x9b"
                        "31mb\xc2\x85"
                        "c\xe2\x80\xae"
                        "d\xe2\x81\xa6"
                        "e");
        assert_string_equal(buf, "a?31mb c?d?e");
        agent_text_copy(small, sizeof small, "abcdefgh");
        assert_string_equal(small, "abcde");
        /* "é" (2 bytes) is not cut in half */
        agent_text_copy(small, sizeof small, "abcd\xc3\xa9");
        assert_string_equal(small, "abcd");
        agent_text_copy(buf, sizeof buf, "x\xff\xc3y");
        assert_string_equal(buf, "x??y");
        agent_text_copy(buf, sizeof buf, NULL);
        assert_string_equal(buf, "");
}

static void fill(AgentSnapshot *s)
{
        agent_snapshot_init(s);
        strcpy(s->node_uuid, "0123456789abcdef0123456789abcdef");
        strcpy(s->group, "workers");
        strcpy(s->basearch, "x86_64");
        strcpy(s->platform, "metal");
        strcpy(s->stream, "stable");
        strcpy(s->strategy, "fleet_lock");
        strcpy(s->os_backend, "ostree");
        s->updates_enabled = true;
        s->state = AGENT_STATE_UPDATE_STAGED;
        strcpy(s->status_text, "update staged: 40.2; reboot pending due to update strategy");
        s->last_state_change_usec = 1764570000LL * 1000000;
        s->booted.present = true;
        strcpy(s->booted.version, "40.1");
        strcpy(s->booted.checksum, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        s->staged.present = true;
        strcpy(s->staged.version, "40.2");
        strcpy(s->staged.checksum, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        s->has_target = true;
        strcpy(s->target.version, "40.2");
        strcpy(s->target.payload, s->staged.checksum);
        s->lock_state = AGENT_LOCK_DENIED;
        strcpy(s->lock_detail, "HTTP 423 failed_lock_semaphore_full: semaphore is full");
        s->lock_changed_usec = 1764570060LL * 1000000;
        s->last_check_usec = 1764570000LL * 1000000;
        strcpy(s->last_check_result, "update available: 40.2");
        s->download_bytes = 12345;
        s->download_objects_fetched = 7;
        s->download_objects_requested = 9;
        strcpy(s->download_version, "40.2");
        s->checks = 3;
        s->check_errors[AGENT_CHECK_ERROR_CONNECTION] = 1;
        agent_snapshot_count_check_error(s, "client_failed_request");
        s->lock_requests[AGENT_LOCK_API_PRE_REBOOT] = 4;
        agent_snapshot_count_lock_error(s, AGENT_LOCK_API_PRE_REBOOT, "failed_lock_semaphore_full");
        agent_snapshot_count_lock_error(s, AGENT_LOCK_API_PRE_REBOOT, "failed_lock_semaphore_full");
}

static void test_json(void **state)
{
        AgentSnapshot s;
        _cleanup_json_ json_t *j = NULL;

        fill(&s);
        j = agent_status_to_json(&s);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "state")), "update_staged");
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "node"), "group")),
                            "workers");
        assert_true(json_is_null(json_object_get(json_object_get(j, "node"), "rollout_wariness")));
        json_t *deps = json_object_get(j, "deployments");
        assert_string_equal(json_string_value(json_object_get(json_object_get(deps, "booted"), "version")),
                            "40.1");
        assert_string_equal(json_string_value(json_object_get(json_object_get(deps, "staged"), "version")),
                            "40.2");
        assert_true(json_is_null(json_object_get(deps, "rollback")));
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "lock"), "state")),
                            "denied");
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "lock"), "since")),
                            "2025-12-01T06:21:00Z");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "download"), "bytes")),
                         12345);
        assert_true(json_is_null(json_object_get(j, "last_error")));
        assert_true(json_is_null(json_object_get(j, "dead_end")));
        assert_true(json_is_null(json_object_get(json_object_get(j, "strategy"), "windows")));

        s.dead_end = true;
        strcpy(s.dead_end_reason, "https://example.com/deadend");
        s.last_error_usec = 0;
        strcpy(s.last_error, "boom");
        s.has_calendar = true;
        strcpy(s.windows, "Mon 22:00 (60 min)");
        strcpy(s.time_zone, "Europe/Berlin");
        s.next_window_start = 1764622800;
        s.next_window_end = INT64_MAX;
        json_decref(j);
        j = agent_status_to_json(&s);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "dead_end"), "reason")),
                            "https://example.com/deadend");
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "last_error"), "time")),
                            "1970-01-01T00:00:00Z");
        json_t *next = json_object_get(json_object_get(j, "strategy"), "next_window");
        assert_string_equal(json_string_value(json_object_get(next, "start")), "2025-12-01T21:00:00Z");
        assert_true(json_is_null(json_object_get(next, "end")));
}

static void test_metrics(void **state)
{
        AgentSnapshot s;
        Buf b = BUF_INIT(1 << 20);

        fill(&s);
        assert_int_equal(agent_metrics_write(&s, &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        assert_non_null(strstr(b.data, "# TYPE upkeep_agent_cincinnati_update_checks_total counter\n"
                                       "upkeep_agent_cincinnati_update_checks_total 3\n"));
        assert_non_null(strstr(
                b.data,
                "upkeep_agent_cincinnati_update_checks_errors_total{kind=\"client_failed_request\"} 1\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_strategy_fleet_lock_errors_total{api=\"pre-reboot\","
                                       "kind=\"failed_lock_semaphore_full\"} 2\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_updates_strategy_mode{strategy=\"fleet_lock\"} 1\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_updates_strategy_mode{strategy=\"immediate\"} 0\n"));
        assert_non_null(strstr(b.data,
                               "upkeep_agent_identity_os_info{os_version=\"40.1\",basearch=\"x86_64\","
                               "stream=\"stable\",platform=\"metal\"} 1\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_state{state=\"update_staged\"} 1\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_download_bytes 12345\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_identity_rollout_wariness NaN\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_updates_allow_downgrade 0\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_postponed_finalizations_total 0\n"));
        /* Zincati's last_refresh_timestamp is the last tick, even when no check ever succeeded */
        assert_true(s.last_refresh_usec < 0);
        assert_non_null(strstr(b.data, "upkeep_agent_last_refresh_timestamp 0\n"));
        b.len = 0;
        s.last_tick_usec = 1764570123LL * 1000000 + 5;
        s.allow_downgrade = true;
        s.postponed_finalizations = 4;
        s.can_finalize_allow = 2;
        s.can_finalize_deny = 7;
        s.can_finalize_error = 1;
        s.finalize_attempts = 3;
        s.finalize_failures = 1;
        assert_int_equal(agent_metrics_write(&s, &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        assert_non_null(strstr(b.data, "upkeep_agent_last_refresh_timestamp 1764570123\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_updates_allow_downgrade 1\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_postponed_finalizations_total 4\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_finalization_successes 2\n"));
        assert_non_null(strstr(
                b.data, "upkeep_agent_finalization_blocked_count{reason=\"active_usersessions\"} 4\n"));
        assert_non_null(
                strstr(b.data, "upkeep_agent_strategy_can_finalize_responses{response=\"allow\"} 2\n"));
        assert_non_null(
                strstr(b.data, "upkeep_agent_strategy_can_finalize_responses{response=\"deny\"} 7\n"));
        assert_non_null(
                strstr(b.data, "upkeep_agent_strategy_can_finalize_responses{response=\"error\"} 1\n"));
        buf_free(&b);
}

/* The boot assessment and the bad releases: status.health, status.bad_releases and their metrics. */
static void test_health(void **state)
{
        AgentSnapshot s;
        _cleanup_json_ json_t *j = NULL;
        Buf b = BUF_INIT(1 << 20);

        fill(&s);
        j = agent_status_to_json(&s); /* health disabled: said so */
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "health"), "state")),
                            "disabled");
        assert_int_equal(json_array_size(json_object_get(j, "bad_releases")), 0);
        json_decref(j);

        s.health.enabled = true;
        strcpy(s.health.state, "manual");
        strcpy(s.health.booted_version, "40.1");
        s.health.attempts_left = 0;
        strcpy(s.health.failed, "10-app.sh");
        strcpy(s.health.reason, "manual intervention needed: red after a rollback");
        s.health.manual_intervention = true;
        s.health.n_checks = 2;
        strcpy(s.health.checks[0].name, "10-app.sh");
        s.health.checks[0].required = true;
        s.health.checks[0].duration_ms = 12;
        strcpy(s.health.checks[0].output, "broken\n");
        strcpy(s.health.checks[1].name, "20-opt.sh");
        s.health.checks[1].ok = true;
        s.health.checks_failed = 1;
        s.health.rollbacks_total = 1;
        s.health.n_bad_releases = 1;
        strcpy(s.health.bad_releases[0].version, "40.2");
        strcpy(s.health.bad_releases[0].checksum, "bbbb");
        strcpy(s.health.bad_releases[0].outcome, "rolled_back");
        strcpy(s.health.bad_releases[0].reason, "10-app.sh failed");
        s.health.bad_releases[0].time = 1767225600;
        j = agent_status_to_json(&s);
        json_t *h = json_object_get(j, "health");
        assert_string_equal(json_string_value(json_object_get(h, "state")), "manual");
        assert_string_equal(json_string_value(json_object_get(h, "booted_version")), "40.1");
        assert_string_equal(json_string_value(json_object_get(h, "failed")), "10-app.sh");
        assert_true(json_is_true(json_object_get(h, "manual_intervention")));
        assert_int_equal(json_integer_value(json_object_get(h, "attempts_left")), 0);
        json_t *c = json_array_get(json_object_get(h, "checks"), 0);
        assert_int_equal(json_array_size(json_object_get(h, "checks")), 2);
        assert_string_equal(json_string_value(json_object_get(c, "name")), "10-app.sh");
        assert_true(json_is_true(json_object_get(c, "required")) && json_is_false(json_object_get(c, "ok")));
        assert_int_equal(json_integer_value(json_object_get(c, "duration_ms")), 12);
        assert_string_equal(json_string_value(json_object_get(c, "output")), "broken\n");
        json_t *bad = json_array_get(json_object_get(j, "bad_releases"), 0);
        assert_string_equal(json_string_value(json_object_get(bad, "version")), "40.2");
        assert_string_equal(json_string_value(json_object_get(bad, "outcome")), "rolled_back");
        assert_int_equal(json_integer_value(json_object_get(bad, "time")), 1767225600);

        assert_int_equal(agent_metrics_write(&s, &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        assert_non_null(strstr(b.data, "upkeep_agent_health_state{state=\"manual\"} 1\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_health_state{state=\"succeeded\"} 0\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_health_state{state=\"disabled\"} 0\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_health_checks_failed 1\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_rollbacks_total 1\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_manual_intervention 1\n"));
        assert_non_null(strstr(b.data, "upkeep_agent_bad_releases 1\n"));
        buf_free(&b);
}

static void test_lock_error_table(void **state)
{
        AgentSnapshot s;
        char kind[32];

        agent_snapshot_init(&s);
        agent_snapshot_count_lock_error(&s, AGENT_LOCK_API_STEADY_STATE, "Bad Kind!\"");
        assert_string_equal(s.lock_errors[0].kind, "bad_kind__");
        agent_snapshot_count_lock_error(&s, AGENT_LOCK_API_STEADY_STATE, "");
        assert_string_equal(s.lock_errors[1].kind, "unknown");
        for (int i = 0; i < 40; i++) {
                snprintf(kind, sizeof kind, "k%d", i);
                agent_snapshot_count_lock_error(&s, AGENT_LOCK_API_PRE_REBOOT, kind);
        }
        assert_int_equal(s.n_lock_errors, AGENT_SNAPSHOT_MAX_LOCK_ERRORS);
        assert_string_equal(s.lock_errors[AGENT_SNAPSHOT_MAX_LOCK_ERRORS - 1].kind, "other");
        uint64_t total = 0;
        for (size_t i = 0; i < s.n_lock_errors; i++)
                total += s.lock_errors[i].count;
        assert_int_equal(total, 42); /* nothing lost */
}

static void test_format(void **state)
{
        AgentSnapshot s;
        _cleanup_json_ json_t *j = NULL, *junk = NULL;
        Buf b = BUF_INIT(1 << 20);

        fill(&s);
        j = agent_status_to_json(&s);
        assert_int_equal(agent_status_format(j, &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        assert_non_null(
                strstr(b.data, "State:          update_staged (update staged: 40.2; reboot pending"));
        assert_non_null(strstr(b.data, "Booted:         40.1 (aaaaaaaaaaaa)\n"));
        assert_non_null(strstr(b.data, "Staged:         40.2 (bbbbbbbbbbbb)\n"));
        assert_non_null(strstr(b.data, "Rollback:       -\n"));
        assert_non_null(strstr(b.data, "Fleet lock:     denied: HTTP 423 failed_lock_semaphore_full"));
        assert_non_null(strstr(b.data, "Last check:     2025-12-01T06:20:00Z: update available: 40.2\n"));
        assert_non_null(strstr(b.data, "Download:       last download 40.2: 12345 bytes, 7/9 objects\n"));
        buf_free(&b);

        /* whatever arrives, missing or mistyped members print as "-" */
        b = BUF_INIT(1 << 20);
        junk = json_pack("{s:i,s:[],s:{s:i}}", "state", 3, "node", "deployments", "booted", 1);
        assert_int_equal(agent_status_format(junk, &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        assert_non_null(strstr(b.data, "State:          - (-)\n"));
        assert_non_null(strstr(b.data, "Booted:         -\n"));
        buf_free(&b);
        assert_int_equal(agent_status_format(json_object_get(junk, "node"), &b), -EINVAL);

        /* before the first check; an image target is shown by its digest */
        json_decref(j);
        agent_snapshot_init(&s);
        s.has_target = true;
        strcpy(s.target.version, "43.20251110.3.1");
        strcpy(s.target.payload, "quay.io/fedora/fedora-coreos@sha256:7b7b7b7b7b7b7b7b7b7b");
        j = agent_status_to_json(&s);
        b = BUF_INIT(1 << 20);
        assert_int_equal(agent_status_format(j, &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        assert_non_null(strstr(b.data, "Last check:     none yet (the first check has not run)\n"));
        assert_non_null(strstr(b.data, "Target:         43.20251110.3.1 (7b7b7b7b7b7b)\n"));
        buf_free(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_text_copy),        cmocka_unit_test(test_json),
                cmocka_unit_test(test_metrics),          cmocka_unit_test(test_health),
                cmocka_unit_test(test_lock_error_table), cmocka_unit_test(test_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
