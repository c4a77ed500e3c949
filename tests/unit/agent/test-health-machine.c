/* test-health-machine.c — unit tests for the boot assessment state machine (src/agent/health-machine.c)
 * under a fake clock: every row of the transition table, retries, the checks' deadline, the stability
 * window, GRUB fallback detection, each outcome, never looping, and rejected events. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "health-machine.h"

#define SEC UINT64_C(1000000)
#define T0 (1000 * SEC)
#define END ((HealthActionKind)-1)

static HealthRecord make_record(HealthPhase phase, unsigned attempts)
{
        HealthRecord r = { .phase = phase, .attempts_left = attempts };

        strcpy(r.to_checksum, "to-sum");
        strcpy(r.to_version, "42.1");
        strcpy(r.from_checksum, "from-sum");
        strcpy(r.from_version, "41.9");
        return r;
}

/* Checks the step's actions against the END-terminated list. */
static void expect_actions(const HealthStep *s, ...)
{
        va_list ap;
        size_t i = 0;

        va_start(ap, s);
        for (HealthActionKind k = va_arg(ap, HealthActionKind); k != END; k = va_arg(ap, HealthActionKind)) {
                if (i >= s->n_actions)
                        fail_msg("missing action %s at %zu", health_action_name(k), i);
                if (s->actions[i] != k)
                        fail_msg("action %zu: %s, expected %s", i, health_action_name(s->actions[i]),
                                 health_action_name(k));
                i++;
        }
        va_end(ap);
        if (i != s->n_actions)
                fail_msg("extra action %s", health_action_name(s->actions[i]));
}

static void start(HealthMachine *m, const HealthMachineConfig *cfg, const HealthRecord *rec,
                  const char *booted, bool have_previous, HealthGrubCounter grub, HealthStep *s)
{
        HealthEvent ev = { .kind = HEALTH_EVENT_START,
                           .record = rec,
                           .booted_checksum = booted,
                           .have_previous = have_previous,
                           .grub = grub };

        assert_int_equal(health_machine_init(m, cfg, T0), 0);
        assert_int_equal(health_machine_step(m, &ev, T0, s), 0);
}

static int checks(HealthMachine *m, HealthVerdict v, const char *failed, uint64_t now, HealthStep *s)
{
        HealthEvent ev = { .kind = HEALTH_EVENT_CHECKS, .verdict = v, .failed = failed };

        return health_machine_step(m, &ev, now, s);
}

static int tick(HealthMachine *m, uint64_t now, HealthStep *s)
{
        HealthEvent ev = { .kind = HEALTH_EVENT_TICK };

        return health_machine_step(m, &ev, now, s);
}

static void assert_all_rejected(HealthMachine *m)
{
        HealthStep s;
        HealthMachine before = *m;

        assert_int_equal(tick(m, T0 + 9999 * SEC, &s), -EINVAL);
        assert_int_equal(checks(m, HEALTH_VERDICT_GREEN, NULL, T0 + 9999 * SEC, &s), -EINVAL);
        assert_memory_equal(m, &before, sizeof(before));
}

static void test_no_update(void **state)
{
        HealthMachine m;
        HealthStep s;

        start(&m, NULL, NULL, "any", true, HEALTH_GRUB_UNSET, &s);
        expect_actions(&s, HEALTH_ACTION_REPORT_STEADY, END);
        assert_int_equal(m.state, HEALTH_STATE_STEADY);
        assert_int_equal(s.wake_usec, 0);
        assert_null(s.record);
        assert_all_rejected(&m);
}

static void test_green_without_window(void **state)
{
        HealthRecord rec = make_record(HEALTH_PHASE_FINALIZED, 2);
        HealthMachineConfig cfg = { .checks_timeout_usec = 60 * SEC };
        HealthMachine m;
        HealthStep s;

        start(&m, &cfg, &rec, "to-sum", true, HEALTH_GRUB_ARMED, &s);
        expect_actions(&s, HEALTH_ACTION_RUN_CHECKS, END);
        assert_int_equal(s.deadline_usec, T0 + 60 * SEC);
        assert_int_equal(s.wake_usec, T0 + 60 * SEC);
        assert_int_equal(m.state, HEALTH_STATE_CHECKING);

        assert_int_equal(checks(&m, HEALTH_VERDICT_RUNNING, NULL, T0 + 5 * SEC, &s), 0);
        expect_actions(&s, END);
        assert_int_equal(s.wake_usec, T0 + 60 * SEC);
        assert_false(s.state_changed);

        assert_int_equal(checks(&m, HEALTH_VERDICT_GREEN, NULL, T0 + 10 * SEC, &s), 0);
        expect_actions(&s, HEALTH_ACTION_RUN_GREEN_HOOKS, HEALTH_ACTION_CLEAR_BOOT_COUNTER,
                       HEALTH_ACTION_REMOVE_RECORD, HEALTH_ACTION_REPORT, HEALTH_ACTION_RELEASE_SLOT, END);
        assert_int_equal(s.outcome, HEALTH_OUTCOME_SUCCEEDED);
        assert_string_equal(s.reason, "42.1 is healthy");
        assert_true(s.state_changed);
        assert_int_equal(s.wake_usec, 0);
        assert_int_equal(m.state, HEALTH_STATE_SUCCEEDED);
        assert_all_rejected(&m);
}

static void test_grub_unset_no_clear(void **state)
{
        HealthRecord rec = make_record(HEALTH_PHASE_FINALIZED, 0);
        HealthMachine m;
        HealthStep s;

        start(&m, NULL, &rec, "to-sum", true, HEALTH_GRUB_UNSET, &s);
        assert_int_equal(s.deadline_usec, T0 + HEALTH_CHECKS_TIMEOUT_DEFAULT_USEC);
        assert_int_equal(checks(&m, HEALTH_VERDICT_GREEN, NULL, T0 + 1, &s), 0);
        expect_actions(&s, HEALTH_ACTION_RUN_GREEN_HOOKS, HEALTH_ACTION_REMOVE_RECORD, HEALTH_ACTION_REPORT,
                       HEALTH_ACTION_RELEASE_SLOT, END);
}

static void test_stability_window(void **state)
{
        HealthRecord rec = make_record(HEALTH_PHASE_FINALIZED, 1);
        HealthMachineConfig cfg = { .checks_timeout_usec = 30 * SEC, .stability_usec = 120 * SEC };
        HealthMachine m;
        HealthStep s;

        start(&m, &cfg, &rec, "to-sum", true, HEALTH_GRUB_ARMED, &s);
        assert_int_equal(checks(&m, HEALTH_VERDICT_GREEN, NULL, T0 + 10 * SEC, &s), 0);
        expect_actions(&s, HEALTH_ACTION_WAIT, END);
        assert_int_equal(m.state, HEALTH_STATE_STABILIZING);
        assert_int_equal(s.wake_usec, T0 + 130 * SEC);

        /* an early tick, and green reports meanwhile, change nothing: the window is not cut short */
        assert_int_equal(tick(&m, T0 + 129 * SEC, &s), 0);
        expect_actions(&s, END);
        assert_int_equal(s.wake_usec, T0 + 130 * SEC);
        assert_int_equal(checks(&m, HEALTH_VERDICT_GREEN, NULL, T0 + 129 * SEC, &s), 0);
        expect_actions(&s, END);
        assert_int_equal(m.state, HEALTH_STATE_STABILIZING);

        /* at the end: re-check, with a fresh deadline */
        assert_int_equal(tick(&m, T0 + 130 * SEC, &s), 0);
        expect_actions(&s, HEALTH_ACTION_RUN_CHECKS, END);
        assert_int_equal(m.state, HEALTH_STATE_RECHECKING);
        assert_int_equal(s.deadline_usec, T0 + 160 * SEC);
        assert_int_equal(m.check_runs, 2);

        /* green at the re-check ends it (no second window) */
        assert_int_equal(checks(&m, HEALTH_VERDICT_GREEN, NULL, T0 + 140 * SEC, &s), 0);
        assert_int_equal(m.state, HEALTH_STATE_SUCCEEDED);
        assert_int_equal(s.outcome, HEALTH_OUTCOME_SUCCEEDED);
}

static void test_red_during_window(void **state)
{
        HealthRecord rec = make_record(HEALTH_PHASE_FINALIZED, 0);
        HealthMachineConfig cfg = { .stability_usec = 600 * SEC };
        HealthMachine m;
        HealthStep s;

        start(&m, &cfg, &rec, "to-sum", true, HEALTH_GRUB_ARMED, &s);
        assert_int_equal(checks(&m, HEALTH_VERDICT_GREEN, NULL, T0 + 1 * SEC, &s), 0);
        assert_int_equal(checks(&m, HEALTH_VERDICT_RED, "ping-gw", T0 + 300 * SEC, &s), 0);
        /* the counter is cleared at the rollback: the bad release is GRUB's fallback entry now */
        expect_actions(&s, HEALTH_ACTION_RUN_RED_HOOKS, HEALTH_ACTION_ROLLBACK,
                       HEALTH_ACTION_CLEAR_BOOT_COUNTER, HEALTH_ACTION_MARK_BAD, HEALTH_ACTION_WRITE_RECORD,
                       HEALTH_ACTION_REPORT, HEALTH_ACTION_REBOOT, END);
        assert_string_equal(s.reason, "rolled back from 42.1: health checks failed: ping-gw");

        /* no counter (no GRUB environment block): nothing to clear */
        start(&m, &cfg, &rec, "to-sum", true, HEALTH_GRUB_UNSET, &s);
        assert_int_equal(checks(&m, HEALTH_VERDICT_RED, "ping-gw", T0 + 1 * SEC, &s), 0);
        expect_actions(&s, HEALTH_ACTION_RUN_RED_HOOKS, HEALTH_ACTION_ROLLBACK, HEALTH_ACTION_MARK_BAD,
                       HEALTH_ACTION_WRITE_RECORD, HEALTH_ACTION_REPORT, HEALTH_ACTION_REBOOT, END);
}

static void test_red_at_recheck(void **state)
{
        HealthRecord rec = make_record(HEALTH_PHASE_FINALIZED, 1);
        HealthMachineConfig cfg = { .stability_usec = 10 * SEC };
        HealthMachine m;
        HealthStep s;

        start(&m, &cfg, &rec, "to-sum", true, HEALTH_GRUB_ARMED, &s);
        assert_int_equal(checks(&m, HEALTH_VERDICT_GREEN, NULL, T0, &s), 0);
        assert_int_equal(tick(&m, T0 + 10 * SEC, &s), 0);
        assert_int_equal(checks(&m, HEALTH_VERDICT_RED, "a, b", T0 + 11 * SEC, &s), 0);
        expect_actions(&s, HEALTH_ACTION_RUN_RED_HOOKS, HEALTH_ACTION_WRITE_RECORD, HEALTH_ACTION_REBOOT,
                       END);
        assert_int_equal(m.state, HEALTH_STATE_REBOOTING);
        assert_int_equal(s.record->attempts_left, 0);
        assert_string_equal(m.failed, "a, b");
}

static void test_deadline(void **state)
{
        HealthRecord rec = make_record(HEALTH_PHASE_FINALIZED, 0);
        HealthMachineConfig cfg = { .checks_timeout_usec = 90 * SEC };
        HealthMachine m, before;
        HealthStep s;

        start(&m, &cfg, &rec, "to-sum", true, HEALTH_GRUB_ARMED, &s);
        assert_int_equal(tick(&m, T0 + 89 * SEC, &s), 0);
        expect_actions(&s, END);
        assert_int_equal(s.wake_usec, T0 + 90 * SEC);
        assert_int_equal(tick(&m, T0 + 90 * SEC, &s), 0);
        expect_actions(&s, HEALTH_ACTION_RUN_RED_HOOKS, HEALTH_ACTION_ROLLBACK,
                       HEALTH_ACTION_CLEAR_BOOT_COUNTER, HEALTH_ACTION_MARK_BAD, HEALTH_ACTION_WRITE_RECORD,
                       HEALTH_ACTION_REPORT, HEALTH_ACTION_REBOOT, END);
        assert_int_equal(s.outcome, HEALTH_OUTCOME_ROLLED_BACK);
        assert_string_equal(s.reason, "rolled back from 42.1: health checks did not finish within 90 s");
        assert_int_equal(s.record->phase, HEALTH_PHASE_ROLLED_BACK);

        /* a green result arriving after the deadline is too late */
        start(&m, &cfg, &rec, "to-sum", true, HEALTH_GRUB_ARMED, &s);
        before = m;
        assert_int_equal(checks(&m, HEALTH_VERDICT_GREEN, NULL, T0 + 91 * SEC, &s), 0);
        assert_int_equal(m.state, HEALTH_STATE_ROLLING_BACK);
        m = before;
        assert_int_equal(checks(&m, HEALTH_VERDICT_RUNNING, NULL, T0 + 90 * SEC, &s), 0);
        assert_int_equal(m.state, HEALTH_STATE_ROLLING_BACK);
}

/* One boot under a fake world: the checks always report v. Returns the final step. */
static HealthState boot_once(HealthRecord *rec, const char *booted, bool have_previous, HealthVerdict v,
                             HealthStep *ret)
{
        HealthMachine m;
        HealthStep s;

        start(&m, NULL, rec, booted, have_previous, HEALTH_GRUB_ARMED, &s);
        if (!health_state_is_terminal(m.state))
                assert_int_equal(checks(&m, v, v == HEALTH_VERDICT_RED ? "x" : NULL, T0 + SEC, &s), 0);
        assert_true(health_state_is_terminal(m.state));
        if (m.have_record)
                *rec = m.record;
        *ret = s;
        return m.state;
}

static void test_retries_then_rollback_then_recovered(void **state)
{
        HealthRecord rec = make_record(HEALTH_PHASE_FINALIZED, 2);
        HealthStep s;

        assert_int_equal(boot_once(&rec, "to-sum", true, HEALTH_VERDICT_RED, &s), HEALTH_STATE_REBOOTING);
        assert_int_equal(rec.attempts_left, 1);
        assert_int_equal(s.outcome, HEALTH_OUTCOME_NONE);
        assert_int_equal(boot_once(&rec, "to-sum", true, HEALTH_VERDICT_RED, &s), HEALTH_STATE_REBOOTING);
        assert_int_equal(rec.attempts_left, 0);
        assert_int_equal(boot_once(&rec, "to-sum", true, HEALTH_VERDICT_RED, &s), HEALTH_STATE_ROLLING_BACK);
        assert_int_equal(rec.phase, HEALTH_PHASE_ROLLED_BACK);
        assert_string_equal(s.reason, "rolled back from 42.1: health checks failed: x");

        /* the rollback took: the previous release is checked and is green */
        assert_int_equal(boot_once(&rec, "from-sum", true, HEALTH_VERDICT_GREEN, &s),
                         HEALTH_STATE_RECOVERED);
        expect_actions(&s, HEALTH_ACTION_RUN_GREEN_HOOKS, HEALTH_ACTION_CLEAR_BOOT_COUNTER,
                       HEALTH_ACTION_REMOVE_RECORD, HEALTH_ACTION_REPORT, HEALTH_ACTION_RELEASE_SLOT, END);
        assert_int_equal(s.outcome, HEALTH_OUTCOME_RECOVERED);
        assert_string_equal(s.reason, "healthy again on 41.9 after leaving 42.1");
}

static void test_red_after_rollback_is_manual(void **state)
{
        HealthRecord rec = make_record(HEALTH_PHASE_ROLLED_BACK, 0);
        HealthStep s;

        assert_int_equal(boot_once(&rec, "from-sum", true, HEALTH_VERDICT_RED, &s), HEALTH_STATE_MANUAL);
        expect_actions(&s, HEALTH_ACTION_RUN_RED_HOOKS, HEALTH_ACTION_REPORT, END);
        assert_int_equal(s.outcome, HEALTH_OUTCOME_MANUAL);
        assert_string_equal(s.reason,
                            "manual intervention needed: red after a rollback (health checks failed: x)");
}

static void test_nothing_to_roll_back_to(void **state)
{
        HealthRecord rec = make_record(HEALTH_PHASE_FINALIZED, 3);
        HealthStep s;

        /* attempts left do not matter: without a previous deployment there is no way out */
        assert_int_equal(boot_once(&rec, "to-sum", false, HEALTH_VERDICT_RED, &s), HEALTH_STATE_MANUAL);
        expect_actions(&s, HEALTH_ACTION_RUN_RED_HOOKS, HEALTH_ACTION_REPORT, END);
        assert_string_equal(s.reason, "manual intervention needed: red with nothing to roll back to "
                                      "(health checks failed: x)");
}

/* Whatever the checks say and whatever the attempts, a run of boots ends without a reboot in at most
 * attempts + 2 boots, and a release is rolled back at most once. */
static void test_never_loops(void **state)
{
        for (unsigned attempts = 0; attempts <= 5; attempts++)
                for (int prev = 0; prev <= 1; prev++) {
                        HealthRecord rec = make_record(HEALTH_PHASE_FINALIZED, attempts);
                        const char *booted = "to-sum";
                        unsigned boots = 0, rollbacks = 0;
                        HealthStep s;
                        HealthState st;

                        for (;;) {
                                st = boot_once(&rec, booted, prev, HEALTH_VERDICT_RED, &s);
                                boots++;
                                assert_true(boots <= attempts + 2);
                                if (st == HEALTH_STATE_ROLLING_BACK) {
                                        rollbacks++;
                                        booted = "from-sum"; /* the fake bootloader obeys the rollback */
                                }
                                if (st != HEALTH_STATE_REBOOTING && st != HEALTH_STATE_ROLLING_BACK)
                                        break;
                        }
                        assert_int_equal(st, HEALTH_STATE_MANUAL);
                        for (size_t i = 0; i < s.n_actions; i++)
                                assert_int_not_equal(s.actions[i], HEALTH_ACTION_REBOOT);
                        assert_int_equal(rollbacks, prev ? 1 : 0);
                        assert_int_equal(boots, prev ? attempts + 2 : 1);
                }
}

static void test_fallback(void **state)
{
        HealthRecord rec = make_record(HEALTH_PHASE_FINALIZED, 2);
        HealthMachine m;
        HealthStep s;

        start(&m, NULL, &rec, "from-sum", true, HEALTH_GRUB_FELL_BACK, &s);
        expect_actions(&s, HEALTH_ACTION_MARK_BAD, HEALTH_ACTION_MAKE_BOOTED_DEFAULT,
                       HEALTH_ACTION_CLEAR_BOOT_COUNTER, HEALTH_ACTION_WRITE_RECORD, HEALTH_ACTION_REPORT,
                       HEALTH_ACTION_RUN_CHECKS, END);
        assert_int_equal(s.outcome, HEALTH_OUTCOME_BOOT_FALLBACK);
        assert_string_equal(s.reason, "boot fell back from 42.1 to 41.9 (GRUB boot counter expired)");
        assert_int_equal(s.record->phase, HEALTH_PHASE_ROLLED_BACK);
        assert_string_equal(s.record->to_checksum, "to-sum");
        assert_int_equal(m.state, HEALTH_STATE_CHECKING);
        /* the slot is kept until the old release is green */
        assert_int_equal(checks(&m, HEALTH_VERDICT_GREEN, NULL, T0 + SEC, &s), 0);
        assert_int_equal(s.outcome, HEALTH_OUTCOME_RECOVERED);
        assert_int_equal(s.actions[s.n_actions - 1], HEALTH_ACTION_RELEASE_SLOT);

        /* detected from the checksum alone (greenboot-rs style, counter not -1); red then → manual */
        rec = make_record(HEALTH_PHASE_FINALIZED, 2);
        start(&m, NULL, &rec, "from-sum", true, HEALTH_GRUB_ARMED, &s);
        assert_string_equal(s.reason, "boot fell back from 42.1 to 41.9");
        assert_int_equal(checks(&m, HEALTH_VERDICT_RED, "x", T0 + SEC, &s), 0);
        assert_int_equal(m.state, HEALTH_STATE_MANUAL);
}

static void test_unexpected_deployment(void **state)
{
        HealthRecord rec = make_record(HEALTH_PHASE_ROLLED_BACK, 0);
        HealthMachine m;
        HealthStep s;

        start(&m, NULL, &rec, "to-sum", true, HEALTH_GRUB_UNSET, &s);
        expect_actions(&s, HEALTH_ACTION_REPORT, END);
        assert_int_equal(m.state, HEALTH_STATE_MANUAL);
        assert_string_equal(s.reason, "manual intervention needed: the rollback did not take effect: still "
                                      "booted into the bad release");

        rec = make_record(HEALTH_PHASE_FINALIZED, 0);
        start(&m, NULL, &rec, "other-sum", true, HEALTH_GRUB_UNSET, &s);
        expect_actions(&s, HEALTH_ACTION_REPORT, END);
        assert_string_equal(s.reason,
                            "manual intervention needed: booted deployment other-sum is neither the "
                            "update nor its predecessor");
        assert_all_rejected(&m);
}

static void test_rejected(void **state)
{
        HealthRecord rec = make_record(HEALTH_PHASE_FINALIZED, 0);
        HealthEvent ev = { .kind = HEALTH_EVENT_START, .record = &rec, .booted_checksum = "to-sum" };
        HealthMachineConfig bad = { .stability_usec = HEALTH_DURATION_MAX_USEC + 1 };
        HealthMachine m, before;
        HealthStep s;
        char longname[HEALTH_FAILED_MAX + 2];

        assert_int_equal(health_machine_init(&m, &bad, T0), -EINVAL);
        assert_int_equal(health_machine_init(&m, NULL, HEALTH_NOW_MAX_USEC + 1), -ERANGE);
        assert_int_equal(health_machine_init(&m, NULL, T0), 0);
        before = m;
        /* events before START */
        assert_int_equal(tick(&m, T0, &s), -EINVAL);
        assert_int_equal(checks(&m, HEALTH_VERDICT_GREEN, NULL, T0, &s), -EINVAL);
        /* bad records and inputs */
        ev.booted_checksum = "";
        assert_int_equal(health_machine_step(&m, &ev, T0, &s), -EINVAL);
        ev.booted_checksum = "to\nsum";
        assert_int_equal(health_machine_step(&m, &ev, T0, &s), -EINVAL);
        ev.booted_checksum = "to-sum";
        strcpy(rec.from_checksum, "to-sum");
        assert_int_equal(health_machine_step(&m, &ev, T0, &s), -EINVAL);
        rec = make_record(HEALTH_PHASE_FINALIZED, HEALTH_ATTEMPTS_MAX + 1);
        assert_int_equal(health_machine_step(&m, &ev, T0, &s), -EINVAL);
        rec = make_record(_HEALTH_PHASE_MAX, 0);
        assert_int_equal(health_machine_step(&m, &ev, T0, &s), -EINVAL);
        rec = make_record(HEALTH_PHASE_FINALIZED, 0);
        memset(rec.to_checksum, 'a', sizeof(rec.to_checksum)); /* no NUL within the cap */
        assert_int_equal(health_machine_step(&m, &ev, T0, &s), -E2BIG);
        rec = make_record(HEALTH_PHASE_FINALIZED, 0);
        ev.grub = _HEALTH_GRUB_MAX;
        assert_int_equal(health_machine_step(&m, &ev, T0, &s), -EINVAL);
        ev.grub = HEALTH_GRUB_ARMED;
        ev.kind = _HEALTH_EVENT_MAX;
        assert_int_equal(health_machine_step(&m, &ev, T0, &s), -EINVAL);
        ev.kind = HEALTH_EVENT_START;
        assert_memory_equal(&m, &before, sizeof(m));

        assert_int_equal(health_machine_step(&m, &ev, T0 + SEC, &s), 0);
        before = m;
        /* START twice, time going backwards, bad verdicts and names */
        assert_int_equal(health_machine_step(&m, &ev, T0 + SEC, &s), -EINVAL);
        assert_int_equal(tick(&m, T0, &s), -ERANGE);
        assert_int_equal(checks(&m, _HEALTH_VERDICT_MAX, NULL, T0 + SEC, &s), -EINVAL);
        assert_int_equal(checks(&m, HEALTH_VERDICT_RED, "a\x1b[31m", T0 + SEC, &s), -EINVAL);
        memset(longname, 'n', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        assert_int_equal(checks(&m, HEALTH_VERDICT_RED, longname, T0 + SEC, &s), -E2BIG);
        assert_memory_equal(&m, &before, sizeof(m));
}

static void test_names(void **state)
{
        HealthPhase p;

        assert_string_equal(health_state_name(HEALTH_STATE_STABILIZING), "stabilizing");
        assert_null(health_state_name(_HEALTH_STATE_MAX));
        assert_string_equal(health_action_name(HEALTH_ACTION_MAKE_BOOTED_DEFAULT), "make_booted_default");
        assert_null(health_action_name(_HEALTH_ACTION_MAX));
        assert_string_equal(health_outcome_name(HEALTH_OUTCOME_MANUAL), "manual_intervention");
        assert_null(health_outcome_name(_HEALTH_OUTCOME_MAX));
        assert_string_equal(health_phase_name(HEALTH_PHASE_ROLLED_BACK), "rolled_back");
        assert_int_equal(health_phase_from_name("finalized", &p), 0);
        assert_int_equal(p, HEALTH_PHASE_FINALIZED);
        assert_int_equal(health_phase_from_name("rolled_back", &p), 0);
        assert_int_equal(p, HEALTH_PHASE_ROLLED_BACK);
        assert_int_equal(health_phase_from_name("Finalized", &p), -EINVAL);
        for (int i = 0; i < _HEALTH_STATE_MAX; i++)
                assert_non_null(health_state_name(i));
        for (int i = 0; i < _HEALTH_ACTION_MAX; i++)
                assert_non_null(health_action_name(i));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_update),
                cmocka_unit_test(test_green_without_window),
                cmocka_unit_test(test_grub_unset_no_clear),
                cmocka_unit_test(test_stability_window),
                cmocka_unit_test(test_red_during_window),
                cmocka_unit_test(test_red_at_recheck),
                cmocka_unit_test(test_deadline),
                cmocka_unit_test(test_retries_then_rollback_then_recovered),
                cmocka_unit_test(test_red_after_rollback_is_manual),
                cmocka_unit_test(test_nothing_to_roll_back_to),
                cmocka_unit_test(test_never_loops),
                cmocka_unit_test(test_fallback),
                cmocka_unit_test(test_unexpected_deployment),
                cmocka_unit_test(test_rejected),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
