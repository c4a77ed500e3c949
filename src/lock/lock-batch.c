/* lock-batch.c — group commit for upkeep-lock's semaphore updates (see lock-batch.h).
 *
 * A queue under a mutex, and at most one thread writing rounds at a time (running). A submitter that
 * finds nobody writing writes its own round at once. Others queue and sleep on their own semaphore. When
 * a round ends with more queued, a submitter hands the queue to the writer thread (started the first
 * time) instead of writing on, so it answers its own request without waiting for others; the writer
 * writes rounds back to back, each taking everything queued by then, until the queue is empty. After
 * each round, each of its other submitters is woken once, with its result: the queue's mutex is only
 * held to link and unlink, nobody polls, and under load a round starts as soon as the previous one is
 * durable, with no thread to wake first. With gathering on (lock-batch.h), the writer thread waits on a
 * condition variable before a round until the expected number of submissions is queued (the submitter
 * that completes the count signals it) or its deadline passes. */
#include "lock-batch.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "macros.h"
#include "time-util.h"

typedef struct Item Item;
struct Item {
        const char *group;
        uint64_t slots;
        SemaphoreUpdateFn fn;
        void *userdata;

        Item *next;       /* in the queue */
        Item *group_next; /* among the round's updates of its group */
        int refused;      /* fn's own error, when the round went on without this update */
        int result;
        Error error;
        /* How its submitter learns the result: done() called once (the item is then freed), or, for
         * lock_batcher_run(), wake posted (the item lives on the waiting submitter's stack). */
        LockBatchDone done;
        void *done_userdata;
        sem_t wake;
};

/* The updates of one group in a round, in submission order. */
typedef struct GroupRun {
        const char *group;
        uint64_t slots;
        Item *head, *tail;
        size_t n;
        int result;
        Error error;
} GroupRun;

struct LockBatcher {
        unsigned refs; /* atomic */
        LockBackend *backend;
        size_t max_batch;

        pthread_mutex_t lock;
        Item *head, *tail; /* queued, not yet taken by a round */
        size_t n_queued;
        bool running; /* a submitter or the writer thread is writing rounds */

        /* Started the first time a round ends with more queued; from then on it writes back to back
         * whenever submissions pile up, while submitters only write when nothing else is. */
        pthread_t writer;
        bool writer_started;
        sem_t writer_wake;
        bool stopping; /* atomic */

        /* Scratch of the current round: only its leader touches them. */
        GroupRun groups[LOCK_BATCH_MAX];
        LockBackendUpdate updates[LOCK_BATCH_MAX];

        bool write_inline; /* submitters may write when there is no load */

        /* Gathering, under the mutex: the writer thread waits on gather_cond, for gather_target queued
         * submissions, at most gather_max_ns and at most last_write_ns. */
        pthread_cond_t gather_cond;
        uint64_t gather_max_ns; /* 0: off */
        size_t gather_target;   /* the last round's updates plus those queued when it ended */
        uint64_t last_write_ns;
        bool gathering;

        LockBatchStats stats; /* atomic; gather_* under the mutex */
        size_t last_round;    /* atomic: updates in the last round, a hint of the load */
};

int lock_batcher_new(LockBackend *backend, size_t max_batch, LockBatcher **ret)
{
        LockBatcher *q;

        assert(backend);
        assert(ret);
        if (max_batch > LOCK_BATCH_MAX)
                return -EINVAL;
        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->refs = 1;
        q->backend = backend;
        q->max_batch = max_batch ?: LOCK_BATCH_MAX;
        q->write_inline = true;
        if (sem_init(&q->writer_wake, 0, 0) < 0) {
                int r = negative_errno();
                free(q);
                return r;
        }
        pthread_mutex_init(&q->lock, NULL);
        {
                pthread_condattr_t a;
                pthread_condattr_init(&a);
                pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
                pthread_cond_init(&q->gather_cond, &a);
                pthread_condattr_destroy(&a);
        }
        *ret = q;
        return 0;
}

void lock_batcher_set_write_inline(LockBatcher *q, bool enabled)
{
        pthread_mutex_lock(&q->lock);
        q->write_inline = enabled;
        pthread_mutex_unlock(&q->lock);
}

void lock_batcher_set_gather(LockBatcher *q, uint64_t max_wait_usec)
{
        pthread_mutex_lock(&q->lock);
        q->gather_max_ns =
                max_wait_usec > UINT64_MAX / NSEC_PER_USEC ? UINT64_MAX : max_wait_usec * NSEC_PER_USEC;
        pthread_mutex_unlock(&q->lock);
}

LockBatcher *lock_batcher_ref(LockBatcher *q)
{
        assert(q);
        __atomic_add_fetch(&q->refs, 1, __ATOMIC_RELAXED);
        return q;
}

LockBatcher *lock_batcher_unref(LockBatcher *q)
{
        if (!q || __atomic_sub_fetch(&q->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return NULL;
        if (q->writer_started) {
                __atomic_store_n(&q->stopping, true, __ATOMIC_RELEASE);
                sem_post(&q->writer_wake);
                pthread_join(q->writer, NULL);
        }
        pthread_cond_destroy(&q->gather_cond);
        sem_destroy(&q->writer_wake);
        pthread_mutex_destroy(&q->lock);
        free(q);
        return NULL;
}

void lock_batcher_stats(LockBatcher *q, LockBatchStats *ret)
{
        assert(q);
        assert(ret);
        ret->writes = __atomic_load_n(&q->stats.writes, __ATOMIC_RELAXED);
        ret->updates = __atomic_load_n(&q->stats.updates, __ATOMIC_RELAXED);
        ret->rounds = __atomic_load_n(&q->stats.rounds, __ATOMIC_RELAXED);
        pthread_mutex_lock(&q->lock);
        ret->queued = q->n_queued;
        ret->gather_waits = q->stats.gather_waits;
        ret->gather_timeouts = q->stats.gather_timeouts;
        pthread_mutex_unlock(&q->lock);
}

/* The backend's update function for one group of a round: its updates in submission order, each on the
 * state the previous ones left. One whose function fails is left out and the rest are decided again from
 * the state as stored, as if it had never been submitted. Like any SemaphoreUpdateFn it may be called
 * again on a fresh state (etcd conflicts), so it starts over each time. */
static int apply_group(Semaphore *s, void *userdata)
{
        GroupRun *g = userdata;
        _cleanup_(semaphore_done) Semaphore start = {};
        int r;

        for (Item *it = g->head; it; it = it->group_next)
                it->refused = 0;
        if (g->n == 1) /* its failure is the group's: the backend reports it */
                return g->head->fn(s, g->head->userdata);

        r = semaphore_copy(s, &start);
        if (r < 0)
                return r;
        for (;;) {
                bool failed = false;
                int changed = 0;

                for (Item *it = g->head; it; it = it->group_next) {
                        if (it->refused < 0)
                                continue;
                        r = it->fn(s, it->userdata);
                        if (r < 0) {
                                it->refused = r;
                                failed = true;
                                break;
                        }
                        changed |= r > 0;
                }
                if (!failed)
                        return changed;
                semaphore_done(s);
                r = semaphore_copy(&start, s);
                if (r < 0)
                        return r;
        }
}

static void *writer_main(void *userdata);

/* Writes one round: items[0..n), in submission order. Fills in each item's result. */
static void run_round(LockBatcher *q, Item **items, size_t n)
{
        size_t n_groups = 0;

        for (size_t i = 0; i < n; i++) {
                Item *it = items[i];
                GroupRun *g = NULL;

                for (size_t j = 0; j < n_groups && !g; j++)
                        if (streq(q->groups[j].group, it->group))
                                g = &q->groups[j];
                if (!g) {
                        g = &q->groups[n_groups++];
                        *g = (GroupRun){ .group = it->group, .slots = it->slots };
                }
                it->group_next = NULL;
                if (g->tail)
                        g->tail->group_next = it;
                else
                        g->head = it;
                g->tail = it;
                g->n++;
        }

        if (lock_backend_can_batch(q->backend)) {
                for (size_t j = 0; j < n_groups; j++)
                        q->updates[j] = (LockBackendUpdate){
                                .group = q->groups[j].group,
                                .slots = q->groups[j].slots,
                                .fn = apply_group,
                                .userdata = &q->groups[j],
                        };
                /* Whether the round failed as a whole is in every entry too. */
                (void)lock_backend_update_many(q->backend, q->updates, n_groups, NULL);
                for (size_t j = 0; j < n_groups; j++) {
                        q->groups[j].result = q->updates[j].result;
                        if (q->updates[j].result < 0)
                                q->groups[j].error = q->updates[j].error;
                }
                __atomic_add_fetch(&q->stats.writes, 1, __ATOMIC_RELAXED);
        } else {
                for (size_t j = 0; j < n_groups; j++)
                        q->groups[j].result =
                                lock_backend_update(q->backend, q->groups[j].group, q->groups[j].slots,
                                                    apply_group, &q->groups[j], NULL, &q->groups[j].error);
                __atomic_add_fetch(&q->stats.writes, n_groups, __ATOMIC_RELAXED);
        }
        __atomic_add_fetch(&q->stats.rounds, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&q->stats.updates, n, __ATOMIC_RELAXED);
        __atomic_store_n(&q->last_round, n, __ATOMIC_RELAXED);

        for (size_t j = 0; j < n_groups; j++) {
                GroupRun *g = &q->groups[j];
                for (Item *it = g->head; it; it = it->group_next) {
                        if (g->result < 0) {
                                it->result = g->result;
                                it->error = g->error;
                        } else if (it->refused < 0) {
                                it->result = error_setf(&it->error, it->refused,
                                                        "group \"%s\": update refused: %m", g->group);
                        } else
                                it->result = 0;
                }
        }
}

/* Wakes the writer thread to take over the queue, starting it the first time. Called with the queue's
 * mutex held, when a round ended with more queued. */
static int hand_over(LockBatcher *q)
{
        if (!q->writer_started) {
                sigset_t all, old;
                int r;

                /* Signals are for the threads that wait for them, not for this one. */
                sigfillset(&all);
                pthread_sigmask(SIG_SETMASK, &all, &old);
                r = pthread_create(&q->writer, NULL, writer_main, q);
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                if (r != 0)
                        return -r;
                q->writer_started = true;
        }
        sem_post(&q->writer_wake);
        return 0;
}

/* Tells an item's submitter its result. */
static void notify(Item *it)
{
        if (it->done) {
                it->done(it->done_userdata, it->result, it->result < 0 ? &it->error : NULL);
                free(it);
        } else
                sem_post(&it->wake);
}

/* Gathering, with the queue's mutex held, before the writer thread takes a round: waits until the load's
 * usual number of submissions is queued or the deadline passes. */
static void gather(LockBatcher *q)
{
        uint64_t wait, deadline;
        struct timespec ts;

        if (!q->gather_max_ns || !q->head || q->n_queued >= q->gather_target)
                return;
        wait = MIN(q->gather_max_ns, q->last_write_ns);
        deadline = now_nsec(CLOCK_MONOTONIC) + wait;
        ts = timespec_from_nsec(deadline);
        q->stats.gather_waits++;
        q->gathering = true;
        while (q->n_queued < q->gather_target && !__atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE))
                if (pthread_cond_timedwait(&q->gather_cond, &q->lock, &ts) == ETIMEDOUT) {
                        if (q->n_queued < q->gather_target)
                                q->stats.gather_timeouts++;
                        break;
                }
        q->gathering = false;
}

/* Writes rounds: everything queued, max_batch at a time, in submission order, until the queue is empty or
 * (for a submitter, self) the writer thread takes over: a submitter writes one round at most, unless the
 * writer thread cannot be started. Then wakes each round's submitters but self. */
static void drain(LockBatcher *q, const Item *self)
{
        for (;;) {
                Item *items[LOCK_BATCH_MAX];
                size_t n = 0;
                bool more, handed = false;

                uint64_t t0;

                pthread_mutex_lock(&q->lock);
                if (!self)
                        gather(q);
                while (q->head && n < q->max_batch) {
                        items[n++] = q->head;
                        q->head = q->head->next;
                }
                if (!q->head)
                        q->tail = NULL;
                q->n_queued -= n;
                pthread_mutex_unlock(&q->lock);

                t0 = now_nsec(CLOCK_MONOTONIC);
                run_round(q, items, n);

                pthread_mutex_lock(&q->lock);
                q->last_write_ns = now_nsec(CLOCK_MONOTONIC) - t0;
                q->gather_target = MIN(n + q->n_queued, q->max_batch);
                more = q->head != NULL;
                if (!more)
                        q->running = false;
                else if (self)
                        handed = hand_over(q) >= 0;
                pthread_mutex_unlock(&q->lock);

                /* Once posted, an item may be gone (it lives on its submitter's stack). What the
                 * completions log is written once for the round, not once per request. */
                log_hold();
                for (size_t i = 0; i < n; i++)
                        if (items[i] != self)
                                notify(items[i]);
                log_release();
                if (!more || handed)
                        return;
        }
}

static void *writer_main(void *userdata)
{
        LockBatcher *q = userdata;

        for (;;) {
                while (sem_wait(&q->writer_wake) < 0)
                        continue;
                if (__atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE))
                        return NULL;
                drain(q, NULL);
        }
}

/* Queues it; true when the caller is to write the round that carries it: nobody else is writing, and
 * (if defer) the last round carried a single update and inline writes are allowed. Under load (it carried
 * more) a deferring caller hands the queue to the writer thread instead: its own thread has other
 * requests to serve. */
static bool enqueue(LockBatcher *q, Item *it, bool defer)
{
        bool leader;

        pthread_mutex_lock(&q->lock);
        if (q->tail)
                q->tail->next = it;
        else
                q->head = it;
        q->tail = it;
        q->n_queued++;
        if (q->gathering && q->n_queued >= q->gather_target)
                pthread_cond_signal(&q->gather_cond);
        leader = !q->running;
        q->running = true;
        if (leader && defer && (!q->write_inline || __atomic_load_n(&q->last_round, __ATOMIC_RELAXED) > 1) &&
            hand_over(q) >= 0)
                leader = false;
        pthread_mutex_unlock(&q->lock);
        return leader;
}

int lock_batcher_run(LockBatcher *q, const char *group, uint64_t slots, SemaphoreUpdateFn fn, void *userdata,
                     Error *e)
{
        Item it = {
                .group = group,
                .slots = slots,
                .fn = fn,
                .userdata = userdata,
        };

        assert(q);
        assert(group);
        assert(fn);
        if (sem_init(&it.wake, 0, 0) < 0)
                return error_setf(e, negative_errno(), "lock batch: cannot initialize a semaphore");

        if (enqueue(q, &it, false))
                drain(q, &it);
        else
                /* Only EINTR can fail it; returning early would leave the item to a round that still
                 * writes into it. */
                while (sem_wait(&it.wake) < 0)
                        continue;

        sem_destroy(&it.wake);
        if (it.result < 0 && e)
                *e = it.error;
        return it.result;
}

int lock_batcher_submit(LockBatcher *q, const char *group, uint64_t slots, SemaphoreUpdateFn fn,
                        void *userdata, LockBatchDone done, void *done_userdata, int *ret_result, Error *e)
{
        Item *it;

        assert(q);
        assert(group);
        assert(fn);
        assert(done);
        assert(ret_result);
        it = calloc(1, sizeof(*it));
        if (!it)
                return error_setf(e, -ENOMEM, "lock batch: out of memory");
        *it = (Item){
                .group = group,
                .slots = slots,
                .fn = fn,
                .userdata = userdata,
                .done = done,
                .done_userdata = done_userdata,
        };
        if (!enqueue(q, it, true))
                return 0; /* done() will tell */

        /* Nobody else is writing: write its round now, as lock_batcher_run() does, and answer here. */
        drain(q, it);
        *ret_result = it->result;
        if (it->result < 0 && e)
                *e = it->error;
        free(it);
        return 1;
}
