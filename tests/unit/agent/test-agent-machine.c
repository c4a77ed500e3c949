/* test-agent-machine.c — upkeep-agent's update state machine driven under a fake clock: every path
 * through Zincati's states (happy path, stage failures and abandonment, strategy refusals, logged-in
 * users), tick timing with jitter edges, updates disabled, and inputs the machine did not ask for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent-machine.h"
#include "macros.h"

#define SEC 1000000LL
#define STEADY AGENT_STEADY_INTERVAL_DEFAULT_USEC

static int64_t now;    /* the fake clock */
static int64_t steady; /* the machine's steady interval */

static int64_t utc_usec(int y, int mo, int d, int h, int mi, int s)
{
        struct tm tm = {
                .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s
        };
        return (int64_t)timegm(&tm) * SEC;
}

static void init(AgentMachine *m, bool enabled, int64_t interval)
{
        AgentMachineConfig c = { .updates_enabled = enabled, .steady_interval_usec = interval };
        now = utc_usec(2026, 11, 22, 3, 25, 34);
        assert_int_equal(agent_machine_init(m, &c, now), 0);
        steady = m->config.steady_interval_usec;
        assert_int_equal(m->state, AGENT_STATE_START);
}

static AgentAction step(AgentMachine *m, AgentInput in)
{
        AgentAction a;
        assert_int_equal(agent_machine_step(m, &in, now, &a), 0);
        return a;
}

/* Asserts every input kind but `ok_kind` (and out-of-range kinds) is refused without any change. */
static void assert_only_accepts(AgentMachine *m, AgentInputKind ok_kind)
{
        for (int k = -1; k <= _AGENT_INPUT_MAX; k++) {
                AgentMachine before = *m;
                AgentAction a, a0;
                AgentInput in = { .kind = (AgentInputKind)k, .ok = true, .check = AGENT_CHECK_NO_UPDATE };

                if (k == (int)ok_kind)
                        continue;
                memset(&a, 0x5a, sizeof(a));
                a0 = a;
                assert_int_equal(agent_machine_step(m, &in, now, &a), -EINVAL);
                assert_memory_equal(m, &before, sizeof(before));
                assert_memory_equal(&a, &a0, sizeof(a));
        }
}

static AgentAction tick(AgentMachine *m)
{
        assert_only_accepts(m, AGENT_INPUT_TICK);
        return step(m, (AgentInput){ .kind = AGENT_INPUT_TICK });
}

static AgentAction tick_expect(AgentMachine *m, AgentActionKind kind)
{
        AgentAction a = tick(m);
        assert_int_equal(a.kind, kind);
        return a;
}

/* Ends a tick: the action is SLEEP/WARN_USERS; checks the delay class and advances the clock to it. */
enum { AT_ONCE, STEADY_JITTER, EXACT };
static void sleep_check(AgentAction a, int how, int64_t exact)
{
        assert_true(a.kind == AGENT_ACTION_SLEEP || a.kind == AGENT_ACTION_WARN_USERS);
        switch (how) {
        case AT_ONCE:
                assert_true(a.next_tick_usec == now);
                break;
        case STEADY_JITTER:
                assert_true(a.next_tick_usec >= now + steady);
                assert_true(a.next_tick_usec < now + steady + steady / 10);
                break;
        default:
                assert_true(a.next_tick_usec == now + exact);
        }
        now = a.next_tick_usec;
}

static void assert_status(const AgentMachine *m, const char *want)
{
        char buf[AGENT_STATUS_MAX];
        int n = agent_machine_status(m, buf, sizeof(buf));
        assert_true(n >= 0);
        assert_string_equal(buf, want);
        assert_int_equal((size_t)n, strlen(want));
}

static AgentAction result(AgentMachine *m, AgentInputKind kind, AgentInput in)
{
        in.kind = kind;
        assert_only_accepts(m, kind);
        return step(m, in);
}

/* START → INITIALIZED → REPORTED_STEADY. */
static void to_reported_steady(AgentMachine *m)
{
        AgentAction a = tick_expect(m, AGENT_ACTION_SLEEP);
        assert_int_equal(m->state, AGENT_STATE_INITIALIZED);
        assert_true(a.state_changed);
        sleep_check(a, AT_ONCE, 0);
        tick_expect(m, AGENT_ACTION_REPORT_STEADY);
        a = result(m, AGENT_INPUT_STEADY_REPORTED, (AgentInput){ .ok = true });
        assert_int_equal(m->state, AGENT_STATE_REPORTED_STEADY);
        sleep_check(a, AT_ONCE, 0);
}

static void to_no_new_update(AgentMachine *m)
{
        AgentState prev = m->state;
        tick_expect(m, AGENT_ACTION_CHECK_UPDATES);
        AgentAction a = result(m, AGENT_INPUT_CHECKED, (AgentInput){ .check = AGENT_CHECK_NO_UPDATE });
        assert_int_equal(m->state, AGENT_STATE_NO_NEW_UPDATE);
        assert_int_equal(a.state_changed, prev != AGENT_STATE_NO_NEW_UPDATE);
        sleep_check(a, STEADY_JITTER, 0); /* also from REPORTED_STEADY, as in Zincati */
}

static void to_available(AgentMachine *m, const char *v, const char *p)
{
        tick_expect(m, AGENT_ACTION_CHECK_UPDATES);
        AgentAction a = result(m, AGENT_INPUT_CHECKED,
                               (AgentInput){ .check = AGENT_CHECK_UPDATE, .version = v, .payload = p });
        assert_int_equal(m->state, AGENT_STATE_UPDATE_AVAILABLE);
        assert_int_equal(m->attempts, 0);
        assert_string_equal(m->release.version, v);
        assert_string_equal(m->release.payload, p);
        assert_true(a.state_changed);
        sleep_check(a, AT_ONCE, 0);
}

static AgentAction stage_result(AgentMachine *m, bool ok)
{
        AgentAction a = tick_expect(m, AGENT_ACTION_STAGE);
        assert_non_null(a.release);
        assert_string_equal(a.release->version, m->release.version);
        return result(m, AGENT_INPUT_STAGED, (AgentInput){ .ok = ok });
}

static void to_staged(AgentMachine *m)
{
        AgentAction a = stage_result(m, true);
        assert_int_equal(m->state, AGENT_STATE_UPDATE_STAGED);
        sleep_check(a, AT_ONCE, 0);
}

static void staged_machine(AgentMachine *m)
{
        init(m, true, 0);
        to_reported_steady(m);
        to_available(m, "43.1", "sha-431");
        to_staged(m);
}

/* Asks the strategy; returns the action after its answer. */
static AgentAction can_finalize(AgentMachine *m, FinalizeStrategy s, bool in_window, bool granted)
{
        const char *reason = "x";
        int r = strategy_can_finalize(s, in_window, granted, &reason);
        assert_true(r >= 0);
        assert_true((r == 1) == (reason == NULL));
        tick_expect(m, AGENT_ACTION_CAN_FINALIZE);
        return result(m, AGENT_INPUT_CAN_FINALIZE, (AgentInput){ .can_finalize = r == 1, .reason = reason });
}

static void test_happy_path(void **state)
{
        AgentMachine m;
        AgentAction a;
        (void)state;

        init(&m, true, 0);
        assert_status(&m, "starting");
        assert_string_equal(agent_state_name(m.state), "start");
        a = tick_expect(&m, AGENT_ACTION_SLEEP);
        assert_status(&m, "initialization complete, auto-updates logic enabled");
        sleep_check(a, AT_ONCE, 0);
        tick_expect(&m, AGENT_ACTION_REPORT_STEADY);
        a = result(&m, AGENT_INPUT_STEADY_REPORTED, (AgentInput){ .ok = true });
        assert_status(&m, "periodically polling for updates");
        sleep_check(a, AT_ONCE, 0);

        int64_t checked = now;
        to_available(&m, "43.1", "sha-431");
        assert_int_equal(m.last_check_usec, checked);
        assert_status(&m, "found update on remote: 43.1");
        assert_string_equal(agent_state_name(m.state), "update_available");

        to_staged(&m);
        assert_status(&m, "update staged: 43.1");
        assert_int_equal(m.stage_attempts, 1);

        a = can_finalize(&m, FINALIZE_STRATEGY_IMMEDIATE, false, false);
        assert_int_equal(a.kind, AGENT_ACTION_CHECK_USERS);
        a = result(&m, AGENT_INPUT_USERS, (AgentInput){ .users_logged_in = false });
        assert_int_equal(a.kind, AGENT_ACTION_FINALIZE);
        assert_non_null(a.release);
        assert_string_equal(a.release->payload, "sha-431");
        a = result(&m, AGENT_INPUT_FINALIZED, (AgentInput){ .ok = true });
        assert_int_equal(m.state, AGENT_STATE_UPDATE_FINALIZED);
        assert_int_equal(m.finalize_attempts, 1);
        assert_status(&m, "update finalized: 43.1");
        sleep_check(a, AT_ONCE, 0);

        a = tick_expect(&m, AGENT_ACTION_SLEEP);
        assert_int_equal(m.state, AGENT_STATE_END);
        assert_int_equal(m.last_state_change_usec, now);
        assert_status(&m, "update applied, waiting for reboot: 43.1");
        sleep_check(a, AT_ONCE, 0);
        for (int i = 0; i < 3; i++) {
                a = tick_expect(&m, AGENT_ACTION_SLEEP);
                assert_false(a.state_changed);
                sleep_check(a, EXACT, AGENT_END_INTERVAL_USEC);
                assert_int_equal(m.state, AGENT_STATE_END);
        }
        assert_int_equal(m.last_tick_usec, now - AGENT_END_INTERVAL_USEC);
}

static void test_abandon_after_12(void **state)
{
        AgentMachine m;
        AgentAction a;
        char want[128];
        (void)state;

        init(&m, true, 0);
        to_reported_steady(&m);
        to_no_new_update(&m);
        to_available(&m, "43.1", "sha-431");
        for (unsigned i = 1; i < AGENT_MAX_STAGE_ATTEMPTS; i++) {
                a = stage_result(&m, false);
                assert_null(a.abandoned);
                assert_false(a.state_changed);
                assert_int_equal(m.attempts, i);
                snprintf(want, sizeof(want), "trying to stage 43.1 (failed attempts: %u)", i);
                assert_status(&m, want);
                sleep_check(a, STEADY_JITTER, 0);
        }
        a = stage_result(&m, false);
        assert_true(a.state_changed);
        assert_int_equal(m.state, AGENT_STATE_NO_NEW_UPDATE);
        assert_non_null(a.abandoned);
        assert_string_equal(a.abandoned->version, "43.1");
        assert_string_equal(a.abandoned->payload, "sha-431");
        assert_true(m.have_abandoned);
        assert_int_equal(m.targets_abandoned, 1);
        assert_int_equal(m.stage_failures, 12);
        assert_int_equal(m.attempts, 0);
        sleep_check(a, AT_ONCE, 0);

        /* The 13th action is a check, which may choose another target. */
        to_available(&m, "43.2", "sha-432");
        a = stage_result(&m, false);
        assert_null(a.abandoned);
        assert_int_equal(m.attempts, 1);
}

static void test_stage_failure_then_success(void **state)
{
        AgentMachine m;
        AgentAction a;
        (void)state;

        init(&m, true, 0);
        to_reported_steady(&m);
        to_available(&m, "43.1", "sha-431");
        a = stage_result(&m, false);
        assert_int_equal(m.attempts, 1);
        sleep_check(a, STEADY_JITTER, 0);
        a = stage_result(&m, false);
        assert_int_equal(m.attempts, 2);
        sleep_check(a, STEADY_JITTER, 0);
        to_staged(&m);
        assert_int_equal(m.attempts, 0);
        assert_int_equal(m.stage_attempts, 3);
        assert_int_equal(m.stage_failures, 2);
}

static void test_fleet_lock_denied(void **state)
{
        AgentMachine m;
        AgentAction a;
        (void)state;

        staged_machine(&m);
        for (int i = 0; i < 3; i++) {
                a = can_finalize(&m, FINALIZE_STRATEGY_FLEET_LOCK, true, false);
                assert_false(a.state_changed);
                assert_int_equal(m.state, AGENT_STATE_UPDATE_STAGED);
                assert_string_equal(m.strategy_reason, "fleet lock not granted");
                assert_status(&m, "update staged: 43.1; reboot pending due to update strategy");
                sleep_check(a, STEADY_JITTER, 0);
        }
        a = can_finalize(&m, FINALIZE_STRATEGY_FLEET_LOCK, false, true);
        assert_int_equal(a.kind, AGENT_ACTION_CHECK_USERS);
        assert_status(&m, "update staged: 43.1");
        a = result(&m, AGENT_INPUT_USERS, (AgentInput){ .users_logged_in = false });
        assert_int_equal(a.kind, AGENT_ACTION_FINALIZE);

        /* A failed finalization stays staged and retries on the next steady tick. */
        a = result(&m, AGENT_INPUT_FINALIZED, (AgentInput){ .ok = false });
        assert_int_equal(m.state, AGENT_STATE_UPDATE_STAGED);
        assert_int_equal(m.finalize_failures, 1);
        sleep_check(a, STEADY_JITTER, 0);
        a = can_finalize(&m, FINALIZE_STRATEGY_FLEET_LOCK, false, true);
        a = result(&m, AGENT_INPUT_USERS, (AgentInput){ .users_logged_in = false });
        a = result(&m, AGENT_INPUT_FINALIZED, (AgentInput){ .ok = true });
        assert_int_equal(m.state, AGENT_STATE_UPDATE_FINALIZED);
        assert_int_equal(m.finalize_attempts, 2);
}

static void test_periodic(void **state)
{
        AgentMachine m;
        AgentAction a;
        (void)state;

        staged_machine(&m);
        for (int i = 0; i < 2; i++) {
                a = can_finalize(&m, FINALIZE_STRATEGY_PERIODIC, false, true);
                assert_string_equal(m.strategy_reason, "outside maintenance window");
                sleep_check(a, STEADY_JITTER, 0);
        }
        a = can_finalize(&m, FINALIZE_STRATEGY_PERIODIC, true, false);
        assert_int_equal(a.kind, AGENT_ACTION_CHECK_USERS);
        a = result(&m, AGENT_INPUT_USERS, (AgentInput){ .users_logged_in = false });
        a = result(&m, AGENT_INPUT_FINALIZED, (AgentInput){ .ok = true });
        assert_int_equal(m.state, AGENT_STATE_UPDATE_FINALIZED);
}

static void test_strategy_table(void **state)
{
        const char *reason;
        (void)state;

        static const struct {
                FinalizeStrategy s;
                bool in_window, granted;
                int want;
                const char *reason;
        } rows[] = {
                { FINALIZE_STRATEGY_IMMEDIATE, false, false, 1, NULL },
                { FINALIZE_STRATEGY_IMMEDIATE, true, true, 1, NULL },
                { FINALIZE_STRATEGY_PERIODIC, false, false, 0, "outside maintenance window" },
                { FINALIZE_STRATEGY_PERIODIC, false, true, 0, "outside maintenance window" },
                { FINALIZE_STRATEGY_PERIODIC, true, false, 1, NULL },
                { FINALIZE_STRATEGY_FLEET_LOCK, true, false, 0, "fleet lock not granted" },
                { FINALIZE_STRATEGY_FLEET_LOCK, false, true, 1, NULL },
                { FINALIZE_STRATEGY_PERIODIC_FLEET_LOCK, false, false, 0, "outside maintenance window" },
                { FINALIZE_STRATEGY_PERIODIC_FLEET_LOCK, false, true, 0, "outside maintenance window" },
                { FINALIZE_STRATEGY_PERIODIC_FLEET_LOCK, true, false, 0, "fleet lock not granted" },
                { FINALIZE_STRATEGY_PERIODIC_FLEET_LOCK, true, true, 1, NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                reason = "unset";
                assert_int_equal(
                        strategy_can_finalize(rows[i].s, rows[i].in_window, rows[i].granted, &reason),
                        rows[i].want);
                if (rows[i].reason)
                        assert_string_equal(reason, rows[i].reason);
                else
                        assert_null(reason);
                assert_int_equal(strategy_can_finalize(rows[i].s, rows[i].in_window, rows[i].granted, NULL),
                                 rows[i].want);
        }
        reason = "unset";
        assert_int_equal(strategy_can_finalize(_FINALIZE_STRATEGY_MAX, true, true, &reason), -EINVAL);
        assert_int_equal(strategy_can_finalize((FinalizeStrategy)-1, true, true, &reason), -EINVAL);
        assert_string_equal(reason, "unset");
}

static void test_users_postpone(void **state)
{
        AgentMachine m;
        AgentAction a;
        (void)state;

        staged_machine(&m);
        for (unsigned i = 1; i <= AGENT_MAX_POSTPONEMENTS; i++) {
                a = can_finalize(&m, FINALIZE_STRATEGY_IMMEDIATE, false, false);
                assert_int_equal(a.kind, AGENT_ACTION_CHECK_USERS);
                a = result(&m, AGENT_INPUT_USERS, (AgentInput){ .users_logged_in = true });
                assert_int_equal(a.kind, AGENT_ACTION_WARN_USERS);
                assert_non_null(a.release);
                assert_string_equal(a.release->version, "43.1");
                assert_int_equal(a.reboot_in_sec, (int64_t)(AGENT_MAX_POSTPONEMENTS - i + 1) * 60);
                assert_int_equal(m.postponements, i);
                assert_status(&m, "update staged: 43.1; reboot delayed due to active user sessions");
                sleep_check(a, EXACT, 60 * SEC);
        }
        assert_int_equal(a.reboot_in_sec, 60);
        /* Out of postponements: finalize anyway, without asking about users. */
        a = can_finalize(&m, FINALIZE_STRATEGY_IMMEDIATE, false, false);
        assert_int_equal(a.kind, AGENT_ACTION_FINALIZE);
        a = result(&m, AGENT_INPUT_FINALIZED, (AgentInput){ .ok = true });
        assert_int_equal(m.state, AGENT_STATE_UPDATE_FINALIZED);
        assert_int_equal(m.postponements_total, AGENT_MAX_POSTPONEMENTS);
}

static void test_users_leave_and_refusal_resets(void **state)
{
        AgentMachine m;
        AgentAction a;
        (void)state;

        staged_machine(&m);
        for (int i = 0; i < 3; i++) {
                can_finalize(&m, FINALIZE_STRATEGY_IMMEDIATE, false, false);
                a = result(&m, AGENT_INPUT_USERS, (AgentInput){ .users_logged_in = true });
                sleep_check(a, EXACT, 60 * SEC);
        }
        assert_int_equal(m.postponements, 3);
        /* A strategy refusal resets the postponements, as in Zincati. */
        a = can_finalize(&m, FINALIZE_STRATEGY_PERIODIC, false, false);
        assert_int_equal(m.postponements, 0);
        assert_status(&m, "update staged: 43.1; reboot pending due to update strategy");
        sleep_check(a, STEADY_JITTER, 0);
        can_finalize(&m, FINALIZE_STRATEGY_PERIODIC, true, false);
        a = result(&m, AGENT_INPUT_USERS, (AgentInput){ .users_logged_in = true });
        assert_int_equal(a.reboot_in_sec, 600);
        sleep_check(a, EXACT, 60 * SEC);
        /* Users gone: finalize. */
        can_finalize(&m, FINALIZE_STRATEGY_PERIODIC, true, false);
        a = result(&m, AGENT_INPUT_USERS, (AgentInput){ .users_logged_in = false });
        assert_int_equal(a.kind, AGENT_ACTION_FINALIZE);
}

static void test_steady_report_retries(void **state)
{
        AgentMachine m;
        AgentAction a;
        (void)state;

        init(&m, true, 0);
        sleep_check(tick_expect(&m, AGENT_ACTION_SLEEP), AT_ONCE, 0);
        for (int i = 0; i < 4; i++) {
                tick_expect(&m, AGENT_ACTION_REPORT_STEADY);
                a = result(&m, AGENT_INPUT_STEADY_REPORTED, (AgentInput){ .ok = false });
                assert_int_equal(m.state, AGENT_STATE_INITIALIZED);
                assert_false(a.state_changed);
                sleep_check(a, STEADY_JITTER, 0);
        }
        assert_int_equal(m.steady_report_failures, 4);
        tick_expect(&m, AGENT_ACTION_REPORT_STEADY);
        a = result(&m, AGENT_INPUT_STEADY_REPORTED, (AgentInput){ .ok = true });
        assert_int_equal(m.state, AGENT_STATE_REPORTED_STEADY);
        assert_int_equal(m.steady_reports, 1);
        sleep_check(a, AT_ONCE, 0);
}

static void test_check_errors_and_dead_end(void **state)
{
        AgentMachine m;
        AgentAction a;
        (void)state;

        init(&m, true, 0);
        to_reported_steady(&m);
        /* Errors from REPORTED_STEADY and from NO_NEW_UPDATE stay put and retry next tick. */
        int64_t checked = now;
        tick_expect(&m, AGENT_ACTION_CHECK_UPDATES);
        a = result(&m, AGENT_INPUT_CHECKED, (AgentInput){ .check = AGENT_CHECK_ERROR });
        assert_int_equal(m.state, AGENT_STATE_REPORTED_STEADY);
        assert_status(&m, "periodically polling for updates (last checked Sun 2026-11-22 03:25:34 UTC)");
        assert_int_equal(m.last_check_usec, checked);
        sleep_check(a, STEADY_JITTER, 0);
        to_no_new_update(&m);
        tick_expect(&m, AGENT_ACTION_CHECK_UPDATES);
        a = result(&m, AGENT_INPUT_CHECKED, (AgentInput){ .check = AGENT_CHECK_ERROR });
        assert_int_equal(m.state, AGENT_STATE_NO_NEW_UPDATE);
        assert_false(a.state_changed);
        sleep_check(a, STEADY_JITTER, 0);
        assert_int_equal(m.checks, 3);
        assert_int_equal(m.check_errors, 2);

        /* Dead-end: no update, surfaced with its reason; a later plain answer clears it. */
        tick_expect(&m, AGENT_ACTION_CHECK_UPDATES);
        a = result(&m, AGENT_INPUT_CHECKED,
                   (AgentInput){ .check = AGENT_CHECK_DEAD_END, .reason = "bad kernel" });
        assert_int_equal(m.state, AGENT_STATE_NO_NEW_UPDATE);
        assert_true(m.dead_end);
        assert_string_equal(m.dead_end_reason, "bad kernel");
        sleep_check(a, STEADY_JITTER, 0);
        tick_expect(&m, AGENT_ACTION_CHECK_UPDATES);
        a = result(&m, AGENT_INPUT_CHECKED, (AgentInput){ .check = AGENT_CHECK_DEAD_END });
        assert_true(m.dead_end);
        assert_string_equal(m.dead_end_reason, "");
        sleep_check(a, STEADY_JITTER, 0);
        to_no_new_update(&m);
        assert_false(m.dead_end);

        /* Dead-end from REPORTED_STEADY also lands in NO_NEW_UPDATE. */
        init(&m, true, 0);
        to_reported_steady(&m);
        tick_expect(&m, AGENT_ACTION_CHECK_UPDATES);
        a = result(&m, AGENT_INPUT_CHECKED, (AgentInput){ .check = AGENT_CHECK_DEAD_END, .reason = "r" });
        assert_int_equal(m.state, AGENT_STATE_NO_NEW_UPDATE);
        assert_true(a.state_changed);
        sleep_check(a, STEADY_JITTER, 0);
}

static void test_tick_timing(void **state)
{
        AgentMachine m;
        AgentAction a;
        const double below_one = nextafter(1.0, 0.0);
        (void)state;

        for (int k = 0; k < 2; k++) {
                int64_t interval = k == 0 ? STEADY : 60 * SEC;
                init(&m, true, k == 0 ? 0 : interval);
                assert_int_equal(m.config.steady_interval_usec, interval);
                to_reported_steady(&m);
                to_no_new_update(&m);

                /* 0% edge */
                tick_expect(&m, AGENT_ACTION_CHECK_UPDATES);
                a = step(&m, (AgentInput){ .kind = AGENT_INPUT_CHECKED, .check = AGENT_CHECK_NO_UPDATE });
                assert_true(a.next_tick_usec == now + interval);
                now = a.next_tick_usec;
                /* middle */
                tick_expect(&m, AGENT_ACTION_CHECK_UPDATES);
                a = step(&m, (AgentInput){ .kind = AGENT_INPUT_CHECKED,
                                           .check = AGENT_CHECK_NO_UPDATE,
                                           .jitter = 0.5 });
                assert_true(a.next_tick_usec == now + interval + interval / 20);
                now = a.next_tick_usec;
                /* 10% edge: strictly below a tenth */
                tick_expect(&m, AGENT_ACTION_CHECK_UPDATES);
                a = step(&m, (AgentInput){ .kind = AGENT_INPUT_CHECKED,
                                           .check = AGENT_CHECK_NO_UPDATE,
                                           .jitter = below_one });
                assert_true(a.next_tick_usec < now + interval + interval / 10);
                assert_true(a.next_tick_usec >= now + interval + interval / 10 - 1);
                now = a.next_tick_usec;
        }

        /* Jitter outside [0, 1) is refused. */
        tick_expect(&m, AGENT_ACTION_CHECK_UPDATES);
        const double bad[] = { -0.1, 1.0, 2.0, NAN, INFINITY };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                AgentMachine before = m;
                AgentInput in = { .kind = AGENT_INPUT_CHECKED,
                                  .check = AGENT_CHECK_NO_UPDATE,
                                  .jitter = bad[i] };
                assert_int_equal(agent_machine_step(&m, &in, now, &a), -EINVAL);
                assert_memory_equal(&m, &before, sizeof(m));
        }

        /* Postponement ticks are exact (no jitter), END every 3 h (checked in test_happy_path). */
        staged_machine(&m);
        can_finalize(&m, FINALIZE_STRATEGY_IMMEDIATE, false, false);
        a = step(&m,
                 (AgentInput){ .kind = AGENT_INPUT_USERS, .users_logged_in = true, .jitter = below_one });
        assert_true(a.next_tick_usec == now + 60 * SEC);
}

static void test_updates_disabled(void **state)
{
        AgentMachine m;
        AgentAction a;
        (void)state;

        init(&m, false, 0);
        a = tick_expect(&m, AGENT_ACTION_SLEEP);
        assert_status(&m, "initialization complete, auto-updates logic disabled by configuration");
        sleep_check(a, AT_ONCE, 0);
        /* It still reports steady state (fleet_lock: releases a slot held across the reboot)… */
        tick_expect(&m, AGENT_ACTION_REPORT_STEADY);
        a = result(&m, AGENT_INPUT_STEADY_REPORTED, (AgentInput){ .ok = false });
        sleep_check(a, STEADY_JITTER, 0);
        tick_expect(&m, AGENT_ACTION_REPORT_STEADY);
        a = result(&m, AGENT_INPUT_STEADY_REPORTED, (AgentInput){ .ok = true });
        sleep_check(a, AT_ONCE, 0);
        /* …then idles in REPORTED_STEADY and never checks. */
        for (int i = 0; i < 20; i++) {
                a = tick_expect(&m, AGENT_ACTION_SLEEP);
                assert_false(a.state_changed);
                assert_int_equal(m.state, AGENT_STATE_REPORTED_STEADY);
                sleep_check(a, STEADY_JITTER, 0);
        }
        assert_int_equal(m.checks, 0);
        assert_int_equal(m.last_check_usec, -1);
        assert_status(&m, "initialization complete, auto-updates logic disabled by configuration");
}

static void test_bad_inputs(void **state)
{
        AgentMachine m, before;
        AgentAction a;
        char longv[AGENT_VERSION_MAX + 2], longp[AGENT_PAYLOAD_MAX + 2], longr[AGENT_REASON_MAX + 2];
        (void)state;

        memset(longv, 'v', sizeof(longv) - 1);
        longv[sizeof(longv) - 1] = '\0';
        memset(longp, 'p', sizeof(longp) - 1);
        longp[sizeof(longp) - 1] = '\0';
        memset(longr, 'r', sizeof(longr) - 1);
        longr[sizeof(longr) - 1] = '\0';

        init(&m, true, 0);
        to_reported_steady(&m);
        tick_expect(&m, AGENT_ACTION_CHECK_UPDATES);
        const struct {
                AgentCheckOutcome check;
                const char *v, *p, *r;
                int want;
        } rows[] = {
                { AGENT_CHECK_UPDATE, NULL, "p", NULL, -EINVAL },
                { AGENT_CHECK_UPDATE, "1", NULL, NULL, -EINVAL },
                { AGENT_CHECK_UPDATE, "", "p", NULL, -EINVAL },
                { AGENT_CHECK_UPDATE, "1", "", NULL, -EINVAL },
                { AGENT_CHECK_UPDATE, "1\n", "p", NULL, -EINVAL },
                { AGENT_CHECK_UPDATE, "1", "p\x7f", NULL, -EINVAL },
                { AGENT_CHECK_UPDATE, longv, "p", NULL, -E2BIG },
                { AGENT_CHECK_UPDATE, "1", longp, NULL, -E2BIG },
                { AGENT_CHECK_DEAD_END, NULL, NULL, longr, -E2BIG },
                { AGENT_CHECK_DEAD_END, NULL, NULL, "a\tb", -EINVAL },
                { _AGENT_CHECK_MAX, NULL, NULL, NULL, -EINVAL },
                { (AgentCheckOutcome)-1, NULL, NULL, NULL, -EINVAL },
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                AgentInput in = { .kind = AGENT_INPUT_CHECKED,
                                  .check = rows[i].check,
                                  .version = rows[i].v,
                                  .payload = rows[i].p,
                                  .reason = rows[i].r };
                before = m;
                assert_int_equal(agent_machine_step(&m, &in, now, &a), rows[i].want);
                assert_memory_equal(&m, &before, sizeof(m));
        }
        /* The caps themselves are fine. */
        longv[AGENT_VERSION_MAX] = '\0';
        longp[AGENT_PAYLOAD_MAX] = '\0';
        a = step(&m, (AgentInput){ .kind = AGENT_INPUT_CHECKED,
                                   .check = AGENT_CHECK_UPDATE,
                                   .version = longv,
                                   .payload = longp });
        assert_int_equal(strlen(m.release.version), AGENT_VERSION_MAX);
        assert_int_equal(strlen(m.release.payload), AGENT_PAYLOAD_MAX);
        char buf[AGENT_STATUS_MAX];
        assert_true(agent_machine_status(&m, buf, sizeof(buf)) > 0);
        assert_int_equal(agent_machine_status(&m, buf, 10), -ENOBUFS);
        now = a.next_tick_usec;

        /* A too-long strategy reason. */
        to_staged(&m);
        tick_expect(&m, AGENT_ACTION_CAN_FINALIZE);
        before = m;
        AgentInput in = { .kind = AGENT_INPUT_CAN_FINALIZE, .reason = longr };
        assert_int_equal(agent_machine_step(&m, &in, now, &a), -E2BIG);
        assert_memory_equal(&m, &before, sizeof(m));

        /* now out of range, NULL arguments. */
        in = (AgentInput){ .kind = AGENT_INPUT_CAN_FINALIZE, .can_finalize = true };
        assert_int_equal(agent_machine_step(&m, &in, -1, &a), -ERANGE);
        assert_int_equal(agent_machine_step(&m, &in, AGENT_NOW_MAX_USEC + 1, &a), -ERANGE);
        assert_int_equal(agent_machine_step(NULL, &in, now, &a), -EINVAL);
        assert_int_equal(agent_machine_step(&m, NULL, now, &a), -EINVAL);
        assert_int_equal(agent_machine_step(&m, &in, now, NULL), -EINVAL);
        assert_memory_equal(&m, &before, sizeof(m));
        assert_int_equal(agent_machine_step(&m, &in, AGENT_NOW_MAX_USEC, &a), 0);

        /* init */
        AgentMachineConfig c = { .updates_enabled = true, .steady_interval_usec = SEC - 1 };
        assert_int_equal(agent_machine_init(&m, &c, 0), -EINVAL);
        c.steady_interval_usec = -SEC;
        assert_int_equal(agent_machine_init(&m, &c, 0), -EINVAL);
        c.steady_interval_usec = AGENT_STEADY_INTERVAL_MAX_USEC + 1;
        assert_int_equal(agent_machine_init(&m, &c, 0), -EINVAL);
        assert_int_equal(agent_machine_init(&m, NULL, -1), -ERANGE);
        assert_int_equal(agent_machine_init(NULL, NULL, 0), -EINVAL);
        assert_int_equal(agent_machine_init(&m, NULL, 0), 0);
        assert_true(m.config.updates_enabled);
        assert_int_equal(m.config.steady_interval_usec, STEADY);

        /* any interval Zincati takes fits the timer: capped at the maximum, which runs at the latest now */
        assert_true(agent_steady_interval_usec(300) == 300 * SEC);
        assert_true(agent_steady_interval_usec(UINT64_MAX) == AGENT_STEADY_INTERVAL_MAX_USEC);
        assert_true(agent_steady_interval_usec(INT64_MAX) == AGENT_STEADY_INTERVAL_MAX_USEC);
        c.steady_interval_usec = agent_steady_interval_usec(UINT64_MAX);
        assert_int_equal(agent_machine_init(&m, &c, AGENT_NOW_MAX_USEC), 0);
}

/* The transition table, one row per (state, input) pair the machine accepts. */
typedef void (*SetupFn)(AgentMachine *m);

static void setup_start(AgentMachine *m)
{
        init(m, true, 0);
}
static void setup_initialized(AgentMachine *m)
{
        init(m, true, 0);
        sleep_check(tick(m), AT_ONCE, 0);
}
static void setup_reported_steady(AgentMachine *m)
{
        init(m, true, 0);
        to_reported_steady(m);
}
static void setup_no_new_update(AgentMachine *m)
{
        setup_reported_steady(m);
        to_no_new_update(m);
}
static void setup_available(AgentMachine *m)
{
        setup_reported_steady(m);
        to_available(m, "43.1", "sha-431");
}
static void setup_available_11(AgentMachine *m)
{
        setup_available(m);
        for (int i = 0; i < 11; i++)
                sleep_check(stage_result(m, false), STEADY_JITTER, 0);
}
static void setup_staged(AgentMachine *m)
{
        staged_machine(m);
}
static void setup_staged_postponed_10(AgentMachine *m)
{
        staged_machine(m);
        for (int i = 0; i < AGENT_MAX_POSTPONEMENTS; i++) {
                can_finalize(m, FINALIZE_STRATEGY_IMMEDIATE, false, false);
                sleep_check(result(m, AGENT_INPUT_USERS, (AgentInput){ .users_logged_in = true }), EXACT,
                            60 * SEC);
        }
}
static void setup_finalized(AgentMachine *m)
{
        staged_machine(m);
        can_finalize(m, FINALIZE_STRATEGY_IMMEDIATE, false, false);
        result(m, AGENT_INPUT_USERS, (AgentInput){ 0 });
        sleep_check(result(m, AGENT_INPUT_FINALIZED, (AgentInput){ .ok = true }), AT_ONCE, 0);
}
static void setup_end(AgentMachine *m)
{
        setup_finalized(m);
        sleep_check(tick(m), AT_ONCE, 0);
}

enum { NA = -1 };

static void test_transition_table(void **state)
{
        static const struct {
                const char *name;
                SetupFn setup;
                AgentActionKind first;  /* action asked for on the tick (SLEEP: none) */
                AgentInput in;          /* its result (ignored when first is SLEEP) */
                AgentState next;        /* state after the step */
                AgentActionKind action; /* action returned by the step */
                int timing;             /* for SLEEP / WARN_USERS */
                int64_t exact;
        } rows[] = {
                { "start tick",
                  setup_start,
                  AGENT_ACTION_SLEEP,
                  { 0 },
                  AGENT_STATE_INITIALIZED,
                  AGENT_ACTION_SLEEP,
                  AT_ONCE,
                  0 },
                { "initialized report ok",
                  setup_initialized,
                  AGENT_ACTION_REPORT_STEADY,
                  { .kind = AGENT_INPUT_STEADY_REPORTED, .ok = true },
                  AGENT_STATE_REPORTED_STEADY,
                  AGENT_ACTION_SLEEP,
                  AT_ONCE,
                  0 },
                { "initialized report failed",
                  setup_initialized,
                  AGENT_ACTION_REPORT_STEADY,
                  { .kind = AGENT_INPUT_STEADY_REPORTED },
                  AGENT_STATE_INITIALIZED,
                  AGENT_ACTION_SLEEP,
                  STEADY_JITTER,
                  0 },
                { "steady no update",
                  setup_reported_steady,
                  AGENT_ACTION_CHECK_UPDATES,
                  { .kind = AGENT_INPUT_CHECKED, .check = AGENT_CHECK_NO_UPDATE },
                  AGENT_STATE_NO_NEW_UPDATE,
                  AGENT_ACTION_SLEEP,
                  STEADY_JITTER,
                  0 },
                { "steady update",
                  setup_reported_steady,
                  AGENT_ACTION_CHECK_UPDATES,
                  { .kind = AGENT_INPUT_CHECKED,
                    .check = AGENT_CHECK_UPDATE,
                    .version = "2",
                    .payload = "p2" },
                  AGENT_STATE_UPDATE_AVAILABLE,
                  AGENT_ACTION_SLEEP,
                  AT_ONCE,
                  0 },
                { "steady dead-end",
                  setup_reported_steady,
                  AGENT_ACTION_CHECK_UPDATES,
                  { .kind = AGENT_INPUT_CHECKED, .check = AGENT_CHECK_DEAD_END },
                  AGENT_STATE_NO_NEW_UPDATE,
                  AGENT_ACTION_SLEEP,
                  STEADY_JITTER,
                  0 },
                { "steady error",
                  setup_reported_steady,
                  AGENT_ACTION_CHECK_UPDATES,
                  { .kind = AGENT_INPUT_CHECKED, .check = AGENT_CHECK_ERROR },
                  AGENT_STATE_REPORTED_STEADY,
                  AGENT_ACTION_SLEEP,
                  STEADY_JITTER,
                  0 },
                { "nnu no update",
                  setup_no_new_update,
                  AGENT_ACTION_CHECK_UPDATES,
                  { .kind = AGENT_INPUT_CHECKED, .check = AGENT_CHECK_NO_UPDATE },
                  AGENT_STATE_NO_NEW_UPDATE,
                  AGENT_ACTION_SLEEP,
                  STEADY_JITTER,
                  0 },
                { "nnu update",
                  setup_no_new_update,
                  AGENT_ACTION_CHECK_UPDATES,
                  { .kind = AGENT_INPUT_CHECKED,
                    .check = AGENT_CHECK_UPDATE,
                    .version = "2",
                    .payload = "p2" },
                  AGENT_STATE_UPDATE_AVAILABLE,
                  AGENT_ACTION_SLEEP,
                  AT_ONCE,
                  0 },
                { "nnu dead-end",
                  setup_no_new_update,
                  AGENT_ACTION_CHECK_UPDATES,
                  { .kind = AGENT_INPUT_CHECKED, .check = AGENT_CHECK_DEAD_END },
                  AGENT_STATE_NO_NEW_UPDATE,
                  AGENT_ACTION_SLEEP,
                  STEADY_JITTER,
                  0 },
                { "nnu error",
                  setup_no_new_update,
                  AGENT_ACTION_CHECK_UPDATES,
                  { .kind = AGENT_INPUT_CHECKED, .check = AGENT_CHECK_ERROR },
                  AGENT_STATE_NO_NEW_UPDATE,
                  AGENT_ACTION_SLEEP,
                  STEADY_JITTER,
                  0 },
                { "available stage ok",
                  setup_available,
                  AGENT_ACTION_STAGE,
                  { .kind = AGENT_INPUT_STAGED, .ok = true },
                  AGENT_STATE_UPDATE_STAGED,
                  AGENT_ACTION_SLEEP,
                  AT_ONCE,
                  0 },
                { "available stage failed",
                  setup_available,
                  AGENT_ACTION_STAGE,
                  { .kind = AGENT_INPUT_STAGED },
                  AGENT_STATE_UPDATE_AVAILABLE,
                  AGENT_ACTION_SLEEP,
                  STEADY_JITTER,
                  0 },
                { "available 12th failure",
                  setup_available_11,
                  AGENT_ACTION_STAGE,
                  { .kind = AGENT_INPUT_STAGED },
                  AGENT_STATE_NO_NEW_UPDATE,
                  AGENT_ACTION_SLEEP,
                  AT_ONCE,
                  0 },
                { "staged refused",
                  setup_staged,
                  AGENT_ACTION_CAN_FINALIZE,
                  { .kind = AGENT_INPUT_CAN_FINALIZE },
                  AGENT_STATE_UPDATE_STAGED,
                  AGENT_ACTION_SLEEP,
                  STEADY_JITTER,
                  0 },
                { "staged allowed",
                  setup_staged,
                  AGENT_ACTION_CAN_FINALIZE,
                  { .kind = AGENT_INPUT_CAN_FINALIZE, .can_finalize = true },
                  AGENT_STATE_UPDATE_STAGED,
                  AGENT_ACTION_CHECK_USERS,
                  NA,
                  0 },
                { "staged allowed, postponed 10x",
                  setup_staged_postponed_10,
                  AGENT_ACTION_CAN_FINALIZE,
                  { .kind = AGENT_INPUT_CAN_FINALIZE, .can_finalize = true },
                  AGENT_STATE_UPDATE_STAGED,
                  AGENT_ACTION_FINALIZE,
                  NA,
                  0 },
                { "finalized tick",
                  setup_finalized,
                  AGENT_ACTION_SLEEP,
                  { 0 },
                  AGENT_STATE_END,
                  AGENT_ACTION_SLEEP,
                  AT_ONCE,
                  0 },
                { "end tick",
                  setup_end,
                  AGENT_ACTION_SLEEP,
                  { 0 },
                  AGENT_STATE_END,
                  AGENT_ACTION_SLEEP,
                  EXACT,
                  AGENT_END_INTERVAL_USEC },
        };
        (void)state;

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                AgentMachine m;
                AgentAction a;

                print_message("# row: %s\n", rows[i].name);
                rows[i].setup(&m);
                a = tick(&m);
                assert_int_equal(a.kind, rows[i].first);
                if (rows[i].first != AGENT_ACTION_SLEEP)
                        a = result(&m, rows[i].in.kind, rows[i].in);
                assert_int_equal(m.state, rows[i].next);
                assert_int_equal(a.kind, rows[i].action);
                assert_string_equal(agent_state_name(m.state), agent_state_name(rows[i].next));
                if (rows[i].timing != NA)
                        sleep_check(a, rows[i].timing, rows[i].exact);
        }
        /* The users step (CHECK_USERS → WARN_USERS / FINALIZE) and FINALIZE results are covered by
         * test_users_postpone, test_fleet_lock_denied and test_happy_path. */
}

static void test_names(void **state)
{
        static const char *const states[] = { "start",
                                              "initialized",
                                              "reported_steady",
                                              "no_new_update",
                                              "update_available",
                                              "update_staged",
                                              "update_finalized",
                                              "end" };
        static const char *const actions[] = {
                "sleep",        "report_steady", "check_updates", "stage",
                "can_finalize", "check_users",   "warn_users",    "finalize"
        };
        (void)state;

        assert_int_equal(ELEMENTSOF(states), _AGENT_STATE_MAX);
        assert_int_equal(ELEMENTSOF(actions), _AGENT_ACTION_MAX);
        for (int i = 0; i < _AGENT_STATE_MAX; i++)
                assert_string_equal(agent_state_name((AgentState)i), states[i]);
        for (int i = 0; i < _AGENT_ACTION_MAX; i++)
                assert_string_equal(agent_action_name((AgentActionKind)i), actions[i]);
        assert_null(agent_state_name(_AGENT_STATE_MAX));
        assert_null(agent_state_name((AgentState)-1));
        assert_null(agent_action_name(_AGENT_ACTION_MAX));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_happy_path),
                cmocka_unit_test(test_abandon_after_12),
                cmocka_unit_test(test_stage_failure_then_success),
                cmocka_unit_test(test_fleet_lock_denied),
                cmocka_unit_test(test_periodic),
                cmocka_unit_test(test_strategy_table),
                cmocka_unit_test(test_users_postpone),
                cmocka_unit_test(test_users_leave_and_refusal_resets),
                cmocka_unit_test(test_steady_report_retries),
                cmocka_unit_test(test_check_errors_and_dead_end),
                cmocka_unit_test(test_tick_timing),
                cmocka_unit_test(test_updates_disabled),
                cmocka_unit_test(test_bad_inputs),
                cmocka_unit_test(test_transition_table),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
