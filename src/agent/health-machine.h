/* health-machine.h — the boot assessment after an update (issue 13) as a pure step function: no I/O, no
 * clock, no allocation. The agent (the imperative shell) feeds events with the time and performs the
 * actions each step returns, in order; the machine decides whether the booted release is green, retries it
 * with a reboot, rolls it back, or stops for a human. Same style as agent-machine.h.
 *
 * Input record (HealthRecord): written by the agent when it finalizes an update, read at the next boot:
 * the release it moved to and from, the phase ("finalized", or "rolled_back" once the machine rolled back
 * or GRUB fell back) and the reboots left before rolling back (attempts_left; the agent writes
 * GREENBOOT_MAX_BOOT_ATTEMPTS - 1 or its own setting). WRITE_RECORD asks the shell to persist the
 * machine's copy (m->record), REMOVE_RECORD to delete it.
 *
 * Time: now_usec is CLOCK_MONOTONIC microseconds; deadlines are compared within one boot only (the
 * machine lives for one boot). now_usec going backwards is rejected with -ERANGE.
 *
 * Events: START (once: booted checksum, whether a previous deployment exists, the GRUB counter state),
 * CHECKS (the runner's result: RUNNING = still in progress, GREEN, RED + failing check names) and TICK
 * (a timer fired: each step's wake_usec says when the shell must feed one; 0 = no timer).
 *
 * Transition table (record phase F = finalized, R = rolled_back; the paths are below):
 *
 *   state       event           condition                        actions                     next
 *   IDLE        START           no record                        REPORT_STEADY               STEADY
 *   IDLE        START           F, booted == to                  RUN_CHECKS(deadline)        CHECKING
 *   IDLE        START           F, booted == from (GRUB fell     MARK_BAD, MAKE_BOOTED_DEFAULT,
 *                               back; the report says so when    CLEAR_BOOT_COUNTER, WRITE_RECORD(R),
 *                               its counter is -1)               REPORT(boot_fallback),
 *                                                                RUN_CHECKS(deadline)        CHECKING
 *   IDLE        START           R, booted == from                RUN_CHECKS(deadline)        CHECKING
 *   IDLE        START           R, booted == to (the rollback    REPORT(manual)              MANUAL
 *                               did not take), or booted is
 *                               neither to nor from
 *   CHECKING    CHECKS RUNNING  now < deadline                   none; wake at deadline      CHECKING
 *   CHECKING    CHECKS GREEN    before the deadline, window > 0  WAIT(now + window)          STABILIZING
 *   CHECKING    CHECKS GREEN    before the deadline, no window   green path
 *   CHECKING    CHECKS RED      -                                red path
 *   CHECKING    TICK or CHECKS  at/after the deadline            red path ("did not finish")
 *   CHECKING    TICK            before the deadline              none; wake at deadline      CHECKING
 *   STABILIZING TICK            now >= window end                RUN_CHECKS(deadline)        RECHECKING
 *   STABILIZING TICK            before the window end            none; wake at window end    STABILIZING
 *   STABILIZING CHECKS RED      a check turned red meanwhile     red path
 *   STABILIZING CHECKS GREEN    or RUNNING                       none                        STABILIZING
 *   RECHECKING  as CHECKING, but GREEN before the deadline always takes the green path
 *   STEADY, SUCCEEDED, RECOVERED, REBOOTING, ROLLING_BACK, MANUAL: terminal, every event is -EINVAL.
 *
 *   green path, F: RUN_GREEN_HOOKS, CLEAR_BOOT_COUNTER, REMOVE_RECORD, REPORT(succeeded), RELEASE_SLOT
 *                                                                                            → SUCCEEDED
 *   green path, R: RUN_GREEN_HOOKS, CLEAR_BOOT_COUNTER, REMOVE_RECORD, REPORT(recovered), RELEASE_SLOT
 *                                                                                            → RECOVERED
 *   red path,  R (red after a rollback):   RUN_RED_HOOKS, REPORT(manual)                     → MANUAL
 *   red path,  F, no previous deployment:  RUN_RED_HOOKS, REPORT(manual)                     → MANUAL
 *   red path,  F, attempts_left > 0:       RUN_RED_HOOKS, WRITE_RECORD(attempts_left - 1), REBOOT
 *                                                                                            → REBOOTING
 *   red path,  F, attempts_left == 0:      RUN_RED_HOOKS, ROLLBACK, CLEAR_BOOT_COUNTER, MARK_BAD,
 *                                          WRITE_RECORD(R), REPORT(rolled_back, failing names), REBOOT
 *                                                                                            → ROLLING_BACK
 *   (CLEAR_BOOT_COUNTER only when START said the GRUB counter is set. After ROLLBACK and
 *   MAKE_BOOTED_DEFAULT it must not wait for the green path: the bad release is then GRUB's entry 1, the
 *   one its counter falls back to, so an armed or expired counter would boot it again.)
 *
 * The slot of the fleet lock is released only by the green paths: every other outcome keeps it (there is
 * no "keep" action; not releasing is keeping). The machine never loops: a release is retried at most
 * attempts_left times, rolled back once, and red after a rollback stops in MANUAL without rebooting.
 * GRUB's counter is a backstop (when armed, GRUB falls back by itself and START detects it); the reboot
 * decision uses attempts_left, and CLEAR_BOOT_COUNTER is requested whenever the counter is set. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEALTH_CHECKSUM_MAX 128 /* bytes of a deployment checksum, NUL excluded */
#define HEALTH_VERSION_MAX 128  /* bytes of a release version, NUL excluded */
#define HEALTH_FAILED_MAX 512   /* bytes of the failing checks' names ("a, b"), NUL excluded */
#define HEALTH_REASON_MAX 768   /* bytes of a reported reason, NUL included */
#define HEALTH_ACTIONS_MAX 8    /* actions one step can return */
#define HEALTH_ATTEMPTS_MAX 100 /* attempts_left above this is refused */
#define HEALTH_CHECKS_TIMEOUT_DEFAULT_USEC (300 * UINT64_C(1000000))
#define HEALTH_NOW_MAX_USEC (UINT64_C(1) << 62)
#define HEALTH_DURATION_MAX_USEC (UINT64_C(1) << 52) /* timeouts and windows (about 142 years) */

typedef enum HealthPhase {
        HEALTH_PHASE_FINALIZED,   /* "finalized": the update was finalized, the node rebooted into it */
        HEALTH_PHASE_ROLLED_BACK, /* "rolled_back": rolled back (or GRUB fell back) to from_checksum */
        _HEALTH_PHASE_MAX,
} HealthPhase;

typedef struct HealthRecord {
        char to_checksum[HEALTH_CHECKSUM_MAX + 1];
        char to_version[HEALTH_VERSION_MAX + 1];
        char from_checksum[HEALTH_CHECKSUM_MAX + 1];
        char from_version[HEALTH_VERSION_MAX + 1];
        HealthPhase phase;
        unsigned attempts_left; /* reboots left before rolling back */
} HealthRecord;

typedef enum HealthState {
        HEALTH_STATE_IDLE,
        HEALTH_STATE_CHECKING,
        HEALTH_STATE_STABILIZING,
        HEALTH_STATE_RECHECKING,
        HEALTH_STATE_STEADY,       /* no update pending: no assessment */
        HEALTH_STATE_SUCCEEDED,    /* the update is green */
        HEALTH_STATE_RECOVERED,    /* green again on the previous release after a rollback or fallback */
        HEALTH_STATE_REBOOTING,    /* red, retrying the release after a reboot */
        HEALTH_STATE_ROLLING_BACK, /* red, out of attempts: rolled back, rebooting */
        HEALTH_STATE_MANUAL,       /* manual intervention needed */
        _HEALTH_STATE_MAX,
} HealthState;

typedef enum HealthGrubCounter {
        HEALTH_GRUB_UNSET,     /* boot_counter not set (not an upgrade boot, or already cleared) */
        HEALTH_GRUB_ARMED,     /* boot_counter >= 0 */
        HEALTH_GRUB_FELL_BACK, /* boot_counter == -1: GRUB booted the fallback entry */
        _HEALTH_GRUB_MAX,
} HealthGrubCounter;

typedef enum HealthEventKind {
        HEALTH_EVENT_START,
        HEALTH_EVENT_CHECKS,
        HEALTH_EVENT_TICK,
        _HEALTH_EVENT_MAX,
} HealthEventKind;

typedef enum HealthVerdict {
        HEALTH_VERDICT_RUNNING,
        HEALTH_VERDICT_GREEN,
        HEALTH_VERDICT_RED,
        _HEALTH_VERDICT_MAX,
} HealthVerdict;

typedef struct HealthEvent {
        HealthEventKind kind;
        /* START */
        const HealthRecord *record; /* NULL: no update pending */
        const char *booted_checksum;
        bool have_previous; /* a previous deployment exists to roll back to */
        HealthGrubCounter grub;
        /* CHECKS */
        HealthVerdict verdict;
        const char *failed; /* RED: the failing checks' names, printable, optional */
} HealthEvent;

typedef enum HealthActionKind {
        HEALTH_ACTION_REPORT_STEADY,       /* no assessment: report steady-state as today */
        HEALTH_ACTION_RUN_CHECKS,          /* run the checks, all done by deadline_usec */
        HEALTH_ACTION_WAIT,                /* stability window: stay green until wake_usec */
        HEALTH_ACTION_RUN_GREEN_HOOKS,     /* green.d */
        HEALTH_ACTION_RUN_RED_HOOKS,       /* red.d */
        HEALTH_ACTION_CLEAR_BOOT_COUNTER,  /* boot_success=1, unset boot_counter */
        HEALTH_ACTION_WRITE_RECORD,        /* persist m->record */
        HEALTH_ACTION_REMOVE_RECORD,       /* delete the record: the assessment is over */
        HEALTH_ACTION_MARK_BAD,            /* remember record.to_* as a bad release (never re-apply it) */
        HEALTH_ACTION_ROLLBACK,            /* make the previous deployment the default */
        HEALTH_ACTION_MAKE_BOOTED_DEFAULT, /* after a GRUB fallback: the booted deployment becomes default */
        HEALTH_ACTION_REBOOT,
        HEALTH_ACTION_REPORT,       /* report outcome with reason */
        HEALTH_ACTION_RELEASE_SLOT, /* release the fleet lock slot (steady-state) */
        _HEALTH_ACTION_MAX,
} HealthActionKind;

typedef enum HealthOutcome {
        HEALTH_OUTCOME_NONE,
        HEALTH_OUTCOME_SUCCEEDED,     /* "succeeded" */
        HEALTH_OUTCOME_RECOVERED,     /* "recovered" */
        HEALTH_OUTCOME_ROLLED_BACK,   /* "rolled_back" */
        HEALTH_OUTCOME_BOOT_FALLBACK, /* "boot_fallback" */
        HEALTH_OUTCOME_MANUAL,        /* "manual_intervention" */
        _HEALTH_OUTCOME_MAX,
} HealthOutcome;

typedef struct HealthMachineConfig {
        uint64_t checks_timeout_usec; /* overall deadline of one run of the checks; 0: the default */
        uint64_t stability_usec;      /* the node must stay green this long; 0: no window */
} HealthMachineConfig;

typedef struct HealthStep {
        HealthActionKind actions[HEALTH_ACTIONS_MAX]; /* to perform in order */
        size_t n_actions;
        uint64_t deadline_usec;     /* RUN_CHECKS: when the checks count as failed */
        uint64_t wake_usec;         /* feed a TICK at this time; 0: no timer */
        HealthOutcome outcome;      /* REPORT */
        const char *reason;         /* REPORT: points into the machine */
        const HealthRecord *record; /* WRITE_RECORD, MARK_BAD: points into the machine */
        bool state_changed;
} HealthStep;

/* Read-only for callers. */
typedef struct HealthMachine {
        HealthMachineConfig config;
        HealthState state;
        bool have_record;
        HealthRecord record;
        bool have_previous;
        HealthGrubCounter grub;
        uint64_t deadline_usec;   /* CHECKING, RECHECKING */
        uint64_t window_end_usec; /* STABILIZING */
        uint64_t last_now_usec;
        unsigned check_runs;
        char failed[HEALTH_FAILED_MAX + 1];
        char reason[HEALTH_REASON_MAX];
} HealthMachine;

/* A machine in IDLE awaiting START. cfg NULL: default timeout, no window. -EINVAL for a duration over
 * HEALTH_DURATION_MAX_USEC, -ERANGE for now_usec over HEALTH_NOW_MAX_USEC. */
int health_machine_init(HealthMachine *m, const HealthMachineConfig *cfg, uint64_t now_usec);

/* Feeds one event; fills *ret. 0, or -EINVAL (an event the state does not take, an unknown enum value, a
 * bad record or string), -E2BIG (a string over its cap), -ERANGE (now_usec out of range or going
 * backwards). On failure neither *m nor *ret changes. */
int health_machine_step(HealthMachine *m, const HealthEvent *ev, uint64_t now_usec, HealthStep *ret);

/* Whether the state is final (no further event is taken). */
bool health_state_is_terminal(HealthState s);
/* Lowercase names ("checking", "run_checks", "rolled_back", "finalized", …); NULL for unknown values. */
const char *health_state_name(HealthState s);
const char *health_action_name(HealthActionKind k);
const char *health_outcome_name(HealthOutcome o);
const char *health_phase_name(HealthPhase p);
/* "finalized" / "rolled_back" → *ret; -EINVAL otherwise. */
int health_phase_from_name(const char *s, HealthPhase *ret);
/* Validates a record: checksums non-empty, printable, within caps, to != from; versions printable (may be
 * empty); phase known; attempts_left <= HEALTH_ATTEMPTS_MAX. 0, -EINVAL or -E2BIG. */
int health_record_validate(const HealthRecord *r);
