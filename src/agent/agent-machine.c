/* agent-machine.c — upkeep-agent's update state machine: Zincati's states, transitions and tick timing
 * as a pure step function (see agent-machine.h and docs/agent-machine.md). No I/O, no clock, no
 * allocation: every decision is a function of the machine, the input and now_usec. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent-machine.h"
#include "macros.h"
#include "strutil.h"

static const char *const state_names[_AGENT_STATE_MAX] = {
        [AGENT_STATE_START] = "start",
        [AGENT_STATE_INITIALIZED] = "initialized",
        [AGENT_STATE_REPORTED_STEADY] = "reported_steady",
        [AGENT_STATE_NO_NEW_UPDATE] = "no_new_update",
        [AGENT_STATE_UPDATE_AVAILABLE] = "update_available",
        [AGENT_STATE_UPDATE_STAGED] = "update_staged",
        [AGENT_STATE_UPDATE_FINALIZED] = "update_finalized",
        [AGENT_STATE_END] = "end",
};

static const char *const action_names[_AGENT_ACTION_MAX] = {
        [AGENT_ACTION_SLEEP] = "sleep",
        [AGENT_ACTION_REPORT_STEADY] = "report_steady",
        [AGENT_ACTION_CHECK_UPDATES] = "check_updates",
        [AGENT_ACTION_STAGE] = "stage",
        [AGENT_ACTION_CAN_FINALIZE] = "can_finalize",
        [AGENT_ACTION_CHECK_USERS] = "check_users",
        [AGENT_ACTION_WARN_USERS] = "warn_users",
        [AGENT_ACTION_FINALIZE] = "finalize",
};

/* The input each awaited action expects. */
static const AgentInputKind expected_input[_AGENT_ACTION_MAX] = {
        [AGENT_ACTION_SLEEP] = AGENT_INPUT_TICK,
        [AGENT_ACTION_REPORT_STEADY] = AGENT_INPUT_STEADY_REPORTED,
        [AGENT_ACTION_CHECK_UPDATES] = AGENT_INPUT_CHECKED,
        [AGENT_ACTION_STAGE] = AGENT_INPUT_STAGED,
        [AGENT_ACTION_CAN_FINALIZE] = AGENT_INPUT_CAN_FINALIZE,
        [AGENT_ACTION_CHECK_USERS] = AGENT_INPUT_USERS,
        [AGENT_ACTION_WARN_USERS] = AGENT_INPUT_TICK,
        [AGENT_ACTION_FINALIZE] = AGENT_INPUT_FINALIZED,
};

const char *agent_state_name(AgentState s)
{
        if ((unsigned)s >= _AGENT_STATE_MAX)
                return NULL;
        return state_names[s];
}

const char *agent_action_name(AgentActionKind k)
{
        if ((unsigned)k >= _AGENT_ACTION_MAX)
                return NULL;
        return action_names[k];
}

int strategy_can_finalize(FinalizeStrategy kind, bool in_window, bool lock_granted, const char **ret_reason)
{
        const char *reason = NULL;

        switch (kind) {
        case FINALIZE_STRATEGY_IMMEDIATE:
                break;
        case FINALIZE_STRATEGY_PERIODIC:
                if (!in_window)
                        reason = "outside maintenance window";
                break;
        case FINALIZE_STRATEGY_FLEET_LOCK:
                if (!lock_granted)
                        reason = "fleet lock not granted";
                break;
        case FINALIZE_STRATEGY_PERIODIC_FLEET_LOCK:
                /* The window is checked first: outside it the shell need not ask for a slot at all. */
                if (!in_window)
                        reason = "outside maintenance window";
                else if (!lock_granted)
                        reason = "fleet lock not granted";
                break;
        default:
                return -EINVAL;
        }
        if (ret_reason)
                *ret_reason = reason;
        return reason ? 0 : 1;
}

static void copy_string(char *dst, const char *src)
{
        size_t n = src ? strlen(src) : 0; /* validated by string_check_plain() against dst's cap */

        memcpy(dst, src ? src : "", n);
        dst[n] = '\0';
}

static int check_input(const AgentMachine *m, const AgentInput *in)
{
        int r;

        if ((unsigned)in->kind >= _AGENT_INPUT_MAX)
                return -EINVAL;
        if (in->kind != expected_input[m->awaiting])
                return -EINVAL;
        if (!(in->jitter >= 0.0 && in->jitter < 1.0)) /* also rejects NaN */
                return -EINVAL;

        switch (in->kind) {
        case AGENT_INPUT_CHECKED:
                switch (in->check) {
                case AGENT_CHECK_UPDATE:
                        r = string_check_plain(in->version, AGENT_VERSION_MAX, true);
                        if (r < 0)
                                return r;
                        return string_check_plain(in->payload, AGENT_PAYLOAD_MAX, true);
                case AGENT_CHECK_DEAD_END:
                        return string_check_plain(in->reason, AGENT_REASON_MAX, false);
                case AGENT_CHECK_NO_UPDATE:
                case AGENT_CHECK_ERROR:
                        return 0;
                default:
                        return -EINVAL;
                }
        case AGENT_INPUT_CAN_FINALIZE:
                return string_check_plain(in->reason, AGENT_REASON_MAX, false);
        default:
                return 0;
        }
}

static int64_t steady_sleep(const AgentMachine *m, const AgentInput *in, int64_t now)
{
        int64_t base = m->config.steady_interval_usec;

        /* 0–10% jitter; jitter < 1 keeps it strictly below a tenth. */
        return now + base + (int64_t)(in->jitter * (double)(base / 10));
}

static void request(AgentAction *a, AgentMachine *m, AgentActionKind kind)
{
        a->kind = kind;
        m->awaiting = kind;
}

static void sleep_until(AgentAction *a, AgentMachine *m, int64_t when)
{
        a->kind = AGENT_ACTION_SLEEP;
        a->next_tick_usec = when;
        m->awaiting = AGENT_ACTION_SLEEP;
}

/* Ends the tick after a transition: at once when the state kind changed (except REPORTED_STEADY →
 * NO_NEW_UPDATE, as in Zincati: a fresh "no update" needs no immediate re-check), else after the steady
 * interval plus jitter. */
static void end_tick(AgentAction *a, AgentMachine *m, AgentState prev, const AgentInput *in, int64_t now)
{
        bool at_once = m->state != prev &&
                       !(prev == AGENT_STATE_REPORTED_STEADY && m->state == AGENT_STATE_NO_NEW_UPDATE);

        sleep_until(a, m, at_once ? now : steady_sleep(m, in, now));
}

static void on_tick(AgentMachine *m, const AgentInput *in, int64_t now, AgentAction *a)
{
        AgentState prev = m->state;

        m->last_tick_usec = now;
        switch (m->state) {
        case AGENT_STATE_START:
                m->state = AGENT_STATE_INITIALIZED;
                end_tick(a, m, prev, in, now);
                break;
        case AGENT_STATE_INITIALIZED:
                request(a, m, AGENT_ACTION_REPORT_STEADY);
                break;
        case AGENT_STATE_REPORTED_STEADY:
                if (!m->config.updates_enabled) {
                        end_tick(a, m, prev, in, now); /* idle: never checks */
                        break;
                }
                _fallthrough_;
        case AGENT_STATE_NO_NEW_UPDATE:
                m->last_check_usec = now;
                request(a, m, AGENT_ACTION_CHECK_UPDATES);
                break;
        case AGENT_STATE_UPDATE_AVAILABLE:
                request(a, m, AGENT_ACTION_STAGE);
                break;
        case AGENT_STATE_UPDATE_STAGED:
                request(a, m, AGENT_ACTION_CAN_FINALIZE);
                break;
        case AGENT_STATE_UPDATE_FINALIZED:
                m->state = AGENT_STATE_END;
                end_tick(a, m, prev, in, now);
                break;
        case AGENT_STATE_END:
        default:
                sleep_until(a, m, now + AGENT_END_INTERVAL_USEC);
                break;
        }
}

static void on_checked(AgentMachine *m, const AgentInput *in, int64_t now, AgentAction *a)
{
        AgentState prev = m->state;

        m->checks++;
        switch (in->check) {
        case AGENT_CHECK_ERROR:
                m->check_errors++;
                break; /* stay; retry next tick */
        case AGENT_CHECK_DEAD_END:
                m->dead_end = true;
                copy_string(m->dead_end_reason, in->reason);
                m->state = AGENT_STATE_NO_NEW_UPDATE;
                break;
        case AGENT_CHECK_NO_UPDATE:
                m->dead_end = false;
                m->dead_end_reason[0] = '\0';
                m->state = AGENT_STATE_NO_NEW_UPDATE;
                break;
        case AGENT_CHECK_UPDATE:
        default:
                m->dead_end = false;
                m->dead_end_reason[0] = '\0';
                copy_string(m->release.version, in->version);
                copy_string(m->release.payload, in->payload);
                m->attempts = 0;
                m->state = AGENT_STATE_UPDATE_AVAILABLE;
                break;
        }
        end_tick(a, m, prev, in, now);
}

static void on_staged(AgentMachine *m, const AgentInput *in, int64_t now, AgentAction *a, bool *abandoned)
{
        AgentState prev = m->state;

        m->stage_attempts++;
        if (in->ok) {
                m->attempts = 0;
                m->postponements = 0;
                m->strategy_refused = false;
                m->users_postponed = false;
                m->strategy_reason[0] = '\0';
                m->state = AGENT_STATE_UPDATE_STAGED;
        } else {
                m->stage_failures++;
                m->attempts++;
                if (m->attempts >= AGENT_MAX_STAGE_ATTEMPTS) {
                        m->abandoned = m->release;
                        m->have_abandoned = true;
                        m->targets_abandoned++;
                        m->attempts = 0;
                        memset(&m->release, 0, sizeof(m->release));
                        m->state = AGENT_STATE_NO_NEW_UPDATE;
                        *abandoned = true;
                }
        }
        end_tick(a, m, prev, in, now);
}

static void on_can_finalize(AgentMachine *m, const AgentInput *in, int64_t now, AgentAction *a)
{
        if (!in->can_finalize) {
                /* As Zincati: a refusal resets the postponements. */
                m->strategy_refused = true;
                m->users_postponed = false;
                m->postponements = 0;
                copy_string(m->strategy_reason, in->reason);
                sleep_until(a, m, steady_sleep(m, in, now));
                return;
        }
        m->strategy_refused = false;
        m->strategy_reason[0] = '\0';
        if (m->postponements < AGENT_MAX_POSTPONEMENTS)
                request(a, m, AGENT_ACTION_CHECK_USERS);
        else
                request(a, m, AGENT_ACTION_FINALIZE);
}

static void on_users(AgentMachine *m, const AgentInput *in, int64_t now, AgentAction *a)
{
        if (!in->users_logged_in) {
                request(a, m, AGENT_ACTION_FINALIZE);
                return;
        }
        m->postponements++;
        m->postponements_total++;
        m->users_postponed = true;
        a->kind = AGENT_ACTION_WARN_USERS;
        a->next_tick_usec = now + AGENT_POSTPONE_USEC;
        /* The finalization comes at the latest on the tick after the last postponement. */
        a->reboot_in_sec =
                (int64_t)(AGENT_MAX_POSTPONEMENTS - m->postponements + 1) * (AGENT_POSTPONE_USEC / 1000000);
        m->awaiting = AGENT_ACTION_WARN_USERS;
}

static void on_finalized(AgentMachine *m, const AgentInput *in, int64_t now, AgentAction *a)
{
        AgentState prev = m->state;

        m->finalize_attempts++;
        if (in->ok) {
                m->users_postponed = false;
                m->state = AGENT_STATE_UPDATE_FINALIZED;
        } else
                m->finalize_failures++;
        end_tick(a, m, prev, in, now);
}

static int check_now(int64_t now_usec)
{
        return now_usec < 0 || now_usec > AGENT_NOW_MAX_USEC ? -ERANGE : 0;
}

int64_t agent_steady_interval_usec(uint64_t secs)
{
        const uint64_t max_secs = (uint64_t)AGENT_STEADY_INTERVAL_MAX_USEC / 1000000;
        return (int64_t)(secs < max_secs ? secs : max_secs) * 1000000;
}

int agent_machine_init(AgentMachine *m, const AgentMachineConfig *cfg, int64_t now_usec)
{
        AgentMachineConfig c = { .updates_enabled = true, .steady_interval_usec = 0 };

        if (!m)
                return -EINVAL;
        if (cfg)
                c = *cfg;
        if (c.steady_interval_usec == 0)
                c.steady_interval_usec = AGENT_STEADY_INTERVAL_DEFAULT_USEC;
        if (c.steady_interval_usec < 1000000 || c.steady_interval_usec > AGENT_STEADY_INTERVAL_MAX_USEC)
                return -EINVAL;
        if (check_now(now_usec) < 0)
                return -ERANGE;

        *m = (AgentMachine){
                .config = c,
                .state = AGENT_STATE_START,
                .awaiting = AGENT_ACTION_SLEEP,
                .last_check_usec = -1,
                .last_tick_usec = -1,
                .last_state_change_usec = now_usec,
        };
        return 0;
}

int agent_machine_step(AgentMachine *m, const AgentInput *in, int64_t now_usec, AgentAction *ret)
{
        AgentMachine next;
        AgentAction a = { .kind = AGENT_ACTION_SLEEP };
        bool abandoned = false, with_release;
        int r;

        if (!m || !in || !ret)
                return -EINVAL;
        if ((unsigned)m->state >= _AGENT_STATE_MAX || (unsigned)m->awaiting >= _AGENT_ACTION_MAX)
                return -EINVAL;
        if (check_now(now_usec) < 0)
                return -ERANGE;
        r = check_input(m, in);
        if (r < 0)
                return r;

        /* Work on a copy and commit at the end, so nothing escapes half-done. */
        next = *m;
        switch (in->kind) {
        case AGENT_INPUT_TICK:
                on_tick(&next, in, now_usec, &a);
                break;
        case AGENT_INPUT_STEADY_REPORTED: {
                AgentState prev = next.state;
                if (in->ok) {
                        next.steady_reports++;
                        next.state = AGENT_STATE_REPORTED_STEADY;
                } else
                        next.steady_report_failures++;
                end_tick(&a, &next, prev, in, now_usec);
                break;
        }
        case AGENT_INPUT_CHECKED:
                on_checked(&next, in, now_usec, &a);
                break;
        case AGENT_INPUT_STAGED:
                on_staged(&next, in, now_usec, &a, &abandoned);
                break;
        case AGENT_INPUT_CAN_FINALIZE:
                on_can_finalize(&next, in, now_usec, &a);
                break;
        case AGENT_INPUT_USERS:
                on_users(&next, in, now_usec, &a);
                break;
        case AGENT_INPUT_FINALIZED:
        default:
                on_finalized(&next, in, now_usec, &a);
                break;
        }

        a.state_changed = next.state != m->state;
        if (a.state_changed)
                next.last_state_change_usec = now_usec;
        *m = next;

        with_release = a.kind == AGENT_ACTION_STAGE || a.kind == AGENT_ACTION_FINALIZE ||
                       a.kind == AGENT_ACTION_WARN_USERS;
        a.release = with_release ? &m->release : NULL;
        a.abandoned = abandoned ? &m->abandoned : NULL;
        *ret = a;
        return 0;
}

/* "Sun 2026-11-22 03:25:34 UTC", locale-independent. */
static int format_time(int64_t usec, char *buf, size_t size)
{
        static const char *const days[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
        time_t t = (time_t)(usec / 1000000);
        struct tm tm;
        int n;

        if (!gmtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6)
                return -ERANGE;
        n = snprintf(buf, size, "%s %04d-%02d-%02d %02d:%02d:%02d UTC", days[tm.tm_wday], tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

int agent_machine_status(const AgentMachine *m, char *buf, size_t size)
{
        char text[AGENT_STATUS_MAX], when[64];
        const char *v;
        int n, r;

        if (!m || !buf || (unsigned)m->state >= _AGENT_STATE_MAX)
                return -EINVAL;
        v = m->release.version;

        switch (m->state) {
        case AGENT_STATE_START:
                n = snprintf(text, sizeof(text), "starting");
                break;
        case AGENT_STATE_INITIALIZED:
        case AGENT_STATE_REPORTED_STEADY:
        case AGENT_STATE_NO_NEW_UPDATE:
                if (!m->config.updates_enabled)
                        n = snprintf(
                                text, sizeof(text),
                                "initialization complete, auto-updates logic disabled by configuration");
                else if (m->state == AGENT_STATE_INITIALIZED)
                        n = snprintf(text, sizeof(text),
                                     "initialization complete, auto-updates logic enabled");
                else if (m->last_check_usec < 0)
                        n = snprintf(text, sizeof(text), "periodically polling for updates");
                else {
                        r = format_time(m->last_check_usec, when, sizeof(when));
                        if (r < 0)
                                return r;
                        n = snprintf(text, sizeof(text),
                                     "periodically polling for updates (last checked %s)", when);
                }
                break;
        case AGENT_STATE_UPDATE_AVAILABLE:
                if (m->attempts == 0)
                        n = snprintf(text, sizeof(text), "found update on remote: %s", v);
                else
                        n = snprintf(text, sizeof(text), "trying to stage %s (failed attempts: %u)", v,
                                     m->attempts);
                break;
        case AGENT_STATE_UPDATE_STAGED:
                if (m->strategy_refused)
                        n = snprintf(text, sizeof(text),
                                     "update staged: %s; reboot pending due to update strategy", v);
                else if (m->users_postponed)
                        n = snprintf(text, sizeof(text),
                                     "update staged: %s; reboot delayed due to active user sessions", v);
                else
                        n = snprintf(text, sizeof(text), "update staged: %s", v);
                break;
        case AGENT_STATE_UPDATE_FINALIZED:
                n = snprintf(text, sizeof(text), "update finalized: %s", v);
                break;
        case AGENT_STATE_END:
        default:
                n = snprintf(text, sizeof(text), "update applied, waiting for reboot: %s", v);
                break;
        }
        if (n < 0 || (size_t)n >= sizeof(text))
                return -ENOBUFS;
        if ((size_t)n >= size)
                return -ENOBUFS;
        memcpy(buf, text, (size_t)n + 1);
        return n;
}
