/* health-machine.c — the boot assessment after an update as a pure step function (see the transition
 * table in health-machine.h). No I/O, no clock, no allocation: every decision is a function of the
 * machine, the event and now_usec. A step works on a copy, so a rejected event changes nothing. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "health-machine.h"
#include "macros.h"
#include "strutil.h"

static const char *const state_names[_HEALTH_STATE_MAX] = {
        [HEALTH_STATE_IDLE] = "idle",
        [HEALTH_STATE_CHECKING] = "checking",
        [HEALTH_STATE_STABILIZING] = "stabilizing",
        [HEALTH_STATE_RECHECKING] = "rechecking",
        [HEALTH_STATE_STEADY] = "steady",
        [HEALTH_STATE_SUCCEEDED] = "succeeded",
        [HEALTH_STATE_RECOVERED] = "recovered",
        [HEALTH_STATE_REBOOTING] = "rebooting",
        [HEALTH_STATE_ROLLING_BACK] = "rolling_back",
        [HEALTH_STATE_MANUAL] = "manual",
};

static const char *const action_names[_HEALTH_ACTION_MAX] = {
        [HEALTH_ACTION_REPORT_STEADY] = "report_steady",
        [HEALTH_ACTION_RUN_CHECKS] = "run_checks",
        [HEALTH_ACTION_WAIT] = "wait",
        [HEALTH_ACTION_RUN_GREEN_HOOKS] = "run_green_hooks",
        [HEALTH_ACTION_RUN_RED_HOOKS] = "run_red_hooks",
        [HEALTH_ACTION_CLEAR_BOOT_COUNTER] = "clear_boot_counter",
        [HEALTH_ACTION_WRITE_RECORD] = "write_record",
        [HEALTH_ACTION_REMOVE_RECORD] = "remove_record",
        [HEALTH_ACTION_MARK_BAD] = "mark_bad",
        [HEALTH_ACTION_ROLLBACK] = "rollback",
        [HEALTH_ACTION_MAKE_BOOTED_DEFAULT] = "make_booted_default",
        [HEALTH_ACTION_REBOOT] = "reboot",
        [HEALTH_ACTION_REPORT] = "report",
        [HEALTH_ACTION_RELEASE_SLOT] = "release_slot",
};

static const char *const outcome_names[_HEALTH_OUTCOME_MAX] = {
        [HEALTH_OUTCOME_NONE] = "none",
        [HEALTH_OUTCOME_SUCCEEDED] = "succeeded",
        [HEALTH_OUTCOME_RECOVERED] = "recovered",
        [HEALTH_OUTCOME_ROLLED_BACK] = "rolled_back",
        [HEALTH_OUTCOME_BOOT_FALLBACK] = "boot_fallback",
        [HEALTH_OUTCOME_MANUAL] = "manual_intervention",
};

static const char *const phase_names[_HEALTH_PHASE_MAX] = {
        [HEALTH_PHASE_FINALIZED] = "finalized",
        [HEALTH_PHASE_ROLLED_BACK] = "rolled_back",
};

const char *health_state_name(HealthState s)
{
        return (unsigned)s < ELEMENTSOF(state_names) ? state_names[s] : NULL;
}

const char *health_action_name(HealthActionKind k)
{
        return (unsigned)k < ELEMENTSOF(action_names) ? action_names[k] : NULL;
}

const char *health_outcome_name(HealthOutcome o)
{
        return (unsigned)o < ELEMENTSOF(outcome_names) ? outcome_names[o] : NULL;
}

const char *health_phase_name(HealthPhase p)
{
        return (unsigned)p < ELEMENTSOF(phase_names) ? phase_names[p] : NULL;
}

int health_phase_from_name(const char *s, HealthPhase *ret)
{
        assert(s);
        for (size_t i = 0; i < ELEMENTSOF(phase_names); i++)
                if (streq(s, phase_names[i])) {
                        if (ret)
                                *ret = (HealthPhase)i;
                        return 0;
                }
        return -EINVAL;
}

bool health_state_is_terminal(HealthState s)
{
        return s >= HEALTH_STATE_STEADY;
}

int health_record_validate(const HealthRecord *r)
{
        int k;

        assert(r);
        /* The arrays are one byte over their cap: a missing NUL shows as a string over the cap. */
        if ((k = string_check_plain(r->to_checksum, HEALTH_CHECKSUM_MAX, true)) < 0 ||
            (k = string_check_plain(r->from_checksum, HEALTH_CHECKSUM_MAX, true)) < 0 ||
            (k = string_check_plain(r->to_version, HEALTH_VERSION_MAX, false)) < 0 ||
            (k = string_check_plain(r->from_version, HEALTH_VERSION_MAX, false)) < 0)
                return k;
        if (streq(r->to_checksum, r->from_checksum))
                return -EINVAL;
        if ((unsigned)r->phase >= _HEALTH_PHASE_MAX || r->attempts_left > HEALTH_ATTEMPTS_MAX)
                return -EINVAL;
        return 0;
}

int health_machine_init(HealthMachine *m, const HealthMachineConfig *cfg, uint64_t now_usec)
{
        HealthMachineConfig c = cfg ? *cfg : (HealthMachineConfig){};

        assert(m);
        if (c.checks_timeout_usec > HEALTH_DURATION_MAX_USEC || c.stability_usec > HEALTH_DURATION_MAX_USEC)
                return -EINVAL;
        if (now_usec > HEALTH_NOW_MAX_USEC)
                return -ERANGE;
        if (c.checks_timeout_usec == 0)
                c.checks_timeout_usec = HEALTH_CHECKS_TIMEOUT_DEFAULT_USEC;
        *m = (HealthMachine){ .config = c, .state = HEALTH_STATE_IDLE, .last_now_usec = now_usec };
        return 0;
}

static void push(HealthStep *s, HealthActionKind k)
{
        assert(s->n_actions < HEALTH_ACTIONS_MAX);
        s->actions[s->n_actions++] = k;
}

static void report(HealthMachine *m, HealthStep *s, HealthOutcome o, const char *fmt, ...) _printf_(4, 5);
static void report(HealthMachine *m, HealthStep *s, HealthOutcome o, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(m->reason, sizeof(m->reason), fmt, ap); /* truncation is fine for a report */
        va_end(ap);
        s->outcome = o;
        push(s, HEALTH_ACTION_REPORT);
}

static void run_checks(HealthMachine *m, HealthStep *s, HealthState next, uint64_t now)
{
        m->state = next;
        m->deadline_usec = now + m->config.checks_timeout_usec;
        m->check_runs++;
        s->deadline_usec = m->deadline_usec;
        s->wake_usec = m->deadline_usec;
        push(s, HEALTH_ACTION_RUN_CHECKS);
}

static void manual(HealthMachine *m, HealthStep *s, const char *why)
{
        m->state = HEALTH_STATE_MANUAL;
        report(m, s, HEALTH_OUTCOME_MANUAL, "manual intervention needed: %s", why);
}

static void green_path(HealthMachine *m, HealthStep *s)
{
        bool after_rollback = m->record.phase == HEALTH_PHASE_ROLLED_BACK;

        push(s, HEALTH_ACTION_RUN_GREEN_HOOKS);
        if (m->grub != HEALTH_GRUB_UNSET)
                push(s, HEALTH_ACTION_CLEAR_BOOT_COUNTER);
        push(s, HEALTH_ACTION_REMOVE_RECORD);
        if (after_rollback) {
                m->state = HEALTH_STATE_RECOVERED;
                report(m, s, HEALTH_OUTCOME_RECOVERED, "healthy again on %s after leaving %s",
                       m->record.from_version[0] ? m->record.from_version : m->record.from_checksum,
                       m->record.to_version[0] ? m->record.to_version : m->record.to_checksum);
        } else {
                m->state = HEALTH_STATE_SUCCEEDED;
                report(m, s, HEALTH_OUTCOME_SUCCEEDED, "%s is healthy",
                       m->record.to_version[0] ? m->record.to_version : m->record.to_checksum);
        }
        push(s, HEALTH_ACTION_RELEASE_SLOT);
}

/* why: "health checks failed: a, b" or the deadline text, already in m->failed's wording. */
static void red_path(HealthMachine *m, HealthStep *s, const char *why)
{
        char what[HEALTH_FAILED_MAX + 64];

        (void)snprintf(what, sizeof(what), "%s", why);
        push(s, HEALTH_ACTION_RUN_RED_HOOKS);
        if (m->record.phase == HEALTH_PHASE_ROLLED_BACK) {
                char text[sizeof(what) + 32];
                (void)snprintf(text, sizeof(text), "red after a rollback (%s)", what);
                manual(m, s, text);
        } else if (!m->have_previous) {
                char text[sizeof(what) + 48];
                (void)snprintf(text, sizeof(text), "red with nothing to roll back to (%s)", what);
                manual(m, s, text);
        } else if (m->record.attempts_left > 0) {
                m->record.attempts_left--;
                push(s, HEALTH_ACTION_WRITE_RECORD);
                push(s, HEALTH_ACTION_REBOOT);
                m->state = HEALTH_STATE_REBOOTING;
        } else {
                m->record.phase = HEALTH_PHASE_ROLLED_BACK;
                push(s, HEALTH_ACTION_ROLLBACK);
                /* The bad release is now GRUB's fallback entry (1): a counter left armed or expired would
                 * boot it again at the reboot. */
                if (m->grub != HEALTH_GRUB_UNSET)
                        push(s, HEALTH_ACTION_CLEAR_BOOT_COUNTER);
                push(s, HEALTH_ACTION_MARK_BAD);
                push(s, HEALTH_ACTION_WRITE_RECORD);
                m->state = HEALTH_STATE_ROLLING_BACK;
                report(m, s, HEALTH_OUTCOME_ROLLED_BACK, "rolled back from %s: %s",
                       m->record.to_version[0] ? m->record.to_version : m->record.to_checksum, what);
                push(s, HEALTH_ACTION_REBOOT);
        }
}

static int on_start(HealthMachine *m, const HealthEvent *ev, uint64_t now, HealthStep *s)
{
        int r;

        r = string_check_plain(ev->booted_checksum, HEALTH_CHECKSUM_MAX, true);
        if (r < 0)
                return r;
        if ((unsigned)ev->grub >= _HEALTH_GRUB_MAX)
                return -EINVAL;
        if (!ev->record) {
                m->state = HEALTH_STATE_STEADY;
                push(s, HEALTH_ACTION_REPORT_STEADY);
                return 0;
        }
        r = health_record_validate(ev->record);
        if (r < 0)
                return r;
        m->have_record = true;
        m->record = *ev->record;
        m->have_previous = ev->have_previous;
        m->grub = ev->grub;

        bool on_to = streq(ev->booted_checksum, m->record.to_checksum);
        bool on_from = streq(ev->booted_checksum, m->record.from_checksum);

        if (m->record.phase == HEALTH_PHASE_FINALIZED && on_to) {
                run_checks(m, s, HEALTH_STATE_CHECKING, now);
        } else if (m->record.phase == HEALTH_PHASE_FINALIZED && on_from) {
                /* GRUB fell back (its counter ran out, or greenboot-rs's fallback entry): the update never
                 * got a healthy boot. The booted deployment becomes the default so it stays. */
                m->record.phase = HEALTH_PHASE_ROLLED_BACK;
                push(s, HEALTH_ACTION_MARK_BAD);
                push(s, HEALTH_ACTION_MAKE_BOOTED_DEFAULT);
                if (m->grub != HEALTH_GRUB_UNSET) /* as after a rollback: entry 1 is the bad release now */
                        push(s, HEALTH_ACTION_CLEAR_BOOT_COUNTER);
                push(s, HEALTH_ACTION_WRITE_RECORD);
                report(m, s, HEALTH_OUTCOME_BOOT_FALLBACK, "boot fell back from %s to %s%s",
                       m->record.to_version[0] ? m->record.to_version : m->record.to_checksum,
                       m->record.from_version[0] ? m->record.from_version : m->record.from_checksum,
                       m->grub == HEALTH_GRUB_FELL_BACK ? " (GRUB boot counter expired)" : "");
                run_checks(m, s, HEALTH_STATE_CHECKING, now);
        } else if (m->record.phase == HEALTH_PHASE_ROLLED_BACK && on_from) {
                run_checks(m, s, HEALTH_STATE_CHECKING, now);
        } else if (on_to) {
                manual(m, s, "the rollback did not take effect: still booted into the bad release");
        } else {
                char text[HEALTH_CHECKSUM_MAX + 80];
                (void)snprintf(text, sizeof(text),
                               "booted deployment %s is neither the update nor its predecessor",
                               ev->booted_checksum);
                manual(m, s, text);
        }
        return 0;
}

static void failed_text(HealthMachine *m, const char *failed, char *buf, size_t size)
{
        (void)snprintf(m->failed, sizeof(m->failed), "%s", failed ? failed : "");
        if (m->failed[0])
                (void)snprintf(buf, size, "health checks failed: %s", m->failed);
        else
                (void)snprintf(buf, size, "health checks failed");
}

static void on_deadline(HealthMachine *m, HealthStep *s)
{
        char why[128];

        (void)snprintf(why, sizeof(why), "health checks did not finish within %" PRIu64 " s",
                       m->config.checks_timeout_usec / 1000000);
        red_path(m, s, why);
}

static int on_checks(HealthMachine *m, const HealthEvent *ev, uint64_t now, HealthStep *s)
{
        char why[HEALTH_FAILED_MAX + 32];
        int r;

        if ((unsigned)ev->verdict >= _HEALTH_VERDICT_MAX)
                return -EINVAL;
        r = string_check_plain(ev->failed, HEALTH_FAILED_MAX, false);
        if (r < 0)
                return r;

        if (ev->verdict == HEALTH_VERDICT_RED) {
                failed_text(m, ev->failed, why, sizeof(why));
                red_path(m, s, why);
        } else if (m->state == HEALTH_STATE_STABILIZING) {
                s->wake_usec = m->window_end_usec; /* still waiting out the window */
        } else if (now >= m->deadline_usec) {
                on_deadline(m, s); /* a result after the deadline is too late, whatever it says */
        } else if (ev->verdict == HEALTH_VERDICT_RUNNING) {
                s->wake_usec = m->deadline_usec;
        } else if (m->state == HEALTH_STATE_CHECKING && m->config.stability_usec > 0) {
                m->state = HEALTH_STATE_STABILIZING;
                m->window_end_usec = now + m->config.stability_usec;
                s->wake_usec = m->window_end_usec;
                push(s, HEALTH_ACTION_WAIT);
        } else {
                green_path(m, s);
        }
        return 0;
}

static void on_tick(HealthMachine *m, uint64_t now, HealthStep *s)
{
        if (m->state == HEALTH_STATE_STABILIZING) {
                if (now >= m->window_end_usec)
                        run_checks(m, s, HEALTH_STATE_RECHECKING, now);
                else
                        s->wake_usec = m->window_end_usec;
        } else if (now >= m->deadline_usec) {
                on_deadline(m, s);
        } else {
                s->wake_usec = m->deadline_usec;
        }
}

int health_machine_step(HealthMachine *m, const HealthEvent *ev, uint64_t now_usec, HealthStep *ret)
{
        HealthMachine n;
        HealthStep s = {};
        int r = 0;

        assert(m);
        assert(ev);
        assert(ret);
        if (now_usec > HEALTH_NOW_MAX_USEC || now_usec < m->last_now_usec)
                return -ERANGE;
        if ((unsigned)ev->kind >= _HEALTH_EVENT_MAX || health_state_is_terminal(m->state))
                return -EINVAL;
        if ((ev->kind == HEALTH_EVENT_START) != (m->state == HEALTH_STATE_IDLE))
                return -EINVAL;

        n = *m;
        n.last_now_usec = now_usec;
        switch (ev->kind) {
        case HEALTH_EVENT_START:
                r = on_start(&n, ev, now_usec, &s);
                break;
        case HEALTH_EVENT_CHECKS:
                r = on_checks(&n, ev, now_usec, &s);
                break;
        default:
                on_tick(&n, now_usec, &s);
                break;
        }
        if (r < 0)
                return r;

        s.state_changed = n.state != m->state;
        *m = n;
        s.reason = s.outcome != HEALTH_OUTCOME_NONE ? m->reason : NULL;
        s.record = m->have_record ? &m->record : NULL;
        if (health_state_is_terminal(m->state))
                s.wake_usec = 0;
        *ret = s;
        return 0;
}
