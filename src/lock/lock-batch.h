/* lock-batch.h — group commit for upkeep-lock's semaphore updates.
 *
 * Request threads submit updates; whoever submits while no write is in flight writes at once (alone: no
 * waiting for company, no timer). Updates submitted while a write is in flight queue up, and when it ends
 * everything queued by then (at most max_batch updates) is written as the next round, by a writer thread
 * (started the first time it is needed) that goes on round after round while updates keep coming, so
 * that no submitter waits for more than its own round. A round is one backend call: with SQLite one
 * transaction and one fsync for any number of groups (lock_backend_update_many), else one update per
 * group (etcd: one compare-and-swap per group). Each waiting thread is woken once, when its own update
 * is decided; nobody polls.
 *
 * Gathering (lock_batcher_set_gather(), off by default): each client of a lock server has one request in
 * flight, so with back-to-back rounds the clients split into two halves that alternate, each round
 * carrying about half of them: those answered by one round send their next request while the next round
 * is already being written. With gathering on, the writer thread first waits until as many updates are
 * queued as the load showed (the last round's plus those queued behind it, at most max_batch), but never
 * longer than the limit nor than the last round took to write: the answered half catches up, and one
 * round carries everyone. Worth it when a write is long next to a client's round trip (etcd's
 * compare-and-swap over the network); a submitter writing alone never waits.
 *
 * Semantics are those of running the updates one at a time in submission order: the updates of one group
 * are applied in that order to the state the backend holds, each sees the ones before it, and their
 * results are final only once the write is durable. An update whose function fails is left out and fails
 * alone (the others are decided again without it); a write that fails (cannot begin, cannot commit)
 * fails every update it carried and changes nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "lock-backend.h"
#include "macros.h"

#define LOCK_BATCH_MAX 64

typedef struct LockBatcher LockBatcher;

typedef struct LockBatchStats {
        uint64_t writes;          /* backend calls: transactions (SQLite) or updates of one group (etcd) */
        uint64_t updates;         /* updates they carried */
        uint64_t rounds;          /* rounds of writing (SQLite: = writes) */
        uint64_t queued;          /* submissions waiting for a round now */
        uint64_t gather_waits;    /* rounds whose writer waited for more submissions */
        uint64_t gather_timeouts; /* of them, rounds that started short because the wait ran out */
} LockBatchStats;

/* max_batch: the most updates one round writes (1..LOCK_BATCH_MAX; 0 = LOCK_BATCH_MAX; more: -EINVAL).
 * With a backend that cannot batch groups (lock_backend_can_batch() false) a round writes its groups one
 * after the other: use one batcher per group there, so that groups do not wait for each other. The
 * backend must outlive the batcher. The new batcher has one reference. */
int lock_batcher_new(LockBackend *backend, size_t max_batch, LockBatcher **ret);
/* Whether lock_batcher_submit() may write on its caller's thread when there is no load (the default).
 * Turn it off when the callers are a single event-loop thread: a write there would stall every other
 * connection it serves, and each request would then be written alone. */
void lock_batcher_set_write_inline(LockBatcher *q, bool enabled);
/* Gathering (above): the writer thread waits at most max_wait_usec (and at most as long as the last round
 * took) for the load's usual number of submissions before a round. 0 (the default) turns it off. */
void lock_batcher_set_gather(LockBatcher *q, uint64_t max_wait_usec);
/* References: whoever submits holds one (several groups may share a batcher). Dropping the last stops the
 * writer thread and frees the batcher: no submission may be in flight then. unref returns NULL. */
LockBatcher *lock_batcher_ref(LockBatcher *q);
LockBatcher *lock_batcher_unref(LockBatcher *q);
DEFINE_TRIVIAL_CLEANUP_FUNC(LockBatcher *, lock_batcher_unref);

/* Runs fn on the group's state as lock_backend_update() would (without returning the state), batched
 * with concurrent submissions, and returns when its result is durable: 0, or a negative errno with e. fn
 * must follow SemaphoreUpdateFn's rules (it may run several times, on a fresh state each time). q, group
 * and fn must not be NULL. */
int lock_batcher_run(LockBatcher *q, const char *group, uint64_t slots, SemaphoreUpdateFn fn, void *userdata,
                     Error *e);

/* Called once when an update submitted with lock_batcher_submit() is decided: result 0, or a negative
 * errno with e (only valid during the call). It runs on whichever thread wrote the round (the writer
 * thread, or another submitter's): it must not block. */
typedef void (*LockBatchDone)(void *userdata, int result, const Error *e);

/* The same without waiting, for event-driven callers. When nobody else is writing and the last round
 * carried a single update (no load), the caller writes the round at once (unless
 * lock_batcher_set_write_inline() turned that off) and 1 is returned with the result in *ret_result
 * (and e): done is not called.
 * Otherwise the update is queued and 0 is returned: done(done_userdata, ...) will be called once with
 * the result, from another thread, possibly before this returns; fn and userdata must stay valid until
 * then. A negative errno (with e) means it was not submitted. */
int lock_batcher_submit(LockBatcher *q, const char *group, uint64_t slots, SemaphoreUpdateFn fn,
                        void *userdata, LockBatchDone done, void *done_userdata, int *ret_result, Error *e);

void lock_batcher_stats(LockBatcher *q, LockBatchStats *ret);
