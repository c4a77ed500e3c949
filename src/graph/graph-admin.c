/* graph-admin.c — GET /v1/rollouts and the admin pause and resume (see graph-admin.h). */
#include "graph-admin.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-build.h"
#include "graph-policy.h"
#include "json-util.h"
#include "macros.h"
#include "strutil.h"

bool graph_admin_path(const char *path)
{
        return streq(path, "/v1/rollouts") || streq(path, "/v1/admin/pause") ||
               streq(path, "/v1/admin/resume");
}

static int reply_json(HttpReply *reply, unsigned status, json_t *j)
{
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

        json_decref(j);
        if (!text)
                return -ENOMEM;
        reply->status = status;
        reply->content_type = "application/json";
        reply->owned = text;
        reply->owned_len = strlen(text);
        return 0;
}

/* One rollout's entry; pause may be NULL. */
static json_t *rollout_json(GraphReportService *reports, const char *stream, const char *release,
                            double live, double effective, const GraphPause *pause, bool in_graph)
{
        GraphPolicy all = { .stream = (char *)stream };
        GraphPolicyTally t = graph_report_store_tally(graph_report_service_store(reports), &all, release);

        return json_pack("{s:s, s:s, s:b, s:f, s:f, s:b, s:s?, s:o, s:I, s:I, s:{s:I, s:I}}", "stream",
                         stream, "release", release, "in_graph", in_graph, "live_percentage", live,
                         "effective_percentage", effective, "paused", pause && graph_pause_active(pause),
                         "reason", pause ? pause->reason : NULL, "frozen_percentage",
                         pause ? json_real(pause->frozen) : json_null(), "paused_at",
                         (json_int_t)(pause ? pause->paused_at : 0), "resumed_at",
                         (json_int_t)(pause ? pause->resumed_at : 0), "reports", "succeeded",
                         (json_int_t)t.succeeded, "failed", (json_int_t)t.failed);
}

/* The rollouts of one stream's current graph; marks the pauses it used in used[]. */
static int add_stream_rollouts(GraphReportService *reports, Stream *st, const GraphPause *pauses, size_t n,
                               bool *used, int64_t now, json_t *arr)
{
        StreamGraph *sg = stream_get(st);
        int r = 0;

        if (!sg || sg->n_arches == 0) {
                stream_graph_unref(sg);
                return 0;
        }
        const Graph *g = stream_graph_view(sg, 0, GRAPH_SCHEME_CHECKSUM)->graph;
        for (size_t k = 0; r >= 0 && k < g->n_rollouts; k++) {
                const GraphNode *node = &g->nodes[g->rollouts[k]];
                const GraphPause *p = graph_pauses_find(pauses, n, st->cfg->name, node->version);
                double effective = graph_node_throttle(node, now);
                if (p)
                        used[p - pauses] = true;
                json_t *o = rollout_json(reports, st->cfg->name, node->version,
                                         p ? graph_pause_live(p, now) : effective, effective, p, true);
                r = o && json_array_append_new(arr, o) == 0 ? 0 : -ENOMEM;
        }
        stream_graph_unref(sg);
        return r;
}

static int reply_rollouts(GraphReportService *reports, GraphStreams *gs, int64_t now, HttpReply *reply)
{
        _cleanup_free_ GraphPause *pauses = NULL;
        _cleanup_free_ bool *used = NULL;
        json_t *arr = json_array();
        size_t n = 0;
        int r;

        r = graph_report_store_pauses(graph_report_service_store(reports), &pauses, &n);
        if (r < 0 || !arr || !(used = calloc(n + 1, sizeof(bool)))) {
                json_decref(arr);
                return -ENOMEM;
        }
        graph_streams_read_lock(gs);
        for (size_t i = 0; r >= 0 && i < gs->n_streams; i++)
                r = add_stream_rollouts(reports, gs->streams[i], pauses, n, used, now, arr);
        graph_streams_read_unlock(gs);
        /* Pauses of releases that are not a rollout of a current graph (not there yet, or offered to all).
         */
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (used[i])
                        continue;
                double live = graph_pause_live(&pauses[i], now);
                json_t *o = rollout_json(reports, pauses[i].stream, pauses[i].release, live, live,
                                         &pauses[i], false);
                r = o && json_array_append_new(arr, o) == 0 ? 0 : -ENOMEM;
        }
        if (r < 0) {
                json_decref(arr);
                return r;
        }
        return reply_json(reply, 200, json_pack("{s:o}", "rollouts", arr));
}

/* Parses {"stream", "release", "reason"?}: 0, or a 400 or 404 in reply (1). */
static int parse_target(GraphStreams *gs, const HttpRequest *req, const char **stream, const char **release,
                        const char **reason, json_t **ret, HttpReply *reply)
{
        _cleanup_json_ json_t *j = NULL;
        Error e = { { 0 } };
        bool known;
        int r;

        r = json_parse_strict(req->body ? req->body : "", req->body_len, &j, &e);
        if (r >= 0)
                r = json_member_string(j, "stream", true, "body", stream, &e);
        if (r >= 0)
                r = json_member_string(j, "release", true, "body", release, &e);
        if (r >= 0 && json_member_string(j, "reason", false, "body", reason, &e) == -EINVAL)
                r = -EINVAL;
        if (r >= 0 && (strlen(*release) > GRAPH_REPORT_MAX_VERSION || strlen(*release) == 0))
                r = error_setf(&e, -EINVAL, "body: release must be 1 to %d bytes", GRAPH_REPORT_MAX_VERSION);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return http_reply_error(reply, 400, "invalid_params", e.message) < 0 ? -ENOMEM : 1;
        graph_streams_read_lock(gs);
        known = graph_streams_find(gs, *stream);
        graph_streams_read_unlock(gs);
        if (!known)
                return http_reply_error(reply, 404, "does_not_exist", "unknown stream") < 0 ? -ENOMEM : 1;
        *ret = TAKE_PTR(j);
        return 0;
}

static int reply_admin(GraphReportService *reports, GraphStreams *gs, const HttpRequest *req, bool pause,
                       int64_t now, HttpReply *reply)
{
        const char *stream = NULL, *release = NULL, *reason = NULL;
        _cleanup_json_ json_t *j = NULL;
        Error e = { { 0 } };
        GraphPause p = { 0 };
        char why[GRAPH_PAUSE_REASON_MAX];
        int r;

        r = parse_target(gs, req, &stream, &release, &reason, &j, reply);
        if (r != 0)
                return r < 0 ? r : 0;
        snprintf(why, sizeof(why), "paused by an operator%s%s", reason ? ": " : "", reason ? reason : "");
        r = pause ? graph_report_service_pause(reports, stream, release, why, now, &e)
                  : graph_report_service_resume(reports, stream, release, now, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return http_reply_error(reply, 503, "store_unavailable", e.message);
        (void)graph_report_store_find_pause(graph_report_service_store(reports), stream, release, &p);
        return reply_json(reply, 200,
                          json_pack("{s:s, s:s, s:b, s:b, s:f}", "stream", stream, "release", release,
                                    "paused", p.stream[0] && graph_pause_active(&p), "changed", r > 0,
                                    "frozen_percentage", p.frozen));
}

int graph_admin_handle(GraphReportService *reports, GraphStreams *gs, const char *admin_token,
                       const HttpRequest *req, int64_t now, HttpReply *reply)
{
        char *tokens[] = { (char *)admin_token, NULL };

        assert(reports && gs && req && reply);
        if (streq(req->path, "/v1/rollouts")) {
                if (!streq(req->method, "GET") && !streq(req->method, "HEAD")) {
                        http_reply_add_header(reply, "Allow", "GET, HEAD");
                        return http_reply_error(reply, 405, "method_not_allowed", "use GET");
                }
                return reply_rollouts(reports, gs, now, reply);
        }
        if (!admin_token)
                return http_reply_error(reply, 404, "not_found", "no admin token configured");
        if (!streq(req->method, "POST")) {
                http_reply_add_header(reply, "Allow", "POST");
                return http_reply_error(reply, 405, "method_not_allowed", "use POST");
        }
        if (!graph_report_token_ok(tokens, 1, http_request_header(req, "Authorization"))) {
                http_reply_add_header(reply, "WWW-Authenticate", "Bearer");
                return http_reply_error(reply, 401, "unauthorized",
                                        "a valid admin bearer token is required");
        }
        if (req->body_len > GRAPH_ADMIN_MAX_BODY)
                return http_reply_error(reply, 413, "payload_too_large", "at most 4096 bytes");
        return reply_admin(reports, gs, req, streq(req->path, "/v1/admin/pause"), now, reply);
}
