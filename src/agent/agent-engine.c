/* agent-engine.c — the agent's engine thread: feeds ticks to the state machine, performs the actions it
 * asks for against the graph server, the fleet lock server, the OS backend and logind, and publishes
 * what happened (see agent-engine.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "agent-engine.h"
#include "agent-identity.h"
#include "agent-target.h"
#include "buf.h"
#include "daemon-util.h"
#include "graph.h"
#include "json-util.h"
#include "log.h"
#include "logind.h"
#include "strutil.h"
#include "strv.h"
#include "worker-call.h"

#define DENYLIST_MAX 64              /* locally failed releases remembered */
#define WORKER_TIMEOUT_SEC 300       /* a status, check, lock or finalize worker */
#define STAGE_TIMEOUT_SEC (6 * 3600) /* a download */
#define REBOOT_COMMAND_TIMEOUT_SEC 120
#define MOTD_FILE "85-upkeep-deadend.motd"

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
        int motd_state; /* -1 unknown (at start), 0 no MOTD, 1 written */

        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock; /* guards what follows */
        pthread_cond_t cond;
        bool stop, wake, force_check, done;
        int64_t next_tick_mono; /* CLOCK_MONOTONIC µs */
        AgentSnapshot snap;
};

static int64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The machine speaks wall-clock time; the wait uses the monotonic clock, so a clock step neither delays
 * nor hurries the next tick by the size of the step. */
static void set_next_tick(Engine *e, int64_t wall_usec)
{
        int64_t delay = wall_usec - now_usec();
        if (delay < 0)
                delay = 0;
        pthread_mutex_lock(&e->lock);
        e->next_tick_mono = mono_usec() + delay;
        pthread_mutex_unlock(&e->lock);
}

static double jitter(void)
{
        uint32_t v = 0;
        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
                v = (uint32_t)now_usec() * 2654435761u;
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
                *when = now_usec();
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
                e->snap.lock_changed_usec = now_usec();
        e->snap.lock_state = st;
        agent_text_copy(e->snap.lock_detail, sizeof e->snap.lock_detail, detail);
        pthread_mutex_unlock(&e->lock);
}

static const char *jstr(const json_t *o, const char *k)
{
        const json_t *v = json_is_object(o) ? json_object_get(o, k) : NULL;
        return json_is_string(v) ? json_string_value(v) : NULL;
}

static void fill_deployment(AgentDeploymentInfo *d, const json_t *o)
{
        memset(d, 0, sizeof *d);
        if (!o)
                return;
        d->present = true;
        agent_text_copy(d->version, sizeof d->version, jstr(o, "version"));
        agent_text_copy(d->checksum, sizeof d->checksum, jstr(o, "checksum"));
}

static const json_t *find_role(const json_t *deps, const char *role)
{
        size_t i;
        json_t *d;

        json_array_foreach(deps, i, d)
                if (json_is_true(json_object_get(d, role)))
                        return d;
        return NULL;
}

/* Publishes the worker's view of the deployments; on the first one, pins the booted deployment (on a test
 * sysroot, the default entry when the agent started) for later workers. Returns the booted one or NULL. */
static const json_t *publish_deployments(Engine *e, const json_t *deps)
{
        const json_t *booted = find_role(deps, "booted");

        pthread_mutex_lock(&e->lock);
        fill_deployment(&e->snap.booted, booted);
        fill_deployment(&e->snap.staged, find_role(deps, "staged"));
        fill_deployment(&e->snap.rollback, find_role(deps, "rollback"));
        if (booted)
                agent_text_copy(e->snap.stream, sizeof e->snap.stream, jstr(booted, "stream"));
        pthread_mutex_unlock(&e->lock);
        if (booted && !json_object_get(e->os, "booted") && jstr(booted, "osname") &&
            jstr(booted, "checksum"))
                json_object_set_new(e->os, "booted",
                                    json_pack("{s:s,s:s,s:O}", "osname", jstr(booted, "osname"), "checksum",
                                              jstr(booted, "checksum"), "serial",
                                              json_object_get(booted, "serial")));
        return booted;
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
        pthread_mutex_unlock(&e->lock);
        if (changed)
                daemon_notifyf("STATUS=%s", text);
        if (state_changed) /* "last checked" changes every tick: log only new states */
                log_info("%s", text);
}

/* ---- the worker ---- */

static void on_progress(const json_t *p, void *userdata)
{
        Engine *e = userdata;
        pthread_mutex_lock(&e->lock);
        e->snap.download_bytes = (uint64_t)json_integer_value(json_object_get(p, "bytes"));
        e->snap.download_objects_fetched = (uint64_t)json_integer_value(json_object_get(p, "fetched"));
        e->snap.download_objects_requested = (uint64_t)json_integer_value(json_object_get(p, "requested"));
        pthread_mutex_unlock(&e->lock);
}

/* Runs one action in upkeep-agent-worker. Returns 0 with *ret = the result when the worker answered
 * {"ok":true,...}; otherwise a negative errno with msg filled (and *ret_kind = the worker's error_kind, or
 * NULL) — the worker's own message, or why the worker could not be run. */
static int call(Engine *e, const char *command, json_t *args, unsigned timeout_sec, json_t **ret, char *msg,
                size_t msg_size, const char **ret_kind)
{
        _cleanup_json_ json_t *req = args ? args : json_object();
        _cleanup_free_ char *text = NULL;
        json_t *res = NULL;
        Error err = {};
        int r;

        if (ret_kind)
                *ret_kind = NULL;
        if (!req || json_object_set_new(req, "command", json_string(command)) < 0 ||
            json_object_set(req, "os", e->os) < 0 || !(text = json_dumps(req, JSON_COMPACT))) {
                snprintf(msg, msg_size, "out of memory");
                return -ENOMEM;
        }
        r = worker_call(e->worker_path, text, timeout_sec, &e->worker_pid, on_progress, e, &res, &err);
        if (r < 0) {
                snprintf(msg, msg_size, "%s", err.message);
                return r;
        }
        if (!json_is_true(json_object_get(res, "ok"))) {
                const char *m = jstr(res, "error"), *k = jstr(res, "error_kind");
                int code = (int)json_integer_value(json_object_get(res, "errno"));
                snprintf(msg, msg_size, "%s", m ? m : "the worker failed");
                if (ret_kind && k) {
                        static const char *const kinds[] = { "connection", "http_status", "graph_parse",
                                                             "identity",   "config",      "os" };
                        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                                if (streq(k, kinds[i]))
                                        *ret_kind = kinds[i];
                }
                json_decref(res);
                return code > 0 && code < 4096 ? -code : -EIO;
        }
        *ret = res;
        return 0;
}

/* The deployments now (each check also returns them). */
static int load_status(Engine *e)
{
        _cleanup_json_ json_t *res = NULL;
        char msg[AGENT_TEXT_MAX];
        int r = call(e, "status", NULL, WORKER_TIMEOUT_SEC, &res, msg, sizeof msg, NULL);

        if (r < 0) {
                log_error("reading deployments: %s", msg);
                set_error(e, "reading deployments: %s", msg);
                return r;
        }
        if (!publish_deployments(e, json_object_get(res, "deployments"))) {
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

/* ---- the dead-end MOTD ---- */

static void update_motd(Engine *e, bool deadend, const char *reason)
{
        char path[PATH_MAX], tmp[PATH_MAX + 16];
        Buf text = BUF_INIT(4096);
        int fd;

        snprintf(path, sizeof path, "%s/%s", e->config->motd_dir, MOTD_FILE);
        if (!deadend) {
                /* Nothing written (a stale file of an earlier run is removed once). */
                if (e->motd_state == 0)
                        return;
                if (unlink(path) < 0 && errno != ENOENT)
                        log_warning("removing %s: %m", path);
                e->motd_state = 0;
                return;
        }
        e->motd_state = 1;
        if (agent_deadend_motd(reason, &text) < 0) {
                buf_free(&text);
                return;
        }
        (void)mkdir(e->config->motd_dir, 0755);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                log_warning("writing %s: %m", tmp);
        else {
                bool ok = write(fd, text.data, text.len) == (ssize_t)text.len;
                ok = close(fd) == 0 && ok;
                if (!ok || rename(tmp, path) < 0) {
                        log_warning("writing %s: %m", path);
                        (void)unlink(tmp);
                }
        }
        buf_free(&text);
}

/* ---- the graph ---- */

static void check_error(Engine *e, AgentCheckErrorKind kind, const char *fmt, ...) _printf_(3, 4);
static void check_error(Engine *e, AgentCheckErrorKind kind, const char *fmt, ...)
{
        char msg[AGENT_TEXT_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        log_warning("update check failed: %s", msg);
        pthread_mutex_lock(&e->lock);
        e->snap.check_errors[kind]++;
        pthread_mutex_unlock(&e->lock);
        set_error(e, "update check: %s", msg);
        set_check_result(e, "error: %s", msg);
}

/* Fills *in with the CHECKED result. The strings it points to live in *keep (freed by the caller). */
static void do_check(Engine *e, bool force, AgentInput *in, char **keep_version, char **keep_payload,
                     char **keep_reason)
{
        _cleanup_json_ json_t *res = NULL;
        const json_t *booted, *target;
        const char *kind, *decision;
        char msg[AGENT_TEXT_MAX];
        json_t *graph;
        int r;

        in->check = AGENT_CHECK_ERROR;
        graph = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:O}", "base_url", e->config->cincinnati_base_url,
                          "node_uuid", e->node_uuid, "group", e->config->group, "basearch", e->basearch,
                          "platform", e->platform, "allow_downgrade", e->config->allow_downgrade, "failed",
                          e->failed);
        if (graph && force) /* update-now: ask as the most eager node */
                json_object_set_new(graph, "rollout_wariness", json_real(0.0));
        else if (graph && e->config->has_rollout_wariness)
                json_object_set_new(graph, "rollout_wariness", json_real(e->config->rollout_wariness));
        r = call(e, "check", graph ? json_pack("{s:o}", "graph", graph) : NULL, WORKER_TIMEOUT_SEC, &res,
                 msg, sizeof msg, &kind);
        if (r < 0) {
                AgentCheckErrorKind k = AGENT_CHECK_ERROR_IDENTITY;
                if (kind && streq(kind, "connection"))
                        k = AGENT_CHECK_ERROR_CONNECTION;
                else if (kind && streq(kind, "http_status"))
                        k = AGENT_CHECK_ERROR_HTTP_STATUS;
                else if (kind && streq(kind, "graph_parse"))
                        k = AGENT_CHECK_ERROR_GRAPH_PARSE;
                check_error(e, k, "%s", msg);
                return;
        }
        log_debug("GET %s", jstr(res, "url") ?: "?");
        booted = publish_deployments(e, json_object_get(res, "deployments"));
        if (!booted) {
                check_error(e, AGENT_CHECK_ERROR_IDENTITY, "no booted deployment found");
                return;
        }
        pthread_mutex_lock(&e->lock);
        e->snap.graph_nodes =
                (uint64_t)json_integer_value(json_object_get(json_object_get(res, "graph"), "nodes"));
        e->snap.graph_edges =
                (uint64_t)json_integer_value(json_object_get(json_object_get(res, "graph"), "edges"));
        e->snap.ignored_targets =
                (uint64_t)json_integer_value(json_object_get(json_object_get(res, "graph"), "ignored"));
        e->snap.last_refresh_usec = now_usec();
        pthread_mutex_unlock(&e->lock);

        bool deadend = json_is_true(json_object_get(res, "deadend"));
        update_motd(e, deadend, jstr(res, "deadend_reason") ?: "");
        decision = jstr(res, "decision") ?: "";
        target = json_object_get(res, "target");
        if (streq(decision, "not_in_graph")) {
                log_warning("booted release %s (%s) is not in the update graph; not updating",
                            jstr(booted, "version") ?: "?", jstr(booted, "checksum") ?: "?");
                set_check_result(e, "booted release not in the graph");
                in->check = AGENT_CHECK_NO_UPDATE;
        } else if (streq(decision, "downgrade_refused")) {
                log_warning("refusing downgrade to %s (allow_downgrade is false)",
                            jstr(target, "version") ?: "?");
                set_check_result(e, "downgrade to %s refused", jstr(target, "version") ?: "?");
                in->check = AGENT_CHECK_NO_UPDATE;
        } else if (streq(decision, "no_update")) {
                if (deadend) {
                        char reason[AGENT_REASON_MAX + 1];
                        agent_text_copy(reason, sizeof reason, jstr(res, "deadend_reason"));
                        *keep_reason = strdup(reason);
                        in->reason = *keep_reason;
                        in->check = AGENT_CHECK_DEAD_END;
                        log_warning("booted release is a dead-end: %s", reason);
                        set_check_result(e, "dead-end: %s", reason);
                } else {
                        in->check = AGENT_CHECK_NO_UPDATE;
                        set_check_result(e, "no update%s",
                                         e->snap.ignored_targets ? " (targets denylisted)" : "");
                }
        } else if (streq(decision, "update")) {
                const char *tv = jstr(target, "version"), *tp = jstr(target, "payload");
                if (!tv || !tp || !*tv || !*tp || strlen(tv) > AGENT_VERSION_MAX ||
                    strlen(tp) > AGENT_PAYLOAD_MAX) {
                        check_error(e, AGENT_CHECK_ERROR_GRAPH_PARSE,
                                    "target release has a bad version or payload");
                        return;
                }
                char v[AGENT_VERSION_MAX + 1], p[AGENT_PAYLOAD_MAX + 1];
                agent_text_copy(v, sizeof v, tv);
                agent_text_copy(p, sizeof p, tp);
                *keep_version = strdup(v);
                *keep_payload = strdup(p);
                if (!*keep_version || !*keep_payload) {
                        check_error(e, AGENT_CHECK_ERROR_IDENTITY, "out of memory");
                        return;
                }
                in->check = AGENT_CHECK_UPDATE;
                in->version = *keep_version;
                in->payload = *keep_payload;
                log_info("update available: %s (%s)", v, p);
                set_check_result(e, "update available: %s", v);
        } else
                check_error(e, AGENT_CHECK_ERROR_GRAPH_PARSE, "the worker sent an unknown decision");
}

/* ---- the fleet lock ---- */

/* POST base/v1/<api> (in the worker). Returns 1 on 200, 0 when refused or failed (counted and recorded). */
static int fleet_lock(Engine *e, AgentLockApi api)
{
        const char *path = api == AGENT_LOCK_API_PRE_REBOOT ? "pre-reboot" : "steady-state";
        _cleanup_json_ json_t *res = NULL;
        const char *kind;
        char detail[AGENT_TEXT_MAX], stream[AGENT_TEXT_MAX];
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
        r = call(e, "lock", args, WORKER_TIMEOUT_SEC, &res, detail, sizeof detail, &kind);
        if (r < 0) {
                pthread_mutex_lock(&e->lock);
                agent_snapshot_count_lock_error(&e->snap, api, kind ? kind : "connection");
                pthread_mutex_unlock(&e->lock);
                log_warning("fleet lock v1/%s: %s", path, detail);
                set_error(e, "fleet lock v1/%s: %s", path, detail);
                set_lock_state(e, AGENT_LOCK_ERROR, detail);
                return 0;
        }
        long status = (long)json_integer_value(json_object_get(res, "status"));
        if (status == 200) {
                set_lock_state(e, api == AGENT_LOCK_API_PRE_REBOOT ? AGENT_LOCK_HELD : AGENT_LOCK_RELEASED,
                               "");
                return 1;
        }
        /* {"kind": "...", "value": "..."} from the server; anything else is reported as the HTTP status */
        const char *k = jstr(res, "kind"), *v = jstr(res, "value");
        char ks[64], vs[256];
        agent_text_copy(ks, sizeof ks, k ? k : "");
        agent_text_copy(vs, sizeof vs, v ? v : "");
        snprintf(detail, sizeof detail, "HTTP %ld%s%s%s%s", status, k ? " " : "", ks, v ? ": " : "", vs);
        pthread_mutex_lock(&e->lock);
        agent_snapshot_count_lock_error(&e->snap, api, k ? ks : "http_status");
        pthread_mutex_unlock(&e->lock);
        if (status == 423)
                log_info("fleet lock v1/%s refused: %s", path, detail);
        else {
                log_warning("fleet lock v1/%s failed: %s", path, detail);
                set_error(e, "fleet lock v1/%s: %s", path, detail);
        }
        set_lock_state(e, status == 423 ? AGENT_LOCK_DENIED : AGENT_LOCK_ERROR, detail);
        return 0;
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
        char msg[AGENT_TEXT_MAX];
        int r;

        log_info("staging %s (%s)", rel->version, rel->payload);
        pthread_mutex_lock(&e->lock);
        e->snap.downloading = true;
        agent_text_copy(e->snap.download_version, sizeof e->snap.download_version, rel->version);
        e->snap.download_bytes = e->snap.download_objects_fetched = e->snap.download_objects_requested = 0;
        pthread_mutex_unlock(&e->lock);

        r = call(e, "stage",
                 json_pack("{s:{s:s,s:s},s:b}", "release", "version", rel->version, "payload", rel->payload,
                           "allow_downgrade", e->config->allow_downgrade),
                 STAGE_TIMEOUT_SEC, &res, msg, sizeof msg, NULL);

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
                log_error("staging %s failed: %s", rel->version, msg);
                set_error(e, "staging %s: %s", rel->version, msg);
        } else
                log_info("staged %s", rel->version);
        (void)load_status(e);
        return r >= 0;
}

static bool do_can_finalize(Engine *e)
{
        int64_t now = now_usec() / 1000000;
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
        char msg[AGENT_TEXT_MAX];
        int r;

        if (!(e->finalized_pending_reboot && streq(e->finalized_payload, rel->payload))) {
                _cleanup_json_ json_t *res = NULL;
                log_notice("finalizing %s and rebooting", rel->version);
                r = call(e, "finalize",
                         json_pack("{s:{s:s,s:s}}", "release", "version", rel->version, "payload",
                                   rel->payload),
                         WORKER_TIMEOUT_SEC, &res, msg, sizeof msg, NULL);
                if (r < 0) {
                        log_error("finalizing %s failed: %s", rel->version, msg);
                        set_error(e, "finalizing %s: %s", rel->version, msg);
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
        _cleanup_free_ char *version = NULL, *payload = NULL, *reason = NULL;
        AgentAction a;
        int r;

        for (;;) {
                in.jitter = jitter();
                r = agent_machine_step(&e->machine, &in, now_usec(), &a);
                free(version);
                free(payload);
                free(reason);
                version = payload = reason = NULL;
                if (r < 0) { /* a bug of ours: keep going at the steady pace rather than spin */
                        log_error("state machine refused %d in state %s: %s", in.kind,
                                  agent_state_name(e->machine.state), strerror(-r));
                        set_next_tick(e, now_usec() + AGENT_STEADY_INTERVAL_DEFAULT_USEC);
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
                        do_check(e, force, &in, &version, &payload, &reason);
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
                        int64_t next = e->next_tick_mono, now = mono_usec();
                        if (now >= next)
                                break;
                        struct timespec ts = { .tv_sec = next / 1000000,
                                               .tv_nsec = (next % 1000000) * 1000 };
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

int engine_new(const EngineSetup *s, Engine **ret, Error *err)
{
        const AgentConfig *c = s->config;
        Engine *e;
        int r;

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
        e->os = json_pack("{s:s,s:s?,s:s?,s:s?,s:s?,s:s?,s:b}", "backend",
                          c->os_backend == AGENT_OS_BACKEND_RPM_OSTREE ? "rpm-ostree" : "ostree", "sysroot",
                          c->sysroot, "osname", c->osname, "remote", c->remote, "stream_metadata_key",
                          c->stream_metadata_key, "rpm_ostree_path", c->rpm_ostree_path, "register",
                          false); /* main registered */
        pthread_condattr_t ca;
        pthread_mutex_init(&e->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&e->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (!e->basearch || !e->platform || !e->worker_path || !e->failed || !e->os) {
                engine_free(e);
                return error_setf(err, -ENOMEM, "out of memory");
        }
        switch (c->strategy) {
        case AGENT_STRATEGY_IMMEDIATE:
                e->fstrategy = FINALIZE_STRATEGY_IMMEDIATE;
                break;
        case AGENT_STRATEGY_PERIODIC:
                e->fstrategy = FINALIZE_STRATEGY_PERIODIC;
                break;
        case AGENT_STRATEGY_FLEET_LOCK:
                e->fstrategy = c->only_in_periodic_windows ? FINALIZE_STRATEGY_PERIODIC_FLEET_LOCK
                                                           : FINALIZE_STRATEGY_FLEET_LOCK;
                e->uses_lock = true;
                break;
        }
        r = agent_machine_init(
                &e->machine,
                &(AgentMachineConfig){ .updates_enabled = c->updates_enabled,
                                       .steady_interval_usec = (int64_t)c->steady_interval_secs * 1000000 },
                now_usec());
        if (r < 0) {
                engine_free(e);
                return error_setf(err, r, "agent.timing.steady_interval_secs out of range");
        }

        AgentSnapshot *sn = &e->snap;
        agent_snapshot_init(sn);
        sn->started_usec = now_usec();
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
        e->next_tick_mono = mono_usec();
        e->motd_state = -1;
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
        clock_gettime(CLOCK_MONOTONIC, &ts); /* the condition variable waits on CLOCK_MONOTONIC */
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
        }
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
        int64_t now = now_usec();

        pthread_mutex_lock(&e->lock);
        *ret = e->snap;
        pthread_mutex_unlock(&e->lock);
        ret->now_usec = now;
        if (e->config->calendar) {
                int64_t start, end;
                ret->in_window = calendar_contains(e->config->calendar, e->tz, now / 1000000);
                if (calendar_next_open(e->config->calendar, e->tz, now / 1000000, &start, &end) >= 0) {
                        ret->next_window_start = start;
                        ret->next_window_end = end;
                }
        }
}
