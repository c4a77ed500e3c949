/* lock-backend.h — where upkeep-lock keeps its semaphores: an embedded SQLite database (the default) or
 * an etcd3 cluster (Airlock's key layout). Both give the same guarantee: an update is applied to the
 * group's current state atomically, and concurrent updates never both win. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "lock-semaphore.h"

typedef struct LockBackend LockBackend;

/* Decides on the current state of one group. It may change *s and returns 1 when it did, 0 when it did
 * not, or a negative errno (which aborts the update, nothing written). It may run several times (a
 * conflicting writer forces a retry with the fresh state), so it must have no side effects beyond
 * *s and its own userdata, which it should reset at each call. */
typedef int (*SemaphoreUpdateFn)(Semaphore *s, void *userdata);

/* One group's part of a batch (see LockBackendOps.update_many). */
typedef struct LockBackendUpdate {
        const char *group;
        uint64_t slots;
        SemaphoreUpdateFn fn;
        void *userdata;
        int result;  /* out: 0, or a negative errno with error filled in */
        Error error; /* out */
} LockBackendUpdate;

typedef struct LockBackendStats {
        uint64_t conflicts; /* atomic: compare-and-swap conflicts retried */
        uint64_t errors;    /* atomic: failed operations */
} LockBackendStats;

typedef struct LockBackendOps {
        const char *name; /* "sqlite", "etcd3" */
        /* Runs fn on the group's state (a group never written starts as {total_slots = slots}), writes
         * the result when fn returned 1, and on success copies the state as it now is to *ret (optional).
         * -EAGAIN only if conflicts persist past the backend's retry budget; -EIO/-ECONNREFUSED/-ETIMEDOUT
         * when the store cannot be reached. */
        int (*update)(LockBackend *b, const char *group, uint64_t slots, SemaphoreUpdateFn fn,
                      void *userdata, Semaphore *ret, Error *e);
        /* Optional (NULL when the backend has no cheaper way than one update per group). Applies u[0..n)
         * in order, each as update() would (no *ret), together: SQLite writes them in one transaction, so
         * one fsync covers them all. A group may appear more than once; a later entry sees what the
         * earlier ones wrote. An entry that fails on its own (invalid group, fn refused, its stored state
         * is invalid, its rows cannot be written) gets result < 0 and error and writes nothing; the others
         * go on. When the batch as a whole cannot be written (cannot begin, cannot commit, the store
         * dropped the transaction) nothing is written, every entry gets the error and the call returns it
         * (with e); otherwise it returns 0 once everything written is durable. */
        int (*update_many)(LockBackend *b, LockBackendUpdate *u, size_t n, Error *e);
        /* The group's stored state; -ENOENT when it was never written. */
        int (*get)(LockBackend *b, const char *group, Semaphore *ret, Error *e);
        /* Whether the store answers. */
        int (*ping)(LockBackend *b, Error *e);
        void (*free)(LockBackend *b);
} LockBackendOps;

struct LockBackend {
        const LockBackendOps *ops;
        LockBackendStats stats;
};

static inline int lock_backend_update(LockBackend *b, const char *group, uint64_t slots,
                                      SemaphoreUpdateFn fn, void *userdata, Semaphore *ret, Error *e)
{
        return b->ops->update(b, group, slots, fn, userdata, ret, e);
}

/* Whether updates of different groups can share one write (update_many). */
static inline bool lock_backend_can_batch(const LockBackend *b)
{
        return b->ops->update_many != NULL;
}

static inline int lock_backend_update_many(LockBackend *b, LockBackendUpdate *u, size_t n, Error *e)
{
        return b->ops->update_many(b, u, n, e);
}

static inline void lock_backend_free(LockBackend *b)
{
        if (b)
                b->ops->free(b);
}

/* etcd3 through its JSON gateway, Airlock's keys and values (see lock-etcd.c). Thread-safe. */
struct EtcdOptions;
int lock_backend_etcd_new(const struct EtcdOptions *o, LockBackend **ret, Error *e);

/* SQLite, WAL, one database file. Thread-safe (serialized). */
int lock_backend_sqlite_new(const char *path, LockBackend **ret, Error *e);
/* The names of the groups stored in an SQLite backend, sorted, as a NULL-terminated list the caller frees
 * with strv_free. -EINVAL when b is not an SQLite backend. */
int lock_backend_sqlite_list_groups(LockBackend *b, char ***ret_names, Error *e);
