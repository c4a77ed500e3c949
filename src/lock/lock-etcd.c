/* lock-etcd.c — upkeep-lock's etcd3 backend, in Airlock's layout: one key per group,
 * "com.coreos.airlock/groups/<query-escaped group>/v1/semaphore", whose value is the semaphore's JSON
 * (lock-semaphore.h: Airlock's {"total_slots","holders"} plus Upkeep's own member). Airlock and upkeep-lock
 * can run against the same keys, and an operator can switch from one to the other and back.
 *
 * Every update is a compare-and-swap on the key's mod_revision (version 0 when the key is absent, as
 * Airlock creates it). The last value and revision seen for each group are kept, so in the steady state
 * an update is one etcd round trip: the transaction either writes, or fails and returns the current value
 * in the same answer, and the update is decided again on it, after a short jittered pause, until it
 * succeeds (a bounded number of times). Updates of one group by this process are serialized (a mutex per
 * group), so they do not conflict with each other. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd.h"
#include "lock-backend.h"
#include "macros.h"
#include "time-util.h"

#define MAX_ATTEMPTS 100
#define MAX_CACHED_GROUPS 4096

typedef struct CachedGroup {
        char *name;
        pthread_mutex_t lock;
        bool valid; /* state and mod_revision describe the last value seen */
        Semaphore state;
        int64_t mod_revision; /* 0: the key did not exist */
} CachedGroup;

typedef struct EtcdBackend {
        LockBackend base;
        Etcd *etcd;
        pthread_mutex_t lock; /* guards groups[] */
        CachedGroup **groups;
        size_t n_groups;
        unsigned seed;
} EtcdBackend;

/* Go's url.QueryEscape, which Airlock applies to the group name. */
static int key_for(const char *group, char *out, size_t n)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t k = 0;
        int w = snprintf(out, n, "com.coreos.airlock/groups/");

        if (w < 0 || (size_t)w >= n)
                return -ENAMETOOLONG;
        k = (size_t)w;
        for (const unsigned char *p = (const unsigned char *)group; *p; p++) {
                if (k + 4 >= n)
                        return -ENAMETOOLONG;
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    strchr("-_.~", *p))
                        out[k++] = (char)*p;
                else if (*p == ' ')
                        out[k++] = '+';
                else {
                        out[k++] = '%';
                        out[k++] = hex[*p >> 4];
                        out[k++] = hex[*p & 15];
                }
        }
        if (k + sizeof("/v1/semaphore") > n)
                return -ENAMETOOLONG;
        memcpy(out + k, "/v1/semaphore", sizeof("/v1/semaphore"));
        return 0;
}

static CachedGroup *cached_group(EtcdBackend *b, const char *name)
{
        CachedGroup *g = NULL, **n;

        pthread_mutex_lock(&b->lock);
        for (size_t i = 0; i < b->n_groups; i++)
                if (streq(b->groups[i]->name, name)) {
                        g = b->groups[i];
                        goto out;
                }
        if (b->n_groups >= MAX_CACHED_GROUPS)
                goto out;
        n = realloc(b->groups, (b->n_groups + 1) * sizeof(CachedGroup *));
        if (!n)
                goto out;
        b->groups = n;
        g = calloc(1, sizeof(*g));
        if (!g || !(g->name = strdup(name))) {
                free(g);
                g = NULL;
                goto out;
        }
        pthread_mutex_init(&g->lock, NULL);
        b->groups[b->n_groups++] = g;
out:
        pthread_mutex_unlock(&b->lock);
        return g;
}

static void cache_set(CachedGroup *g, Semaphore *s, int64_t mod_revision)
{
        semaphore_done(&g->state);
        g->state = *s;
        *s = (Semaphore){ 0 };
        g->mod_revision = mod_revision;
        g->valid = true;
}

static void cache_drop(CachedGroup *g)
{
        semaphore_done(&g->state);
        g->valid = false;
}

/* Loads a stored value (or the empty state of a missing key) into *ret. */
static int decode(const char *key, const EtcdKv *kv, bool found, uint64_t slots, Semaphore *ret, Error *e)
{
        int r;
        if (!found || kv->version == 0) {
                semaphore_init(ret, slots);
                return 0;
        }
        r = semaphore_parse(kv->value ? kv->value : "", kv->value_len, ret, e);
        if (r < 0)
                return error_prefixf(e, -EBADMSG, "etcd key %s holds a value that is not a semaphore", key);
        return 0;
}

static int refresh(EtcdBackend *b, CachedGroup *g, const char *key, uint64_t slots, Error *e)
{
        EtcdKv kv = { 0 };
        Semaphore s;
        int r = etcd_get(b->etcd, key, &kv, e);

        if (r < 0 && r != -ENOENT)
                return r;
        r = decode(key, &kv, r == 0, slots, &s, e);
        if (r >= 0)
                cache_set(g, &s, kv.mod_revision);
        etcd_kv_done(&kv);
        return r;
}

static void backoff(EtcdBackend *b, unsigned attempt)
{
        /* 50 µs doubling up to ~6 ms, jittered: colliding writers from other instances drift apart. */
        unsigned base = 50u << MIN(attempt, 7u);
        unsigned us = base / 2 + (unsigned)rand_r(&b->seed) % base;
        struct timespec ts = { 0, (long)us * 1000L };
        nanosleep(&ts, NULL);
}

/* The answer of a failed compare-and-swap carries the key as it is now: it becomes the cached state. */
static int cache_current(CachedGroup *g, const char *key, uint64_t slots, EtcdTxnResult *t, Error *e)
{
        Semaphore cur;
        int r = decode(key, &t->kv, t->found, slots, &cur, e);
        int64_t rev = t->found ? t->kv.mod_revision : 0;

        etcd_txn_result_done(t);
        if (r < 0) {
                cache_drop(g);
                return r;
        }
        cache_set(g, &cur, rev);
        return 0;
}

/* Writes s (taken over) if the key is still at the cached revision: 1 when written (ret, optional, gets a
 * copy of s), 0 when someone else wrote first (the cache now holds their value), or a negative errno. */
static int write_state(EtcdBackend *b, CachedGroup *g, const char *key, uint64_t slots, Semaphore *s,
                       Semaphore *ret, Error *e)
{
        Buf v = BUF_INIT(SEMAPHORE_VALUE_MAX);
        EtcdTxnResult t = { 0 };
        int r;

        r = semaphore_format(s, &v);
        if (r >= 0)
                r = etcd_txn_put_if(b->etcd, key, g->mod_revision ? ETCD_COMPARE_MOD : ETCD_COMPARE_VERSION,
                                    g->mod_revision, v.data, v.len, &t, e);
        buf_free(&v);
        if (r < 0) {
                semaphore_done(s);
                cache_drop(g); /* the write may or may not have happened */
                return r;
        }
        if (t.succeeded) {
                int64_t rev = t.kv.mod_revision;
                etcd_txn_result_done(&t);
                if (ret && (r = semaphore_copy(s, ret)) < 0) {
                        semaphore_done(s);
                        cache_drop(g);
                        return r;
                }
                cache_set(g, s, rev);
                return 1;
        }
        /* Someone else wrote first: the answer carries the current value; decide again on it. */
        semaphore_done(s);
        __atomic_add_fetch(&b->base.stats.conflicts, 1, __ATOMIC_RELAXED);
        r = cache_current(g, key, slots, &t, e);
        return r < 0 ? r : 0;
}

enum {
        ATTEMPT_CONFLICT, /* someone else wrote first: decide again on their value */
        ATTEMPT_DONE,
        ATTEMPT_RECHECK, /* nothing to write, but decided on a cached state: read it and decide again */
};

/* One decision on the group's state (read first when the cache is not valid): one of the above, or a
 * negative errno. *confirmed: the cached state was seen in etcd during this update. */
static int attempt(EtcdBackend *b, CachedGroup *g, const char *key, const char *group, uint64_t slots,
                   SemaphoreUpdateFn fn, void *userdata, bool *confirmed, Semaphore *ret, Error *e)
{
        Semaphore s;
        int changed, r;

        if (!g->valid) {
                r = refresh(b, g, key, slots, e);
                if (r < 0)
                        return r;
                *confirmed = true;
        }
        r = semaphore_copy(&g->state, &s);
        if (r < 0)
                return r;
        changed = fn(&s, userdata);
        if (changed < 0) {
                semaphore_done(&s);
                return error_setf(e, changed, "group %s: the update was refused", group);
        }
        if (changed > 0) {
                r = write_state(b, g, key, slots, &s, ret, e);
                if (r < 0)
                        return r;
                if (r == 0)
                        *confirmed = true;
                return r > 0 ? ATTEMPT_DONE : ATTEMPT_CONFLICT;
        }
        /* Nothing to write: the answer stands only if the state it was decided on is current, so a cached
         * state is checked once against etcd. */
        if (!*confirmed) {
                semaphore_done(&s);
                g->valid = false;
                return ATTEMPT_RECHECK;
        }
        if (ret)
                *ret = s;
        else
                semaphore_done(&s);
        return ATTEMPT_DONE;
}

static int etcd_update(LockBackend *lb, const char *group, uint64_t slots, SemaphoreUpdateFn fn,
                       void *userdata, Semaphore *ret, Error *e)
{
        EtcdBackend *b = (EtcdBackend *)lb;
        char key[512];
        CachedGroup *g;
        bool confirmed = false;
        int r;

        assert(group);
        assert(fn);
        r = key_for(group, key, sizeof(key));
        if (r < 0)
                return error_setf(e, r, "group name too long for an etcd key");
        g = cached_group(b, group);
        if (!g)
                return error_setf(e, -ENOMEM, "out of memory");
        pthread_mutex_lock(&g->lock);
        for (unsigned n = 0; n < MAX_ATTEMPTS; n++) {
                r = attempt(b, g, key, group, slots, fn, userdata, &confirmed, ret, e);
                if (r < 0)
                        goto fail;
                if (r == ATTEMPT_DONE) {
                        pthread_mutex_unlock(&g->lock);
                        return 0;
                }
                if (r == ATTEMPT_CONFLICT && n > 0)
                        backoff(b, n);
        }
        r = error_setf(e, -EAGAIN, "group %s: %d conflicting writers in a row; giving up", group,
                       MAX_ATTEMPTS);
fail:
        __atomic_add_fetch(&lb->stats.errors, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&g->lock);
        return r;
}

static int etcd_backend_get(LockBackend *lb, const char *group, Semaphore *ret, Error *e)
{
        EtcdBackend *b = (EtcdBackend *)lb;
        EtcdKv kv = { 0 };
        char key[512];
        int r;

        r = key_for(group, key, sizeof(key));
        if (r < 0)
                return error_setf(e, r, "group name too long for an etcd key");
        r = etcd_get(b->etcd, key, &kv, e);
        if (r < 0)
                return r;
        r = decode(key, &kv, true, 0, ret, e);
        etcd_kv_done(&kv);
        return r;
}

static int etcd_backend_ping(LockBackend *lb, Error *e)
{
        EtcdBackend *b = (EtcdBackend *)lb;
        EtcdStatus st;
        int r = etcd_status(b->etcd, &st, e);
        if (r >= 0 && st.leader == 0)
                return error_setf(e, -EAGAIN, "etcd has no leader");
        return r;
}

static void etcd_backend_free(LockBackend *lb)
{
        EtcdBackend *b = (EtcdBackend *)lb;
        for (size_t i = 0; i < b->n_groups; i++) {
                semaphore_done(&b->groups[i]->state);
                pthread_mutex_destroy(&b->groups[i]->lock);
                free(b->groups[i]->name);
                free(b->groups[i]);
        }
        free(b->groups);
        etcd_free(b->etcd);
        pthread_mutex_destroy(&b->lock);
        free(b);
}

static const LockBackendOps etcd_ops = {
        .name = "etcd3",
        .update = etcd_update,
        .get = etcd_backend_get,
        .ping = etcd_backend_ping,
        .free = etcd_backend_free,
};

int lock_backend_etcd_new(const EtcdOptions *o, LockBackend **ret, Error *e)
{
        EtcdBackend *b = calloc(1, sizeof(*b));
        int r;

        if (!b)
                return error_setf(e, -ENOMEM, "out of memory");
        b->base.ops = &etcd_ops;
        b->seed = (unsigned)now_nsec(CLOCK_REALTIME) ^ (unsigned)(uintptr_t)b; /* backoff jitter only */
        pthread_mutex_init(&b->lock, NULL);
        r = etcd_new(o, &b->etcd, e);
        if (r < 0) {
                pthread_mutex_destroy(&b->lock);
                free(b);
                return r;
        }
        *ret = &b->base;
        return 0;
}
