/* graph-report-server.c — POST /v1/report: checks, rate limit and the store's writer thread (see
 * report-server.h). */
#include "graph-report-server.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "log.h"
#include "macros.h"
#include "metrics.h"
#include "graph-build.h"
#include "graph-report-store.h"
#include "graph-report.h"
#include "siphash13.h"
#include "strutil.h"
#include "time-util.h"

/* The answers counted; GRAPH_REPORT_ANSWER_OTHER counts the 500s. */
typedef enum GraphReportAnswer {
        GRAPH_REPORT_ANSWER_202,
        GRAPH_REPORT_ANSWER_400,
        GRAPH_REPORT_ANSWER_401,
        GRAPH_REPORT_ANSWER_405,
        GRAPH_REPORT_ANSWER_413,
        GRAPH_REPORT_ANSWER_415,
        GRAPH_REPORT_ANSWER_429,
        GRAPH_REPORT_ANSWER_503,
        GRAPH_REPORT_ANSWER_OTHER,
        _GRAPH_REPORT_ANSWER_MAX,
} GraphReportAnswer;

static const unsigned answer_codes[_GRAPH_REPORT_ANSWER_MAX] = {
        [GRAPH_REPORT_ANSWER_202] = 202, [GRAPH_REPORT_ANSWER_400] = 400, [GRAPH_REPORT_ANSWER_401] = 401,
        [GRAPH_REPORT_ANSWER_405] = 405, [GRAPH_REPORT_ANSWER_413] = 413, [GRAPH_REPORT_ANSWER_415] = 415,
        [GRAPH_REPORT_ANSWER_429] = 429, [GRAPH_REPORT_ANSWER_503] = 503, [GRAPH_REPORT_ANSWER_OTHER] = 0,
};

/* One report waiting for the store, with the parked request it answers. */
typedef struct Pending {
        struct Pending *next;
        HttpDeferred *deferred;
        int64_t received;
        GraphReport report;
} Pending;

struct GraphReportService {
        GraphReportStore *store;
        GraphStreams *streams;
        GraphPausesChanged changed;
        void *userdata;
        pthread_mutex_t canary_lock;
        GraphCanary canary; /* guarded by canary_lock (taken after policy_lock) */
        pthread_mutex_t policy_lock;
        GraphPolicy *policies; /* guarded by policy_lock; deep copies */
        size_t n_policies;
        char **tokens; /* a copy: a reload frees the configuration's */
        size_t n_tokens;
        pthread_mutex_t limit_lock;
        GraphReportLimiter limiter;         /* per node, guarded by limit_lock */
        GraphReportLimiter address_limiter; /* per client address, guarded by limit_lock */
        pthread_mutex_t queue_lock;
        pthread_cond_t queue_cond;
        Pending *head, *tail; /* guarded by queue_lock */
        size_t queued;
        bool stopping, thread_started;
        pthread_t thread;
        uint64_t answers[_GRAPH_REPORT_ANSWER_MAX]; /* atomic */
};

static void count_answer(GraphReportService *s, unsigned status)
{
        GraphReportAnswer a = GRAPH_REPORT_ANSWER_OTHER;

        for (GraphReportAnswer i = 0; i < GRAPH_REPORT_ANSWER_OTHER; i++)
                if (answer_codes[i] == status)
                        a = i;
        __atomic_add_fetch(&s->answers[a], 1, __ATOMIC_RELAXED);
}

/* 202 {"accepted": true, "duplicate": ...}. */
static int reply_accepted(HttpReply *reply, bool duplicate)
{
        reply->status = 202;
        reply->content_type = "application/json";
        reply->owned = strdup(duplicate ? "{\"accepted\":true,\"duplicate\":true}"
                                        : "{\"accepted\":true,\"duplicate\":false}");
        reply->owned_len = reply->owned ? strlen(reply->owned) : 0;
        return reply->owned ? 0 : -ENOMEM;
}

static void policies_free(GraphPolicy *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(p[i].stream);
                free(p[i].group);
        }
        free(p);
}

int graph_report_service_set_policies(GraphReportService *s, const GraphPolicy *p, size_t n)
{
        GraphPolicy *copy = calloc(n + 1, sizeof(GraphPolicy));

        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                copy[i] = p[i];
                copy[i].stream = strdup(p[i].stream);
                copy[i].group = p[i].group ? strdup(p[i].group) : NULL;
                if (!copy[i].stream || (p[i].group && !copy[i].group)) {
                        policies_free(copy, i + 1);
                        return -ENOMEM;
                }
        }
        GraphPolicy *old;
        size_t n_old;

        pthread_mutex_lock(&s->policy_lock);
        old = s->policies;
        n_old = s->n_policies;
        s->policies = copy;
        s->n_policies = n;
        pthread_mutex_unlock(&s->policy_lock);
        policies_free(old, n_old);
        return 0;
}

GraphReportStore *graph_report_service_store(GraphReportService *s)
{
        return s->store;
}

/* A copy of the throttle parameters of release's node in stream's current graph (the first basearch's,
 * checksum scheme: every graph of a stream has the same rollouts); false when it has none. */
static bool find_node(GraphReportService *s, const char *stream, const char *release, GraphNode *ret)
{
        bool found = false;
        Stream *st;

        graph_streams_read_lock(s->streams);
        st = graph_streams_find(s->streams, stream);
        StreamGraph *sg = st ? stream_get(st) : NULL;
        if (sg && sg->n_arches > 0) {
                const Graph *g = stream_graph_view(sg, 0, GRAPH_SCHEME_CHECKSUM)->graph;
                for (size_t i = 0; i < g->n_nodes && !found; i++)
                        if (streq(g->nodes[i].version, release)) {
                                *ret = g->nodes[i];
                                ret->version = ret->payload = NULL; /* owned by the graph */
                                ret->n_meta = 0;
                                found = true;
                        }
        }
        stream_graph_unref(sg);
        graph_streams_read_unlock(s->streams);
        return found;
}

/* Attempts at a pause or resume while other instances keep writing the record (etcd). */
#define PAUSE_ATTEMPTS 3

int graph_report_service_pause(GraphReportService *s, const char *stream, const char *release,
                               const char *reason, int64_t now, Error *e)
{
        GraphPause p, old;
        GraphNode node;
        bool found;
        int r;

        for (unsigned i = 0; i < PAUSE_ATTEMPTS; i++) {
                if (graph_report_store_find_pause(s->store, stream, release, &old) &&
                    graph_pause_active(&old))
                        return 0;
                found = find_node(s, stream, release, &node);
                r = graph_pause_init(&p, stream, release, found ? &node : NULL, now, reason);
                if (r < 0)
                        return error_setf(e, r, "stream or release too long");
                r = graph_report_store_put_pause(s->store, &p, e);
                if (r < 0)
                        return r;
                if (s->changed)
                        s->changed(s->userdata);
                if (r == GRAPH_PAUSE_LOST) /* another instance wrote the record first: see it again */
                        continue;
                log_warning("rollout of %s %s paused at %.1f%%: %s", stream, release, 100.0 * p.frozen,
                            reason);
                return 1;
        }
        return 0;
}

int graph_report_service_resume(GraphReportService *s, const char *stream, const char *release, int64_t now,
                                Error *e)
{
        GraphPause p;
        int r;

        for (unsigned i = 0; i < PAUSE_ATTEMPTS; i++) {
                if (!graph_report_store_find_pause(s->store, stream, release, &p) || !graph_pause_active(&p))
                        return 0;
                graph_pause_resume(&p, now);
                r = graph_report_store_put_pause(s->store, &p, e);
                if (r < 0)
                        return r;
                if (s->changed)
                        s->changed(s->userdata);
                if (r == GRAPH_PAUSE_LOST) /* another instance wrote the record first: see it again */
                        continue;
                log_info("rollout of %s %s resumed from %.1f%% over the remaining %lld s", stream, release,
                         100.0 * p.frozen, (long long)p.remaining_secs);
                return 1;
        }
        return 0;
}

/* Pauses (stream, release) when a policy of its stream trips (only those of group, or of any group when
 * group is NULL), unless the release has a pause record already (paused, or resumed by someone: their
 * call stands). */
static void check_policies(GraphReportService *s, const char *stream, const char *release, const char *group,
                           int64_t now)
{
        char reason[GRAPH_PAUSE_REASON_MAX] = "";
        Error e = { { 0 } };
        bool trips = false;

        if (graph_report_store_find_pause(s->store, stream, release, NULL))
                return;
        pthread_mutex_lock(&s->policy_lock);
        for (size_t i = 0; i < s->n_policies && !trips; i++) {
                const GraphPolicy *p = &s->policies[i];
                if (!streq(p->stream, stream) || (group && p->group && !streq(p->group, group)))
                        continue;
                trips = graph_policy_trips(p, graph_report_store_tally(s->store, p, release), reason,
                                           sizeof(reason));
        }
        pthread_mutex_unlock(&s->policy_lock);
        if (trips && graph_report_service_pause(s, stream, release, reason, now, &e) < 0)
                log_error("cannot pause the rollout of %s %s: %s", stream, release, e.message);
}

/* After a new failure report: its release's policies. */
static void apply_policies(GraphReportService *s, const GraphReport *rep, int64_t now)
{
        if (graph_report_outcome_is_failure(rep->outcome))
                check_policies(s, rep->stream, rep->to_version, rep->group, now);
}

void graph_report_service_canary(GraphReportService *s, const char *stream, const Graph *g,
                                 const char *node_uuid, double wariness, int64_t now, bool *also_hidden)
{
        const GraphPolicy *p = NULL;
        uint64_t node = 0;

        assert(s && stream && g && also_hidden);
        pthread_mutex_lock(&s->policy_lock);
        for (size_t i = 0; i < s->n_policies && !p; i++)
                if (s->policies[i].canary > 0 && streq(s->policies[i].stream, stream))
                        p = &s->policies[i];
        if (p && node_uuid && *node_uuid) /* never 0: 0 is "no node_uuid" */
                node = siphash13(s->limiter.k0, s->limiter.k1, node_uuid, strlen(node_uuid)) | 1;
        pthread_mutex_lock(&s->canary_lock);
        for (size_t k = 0; p && k < g->n_rollouts; k++) {
                const GraphNode *n = &g->nodes[g->rollouts[k]];
                double throttle = graph_node_throttle(n, now);
                GraphCanaryGate *gate;
                if (throttle >= 1.0 || wariness > throttle) /* not in progress, or hidden anyway */
                        continue;
                gate = graph_canary_gate(&s->canary, stream, n->version);
                if (gate && !gate->open &&
                    graph_report_store_tally(s->store, p, n->version).succeeded >= p->canary)
                        gate->open = true;
                also_hidden[k] = !gate || !graph_canary_admit(gate, p->canary, node);
        }
        pthread_mutex_unlock(&s->canary_lock);
        pthread_mutex_unlock(&s->policy_lock);
}

/* Stores p and fills reply: 202, or 503 when the store fails. */
static int store_one(GraphReportService *s, const Pending *p, HttpReply *reply)
{
        Error e = { { 0 } };
        int r = graph_report_store_add(s->store, &p->report, p->received, &e);

        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_warning("cannot store a report: %s", e.message);
                return http_reply_error(reply, 503, "store_unavailable", "reports cannot be stored now");
        }
        if (r > 0)
                apply_policies(s, &p->report, p->received);
        return reply_accepted(reply, r == 0);
}

static void *writer_thread(void *userdata)
{
        GraphReportService *s = userdata;

        pthread_mutex_lock(&s->queue_lock);
        for (;;) {
                Pending *p = s->head;
                if (!p) {
                        if (s->stopping)
                                break;
                        pthread_cond_wait(&s->queue_cond, &s->queue_lock);
                        continue;
                }
                s->head = p->next;
                if (!s->head)
                        s->tail = NULL;
                s->queued--;
                pthread_mutex_unlock(&s->queue_lock);

                HttpReply reply = { 0 };
                int r = store_one(s, p, &reply);
                count_answer(s, r < 0 ? 500 : reply.status);
                http_deferred_finish(p->deferred, r, &reply);
                free(p);
                pthread_mutex_lock(&s->queue_lock);
        }
        pthread_mutex_unlock(&s->queue_lock);
        return NULL;
}

/* Queues p for the writer thread; false when the queue is full. */
static bool enqueue(GraphReportService *s, Pending *p)
{
        bool ok;

        pthread_mutex_lock(&s->queue_lock);
        ok = s->queued < GRAPH_REPORT_QUEUE_MAX && !s->stopping;
        if (ok) {
                p->next = NULL;
                if (s->tail)
                        s->tail->next = p;
                else
                        s->head = p;
                s->tail = p;
                s->queued++;
                pthread_cond_signal(&s->queue_cond);
        }
        pthread_mutex_unlock(&s->queue_lock);
        return ok;
}

void graph_report_service_free(GraphReportService *s)
{
        if (!s)
                return;
        if (s->thread_started) {
                pthread_mutex_lock(&s->queue_lock);
                s->stopping = true;
                pthread_cond_signal(&s->queue_cond);
                pthread_mutex_unlock(&s->queue_lock);
                pthread_join(s->thread, NULL);
        }
        graph_report_store_close(s->store);
        graph_report_limiter_done(&s->limiter);
        graph_report_limiter_done(&s->address_limiter);
        policies_free(s->policies, s->n_policies);
        pthread_mutex_destroy(&s->policy_lock);
        graph_canary_done(&s->canary);
        pthread_mutex_destroy(&s->canary_lock);
        strv_free(s->tokens);
        pthread_mutex_destroy(&s->limit_lock);
        pthread_mutex_destroy(&s->queue_lock);
        pthread_cond_destroy(&s->queue_cond);
        free(s);
}

static void store_pauses_changed(void *userdata)
{
        GraphReportService *s = userdata;

        if (s->changed)
                s->changed(s->userdata);
}

/* Counts another instance changed (etcd): every release with failures is checked against its policies,
 * so that reports split across instances trip them as reports to one would. */
static void store_counts_changed(void *userdata)
{
        GraphReportService *s = userdata;
        GraphReportCounts c;
        int64_t now = (int64_t)(now_usec(CLOCK_REALTIME) / 1000000);

        /* The first refresh may come before open_store() stored the store (it does so atomically). */
        if (!__atomic_load_n(&s->store, __ATOMIC_ACQUIRE) || graph_report_store_counts(s->store, &c) < 0)
                return;
        for (size_t i = 0; i < c.n; i++) {
                bool failed = false;
                for (GraphReportOutcome o = 0; o < _GRAPH_REPORT_OUTCOME_MAX; o++)
                        failed = failed || (graph_report_outcome_is_failure(o) && c.items[i].n[o] > 0);
                if (failed && !streq(c.items[i].stream, GRAPH_REPORT_COUNTS_OTHER))
                        check_policies(s, c.items[i].stream, c.items[i].release, NULL, now);
        }
        graph_report_counts_done(&c);
}

static void store_health(void *userdata, bool up, const char *message)
{
        if (up)
                log_info("the report store answers again");
        else
                log_error("the report store does not answer (reports get 503, graphs keep the pauses "
                          "known): %s",
                          message);
}

/* The backend [reports] backend names: SQLite at reports.database, or etcd ([etcd3]). s->store is
 * written atomically: the etcd store's refresh thread may call the hooks, which read it, before this
 * returns. */
static int open_store(GraphReportService *s, const GraphConfig *c, Error *e)
{
        const GraphReportStoreHooks hooks = { .pauses_changed = store_pauses_changed,
                                              .counts_changed = store_counts_changed,
                                              .health = store_health,
                                              .userdata = s };
        GraphReportEtcdOptions o;
        GraphReportStore *store;
        int r;

        if (c->reports_backend != GRAPH_REPORTS_ETCD)
                r = graph_report_store_open(c->reports_database, &store, e);
        else {
                o = (GraphReportEtcdOptions){
                        .endpoints = (const char *const *)c->etcd_endpoints,
                        .n_endpoints = c->n_etcd_endpoints,
                        .transaction_timeout_ms = c->etcd_timeout_ms,
                        .ca_file = c->etcd_ca_path && *c->etcd_ca_path ? c->etcd_ca_path : NULL,
                        .client_cert = c->etcd_cert_path && *c->etcd_cert_path ? c->etcd_cert_path : NULL,
                        .client_key = c->etcd_key_path && *c->etcd_key_path ? c->etcd_key_path : NULL,
                        .prefix = c->etcd_prefix,
                        .refresh_ms = c->etcd_refresh_ms,
                };
                r = graph_report_store_open_etcd(&o, &hooks, &store, e);
        }
        if (r >= 0)
                __atomic_store_n(&s->store, store, __ATOMIC_RELEASE);
        return r;
}

int graph_report_service_new(const GraphConfig *config, GraphStreams *gs, GraphPausesChanged changed,
                             void *userdata, GraphReportService **ret, Error *e)
{
        GraphReportService *s;
        uint64_t key[2] = { 0 };
        int r;

        assert(config && ret);
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->streams = gs;
        s->changed = changed;
        s->userdata = userdata;
        pthread_mutex_init(&s->policy_lock, NULL);
        pthread_mutex_init(&s->canary_lock, NULL);
        pthread_mutex_init(&s->limit_lock, NULL);
        pthread_mutex_init(&s->queue_lock, NULL);
        pthread_cond_init(&s->queue_cond, NULL);
        if (getrandom(key, sizeof(key), 0) != sizeof(key))
                r = error_setf(e, -errno, "cannot seed the rate limiter: %m");
        else
                r = graph_report_limiter_init(&s->limiter, config->reports_max_nodes,
                                              config->reports_per_minute, config->reports_per_minute, key[0],
                                              key[1]);
        if (r >= 0)
                r = graph_report_limiter_init(&s->address_limiter, config->reports_max_nodes,
                                              config->reports_per_address_per_minute,
                                              config->reports_per_address_per_minute, key[1], key[0]);
        for (size_t i = 0; r >= 0 && i < config->n_reports_tokens; i++)
                r = strv_push(&s->tokens, &s->n_tokens, config->reports_tokens[i]);
        if (r >= 0)
                r = graph_report_service_set_policies(s, config->policies, config->n_policies);
        if (r >= 0)
                r = open_store(s, config, e);
        if (r >= 0) {
                r = -pthread_create(&s->thread, NULL, writer_thread, s);
                s->thread_started = r >= 0;
        }
        if (r < 0) {
                graph_report_service_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

/* application/json, with parameters or not. */
static bool is_json(const char *content_type)
{
        size_t n = strlen("application/json");

        return content_type && strncasecmp(content_type, "application/json", n) == 0 &&
               (content_type[n] == 0 || content_type[n] == ';' || content_type[n] == ' ');
}

/* The checks before the store (see graph-report-server.h). 1 with *ret filled when the report may be stored,
 * 0 when reply holds the refusal, or a negative errno. */
static int check_request(GraphReportService *s, const HttpRequest *req, int64_t realtime_usec, Pending *ret,
                         HttpReply *reply)
{
        const char *field = NULL;
        char address[GRAPH_REPORT_NODE_LEN + 1];
        Error e = { { 0 } };
        bool allowed, address_ok, has_address;
        int64_t mono;
        int r;

        if (!streq(req->method, "POST")) {
                http_reply_add_header(reply, "Allow", "POST");
                return http_reply_error(reply, 405, "method_not_allowed", "use POST");
        }
        if (!graph_report_token_ok(s->tokens, s->n_tokens, http_request_header(req, "Authorization"))) {
                http_reply_add_header(reply, "WWW-Authenticate", "Bearer");
                return http_reply_error(reply, 401, "unauthorized", "a valid bearer token is required");
        }
        if (req->body_len > GRAPH_REPORT_MAX_BODY_BYTES)
                return http_reply_error(reply, 413, "payload_too_large", "a report is at most 8192 bytes");
        if (!is_json(http_request_header(req, "Content-Type")))
                return http_reply_error(reply, 415, "invalid_content_type",
                                        "Content-Type must be application/json");
        r = graph_report_parse(req->body ? req->body : "", req->body_len, &ret->report, &field, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return http_reply_error(reply, 400, "invalid_report", e.message);
        has_address = req->peer_counted; /* the address's key, as the connection limits count it */
        if (has_address)
                snprintf(address, sizeof(address), "%032" PRIx64, req->peer_key);
        pthread_mutex_lock(&s->limit_lock);
        /* The monotonic clock: setting the wall clock back must not lock nodes out. A flood from one
         * address under many node ids is stopped by the address's bucket, and one node's by its own. */
        mono = (int64_t)now_usec(CLOCK_MONOTONIC);
        address_ok = !has_address || graph_report_limiter_take(&s->address_limiter, address, mono);
        allowed = address_ok && graph_report_limiter_take(&s->limiter, ret->report.node, mono);
        pthread_mutex_unlock(&s->limit_lock);
        if (!allowed) {
                http_reply_add_header(reply, "Retry-After", "60");
                return http_reply_error(reply, 429, "rate_limited",
                                        address_ok ? "too many reports from this node"
                                                   : "too many reports from this address");
        }
        ret->received = realtime_usec / 1000000;
        return 1;
}

int graph_report_service_handle(GraphReportService *s, const HttpRequest *req, int64_t realtime_usec,
                                HttpReply *reply)
{
        _cleanup_free_ Pending *p = NULL;
        int r;

        assert(s && req && reply);
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        r = check_request(s, req, realtime_usec, p, reply);
        if (r > 0) {
                /* Parked while the writer thread stores it; stored here when it cannot be parked. */
                p->deferred = http_request_defer(req);
                if (!p->deferred)
                        r = store_one(s, p, reply);
                else if (enqueue(s, p)) {
                        TAKE_PTR(p);
                        return 0;
                } else {
                        r = http_reply_error(reply, 503, "store_unavailable", "too many reports queued");
                        http_deferred_finish(p->deferred, r, reply);
                        count_answer(s, r < 0 ? 500 : 503);
                        *reply = (HttpReply){ 0 };
                        return 0;
                }
        }
        count_answer(s, r < 0 ? 500 : reply->status);
        return r;
}

/* upkeep_graph_rollout_paused{stream,release,reason}: 1 while paused, 0 once resumed; and the value
 * each pause froze. */
static int write_pauses(GraphReportService *s, Buf *out)
{
        _cleanup_free_ GraphPause *p = NULL;
        size_t n;
        int r;

        r = graph_report_store_pauses(s->store, &p, &n);
        if (r >= 0)
                r = metrics_header(out, "upkeep_graph_rollout_paused", "gauge",
                                   "1 while a release's rollout is paused (reason: why), 0 once resumed.");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *labels[] = { "stream", p[i].stream, "release", p[i].release,
                                         "reason", p[i].reason, NULL };
                r = metrics_sample_u64(out, "upkeep_graph_rollout_paused", labels,
                                       graph_pause_active(&p[i]));
        }
        if (r >= 0)
                r = metrics_header(out, "upkeep_graph_rollout_frozen_percentage", "gauge",
                                   "The share of the fleet (0 to 1) a paused rollout was frozen at.");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *labels[] = { "stream", p[i].stream, "release", p[i].release, NULL };
                r = metrics_sample(out, "upkeep_graph_rollout_frozen_percentage", labels, p[i].frozen);
        }
        return r;
}

int graph_report_service_metrics_write(GraphReportService *s, Buf *out)
{
        char code[16];
        int r;

        assert(s && out);
        r = graph_report_store_metrics_write(s->store, out);
        if (r >= 0)
                r = write_pauses(s, out);
        if (r >= 0)
                r = metrics_header(out, "upkeep_graph_report_requests_total", "counter",
                                   "Answers to POST /v1/report by HTTP status.");
        for (GraphReportAnswer a = 0; r >= 0 && a < _GRAPH_REPORT_ANSWER_MAX; a++) {
                const char *labels[] = { "code", code, NULL };
                uint64_t v = __atomic_load_n(&s->answers[a], __ATOMIC_RELAXED);
                if (!v)
                        continue;
                if (answer_codes[a])
                        snprintf(code, sizeof(code), "%u", answer_codes[a]);
                else
                        strcpy(code, "other");
                r = metrics_sample_u64(out, "upkeep_graph_report_requests_total", labels, v);
        }
        return r;
}
