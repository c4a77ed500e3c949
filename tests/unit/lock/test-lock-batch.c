/* test-lock-batch.c — request batching (lock-batch.c) against an in-memory backend that can hold a write
 * open, fail a commit or retry like etcd: batches across groups, submission order, the bound on a round,
 * one update refused alone, a failed write failing its whole round and changing nothing, gathering,
 * submissions answered by callback, references, and the contract's NULLs aborting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "assert-aborts.h"
#include "lock-batch.h"
#include "time-util.h"

/* ---- batching: an in-memory backend ---- */

#define MAX_CALLS 64

typedef struct FakeGroup {
        char name[64];
        Semaphore state;
} FakeGroup;

typedef struct FakeBackend {
        LockBackend base;
        pthread_mutex_t lock;
        FakeGroup groups[16];
        size_t n_groups;
        /* Write number i (0-based) waits until released > i. */
        unsigned calls, released;
        pthread_cond_t cond;
        sem_t entered;             /* posted when a write starts */
        unsigned fail_call;        /* this write (1-based) fails as a whole; 0: none */
        bool retry;                /* update(): decide twice, as etcd does after a conflict */
        size_t entries[MAX_CALLS]; /* entries per write */
} FakeBackend;

/* What each update function applied, in order: "a1 b1 ...". */
static char applied[1024];
static pthread_mutex_t applied_lock = PTHREAD_MUTEX_INITIALIZER;

static FakeGroup *fake_group(FakeBackend *b, const char *name, uint64_t slots)
{
        for (size_t i = 0; i < b->n_groups; i++)
                if (streq(b->groups[i].name, name))
                        return &b->groups[i];
        assert_true(b->n_groups < ELEMENTSOF(b->groups));
        FakeGroup *g = &b->groups[b->n_groups++];
        snprintf(g->name, sizeof(g->name), "%s", name);
        semaphore_init(&g->state, slots);
        return g;
}

/* Starts write number n: counts it and waits for the test to let it through. */
static unsigned fake_begin(FakeBackend *b, size_t entries)
{
        unsigned n;

        pthread_mutex_lock(&b->lock);
        n = b->calls++;
        if (n < MAX_CALLS)
                b->entries[n] = entries;
        sem_post(&b->entered);
        while (b->released <= n)
                pthread_cond_wait(&b->cond, &b->lock);
        return n + 1;
}

/* One group on a copy of its state; *ret gets the new state when fn changed it. */
static int fake_decide(FakeGroup *g, SemaphoreUpdateFn fn, void *userdata, Semaphore *ret, bool *changed,
                       Error *e)
{
        Semaphore s;
        int k;

        assert_int_equal(semaphore_copy(&g->state, &s), 0);
        k = fn(&s, userdata);
        if (k < 0) {
                semaphore_done(&s);
                return error_setf(e, k, "group \"%s\": update refused", g->name);
        }
        *ret = s;
        *changed = k > 0;
        return 0;
}

static int fake_update(LockBackend *base, const char *group, uint64_t slots, SemaphoreUpdateFn fn,
                       void *userdata, Semaphore *ret, Error *e)
{
        FakeBackend *b = (FakeBackend *)base;
        unsigned call = fake_begin(b, 1);
        FakeGroup *g = fake_group(b, group, slots);
        Semaphore s;
        bool changed;
        int r;

        if (b->retry) { /* a conflicting writer: the first decision is thrown away */
                r = fake_decide(g, fn, userdata, &s, &changed, e);
                if (r >= 0)
                        semaphore_done(&s);
        }
        r = fake_decide(g, fn, userdata, &s, &changed, e);
        if (r >= 0 && call == b->fail_call) {
                semaphore_done(&s);
                r = error_setf(e, -EIO, "write %u failed", call);
        }
        if (r >= 0) {
                semaphore_done(&g->state);
                g->state = s;
        }
        pthread_mutex_unlock(&b->lock);
        assert_null(ret);
        return r;
}

static int fake_update_many(LockBackend *base, LockBackendUpdate *u, size_t n, Error *e)
{
        FakeBackend *b = (FakeBackend *)base;
        unsigned call = fake_begin(b, n);
        Semaphore next[16];
        bool changed[16];

        assert_true(n <= ELEMENTSOF(next));
        for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(u[i].group, u[j].group); /* one entry per group */
                u[i].result = fake_decide(fake_group(b, u[i].group, u[i].slots), u[i].fn, u[i].userdata,
                                          &next[i], &changed[i], &u[i].error);
        }
        if (call == b->fail_call) {
                Error be;
                error_setf(&be, -EIO, "write %u failed", call);
                for (size_t i = 0; i < n; i++) {
                        if (u[i].result >= 0)
                                semaphore_done(&next[i]);
                        u[i].result = -EIO;
                        u[i].error = be;
                }
                pthread_mutex_unlock(&b->lock);
                return error_setf(e, -EIO, "%s", be.message);
        }
        for (size_t i = 0; i < n; i++)
                if (u[i].result >= 0) {
                        FakeGroup *g = fake_group(b, u[i].group, u[i].slots);
                        semaphore_done(&g->state);
                        g->state = next[i];
                }
        pthread_mutex_unlock(&b->lock);
        return 0;
}

static int fake_get(LockBackend *base, const char *group, Semaphore *ret, Error *e)
{
        FakeBackend *b = (FakeBackend *)base;
        int r;

        pthread_mutex_lock(&b->lock);
        r = semaphore_copy(&fake_group(b, group, 0)->state, ret);
        pthread_mutex_unlock(&b->lock);
        return r;
}

static void fake_free(LockBackend *base)
{
        FakeBackend *b = (FakeBackend *)base;

        for (size_t i = 0; i < b->n_groups; i++)
                semaphore_done(&b->groups[i].state);
        pthread_mutex_destroy(&b->lock);
        pthread_cond_destroy(&b->cond);
        sem_destroy(&b->entered);
        free(b);
}

static const LockBackendOps fake_batching_ops = {
        .name = "fake-batching",
        .update = fake_update,
        .update_many = fake_update_many,
        .get = fake_get,
        .free = fake_free,
};

static const LockBackendOps fake_single_ops = {
        .name = "fake-single",
        .update = fake_update,
        .get = fake_get,
        .free = fake_free,
};

static FakeBackend *fake_new(bool batching)
{
        FakeBackend *b = calloc(1, sizeof(FakeBackend));

        assert_non_null(b);
        b->base.ops = batching ? &fake_batching_ops : &fake_single_ops;
        pthread_mutex_init(&b->lock, NULL);
        pthread_cond_init(&b->cond, NULL);
        assert_int_equal(sem_init(&b->entered, 0, 0), 0);
        b->released = UINT_MAX; /* let everything through unless a test holds writes */
        applied[0] = 0;
        return b;
}

static void fake_hold(FakeBackend *b, unsigned released)
{
        pthread_mutex_lock(&b->lock);
        b->released = released;
        pthread_cond_broadcast(&b->cond);
        pthread_mutex_unlock(&b->lock);
}

/* One FleetLock-like operation: lock or unlock id in its group. */
typedef struct Op {
        const char *group;
        const char *id;
        bool lock;
        int refuse; /* returned by the update function instead of deciding */
        LockDecision decision;
        LockBatcher *q;
        int result;
        Error error;
        pthread_t thread;
} Op;

static int apply_op(Semaphore *s, void *userdata)
{
        Op *op = userdata;
        const GroupPolicy policy = { .slots = s->total_slots };
        int r;

        pthread_mutex_lock(&applied_lock);
        snprintf(applied + strlen(applied), sizeof(applied) - strlen(applied), "%s%s", applied[0] ? " " : "",
                 op->id);
        pthread_mutex_unlock(&applied_lock);
        if (op->refuse)
                return op->refuse;
        if (!op->lock)
                return semaphore_unlock(s, op->id, 1000);
        r = semaphore_lock(s, op->id, &policy, true, 1000, &op->decision);
        if (r < 0)
                return r;
        return op->decision == LOCK_GRANTED;
}

static void *op_thread(void *userdata)
{
        Op *op = userdata;
        op->result = lock_batcher_run(op->q, op->group, 2, apply_op, op, &op->error);
        return NULL;
}

static uint64_t queued(LockBatcher *q)
{
        LockBatchStats st;
        lock_batcher_stats(q, &st);
        return st.queued;
}

/* Starts op's thread and waits until its submission is queued, so that submissions arrive in the
 * order of the calls. */
static void submit_queued(LockBatcher *q, Op *op)
{
        uint64_t before = queued(q);

        op->q = q;
        assert_int_equal(pthread_create(&op->thread, NULL, op_thread, op), 0);
        while (queued(q) == before)
                usleep(200);
}

/* Starts the first op, which writes alone and is held in the backend until released. */
static void submit_first(FakeBackend *b, LockBatcher *q, Op *op)
{
        op->q = q;
        assert_int_equal(pthread_create(&op->thread, NULL, op_thread, op), 0);
        while (sem_wait(&b->entered) < 0)
                continue;
}

/* ops[0] starts a write that the backend holds; ops[1..n) queue up behind it, in order. */
static void submit_round(FakeBackend *b, LockBatcher *q, Op *ops, size_t n)
{
        fake_hold(b, 0);
        submit_first(b, q, &ops[0]);
        for (size_t i = 1; i < n; i++)
                submit_queued(q, &ops[i]);
}

static void join_all(Op *ops, size_t n)
{
        for (size_t i = 0; i < n; i++)
                assert_int_equal(pthread_join(ops[i].thread, NULL), 0);
}

static void assert_fake_holders(FakeBackend *b, const char *group, const char *const *ids, size_t n)
{
        Semaphore s;
        Error e;

        assert_int_equal(fake_get(&b->base, group, &s, &e), 0);
        assert_int_equal(s.n_holders, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(s.holders[i].id, ids[i]);
        semaphore_done(&s);
}

static void test_batch_alone(void **state)
{
        FakeBackend *b = fake_new(true);
        LockBatcher *q = NULL;
        LockBatchStats st;
        Op op = { .group = "a", .id = "n1", .lock = true };
        Error e;

        assert_int_equal(lock_batcher_new(&b->base, LOCK_BATCH_MAX + 1, &q), -EINVAL);
        assert_int_equal(lock_batcher_new(&b->base, 0, &q), 0);
        /* nobody else: written at once by the submitter */
        assert_int_equal(lock_batcher_run(q, "a", 2, apply_op, &op, &e), 0);
        assert_int_equal(op.decision, LOCK_GRANTED);
        assert_int_equal(lock_batcher_run(q, "a", 2, apply_op, &op, &e), 0);
        assert_int_equal(op.decision, LOCK_ALREADY_HELD);
        lock_batcher_stats(q, &st);
        assert_int_equal(st.writes, 2);
        assert_int_equal(st.rounds, 2);
        assert_int_equal(st.updates, 2);
        assert_int_equal(st.queued, 0);
        assert_int_equal(b->entries[0], 1);
        assert_aborts(lock_batcher_run(q, "a", 2, NULL, &op, &e));
        assert_aborts(lock_batcher_run(q, NULL, 2, apply_op, &op, &e));
        assert_aborts(lock_batcher_new(NULL, 0, &q));
        lock_batcher_unref(q);
        fake_free(&b->base);
}

/* While a write is in flight, submissions for three groups pile up: the next round writes them all in
 * one backend call, one entry per group, each group's updates in submission order. The submitter of the
 * first round does not wait for the second. */
static void test_batch_across_groups(void **state)
{
        FakeBackend *b = fake_new(true);
        LockBatcher *q = NULL;
        LockBatchStats st;
        Op ops[] = {
                { .group = "a", .id = "a0", .lock = true },
                { .group = "b", .id = "b1", .lock = true },
                { .group = "a", .id = "a1", .lock = true },
                { .group = "c", .id = "c1", .lock = true },
                { .group = "b", .id = "b2", .lock = true },
                { .group = "a", .id = "a0", .lock = false },
                { .group = "a", .id = "a2", .lock = true },
                { .group = "b", .id = "b3", .lock = true }, /* 2 slots: full */
        };

        assert_int_equal(lock_batcher_new(&b->base, 0, &q), 0);
        submit_round(b, q, ops, ELEMENTSOF(ops));
        fake_hold(b, 1); /* the first write ends; the second is held */
        assert_int_equal(pthread_join(ops[0].thread, NULL), 0);
        assert_int_equal(ops[0].result, 0);
        while (sem_wait(&b->entered) < 0)
                continue;
        fake_hold(b, 2);
        for (size_t i = 1; i < ELEMENTSOF(ops); i++)
                assert_int_equal(pthread_join(ops[i].thread, NULL), 0);

        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (ops[i].result < 0)
                        fail_msg("%s: %s", ops[i].id, ops[i].error.message);
        assert_int_equal(b->calls, 2);
        assert_int_equal(b->entries[0], 1);
        assert_int_equal(b->entries[1], 3);
        /* groups in order of first appearance, each group's updates in submission order */
        assert_string_equal(applied, "a0 b1 b2 b3 a1 a0 a2 c1");
        assert_int_equal(ops[2].decision, LOCK_GRANTED); /* a1: a0 still holds, 2 slots */
        assert_int_equal(ops[6].decision, LOCK_GRANTED); /* a2: after a0 released */
        assert_int_equal(ops[7].decision, LOCK_FULL);    /* b3: b1 and b2 hold both */
        assert_fake_holders(b, "a", (const char *const[]){ "a1", "a2" }, 2);
        assert_fake_holders(b, "b", (const char *const[]){ "b1", "b2" }, 2);
        assert_fake_holders(b, "c", (const char *const[]){ "c1" }, 1);
        lock_batcher_stats(q, &st);
        assert_int_equal(st.rounds, 2);
        assert_int_equal(st.writes, 2);
        assert_int_equal(st.updates, ELEMENTSOF(ops));
        lock_batcher_unref(q);
        fake_free(&b->base);
}

/* A backend that cannot batch groups: one write per group of a round, still one round. */
static void test_batch_single_group_backend(void **state)
{
        FakeBackend *b = fake_new(false);
        LockBatcher *q = NULL;
        LockBatchStats st;
        Op ops[] = {
                { .group = "a", .id = "a0", .lock = true },
                { .group = "b", .id = "b1", .lock = true },
                { .group = "a", .id = "a1", .lock = true },
                { .group = "b", .id = "b2", .lock = true },
        };

        b->retry = true;
        assert_int_equal(lock_batcher_new(&b->base, 0, &q), 0);
        assert_false(lock_backend_can_batch(&b->base));
        submit_round(b, q, ops, ELEMENTSOF(ops));
        fake_hold(b, UINT_MAX);
        join_all(ops, ELEMENTSOF(ops));
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                assert_int_equal(ops[i].result, 0);
        assert_int_equal(b->calls, 3);
        /* each decision twice (the backend retried), in order */
        assert_string_equal(applied, "a0 a0 b1 b2 b1 b2 a1 a1");
        assert_fake_holders(b, "a", (const char *const[]){ "a0", "a1" }, 2);
        assert_fake_holders(b, "b", (const char *const[]){ "b1", "b2" }, 2);
        lock_batcher_stats(q, &st);
        assert_int_equal(st.rounds, 2);
        assert_int_equal(st.writes, 3);
        lock_batcher_unref(q);
        fake_free(&b->base);
}

/* At most max_batch updates per round, the rest in the next rounds, in order. */
static void test_batch_bounded(void **state)
{
        FakeBackend *b = fake_new(true);
        LockBatcher *q = NULL;
        LockBatchStats st;
        Op ops[6];
        static const char *const groups[] = { "g0", "g1", "g2", "g3", "g4", "g5" };

        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                ops[i] = (Op){ .group = groups[i], .id = groups[i], .lock = true };
        assert_int_equal(lock_batcher_new(&b->base, 2, &q), 0);
        submit_round(b, q, ops, ELEMENTSOF(ops));
        fake_hold(b, UINT_MAX);
        join_all(ops, ELEMENTSOF(ops));
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                assert_int_equal(ops[i].result, 0);
        assert_int_equal(b->calls, 4);
        assert_int_equal(b->entries[0], 1);
        assert_int_equal(b->entries[1], 2);
        assert_int_equal(b->entries[2], 2);
        assert_int_equal(b->entries[3], 1);
        assert_string_equal(applied, "g0 g1 g2 g3 g4 g5");
        lock_batcher_stats(q, &st);
        assert_int_equal(st.rounds, 4);
        assert_int_equal(st.updates, 6);
        lock_batcher_unref(q);
        fake_free(&b->base);
}

/* The write of a round fails: every update of the round gets the error, nothing changes, and the next
 * submission is written normally. */
static void test_batch_failed_write(void **state)
{
        FakeBackend *b = fake_new(true);
        LockBatcher *q = NULL;
        Op ops[] = {
                { .group = "a", .id = "a0", .lock = true }, { .group = "a", .id = "a0", .lock = false },
                { .group = "b", .id = "b1", .lock = true }, { .group = "a", .id = "a1", .lock = true },
                { .group = "c", .id = "c1", .lock = true },
        };
        Op later = { .group = "b", .id = "b1", .lock = true };
        Error e;

        assert_int_equal(lock_batcher_new(&b->base, 0, &q), 0);
        b->fail_call = 2;
        submit_round(b, q, ops, ELEMENTSOF(ops));
        fake_hold(b, UINT_MAX);
        join_all(ops, ELEMENTSOF(ops));
        assert_int_equal(ops[0].result, 0);
        for (size_t i = 1; i < ELEMENTSOF(ops); i++) {
                assert_int_equal(ops[i].result, -EIO);
                assert_string_equal(ops[i].error.message, "write 2 failed");
        }
        assert_fake_holders(b, "a", (const char *const[]){ "a0" }, 1);
        assert_fake_holders(b, "b", NULL, 0);
        assert_fake_holders(b, "c", NULL, 0);

        assert_int_equal(lock_batcher_run(q, "b", 2, apply_op, &later, &e), 0);
        assert_int_equal(later.decision, LOCK_GRANTED);
        assert_fake_holders(b, "b", (const char *const[]){ "b1" }, 1);
        lock_batcher_unref(q);
        fake_free(&b->base);
}

/* An update whose function fails is left out: it fails alone, and the others of its group are decided
 * again without it, as if it had never been submitted. */
static void test_batch_refused_alone(void **state)
{
        FakeBackend *b = fake_new(true);
        LockBatcher *q = NULL;
        Op ops[] = {
                { .group = "z", .id = "z0", .lock = true },
                { .group = "a", .id = "a1", .lock = true },
                { .group = "a", .id = "a2", .lock = true, .refuse = -ENOMEM },
                { .group = "a", .id = "a3", .lock = true },
                { .group = "b", .id = "b1", .lock = true, .refuse = -E2BIG },
        };

        assert_int_equal(lock_batcher_new(&b->base, 0, &q), 0);
        submit_round(b, q, ops, ELEMENTSOF(ops));
        fake_hold(b, UINT_MAX);
        join_all(ops, ELEMENTSOF(ops));
        assert_int_equal(ops[1].result, 0);
        assert_int_equal(ops[2].result, -ENOMEM);
        assert_non_null(strstr(ops[2].error.message, "refused"));
        assert_non_null(strstr(ops[2].error.message, "\"a\""));
        assert_int_equal(ops[3].result, 0);
        assert_int_equal(ops[3].decision, LOCK_GRANTED); /* 2 slots: a2 never took one */
        assert_int_equal(ops[4].result, -E2BIG);         /* alone in its group: the backend's error */
        assert_string_equal(applied, "z0 a1 a2 a1 a3 b1");
        assert_fake_holders(b, "a", (const char *const[]){ "a1", "a3" }, 2);
        assert_fake_holders(b, "b", NULL, 0);
        lock_batcher_unref(q);
        fake_free(&b->base);
}

/* Many threads, many groups, no holding: every update is applied exactly once and each thread's
 * updates in its own order (lock, then unlock, again and again). */
typedef struct Hammer {
        LockBatcher *q;
        char group[8];
        char id[16];
        int failures;
        pthread_t thread;
} Hammer;

typedef struct HammerArg {
        bool lock;
        const char *id;
} HammerArg;

static int hammer_fn(Semaphore *s, void *userdata)
{
        HammerArg *a = userdata;
        const GroupPolicy policy = { .slots = 64 }; /* enough for every thread */
        LockDecision d;
        int r;

        if (!a->lock)
                return semaphore_unlock(s, a->id, 1);
        r = semaphore_lock(s, a->id, &policy, true, 1, &d);
        if (r < 0)
                return r;
        return d == LOCK_GRANTED ? 1 : -EEXIST; /* never already held: order kept */
}

static void *hammer_thread(void *userdata)
{
        Hammer *h = userdata;
        HammerArg arg = { .id = h->id };

        for (int i = 0; i < 200; i++) {
                Error e;
                arg.lock = i % 2 == 0;
                if (lock_batcher_run(h->q, h->group, 64, hammer_fn, &arg, &e) < 0)
                        h->failures++;
        }
        return NULL;
}

static void test_batch_hammer(void **state)
{
        FakeBackend *b = fake_new(true);
        LockBatcher *q = NULL;
        Hammer h[12];
        LockBatchStats st;

        assert_int_equal(lock_batcher_new(&b->base, 0, &q), 0);
        for (size_t i = 0; i < ELEMENTSOF(h); i++) {
                h[i] = (Hammer){ .q = q };
                snprintf(h[i].group, sizeof(h[i].group), "g%zu", i % 3);
                snprintf(h[i].id, sizeof(h[i].id), "n%zu", i);
                assert_int_equal(pthread_create(&h[i].thread, NULL, hammer_thread, &h[i]), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(h); i++) {
                assert_int_equal(pthread_join(h[i].thread, NULL), 0);
                assert_int_equal(h[i].failures, 0);
        }
        for (size_t g = 0; g < 3; g++) {
                char name[8];
                snprintf(name, sizeof(name), "g%zu", g);
                assert_fake_holders(b, name, NULL, 0);
        }
        lock_batcher_stats(q, &st);
        assert_int_equal(st.updates, ELEMENTSOF(h) * 200);
        assert_true(st.rounds <= st.updates);
        assert_int_equal(st.queued, 0);
        lock_batcher_unref(q);
        fake_free(&b->base);
}

/* ---- lock_batcher_submit(): the same rounds, answered by callback ---- */

typedef struct Async {
        Op op;
        int done_calls; /* atomic */
        int result;
        char message[128];
        pthread_t done_thread;
        sem_t *all_done;
} Async;

static void async_done(void *userdata, int result, const Error *e)
{
        Async *a = userdata;

        a->result = result;
        snprintf(a->message, sizeof(a->message), "%s", e ? e->message : "");
        a->done_thread = pthread_self();
        __atomic_add_fetch(&a->done_calls, 1, __ATOMIC_RELEASE);
        sem_post(a->all_done);
}

/* Forgets the writes that have started so far, for submit_first(). */
static void drain_entered(FakeBackend *b)
{
        while (sem_trywait(&b->entered) == 0)
                continue;
}

static int async_submit(LockBatcher *q, Async *a, sem_t *all_done, int *ret_result)
{
        Error e;

        a->all_done = all_done;
        return lock_batcher_submit(q, a->op.group, 2, apply_op, &a->op, async_done, a, ret_result, &e);
}

static LockBatchStats stats_of(LockBatcher *q)
{
        LockBatchStats st;
        lock_batcher_stats(q, &st);
        return st;
}

/* Gathering: the writer thread waits for as many submissions as the load showed (the last round's plus
 * those queued behind it), so the one that arrives late still makes the round; at most as long as the
 * last write took; and a submitter writing alone never waits. Each op is in its own group, so a write's
 * entries are its updates. */
static void test_batch_gather(void **state)
{
        FakeBackend *b = fake_new(true);
        LockBatcher *q = NULL;
        LockBatchStats st;
        Op ops[10];
        char groups[10][8];
        uint64_t t0;

        for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
                snprintf(groups[i], sizeof(groups[i]), "g%zu", i);
                ops[i] = (Op){ .group = groups[i], .id = "n", .lock = true };
        }
        assert_int_equal(lock_batcher_new(&b->base, 0, &q), 0);
        lock_batcher_set_gather(q, 10 * 1000 * 1000); /* 10 s: the last write's duration is the bound */

        /* Write 0 carries ops[0] alone and takes 500 ms while ops[1..3] queue. */
        fake_hold(b, 0);
        submit_first(b, q, &ops[0]);
        for (size_t i = 1; i <= 3; i++)
                submit_queued(q, &ops[i]);
        usleep(500 * 1000);
        fake_hold(b, UINT_MAX);
        assert_int_equal(pthread_join(ops[0].thread, NULL), 0);
        /* The writer thread expects 1 + 3 and has 3: it waits instead of writing. */
        t0 = now_msec(CLOCK_MONOTONIC);
        while (stats_of(q).gather_waits == 0) {
                assert_true(now_msec(CLOCK_MONOTONIC) - t0 < 5000);
                usleep(1000);
        }
        assert_int_equal(b->calls, 1);
        submit_queued(q, &ops[4]); /* the fourth: the round starts at once, with it */
        for (size_t i = 1; i <= 4; i++)
                assert_int_equal(pthread_join(ops[i].thread, NULL), 0);
        assert_true(now_msec(CLOCK_MONOTONIC) - t0 < 400); /* it did not wait for the deadline */
        assert_int_equal(b->calls, 2);
        assert_int_equal(b->entries[1], 4);
        st = stats_of(q);
        assert_int_equal(st.gather_waits, 1);
        assert_int_equal(st.gather_timeouts, 0);

        /* Alone on an idle batcher: written at once by its submitter, no wait. */
        t0 = now_msec(CLOCK_MONOTONIC);
        assert_int_equal(lock_batcher_run(q, ops[5].group, 2, apply_op, &ops[5], &ops[5].error), 0);
        assert_true(now_msec(CLOCK_MONOTONIC) - t0 < 400);
        assert_int_equal(stats_of(q).gather_waits, 1);
        assert_int_equal(b->calls, 3);

        /* The expected one never comes: the round starts after about as long as the last write took (200
         * ms here), not after the 10 s limit, and carries what is there. */
        fake_hold(b, 3);
        drain_entered(b); /* writes 1 and 2 posted too: wait for ops[6]'s own, or ops[7] may find the
                           * batcher idle, be written at once and never be seen queued (a hang) */
        submit_first(b, q, &ops[6]);
        for (size_t i = 7; i <= 9; i++)
                submit_queued(q, &ops[i]);
        usleep(200 * 1000);
        fake_hold(b, UINT_MAX);
        t0 = now_msec(CLOCK_MONOTONIC);
        for (size_t i = 6; i <= 9; i++)
                assert_int_equal(pthread_join(ops[i].thread, NULL), 0);
        assert_true(now_msec(CLOCK_MONOTONIC) - t0 >= 100);
        assert_true(now_msec(CLOCK_MONOTONIC) - t0 < 5000);
        assert_int_equal(b->calls, 5);
        assert_int_equal(b->entries[4], 3);
        st = stats_of(q);
        assert_int_equal(st.gather_waits, 2);
        assert_int_equal(st.gather_timeouts, 1);
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                assert_int_equal(ops[i].result, 0);
        lock_batcher_unref(q);
        fake_free(&b->base);
}

/* Alone, the submitter writes at once and gets its answer back (no callback). Behind a write in flight
 * submissions queue up and are answered by callback from the writing thread, with the same semantics
 * as lock_batcher_run(): in order, one write for the round, a failed write fails them all. Right after
 * a round of several (load), or always with inline writes turned off, a lone submitter hands the write
 * to the writer thread instead. */
static void test_batch_submit(void **state)
{
        FakeBackend *b = fake_new(true);
        LockBatcher *q = NULL;
        LockBatchStats st;
        sem_t all_done;
        Op first = { .group = "a", .id = "a0", .lock = true };
        Async as[3] = {
                { .op = { .group = "a", .id = "a1", .lock = true } },
                { .op = { .group = "b", .id = "b1", .lock = true } },
                { .op = { .group = "a", .id = "a2", .lock = true } }, /* the group is full (2 slots) */
        };
        Async late = { .op = { .group = "b", .id = "b2", .lock = true } };
        Async alone = { .op = { .group = "b", .id = "b1", .lock = false } };
        Async failing = { .op = { .group = "c", .id = "c1", .lock = true } };
        int result = 1;

        assert_int_equal(sem_init(&all_done, 0, 0), 0);
        assert_int_equal(lock_batcher_new(&b->base, 0, &q), 0);
        assert_aborts(lock_batcher_submit(q, "a", 2, apply_op, &first, NULL, NULL, &result, NULL));
        assert_aborts(lock_batcher_submit(q, "a", 2, apply_op, &first, async_done, NULL, NULL, NULL));

        /* nobody else, and no load: written here */
        assert_int_equal(async_submit(q, &as[0], &all_done, &result), 1);
        assert_int_equal(result, 0);
        assert_int_equal(as[0].op.decision, LOCK_GRANTED);
        assert_int_equal(as[0].done_calls, 0);
        assert_int_equal(lock_batcher_run(q, "a", 2, apply_op, &(Op){ .group = "a", .id = "a1" }, NULL), 0);
        applied[0] = 0;

        /* behind a held write: queued, answered by callback once it is through */
        drain_entered(b);
        fake_hold(b, b->calls);
        submit_first(b, q, &first);
        for (size_t i = 0; i < ELEMENTSOF(as); i++)
                assert_int_equal(async_submit(q, &as[i], &all_done, &result), 0);
        assert_int_equal(queued(q), 3);
        for (size_t i = 0; i < ELEMENTSOF(as); i++)
                assert_int_equal(__atomic_load_n(&as[i].done_calls, __ATOMIC_ACQUIRE), 0);
        fake_hold(b, UINT_MAX);
        join_all(&first, 1);
        for (size_t i = 0; i < ELEMENTSOF(as); i++)
                while (sem_wait(&all_done) < 0)
                        continue;
        assert_int_equal(first.result, 0);
        for (size_t i = 0; i < ELEMENTSOF(as); i++) {
                assert_int_equal(as[i].done_calls, 1);
                assert_int_equal(as[i].result, 0);
                assert_false(pthread_equal(as[i].done_thread, pthread_self()));
        }
        assert_int_equal(as[0].op.decision, LOCK_GRANTED);
        assert_int_equal(as[1].op.decision, LOCK_GRANTED);
        assert_int_equal(as[2].op.decision, LOCK_FULL);
        assert_string_equal(applied, "a0 a1 a2 b1");
        assert_int_equal(b->entries[b->calls - 1], 2); /* one write, two groups */
        assert_fake_holders(b, "a", (const char *const[]){ "a0", "a1" }, 2);

        /* The last round carried three: a lone submission now goes to the writer thread. */
        assert_int_equal(async_submit(q, &late, &all_done, &result), 0);
        while (sem_wait(&all_done) < 0)
                continue;
        assert_int_equal(late.result, 0);
        assert_int_equal(late.op.decision, LOCK_GRANTED);
        assert_false(pthread_equal(late.done_thread, pthread_self()));
        /* ... and that round carried one: back to writing at once. */
        assert_int_equal(async_submit(q, &alone, &all_done, &result), 1);
        assert_int_equal(result, 0);
        assert_int_equal(alone.done_calls, 0);
        assert_fake_holders(b, "b", (const char *const[]){ "b2" }, 1);

        /* Inline writes off (a lone event-loop thread): even with no load, the writer thread writes. */
        lock_batcher_set_write_inline(q, false);
        alone = (Async){ .op = { .group = "b", .id = "b3", .lock = true } };
        assert_int_equal(async_submit(q, &alone, &all_done, &result), 0);
        while (sem_wait(&all_done) < 0)
                continue;
        assert_int_equal(alone.done_calls, 1);
        assert_int_equal(alone.result, 0);
        assert_int_equal(alone.op.decision, LOCK_GRANTED);
        assert_false(pthread_equal(alone.done_thread, pthread_self()));
        assert_fake_holders(b, "b", (const char *const[]){ "b2", "b3" }, 2);
        lock_batcher_set_write_inline(q, true);

        /* A failed write, answered by callback, changes nothing. */
        drain_entered(b);
        fake_hold(b, b->calls);
        submit_first(b, q, &first);
        b->fail_call = b->calls + 1;
        assert_int_equal(async_submit(q, &failing, &all_done, &result), 0);
        fake_hold(b, UINT_MAX);
        join_all(&first, 1);
        while (sem_wait(&all_done) < 0)
                continue;
        assert_int_equal(failing.result, -EIO);
        {
                char expect[64];
                snprintf(expect, sizeof(expect), "write %u failed", b->fail_call);
                assert_string_equal(failing.message, expect);
        }
        assert_fake_holders(b, "c", NULL, 0);

        lock_batcher_stats(q, &st);
        assert_int_equal(st.queued, 0);
        lock_batcher_unref(q);
        fake_free(&b->base);
        sem_destroy(&all_done);
}

/* Groups share a batcher through references: it lives until the last one is dropped (under ASan a use
 * after an early free fails here). */
static void test_batch_refs(void **state)
{
        FakeBackend *b = fake_new(true);
        LockBatcher *q = NULL;
        LockBatchStats st;
        Op op = { .group = "a", .id = "n1", .lock = true };
        Error e;

        assert_int_equal(lock_batcher_new(&b->base, 0, &q), 0);
        assert_ptr_equal(lock_batcher_ref(q), q);
        assert_null(lock_batcher_unref(q));
        assert_int_equal(lock_batcher_run(q, "a", 2, apply_op, &op, &e), 0);
        assert_int_equal(op.decision, LOCK_GRANTED);
        lock_batcher_stats(q, &st);
        assert_int_equal(st.writes, 1);
        assert_null(lock_batcher_unref(q));
        assert_null(lock_batcher_unref(NULL));
        assert_aborts(lock_batcher_ref(NULL));
        fake_free(&b->base);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_batch_alone),
                cmocka_unit_test(test_batch_across_groups),
                cmocka_unit_test(test_batch_single_group_backend),
                cmocka_unit_test(test_batch_bounded),
                cmocka_unit_test(test_batch_failed_write),
                cmocka_unit_test(test_batch_refused_alone),
                cmocka_unit_test(test_batch_hammer),
                cmocka_unit_test(test_batch_submit),
                cmocka_unit_test(test_batch_gather),
                cmocka_unit_test(test_batch_refs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
