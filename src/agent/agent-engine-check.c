/* agent-engine-check.c — the engine's update check: the request to the worker (identity, denylist of
 * abandoned and bad releases, wariness), its failures counted as Zincati counts them, and the decision
 * turned into the state machine's CHECKED input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-engine-internal.h"
#include "json-util.h"
#include "log.h"
#include "strutil.h"
#include "strv.h"
#include "time-util.h"

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

/* The payloads the check skips: those abandoned here and the bad releases (logged when they change). */
static json_t *check_denylist(Engine *e)
{
        _cleanup_strv_free_ char **bad = agent_health_denylist(e->health);
        json_t *l = json_copy(e->failed);
        size_t n = strv_length(bad);

        for (size_t i = 0; l && i < n; i++)
                json_array_append_new(l, json_string(bad[i]));
        if (n != e->bad_logged && n > 0)
                log_notice("skipping %zu release(s) recorded as bad here (see upkeep status)", n);
        e->bad_logged = n;
        return l;
}

/* The check request: this node's identity, its denylist and how eager it is. */
static json_t *check_request(Engine *e, bool force)
{
        _cleanup_free_ char *cache = NULL;
        json_t *graph = json_pack(
                "{s:s,s:s,s:s,s:s,s:s,s:b,s:o}", "base_url", e->config->cincinnati_base_url, "node_uuid",
                e->node_uuid, "group", e->config->group, "basearch", e->basearch, "platform", e->platform,
                "allow_downgrade", e->config->allow_downgrade, "failed", check_denylist(e));

        /* The worker keeps the last answer there and asks with If-None-Match (graph-cache.h). */
        if (graph && e->config->state_dir && *e->config->state_dir &&
            asprintf(&cache, "%s/graph-answer.cache", e->config->state_dir) >= 0)
                json_object_set_new(graph, "cache", json_string(cache));
        if (graph && force) /* update-now: ask as the most eager node */
                json_object_set_new(graph, "rollout_wariness", json_real(0.0));
        else if (graph && e->config->has_rollout_wariness)
                json_object_set_new(graph, "rollout_wariness", json_real(e->config->rollout_wariness));
        return graph ? json_pack("{s:o}", "graph", graph) : NULL;
}

void check_keep_done(CheckKeep *k)
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
        if (agent_health_take_allowance(e->health, tv))
                log_notice("%s is recorded as bad here; staging it once, as asked", tv);
        else if (agent_health_is_bad(e->health, tv, tp)) { /* the version is bad, under another payload */
                log_warning("skipping %s (%s): this version is recorded as bad here", tv, tp);
                engine_remember_failed(e, tp);
                in->check = AGENT_CHECK_NO_UPDATE;
                set_check_result(e, "no update (%s is recorded as bad)", tv);
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
void engine_do_check(Engine *e, bool force, AgentInput *in, CheckKeep *keep)
{
        _cleanup_json_ json_t *res = NULL;
        WorkerDeployment booted;
        WorkerCheckResult c;
        WorkerErrorKind kind;
        Error err = {};
        int r;

        in->check = AGENT_CHECK_ERROR;
        r = engine_call(e, WORKER_COMMAND_CHECK, check_request(e, force), WORKER_TIMEOUT_SEC, &res, &kind,
                        &err);
        if (r < 0) {
                check_error(e, check_error_kind(kind),
                            e->failure_metric_kind[0] ? e->failure_metric_kind : NULL, "%s", err.message);
                return;
        }
        worker_check_result_parse(res, &c);
        log_debug("GET %s", c.url ?: "?");
        if (!engine_publish_deployments(e, c.deployments, &booted)) {
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
