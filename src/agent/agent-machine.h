/* agent-machine.h — upkeep-agent's update state machine (Zincati's), as a pure step function: no I/O,
 * no clock, no allocation. The daemon (the imperative shell) owns the timer and the side effects; the
 * machine decides what to do next.
 *
 *   START → INITIALIZED → REPORTED_STEADY → NO_NEW_UPDATE ⇄ UPDATE_AVAILABLE(release, attempts)
 *         → UPDATE_STAGED(release, postponements) → UPDATE_FINALIZED(release) → END
 *
 * Protocol. A tick is a short conversation: the shell feeds AGENT_INPUT_TICK, the machine answers with
 * an action; when the action is a request (REPORT_STEADY, CHECK_UPDATES, STAGE, CAN_FINALIZE,
 * CHECK_USERS, FINALIZE) the shell performs it and feeds back the matching result input, and so on
 * until the machine answers SLEEP or WARN_USERS, which end the tick and carry the time of the next one
 * (next_tick_usec; equal to now for "tick again at once"). Any other input than the one expected (a
 * stage result when no stage was requested, a tick while a result is awaited, …) is rejected with
 * -EINVAL and changes nothing. See docs/agent-machine.md for the transition table and timings.
 *
 * Time: now_usec is wall-clock microseconds since the epoch (it also dates "last checked" in the
 * status text); the machine never compares it with a previous value, so clock steps are harmless. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_VERSION_MAX 128 /* bytes of a release version, NUL excluded */
#define AGENT_PAYLOAD_MAX 512 /* bytes of a payload (OSTree checksum or image reference) */
#define AGENT_REASON_MAX 256  /* bytes of a dead-end or strategy reason */
#define AGENT_STATUS_MAX 768  /* bytes of a status text, NUL included (enough for any state) */

#define AGENT_MAX_STAGE_ATTEMPTS 12          /* consecutive stage failures before abandoning a target */
#define AGENT_MAX_POSTPONEMENTS 10           /* finalization postponements for logged-in users */
#define AGENT_POSTPONE_USEC (60 * 1000000LL) /* between postponements */
#define AGENT_STEADY_INTERVAL_DEFAULT_USEC (300 * 1000000LL)
/* The longest steady interval a timer is set for (100 years): Zincati takes any u64 number of seconds; the
 * engine caps a longer one here, where now + interval + jitter cannot overflow. */
#define AGENT_STEADY_INTERVAL_MAX_USEC (100LL * 366 * 24 * 3600 * 1000000LL)
#define AGENT_END_INTERVAL_USEC (3 * 3600 * 1000000LL)
#define AGENT_NOW_MAX_USEC (INT64_C(1) << 62) /* now_usec must be in [0, this] */

typedef enum AgentState {
        AGENT_STATE_START,
        AGENT_STATE_INITIALIZED,
        AGENT_STATE_REPORTED_STEADY,
        AGENT_STATE_NO_NEW_UPDATE,
        AGENT_STATE_UPDATE_AVAILABLE,
        AGENT_STATE_UPDATE_STAGED,
        AGENT_STATE_UPDATE_FINALIZED,
        AGENT_STATE_END,
        _AGENT_STATE_MAX,
} AgentState;

typedef enum AgentActionKind {
        AGENT_ACTION_SLEEP,         /* end of tick: tick again at next_tick_usec */
        AGENT_ACTION_REPORT_STEADY, /* strategy's steady-state report (fleet_lock: POST /v1/steady-state) */
        AGENT_ACTION_CHECK_UPDATES, /* fetch the graph and choose a target (minus the denylist) */
        AGENT_ACTION_STAGE,         /* download and deploy release, finalization locked */
        AGENT_ACTION_CAN_FINALIZE,  /* ask the strategy (see strategy_can_finalize()) */
        AGENT_ACTION_CHECK_USERS,   /* are interactive users logged in? */
        AGENT_ACTION_WARN_USERS,    /* end of tick: warn users "reboot in reboot_in_sec s", then sleep */
        AGENT_ACTION_FINALIZE,      /* finalize release and reboot */
        _AGENT_ACTION_MAX,
} AgentActionKind;

typedef enum AgentInputKind {
        AGENT_INPUT_TICK,            /* the timer fired (expected after SLEEP / WARN_USERS) */
        AGENT_INPUT_STEADY_REPORTED, /* result of REPORT_STEADY: ok */
        AGENT_INPUT_CHECKED,         /* result of CHECK_UPDATES: check, version, payload, reason */
        AGENT_INPUT_STAGED,          /* result of STAGE: ok */
        AGENT_INPUT_CAN_FINALIZE,    /* result of CAN_FINALIZE: can_finalize, reason */
        AGENT_INPUT_USERS,           /* result of CHECK_USERS: users_logged_in */
        AGENT_INPUT_FINALIZED,       /* result of FINALIZE: ok */
        _AGENT_INPUT_MAX,
} AgentInputKind;

typedef enum AgentCheckOutcome {
        AGENT_CHECK_NO_UPDATE,
        AGENT_CHECK_UPDATE,   /* version and payload of the chosen target */
        AGENT_CHECK_DEAD_END, /* the booted release is a dead-end (reason optional); no update */
        AGENT_CHECK_ERROR,    /* fetching or parsing the graph failed */
        _AGENT_CHECK_MAX,
} AgentCheckOutcome;

typedef enum FinalizeStrategy {
        FINALIZE_STRATEGY_IMMEDIATE,
        FINALIZE_STRATEGY_PERIODIC,
        FINALIZE_STRATEGY_FLEET_LOCK,
        FINALIZE_STRATEGY_PERIODIC_FLEET_LOCK, /* Upkeep's: inside a window and holding a lock slot */
        _FINALIZE_STRATEGY_MAX,
} FinalizeStrategy;

typedef struct AgentRelease {
        char version[AGENT_VERSION_MAX + 1];
        char payload[AGENT_PAYLOAD_MAX + 1];
} AgentRelease;

typedef struct AgentMachineConfig {
        bool updates_enabled;         /* [updates] enabled; false: report steady state, then idle */
        int64_t steady_interval_usec; /* 0: the default (300 s); else 1 s .. 100 years */
} AgentMachineConfig;

/* Strings are NUL-terminated, printable (no byte below 0x20 nor 0x7f, so they are safe in an sd_notify
 * STATUS= line) and within the caps above: longer → -E2BIG, empty/NULL where required or control
 * bytes → -EINVAL. The shell truncates or sanitizes server-provided reasons before passing them. */
typedef struct AgentInput {
        AgentInputKind kind;
        double jitter;                 /* in [0, 1), used when the step ends with a steady sleep */
        bool ok;                       /* STEADY_REPORTED, STAGED, FINALIZED */
        AgentCheckOutcome check;       /* CHECKED */
        const char *version, *payload; /* CHECKED with AGENT_CHECK_UPDATE */
        const char *reason;            /* CHECKED with DEAD_END; CAN_FINALIZE refused (both optional) */
        bool can_finalize;             /* CAN_FINALIZE */
        bool users_logged_in;          /* USERS */
} AgentInput;

typedef struct AgentAction {
        AgentActionKind kind;
        int64_t next_tick_usec;        /* SLEEP, WARN_USERS: when to feed the next tick */
        int64_t reboot_in_sec;         /* WARN_USERS: the latest reboot if users stay logged in */
        const AgentRelease *release;   /* STAGE, FINALIZE, WARN_USERS: points into the machine */
        const AgentRelease *abandoned; /* set on the step that abandoned a target after
                                        * AGENT_MAX_STAGE_ATTEMPTS failures: add it to the denylist */
        bool state_changed;            /* this step changed the state kind */
} AgentAction;

/* Read-only for callers (public so it can live on the stack or in a static). */
typedef struct AgentMachine {
        AgentMachineConfig config;
        AgentState state;
        AgentActionKind awaiting; /* the request whose result is expected; SLEEP/WARN_USERS: a tick */
        AgentRelease release;     /* UPDATE_AVAILABLE .. END */
        unsigned attempts;        /* UPDATE_AVAILABLE: consecutive stage failures of release */
        unsigned postponements;   /* UPDATE_STAGED: postponements used since the strategy last refused */
        bool strategy_refused;    /* UPDATE_STAGED: the last can_finalize said no */
        bool users_postponed;     /* UPDATE_STAGED: the last attempt was postponed for logged-in users */
        char strategy_reason[AGENT_REASON_MAX + 1];
        bool dead_end; /* the last successful check reported a dead-end */
        char dead_end_reason[AGENT_REASON_MAX + 1];
        bool have_abandoned; /* abandoned holds the last target abandoned in this run */
        AgentRelease abandoned;
        int64_t last_check_usec; /* -1: never (set when a check is requested) */
        int64_t last_tick_usec;  /* -1: never */
        int64_t last_state_change_usec;
        /* counters for metrics */
        uint64_t steady_reports, steady_report_failures;
        uint64_t checks, check_errors;
        uint64_t stage_attempts, stage_failures, targets_abandoned;
        uint64_t finalize_attempts, finalize_failures, postponements_total;
} AgentMachine;

/* [agent.timing] steady_interval_secs in µs, capped at AGENT_STEADY_INTERVAL_MAX_USEC. */
int64_t agent_steady_interval_usec(uint64_t secs);

/* A machine in START, awaiting its first tick. cfg NULL: updates enabled, default interval. -EINVAL
 * for an interval out of range, -ERANGE for now_usec out of range. */
int agent_machine_init(AgentMachine *m, const AgentMachineConfig *cfg, int64_t now_usec);

/* Feeds one input and returns the next action. 0 on success; -EINVAL for an input other than the one
 * expected, an unknown enum value, jitter outside [0, 1) or a bad string; -E2BIG for a string over its
 * cap; -ERANGE for now_usec out of range. On failure neither *m nor *ret changes. */
int agent_machine_step(AgentMachine *m, const AgentInput *in, int64_t now_usec, AgentAction *ret);

/* The sd_notify STATUS= text for the current state (Zincati's wording), e.g. "update staged: 39.1;
 * reboot pending due to update strategy". Returns its length, or -ENOBUFS when size is too small
 * (AGENT_STATUS_MAX always suffices); buf is written only on success. */
int agent_machine_status(const AgentMachine *m, char *buf, size_t size);

/* "start", "initialized", "reported_steady", "no_new_update", "update_available", "update_staged",
 * "update_finalized", "end"; NULL for an unknown value. */
const char *agent_state_name(AgentState s);
/* "sleep", "report_steady", "check_updates", "stage", "can_finalize", "check_users", "warn_users",
 * "finalize"; NULL for an unknown value. */
const char *agent_action_name(AgentActionKind k);

/* Whether a strategy allows finalizing now: immediate always; periodic inside a window; fleet_lock when
 * the pre-reboot lock was granted; periodic_fleet_lock inside a window and holding a slot. Returns 1
 * (yes; *ret_reason = NULL), 0 (no; *ret_reason = a static text such as "outside maintenance window")
 * or -EINVAL for an unknown kind. ret_reason may be NULL. */
int strategy_can_finalize(FinalizeStrategy kind, bool in_window, bool lock_granted, const char **ret_reason);
