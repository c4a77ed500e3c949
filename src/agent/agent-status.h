/* agent-status.h — what upkeep-agent tells operators: a snapshot of its state, rendered as the status
 * socket's JSON document, as Prometheus text (the metrics socket) and as the readable report of
 * `upkeep status`. Pure: the daemon fills the snapshot. The socket's requests are agent-request.h's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent-machine.h"
#include "buf.h"
#include "error.h"

#define AGENT_TEXT_MAX 512 /* bytes of a message kept in the snapshot, NUL included */
#define AGENT_SNAPSHOT_MAX_LOCK_ERRORS 16

typedef struct AgentDeploymentInfo {
        bool present;
        char version[AGENT_VERSION_MAX + 1];
        char checksum[AGENT_PAYLOAD_MAX + 1];
} AgentDeploymentInfo;

typedef enum AgentCheckErrorKind {
        AGENT_CHECK_ERROR_CONNECTION,  /* no HTTP answer */
        AGENT_CHECK_ERROR_HTTP_STATUS, /* an answer other than 200 */
        AGENT_CHECK_ERROR_GRAPH_PARSE, /* not a graph */
        AGENT_CHECK_ERROR_IDENTITY,    /* the booted deployment or the request URL could not be built */
        _AGENT_CHECK_ERROR_MAX,
} AgentCheckErrorKind;

typedef enum AgentLockApi {
        AGENT_LOCK_API_PRE_REBOOT,
        AGENT_LOCK_API_STEADY_STATE,
        _AGENT_LOCK_API_MAX,
} AgentLockApi;

typedef enum AgentLockState {
        AGENT_LOCK_UNUSED,   /* the strategy does not use a fleet lock */
        AGENT_LOCK_UNKNOWN,  /* not asked yet */
        AGENT_LOCK_HELD,     /* pre-reboot granted */
        AGENT_LOCK_RELEASED, /* steady-state reported */
        AGENT_LOCK_DENIED,   /* the server said no (detail: its kind and value) */
        AGENT_LOCK_ERROR,    /* the server could not be asked or answered garbage */
        _AGENT_LOCK_STATE_MAX,
} AgentLockState;

typedef struct AgentLockErrorCount {
        AgentLockApi api;
        char kind[48]; /* [a-z0-9_] */
        uint64_t count;
} AgentLockErrorCount;

#define AGENT_HEALTH_CHECKS_SHOWN 32 /* check results kept in the snapshot */
#define AGENT_HEALTH_OUTPUT_TAIL 256 /* bytes of a check's output tail kept, NUL included */
#define AGENT_BAD_RELEASES_SHOWN 64  /* bad releases kept (bad-releases.h keeps at most as many) */

typedef struct AgentHealthCheckInfo {
        char name[128];
        bool required, ok;
        uint64_t duration_ms;
        char output[AGENT_HEALTH_OUTPUT_TAIL];
} AgentHealthCheckInfo;

typedef struct AgentBadReleaseInfo {
        char version[AGENT_VERSION_MAX + 1];
        char checksum[AGENT_PAYLOAD_MAX + 1];
        char outcome[32]; /* "rolled_back", "boot_fallback", "stage_failed" */
        char reason[AGENT_TEXT_MAX];
        int64_t time; /* unix seconds */
} AgentBadReleaseInfo;

/* The boot assessment (issue 13) and the memory of bad releases, as agent-health.c publishes them. */
typedef struct AgentHealthInfo {
        bool enabled;
        char state[32]; /* health_state_name(); "" until the first assessment */
        char booted_version[AGENT_VERSION_MAX + 1];
        unsigned attempts_left;
        char failed[AGENT_TEXT_MAX]; /* the failing checks' names, "a, b" */
        char reason[AGENT_TEXT_MAX];
        AgentHealthCheckInfo checks[AGENT_HEALTH_CHECKS_SHOWN]; /* of the last run */
        size_t n_checks;
        uint64_t checks_failed;   /* failed checks of the last run, required or wanted */
        uint64_t rollbacks_total; /* rollbacks and fallbacks recorded in the bad releases */
        bool manual_intervention;
        AgentBadReleaseInfo bad_releases[AGENT_BAD_RELEASES_SHOWN]; /* oldest first */
        size_t n_bad_releases;
} AgentHealthInfo;

/* The outcome reports' spool (report-spool.h), when [upkeep] report_url is set. */
typedef struct AgentReportInfo {
        bool enabled;
        unsigned queued;
        uint64_t sent_total, dropped_total, failures_total;
} AgentReportInfo;

typedef struct AgentSnapshot {
        int64_t now_usec; /* when the snapshot was taken */
        int64_t started_usec;

        AgentReportInfo reports;

        /* identity */
        char node_uuid[33];
        char group[AGENT_TEXT_MAX];
        char basearch[32];
        char platform[AGENT_TEXT_MAX];
        char stream[AGENT_TEXT_MAX];
        bool has_rollout_wariness;
        double rollout_wariness;

        /* configuration */
        char strategy[32];   /* "immediate", "periodic", "fleet_lock", "fleet_lock+periodic" */
        char os_backend[16]; /* "ostree", "rpm-ostree" */
        bool updates_enabled;
        bool has_calendar;
        char windows[AGENT_TEXT_MAX]; /* calendar_format() */
        char time_zone[64];
        int64_t schedule_minutes;
        bool in_window;
        int64_t next_window_start, next_window_end; /* seconds since the epoch; -1 unknown; end INT64_MAX */

        /* the machine */
        AgentState state;
        char status_text[AGENT_STATUS_MAX];
        int64_t last_state_change_usec;
        bool has_target;
        AgentRelease target;
        bool dead_end;
        char dead_end_reason[AGENT_REASON_MAX + 1];
        int64_t last_check_usec; /* -1 never */
        char last_check_result[AGENT_TEXT_MAX];
        int64_t last_refresh_usec; /* last successful check; -1 never */
        int64_t last_tick_usec;  /* the start of the last tick, as Zincati's last_refresh_timestamp; -1 never
                                  */
        int64_t last_error_usec; /* -1 never */
        char last_error[AGENT_TEXT_MAX];

        /* the fleet lock */
        AgentLockState lock_state;
        char lock_detail[AGENT_TEXT_MAX];
        int64_t lock_changed_usec; /* -1 never */

        /* deployments */
        AgentDeploymentInfo booted, staged, rollback;

        /* download */
        bool downloading;
        char download_version[AGENT_VERSION_MAX + 1];
        uint64_t download_bytes, download_objects_fetched, download_objects_requested;
        uint64_t download_bytes_total, download_objects_total; /* over the agent's life */

        /* counters */
        uint64_t checks, check_errors[_AGENT_CHECK_ERROR_MAX];
        /* the failed checks by Zincati's kind (generic_http_NNN, the server's kind, client_failed_*,
         * identity); api unused; kinds beyond the cap are counted as "other" */
        AgentLockErrorCount check_error_kinds[AGENT_SNAPSHOT_MAX_LOCK_ERRORS];
        size_t n_check_error_kinds;
        uint64_t graph_nodes, graph_edges, ignored_targets;
        uint64_t deploy_attempts, deploy_failures, finalize_attempts, finalize_failures;
        uint64_t postponed_finalizations; /* finalizations postponed for logged-in users */
        /* Zincati's can_finalize_responses: the strategy's answers, allow / deny / error (the lock server
         * could not be asked or answered garbage) */
        uint64_t can_finalize_allow, can_finalize_deny, can_finalize_error;
        bool allow_downgrade; /* [updates] allow_downgrade */
        uint64_t lock_requests[_AGENT_LOCK_API_MAX];
        AgentLockErrorCount lock_errors[AGENT_SNAPSHOT_MAX_LOCK_ERRORS];
        size_t n_lock_errors; /* kinds beyond the cap are counted as "other" */

        AgentHealthInfo health;
} AgentSnapshot;

void agent_snapshot_init(AgentSnapshot *s); /* zeroes s and sets the "-1 never" fields */

/* Copies s into dst (cap bytes, NUL included) through text_clean() (strutil.h): truncated at a UTF-8
 * boundary, line breaks and tabs made spaces, control, C1 and bidi characters and invalid UTF-8 made
 * '?', so server-provided texts are safe in logs, STATUS= lines, the MOTD and JSON. */
void agent_text_copy(char *dst, size_t cap, const char *s);

/* Counts one fleet lock error of kind (sanitized to [a-z0-9_], "other" when the table is full). */
void agent_snapshot_count_lock_error(AgentSnapshot *s, AgentLockApi api, const char *kind);
/* Counts a failed check under Zincati's kind (sanitized as for lock errors). */
void agent_snapshot_count_check_error(AgentSnapshot *s, const char *kind);

const char *agent_lock_state_name(AgentLockState s); /* "unused", "unknown", "held", ... */
const char *agent_check_error_name(AgentCheckErrorKind k);
/* Zincati's kind of a failed check of that category when the worker named none: "client_failed_request",
 * "generic_http", "client_failed_json_decoding", "identity" (Upkeep's own). */
const char *agent_check_error_metric_kind(AgentCheckErrorKind k);
const char *agent_lock_api_name(AgentLockApi a); /* "pre-reboot", "steady-state" (Zincati's labels) */

/* The "status" member of the status reply. NULL on allocation failure. */
json_t *agent_status_to_json(const AgentSnapshot *s);

/* The Prometheus exposition (upkeep_agent_* names; the mapping from Zincati's is in docs/agent.md). */
int agent_metrics_write(const AgentSnapshot *s, Buf *out);

/* The readable report `upkeep status` prints, from a status JSON document (as received: any member may
 * be missing or of the wrong type; what is missing is shown as "-"). */
int agent_status_format(const json_t *status, Buf *out);
