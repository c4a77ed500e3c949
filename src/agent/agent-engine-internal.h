/* agent-engine-internal.h — what the engine's source files share (agent-engine.c: the thread, the
 * snapshot, the worker, the lock, the actions; agent-engine-check.c: the update check). Not an API. */
#pragma once

#include <pthread.h>

#include "agent-engine.h"
#include "agent-health.h"
#include "agent-motd.h"
#include "report-spool.h"
#include "macros.h"
#include "worker-protocol.h"

#define DENYLIST_MAX 64        /* locally failed releases remembered */
#define WORKER_TIMEOUT_SEC 300 /* a status, check, lock or finalize worker */

struct Engine {
        const AgentConfig *config;
        const TimeZone *tz;
        char node_uuid[33];
        char *basearch, *platform, *worker_path;
        FinalizeStrategy fstrategy;
        bool uses_lock;

        AgentMachine machine;
        json_t *os;       /* the "os" member of every worker request (backend options, pinned booted) */
        json_t *failed;   /* payloads abandoned locally (denylist), at most DENYLIST_MAX */
        pid_t worker_pid; /* the worker running now, 0 when none (atomic) */
        char **ttys;      /* terminals of the interactive sessions last seen */
        bool finalized_pending_reboot; /* finalize done, the reboot itself failed: retry only the reboot */
        char finalized_payload[AGENT_PAYLOAD_MAX + 1];
        char failure_metric_kind[64]; /* of the last failed worker call: Zincati's error kind, or "" */
        AgentMotd motd;
        AgentHealth *health;  /* the boot assessment and the bad releases */
        size_t bad_logged;    /* bad releases last logged as skipped */
        char *lock_token;     /* [upkeep] lock_token_file's token, or NULL */
        char *report_token;   /* [upkeep] report_token_file's token, or NULL */
        ReportSpool *reports; /* set once by the engine thread (under lock), or NULL */
        bool reports_broken;  /* opening the spool failed: reports are off (logged) */

        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock; /* guards what follows */
        pthread_cond_t cond;
        bool stop, wake, force_check, done;
        int64_t next_tick_mono; /* CLOCK_MONOTONIC µs */
        AgentSnapshot snap;
};

/* Formats into one text field of the snapshot (sanitized), and stamps *when when given. */
void engine_set_text(Engine *e, char *field, size_t size, int64_t *when, const char *fmt, ...)
        _printf_(5, 6);
#define set_error(e, ...)                                                                                   \
        engine_set_text((e), (e)->snap.last_error, sizeof(e)->snap.last_error, &(e)->snap.last_error_usec,  \
                        __VA_ARGS__)
#define set_check_result(e, ...)                                                                            \
        engine_set_text((e), (e)->snap.last_check_result, sizeof(e)->snap.last_check_result, NULL,          \
                        __VA_ARGS__)

/* Publishes the worker's view of the deployments (see agent-engine.c). Returns whether one is booted. */
bool engine_publish_deployments(Engine *e, const json_t *deps, WorkerDeployment *ret_booted);
/* Runs one action in upkeep-agent-worker (args taken); see agent-engine.c. */
int engine_call(Engine *e, WorkerCommand command, json_t *args, unsigned timeout_sec, json_t **ret,
                WorkerErrorKind *ret_kind, Error *err);
/* Adds a payload to the local denylist (the oldest dropped beyond DENYLIST_MAX). */
void engine_remember_failed(Engine *e, const char *payload);

/* The kept strings the CHECKED input points to (freed by the caller). */
typedef struct CheckKeep {
        char *version, *payload, *reason;
} CheckKeep;

void check_keep_done(CheckKeep *k);
/* The update check: fills *in with the CHECKED result; the strings it points to live in *keep. */
void engine_do_check(Engine *e, bool force, AgentInput *in, CheckKeep *keep);

/* Outcome reports and tokens (agent-engine-report.c). */
int engine_tokens_load(Engine *e, Error *err);
void engine_reports_open(Engine *e);
void engine_report(Engine *e, ReportOutcome o, const char *from, const char *to, const char *detail,
                   const char *failed);
void engine_reports_stats(Engine *e, AgentReportInfo *info);
void engine_reports_close(Engine *e);
