/* upkeep-lock.c — the FleetLock reboot coordinator. Counting semaphores per group so only N nodes
 * reboot at once, kept in SQLite (default) or etcd3 (Airlock's layout). Adds lock expiry, a settle delay,
 * server-side maintenance windows, pause, an admin API, bearer-token authentication and metrics. SIGHUP
 * reloads the groups and tokens in place (see "generations" below and docs/lock.md). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "calendar.h"
#include "daemon-util.h"
#include "etcd.h"
#include "fileio.h"
#include "http-server.h"
#include "lock-backend.h"
#include "lock-batch.h"
#include "lock-config.h"
#include "lock-request.h"
#include "log.h"
#include "metrics.h"
#include "strutil.h"
#include "tz-load.h"

#define SWEEP_INTERVAL_SECS 10
/* How long an etcd group's writer thread may wait for the load's usual number of requests before a
 * compare-and-swap (lock-batch.h, "Gathering"; never longer than the last one took). Measured in
 * docs/PERFORMANCE.md: with 16 clients about 16 requests per compare-and-swap instead of 8, and more
 * throughput at lower latency. Off for SQLite, where an fsync is short next to a client's round trip and
 * it did not pay. */
#define ETCD_GATHER_MAX_USEC 1000

/* Denial kinds, as they appear in error bodies and metrics. */
typedef enum Denial {
        DENIAL_FULL,
        DENIAL_OUTSIDE_WINDOW,
        DENIAL_PAUSED,
        _DENIAL_MAX,
} Denial;
static const char *const denial_kind[_DENIAL_MAX] = {
        [DENIAL_FULL] = "failed_lock_semaphore_full",
        [DENIAL_OUTSIDE_WINDOW] = "outside_window",
        [DENIAL_PAUSED] = "group_paused",
};

/* What lives as long as a group's name stays configured, across reloads: its batcher and its counters.
 * Created and freed by the main thread only; freed once no live generation names it. */
typedef struct GroupState GroupState;
struct GroupState {
        char *name;
        /* Requests that arrive while a write is in flight are written together in the next one (see
         * lock-batch.h): with SQLite one batcher for every group (one transaction and one fsync for all:
         * the manager's, not owned), with etcd one per group (one compare-and-swap per group). */
        LockBatcher *batcher;
        bool owns_batcher;
        unsigned gen_refs; /* live generations that name it (main thread only) */
        uint64_t grants, releases, expirations, denials[_DENIAL_MAX]; /* atomic */
        GroupState *next;
};

typedef struct Group {
        const LockGroupConfig *cfg;
        Calendar *calendar; /* NULL: always open */
        TimeZone *tz;
        GroupState *st;
} Group;

/* One loaded configuration: its groups and admin token. SIGHUP builds a new one and swaps it in whole;
 * every request holds a reference to the one it started with until it is answered, so a reload never
 * changes or frees a group under a request. Retired generations are freed by the main thread once no
 * request holds them. */
typedef struct Generation Generation;
struct Generation {
        LockConfig *config; /* owned unless it is the manager's boot configuration */
        bool owns_config;
        Group *groups;
        size_t n_groups;
        char *admin_token;
        unsigned refs;    /* atomic: the manager's while current, and each request's */
        Generation *next; /* among the retired */
};

typedef struct Manager {
        LockConfig *boot; /* as started: the listeners, TLS, threads and backend (a reload keeps them) */
        LockBackend *backend;
        pthread_mutex_t gen_lock; /* guards gen, and states' list for the metrics */
        Generation *gen;
        Generation *retired; /* main thread only */
        GroupState *states;
        LockBatcher *shared_batcher; /* when the backend writes several groups at once */
        LockBatchStats freed;        /* counters of the batchers freed so far (under gen_lock) */
        HttpServer *server, *status_server;
        Histogram latency;
        uint64_t requests[2][6]; /* [pre-reboot, steady-state][200, 400, 401, 404, 423, 503] atomic */
        uint64_t backend_errors; /* atomic */
        uint64_t reloads[2];     /* atomic: [done, failed] */
        bool last_reload_failed; /* atomic */
        int64_t started_at;
} Manager;

static const unsigned counted_codes[] = { 200, 400, 401, 404, 423, 503 };

/* The current generation, with a reference for the caller. */
static Generation *gen_get(Manager *m)
{
        Generation *g;

        pthread_mutex_lock(&m->gen_lock);
        g = m->gen;
        __atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&m->gen_lock);
        return g;
}

/* Drops a reference; a retired generation is freed by the main thread (collect_retired()). */
static void gen_put(Generation *g)
{
        if (g)
                __atomic_sub_fetch(&g->refs, 1, __ATOMIC_RELEASE);
}

static Group *find_group(Generation *gen, const char *name)
{
        for (size_t i = 0; i < gen->n_groups; i++)
                if (streq(gen->groups[i].cfg->name, name))
                        return &gen->groups[i];
        return NULL;
}

static bool group_window_open(const Group *g, int64_t now)
{
        return !g->calendar || calendar_contains(g->calendar, g->tz, now);
}

static double now_seconds(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- semaphore updates ---- */

typedef struct LockOp {
        const Group *group;
        const char *id;
        bool lock; /* else unlock */
        int64_t now;
        bool in_window;
        LockDecision decision;
        bool released;
        char **expired;
        size_t n_expired;
} LockOp;

static void lock_op_reset(LockOp *op)
{
        strv_free(op->expired);
        op->expired = NULL;
        op->n_expired = 0;
        op->released = false;
}

static int apply_lock_op(Semaphore *s, void *userdata)
{
        LockOp *op = userdata;
        int changed, r;

        lock_op_reset(op); /* the backend may retry with a fresh state */
        changed = semaphore_maintain(s, &op->group->cfg->policy, op->now, &op->expired, &op->n_expired);
        if (changed < 0)
                return changed;
        if (!op->id)
                return changed; /* a sweep */
        if (op->lock) {
                r = semaphore_lock(s, op->id, &op->group->cfg->policy, op->in_window, op->now,
                                   &op->decision);
                if (r < 0)
                        return r;
                return changed || op->decision == LOCK_GRANTED;
        }
        r = semaphore_unlock(s, op->id, op->now);
        if (r < 0)
                return r;
        op->released = r > 0;
        return changed || r > 0;
}

static void log_expired(Manager *m, Group *g, const LockOp *op)
{
        for (size_t i = 0; i < op->n_expired; i++) {
                log_warning("group %s: released %s, which held its slot longer than %lld s", g->cfg->name,
                            op->expired[i], (long long)g->cfg->policy.max_hold_secs);
                __atomic_add_fetch(&g->st->expirations, 1, __ATOMIC_RELAXED);
        }
}

/* Runs one operation against the backend and waits for it, batched with concurrent ones (see
 * lock-batch.h); returns 0 or a negative errno (backend trouble) with e set. */
static int run_op(Manager *m, Group *g, LockOp *op, Error *e)
{
        int r = lock_batcher_run(g->st->batcher, g->cfg->name, g->cfg->policy.slots, apply_lock_op, op, e);
        if (r < 0) {
                __atomic_add_fetch(&m->backend_errors, 1, __ATOMIC_RELAXED);
                return r;
        }
        log_expired(m, g, op);
        return 0;
}

/* ---- HTTP ---- */

static void count_request(Manager *m, int endpoint, unsigned status)
{
        for (size_t i = 0; i < ELEMENTSOF(counted_codes); i++)
                if (counted_codes[i] == status)
                        __atomic_add_fetch(&m->requests[endpoint][i], 1, __ATOMIC_RELAXED);
}

static int reply_json(HttpReply *reply, unsigned status, Buf *b)
{
        reply->status = status;
        reply->content_type = "application/json";
        reply->owned = buf_steal(b, &reply->owned_len);
        return reply->owned ? 0 : -ENOMEM;
}

/* One FleetLock request between its submission to the batcher and its answer. */
typedef struct FleetLockCall {
        Manager *m;
        Generation *gen; /* a reference, dropped with the call */
        Group *g;
        FleetLockRequest fr;
        LockOp op;
        HttpDeferred *deferred; /* NULL: answered by the handler itself */
        int endpoint;           /* 0 pre-reboot, 1 steady-state */
        double t0;
} FleetLockCall;

static void fleetlock_call_free(FleetLockCall *call)
{
        lock_op_reset(&call->op);
        fleetlock_request_done(&call->fr);
        gen_put(call->gen);
        free(call);
}

static void count_answer(Manager *m, int endpoint, unsigned status, double t0)
{
        count_request(m, endpoint, status);
        histogram_observe(&m->latency, now_seconds() - t0);
}

/* The answer to a decided lock or unlock: counts it, logs it and fills reply. */
static int fleetlock_answer(FleetLockCall *call, int result, const Error *e, HttpReply *reply)
{
        Manager *m = call->m;
        Group *g = call->g;
        LockOp *op = &call->op;
        bool lock = op->lock;
        char msg[512];
        int r = 0;

        if (result < 0) {
                __atomic_add_fetch(&m->backend_errors, 1, __ATOMIC_RELAXED);
                log_error("group %s: %s for %s failed: %s", g->cfg->name, lock ? "lock" : "unlock", op->id,
                          e ? e->message : strerror(-result));
                return http_reply_error(reply, 503, "backend_unavailable",
                                        e ? e->message : strerror(-result));
        }
        log_expired(m, g, op);
        if (!lock) {
                if (op->released) {
                        __atomic_add_fetch(&g->st->releases, 1, __ATOMIC_RELAXED);
                        log_info("group %s: %s released its slot", g->cfg->name, op->id);
                }
                reply->status = 200;
                return 0;
        }
        switch (op->decision) {
        case LOCK_GRANTED:
                __atomic_add_fetch(&g->st->grants, 1, __ATOMIC_RELAXED);
                log_info("group %s: %s took a slot", g->cfg->name, op->id);
                _fallthrough_;
        case LOCK_ALREADY_HELD:
                reply->status = 200;
                break;
        case LOCK_FULL:
        case LOCK_SETTLING:
                __atomic_add_fetch(&g->st->denials[DENIAL_FULL], 1, __ATOMIC_RELAXED);
                if (op->decision == LOCK_FULL)
                        snprintf(msg, sizeof(msg), "all %llu semaphore slots currently locked",
                                 (unsigned long long)g->cfg->policy.slots);
                else
                        snprintf(msg, sizeof(msg), "a slot was released less than %lld s ago (settle delay)",
                                 (long long)g->cfg->policy.settle_secs);
                r = http_reply_error(reply, 423, denial_kind[DENIAL_FULL], msg);
                break;
        case LOCK_OUTSIDE_WINDOW:
                __atomic_add_fetch(&g->st->denials[DENIAL_OUTSIDE_WINDOW], 1, __ATOMIC_RELAXED);
                r = http_reply_error(reply, 423, denial_kind[DENIAL_OUTSIDE_WINDOW],
                                     "the group's maintenance windows are closed");
                break;
        case LOCK_PAUSED:
                __atomic_add_fetch(&g->st->denials[DENIAL_PAUSED], 1, __ATOMIC_RELAXED);
                r = http_reply_error(reply, 423, denial_kind[DENIAL_PAUSED],
                                     "reboots are paused for this group");
                break;
        }
        return r;
}

/* The batcher's completion of a deferred request: runs on the thread that wrote the round. */
static void fleetlock_done(void *userdata, int result, const Error *e)
{
        FleetLockCall *call = userdata;
        HttpReply reply = {};
        int r = fleetlock_answer(call, result, e, &reply);

        if (r >= 0)
                count_answer(call->m, call->endpoint, reply.status, call->t0);
        http_deferred_finish(call->deferred, r, &reply);
        fleetlock_call_free(call);
}

/* Validates a FleetLock request and submits its lock or unlock to the group's batcher (lock-batch.h). The
 * answer is deferred (http_request_defer()) when the write is left to another thread, so the server's
 * threads never wait for the backend; when nobody else is writing, this thread writes at once and
 * answers directly. */
static int handle_fleetlock(Manager *m, Generation *gen, const HttpRequest *req, HttpReply *reply, bool lock,
                            double t0)
{
        _cleanup_free_ FleetLockCall *call = NULL;
        FleetLockRequest fr = { 0 };
        Error e = { { 0 } };
        char msg[512];
        Group *g;
        int r, result;

        if (!fleetlock_header_valid(http_request_header(req, "fleet-lock-protocol"))) {
                r = http_reply_error(reply, 400, "invalid_request",
                                     "missing or wrong header fleet-lock-protocol "
                                     "(must be \"true\")");
                goto out;
        }
        r = fleetlock_request_parse(req->body, req->body_len, &fr, &e);
        if (r == -ENOMEM)
                goto out;
        if (r < 0) {
                r = http_reply_error(reply, 400, "invalid_request", e.message);
                goto out;
        }
        g = find_group(gen, fr.group);
        if (!g) {
                snprintf(msg, sizeof(msg), "unknown group '%s'", fr.group);
                r = http_reply_error(reply, 404, "unknown_group", msg);
                goto out;
        }
        if (g->cfg->n_client_tokens) {
                const char *auth = http_request_header(req, "Authorization");
                bool ok = false;
                for (size_t i = 0; i < g->cfg->n_client_tokens; i++)
                        ok |= bearer_matches(auth, g->cfg->client_tokens[i]);
                if (!ok) {
                        http_reply_add_header(reply, "WWW-Authenticate", "Bearer");
                        r = http_reply_error(reply, 401, "unauthorized",
                                             "this group needs a valid bearer token");
                        goto out;
                }
        }

        call = calloc(1, sizeof(*call));
        if (!call) {
                r = -ENOMEM;
                goto out;
        }
        *call = (FleetLockCall){ .m = m, .g = g, .fr = fr, .endpoint = lock ? 0 : 1, .t0 = t0 };
        /* The call holds its own reference to the generation from here: the handler's is the caller's. */
        call->gen = gen;
        __atomic_add_fetch(&gen->refs, 1, __ATOMIC_RELAXED);
        fr = (FleetLockRequest){ 0 };
        call->op = (LockOp){ .group = g, .id = call->fr.id, .lock = lock, .now = (int64_t)time(NULL) };
        call->op.in_window = group_window_open(g, call->op.now);

        call->deferred = http_request_defer(req);
        if (!call->deferred) { /* cannot park the connection: wait here */
                result = lock_batcher_run(g->st->batcher, g->cfg->name, g->cfg->policy.slots, apply_lock_op,
                                          &call->op, &e);
                goto answer;
        }
        r = lock_batcher_submit(g->st->batcher, g->cfg->name, g->cfg->policy.slots, apply_lock_op, &call->op,
                                fleetlock_done, call, &result, &e);
        if (r == 0) {
                TAKE_PTR(call); /* fleetlock_done() answers and frees it */
                return 0;
        }
        if (r < 0)
                result = r;
        /* Written here (or not submitted): answer through the deferred reply all the same. */
        fleetlock_done(TAKE_PTR(call), result, result < 0 ? &e : NULL);
        return 0;

answer:
        r = fleetlock_answer(call, result, result < 0 ? &e : NULL, reply);
        if (r >= 0)
                count_answer(m, call->endpoint, reply->status, t0);
        fleetlock_call_free(TAKE_PTR(call));
        return r;
out:
        fleetlock_request_done(&fr);
        if (r >= 0)
                count_answer(m, lock ? 0 : 1, reply->status, t0);
        return r;
}

/* Appends one group's state as JSON. */
static int group_json(Manager *m, Group *g, int64_t now, Buf *b, Error *e)
{
        Semaphore s;
        int r = m->backend->ops->get(m->backend, g->cfg->name, &s, e);
        int64_t next_start = 0, next_end = 0;
        bool open = group_window_open(g, now);

        if (r == -ENOENT) {
                semaphore_init(&s, g->cfg->policy.slots);
                r = 0;
        }
        if (r < 0)
                return r;
        r = buf_puts(b, "{\"name\":");
        if (r >= 0)
                r = buf_put_json_string(b, g->cfg->name, strlen(g->cfg->name));
        if (r >= 0)
                r = buf_printf(b, ",\"slots\":%llu,\"holders\":[", (unsigned long long)g->cfg->policy.slots);
        for (size_t i = 0; r >= 0 && i < s.n_holders; i++) {
                r = buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
                if (r >= 0)
                        r = buf_put_json_string(b, s.holders[i].id, strlen(s.holders[i].id));
                if (r >= 0)
                        r = buf_printf(b, ",\"since\":%lld,\"age_secs\":%lld}",
                                       (long long)s.holders[i].since,
                                       (long long)(s.holders[i].since ? now - s.holders[i].since : 0));
        }
        if (r >= 0)
                r = buf_printf(b,
                               "],\"paused\":%s,\"paused_in_config\":%s,\"max_hold_secs\":%lld,\"settle_"
                               "secs\":%lld,"
                               "\"last_release\":%lld,\"window\":{\"configured\":%s,\"open\":%s",
                               s.paused || g->cfg->policy.paused ? "true" : "false",
                               g->cfg->policy.paused ? "true" : "false",
                               (long long)g->cfg->policy.max_hold_secs,
                               (long long)g->cfg->policy.settle_secs, (long long)s.last_release,
                               g->calendar ? "true" : "false", open ? "true" : "false");
        if (r >= 0 && g->calendar &&
            calendar_next_open(g->calendar, g->tz, now, &next_start, &next_end) >= 0)
                r = buf_printf(b, ",\"next_open\":%lld,\"next_close\":%lld", (long long)next_start,
                               (long long)next_end);
        if (r >= 0 && g->calendar)
                r = buf_puts(b, ",\"time_zone\":") >= 0
                            ? buf_put_json_string(b, g->cfg->time_zone, strlen(g->cfg->time_zone))
                            : -ENOBUFS;
        if (r >= 0)
                r = buf_puts(b, "}}");
        semaphore_done(&s);
        return r;
}

typedef struct AdminOp {
        const char *release_id;
        int pause; /* 1 pause, 0 resume, -1 leave */
        bool released;
} AdminOp;

static int apply_admin_op(Semaphore *s, void *userdata)
{
        AdminOp *op = userdata;
        op->released = false;
        if (op->release_id) {
                int r = semaphore_unlock(s, op->release_id, (int64_t)time(NULL));
                op->released = r > 0;
                return r;
        }
        if (op->pause >= 0 && s->paused != (op->pause == 1)) {
                s->paused = op->pause == 1;
                return 1;
        }
        return 0;
}

static int handle_admin(Manager *m, Generation *gen, const HttpRequest *req, HttpReply *reply)
{
        const char *rest = req->path + strlen("/v1/groups");
        Buf b = BUF_INIT(16u << 20);
        char name[256], action[32] = "", msg[600];
        int64_t now = (int64_t)time(NULL);
        Error e = { { 0 } };
        Group *g;
        int r;

        if (!gen->admin_token)
                return http_reply_error(reply, 404, "not_found",
                                        "the admin API is off (no admin token configured)");
        if (!bearer_matches(http_request_header(req, "Authorization"), gen->admin_token)) {
                http_reply_add_header(reply, "WWW-Authenticate", "Bearer");
                return http_reply_error(reply, 401, "unauthorized",
                                        "the admin API needs the admin bearer token");
        }
        if (!*rest || streq(rest, "/")) {
                if (!streq(req->method, "GET")) {
                        http_reply_add_header(reply, "Allow", "GET");
                        return http_reply_error(reply, 405, "method_not_allowed", "use GET");
                }
                r = buf_puts(&b, "{\"groups\":[");
                for (size_t i = 0; r >= 0 && i < gen->n_groups; i++) {
                        if (i)
                                r = buf_putc(&b, ',');
                        if (r >= 0)
                                r = group_json(m, &gen->groups[i], now, &b, &e);
                }
                if (r >= 0)
                        r = buf_puts(&b, "]}");
                goto done;
        }
        if (rest[0] != '/' || sscanf(rest, "/%255[^/]/%31s", name, action) < 1 || strchr(action, '/'))
                return http_reply_error(reply, 404, "not_found", "no such endpoint");
        g = find_group(gen, name);
        if (!g) {
                snprintf(msg, sizeof(msg), "unknown group '%s'", name);
                return http_reply_error(reply, 404, "unknown_group", msg);
        }
        if (!*action) {
                if (!streq(req->method, "GET")) {
                        http_reply_add_header(reply, "Allow", "GET");
                        return http_reply_error(reply, 405, "method_not_allowed", "use GET");
                }
                r = group_json(m, g, now, &b, &e);
                goto done;
        }
        if (!streq(action, "release") && !streq(action, "pause") && !streq(action, "resume"))
                return http_reply_error(reply, 404, "not_found", "no such endpoint");
        if (!streq(req->method, "POST")) {
                http_reply_add_header(reply, "Allow", "POST");
                return http_reply_error(reply, 405, "method_not_allowed", "use POST");
        }
        {
                _cleanup_free_ char *id = NULL;
                AdminOp op = { .pause = -1 };
                if (streq(action, "release")) {
                        r = admin_release_parse(req->body, req->body_len, &id, &e);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return http_reply_error(reply, 400, "invalid_request", e.message);
                        op.release_id = id;
                } else
                        op.pause = streq(action, "pause");
                r = lock_backend_update(m->backend, g->cfg->name, g->cfg->policy.slots, apply_admin_op, &op,
                                        NULL, &e);
                if (r < 0) {
                        __atomic_add_fetch(&m->backend_errors, 1, __ATOMIC_RELAXED);
                        return http_reply_error(reply, 503, "backend_unavailable", e.message);
                }
                if (op.release_id)
                        log_notice("group %s: admin released %s (%s)", g->cfg->name, id,
                                   op.released ? "it held a slot" : "it held none");
                else
                        log_notice("group %s: admin %s", g->cfg->name,
                                   op.pause ? "paused reboots" : "resumed reboots");
                r = buf_printf(&b, "{\"group\":\"%s\",\"action\":\"%s\"", g->cfg->name, action);
                if (r >= 0 && op.release_id)
                        r = buf_printf(&b, ",\"released\":%s", op.released ? "true" : "false");
                if (r >= 0)
                        r = buf_putc(&b, '}');
        }
done:
        if (r < 0 && r != -ENOMEM && r != -ENOBUFS) {
                buf_free(&b);
                __atomic_add_fetch(&m->backend_errors, 1, __ATOMIC_RELAXED);
                return http_reply_error(reply, 503, "backend_unavailable", e.message);
        }
        if (r < 0) {
                buf_free(&b);
                return r;
        }
        return reply_json(reply, 200, &b);
}

/* Adds a batcher's counters to *sum. */
static void add_batch_stats(LockBatchStats *sum, LockBatcher *q)
{
        LockBatchStats one;

        lock_batcher_stats(q, &one);
        sum->writes += one.writes;
        sum->updates += one.updates;
        sum->gather_waits += one.gather_waits;
        sum->gather_timeouts += one.gather_timeouts;
}

static int reply_metrics(Manager *m, Generation *gen, HttpReply *reply)
{
        static const char *const endpoints[] = { "pre-reboot", "steady-state" };
        Buf b = BUF_INIT(4u << 20);
        int64_t now = (int64_t)time(NULL);
        char code[8];
        int r;

        r = metrics_header(&b, "upkeep_lock_requests_total", "counter",
                           "FleetLock requests by endpoint and status.");
        for (size_t i = 0; r >= 0 && i < 2; i++)
                for (size_t k = 0; r >= 0 && k < ELEMENTSOF(counted_codes); k++) {
                        const char *labels[] = { "endpoint", endpoints[i], "code", code, NULL };
                        snprintf(code, sizeof(code), "%u", counted_codes[k]);
                        r = metrics_sample_u64(&b, "upkeep_lock_requests_total", labels,
                                               __atomic_load_n(&m->requests[i][k], __ATOMIC_RELAXED));
                }
        if (r >= 0)
                r = metrics_header(&b, "upkeep_lock_request_duration_seconds", "histogram",
                                   "Time to answer FleetLock requests.");
        if (r >= 0)
                r = histogram_write(&b, "upkeep_lock_request_duration_seconds", NULL, &m->latency);

        const char *names[] = { "upkeep_lock_slots", "upkeep_lock_holders",
                                "upkeep_lock_oldest_holder_age_seconds", "upkeep_lock_paused",
                                "upkeep_lock_window_open" };
        const char *helps[] = { "Configured slots per group.", "Current holders per group.",
                                "Age of the oldest holder per group (0 when none).",
                                "Whether reboots are paused in the group.",
                                "Whether the group's maintenance windows are open (1 when it has none)." };
        double values[5][LOCK_MAX_GROUPS];
        for (size_t i = 0; i < gen->n_groups && i < LOCK_MAX_GROUPS; i++) {
                Group *g = &gen->groups[i];
                Semaphore s;
                Error e;
                int k = m->backend->ops->get(m->backend, g->cfg->name, &s, &e);
                if (k == -ENOENT)
                        semaphore_init(&s, g->cfg->policy.slots), k = 0;
                values[0][i] = (double)g->cfg->policy.slots;
                values[1][i] = k < 0 ? NAN : (double)s.n_holders;
                values[2][i] = 0;
                for (size_t h = 0; k >= 0 && h < s.n_holders; h++)
                        if (s.holders[h].since && now - s.holders[h].since > values[2][i])
                                values[2][i] = (double)(now - s.holders[h].since);
                if (k < 0)
                        values[2][i] = NAN;
                values[3][i] = k < 0 ? NAN : (s.paused || g->cfg->policy.paused);
                values[4][i] = group_window_open(g, now);
                if (k >= 0)
                        semaphore_done(&s);
        }
        for (size_t n = 0; r >= 0 && n < 5; n++) {
                r = metrics_header(&b, names[n], "gauge", helps[n]);
                for (size_t i = 0; r >= 0 && i < gen->n_groups; i++) {
                        const char *labels[] = { "group", gen->groups[i].cfg->name, NULL };
                        r = metrics_sample(&b, names[n], labels, values[n][i]);
                }
        }
        const char *cnames[] = { "upkeep_lock_grants_total", "upkeep_lock_releases_total",
                                 "upkeep_lock_expirations_total" };
        const char *chelps[] = { "Slots granted.", "Slots released by their holders.",
                                 "Slots released because their holder kept them past max_hold_secs." };
        for (size_t n = 0; r >= 0 && n < 3; n++) {
                r = metrics_header(&b, cnames[n], "counter", chelps[n]);
                for (size_t i = 0; r >= 0 && i < gen->n_groups; i++) {
                        Group *g = &gen->groups[i];
                        uint64_t *c = n == 0   ? &g->st->grants
                                      : n == 1 ? &g->st->releases
                                               : &g->st->expirations;
                        const char *labels[] = { "group", g->cfg->name, NULL };
                        r = metrics_sample_u64(&b, cnames[n], labels, __atomic_load_n(c, __ATOMIC_RELAXED));
                }
        }
        if (r >= 0)
                r = metrics_header(&b, "upkeep_lock_denials_total", "counter",
                                   "Lock requests denied, by kind.");
        for (size_t i = 0; r >= 0 && i < gen->n_groups; i++)
                for (size_t k = 0; r >= 0 && k < _DENIAL_MAX; k++) {
                        const char *labels[] = { "group", gen->groups[i].cfg->name, "kind", denial_kind[k],
                                                 NULL };
                        r = metrics_sample_u64(
                                &b, "upkeep_lock_denials_total", labels,
                                __atomic_load_n(&gen->groups[i].st->denials[k], __ATOMIC_RELAXED));
                }
        /* Every batcher's, and those of the batchers freed with their groups. */
        LockBatchStats bs;
        pthread_mutex_lock(&m->gen_lock);
        bs = m->freed;
        for (GroupState *st = m->states; st; st = st->next)
                if (st->owns_batcher)
                        add_batch_stats(&bs, st->batcher);
        pthread_mutex_unlock(&m->gen_lock);
        if (m->shared_batcher)
                add_batch_stats(&bs, m->shared_batcher);
        /* The backend's counters, without labels. */
        const struct {
                const char *name, *help;
                uint64_t value;
        } counters[] = {
                { "upkeep_lock_backend_errors_total",
                  "Backend operations that failed (the request got 503).",
                  __atomic_load_n(&m->backend_errors, __ATOMIC_RELAXED) },
                { "upkeep_lock_backend_conflicts_total",
                  "Compare-and-swap conflicts retried inside the backend.",
                  __atomic_load_n(&m->backend->stats.conflicts, __ATOMIC_RELAXED) },
                { "upkeep_lock_backend_writes_total",
                  "Backend writes: SQLite transactions (one fsync each, for every group in it), etcd "
                  "compare-and-swap updates of one group.",
                  bs.writes },
                { "upkeep_lock_backend_write_updates_total",
                  "FleetLock requests and expiry sweeps those writes carried (divided by the writes: "
                  "the mean batch).",
                  bs.updates },
                { "upkeep_lock_backend_gather_waits_total",
                  "Writes (etcd) whose writer thread first waited for the load's usual number of requests.",
                  bs.gather_waits },
                { "upkeep_lock_backend_gather_timeouts_total",
                  "Of those, writes that started short because the wait ran out (clients went away).",
                  bs.gather_timeouts },
        };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(counters); i++) {
                r = metrics_header(&b, counters[i].name, "counter", counters[i].help);
                if (r >= 0)
                        r = metrics_sample_u64(&b, counters[i].name, NULL, counters[i].value);
        }
        if (r >= 0)
                r = metrics_header(&b, "process_start_time_seconds", "gauge",
                                   "Start time of the process since unix epoch in seconds.");
        if (r >= 0)
                r = metrics_sample(&b, "process_start_time_seconds", NULL, (double)m->started_at);
        if (r >= 0)
                r = metrics_header(
                        &b, "upkeep_lock_config_reloads_total", "counter",
                        "Configuration reloads (SIGHUP), by result: a failed one changed nothing.");
        for (size_t i = 0; r >= 0 && i < 2; i++) {
                const char *labels[] = { "result", i ? "failed" : "ok", NULL };
                r = metrics_sample_u64(&b, "upkeep_lock_config_reloads_total", labels,
                                       __atomic_load_n(&m->reloads[i], __ATOMIC_RELAXED));
        }
        if (r >= 0)
                r = metrics_header(&b, "upkeep_lock_config_last_reload_successful", "gauge",
                                   "Whether the last configuration reload succeeded (1 before any).");
        if (r >= 0)
                r = metrics_sample(&b, "upkeep_lock_config_last_reload_successful", NULL,
                                   __atomic_load_n(&m->last_reload_failed, __ATOMIC_RELAXED) ? 0 : 1);
        if (r < 0) {
                buf_free(&b);
                return r;
        }
        reply->status = 200;
        reply->content_type = METRICS_CONTENT_TYPE;
        reply->owned = buf_steal(&b, &reply->owned_len);
        return reply->owned ? 0 : -ENOMEM;
}

static int handle_status(Manager *m, const HttpRequest *req, HttpReply *reply, bool *handled)
{
        *handled = true;
        if (streq(req->path, "/metrics")) {
                Generation *gen = gen_get(m);
                int r = reply_metrics(m, gen, reply);
                gen_put(gen);
                return r;
        }
        if (streq(req->path, "/healthz")) {
                reply->status = 200;
                reply->content_type = "application/json";
                reply->owned = strdup("{\"status\":\"ok\"}");
                reply->owned_len = reply->owned ? strlen(reply->owned) : 0;
                return reply->owned ? 0 : -ENOMEM;
        }
        if (streq(req->path, "/readyz")) {
                Error e = { { 0 } };
                if (m->backend->ops->ping(m->backend, &e) < 0)
                        return http_reply_error(reply, 503, "backend_unavailable", e.message);
                reply->status = 200;
                reply->content_type = "application/json";
                reply->owned = strdup("{\"status\":\"ready\"}");
                reply->owned_len = reply->owned ? strlen(reply->owned) : 0;
                return reply->owned ? 0 : -ENOMEM;
        }
        *handled = false;
        return 0;
}

static int handle(void *userdata, const HttpRequest *req, HttpReply *reply)
{
        Manager *m = userdata;
        bool pre = streq(req->path, "/v1/pre-reboot"), steady = streq(req->path, "/v1/steady-state");
        Generation *gen;
        bool handled;
        int r;

        if (pre || steady) {
                double t0 = now_seconds();
                if (!streq(req->method, "POST")) {
                        http_reply_add_header(reply, "Allow", "POST");
                        return http_reply_error(reply, 405, "method_not_allowed",
                                                "FleetLock endpoints take POST");
                }
                gen = gen_get(m);
                r = handle_fleetlock(m, gen, req, reply, pre, t0);
                gen_put(gen);
                return r;
        }
        if (streq(req->path, "/v1/groups") || startswith(req->path, "/v1/groups/")) {
                gen = gen_get(m);
                r = handle_admin(m, gen, req, reply);
                gen_put(gen);
                return r;
        }
        if (!streq(req->method, "GET") && !streq(req->method, "HEAD") &&
            (streq(req->path, "/metrics") || streq(req->path, "/healthz") || streq(req->path, "/readyz"))) {
                http_reply_add_header(reply, "Allow", "GET, HEAD");
                return http_reply_error(reply, 405, "method_not_allowed", "use GET");
        }
        r = handle_status(m, req, reply, &handled);
        if (handled)
                return r;
        return http_reply_error(reply, 404, "not_found", "no such endpoint");
}

static int handle_status_only(void *userdata, const HttpRequest *req, HttpReply *reply)
{
        bool handled;
        int r = handle_status(userdata, req, reply, &handled);
        if (handled)
                return r;
        return http_reply_error(reply, 404, "not_found", "no such endpoint");
}

/* ---- setup, and reloads ---- */

/* Gives a group's state its batcher: the backend's shared one, or its own. */
static int state_attach_batcher(Manager *m, GroupState *st)
{
        LockBatcher **target = &st->batcher;
        int r;

        if (st->batcher)
                return 0;
        if (lock_backend_can_batch(m->backend)) {
                if (m->shared_batcher) {
                        st->batcher = m->shared_batcher;
                        return 0;
                }
                target = &m->shared_batcher;
        }
        r = lock_batcher_new(m->backend, LOCK_BATCH_MAX, target);
        if (r < 0)
                return log_error_errno(r, "cannot set up request batching: %s", strerror(-r));
        /* A lone event-loop thread must never wait for a write. */
        lock_batcher_set_write_inline(*target, m->boot->threads > 1);
        st->batcher = *target;
        st->owns_batcher = target == &st->batcher;
        if (st->owns_batcher) /* a batcher per group: a round trip per write */
                lock_batcher_set_gather(st->batcher, ETCD_GATHER_MAX_USEC);
        return 0;
}

/* The state of a group name, found among the live ones or created (without a batcher before the backend
 * is set up), with one more generation referring to it. */
static GroupState *state_ref(Manager *m, const char *name)
{
        GroupState *st;

        for (st = m->states; st; st = st->next)
                if (streq(st->name, name)) {
                        st->gen_refs++;
                        return st;
                }
        st = calloc(1, sizeof(*st));
        if (!st || !(st->name = strdup(name))) {
                free(st);
                return NULL;
        }
        if (m->backend && state_attach_batcher(m, st) < 0) {
                free(st->name);
                free(st);
                return NULL;
        }
        st->gen_refs = 1;
        pthread_mutex_lock(&m->gen_lock);
        st->next = m->states;
        m->states = st;
        pthread_mutex_unlock(&m->gen_lock);
        return st;
}

/* Main thread only: once no live generation names the group, nothing can submit to its batcher, and every
 * request it carried has been answered; freeing the batcher joins its writer thread. */
static void state_unref(Manager *m, GroupState *st)
{
        if (--st->gen_refs > 0)
                return;
        pthread_mutex_lock(&m->gen_lock);
        for (GroupState **p = &m->states; *p; p = &(*p)->next)
                if (*p == st) {
                        *p = st->next;
                        break;
                }
        if (st->owns_batcher)
                add_batch_stats(&m->freed, st->batcher);
        pthread_mutex_unlock(&m->gen_lock);
        if (st->owns_batcher)
                lock_batcher_free(st->batcher);
        free(st->name);
        free(st);
}

static void gen_free(Manager *m, Generation *gen)
{
        if (!gen)
                return;
        for (size_t i = 0; gen->groups && i < gen->n_groups; i++) {
                calendar_free(gen->groups[i].calendar);
                tz_free(gen->groups[i].tz);
                if (gen->groups[i].st)
                        state_unref(m, gen->groups[i].st);
        }
        free(gen->groups);
        free(gen->admin_token);
        if (gen->owns_config)
                lock_config_free(gen->config);
        free(gen);
}

/* Main thread only: frees the retired generations no request holds any more. */
static void collect_retired(Manager *m)
{
        for (Generation **p = &m->retired; *p;) {
                Generation *gen = *p;
                if (__atomic_load_n(&gen->refs, __ATOMIC_ACQUIRE) == 0) {
                        *p = gen->next;
                        gen_free(m, gen);
                } else
                        p = &gen->next;
        }
}

static int read_secret(const char *path, char **ret)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = read_full_file(path, 4096, &data, &len);
        if (r < 0)
                return log_error_errno(r, "%s: %s", path, r == -EFBIG ? "larger than 4 KiB" : strerror(-r));
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
                data[--len] = 0;
        if (len == 0 || strlen(data) != len)
                return log_error_errno(EINVAL, "%s: the token must be one line of text", path);
        *ret = TAKE_PTR(data);
        return 0;
}

/* A group's maintenance windows, as a calendar in its time zone. */
static int setup_windows(Group *g)
{
        Error e = { { 0 } };
        int r;

        r = tz_load(g->cfg->time_zone, &g->tz, &e);
        if (r < 0)
                return log_error_errno(r, "group %s: time_zone: %s", g->cfg->name, e.message);
        g->calendar = calendar_new();
        if (!g->calendar)
                return log_error_errno(ENOMEM, "out of memory");
        for (size_t w = 0; w < g->cfg->n_windows; w++) {
                const LockWindowSpec *ws = &g->cfg->windows[w];
                int days[7], start, n_days = 0;
                for (size_t d = 0; ws->days[d]; d++) {
                        if (n_days == 7 || calendar_parse_day(ws->days[d], &days[n_days]) < 0)
                                return log_error_errno(EINVAL,
                                                       "line %u: group %s: window %zu: '%s' is not a "
                                                       "day of the week",
                                                       ws->line, g->cfg->name, w, ws->days[d]);
                        n_days++;
                }
                if (calendar_parse_time(ws->start_time, &start) < 0)
                        return log_error_errno(EINVAL,
                                               "line %u: group %s: window %zu: start_time '%s' is not "
                                               "HH:MM",
                                               ws->line, g->cfg->name, w, ws->start_time);
                r = calendar_add_window(g->calendar, days, (size_t)n_days, start, (int)ws->length_minutes,
                                        &e);
                if (r < 0)
                        return log_error_errno(r, "line %u: group %s: window %zu: %s", ws->line,
                                               g->cfg->name, w, e.message);
        }
        return 0;
}

/* A generation from a configuration: its groups with their windows and states, its admin token (read from
 * its file). Errors are logged; nothing of the manager's changes but the states' list. */
static int gen_new(Manager *m, LockConfig *config, bool owns_config, Generation **ret)
{
        Generation *gen = calloc(1, sizeof(*gen));
        int r;

        if (!gen) {
                if (owns_config)
                        lock_config_free(config);
                return log_error_errno(ENOMEM, "out of memory");
        }
        gen->config = config;
        gen->owns_config = owns_config;
        gen->refs = 1;
        gen->n_groups = config->n_groups;
        gen->groups = calloc(MAX(gen->n_groups, (size_t)1), sizeof(Group));
        if (!gen->groups) {
                r = log_error_errno(ENOMEM, "out of memory");
                goto fail;
        }
        for (size_t i = 0; i < gen->n_groups; i++) {
                Group *g = &gen->groups[i];

                g->cfg = &config->groups[i];
                if (g->cfg->n_windows && (r = setup_windows(g)) < 0)
                        goto fail;
                g->st = state_ref(m, g->cfg->name);
                if (!g->st) {
                        r = log_error_errno(ENOMEM, "group %s: cannot set up its state", g->cfg->name);
                        goto fail;
                }
        }
        if (config->admin_token && !(gen->admin_token = strdup(config->admin_token))) {
                r = log_error_errno(ENOMEM, "out of memory");
                goto fail;
        }
        if (config->admin_token_file) {
                free(gen->admin_token);
                gen->admin_token = NULL;
                if ((r = read_secret(config->admin_token_file, &gen->admin_token)) < 0)
                        goto fail;
        }
        *ret = gen;
        return 0;
fail:
        gen_free(m, gen);
        return r;
}

static int load_config(const char *path, bool explicit_path, LockConfig **ret)
{
        _cleanup_free_ char *data = NULL;
        char **warnings = NULL;
        Error e = { { 0 } };
        size_t len;
        int r;

        r = daemon_read_config(path, explicit_path, &data, &len);
        if (r < 0)
                return r;
        if (r == 0)
                return lock_config_default(ret);
        r = lock_config_parse(data, len, path, ret, &warnings, &e);
        if (r < 0)
                return log_error_errno(r, "%s", e.message);
        daemon_log_warnings(warnings);
        return 0;
}

/* The service's TLS certificate and key (PEM, at most 1 MiB each). */
static int read_tls(const LockConfig *c, char **ret_cert, char **ret_key)
{
        const char *paths[2] = { c->tls_cert_path, c->tls_key_path };
        char *data[2] = { NULL, NULL };
        size_t n;

        for (size_t i = 0; i < 2; i++) {
                int r = read_full_file(paths[i], 1 << 20, &data[i], &n);
                if (r < 0) {
                        free(data[0]);
                        return log_error_errno(r, "cannot read the TLS %s %s: %s", i ? "key" : "certificate",
                                               paths[i], r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
                }
        }
        *ret_cert = data[0];
        *ret_key = data[1];
        return 0;
}

/* Main thread: releases holders past their group's maximum hold time. */
static void sweep(Manager *m)
{
        Generation *gen = m->gen; /* only this thread replaces it */

        for (size_t i = 0; i < gen->n_groups; i++) {
                Group *g = &gen->groups[i];
                LockOp op = { .group = g, .now = (int64_t)time(NULL) };
                Error e = { { 0 } };
                if (!g->cfg->policy.max_hold_secs)
                        continue;
                if (run_op(m, g, &op, &e) < 0)
                        log_warning("group %s: expiry sweep failed: %s", g->cfg->name, e.message);
                lock_op_reset(&op);
        }
}

typedef struct LockOptions {
        const char *sqlite; /* --sqlite PATH */
        bool check_only;    /* --check-config */
} LockOptions;

static int lock_option(int val, const char *arg, void *userdata)
{
        LockOptions *o = userdata;

        if (val == 0x100)
                o->sqlite = arg;
        else
                o->check_only = true;
        return 0;
}

/* --check-config: what the configuration amounts to, on stdout, once everything in it has been read and
 * checked (files, time zones, windows). The backend is not contacted: /readyz tells whether it answers. */
static void print_summary(const Manager *m)
{
        const LockConfig *c = m->boot;
        const Generation *gen = m->gen;

        printf("configuration OK: listening on [%s]:%u%s, %u HTTP threads, admin API %s\n", c->address,
               c->port, c->tls ? " (TLS)" : "", c->threads, gen->admin_token ? "on" : "off");
        if (c->backend == LOCK_BACKEND_SQLITE)
                printf("backend: sqlite, %s\n", c->sqlite_path);
        else {
                printf("backend: etcd3,");
                for (size_t i = 0; i < c->n_etcd_endpoints; i++)
                        printf(" %s", c->etcd_endpoints[i]);
                printf("\n");
        }
        for (size_t i = 0; i < gen->n_groups; i++) {
                const LockGroupConfig *g = gen->groups[i].cfg;
                printf("group %s: %llu slot%s", g->name, (unsigned long long)g->policy.slots,
                       g->policy.slots == 1 ? "" : "s");
                if (g->policy.max_hold_secs)
                        printf(", max hold %lld s", (long long)g->policy.max_hold_secs);
                if (g->policy.settle_secs)
                        printf(", settle %lld s", (long long)g->policy.settle_secs);
                if (g->n_windows)
                        printf(", %zu window%s (%s)", g->n_windows, g->n_windows == 1 ? "" : "s",
                               g->time_zone);
                if (g->policy.paused)
                        printf(", paused");
                if (g->n_client_tokens)
                        printf(", %zu client token%s", g->n_client_tokens,
                               g->n_client_tokens == 1 ? "" : "s");
                printf("\n");
        }
}

/* The command line's --address, --port and --sqlite win over the file, at start and at each reload. */
static int apply_overrides(LockConfig *c, const DaemonOptions *opt, const LockOptions *lo)
{
        if (opt->address) {
                free(c->address);
                if (!(c->address = strdup(opt->address)))
                        return log_error_errno(ENOMEM, "out of memory");
        }
        if (opt->port >= 0)
                c->port = (uint16_t)opt->port;
        if (lo->sqlite) {
                free(c->sqlite_path);
                if (!(c->sqlite_path = strdup(lo->sqlite)))
                        return log_error_errno(ENOMEM, "out of memory");
                c->backend = LOCK_BACKEND_SQLITE;
        }
        return 0;
}

/* Logs what a reload changes in the groups. */
static void log_group_changes(const Generation *old, const Generation *new)
{
        for (size_t i = 0; i < new->n_groups; i++) {
                const LockGroupConfig *n = new->groups[i].cfg,
                                      *o = lock_config_find_group(old->config, n->name);
                if (!o) {
                        log_info("reload: group %s added (%llu slots)", n->name,
                                 (unsigned long long)n->policy.slots);
                        continue;
                }
                if (o->policy.slots != n->policy.slots)
                        log_info("reload: group %s: slots %llu -> %llu", n->name,
                                 (unsigned long long)o->policy.slots, (unsigned long long)n->policy.slots);
                if (o->policy.paused != n->policy.paused)
                        log_info("reload: group %s: %s in the configuration", n->name,
                                 n->policy.paused ? "paused" : "no longer paused");
        }
        for (size_t i = 0; i < old->n_groups; i++)
                if (!lock_config_find_group(new->config, old->groups[i].cfg->name))
                        log_notice("reload: group %s removed: its requests now get unknown_group; what the "
                                   "backend stores for it stays",
                                   old->groups[i].cfg->name);
}

/* SIGHUP: reads the configuration again, as a restart would, and applies what can change while running (the
 * groups, their windows, pause flags and tokens, the admin token); keys that need a restart are named and
 * keep their running values. A configuration that does not load changes nothing. */
static void reload(Manager *m, const DaemonOptions *opt, const LockOptions *lo)
{
        _cleanup_strv_free_ char **keys = NULL;
        LockConfig *c = NULL;
        Generation *gen = NULL, *old;
        int r;

        daemon_notifyf("RELOADING=1\nSTATUS=reloading the configuration");
        log_info("SIGHUP: reloading the configuration%s%s", opt->config_path ? " from " : "",
                 opt->config_path ?: "");
        r = load_config(opt->config_path, opt->explicit_config, &c);
        if (r >= 0 && (r = apply_overrides(c, opt, lo)) < 0)
                lock_config_free(c);
        if (r >= 0)
                r = gen_new(m, c, true, &gen); /* owns c from here, even on failure */
        if (r < 0) {
                __atomic_add_fetch(&m->reloads[1], 1, __ATOMIC_RELAXED);
                __atomic_store_n(&m->last_reload_failed, true, __ATOMIC_RELAXED);
                log_error("reload failed: still running the previous configuration");
                daemon_notifyf("READY=1\nSTATUS=coordinating reboots for %zu groups (%s); the last reload "
                               "failed",
                               m->gen->n_groups, m->backend->ops->name);
                return;
        }
        if (lock_config_restart_keys(m->boot, gen->config, &keys) >= 0)
                for (size_t i = 0; keys && keys[i]; i++)
                        log_warning("reload: %s changed: it takes effect at the next start", keys[i]);
        log_group_changes(m->gen, gen);

        pthread_mutex_lock(&m->gen_lock);
        old = m->gen;
        m->gen = gen;
        pthread_mutex_unlock(&m->gen_lock);
        old->next = m->retired;
        m->retired = old;
        gen_put(old);
        collect_retired(m);

        __atomic_add_fetch(&m->reloads[0], 1, __ATOMIC_RELAXED);
        __atomic_store_n(&m->last_reload_failed, false, __ATOMIC_RELAXED);
        log_info("configuration reloaded: %zu groups, admin API %s", gen->n_groups,
                 gen->admin_token ? "on" : "off");
        sweep(m); /* a shorter max_hold_secs applies at once */
        daemon_notifyf("READY=1\nSTATUS=coordinating reboots for %zu groups (%s)", gen->n_groups,
                       m->backend->ops->name);
}

int main(int argc, char **argv)
{
        static const DaemonHelp help = {
                .name = "upkeep-lock",
                .description = "The Upkeep FleetLock reboot coordinator.",
                .default_config = LOCK_CONFIG_DEFAULT_PATH,
                .extra =
                        "      --sqlite PATH      use the SQLite backend with this database (overrides the "
                        "config)\n"
                        "      --check-config     read and check the configuration, print a summary, exit\n",
        };
        static const struct option extra[] = {
                { "sqlite", required_argument, NULL, 0x100 },
                { "check-config", no_argument, NULL, 0x101 },
        };
        static const double lbounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                          0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5 };
        LockOptions lo = { 0 };
        _cleanup_close_ int sfd = -EBADF, tfd = -EBADF, efd = -EBADF;
        _cleanup_free_ char *cert = NULL, *key = NULL;
        DaemonOptions opt;
        Manager m = { 0 };
        Error e = { { 0 } };
        int r, exit_code = EXIT_FAILURE;

        daemon_seed_hash_keys();
        r = daemon_parse_options(argc, argv, &help, extra, ELEMENTSOF(extra), lock_option, &lo, &opt);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        sfd = daemon_signalfd();
        if (sfd < 0)
                return log_error_errno(sfd, "signalfd: %m"), EXIT_FAILURE;
        /* A file size limit (RLIMIT_FSIZE) reached by the database: the write fails (503, nothing changed)
         * instead of the signal killing the daemon. */
        signal(SIGXFSZ, SIG_IGN);
        pthread_mutex_init(&m.gen_lock, NULL);
        if (load_config(opt.config_path, opt.explicit_config, &m.boot) < 0)
                return EXIT_FAILURE;
        if (apply_overrides(m.boot, &opt, &lo) < 0)
                goto out;
        m.started_at = time(NULL);
        histogram_init(&m.latency, lbounds, ELEMENTSOF(lbounds));

        if (gen_new(&m, m.boot, false, &m.gen) < 0)
                goto out;
        if (lo.check_only) {
                if (m.boot->tls && read_tls(m.boot, &cert, &key) < 0)
                        goto out;
                print_summary(&m);
                exit_code = EXIT_SUCCESS;
                goto out;
        }

        if (m.boot->backend == LOCK_BACKEND_SQLITE) {
                r = lock_backend_sqlite_new(m.boot->sqlite_path, &m.backend, &e);
                if (r < 0) {
                        log_error("cannot open the SQLite backend: %s", e.message);
                        goto out;
                }
        } else {
                const LockConfig *lc = m.boot;
                EtcdOptions eo = {
                        .endpoints = (const char *const *)lc->etcd_endpoints,
                        .n_endpoints = lc->n_etcd_endpoints,
                        .transaction_timeout_ms = lc->etcd_timeout_ms,
                        .ca_file = lc->etcd_ca_path && *lc->etcd_ca_path ? lc->etcd_ca_path : NULL,
                        .client_cert = lc->etcd_cert_path && *lc->etcd_cert_path ? lc->etcd_cert_path : NULL,
                        .client_key = lc->etcd_key_path && *lc->etcd_key_path ? lc->etcd_key_path : NULL,
                };
                r = lock_backend_etcd_new(&eo, &m.backend, &e);
                if (r < 0) {
                        log_error("cannot set up the etcd3 backend: %s", e.message);
                        goto out;
                }
        }
        log_info("backend: %s", m.backend->ops->name);
        for (GroupState *st = m.states; st; st = st->next)
                if (state_attach_batcher(&m, st) < 0)
                        goto out;

        if (m.boot->tls && read_tls(m.boot, &cert, &key) < 0)
                goto out;
        HttpServerConfig scfg = {
                .address = m.boot->address,
                .port = m.boot->port,
                .threads = m.boot->threads,
                .max_header_bytes = 8192,
                .max_body_bytes = FLEETLOCK_MAX_BODY,
                .tls_cert_pem = cert,
                .tls_key_pem = key,
                .allow_deferred = true,
                .handler = handle,
                .userdata = &m,
        };
        r = http_server_start(&scfg, &m.server, &e);
        if (r < 0) {
                log_error("cannot listen on [%s]:%u: %s", m.boot->address, m.boot->port, e.message);
                goto out;
        }
        log_info("listening on [%s]:%u%s", m.boot->address, http_server_port(m.server),
                 cert ? " (TLS)" : "");
        if (m.boot->status_enabled) {
                HttpServerConfig st = { .address = m.boot->status_address,
                                        .port = m.boot->status_port,
                                        .handler = handle_status_only,
                                        .userdata = &m };
                r = http_server_start(&st, &m.status_server, &e);
                if (r < 0) {
                        log_error("cannot listen on [%s]:%u for status: %s", m.boot->status_address,
                                  m.boot->status_port, e.message);
                        goto out;
                }
        }
        if (opt.port_file && (r = daemon_write_port_file(opt.port_file, http_server_port(m.server))) < 0) {
                log_error_errno(r, "cannot write %s: %s", opt.port_file, strerror(-r));
                goto out;
        }
        sweep(&m);
        daemon_notifyf("READY=1\nSTATUS=coordinating reboots for %zu groups (%s)", m.gen->n_groups,
                       m.backend->ops->name);

        efd = epoll_create1(EPOLL_CLOEXEC);
        tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (efd < 0 || tfd < 0) {
                log_error("cannot set up the event loop: %m");
                goto out;
        }
        {
                struct itimerspec its = { .it_value = { SWEEP_INTERVAL_SECS, 0 },
                                          .it_interval = { SWEEP_INTERVAL_SECS, 0 } };
                struct epoll_event ev1 = { .events = EPOLLIN, .data.fd = sfd },
                                   ev2 = { .events = EPOLLIN, .data.fd = tfd };
                timerfd_settime(tfd, 0, &its, NULL);
                if (epoll_ctl(efd, EPOLL_CTL_ADD, sfd, &ev1) < 0 ||
                    epoll_ctl(efd, EPOLL_CTL_ADD, tfd, &ev2) < 0) {
                        log_error("epoll: %m");
                        goto out;
                }
        }
        for (;;) {
                struct epoll_event evs[2];
                int n = epoll_wait(efd, evs, 2, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error("epoll_wait: %m");
                        goto out;
                }
                for (int i = 0; i < n; i++) {
                        if (evs[i].data.fd == tfd) {
                                uint64_t ticks;
                                while (read(tfd, &ticks, sizeof(ticks)) > 0)
                                        ;
                                sweep(&m);
                                collect_retired(&m);
                        } else {
                                struct signalfd_siginfo si;
                                while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                        if (si.ssi_signo == SIGHUP) {
                                                reload(&m, &opt, &lo);
                                                continue;
                                        }
                                        log_info("received %s, stopping", strsignal((int)si.ssi_signo));
                                        daemon_notifyf("STOPPING=1\nSTATUS=stopping");
                                        exit_code = EXIT_SUCCESS;
                                        goto out;
                                }
                        }
                }
        }
out:
        http_server_stop(m.server, 5000);
        http_server_stop(m.status_server, 1000);
        /* Generations still held by requests the server gave up waiting for are left to the exit. */
        if (m.gen) {
                gen_put(m.gen);
                m.gen->next = m.retired;
                m.retired = m.gen;
                m.gen = NULL;
        }
        collect_retired(&m);
        if (!m.retired) {
                lock_batcher_free(m.shared_batcher);
                lock_backend_free(m.backend);
                lock_config_free(m.boot);
        }
        return exit_code;
}
