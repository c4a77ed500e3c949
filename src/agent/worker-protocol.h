/* worker-protocol.h — the one definition of what upkeep-agent and upkeep-agent-worker say to each other
 * (docs/agent.md, "The worker"): the commands, the check's decisions and the error kinds with their
 * spellings, the request line the agent writes, the progress and result lines the worker writes, and
 * the decoding of each result. Pure: building and parsing only, with size caps; the agent's side of the
 * pipes is worker-call.h, the worker's is upkeep-agent-worker.c. */
#pragma once

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent-config.h"
#include "error.h"

#define WORKER_REQUEST_MAX (1u << 20) /* the request line, newline excluded */
#define WORKER_LINE_MAX (4u << 20)    /* one line of the worker's output */
#define WORKER_MESSAGE_MAX 600        /* bytes of a failure's message the worker writes, NUL included */

typedef enum WorkerCommand {
        WORKER_COMMAND_STATUS,
        WORKER_COMMAND_CHECK,
        WORKER_COMMAND_LOCK,
        WORKER_COMMAND_STAGE,
        WORKER_COMMAND_FINALIZE,
        WORKER_COMMAND_SET_DEFAULT, /* make the deployment with args.checksum the default (rollback) */
        WORKER_COMMAND_REPORT,      /* POST one outcome report (the daemon's spool does not link libcurl) */
        _WORKER_COMMAND_MAX,
        _WORKER_COMMAND_INVALID = -EINVAL,
} WorkerCommand;

/* The check's answer (Zincati's decision, agent-target.h). */
typedef enum WorkerDecision {
        WORKER_DECISION_UPDATE,
        WORKER_DECISION_NO_UPDATE,
        WORKER_DECISION_NOT_IN_GRAPH,
        WORKER_DECISION_DOWNGRADE_REFUSED,
        _WORKER_DECISION_MAX,
        _WORKER_DECISION_INVALID = -EINVAL,
} WorkerDecision;

/* What failed, in a failure's "error_kind". */
typedef enum WorkerErrorKind {
        WORKER_ERROR_CONNECTION,    /* no HTTP answer */
        WORKER_ERROR_HTTP_STATUS,   /* an answer other than 200 */
        WORKER_ERROR_GRAPH_PARSE,   /* not a graph */
        WORKER_ERROR_IDENTITY,      /* the booted deployment or the request could not be worked out */
        WORKER_ERROR_CONFIG,        /* a bad fleet lock request */
        WORKER_ERROR_OS,            /* the OS layer */
        WORKER_ERROR_NO_DEPLOYMENT, /* set-default: no deployment has that checksum */
        WORKER_ERROR_LOCKED,        /* the sysroot is locked by another process */
        _WORKER_ERROR_MAX,
        _WORKER_ERROR_INVALID = -EINVAL,
} WorkerErrorKind;

/* name <-> value; the to_string functions return NULL, the from_string ones -EINVAL, for what is not one */
const char *worker_command_to_string(WorkerCommand c) _const_;
WorkerCommand worker_command_from_string(const char *s) _pure_;
const char *worker_decision_to_string(WorkerDecision d) _const_;
WorkerDecision worker_decision_from_string(const char *s) _pure_;
const char *worker_error_kind_to_string(WorkerErrorKind k) _const_;
WorkerErrorKind worker_error_kind_from_string(const char *s) _pure_;

/* ---- the request (agent -> worker): one JSON object ---- */

/* The "os" member of every request that touches the OS layer: the backend options of c; register_driver
 * asks rpm-ostree to register the driver (done once, at startup). NULL when out of memory. */
json_t *worker_os_new(const AgentConfig *c, bool register_driver);

/* The request line for cmd: args (an object, or NULL for none) plus "command" and, when os is not NULL,
 * "os". Takes args in every case. Returns 0 with *ret the NUL-terminated text (no newline), -ENOMEM, or
 * -E2BIG beyond WORKER_REQUEST_MAX. */
int worker_request_format(WorkerCommand cmd, json_t *args, const json_t *os, char **ret, Error *e);
/* Parses the request the worker read: a JSON object naming a known command. On success *ret_command and
 * *ret_request (the whole object, the caller's) are set. -EINVAL (e says why) or -E2BIG. */
int worker_request_parse(const char *data, size_t len, WorkerCommand *ret_command, json_t **ret_request,
                         Error *e);

/* The lock request's optional bearer token ("lock"."token"), sent as "Authorization: Bearer <token>":
 * 1 to WORKER_LOCK_TOKEN_MAX printable ASCII characters, no space. */
#define WORKER_LOCK_TOKEN_MAX 4096u
bool worker_lock_token_valid(const char *token) _pure_;
/* The lock request's token: 0 with *ret_token NULL when "lock" has none, or the token (borrowed from req);
 * -EINVAL (e says why, never quoting the token) when it is not a string or not a valid token. */
int worker_lock_token_get(const json_t *req, const char **ret_token, Error *e);

/* The report request's args: {"report": {"url": url, "token": token (omitted when NULL), "body": body}}:
 * one POST of body (JSON) to url with "Authorization: Bearer <token>". The reply is {"status": N,
 * "excerpt": "..."}: the server's HTTP status and the start of its answer (printable ASCII). NULL when out
 * of memory. */
#define WORKER_REPORT_BODY_MAX (16u * 1024u)
json_t *worker_report_args_new(const char *url, const char *token, const char *body);
/* The report request's fields, borrowed from req: url http:// or https://, without spaces or control
 * characters; token NULL or valid as worker_lock_token_valid(); body 1..WORKER_REPORT_BODY_MAX bytes.
 * -EINVAL (e says which field, never quoting the token). */
int worker_report_get(const json_t *req, const char **ret_url, const char **ret_token, const char **ret_body,
                      Error *e);
/* The report reply's HTTP status (100..599) into *ret_status: 0, or -EBADMSG. */
int worker_report_status(const json_t *res, long *ret_status);

/* The set-default request's args: {"checksum": checksum}. NULL when out of memory. */
json_t *worker_set_default_args_new(const char *checksum);
/* The checksum of a set-default request (borrowed from req): 64 lower-case hex digits, else -EINVAL. */
int worker_set_default_checksum(const json_t *req, const char **ret_checksum, Error *e);

/* ---- the worker's output: JSON lines ---- */

typedef struct WorkerProgress {
        uint64_t bytes, fetched, requested;
} WorkerProgress;

/* The lines the worker writes, each NUL-terminated with its newline; the caller frees. -ENOMEM. */
int worker_progress_format(const WorkerProgress *p, char **ret);
/* {"ok":true} plus the members of result (taken in every case; NULL: none). */
int worker_success_format(json_t *result, char **ret);
/* {"ok":false,"error":message,"errno":-error[,"error_kind":kind]}; kind < 0: none. */
int worker_failure_format(int error, WorkerErrorKind kind, const char *message, char **ret);
/* The same with "metric_kind": the failure's kind as Zincati counts it in
 * zincati_cincinnati_update_checks_errors_total ("generic_http_503", the server's own kind,
 * "client_failed_request", ...); NULL or "": none. */
int worker_failure_format_metric(int error, WorkerErrorKind kind, const char *metric_kind,
                                 const char *message, char **ret);

/* Parses one line of the worker's output (len bytes, newline excluded). Returns 0 for a progress line
 * (*ret_progress set), 1 for a result line (*ret_result, the caller's, is the object), -EBADMSG for what
 * is not a JSON object or a progress line without an object, -E2BIG beyond WORKER_LINE_MAX. */
int worker_line_parse(const char *line, size_t len, WorkerProgress *ret_progress, json_t **ret_result,
                      Error *e);

/* ---- decoding a result ---- */

/* 0 when result says "ok":true. Otherwise the failure as a negative errno (its "errno" when it is one,
 * else -EIO), with e carrying its message ("the worker failed" when it has none) and *ret_kind (may be
 * NULL) its error kind (-EINVAL when none or unknown). */
int worker_result_check(const json_t *result, WorkerErrorKind *ret_kind, Error *e);
/* A failure's "metric_kind" (borrowed), or NULL when it has none. */
const char *worker_result_metric_kind(const json_t *result);

/* One deployment of a "deployments" member; strings borrowed from the result (NULL when absent). */
typedef struct WorkerDeployment {
        const char *osname, *checksum, *version, *stream;
        const json_t *serial; /* kept as JSON: passed back unchanged in "os"."booted" */
} WorkerDeployment;

/* The booted, staged and rollback deployments of a "deployments" array: 1 when found (*ret filled), 0
 * when none has that role. role: "booted", "staged" or "rollback". */
int worker_deployment_find(const json_t *deployments, const char *role, WorkerDeployment *ret);

/* The result of a check. Strings are borrowed from the result. */
typedef struct WorkerCheckResult {
        const json_t *deployments;
        const char *url;                /* NULL when absent */
        uint64_t nodes, edges, ignored; /* of the graph */
        WorkerDecision decision;        /* -EINVAL when unknown */
        bool deadend;
        const char *deadend_reason; /* "" when none */
        const char *target_version; /* NULL when no target */
        const char *target_payload;
} WorkerCheckResult;

void worker_check_result_parse(const json_t *result, WorkerCheckResult *ret);

/* The result of a fleet lock call: the HTTP status and the server's {"kind","value"} (NULL when absent). */
typedef struct WorkerLockResult {
        long status;
        const char *kind, *value;
} WorkerLockResult;

void worker_lock_result_parse(const json_t *result, WorkerLockResult *ret);

/* The result of a set-default: {"changed": bool[, "dropped_staged": checksum][, "kept_staged":
 * checksum]}. changed is false when the deployment already was the default; dropped_staged names
 * a staged (not finalized) deployment that the set-default removed, kept_staged one that it left in place
 * (rpm-ostree keeps its staged deployment, locked). Strings are borrowed (NULL when absent). */
typedef struct WorkerSetDefaultResult {
        bool changed;
        const char *dropped_staged, *kept_staged;
} WorkerSetDefaultResult;

void worker_set_default_result_parse(const json_t *result, WorkerSetDefaultResult *ret);
