/* lock-server.c — upkeep-lock's FleetLock endpoints, the routing of every request, the status endpoints
 * and the listeners (see lock-server.h for a request's way through this file). */
#include "lock-server.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "lock-admin.h"
#include "lock-request.h"
#include "log.h"
#include "strutil.h"
#include "time-util.h"

struct FleetLockCall {
        Manager *m;
        Generation *gen; /* a reference, dropped with the call */
        Group *g;
        FleetLockRequest fr;
        LockOp op;
        FleetLockEndpoint endpoint;
        double t0; /* CLOCK_MONOTONIC seconds when the request came in */
        FleetLockAnswerFn answer;
        void *userdata;
};

void fleetlock_call_free(FleetLockCall *call)
{
        if (!call)
                return;
        lock_op_reset(&call->op);
        fleetlock_request_done(&call->fr);
        generation_unref(call->gen);
        free(call);
}

/* ---- step 1: checking a FleetLock request ---- */

/* Whether the request carries one of the group's client tokens (any, when the group has none). */
static bool client_authorized(const Group *g, const LockRequest *req)
{
        bool ok = g->cfg->n_client_tokens == 0;

        for (size_t i = 0; i < g->cfg->n_client_tokens; i++)
                ok |= bearer_matches(req->authorization, g->cfg->client_tokens[i]);
        return ok;
}

/* With per-node tokens ([auth] node_tokens_file) a request must carry its node's own token, and a group's
 * client tokens are not enough: they would let one node take or release another's slot. Without, the
 * group's client tokens. 1 when authorized, else 0 with the refusal in reply (or a negative errno). */
static int fleetlock_authorized(const Manager *m, const Group *g, const LockRequest *req, const char *node,
                                HttpReply *reply)
{
        const LockNodeTokens *t = m->boot->config->node_tokens;
        int r;

        if (!t && client_authorized(g, req))
                return 1;
        r = t ? lock_node_tokens_check(t, req->authorization, node) : 0;
        if (r > 0)
                return 1;
        if (r == -EPERM) {
                r = http_reply_error(reply, 403, "forbidden",
                                     "this bearer token belongs to another node: a node may only take or "
                                     "release its own slot");
                return r < 0 ? r : 0;
        }
        http_reply_add_header(reply, "WWW-Authenticate", "Bearer");
        r = http_reply_error(reply, 401, "unauthorized",
                             t ? "this node needs its own bearer token"
                               : "this group needs a valid bearer token");
        return r < 0 ? r : 0;
}

/* Checks a FleetLock request against the generation: 0 with a refusal in reply, 1 with the call. */
static int fleetlock_check(Manager *m, Generation *gen, const LockRequest *req, FleetLockEndpoint endpoint,
                           HttpReply *reply, FleetLockCall **ret_call)
{
        _cleanup_(fleetlock_request_done) FleetLockRequest fr = { 0 };
        Error e = { { 0 } };
        char msg[512];
        FleetLockCall *call;
        Group *g;
        int r;

        if (!fleetlock_header_valid(req->fleet_lock_protocol))
                return http_reply_error(reply, 400, "invalid_request",
                                        "missing or wrong header fleet-lock-protocol (must be \"true\")");
        r = fleetlock_request_parse(req->body, req->body_len, &fr, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return http_reply_error(reply, 400, "invalid_request", e.message);
        g = generation_find_group(gen, fr.group);
        if (!g) {
                snprintf(msg, sizeof(msg), "unknown group '%s'", fr.group);
                return http_reply_error(reply, 404, "unknown_group", msg);
        }
        r = fleetlock_authorized(m, g, req, fr.id, reply);
        if (r <= 0)
                return r;
        call = calloc(1, sizeof(*call));
        if (!call)
                return -ENOMEM;
        *call = (FleetLockCall){
                .m = m, .gen = generation_ref(gen), .g = g, .fr = fr, .endpoint = endpoint
        };
        fr = (FleetLockRequest){ 0 };
        call->op = (LockOp){
                .policy = &g->cfg->policy,
                .id = call->fr.id,
                .lock = endpoint == ENDPOINT_PRE_REBOOT,
                .now = now_unix(),
        };
        call->op.in_window = group_window_open(g, call->op.now);
        *ret_call = call;
        return 1;
}

/* ---- step 2: the decision, as the reply ---- */

static int answer_lock(Group *g, const LockOp *op, HttpReply *reply)
{
        LockGroupCounters *c = &g->st->counters;
        LockDecision decision = op->decision;
        char msg[512];

        switch (decision) {
        case LOCK_GRANTED:
                __atomic_add_fetch(&c->grants, 1, __ATOMIC_RELAXED);
                log_info("group %s: %s took a slot", g->cfg->name, op->id);
                _fallthrough_;
        case LOCK_ALREADY_HELD:
                reply->status = 200;
                return 0;
        case LOCK_FULL:
        case LOCK_SETTLING:
                __atomic_add_fetch(&c->denials[DENIAL_FULL], 1, __ATOMIC_RELAXED);
                if (decision == LOCK_FULL)
                        snprintf(msg, sizeof(msg), "all %llu semaphore slots currently locked",
                                 (unsigned long long)g->cfg->policy.slots);
                else
                        snprintf(msg, sizeof(msg), "a slot was released less than %lld s ago (settle delay)",
                                 (long long)g->cfg->policy.settle_secs);
                return http_reply_error(reply, 423, denial_kind(DENIAL_FULL), msg);
        case LOCK_OUTSIDE_WINDOW:
                __atomic_add_fetch(&c->denials[DENIAL_OUTSIDE_WINDOW], 1, __ATOMIC_RELAXED);
                return http_reply_error(reply, 423, denial_kind(DENIAL_OUTSIDE_WINDOW),
                                        "the group's maintenance windows are closed");
        case LOCK_PAUSED:
                __atomic_add_fetch(&c->denials[DENIAL_PAUSED], 1, __ATOMIC_RELAXED);
                return http_reply_error(reply, 423, denial_kind(DENIAL_PAUSED),
                                        "reboots are paused for this group");
        }
        assert(false);
        return -EINVAL;
}

/* The answer to a decided lock or unlock (result: the backend's): counts it, logs it and fills reply. */
static int fleetlock_call_answer(FleetLockCall *call, int result, const Error *e, HttpReply *reply)
{
        Group *g = call->g;
        LockOp *op = &call->op;
        Error bare = { { 0 } };
        int r;

        if (result < 0) {
                manager_count_backend_error(call->m);
                if (!e) {
                        error_setf(&bare, result, "%m");
                        e = &bare;
                }
                log_error("group %s: %s for %s failed: %s", g->cfg->name, op->lock ? "lock" : "unlock",
                          op->id, e->message);
                r = http_reply_error(reply, 503, "backend_unavailable", e->message);
        } else {
                manager_log_expired(g, op);
                if (op->lock)
                        r = answer_lock(g, op, reply);
                else {
                        if (op->released) {
                                __atomic_add_fetch(&g->st->counters.releases, 1, __ATOMIC_RELAXED);
                                log_info("group %s: %s released its slot", g->cfg->name, op->id);
                        }
                        reply->status = 200;
                        r = 0;
                }
        }
        if (r >= 0)
                manager_count_answer(call->m, call->endpoint, reply->status, call->t0);
        return r;
}

int fleetlock_call_run(FleetLockCall *call, HttpReply *reply)
{
        Group *g = call->g;
        Error e = { { 0 } };
        int result, r;

        result = lock_batcher_run(g->st->batcher, g->cfg->name, g->cfg->policy.slots, lock_op_apply,
                                  &call->op, &e);
        r = fleetlock_call_answer(call, result, result < 0 ? &e : NULL, reply);
        fleetlock_call_free(call);
        return r;
}

/* The batcher's completion of a submitted call: runs on the thread that wrote the round. */
static void fleetlock_call_done(void *userdata, int result, const Error *e)
{
        FleetLockCall *call = userdata;
        HttpReply reply = {};
        int r = fleetlock_call_answer(call, result, e, &reply);

        call->answer(call->userdata, r, &reply);
        fleetlock_call_free(call);
}

void fleetlock_call_submit(FleetLockCall *call, FleetLockAnswerFn answer, void *userdata)
{
        Group *g = call->g;
        Error e = { { 0 } };
        int result = 0, r;

        assert(answer);
        call->answer = answer;
        call->userdata = userdata;
        r = lock_batcher_submit(g->st->batcher, g->cfg->name, g->cfg->policy.slots, lock_op_apply, &call->op,
                                fleetlock_call_done, call, &result, &e);
        if (r == 0)
                return; /* fleetlock_call_done() answers */
        if (r < 0)
                result = r;
        /* Written here (or not submitted): answered here. */
        fleetlock_call_done(call, result, result < 0 ? &e : NULL);
}

/* ---- the status endpoints ---- */

/* The metrics of each group of gen, read from the backend; gm has gen->n_groups entries. */
static void gather_groups(Manager *m, Generation *gen, int64_t now, LockGroupMetrics *gm)
{
        for (size_t i = 0; i < gen->n_groups; i++) {
                Group *g = &gen->groups[i];
                Semaphore s;
                Error e;
                int k = m->backend->ops->get(m->backend, g->cfg->name, &s, &e);

                if (k == -ENOENT)
                        semaphore_init(&s, g->cfg->policy.slots), k = 0;
                gm[i] = (LockGroupMetrics){
                        .name = g->cfg->name,
                        .slots = g->cfg->policy.slots,
                        .window_open = group_window_open(g, now),
                        .counters = {
                                .grants = __atomic_load_n(&g->st->counters.grants, __ATOMIC_RELAXED),
                                .releases = __atomic_load_n(&g->st->counters.releases, __ATOMIC_RELAXED),
                                .expirations = __atomic_load_n(&g->st->counters.expirations, __ATOMIC_RELAXED),
                        },
                };
                for (size_t d = 0; d < _DENIAL_MAX; d++)
                        gm[i].counters.denials[d] =
                                __atomic_load_n(&g->st->counters.denials[d], __ATOMIC_RELAXED);
                if (k >= 0) {
                        lock_group_metrics_set_state(&gm[i], &s, g->cfg->policy.paused, now);
                        semaphore_done(&s);
                }
        }
}

static int reply_metrics(Manager *m, Generation *gen, HttpReply *reply)
{
        _cleanup_free_ LockGroupMetrics *gm =
                calloc(MAX(gen->n_groups, (size_t)1), sizeof(LockGroupMetrics));
        Buf b = BUF_INIT(4u << 20);
        LockBatchStats bs;
        LockMetrics lm = {
                .latency = &m->latency,
                .groups = gm,
                .n_groups = gen->n_groups,
                .backend_errors = __atomic_load_n(&m->backend_errors, __ATOMIC_RELAXED),
                .backend_conflicts = __atomic_load_n(&m->backend->stats.conflicts, __ATOMIC_RELAXED),
                .started_at = m->started_at,
                .reloads_ok = __atomic_load_n(&m->reloads[0], __ATOMIC_RELAXED),
                .reloads_failed = __atomic_load_n(&m->reloads[1], __ATOMIC_RELAXED),
                .last_reload_failed = __atomic_load_n(&m->last_reload_failed, __ATOMIC_RELAXED),
        };
        int r;

        if (!gm)
                return -ENOMEM;
        for (size_t i = 0; i < _ENDPOINT_MAX; i++)
                for (size_t k = 0; k < LOCK_N_COUNTED_CODES; k++)
                        lm.requests[i][k] = __atomic_load_n(&m->requests[i][k], __ATOMIC_RELAXED);
        gather_groups(m, gen, now_unix(), gm);
        manager_batch_stats(m, &bs);
        lm.writes = bs.writes;
        lm.write_updates = bs.updates;
        lm.gather_waits = bs.gather_waits;
        lm.gather_timeouts = bs.gather_timeouts;
        r = lock_metrics_format(&lm, &b);
        if (r < 0) {
                buf_free(&b);
                return r;
        }
        reply->status = 200;
        reply->content_type = METRICS_CONTENT_TYPE;
        reply->owned = buf_steal(&b, &reply->owned_len);
        return reply->owned ? 0 : -ENOMEM;
}

static int reply_status_json(HttpReply *reply, const char *status)
{
        char body[64];

        snprintf(body, sizeof(body), "{\"status\":\"%s\"}", status);
        reply->status = 200;
        reply->content_type = "application/json";
        reply->owned = strdup(body);
        reply->owned_len = reply->owned ? strlen(reply->owned) : 0;
        return reply->owned ? 0 : -ENOMEM;
}

static bool is_status_path(const char *path)
{
        return streq(path, "/metrics") || streq(path, "/healthz") || streq(path, "/readyz");
}

int lock_server_handle_status(Manager *m, const LockRequest *req, HttpReply *reply)
{
        if (streq(req->path, "/metrics")) {
                Generation *gen = manager_get_generation(m);
                int r = reply_metrics(m, gen, reply);
                generation_unref(gen);
                return r;
        }
        if (streq(req->path, "/healthz"))
                return reply_status_json(reply, "ok");
        if (streq(req->path, "/readyz")) {
                Error e = { { 0 } };
                if (m->backend->ops->ping(m->backend, &e) < 0)
                        return http_reply_error(reply, 503, "backend_unavailable", e.message);
                return reply_status_json(reply, "ready");
        }
        return http_reply_error(reply, 404, "not_found", "no such endpoint");
}

/* ---- routing ---- */

static int reply_method_not_allowed(HttpReply *reply, const char *allow, const char *msg)
{
        http_reply_add_header(reply, "Allow", allow);
        return http_reply_error(reply, 405, "method_not_allowed", msg);
}

static int handle_fleetlock(Manager *m, const LockRequest *req, FleetLockEndpoint endpoint, HttpReply *reply,
                            FleetLockCall **ret_call)
{
        double t0 = now_seconds(CLOCK_MONOTONIC);
        Generation *gen;
        int r;

        if (!streq(req->method, "POST"))
                return reply_method_not_allowed(reply, "POST", "FleetLock endpoints take POST");
        gen = manager_get_generation(m);
        r = fleetlock_check(m, gen, req, endpoint, reply, ret_call);
        generation_unref(gen);
        if (r == 1)
                (*ret_call)->t0 = t0;
        else if (r >= 0) /* refused */
                manager_count_answer(m, endpoint, reply->status, t0);
        return r;
}

int lock_server_handle(Manager *m, const LockRequest *req, HttpReply *reply, FleetLockCall **ret_call)
{
        Generation *gen;
        int r;

        assert(m);
        assert(req);
        assert(reply);
        assert(ret_call);
        if (streq(req->path, "/v1/pre-reboot"))
                return handle_fleetlock(m, req, ENDPOINT_PRE_REBOOT, reply, ret_call);
        if (streq(req->path, "/v1/steady-state"))
                return handle_fleetlock(m, req, ENDPOINT_STEADY_STATE, reply, ret_call);
        if (streq(req->path, "/v1/groups") || startswith(req->path, "/v1/groups/")) {
                gen = manager_get_generation(m);
                r = lock_admin_handle(m, gen, req, reply);
                generation_unref(gen);
                return r;
        }
        if (is_status_path(req->path) && !streq(req->method, "GET") && !streq(req->method, "HEAD"))
                return reply_method_not_allowed(reply, "GET, HEAD", "use GET");
        return lock_server_handle_status(m, req, reply);
}

/* ---- the listeners ---- */

static LockRequest lock_request_from_http(const HttpRequest *req)
{
        return (LockRequest){
                .method = req->method,
                .path = req->path,
                .body = req->body,
                .body_len = req->body_len,
                .fleet_lock_protocol = http_request_header(req, "fleet-lock-protocol"),
                .authorization = http_request_header(req, "Authorization"),
        };
}

static void finish_deferred(void *userdata, int r, HttpReply *reply)
{
        http_deferred_finish(userdata, r, reply);
}

/* The FleetLock listener's handler. A FleetLock call is submitted with its connection parked, so that the
 * server's threads never wait for the backend; one that cannot be parked is run here. */
static int on_request(void *userdata, const HttpRequest *hreq, HttpReply *reply)
{
        const LockRequest req = lock_request_from_http(hreq);
        FleetLockCall *call = NULL;
        HttpDeferred *d;
        int r;

        r = lock_server_handle(userdata, &req, reply, &call);
        if (r <= 0)
                return r;
        d = http_request_defer(hreq);
        if (!d)
                return fleetlock_call_run(call, reply);
        fleetlock_call_submit(call, finish_deferred, d);
        return 0;
}

static int on_status_request(void *userdata, const HttpRequest *hreq, HttpReply *reply)
{
        const LockRequest req = lock_request_from_http(hreq);

        return lock_server_handle_status(userdata, &req, reply);
}

static int start_status_listener(Manager *m)
{
        const LockConfig *c = m->boot->config;
        HttpServerConfig st = {
                .address = c->status_address,
                .port = c->status_port,
                .handler = on_status_request,
                .userdata = m,
        };
        Error e = { { 0 } };
        int r;

        r = http_server_start(&st, &m->status_server, &e);
        if (r < 0)
                return log_error_errno(r, "cannot listen on [%s]:%u for status: %s", c->status_address,
                                       c->status_port, e.message);
        return 0;
}

/* Reads [auth] node_tokens_file into the boot configuration (once: a reload keeps what it read). */
static int load_node_tokens(LockConfig *c)
{
        _cleanup_free_ char *data = NULL;
        Error warn = { { 0 } }, e = { { 0 } };
        size_t len;
        int r;

        if (!c->node_tokens_file || c->node_tokens)
                return 0;
        r = read_secret_file(c->node_tokens_file, LOCK_NODE_TOKENS_FILE_MAX, &data, &len, &warn, &e);
        if (r < 0)
                return log_error_errno(r, "[auth] node_tokens_file: %s", e.message);
        if (r > 0)
                log_warning("[auth] node_tokens_file: %s", warn.message);
        r = lock_node_tokens_parse(data, len, c->node_tokens_file, &c->node_tokens, &e);
        if (r < 0)
                return log_error_errno(r, "[auth] node_tokens_file: %s", e.message);
        log_info("per-node tokens for %zu nodes from %s", c->node_tokens->n, c->node_tokens_file);
        return 0;
}

int lock_server_start(Manager *m, const char *port_file)
{
        const LockConfig *c = m->boot->config;
        _cleanup_free_ char *cert = NULL, *key = NULL;
        Error e = { { 0 } };
        int r;

        if (c->tls && (r = manager_read_tls(m, &cert, &key)) < 0)
                return r;
        r = load_node_tokens(m->boot->config);
        if (r < 0)
                return r;
        HttpServerConfig scfg = {
                .address = c->address,
                .port = c->port,
                .threads = c->threads,
                .max_connections = c->max_connections,
                .max_connections_per_address = c->max_connections_per_address,
                .request_timeout_sec = c->request_timeout_secs,
                .max_header_bytes = 8192,
                .max_body_bytes = FLEETLOCK_MAX_BODY,
                .tls_cert_pem = cert,
                .tls_key_pem = key,
                .tls_priorities = c->tls_priorities,
                .allow_deferred = true,
                .handler = on_request,
                .userdata = m,
        };
        r = http_server_start(&scfg, &m->server, &e);
        if (r < 0 && c->tls_priorities && strstr(e.message, "TLS priorities"))
                return log_error_errno(r, "[service] tls_priorities: %s", e.message);
        if (r < 0)
                return log_error_errno(r, "cannot listen on [%s]:%u: %s", c->address, c->port, e.message);
        log_info("listening on [%s]:%u%s", c->address, http_server_port(m->server), cert ? " (TLS)" : "");
        if (c->status_enabled && (r = start_status_listener(m)) < 0)
                return r;
        if (port_file && (r = daemon_write_port_file(port_file, http_server_port(m->server))) < 0)
                return log_error_errno(r, "cannot write %s: %m", port_file);
        return 0;
}
