/* agent-engine.c — the agent's engine thread: feeds ticks to the state machine, performs the actions it
 * asks for against the graph server, the fleet lock server, the OS backend and logind, and publishes
 * what happened (see agent-engine.h). */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "agent-engine.h"
#include "agent-motd.h"
#include "agent-target.h"
#include "buf.h"
#include "daemon-util.h"
#include "json-util.h"
#include "log.h"
#include "logind.h"
#include "strutil.h"
#include "strv.h"
#include "time-util.h"
#include "worker-call.h"
#include "worker-protocol.h"

#define DENYLIST_MAX 64              /* locally failed releases remembered */
#define WORKER_TIMEOUT_SEC 300       /* a status, check, lock or finalize worker */
#define STAGE_TIMEOUT_SEC (6 * 3600) /* a download */
#define REBOOT_COMMAND_TIMEOUT_SEC 120

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

        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock; /* guards what follows */
        pthread_cond_t cond;
        bool stop, wake, force_check, done;
        int64_t next_tick_mono; /* CLOCK_MONOTONIC µs */
        AgentSnapshot snap;
};

/* The machine speaks wall-clock time; the wait uses the monotonic clock, so a clock step neither delays
 * nor hurries the next tick by the size of the step. */
static void set_next_tick(Engine *e, int64_t wall_usec)
{
        int64_t delay = wall_usec - (int64_t)now_usec(CLOCK_REALTIME);
        if (delay < 0)
                delay = 0;
        pthread_mutex_lock(&e->lock);
        e->next_tick_mono = (int64_t)now_usec(CLOCK_MONOTONIC) + delay;
        pthread_mutex_unlock(&e->lock);
}

static double jitter(void)
{
        uint32_t v = 0;
        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
                v = (uint32_t)now_usec(CLOCK_REALTIME) * 2654435761u;
        return (double)v / 4294967296.0; /* [0, 1) */
}

/* ---- the snapshot (all writers take e->lock) ---- */

/* Formats into one text field of the snapshot (sanitized), and stamps *when when given. */
static void set_text(Engine *e, char *field, size_t size, int64_t *when, const char *fmt, ...)
        _printf_(5, 6);
static void set_text(Engine *e, char *field, size_t size, int64_t *when, const char *fmt, ...)
{
        char msg[AGENT_TEXT_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        pthread_mutex_lock(&e->lock);
        agent_text_copy(field, size, msg);
        if (when)
                *when = (int64_t)now_usec(CLOCK_REALTIME);
        pthread_mutex_unlock(&e->lock);
}

#define set_error(e, ...)                                                                                   \
        set_text((e), (e)->snap.last_error, sizeof(e)->snap.last_error, &(e)->snap.last_error_usec,         \
                 __VA_ARGS__)
#define set_check_result(e, ...)                                                                            \
        set_text((e), (e)->snap.last_check_result, sizeof(e)->snap.last_check_result, NULL, __VA_ARGS__)

static void set_lock_state(Engine *e, AgentLockState st, const char *detail)
{
        pthread_mutex_lock(&e->lock);
        if (e->snap.lock_state != st)
                e->snap.lock_changed_usec = (int64_t)now_usec(CLOCK_REALTIME);
        e->snap.lock_state = st;
        agent_text_copy(e->snap.lock_detail, sizeof e->snap.lock_detail, detail);
        pthread_mutex_unlock(&e->lock);
}

static void fill_deployment(AgentDeploymentInfo *d, const WorkerDeployment *w, bool present)
{
        memset(d, 0, sizeof *d);
        if (!present)
                return;
        d->present = true;
        agent_text_copy(d->version, sizeof d->version, w->version);
        agent_text_copy(d->checksum, sizeof d->checksum, w->checksum);
}

/* Publishes the worker's view of the deployments; on the first one, pins the booted deployment (on a test
 * sysroot, the default entry when the agent started) for later workers. Returns whether one is booted. */
static bool publish_deployments(Engine *e, const json_t *deps, WorkerDeployment *ret_booted)
{
        WorkerDeployment booted = {}, staged = {}, rollback = {};
        bool has_booted = worker_deployment_find(deps, "booted", &booted) > 0;
        bool has_staged = worker_deployment_find(deps, "staged", &staged) > 0;
        bool has_rollback = worker_deployment_find(deps, "rollback", &rollback) > 0;

        pthread_mutex_lock(&e->lock);
        fill_deployment(&e->snap.booted, &booted, has_booted);
        fill_deployment(&e->snap.staged, &staged, has_staged);
        fill_deployment(&e->snap.rollback, &rollback, has_rollback);
        if (has_booted)
                agent_text_copy(e->snap.stream, sizeof e->snap.stream, booted.stream);
        pthread_mutex_unlock(&e->lock);
        if (has_booted && !json_object_get(e->os, "booted") && booted.osname && booted.checksum)
                json_object_set_new(e->os, "booted",
                                    json_pack("{s:s,s:s,s:O}", "osname", booted.osname, "checksum",
                                              booted.checksum, "serial", booted.serial));
        if (ret_booted)
                *ret_booted = booted;
        return has_booted;
}

/* Copies the machine's view into the snapshot and tells the service manager when the text changed. */
static void publish_machine(Engine *e)
{
        char text[AGENT_STATUS_MAX];
        bool changed, state_changed;

        if (agent_machine_status(&e->machine, text, sizeof text) < 0)
                text[0] = 0;
        pthread_mutex_lock(&e->lock);
        changed = !streq(text, e->snap.status_text);
        state_changed = e->snap.state != e->machine.state || e->snap.status_text[0] == 0;
        e->snap.state = e->machine.state;
        memcpy(e->snap.status_text, text, sizeof text);
        e->snap.last_state_change_usec = e->machine.last_state_change_usec;
        e->snap.has_target =
                e->machine.state >= AGENT_STATE_UPDATE_AVAILABLE && e->machine.state < AGENT_STATE_END;
        e->snap.target = e->machine.release;
        e->snap.dead_end = e->machine.dead_end;
        memcpy(e->snap.dead_end_reason, e->machine.dead_end_reason, sizeof e->snap.dead_end_reason);
        e->snap.last_check_usec = e->machine.last_check_usec;
        e->snap.checks = e->machine.checks;
        e->snap.deploy_attempts = e->machine.stage_attempts;
        e->snap.deploy_failures = e->machine.stage_failures;
        e->snap.finalize_attempts = e->machine.finalize_attempts;
        e->snap.finalize_failures = e->machine.finalize_failures;
        e->snap.postponed_finalizations = e->machine.postponements_total;
        pthread_mutex_unlock(&e->lock);
        if (changed)
                daemon_notifyf("STATUS=%s", text);
        if (state_changed) /* "last checked" changes every tick: log only new states */
                log_info("%s", text);
}

/* ---- the worker ---- */

static void on_progress(const WorkerProgress *p, void *userdata)
{
        Engine *e = userdata;
        pthread_mutex_lock(&e->lock);
        e->snap.download_bytes = p->bytes;
        e->snap.download_objects_fetched = p->fetched;
        e->snap.download_objects_requested = p->requested;
        pthread_mutex_unlock(&e->lock);
}

/* Runs one action in upkeep-agent-worker (args taken). Returns 0 with *ret = the result when the worker
 * answered {"ok":true,...}; otherwise a negative errno with err filled (and *ret_kind = the worker's error
 * kind, or -EINVAL) — the worker's own message, or why the worker could not be run. */
static int call(Engine *e, WorkerCommand command, json_t *args, unsigned timeout_sec, json_t **ret,
                WorkerErrorKind *ret_kind, Error *err)
{
        _cleanup_free_ char *text = NULL;
        json_t *res = NULL;
        int r;

        if (ret_kind)
                *ret_kind = _WORKER_ERROR_INVALID;
        e->failure_metric_kind[0] = 0;
        r = worker_request_format(command, args, e->os, &text, err);
        if (r < 0)
                return r;
        r = worker_call(e->worker_path, text, timeout_sec, &e->worker_pid, on_progress, e, &res, err);
        if (r < 0)
                return r;
        r = worker_result_check(res, ret_kind, err);
        if (r < 0) {
                snprintf(e->failure_metric_kind, sizeof e->failure_metric_kind, "%s",
                         worker_result_metric_kind(res) ?: "");
                json_decref(res);
                return r;
        }
        *ret = res;
        return 0;
}

/* The deployments now (each check also returns them). */
static int load_status(Engine *e)
{
        _cleanup_json_ json_t *res = NULL;
        Error err = {};
        int r = call(e, WORKER_COMMAND_STATUS, NULL, WORKER_TIMEOUT_SEC, &res, NULL, &err);

        if (r < 0) {
                log_error("reading deployments: %s", err.message);
                set_error(e, "reading deployments: %s", err.message);
                return r;
        }
        if (!publish_deployments(e, json_object_get(res, "deployments"), NULL)) {
                log_error("no booted deployment found");
                set_error(e, "no booted deployment found");
                return -ENOENT;
        }
        return 0;
}

static void remember_failed(Engine *e, const char *payload)
{
        if (json_array_size(e->failed) >= DENYLIST_MAX) /* forget the oldest */
                json_array_remove(e->failed, 0);
        json_array_append_new(e->failed, json_string(payload));
}

/* ---- the graph ---- */

/* A failed check, counted by category and by Zincati's kind (metric_kind; NULL: the category's). */
static void check_error(Engine *e, AgentCheckErrorKind kind, const char *metric_kind, const char *fmt, ...)
        _printf_(4, 5);
static void check_error(Engine *e, AgentCheckErrorKind kind, const char *metric_kind, const char *fmt, ...)
{
        char msg[AGENT_TEXT_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        log_warning("update check failed: %s", msg);
        pthread_mutex_lock(&e->lock);
        e->snap.check_errors[kind]++;
        agent_snapshot_count_check_error(&e->snap,
                                         metric_kind ? metric_kind : agent_check_error_metric_kind(kind));
        pthread_mutex_unlock(&e->lock);
        set_error(e, "update check: %s", msg);
        set_check_result(e, "error: %s", msg);
}

/* The check's failures as counted in the metrics: what is not about the graph server is "identity". */
static AgentCheckErrorKind check_error_kind(WorkerErrorKind k)
{
        static const AgentCheckErrorKind kinds[_WORKER_ERROR_MAX] = {
                [WORKER_ERROR_CONNECTION] = AGENT_CHECK_ERROR_CONNECTION,
                [WORKER_ERROR_HTTP_STATUS] = AGENT_CHECK_ERROR_HTTP_STATUS,
                [WORKER_ERROR_GRAPH_PARSE] = AGENT_CHECK_ERROR_GRAPH_PARSE,
                [WORKER_ERROR_IDENTITY] = AGENT_CHECK_ERROR_IDENTITY,
                [WORKER_ERROR_CONFIG] = AGENT_CHECK_ERROR_IDENTITY,
                [WORKER_ERROR_OS] = AGENT_CHECK_ERROR_IDENTITY,
        };
        return k >= 0 && k < _WORKER_ERROR_MAX ? kinds[k] : AGENT_CHECK_ERROR_IDENTITY;
}

/* The check request: this node's identity, its denylist and how eager it is. */
static json_t *check_request(Engine *e, bool force)
{
        json_t *graph = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:O}", "base_url",
                                  e->config->cincinnati_base_url, "node_uuid", e->node_uuid, "group",
                                  e->config->group, "basearch", e->basearch, "platform", e->platform,
                                  "allow_downgrade", e->config->allow_downgrade, "failed", e->failed);

        if (graph && force) /* update-now: ask as the most eager node */
                json_object_set_new(graph, "rollout_wariness", json_real(0.0));
        else if (graph && e->config->has_rollout_wariness)
                json_object_set_new(graph, "rollout_wariness", json_real(e->config->rollout_wariness));
        return graph ? json_pack("{s:o}", "graph", graph) : NULL;
}

/* The kept strings the CHECKED input points to (freed by the caller). */
typedef struct CheckKeep {
        char *version, *payload, *reason;
} CheckKeep;

static void check_keep_done(CheckKeep *k)
{
        free(k->version);
        free(k->payload);
        free(k->reason);
        *k = (CheckKeep){};
}

static void decide_no_update(Engine *e, const WorkerCheckResult *c, AgentInput *in, CheckKeep *keep)
{
        char reason[AGENT_REASON_MAX + 1];

        if (!c->deadend) {
                in->check = AGENT_CHECK_NO_UPDATE;
                set_check_result(e, "no update%s", e->snap.ignored_targets ? " (targets denylisted)" : "");
                return;
        }
        agent_text_copy(reason, sizeof reason, c->deadend_reason);
        keep->reason = strdup(reason);
        in->reason = keep->reason;
        in->check = AGENT_CHECK_DEAD_END;
        log_warning("booted release is a dead-end: %s", reason);
        set_check_result(e, "dead-end: %s", reason);
}

static void decide_update(Engine *e, const WorkerCheckResult *c, AgentInput *in, CheckKeep *keep)
{
        const char *tv = c->target_version, *tp = c->target_payload;
        char v[AGENT_VERSION_MAX + 1], p[AGENT_PAYLOAD_MAX + 1];

        if (!tv || !tp || !*tv || !*tp || strlen(tv) > AGENT_VERSION_MAX || strlen(tp) > AGENT_PAYLOAD_MAX) {
                check_error(e, AGENT_CHECK_ERROR_GRAPH_PARSE, "client_failed_node_parsing",
                            "target release has a bad version or payload");
                return;
        }
        agent_text_copy(v, sizeof v, tv);
        agent_text_copy(p, sizeof p, tp);
        keep->version = strdup(v);
        keep->payload = strdup(p);
        if (!keep->version || !keep->payload) {
                check_error(e, AGENT_CHECK_ERROR_IDENTITY, NULL, "out of memory");
                return;
        }
        in->check = AGENT_CHECK_UPDATE;
        in->version = keep->version;
        in->payload = keep->payload;
        log_info("update available: %s (%s)", v, p);
        set_check_result(e, "update available: %s", v);
}

/* Turns the worker's decision into the CHECKED input. */
static void decide(Engine *e, const WorkerCheckResult *c, const WorkerDeployment *booted, AgentInput *in,
                   CheckKeep *keep)
{
        switch (c->decision) {
        case WORKER_DECISION_NOT_IN_GRAPH:
                log_warning("booted release %s (%s) is not in the update graph; not updating",
                            booted->version ?: "?", booted->checksum ?: "?");
                set_check_result(e, "booted release not in the graph");
                in->check = AGENT_CHECK_NO_UPDATE;
                break;
        case WORKER_DECISION_DOWNGRADE_REFUSED:
                log_warning("refusing downgrade to %s (allow_downgrade is false)", c->target_version ?: "?");
                set_check_result(e, "downgrade to %s refused", c->target_version ?: "?");
                in->check = AGENT_CHECK_NO_UPDATE;
                break;
        case WORKER_DECISION_NO_UPDATE:
                decide_no_update(e, c, in, keep);
                break;
        case WORKER_DECISION_UPDATE:
                decide_update(e, c, in, keep);
                break;
        default:
                check_error(e, AGENT_CHECK_ERROR_GRAPH_PARSE, NULL, "the worker sent an unknown decision");
        }
}

/* Fills *in with the CHECKED result. The strings it points to live in *keep (freed by the caller). */
static void do_check(Engine *e, bool force, AgentInput *in, CheckKeep *keep)
{
        _cleanup_json_ json_t *res = NULL;
        WorkerDeployment booted;
        WorkerCheckResult c;
        WorkerErrorKind kind;
        Error err = {};
        int r;

        in->check = AGENT_CHECK_ERROR;
        r = call(e, WORKER_COMMAND_CHECK, check_request(e, force), WORKER_TIMEOUT_SEC, &res, &kind, &err);
        if (r < 0) {
                check_error(e, check_error_kind(kind),
                            e->failure_metric_kind[0] ? e->failure_metric_kind : NULL, "%s", err.message);
                return;
        }
        worker_check_result_parse(res, &c);
        log_debug("GET %s", c.url ?: "?");
        if (!publish_deployments(e, c.deployments, &booted)) {
                check_error(e, AGENT_CHECK_ERROR_IDENTITY, NULL, "no booted deployment found");
                return;
        }
        pthread_mutex_lock(&e->lock);
        e->snap.graph_nodes = c.nodes;
        e->snap.graph_edges = c.edges;
        e->snap.ignored_targets = c.ignored;
        e->snap.last_refresh_usec = (int64_t)now_usec(CLOCK_REALTIME);
        pthread_mutex_unlock(&e->lock);

        r = agent_motd_update(&e->motd, c.deadend, c.deadend_reason, &err);
        if (r < 0)
                log_warning("%s", err.message);
        decide(e, &c, &booted, in, keep);
}

/* ---- the fleet lock ---- */

/* A refusal or failure the server answered: {"kind": "...", "value": "..."}, else the HTTP status. */
static void lock_refused(Engine *e, AgentLockApi api, const char *path, const WorkerLockResult *l)
{
        char detail[AGENT_TEXT_MAX], ks[64], vs[256];

        agent_text_copy(ks, sizeof ks, l->kind ? l->kind : "");
        agent_text_copy(vs, sizeof vs, l->value ? l->value : "");
        snprintf(detail, sizeof detail, "HTTP %ld%s%s%s%s", l->status, l->kind ? " " : "", ks,
                 l->value ? ": " : "", vs);
        pthread_mutex_lock(&e->lock);
        agent_snapshot_count_lock_error(&e->snap, api, l->kind ? ks : "http_status");
        pthread_mutex_unlock(&e->lock);
        if (l->status == 423)
                log_info("fleet lock v1/%s refused: %s", path, detail);
        else {
                log_warning("fleet lock v1/%s failed: %s", path, detail);
                set_error(e, "fleet lock v1/%s: %s", path, detail);
        }
        set_lock_state(e, l->status == 423 ? AGENT_LOCK_DENIED : AGENT_LOCK_ERROR, detail);
}

/* POST base/v1/<api> (in the worker). Returns 1 on 200, 0 when refused or failed (counted and recorded). */
static int fleet_lock(Engine *e, AgentLockApi api)
{
        const char *path = api == AGENT_LOCK_API_PRE_REBOOT ? "pre-reboot" : "steady-state";
        _cleanup_json_ json_t *res = NULL;
        WorkerErrorKind kind;
        WorkerLockResult l;
        char stream[AGENT_TEXT_MAX];
        Error err = {};
        json_t *args;
        int r;

        pthread_mutex_lock(&e->lock);
        e->snap.lock_requests[api]++;
        memcpy(stream, e->snap.stream, sizeof stream);
        pthread_mutex_unlock(&e->lock);
        args = json_pack("{s:{s:s?,s:s,s:s,s:s,s:s,s:s,s:s}}", "lock", "base_url",
                         e->config->fleet_lock_base_url, "api", path, "node_uuid", e->node_uuid, "group",
                         e->config->group, "basearch", e->basearch, "platform", e->platform, "stream",
                         stream);
        r = call(e, WORKER_COMMAND_LOCK, args, WORKER_TIMEOUT_SEC, &res, &kind, &err);
        if (r < 0) {
                pthread_mutex_lock(&e->lock);
                agent_snapshot_count_lock_error(&e->snap, api,
                                                worker_error_kind_to_string(kind) ?: "connection");
                pthread_mutex_unlock(&e->lock);
                log_warning("fleet lock v1/%s: %s", path, err.message);
                set_error(e, "fleet lock v1/%s: %s", path, err.message);
                set_lock_state(e, AGENT_LOCK_ERROR, err.message);
                return 0;
        }
        worker_lock_result_parse(res, &l);
        if (l.status < 200 || l.status > 299) { /* any 2xx is a success, as in Zincati */
                lock_refused(e, api, path, &l);
                return 0;
        }
        set_lock_state(e, api == AGENT_LOCK_API_PRE_REBOOT ? AGENT_LOCK_HELD : AGENT_LOCK_RELEASED, "");
        return 1;
}

/* ---- the actions ---- */

/* The point where health checks plug in (a later issue): steady state is reported only for a booted
 * deployment the OS layer can see. */
static bool booted_healthy(Engine *e)
{
        return load_status(e) >= 0;
}

static bool do_report_steady(Engine *e)
{
        if (!booted_healthy(e))
                return false;
        if (!e->uses_lock)
                return true;
        return fleet_lock(e, AGENT_LOCK_API_STEADY_STATE) == 1;
}

static bool do_stage(Engine *e, const AgentRelease *rel)
{
        _cleanup_json_ json_t *res = NULL;
        Error err = {};
        int r;

        log_info("staging %s (%s)", rel->version, rel->payload);
        pthread_mutex_lock(&e->lock);
        e->snap.downloading = true;
        agent_text_copy(e->snap.download_version, sizeof e->snap.download_version, rel->version);
        e->snap.download_bytes = e->snap.download_objects_fetched = e->snap.download_objects_requested = 0;
        pthread_mutex_unlock(&e->lock);

        r = call(e, WORKER_COMMAND_STAGE,
                 json_pack("{s:{s:s,s:s},s:b}", "release", "version", rel->version, "payload", rel->payload,
                           "allow_downgrade", e->config->allow_downgrade),
                 STAGE_TIMEOUT_SEC, &res, NULL, &err);

        pthread_mutex_lock(&e->lock);
        e->snap.downloading = false;
        e->snap.download_bytes_total += e->snap.download_bytes;
        e->snap.download_objects_total += e->snap.download_objects_fetched;
        pthread_mutex_unlock(&e->lock);
        if (r == -EALREADY) {
                log_warning("release %s is the booted one; nothing to stage", rel->version);
                r = 0;
        }
        if (r < 0) {
                log_error("staging %s failed: %s", rel->version, err.message);
                set_error(e, "staging %s: %s", rel->version, err.message);
        } else
                log_info("staged %s", rel->version);
        (void)load_status(e);
        return r >= 0;
}

static bool do_can_finalize(Engine *e)
{
        int64_t now = (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_SEC);
        bool in_window = true, granted = false;
        const char *reason = NULL;

        if (e->config->calendar)
                in_window = calendar_contains(e->config->calendar, e->tz, now);
        if (e->uses_lock && (e->fstrategy != FINALIZE_STRATEGY_PERIODIC_FLEET_LOCK || in_window))
                granted = fleet_lock(e, AGENT_LOCK_API_PRE_REBOOT) == 1;
        return strategy_can_finalize(e->fstrategy, in_window, granted, &reason) == 1;
}

static bool do_check_users(Engine *e)
{
        char **ttys = NULL;
        size_t n = 0;
        Error err = {};

        if (logind_interactive_sessions(&ttys, &n, &err) < 0) {
                log_debug("cannot list sessions (%s); assuming nobody is logged in", err.message);
                return false;
        }
        strv_free(e->ttys);
        e->ttys = ttys;
        return n > 0;
}

static void do_warn_users(Engine *e, const AgentAction *a)
{
        char msg[512];
        int n;

        snprintf(msg, sizeof msg,
                 "\r\nupkeep-agent: this host will reboot into %s in %" PRId64
                 " seconds or less to apply an update.\r\n",
                 a->release ? a->release->version : "a new release", a->reboot_in_sec);
        n = tty_broadcast(e->ttys, msg);
        log_notice("reboot postponed for logged-in users (warned %d terminals)", n);
}

static bool do_finalize(Engine *e, const AgentRelease *rel)
{
        Error err = {};
        int r;

        if (!(e->finalized_pending_reboot && streq(e->finalized_payload, rel->payload))) {
                _cleanup_json_ json_t *res = NULL;
                log_notice("finalizing %s and rebooting", rel->version);
                r = call(e, WORKER_COMMAND_FINALIZE,
                         json_pack("{s:{s:s,s:s}}", "release", "version", rel->version, "payload",
                                   rel->payload),
                         WORKER_TIMEOUT_SEC, &res, NULL, &err);
                if (r < 0) {
                        log_error("finalizing %s failed: %s", rel->version, err.message);
                        set_error(e, "finalizing %s: %s", rel->version, err.message);
                        return false;
                }
                if (json_is_true(json_object_get(res, "reboots"))) /* rpm-ostree reboots the host itself */
                        return true;
                e->finalized_pending_reboot = true;
                snprintf(e->finalized_payload, sizeof e->finalized_payload, "%s", rel->payload);
        }
        daemon_notifyf("STATUS=rebooting into %s", rel->version);
        if (e->config->reboot_method == AGENT_REBOOT_COMMAND)
                r = run_command(e->config->reboot_command, REBOOT_COMMAND_TIMEOUT_SEC, NULL, &err);
        else
                r = logind_reboot(&err);
        if (r < 0) {
                log_error("reboot failed: %s", err.message);
                set_error(e, "reboot: %s", err.message);
                return false;
        }
        e->finalized_pending_reboot = false;
        return true;
}

/* One tick: the conversation with the machine until it says sleep. */
static void run_tick(Engine *e, bool force)
{
        AgentInput in = { .kind = AGENT_INPUT_TICK };
        _cleanup_(check_keep_done) CheckKeep keep = {};
        AgentAction a;
        int r;

        pthread_mutex_lock(&e->lock); /* Zincati's last_refresh_timestamp: every tick, success or not */
        e->snap.last_tick_usec = (int64_t)now_usec(CLOCK_REALTIME);
        pthread_mutex_unlock(&e->lock);
        for (;;) {
                in.jitter = jitter();
                r = agent_machine_step(&e->machine, &in, (int64_t)now_usec(CLOCK_REALTIME), &a);
                check_keep_done(&keep);
                if (r < 0) { /* a bug of ours: keep going at the steady pace rather than spin */
                        log_error_errno(r, "state machine refused %d in state %s: %m", in.kind,
                                        agent_state_name(e->machine.state));
                        set_next_tick(e, (int64_t)now_usec(CLOCK_REALTIME) +
                                                 AGENT_STEADY_INTERVAL_DEFAULT_USEC);
                        return;
                }
                if (a.abandoned) {
                        log_warning("abandoning %s after %d failed attempts to stage it",
                                    a.abandoned->version, AGENT_MAX_STAGE_ATTEMPTS);
                        remember_failed(e, a.abandoned->payload);
                }
                publish_machine(e);

                in = (AgentInput){};
                switch (a.kind) {
                case AGENT_ACTION_SLEEP:
                case AGENT_ACTION_WARN_USERS:
                        if (a.kind == AGENT_ACTION_WARN_USERS)
                                do_warn_users(e, &a);
                        set_next_tick(e, a.next_tick_usec);
                        return;
                case AGENT_ACTION_REPORT_STEADY:
                        in.kind = AGENT_INPUT_STEADY_REPORTED;
                        in.ok = do_report_steady(e);
                        break;
                case AGENT_ACTION_CHECK_UPDATES:
                        in.kind = AGENT_INPUT_CHECKED;
                        do_check(e, force, &in, &keep);
                        force = false;
                        break;
                case AGENT_ACTION_STAGE:
                        in.kind = AGENT_INPUT_STAGED;
                        in.ok = do_stage(e, a.release);
                        break;
                case AGENT_ACTION_CAN_FINALIZE:
                        in.kind = AGENT_INPUT_CAN_FINALIZE;
                        in.can_finalize = do_can_finalize(e);
                        break;
                case AGENT_ACTION_CHECK_USERS:
                        in.kind = AGENT_INPUT_USERS;
                        in.users_logged_in = do_check_users(e);
                        break;
                case AGENT_ACTION_FINALIZE:
                        in.kind = AGENT_INPUT_FINALIZED;
                        in.ok = do_finalize(e, a.release);
                        break;
                default:
                        log_error("unknown action %d", a.kind);
                        return;
                }
                pthread_mutex_lock(&e->lock);
                bool stop = e->stop;
                pthread_mutex_unlock(&e->lock);
                if (stop)
                        return;
        }
}

static void *engine_main(void *userdata)
{
        Engine *e = userdata;

        pthread_mutex_lock(&e->lock);
        for (;;) {
                while (!e->stop && !e->wake) {
                        int64_t next = e->next_tick_mono, now = (int64_t)now_usec(CLOCK_MONOTONIC);
                        if (now >= next)
                                break;
                        struct timespec ts = timespec_from_nsec((uint64_t)next * NSEC_PER_USEC);
                        pthread_cond_timedwait(&e->cond, &e->lock, &ts);
                }
                if (e->stop)
                        break;
                bool force = e->force_check;
                e->force_check = e->wake = false;
                pthread_mutex_unlock(&e->lock);
                run_tick(e, force);
                pthread_mutex_lock(&e->lock);
        }
        e->done = true;
        pthread_cond_broadcast(&e->cond);
        pthread_mutex_unlock(&e->lock);
        return NULL;
}

/* ---- life cycle ---- */

static FinalizeStrategy finalize_strategy(const AgentConfig *c)
{
        switch (c->strategy) {
        case AGENT_STRATEGY_PERIODIC:
                return FINALIZE_STRATEGY_PERIODIC;
        case AGENT_STRATEGY_FLEET_LOCK:
                return c->only_in_periodic_windows ? FINALIZE_STRATEGY_PERIODIC_FLEET_LOCK
                                                   : FINALIZE_STRATEGY_FLEET_LOCK;
        default:
                return FINALIZE_STRATEGY_IMMEDIATE;
        }
}

/* What the snapshot shows from the start: who this node is and how it is configured. */
static void init_snapshot(Engine *e)
{
        const AgentConfig *c = e->config;
        AgentSnapshot *sn = &e->snap;

        agent_snapshot_init(sn);
        sn->started_usec = (int64_t)now_usec(CLOCK_REALTIME);
        snprintf(sn->node_uuid, sizeof sn->node_uuid, "%s", e->node_uuid);
        agent_text_copy(sn->group, sizeof sn->group, c->group);
        agent_text_copy(sn->basearch, sizeof sn->basearch, e->basearch);
        agent_text_copy(sn->platform, sizeof sn->platform, e->platform);
        sn->has_rollout_wariness = c->has_rollout_wariness;
        sn->rollout_wariness = c->rollout_wariness;
        snprintf(sn->strategy, sizeof sn->strategy, "%s",
                 e->fstrategy == FINALIZE_STRATEGY_PERIODIC_FLEET_LOCK
                         ? "fleet_lock+periodic"
                         : agent_strategy_to_string(c->strategy));
        snprintf(sn->os_backend, sizeof sn->os_backend, "%s",
                 c->os_backend == AGENT_OS_BACKEND_RPM_OSTREE ? "rpm-ostree" : "ostree");
        sn->updates_enabled = c->updates_enabled;
        sn->allow_downgrade = c->allow_downgrade;
        sn->lock_state = e->uses_lock ? AGENT_LOCK_UNKNOWN : AGENT_LOCK_UNUSED;
        if (c->calendar) {
                Buf w = BUF_INIT(sizeof sn->windows);
                sn->has_calendar = true;
                if (calendar_format(c->calendar, &w) >= 0 && buf_putc(&w, 0) >= 0)
                        agent_text_copy(sn->windows, sizeof sn->windows, w.data);
                buf_free(&w);
                agent_text_copy(sn->time_zone, sizeof sn->time_zone, c->time_zone);
                sn->schedule_minutes = calendar_total_minutes(c->calendar);
        }
}

int engine_new(const EngineSetup *s, Engine **ret, Error *err)
{
        const AgentConfig *c;
        pthread_condattr_t ca;
        Engine *e;
        int r;

        assert(s);
        assert(s->config);
        assert(ret);
        c = s->config;
        e = calloc(1, sizeof *e);
        if (!e)
                return error_setf(err, -ENOMEM, "out of memory");
        e->config = c;
        e->tz = s->tz;
        snprintf(e->node_uuid, sizeof e->node_uuid, "%s", s->node_uuid);
        e->basearch = strdup(s->basearch);
        e->platform = strdup(s->platform ? s->platform : "");
        e->worker_path = strdup(s->worker_path);
        e->failed = json_array();
        e->os = worker_os_new(c, false); /* main registered */
        pthread_mutex_init(&e->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&e->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (!e->basearch || !e->platform || !e->worker_path || !e->failed || !e->os) {
                engine_free(e);
                return error_setf(err, -ENOMEM, "out of memory");
        }
        e->fstrategy = finalize_strategy(c);
        e->uses_lock = c->strategy == AGENT_STRATEGY_FLEET_LOCK;
        r = agent_machine_init(&e->machine,
                               &(AgentMachineConfig){ .updates_enabled = c->updates_enabled,
                                                      .steady_interval_usec = agent_steady_interval_usec(
                                                              c->steady_interval_secs) },
                               (int64_t)now_usec(CLOCK_REALTIME));
        if (r < 0) {
                engine_free(e);
                return error_setf(err, r, "agent.timing.steady_interval_secs out of range");
        }
        init_snapshot(e);
        e->next_tick_mono = (int64_t)now_usec(CLOCK_MONOTONIC);
        agent_motd_init(&e->motd, c->motd_dir);
        publish_machine(e);
        *ret = e;
        return 0;
}

int engine_start(Engine *e)
{
        int r = pthread_create(&e->thread, NULL, engine_main, e);
        if (r != 0)
                return -r;
        e->thread_started = true;
        return 0;
}

int engine_stop(Engine *e, unsigned timeout_ms)
{
        struct timespec ts;
        int r = 0;

        if (!e->thread_started)
                return 0;
        /* the condition variable waits on CLOCK_MONOTONIC */
        ts = timespec_from_nsec(now_nsec(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * NSEC_PER_MSEC);
        pthread_mutex_lock(&e->lock);
        e->stop = true;
        pthread_cond_broadcast(&e->cond);
        pid_t worker = __atomic_load_n(&e->worker_pid, __ATOMIC_SEQ_CST);
        if (worker > 0) /* a download or another action in flight: it is safe to interrupt (docs/agent.md) */
                kill(worker, SIGTERM);
        while (!e->done && r == 0)
                r = pthread_cond_timedwait(&e->cond, &e->lock, &ts);
        bool done = e->done;
        pthread_mutex_unlock(&e->lock);
        if (!done)
                return -ETIMEDOUT;
        pthread_join(e->thread, NULL);
        e->thread_started = false;
        return 0;
}

Engine *engine_free(Engine *e)
{
        if (!e)
                return NULL;
        json_decref(e->os);
        json_decref(e->failed);
        free(e->worker_path);
        strv_free(e->ttys);
        free(e->basearch);
        free(e->platform);
        pthread_cond_destroy(&e->cond);
        pthread_mutex_destroy(&e->lock);
        free(e);
        return NULL;
}

void engine_update_now(Engine *e)
{
        pthread_mutex_lock(&e->lock);
        e->wake = e->force_check = true;
        pthread_cond_broadcast(&e->cond);
        pthread_mutex_unlock(&e->lock);
}

void engine_snapshot(Engine *e, AgentSnapshot *ret)
{
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);

        pthread_mutex_lock(&e->lock);
        *ret = e->snap;
        pthread_mutex_unlock(&e->lock);
        ret->now_usec = now;
        if (e->config->calendar) {
                int64_t start, end;
                ret->in_window = calendar_contains(e->config->calendar, e->tz, now / (int64_t)USEC_PER_SEC);
                if (calendar_next_open(e->config->calendar, e->tz, now / (int64_t)USEC_PER_SEC, &start,
                                       &end) >= 0) {
                        ret->next_window_start = start;
                        ret->next_window_end = end;
                }
        }
}
