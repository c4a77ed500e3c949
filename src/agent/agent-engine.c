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
#include <time.h>
#include <unistd.h>

#include "agent-engine.h"
#include "agent-identity.h"
#include "agent-target.h"
#include "buf.h"
#include "daemon-util.h"
#include "graph.h"
#include "http-client.h"
#include "json-util.h"
#include "log.h"
#include "logind.h"
#include "strutil.h"
#include "strv.h"

#define DENYLIST_MAX 64              /* locally failed releases remembered */
#define GRAPH_MAX_BYTES (16u << 20)  /* a graph response */
#define REBOOT_COMMAND_TIMEOUT_SEC 120
#define MOTD_FILE "85-upkeep-deadend.motd"

struct Engine {
        const AgentConfig *config;
        OsBackend *backend;
        const TimeZone *tz;
        char node_uuid[33];
        char *basearch, *platform;
        FinalizeStrategy fstrategy;
        bool uses_lock;

        AgentMachine machine;
        HttpClient *http;
        char **failed;   /* payloads abandoned locally (denylist), at most DENYLIST_MAX */
        size_t n_failed;
        char **ttys;     /* terminals of the interactive sessions last seen */
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

static void set_error(Engine *e, const char *fmt, ...) _printf_(2, 3);
static void set_error(Engine *e, const char *fmt, ...)
{
        char msg[AGENT_TEXT_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        pthread_mutex_lock(&e->lock);
        agent_text_copy(e->snap.last_error, sizeof e->snap.last_error, msg);
        e->snap.last_error_usec = now_usec();
        pthread_mutex_unlock(&e->lock);
}

static void set_check_result(Engine *e, const char *fmt, ...) _printf_(2, 3);
static void set_check_result(Engine *e, const char *fmt, ...)
{
        char msg[AGENT_TEXT_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        pthread_mutex_lock(&e->lock);
        agent_text_copy(e->snap.last_check_result, sizeof e->snap.last_check_result, msg);
        pthread_mutex_unlock(&e->lock);
}

static void set_lock_state(Engine *e, AgentLockState st, const char *detail)
{
        pthread_mutex_lock(&e->lock);
        if (e->snap.lock_state != st)
                e->snap.lock_changed_usec = now_usec();
        e->snap.lock_state = st;
        agent_text_copy(e->snap.lock_detail, sizeof e->snap.lock_detail, detail);
        pthread_mutex_unlock(&e->lock);
}

static void fill_deployment(AgentDeploymentInfo *d, const OsDeployment *o)
{
        memset(d, 0, sizeof *d);
        if (!o)
                return;
        d->present = true;
        agent_text_copy(d->version, sizeof d->version, o->version);
        agent_text_copy(d->checksum, sizeof d->checksum, o->checksum);
}

static void publish_deployments(Engine *e, const OsStatus *st)
{
        pthread_mutex_lock(&e->lock);
        fill_deployment(&e->snap.booted, st->booted);
        fill_deployment(&e->snap.staged, st->staged);
        fill_deployment(&e->snap.rollback, st->rollback);
        if (st->booted)
                agent_text_copy(e->snap.stream, sizeof e->snap.stream, st->booted->stream);
        pthread_mutex_unlock(&e->lock);
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
        e->snap.has_target = e->machine.state >= AGENT_STATE_UPDATE_AVAILABLE && e->machine.state < AGENT_STATE_END;
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

/* ---- the OS ---- */

static int load_status(Engine *e, OsStatus *ret)
{
        Error err = {};
        int r = os_backend_status(e->backend, ret, &err);
        if (r < 0) {
                log_error("reading deployments: %s", err.message);
                set_error(e, "reading deployments: %s", err.message);
                return r;
        }
        publish_deployments(e, ret);
        if (!ret->booted) {
                log_error("no booted deployment found");
                set_error(e, "no booted deployment found");
                os_status_done(ret);
                return -ENOENT;
        }
        return 0;
}

/* Releases deployed locally (except a staged one, which is resumed) and releases that failed here. */
static int build_denylist(Engine *e, const OsStatus *st, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r;

        for (size_t i = 0; i < st->n_deployments; i++)
                if (!st->deployments[i].staged && st->deployments[i].checksum) {
                        r = strv_push(&l, &n, st->deployments[i].checksum);
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < e->n_failed; i++) {
                r = strv_push(&l, &n, e->failed[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static void remember_failed(Engine *e, const char *payload)
{
        if (e->n_failed == DENYLIST_MAX) { /* forget the oldest */
                free(e->failed[0]);
                memmove(e->failed, e->failed + 1, (DENYLIST_MAX - 1) * sizeof(char *));
                e->failed[--e->n_failed] = NULL;
        }
        if (strv_push(&e->failed, &e->n_failed, payload) < 0)
                log_warning("out of memory remembering failed release %s", payload);
}

/* ---- the dead-end MOTD ---- */

static void update_motd(Engine *e, bool deadend, const char *reason)
{
        char path[PATH_MAX], tmp[PATH_MAX + 16];
        Buf text = BUF_INIT(4096);
        int fd;

        snprintf(path, sizeof path, "%s/%s", e->config->motd_dir, MOTD_FILE);
        if (!deadend) {
                if (e->motd_state == 0) /* nothing written (a stale file of an earlier run is removed once) */
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
        if (fd < 0 || write(fd, text.data, text.len) != (ssize_t)text.len || close(fd) < 0 || rename(tmp, path) < 0) {
                log_warning("writing %s: %m", path);
                if (fd >= 0)
                        (void)unlink(tmp);
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

static char *expand(Engine *e, const char *template, const char *stream, Error *err)
{
        char *url = NULL;
        if (agent_config_expand_url(template, e->basearch, e->config->group, e->platform, stream ? stream : "", &url,
                                    err) < 0)
                return NULL;
        return url;
}

/* Fills *in with the CHECKED result. The strings it points to live in *keep (freed by the caller). */
static void do_check(Engine *e, bool force, AgentInput *in, char **keep_version, char **keep_payload,
                     char **keep_reason)
{
        _cleanup_free_ char *base = NULL;
        _cleanup_strv_free_ char **deny = NULL;
        Identity id = {};
        OsStatus st = {};
        HttpResponse resp = {};
        Graph *g = NULL;
        TargetChoice choice;
        Buf url = BUF_INIT(3 * AGENT_CONFIG_MAX_URL);
        Error err = {};
        int r;

        in->check = AGENT_CHECK_ERROR;
        if (load_status(e, &st) < 0) {
                check_error(e, AGENT_CHECK_ERROR_IDENTITY, "cannot read the booted deployment");
                return;
        }
        base = expand(e, e->config->cincinnati_base_url, st.booted->stream, &err);
        if (!base) {
                check_error(e, AGENT_CHECK_ERROR_IDENTITY, "cincinnati.base_url: %s", err.message);
                goto out;
        }
        memcpy(id.node_uuid, e->node_uuid, sizeof id.node_uuid);
        id.group = e->config->group;
        id.basearch = e->basearch;
        id.platform = e->platform;
        id.stream = st.booted->stream;
        id.os_version = st.booted->version;
        id.os_checksum = st.booted->checksum;
        if (force) { /* update-now: ask as the most eager node */
                id.has_rollout_wariness = true;
                id.rollout_wariness = 0.0;
        } else if (e->config->has_rollout_wariness) {
                id.has_rollout_wariness = true;
                id.rollout_wariness = e->config->rollout_wariness;
        }
        r = graph_request_url(base, &id, &url);
        if (r >= 0)
                r = buf_putc(&url, 0);
        if (r < 0) {
                check_error(e, AGENT_CHECK_ERROR_IDENTITY, "cannot build the graph request URL from %s", base);
                goto out;
        }
        log_debug("GET %s", url.data);
        r = http_client_request(e->http, "GET", url.data, (const char *const[]){"Accept: application/json", NULL},
                                NULL, 0, &resp, &err);
        if (r < 0) {
                check_error(e, AGENT_CHECK_ERROR_CONNECTION, "%s: %s", base, err.message);
                goto out;
        }
        if (resp.status != 200) {
                char body[128];
                agent_text_copy(body, sizeof body, resp.body);
                check_error(e, AGENT_CHECK_ERROR_HTTP_STATUS, "%s answered HTTP %ld: %s", base, resp.status, body);
                goto out;
        }
        r = graph_parse_json(resp.body, resp.body_len, &g, &err);
        if (r < 0) {
                check_error(e, AGENT_CHECK_ERROR_GRAPH_PARSE, "%s sent a bad graph: %s", base, err.message);
                goto out;
        }
        r = build_denylist(e, &st, &deny);
        if (r >= 0)
                r = agent_choose_target(g, st.booted->checksum, deny, e->config->allow_downgrade, &choice);
        if (r < 0) {
                check_error(e, AGENT_CHECK_ERROR_IDENTITY, "choosing a target: %s", strerror(-r));
                goto out;
        }

        pthread_mutex_lock(&e->lock);
        e->snap.graph_nodes = g->n_nodes;
        e->snap.graph_edges = g->n_edges;
        e->snap.ignored_targets = choice.n_ignored;
        e->snap.last_refresh_usec = now_usec();
        pthread_mutex_unlock(&e->lock);

        update_motd(e, choice.decision != TARGET_NOT_IN_GRAPH && choice.deadend, choice.deadend_reason);
        switch (choice.decision) {
        case TARGET_NOT_IN_GRAPH:
                log_warning("booted release %s (%s) is not in the update graph; not updating",
                            st.booted->version ? st.booted->version : "?", st.booted->checksum);
                set_check_result(e, "booted release not in the graph");
                in->check = AGENT_CHECK_NO_UPDATE;
                break;
        case TARGET_DOWNGRADE_REFUSED:
                log_warning("refusing downgrade to %s (allow_downgrade is false)", g->nodes[choice.target].version);
                set_check_result(e, "downgrade to %s refused", g->nodes[choice.target].version);
                in->check = AGENT_CHECK_NO_UPDATE;
                break;
        case TARGET_NO_UPDATE:
                if (choice.deadend) {
                        char reason[AGENT_REASON_MAX + 1];
                        agent_text_copy(reason, sizeof reason, choice.deadend_reason);
                        *keep_reason = strdup(reason);
                        in->reason = *keep_reason;
                        in->check = AGENT_CHECK_DEAD_END;
                        log_warning("booted release is a dead-end: %s", reason);
                        set_check_result(e, "dead-end: %s", reason);
                } else {
                        in->check = AGENT_CHECK_NO_UPDATE;
                        set_check_result(e, "no update%s", choice.n_ignored ? " (targets denylisted)" : "");
                }
                break;
        case TARGET_UPDATE: {
                const GraphNode *t = &g->nodes[choice.target];
                if (!t->version || !t->payload || strlen(t->version) > AGENT_VERSION_MAX ||
                    strlen(t->payload) > AGENT_PAYLOAD_MAX || !*t->version || !*t->payload) {
                        check_error(e, AGENT_CHECK_ERROR_GRAPH_PARSE, "target release has a bad version or payload");
                        break;
                }
                char v[AGENT_VERSION_MAX + 1], p[AGENT_PAYLOAD_MAX + 1];
                agent_text_copy(v, sizeof v, t->version);
                agent_text_copy(p, sizeof p, t->payload);
                *keep_version = strdup(v);
                *keep_payload = strdup(p);
                if (!*keep_version || !*keep_payload) {
                        check_error(e, AGENT_CHECK_ERROR_IDENTITY, "out of memory");
                        break;
                }
                in->check = AGENT_CHECK_UPDATE;
                in->version = *keep_version;
                in->payload = *keep_payload;
                log_info("update available: %s (%s)", v, p);
                set_check_result(e, "update available: %s", v);
                break;
        }
        }
out:
        if (g)
                graph_free(g);
        http_response_done(&resp);
        buf_free(&url);
        os_status_done(&st);
}

/* ---- the fleet lock ---- */

/* POST base/v1/<api>. Returns 1 on 200, 0 when refused or failed (counted and recorded). */
static int fleet_lock(Engine *e, AgentLockApi api)
{
        const char *path = api == AGENT_LOCK_API_PRE_REBOOT ? "v1/pre-reboot" : "v1/steady-state";
        _cleanup_free_ char *base = NULL;
        _cleanup_json_ json_t *reply = NULL;
        HttpResponse resp = {};
        Buf url = BUF_INIT(2 * AGENT_CONFIG_MAX_URL), body = BUF_INIT(4096);
        Error err = {};
        char detail[AGENT_TEXT_MAX];
        int r, ok = 0;

        pthread_mutex_lock(&e->lock);
        e->snap.lock_requests[api]++;
        const char *stream = e->snap.stream;
        base = expand(e, e->config->fleet_lock_base_url, stream, &err);
        pthread_mutex_unlock(&e->lock);
        if (!base) {
                snprintf(detail, sizeof detail, "updates.fleet_lock.base_url: %s", err.message);
                goto fail_kind;
        }
        r = agent_url_join(base, path, &url);
        if (r >= 0)
                r = buf_putc(&url, 0);
        /* Zincati's body: pretty JSON, no Content-Type */
        if (r >= 0)
                r = buf_printf(&body, "{\n  \"client_params\": {\n    \"id\": \"%s\",\n    \"group\": \"%s\"\n  }\n}",
                               e->node_uuid, e->config->group);
        if (r < 0) {
                snprintf(detail, sizeof detail, "cannot build the request to %s", base);
                goto fail_kind;
        }
        r = http_client_request(e->http, "POST", url.data, (const char *const[]){"fleet-lock-protocol: true", NULL},
                                body.data, body.len, &resp, &err);
        if (r < 0) {
                snprintf(detail, sizeof detail, "%s: %s", url.data, err.message);
                pthread_mutex_lock(&e->lock);
                agent_snapshot_count_lock_error(&e->snap, api, "connection");
                pthread_mutex_unlock(&e->lock);
                log_warning("fleet lock %s: %s", path, detail);
                set_error(e, "fleet lock %s: %s", path, detail);
                set_lock_state(e, AGENT_LOCK_ERROR, detail);
                goto out;
        }
        if (resp.status == 200) {
                ok = 1;
                set_lock_state(e, api == AGENT_LOCK_API_PRE_REBOOT ? AGENT_LOCK_HELD : AGENT_LOCK_RELEASED, "");
                goto out;
        }
        {
                /* {"kind": "...", "value": "..."} — anything else is garbage, reported as such */
                const char *kind = NULL, *value = NULL;
                Error jerr = {};
                if (json_parse_strict(resp.body, resp.body_len, &reply, &jerr) >= 0 && json_is_object(reply)) {
                        (void)json_member_string(reply, "kind", false, "reply", &kind, &jerr);
                        (void)json_member_string(reply, "value", false, "reply", &value, &jerr);
                }
                char k[64], v[256];
                agent_text_copy(k, sizeof k, kind ? kind : "");
                agent_text_copy(v, sizeof v, value ? value : "");
                snprintf(detail, sizeof detail, "HTTP %ld%s%s%s%s", resp.status, kind ? " " : "", k, value ? ": " : "", v);
                pthread_mutex_lock(&e->lock);
                agent_snapshot_count_lock_error(&e->snap, api, kind ? k : "http_status");
                pthread_mutex_unlock(&e->lock);
                if (resp.status == 423)
                        log_info("fleet lock %s refused: %s", path, detail);
                else {
                        log_warning("fleet lock %s failed: %s", path, detail);
                        set_error(e, "fleet lock %s: %s", path, detail);
                }
                set_lock_state(e, resp.status == 423 ? AGENT_LOCK_DENIED : AGENT_LOCK_ERROR, detail);
        }
        goto out;
fail_kind:
        pthread_mutex_lock(&e->lock);
        agent_snapshot_count_lock_error(&e->snap, api, "config");
        pthread_mutex_unlock(&e->lock);
        log_warning("fleet lock %s: %s", path, detail);
        set_error(e, "fleet lock %s: %s", path, detail);
        set_lock_state(e, AGENT_LOCK_ERROR, detail);
out:
        http_response_done(&resp);
        buf_free(&url);
        buf_free(&body);
        return ok;
}

/* ---- the actions ---- */

/* The point where health checks plug in (a later issue): steady state is reported only for a booted
 * deployment the backend can see. */
static bool booted_healthy(Engine *e)
{
        OsStatus st = {};
        if (load_status(e, &st) < 0)
                return false;
        os_status_done(&st);
        return true;
}

static bool do_report_steady(Engine *e)
{
        if (!booted_healthy(e))
                return false;
        if (!e->uses_lock)
                return true;
        return fleet_lock(e, AGENT_LOCK_API_STEADY_STATE) == 1;
}

static void on_progress(const OsProgress *p, void *userdata)
{
        Engine *e = userdata;
        pthread_mutex_lock(&e->lock);
        e->snap.download_bytes = p->bytes_transferred;
        e->snap.download_objects_fetched = p->objects_fetched;
        e->snap.download_objects_requested = p->objects_requested;
        pthread_mutex_unlock(&e->lock);
}

static bool do_stage(Engine *e, const AgentRelease *rel)
{
        OsStatus st = {};
        Error err = {};
        int r;

        log_info("staging %s (%s)", rel->version, rel->payload);
        pthread_mutex_lock(&e->lock);
        e->snap.downloading = true;
        agent_text_copy(e->snap.download_version, sizeof e->snap.download_version, rel->version);
        e->snap.download_bytes = e->snap.download_objects_fetched = e->snap.download_objects_requested = 0;
        pthread_mutex_unlock(&e->lock);

        r = os_backend_stage(e->backend, rel->payload, rel->version, e->config->allow_downgrade, on_progress, e, &err);

        pthread_mutex_lock(&e->lock);
        e->snap.downloading = false;
        e->snap.download_bytes_total += e->snap.download_bytes;
        e->snap.download_objects_total += e->snap.download_objects_fetched;
        pthread_mutex_unlock(&e->lock);
        if (r == -EALREADY) {
                log_warning("release %s is the booted one; nothing to stage", rel->version);
                r = 0; /* nothing to do is not a failure, but it will not be finalized */
        }
        if (r < 0) {
                log_error("staging %s failed: %s", rel->version, err.message);
                set_error(e, "staging %s: %s", rel->version, err.message);
        } else
                log_info("staged %s", rel->version);
        if (load_status(e, &st) >= 0)
                os_status_done(&st);
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
                 "\r\nupkeep-agent: this host will reboot into %s in %" PRId64 " seconds or less to apply an update.\r\n",
                 a->release ? a->release->version : "a new release", a->reboot_in_sec);
        n = tty_broadcast(e->ttys, msg);
        log_notice("reboot postponed for logged-in users (warned %d terminals)", n);
}

static bool do_finalize(Engine *e, const AgentRelease *rel)
{
        Error err = {};
        int r;

        if (!(e->finalized_pending_reboot && streq(e->finalized_payload, rel->payload))) {
                log_notice("finalizing %s and rebooting", rel->version);
                r = os_backend_finalize(e->backend, rel->payload, &err);
                if (r < 0) {
                        log_error("finalizing %s failed: %s", rel->version, err.message);
                        set_error(e, "finalizing %s: %s", rel->version, err.message);
                        return false;
                }
                if (os_backend_finalize_reboots(e->backend))
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
        AgentInput in = {.kind = AGENT_INPUT_TICK};
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
                        log_warning("abandoning %s after %d failed attempts to stage it", a.abandoned->version,
                                    AGENT_MAX_STAGE_ATTEMPTS);
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
                        struct timespec ts = {.tv_sec = next / 1000000, .tv_nsec = (next % 1000000) * 1000};
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
        HttpClientOptions ho = {.connect_timeout_ms = 10000, .total_timeout_ms = 60000, .max_body_bytes = GRAPH_MAX_BYTES};
        Engine *e;
        int r;

        e = calloc(1, sizeof *e);
        if (!e)
                return error_setf(err, -ENOMEM, "out of memory");
        e->config = c;
        e->backend = s->backend;
        e->tz = s->tz;
        snprintf(e->node_uuid, sizeof e->node_uuid, "%s", s->node_uuid);
        e->basearch = strdup(s->basearch);
        e->platform = strdup(s->platform ? s->platform : "");
        pthread_condattr_t ca;
        pthread_mutex_init(&e->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&e->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (!e->basearch || !e->platform) {
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
        r = http_client_new(&ho, &e->http);
        if (r < 0) {
                engine_free(e);
                return error_setf(err, r, "cannot create the HTTP client");
        }
        r = agent_machine_init(&e->machine,
                               &(AgentMachineConfig){.updates_enabled = c->updates_enabled,
                                                     .steady_interval_usec = (int64_t)c->steady_interval_secs * 1000000},
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
                 e->fstrategy == FINALIZE_STRATEGY_PERIODIC_FLEET_LOCK ? "fleet_lock+periodic"
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
        http_client_free(e->http);
        strv_free(e->failed);
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
