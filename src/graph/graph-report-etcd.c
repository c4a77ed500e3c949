/* graph-report-etcd.c — the report store's etcd backend, for several upkeep-graph instances serving one
 * fleet (see graph-report-store.h; the key layout is in graph-etcd-keys.h). A report and its count are
 * written in one transaction that first checks that the report's key is absent and that the count is
 * what this instance last saw, so a report sent twice, or to two instances, counts once, and no count
 * is ever half-written; a pause record is written by compare-and-swap on the revision last seen, so
 * two instances racing to pause a release both end with the record of the one that wrote first. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "etcd.h"
#include "graph-etcd-keys.h"
#include "graph-report-store.h"
#include "macros.h"

/* Attempts at a report whose count other instances keep changing meanwhile, each after a random wait of
 * up to 2^attempt ms (at most 64 ms) so that instances counting at the same pace stop colliding; then
 * -EBUSY (503). */
#define COUNT_ATTEMPTS 32
/* Attempts at a pause record that someone deletes meanwhile. */
#define PAUSE_ATTEMPTS 3
/* Keys read per round trip when loading. */
#define RANGE_PAGE 256

typedef struct EtcdBackend {
        Etcd *etcd;
        char *prefix;
        uint64_t rng; /* xorshift64 state for the waits between attempts; never 0 */
} EtcdBackend;

/* Waits a random 0 to 2^min(attempt, 6) ms before attempt. */
static void backoff(EtcdBackend *b, unsigned attempt)
{
        uint64_t ms;

        b->rng ^= b->rng << 13;
        b->rng ^= b->rng >> 7;
        b->rng ^= b->rng << 17;
        ms = b->rng % ((UINT64_C(1) << MIN(attempt, 6u)) + 1);
        if (ms > 0)
                (void)nanosleep(&(struct timespec){ .tv_sec = 0, .tv_nsec = (long)ms * 1000000L }, NULL);
}

static void backend_close(void *be)
{
        EtcdBackend *b = be;

        if (!b)
                return;
        etcd_free(b->etcd);
        free(b->prefix);
        free(b);
}

int graph_report_etcd_open(const GraphReportEtcdOptions *o, void **ret, Error *e)
{
        EtcdOptions eo;
        EtcdBackend *b;
        int r;

        assert(o && ret);
        if (!graph_etcd_prefix_valid(o->prefix))
                return error_setf(e, -EINVAL, "etcd: the key prefix must be 1 to %d printable characters",
                                  GRAPH_ETCD_PREFIX_MAX);
        b = calloc(1, sizeof(*b));
        if (!b || !(b->prefix = strdup(o->prefix))) {
                free(b);
                return error_setf(e, -ENOMEM, "etcd: out of memory");
        }
        if (getrandom(&b->rng, sizeof(b->rng), 0) != sizeof(b->rng) || b->rng == 0)
                b->rng = (uint64_t)(uintptr_t)b | 1;
        eo = (EtcdOptions){ .endpoints = o->endpoints,
                            .n_endpoints = o->n_endpoints,
                            .transaction_timeout_ms = o->transaction_timeout_ms,
                            .ca_file = o->ca_file,
                            .client_cert = o->client_cert,
                            .client_key = o->client_key };
        r = etcd_new(&eo, &b->etcd, e);
        if (r < 0) {
                backend_close(b);
                return r;
        }
        *ret = b;
        return 0;
}

typedef int (*EachFn)(EtcdBackend *b, const EtcdKeyValue *kv, void *userdata);

/* Calls each() for the keys of a section in key order, at most max of them, RANGE_PAGE per request. */
static int load_section(EtcdBackend *b, GraphEtcdSection sec, size_t max, EachFn each, void *userdata,
                        Error *e)
{
        char from[GRAPH_ETCD_PREFIX_MAX + 16], end[GRAPH_ETCD_PREFIX_MAX + 16], next[ETCD_KEY_MAX + 2];
        size_t seen = 0;
        bool more = true;
        int r;

        r = graph_etcd_section_range(b->prefix, sec, from, end, sizeof(from));
        if (r < 0)
                return error_setf(e, r, "etcd: invalid key prefix");
        snprintf(next, sizeof(next), "%s", from);
        while (more && seen < max) {
                EtcdKeyValue *l = NULL;
                size_t n = 0;

                r = etcd_range(b->etcd, next, end, MIN((size_t)RANGE_PAGE, max - seen), &l, &n, &more, e);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n && r >= 0; i++)
                        r = each(b, &l[i], userdata);
                /* Keys are printable (graph-etcd-keys.h): nothing lies between K and K "\x01". */
                if (n > 0)
                        snprintf(next, sizeof(next), "%s\x01", l[n - 1].key);
                etcd_key_values_free(l, n);
                if (r < 0)
                        return error_setf(e, r, "etcd: out of memory");
                seen += n;
                more = more && n > 0;
        }
        return 0;
}

/* A counts key: added to the counts; keys or values this code did not write are skipped. */
static int each_count(EtcdBackend *b, const EtcdKeyValue *kv, void *userdata)
{
        char stream[GRAPH_REPORT_MAX_NAME + 1], release[GRAPH_REPORT_MAX_VERSION + 1],
                group[GRAPH_REPORT_MAX_NAME + 1];
        GraphReportOutcome o;
        uint64_t v;

        if (graph_etcd_count_key_parse(b->prefix, kv->key, stream, release, group, &o) < 0 ||
            graph_etcd_count_parse(kv->kv.value, kv->kv.value_len, &v) < 0)
                return 0;
        return graph_report_counts_add(userdata, stream, release, group, o, v);
}

typedef struct PauseList {
        GraphPause *pauses;
        int64_t *revs;
        size_t n;
} PauseList;

/* A pause record: kept when it decodes and sits at its own key. */
static int each_pause(EtcdBackend *b, const EtcdKeyValue *kv, void *userdata)
{
        char key[GRAPH_ETCD_KEY_MAX];
        PauseList *l = userdata;
        GraphPause p;

        if (l->n >= GRAPH_PAUSES_MAX ||
            graph_etcd_pause_decode(kv->kv.value, kv->kv.value_len, &p, NULL) < 0 ||
            graph_etcd_pause_key(b->prefix, p.stream, p.release, key, sizeof(key)) < 0 ||
            !streq(key, kv->key))
                return 0;
        l->pauses[l->n] = p;
        l->revs[l->n++] = kv->kv.mod_revision;
        return 0;
}

static int backend_load(void *be, GraphReportCounts *counts, GraphPause *pauses, int64_t *revs,
                        size_t *ret_n, Error *e)
{
        PauseList l = { .pauses = pauses, .revs = revs };
        int r;

        r = load_section(be, GRAPH_ETCD_COUNTS, (GRAPH_REPORT_COUNTS_MAX + 1) * _GRAPH_REPORT_OUTCOME_MAX,
                         each_count, counts, e);
        if (r >= 0)
                r = load_section(be, GRAPH_ETCD_PAUSES, GRAPH_PAUSES_MAX, each_pause, &l, e);
        if (r < 0)
                return r;
        *ret_n = l.n;
        return 0;
}

/* One attempt: 1 stored, 0 stored before, -EAGAIN when the count changed (*expected then has the new
 * one). */
static int add_once(EtcdBackend *b, const char *rkey, const char *ckey, const Buf *value, uint64_t *expected,
                    uint64_t *ret_count, Error *e)
{
        char cur[24], next[24];
        EtcdKv now[2] = {};
        bool ok = false;
        int r;

        snprintf(cur, sizeof(cur), "%" PRIu64, *expected);
        snprintf(next, sizeof(next), "%" PRIu64, *expected + 1);
        EtcdTxnOp ops[2] = {
                { .key = rkey, .cmp = ETCD_COMPARE_VERSION, .value = value->data, .len = value->len },
                { .key = ckey,
                  .cmp = *expected ? ETCD_COMPARE_VALUE : ETCD_COMPARE_VERSION,
                  .expected_value = cur,
                  .expected_len = strlen(cur),
                  .value = next,
                  .len = strlen(next) },
        };
        r = etcd_txn(b->etcd, ops, 2, &ok, now, e);
        if (r < 0)
                return r;
        if (ok) {
                *ret_count = *expected + 1;
                return 1;
        }
        if (now[0].version > 0) { /* the report is there: a duplicate */
                if (now[1].version == 0 ||
                    graph_etcd_count_parse(now[1].value, now[1].value_len, ret_count) < 0)
                        *ret_count = GRAPH_REPORT_COUNT_UNKNOWN;
                r = 0;
        } else if (now[1].version == 0) {
                *expected = 0;
                r = -EAGAIN;
        } else if (graph_etcd_count_parse(now[1].value, now[1].value_len, expected) < 0)
                r = error_setf(e, -EPROTO, "etcd: %s does not hold a count", ckey);
        else
                r = -EAGAIN;
        etcd_kv_done(&now[0]);
        etcd_kv_done(&now[1]);
        return r;
}

static int backend_add(void *be, const GraphReport *r, int64_t received, const char *stream,
                       const char *release, const char *group, uint64_t known, uint64_t *ret_count, Error *e)
{
        char rkey[GRAPH_ETCD_KEY_MAX], ckey[GRAPH_ETCD_KEY_MAX];
        _cleanup_(buf_free) Buf value = BUF_INIT(GRAPH_ETCD_VALUE_MAX);
        EtcdBackend *b = be;
        uint64_t expected = known, count = 0;
        int k;

        k = graph_etcd_report_key(b->prefix, r->to_version, r->outcome, r->node, rkey, sizeof(rkey));
        if (k >= 0)
                k = graph_etcd_count_key(b->prefix, stream, release, group, r->outcome, ckey, sizeof(ckey));
        if (k < 0)
                return error_setf(e, k, "etcd: the report's keys do not fit");
        k = graph_etcd_report_encode(r, received, &value);
        if (k < 0)
                return error_setf(e, k == -ENOBUFS ? -EMSGSIZE : k, "etcd: cannot encode the report");
        for (unsigned i = 0; i < COUNT_ATTEMPTS; i++) {
                if (i > 0)
                        backoff(b, i);
                k = add_once(b, rkey, ckey, &value, &expected, &count, e);
                if (k != -EAGAIN) {
                        if (k >= 0)
                                *ret_count = count;
                        return k;
                }
        }
        return error_setf(e, -EBUSY, "etcd: %s changed %d times while counting a report", ckey,
                          COUNT_ATTEMPTS);
}

static int backend_put_pause(void *be, const GraphPause *p, int64_t known_rev, GraphPause *ret_stored,
                             int64_t *ret_rev, Error *e)
{
        char key[GRAPH_ETCD_KEY_MAX];
        _cleanup_(buf_free) Buf value = BUF_INIT(GRAPH_ETCD_VALUE_MAX);
        EtcdCompare cmp = known_rev > 0 ? ETCD_COMPARE_MOD : ETCD_COMPARE_VERSION;
        int r;

        r = graph_etcd_pause_key(((EtcdBackend *)be)->prefix, p->stream, p->release, key, sizeof(key));
        if (r >= 0)
                r = graph_etcd_pause_encode(p, &value);
        if (r < 0)
                return error_setf(e, r == -ENOBUFS ? -EMSGSIZE : r, "etcd: cannot encode the pause record");
        for (unsigned i = 0; i < PAUSE_ATTEMPTS; i++) {
                EtcdTxnResult t = {};
                Error de = {};

                r = etcd_txn_put_if(((EtcdBackend *)be)->etcd, key, cmp, known_rev, value.data, value.len,
                                    &t, e);
                if (r < 0)
                        return r;
                if (t.succeeded || (t.found && t.kv.value_len == value.len &&
                                    memcmp(t.kv.value, value.data, value.len) == 0)) {
                        /* written, or written by this very request when its first answer was lost */
                        *ret_rev = t.kv.mod_revision;
                        etcd_txn_result_done(&t);
                        return 0;
                }
                if (!t.found) { /* deleted meanwhile (by an operator): written anew */
                        cmp = ETCD_COMPARE_VERSION;
                        known_rev = 0;
                        continue;
                }
                r = graph_etcd_pause_decode(t.kv.value, t.kv.value_len, ret_stored, &de);
                *ret_rev = t.kv.mod_revision;
                etcd_txn_result_done(&t);
                if (r < 0)
                        return error_setf(e, -EPROTO, "etcd: %s: %s", key, de.message);
                return GRAPH_PAUSE_LOST;
        }
        return error_setf(e, -EBUSY, "etcd: %s keeps being deleted", key);
}

const GraphReportBackendOps graph_report_etcd_ops = {
        .name = "etcd",
        .load = backend_load,
        .add = backend_add,
        .put_pause = backend_put_pause,
        .close = backend_close,
};
