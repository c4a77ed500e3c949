/* agent-status.c — upkeep-agent's snapshot rendered for operators: the status socket's JSON, the
 * Prometheus exposition, the readable `upkeep status` report, and the status request parser. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "agent-status.h"
#include "health-machine.h"
#include "json-util.h"
#include "macros.h"
#include "metrics.h"
#include "strutil.h"

static const char *const check_error_names[_AGENT_CHECK_ERROR_MAX] = {
        [AGENT_CHECK_ERROR_CONNECTION] = "connection",
        [AGENT_CHECK_ERROR_HTTP_STATUS] = "http_status",
        [AGENT_CHECK_ERROR_GRAPH_PARSE] = "graph_parse",
        [AGENT_CHECK_ERROR_IDENTITY] = "identity",
};

static const char *const lock_api_names[_AGENT_LOCK_API_MAX] = {
        [AGENT_LOCK_API_PRE_REBOOT] = "pre-reboot", /* Zincati's label values */
        [AGENT_LOCK_API_STEADY_STATE] = "steady-state",
};

static const char *const lock_state_names[_AGENT_LOCK_STATE_MAX] = {
        [AGENT_LOCK_UNUSED] = "unused",     [AGENT_LOCK_UNKNOWN] = "unknown", [AGENT_LOCK_HELD] = "held",
        [AGENT_LOCK_RELEASED] = "released", [AGENT_LOCK_DENIED] = "denied",   [AGENT_LOCK_ERROR] = "error",
};

const char *agent_check_error_name(AgentCheckErrorKind k)
{
        return (unsigned)k < _AGENT_CHECK_ERROR_MAX ? check_error_names[k] : NULL;
}

const char *agent_check_error_metric_kind(AgentCheckErrorKind k)
{
        static const char *const kinds[_AGENT_CHECK_ERROR_MAX] = {
                [AGENT_CHECK_ERROR_CONNECTION] = "client_failed_request",
                [AGENT_CHECK_ERROR_HTTP_STATUS] = "generic_http",
                [AGENT_CHECK_ERROR_GRAPH_PARSE] = "client_failed_json_decoding",
                [AGENT_CHECK_ERROR_IDENTITY] = "identity", /* Upkeep's: Zincati does not get that far */
        };
        return (unsigned)k < _AGENT_CHECK_ERROR_MAX ? kinds[k] : "identity";
}

const char *agent_lock_api_name(AgentLockApi a)
{
        return (unsigned)a < _AGENT_LOCK_API_MAX ? lock_api_names[a] : NULL;
}

const char *agent_lock_state_name(AgentLockState s)
{
        return (unsigned)s < _AGENT_LOCK_STATE_MAX ? lock_state_names[s] : NULL;
}

void agent_snapshot_init(AgentSnapshot *s)
{
        memset(s, 0, sizeof *s);
        s->next_window_start = s->next_window_end = -1;
        s->last_state_change_usec = -1;
        s->last_check_usec = s->last_refresh_usec = s->last_tick_usec = s->last_error_usec =
                s->lock_changed_usec = -1;
}

void agent_text_copy(char *dst, size_t cap, const char *s)
{
        (void)text_clean(dst, cap, s ? s : "", s ? strlen(s) : 0, 0);
}

/* Counts kind (lower-cased, [a-z0-9_] kept, the rest '_'; "" is "unknown") for api in table t of *n
 * entries; beyond the cap the last slot becomes "other". */
static void count_error(AgentLockErrorCount *t, size_t *n_entries, AgentLockApi api, const char *kind)
{
        char k[sizeof t[0].kind];
        size_t n = 0;

        for (const char *p = kind ? kind : ""; *p && n + 1 < sizeof k; p++) {
                char c = *p;
                if (c >= 'A' && c <= 'Z')
                        c = (char)(c - 'A' + 'a');
                k[n++] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') ? c : '_';
        }
        k[n] = 0;
        if (n == 0)
                strcpy(k, "unknown");
        for (size_t i = 0; i < *n_entries; i++)
                if (t[i].api == api && streq(t[i].kind, k)) {
                        t[i].count++;
                        return;
                }
        if (*n_entries == AGENT_SNAPSHOT_MAX_LOCK_ERRORS) {
                AgentLockErrorCount *o = &t[AGENT_SNAPSHOT_MAX_LOCK_ERRORS - 1];
                if (!streq(o->kind, "other")) {
                        strcpy(o->kind, "other");
                        o->api = api;
                }
                o->count++;
                return;
        }
        t[*n_entries].api = api;
        strcpy(t[*n_entries].kind, k);
        t[*n_entries].count = 1;
        (*n_entries)++;
}

void agent_snapshot_count_lock_error(AgentSnapshot *s, AgentLockApi api, const char *kind)
{
        count_error(s->lock_errors, &s->n_lock_errors, api, kind);
}

void agent_snapshot_count_check_error(AgentSnapshot *s, const char *kind)
{
        count_error(s->check_error_kinds, &s->n_check_error_kinds, 0, kind);
}

/* ISO 8601 UTC, or NULL for "never". */
static json_t *json_time_usec(int64_t usec)
{
        char buf[32];
        struct tm tm;
        time_t t;

        if (usec < 0)
                return json_null();
        t = (time_t)(usec / 1000000);
        if (!gmtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return json_null();
        return json_string(buf);
}

static json_t *json_time_sec(int64_t sec)
{
        if (sec < 0 || sec == INT64_MAX || sec > INT64_MAX / 1000000)
                return json_null();
        return json_time_usec(sec * 1000000);
}

static json_t *deployment_json(const AgentDeploymentInfo *d)
{
        if (!d->present)
                return json_null();
        return json_pack("{s:s?,s:s}", "version", d->version[0] ? d->version : NULL, "checksum",
                         d->checksum);
}

/* status.health: the assessment of the booted release */
static json_t *health_json(const AgentHealthInfo *h)
{
        json_t *checks = json_array();

        for (size_t i = 0; checks && i < h->n_checks; i++) {
                const AgentHealthCheckInfo *c = &h->checks[i];
                json_array_append_new(checks, json_pack("{s:s,s:b,s:b,s:I,s:s}", "name", c->name, "required",
                                                        c->required, "ok", c->ok, "duration_ms",
                                                        (json_int_t)c->duration_ms, "output", c->output));
        }
        return json_pack("{s:s,s:s,s:I,s:s,s:s,s:b,s:o}", "state",
                         !h->enabled   ? "disabled"
                         : h->state[0] ? h->state
                                       : "idle",
                         "booted_version", h->booted_version, "attempts_left", (json_int_t)h->attempts_left,
                         "failed", h->failed, "reason", h->reason, "manual_intervention",
                         h->manual_intervention, "checks", checks ? checks : json_array());
}

/* status.bad_releases: the releases that failed here, oldest first */
static json_t *bad_releases_json(const AgentHealthInfo *h)
{
        json_t *a = json_array();

        for (size_t i = 0; a && i < h->n_bad_releases; i++) {
                const AgentBadReleaseInfo *b = &h->bad_releases[i];
                json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:I}", "version", b->version,
                                                   "checksum", b->checksum, "outcome", b->outcome, "reason",
                                                   b->reason, "time", (json_int_t)b->time));
        }
        return a ? a : json_array();
}

/* json_pack with "o" steals references, so the tree is built in one go; NULL on failure. */
json_t *agent_status_to_json(const AgentSnapshot *s)
{
        json_t *node, *strategy, *lock, *deps, *check, *err, *dl, *dead, *target, *next = json_null();

        if (s->has_calendar && s->next_window_start >= 0)
                next = json_pack("{s:o,s:o}", "start", json_time_sec(s->next_window_start), "end",
                                 json_time_sec(s->next_window_end));
        node = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "uuid", s->node_uuid, "group", s->group, "basearch",
                         s->basearch, "platform", s->platform, "stream", s->stream, "rollout_wariness",
                         s->has_rollout_wariness ? json_real(s->rollout_wariness) : json_null());
        strategy = json_pack("{s:s,s:b,s:o,s:o,s:o,s:o}", "name", s->strategy, "updates_enabled",
                             s->updates_enabled, "windows",
                             s->has_calendar ? json_string(s->windows) : json_null(), "time_zone",
                             s->has_calendar ? json_string(s->time_zone) : json_null(), "in_window",
                             s->has_calendar ? json_boolean(s->in_window) : json_null(), "next_window",
                             next ? next : json_null());
        lock = json_pack("{s:s,s:s,s:o}", "state", agent_lock_state_name(s->lock_state), "detail",
                         s->lock_detail, "since", json_time_usec(s->lock_changed_usec));
        deps = json_pack("{s:s,s:o,s:o,s:o}", "backend", s->os_backend, "booted",
                         deployment_json(&s->booted), "staged", deployment_json(&s->staged), "rollback",
                         deployment_json(&s->rollback));
        check = json_pack("{s:o,s:s,s:o}", "time", json_time_usec(s->last_check_usec), "result",
                          s->last_check_result, "last_success", json_time_usec(s->last_refresh_usec));
        err = s->last_error_usec >= 0 ? json_pack("{s:o,s:s}", "time", json_time_usec(s->last_error_usec),
                                                  "message", s->last_error)
                                      : json_null();
        dl = json_pack("{s:b,s:s?,s:I,s:I,s:I}", "active", s->downloading, "version",
                       s->download_version[0] ? s->download_version : NULL, "bytes",
                       (json_int_t)s->download_bytes, "objects_fetched",
                       (json_int_t)s->download_objects_fetched, "objects_requested",
                       (json_int_t)s->download_objects_requested);
        dead = s->dead_end ? json_pack("{s:s}", "reason", s->dead_end_reason) : json_null();
        target = s->has_target
                         ? json_pack("{s:s,s:s}", "version", s->target.version, "payload", s->target.payload)
                         : json_null();
        return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "state",
                         agent_state_name(s->state) ? agent_state_name(s->state) : "unknown", "status_text",
                         s->status_text, "since", json_time_usec(s->last_state_change_usec), "node", node,
                         "strategy", strategy, "lock", lock, "deployments", deps, "last_check", check,
                         "last_error", err, "download", dl, "dead_end", dead, "target", target, "started",
                         json_time_usec(s->started_usec), "health", health_json(&s->health), "bad_releases",
                         bad_releases_json(&s->health));
}

#define M(name, type, help)                                                                                 \
        do {                                                                                                \
                r = metrics_header(out, "upkeep_agent_" name, type, help);                                  \
                if (r < 0)                                                                                  \
                        return r;                                                                           \
        } while (0)
#define V(name, labels, value)                                                                              \
        do {                                                                                                \
                r = metrics_sample(out, "upkeep_agent_" name, labels, value);                               \
                if (r < 0)                                                                                  \
                        return r;                                                                           \
        } while (0)
#define U(name, labels, value)                                                                              \
        do {                                                                                                \
                r = metrics_sample_u64(out, "upkeep_agent_" name, labels, value);                           \
                if (r < 0)                                                                                  \
                        return r;                                                                           \
        } while (0)

/* The update checks, the graph and this node's identity. */
static int metrics_check(const AgentSnapshot *s, Buf *out)
{
        int r;

        M("cincinnati_update_checks_total", "counter", "Update checks against the graph server.");
        U("cincinnati_update_checks_total", NULL, s->checks);
        M("cincinnati_update_checks_errors_total", "counter", "Failed update checks, by Zincati's kind.");
        for (size_t i = 0; i < s->n_check_error_kinds; i++)
                U("cincinnati_update_checks_errors_total",
                  ((const char *[]){ "kind", s->check_error_kinds[i].kind, NULL }),
                  s->check_error_kinds[i].count);
        M("cincinnati_booted_release_is_deadend", "gauge", "Whether the booted release is a dead-end.");
        U("cincinnati_booted_release_is_deadend", NULL, s->dead_end ? 1 : 0);
        M("cincinnati_graph_nodes_count", "gauge", "Nodes of the last graph received.");
        U("cincinnati_graph_nodes_count", NULL, s->graph_nodes);
        M("cincinnati_graph_edges_count", "gauge", "Edges of the last graph received.");
        U("cincinnati_graph_edges_count", NULL, s->graph_edges);
        M("cincinnati_ignored_update_targets", "gauge", "Update targets ignored by the local denylist.");
        U("cincinnati_ignored_update_targets", NULL, s->ignored_targets);
        M("identity_os_info", "gauge", "The booted OS.");
        U("identity_os_info",
          ((const char *[]){ "os_version", s->booted.version, "basearch", s->basearch, "stream", s->stream,
                             "platform", s->platform, NULL }),
          1);
        M("identity_rollout_wariness", "gauge",
          "Configured rollout wariness (NaN when the server decides).");
        V("identity_rollout_wariness", NULL, s->has_rollout_wariness ? s->rollout_wariness : NAN);
        return 0;
}

/* Staging and finalizing, the fleet lock, the strategy. */
static int metrics_updates(const AgentSnapshot *s, Buf *out)
{
        static const char *const strategies[] = { "immediate", "periodic", "fleet_lock",
                                                  "fleet_lock+periodic" };
        int r;

        M("os_deploy_attempts_total", "counter", "Attempts to stage a release.");
        U("os_deploy_attempts_total", NULL, s->deploy_attempts);
        M("os_deploy_failures_total", "counter", "Failed attempts to stage a release.");
        U("os_deploy_failures_total", NULL, s->deploy_failures);
        M("os_finalize_attempts_total", "counter", "Attempts to finalize a staged release.");
        U("os_finalize_attempts_total", NULL, s->finalize_attempts);
        M("os_finalize_failures_total", "counter", "Failed attempts to finalize a staged release.");
        U("os_finalize_failures_total", NULL, s->finalize_failures);
        M("finalization_successes", "counter", "Staged releases finalized.");
        U("finalization_successes", NULL,
          s->finalize_attempts > s->finalize_failures ? s->finalize_attempts - s->finalize_failures : 0);
        M("postponed_finalizations_total", "counter", "Finalizations postponed for logged-in users.");
        U("postponed_finalizations_total", NULL, s->postponed_finalizations);
        M("finalization_blocked_count", "counter",
          "Finalizations blocked for reasons unrelated to the update strategy (Zincati's).");
        U("finalization_blocked_count", ((const char *[]){ "reason", "active_usersessions", NULL }),
          s->postponed_finalizations);
        M("strategy_can_finalize_responses", "counter",
          "Answers of the update strategy when asked for finalization consent (Zincati's).");
        U("strategy_can_finalize_responses", ((const char *[]){ "response", "allow", NULL }),
          s->can_finalize_allow);
        U("strategy_can_finalize_responses", ((const char *[]){ "response", "deny", NULL }),
          s->can_finalize_deny);
        U("strategy_can_finalize_responses", ((const char *[]){ "response", "error", NULL }),
          s->can_finalize_error);
        M("strategy_fleet_lock_requests_total", "counter", "FleetLock requests, by API.");
        for (int a = 0; a < _AGENT_LOCK_API_MAX; a++)
                U("strategy_fleet_lock_requests_total", ((const char *[]){ "api", lock_api_names[a], NULL }),
                  s->lock_requests[a]);
        M("strategy_fleet_lock_errors_total", "counter", "FleetLock requests that failed, by API and kind.");
        for (size_t i = 0; i < s->n_lock_errors; i++)
                U("strategy_fleet_lock_errors_total",
                  ((const char *[]){ "api", lock_api_names[s->lock_errors[i].api], "kind",
                                     s->lock_errors[i].kind, NULL }),
                  s->lock_errors[i].count);
        M("last_refresh_timestamp", "gauge",
          "When the agent last ran its update logic, whatever the outcome (seconds since the epoch).");
        V("last_refresh_timestamp", NULL,
          s->last_tick_usec >= 0 ? (double)(s->last_tick_usec / 1000000) : 0);
        M("latest_state_change_timestamp", "gauge",
          "When the agent last changed state (seconds since the epoch).");
        V("latest_state_change_timestamp", NULL,
          s->last_state_change_usec >= 0 ? (double)(s->last_state_change_usec / 1000000) : 0);
        M("updates_enabled", "gauge", "Whether auto-updates are enabled.");
        U("updates_enabled", NULL, s->updates_enabled ? 1 : 0);
        M("updates_allow_downgrade", "gauge", "Whether downgrades are allowed.");
        U("updates_allow_downgrade", NULL, s->allow_downgrade ? 1 : 0);
        M("updates_strategy_mode", "gauge", "The update strategy in force.");
        for (size_t i = 0; i < ELEMENTSOF(strategies); i++)
                U("updates_strategy_mode", ((const char *[]){ "strategy", strategies[i], NULL }),
                  streq(s->strategy, strategies[i]) ? 1 : 0);
        M("updates_strategy_periodic_schedule_length_minutes", "gauge",
          "Length of the weekly maintenance windows, in minutes.");
        U("updates_strategy_periodic_schedule_length_minutes", NULL, (uint64_t)s->schedule_minutes);
        return 0;
}

/* The state, the downloads, the lock held. */
static int metrics_state(const AgentSnapshot *s, Buf *out)
{
        int r;

        M("state", "gauge", "The update state machine's current state.");
        for (int st = 0; st < _AGENT_STATE_MAX; st++)
                U("state", ((const char *[]){ "state", agent_state_name((AgentState)st), NULL }),
                  s->state == (AgentState)st);
        M("download_active", "gauge", "Whether a release is being downloaded.");
        U("download_active", NULL, s->downloading ? 1 : 0);
        M("download_bytes", "gauge", "Bytes downloaded by the current (or last) stage.");
        U("download_bytes", NULL, s->download_bytes);
        M("download_objects_fetched", "gauge", "Objects fetched by the current (or last) stage.");
        U("download_objects_fetched", NULL, s->download_objects_fetched);
        M("download_objects_requested", "gauge",
          "Objects known to be needed by the current (or last) stage.");
        U("download_objects_requested", NULL, s->download_objects_requested);
        M("download_bytes_total", "counter", "Bytes downloaded since the agent started.");
        U("download_bytes_total", NULL, s->download_bytes_total);
        M("download_objects_total", "counter", "Objects fetched since the agent started.");
        U("download_objects_total", NULL, s->download_objects_total);
        M("fleet_lock_held", "gauge", "Whether this node holds its fleet lock slot (as last told).");
        U("fleet_lock_held", NULL, s->lock_state == AGENT_LOCK_HELD ? 1 : 0);
        return 0;
}

/* The boot assessment and the bad releases. */
static int metrics_health(const AgentSnapshot *s, Buf *out)
{
        const AgentHealthInfo *h = &s->health;
        const char *cur = !h->enabled ? "disabled" : h->state[0] ? h->state : "idle";
        int r;

        M("health_state", "gauge",
          "The boot assessment's state (\"disabled\" when [health] enabled = false).");
        U("health_state", ((const char *[]){ "state", "disabled", NULL }), streq(cur, "disabled"));
        for (HealthState st = 0; st < _HEALTH_STATE_MAX; st++)
                U("health_state", ((const char *[]){ "state", health_state_name(st), NULL }),
                  streq(cur, health_state_name(st)));
        M("health_checks_failed", "gauge", "Health checks that failed in the last run.");
        U("health_checks_failed", NULL, h->checks_failed);
        M("rollbacks_total", "counter", "Rollbacks and boot fallbacks recorded on this node.");
        U("rollbacks_total", NULL, h->rollbacks_total);
        M("manual_intervention", "gauge", "Whether the node stopped updating for a human.");
        U("manual_intervention", NULL, h->manual_intervention ? 1 : 0);
        M("bad_releases", "gauge", "Releases recorded as bad on this node (never staged again).");
        U("bad_releases", NULL, h->n_bad_releases);
        if (!s->reports.enabled)
                return 0;
        M("reports_queued", "gauge", "Outcome reports waiting to be sent (kept across reboots).");
        U("reports_queued", NULL, s->reports.queued);
        M("reports_sent_total", "counter", "Outcome reports the server accepted.");
        U("reports_sent_total", NULL, s->reports.sent_total);
        M("reports_dropped_total", "counter", "Outcome reports refused by the server or unreadable.");
        U("reports_dropped_total", NULL, s->reports.dropped_total);
        M("reports_failures_total", "counter", "Attempts to send an outcome report that failed.");
        U("reports_failures_total", NULL, s->reports.failures_total);
        return 0;
}

int agent_metrics_write(const AgentSnapshot *s, Buf *out)
{
        int r = metrics_check(s, out);

        if (r >= 0)
                r = metrics_updates(s, out);
        if (r >= 0)
                r = metrics_state(s, out);
        if (r >= 0)
                r = metrics_health(s, out);
        return r;
}

/* ---- the readable report ---- */

static const char *str_or_dash(const json_t *obj, const char *key)
{
        const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        return s && *s ? s : "-";
}

/* A payload as shown: an image reference by the start of its digest, a checksum as is (cut by the caller).
 */
static const char *short_payload(const char *p)
{
        const char *at = strchr(p, '@');
        const char *colon = at ? strchr(at, ':') : NULL;
        return colon ? colon + 1 : p;
}

static int put_field(Buf *out, const char *label, const char *value)
{
        return buf_printf(out, "%-15s %s\n", label, value);
}

static int put_deployment(Buf *out, const char *label, const json_t *d)
{
        char line[AGENT_VERSION_MAX + AGENT_PAYLOAD_MAX + 8];

        if (!json_is_object(d))
                return put_field(out, label, "-");
        snprintf(line, sizeof line, "%s (%.12s)", str_or_dash(d, "version"), str_or_dash(d, "checksum"));
        return put_field(out, label, line);
}

#define F(label, value)                                                                                     \
        do {                                                                                                \
                if (r >= 0)                                                                                 \
                        r = put_field(out, label, value);                                                   \
        } while (0)

/* The strategy, its windows and the fleet lock. */
static int put_strategy(Buf *out, const json_t *strat, const json_t *lock)
{
        const json_t *en = json_object_get(strat, "updates_enabled");
        const char *ls = str_or_dash(lock, "state"), *detail = str_or_dash(lock, "detail");
        char line[1024];
        int r = 0;

        snprintf(line, sizeof line, "%s%s", str_or_dash(strat, "name"),
                 json_is_false(en) ? " (updates disabled)" : "");
        F("Strategy:", line);
        if (json_is_string(json_object_get(strat, "windows"))) {
                const json_t *next = json_object_get(strat, "next_window");
                const json_t *inw = json_object_get(strat, "in_window");
                snprintf(line, sizeof line, "%s [%s]", str_or_dash(strat, "windows"),
                         str_or_dash(strat, "time_zone"));
                F("Windows:", line);
                if (json_is_true(inw))
                        snprintf(line, sizeof line, "open now, until %s", str_or_dash(next, "end"));
                else
                        snprintf(line, sizeof line, "%s", str_or_dash(next, "start"));
                F("Next window:", line);
        }
        if (!streq(ls, "unused")) {
                snprintf(line, sizeof line, "%s%s%s (since %s)", ls, streq(detail, "-") ? "" : ": ",
                         streq(detail, "-") ? "" : detail, str_or_dash(lock, "since"));
                F("Fleet lock:", line);
        }
        return r;
}

/* The current or last download, when it moved bytes. */
static int put_download(Buf *out, const json_t *dl)
{
        const json_t *b = json_object_get(dl, "bytes"), *of = json_object_get(dl, "objects_fetched"),
                     *oq = json_object_get(dl, "objects_requested");
        char line[1024];
        int r = 0;

        if (!json_is_object(dl) || !json_is_integer(b) || json_integer_value(b) <= 0)
                return 0;
        snprintf(line, sizeof line,
                 "%s%s: %" JSON_INTEGER_FORMAT " bytes, %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
                 " objects",
                 json_is_true(json_object_get(dl, "active")) ? "downloading " : "last download ",
                 str_or_dash(dl, "version"), json_integer_value(b),
                 json_is_integer(of) ? json_integer_value(of) : 0,
                 json_is_integer(oq) ? json_integer_value(oq) : 0);
        F("Download:", line);
        return r;
}

int agent_status_format(const json_t *st, Buf *out)
{
        const json_t *node = json_object_get(st, "node"), *strat = json_object_get(st, "strategy"),
                     *lock = json_object_get(st, "lock"), *deps = json_object_get(st, "deployments"),
                     *check = json_object_get(st, "last_check"), *err = json_object_get(st, "last_error"),
                     *dl = json_object_get(st, "download"), *dead = json_object_get(st, "dead_end"),
                     *target = json_object_get(st, "target");
        char line[1024];
        size_t start = out->len;
        int r = 0;

        if (!json_is_object(st))
                return -EINVAL;
        snprintf(line, sizeof line, "%s (%s)", str_or_dash(st, "state"), str_or_dash(st, "status_text"));
        F("State:", line);
        snprintf(line, sizeof line, "%s, group %s, stream %s, %s", str_or_dash(node, "uuid"),
                 str_or_dash(node, "group"), str_or_dash(node, "stream"), str_or_dash(node, "basearch"));
        F("Node:", line);
        if (r >= 0)
                r = put_deployment(out, "Booted:", json_object_get(deps, "booted"));
        if (r >= 0)
                r = put_deployment(out, "Staged:", json_object_get(deps, "staged"));
        if (r >= 0)
                r = put_deployment(out, "Rollback:", json_object_get(deps, "rollback"));
        if (json_is_object(target)) {
                snprintf(line, sizeof line, "%s (%.12s)", str_or_dash(target, "version"),
                         short_payload(str_or_dash(target, "payload")));
                F("Target:", line);
        }
        if (r >= 0)
                r = put_strategy(out, strat, lock);
        if (!json_is_string(json_object_get(check, "time")))
                snprintf(line, sizeof line, "none yet (the first check has not run)");
        else
                snprintf(line, sizeof line, "%s: %s", str_or_dash(check, "time"),
                         str_or_dash(check, "result"));
        F("Last check:", line);
        if (json_is_object(dead))
                F("Dead-end:", str_or_dash(dead, "reason"));
        if (json_is_object(err)) {
                snprintf(line, sizeof line, "%s: %s", str_or_dash(err, "time"), str_or_dash(err, "message"));
                F("Last error:", line);
        }
        if (r >= 0)
                r = put_download(out, dl);
#undef F
        if (r < 0)
                buf_truncate(out, start);
        return r;
}
