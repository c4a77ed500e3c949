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

#include "agent-engine-internal.h"
#include "agent-health.h"
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

#define STAGE_TIMEOUT_SEC (6 * 3600) /* a download */
#define REBOOT_COMMAND_TIMEOUT_SEC 120

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
void engine_set_text(Engine *e, char *field, size_t size, int64_t *when, const char *fmt, ...)
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
bool engine_publish_deployments(Engine *e, const json_t *deps, WorkerDeployment *ret_booted)
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
int engine_call(Engine *e, WorkerCommand command, json_t *args, unsigned timeout_sec, json_t **ret,
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
        int r = engine_call(e, WORKER_COMMAND_STATUS, NULL, WORKER_TIMEOUT_SEC, &res, NULL, &err);

        if (r < 0) {
                log_error("reading deployments: %s", err.message);
                set_error(e, "reading deployments: %s", err.message);
                return r;
        }
        if (!engine_publish_deployments(e, json_object_get(res, "deployments"), NULL)) {
                log_error("no booted deployment found");
                set_error(e, "no booted deployment found");
                return -ENOENT;
        }
        return 0;
}

void engine_remember_failed(Engine *e, const char *payload)
{
        if (json_array_size(e->failed) >= DENYLIST_MAX) /* forget the oldest */
                json_array_remove(e->failed, 0);
        json_array_append_new(e->failed, json_string(payload));
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
        if (args && e->lock_token) /* sent as a bearer token by the worker, never logged */
                json_object_set_new(json_object_get(args, "lock"), "token", json_string(e->lock_token));
        r = engine_call(e, WORKER_COMMAND_LOCK, args, WORKER_TIMEOUT_SEC, &res, &kind, &err);
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

/* Steady state is reported only for a booted deployment the OS layer can see, once the boot assessment
 * says so (agent-health.h); the slot is released by the assessment. */
static bool do_report_steady(Engine *e)
{
        AgentDeploymentInfo booted, staged;
        bool have_previous;

        if (load_status(e) < 0)
                return false;
        engine_reports_open(e); /* the stream is known now; sends what an earlier boot queued */
        pthread_mutex_lock(&e->lock);
        booted = e->snap.booted;
        staged = e->snap.staged;
        have_previous = e->snap.rollback.present;
        pthread_mutex_unlock(&e->lock);
        return agent_health_report_steady(e->health, &booted, &staged, have_previous);
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

        r = engine_call(e, WORKER_COMMAND_STAGE,
                        json_pack("{s:{s:s,s:s},s:b}", "release", "version", rel->version, "payload",
                                  rel->payload, "allow_downgrade", e->config->allow_downgrade),
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
        bool ok = strategy_can_finalize(e->fstrategy, in_window, granted, &reason) == 1;
        pthread_mutex_lock(&e->lock); /* counted as Zincati counts them */
        if (ok)
                e->snap.can_finalize_allow++;
        else if (e->uses_lock && e->snap.lock_state == AGENT_LOCK_ERROR)
                e->snap.can_finalize_error++;
        else
                e->snap.can_finalize_deny++;
        pthread_mutex_unlock(&e->lock);
        return ok;
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

static int reboot_host(Engine *e, Error *err)
{
        int r;

        daemon_notifyf("STATUS=rebooting");
        if (e->config->reboot_method == AGENT_REBOOT_COMMAND)
                r = run_command(e->config->reboot_command, REBOOT_COMMAND_TIMEOUT_SEC, NULL, err);
        else
                r = logind_reboot(err);
        if (r < 0) {
                log_error("reboot failed: %s", err->message);
                set_error(e, "reboot: %s", err->message);
        }
        return r;
}

/* Before finalizing: the boot assessment's record, for the release the staged deployment carries. */
static bool arm_health(Engine *e, const AgentRelease *rel)
{
        AgentDeploymentInfo booted, staged;
        Error err = {};

        pthread_mutex_lock(&e->lock);
        booted = e->snap.booted;
        staged = e->snap.staged;
        pthread_mutex_unlock(&e->lock);
        if (agent_health_arm(e->health, &booted, rel->version,
                             staged.present ? staged.checksum : rel->payload, &err) >= 0)
                return true;
        log_error("not finalizing %s: recording the boot assessment failed: %s", rel->version, err.message);
        set_error(e, "finalizing %s: %s", rel->version, err.message);
        return false;
}

static bool do_finalize(Engine *e, const AgentRelease *rel)
{
        Error err = {};
        int r;

        if (!(e->finalized_pending_reboot && streq(e->finalized_payload, rel->payload))) {
                _cleanup_json_ json_t *res = NULL;
                if (!arm_health(e, rel))
                        return false;
                log_notice("finalizing %s and rebooting", rel->version);
                r = engine_call(e, WORKER_COMMAND_FINALIZE,
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
        if (reboot_host(e, &err) < 0)
                return false;
        e->finalized_pending_reboot = false;
        return true;
}

/* ---- the boot assessment's host (agent-health.h) ---- */

static int health_set_default(void *userdata, const char *checksum, Error *err)
{
        _cleanup_json_ json_t *res = NULL;
        Engine *e = userdata;
        int r = engine_call(e, WORKER_COMMAND_SET_DEFAULT, json_pack("{s:s}", "checksum", checksum),
                            WORKER_TIMEOUT_SEC, &res, NULL, err);

        if (r >= 0)
                (void)load_status(e);
        return r;
}

static int health_reboot(void *userdata, Error *err)
{
        return reboot_host(userdata, err);
}

static bool health_release_slot(void *userdata)
{
        Engine *e = userdata;
        return !e->uses_lock || fleet_lock(e, AGENT_LOCK_API_STEADY_STATE) == 1;
}

static bool health_sleep_until(void *userdata, uint64_t mono_usec)
{
        struct timespec ts = timespec_from_nsec(mono_usec * NSEC_PER_USEC);
        Engine *e = userdata;
        bool stop;

        pthread_mutex_lock(&e->lock);
        while (!e->stop && now_usec(CLOCK_MONOTONIC) < mono_usec)
                pthread_cond_timedwait(&e->cond, &e->lock, &ts);
        stop = e->stop;
        pthread_mutex_unlock(&e->lock);
        return !stop;
}

/* The assessment's outcomes as reports; "recovered" is not one (the rollback was reported). */
static void health_report(void *userdata, HealthOutcome o, const HealthRecord *rec, const char *reason,
                          const char *failed)
{
        static const ReportOutcome map[_HEALTH_OUTCOME_MAX] = {
                [HEALTH_OUTCOME_NONE] = _REPORT_OUTCOME_INVALID,
                [HEALTH_OUTCOME_SUCCEEDED] = REPORT_SUCCEEDED,
                [HEALTH_OUTCOME_RECOVERED] = _REPORT_OUTCOME_INVALID,
                [HEALTH_OUTCOME_ROLLED_BACK] = REPORT_ROLLED_BACK,
                [HEALTH_OUTCOME_BOOT_FALLBACK] = REPORT_BOOT_FALLBACK,
                [HEALTH_OUTCOME_MANUAL] = REPORT_MANUAL_INTERVENTION,
        };
        Engine *e = userdata;
        char booted[AGENT_VERSION_MAX + 1];

        if ((unsigned)o >= _HEALTH_OUTCOME_MAX || map[o] == _REPORT_OUTCOME_INVALID)
                return;
        pthread_mutex_lock(&e->lock);
        snprintf(booted, sizeof booted, "%s", e->snap.booted.version);
        pthread_mutex_unlock(&e->lock);
        engine_report(e, map[o], rec ? rec->from_version : booted, rec ? rec->to_version : booted, reason,
                      map[o] == REPORT_SUCCEEDED ? "" : failed);
}

static void health_publish(void *userdata, const AgentHealthInfo *info)
{
        Engine *e = userdata;
        pthread_mutex_lock(&e->lock);
        e->snap.health = *info;
        pthread_mutex_unlock(&e->lock);
}

/* A release given up after AGENT_MAX_STAGE_ATTEMPTS failed stages: stage_failed, with the last error. */
static void report_abandoned(Engine *e, const AgentRelease *rel)
{
        char booted[AGENT_VERSION_MAX + 1], why[AGENT_TEXT_MAX];

        pthread_mutex_lock(&e->lock);
        snprintf(booted, sizeof booted, "%s", e->snap.booted.version);
        snprintf(why, sizeof why, "%s", e->snap.last_error);
        pthread_mutex_unlock(&e->lock);
        engine_report(e, REPORT_STAGE_FAILED, booted, rel->version, why, NULL);
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
                        engine_remember_failed(e, a.abandoned->payload);
                        report_abandoned(e, a.abandoned);
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
                        engine_do_check(e, force, &in, &keep);
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
        r = agent_health_new(c,
                             &(AgentHealthHost){ .userdata = e,
                                                 .set_default = health_set_default,
                                                 .reboot = health_reboot,
                                                 .release_slot = health_release_slot,
                                                 .sleep_until = health_sleep_until,
                                                 .report = health_report,
                                                 .publish = health_publish },
                             &e->health, err);
        if (r >= 0)
                r = engine_tokens_load(e, err);
        if (r < 0) {
                engine_free(e);
                return r;
        }
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
        engine_reports_close(e);
        free(e->lock_token);
        free(e->report_token);
        agent_health_free(e->health);
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

void engine_update_now_allowing(Engine *e, const char *version)
{
        agent_health_allow_once(e->health, version);
        engine_update_now(e);
}

int engine_forget_bad_release(Engine *e, const char *version_or_checksum, Error *err)
{
        return agent_health_forget(e->health, version_or_checksum, err);
}

void engine_snapshot(Engine *e, AgentSnapshot *ret)
{
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);

        pthread_mutex_lock(&e->lock);
        *ret = e->snap;
        engine_reports_stats(e, &ret->reports);
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
