/* lock-semaphore.h — FleetLock's counting semaphore for one group, the decisions taken on it, and its
 * stored form. Pure: callers pass "now" and the group's policy.
 *
 * Stored form (etcd value, Airlock-compatible): {"total_slots": N, "holders": ["id1", "id2"]} with the
 * holders sorted, plus Upkeep's own member, which Airlock ignores:
 *   "upkeep": {"since": {"id1": 1700000000, ...}, "last_release": 1700000100, "paused": false}
 * A holder with no "since" (written by Airlock) counts as taken when Upkeep first saw it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "error.h"

#define SEMAPHORE_MAX_HOLDERS 10000
#define SEMAPHORE_MAX_ID 256
#define LOCK_GROUP_NAME_MAX 255
#define SEMAPHORE_MAX_SLOTS 10000
#define SEMAPHORE_VALUE_MAX (2u * 1024u * 1024u)

typedef struct SemaphoreHolder {
        char *id;
        int64_t since; /* unix seconds the slot was taken; 0 = unknown */
} SemaphoreHolder;

typedef struct Semaphore {
        uint64_t total_slots;
        SemaphoreHolder *holders; /* sorted by id (strcmp), no duplicates */
        size_t n_holders;
        int64_t last_release; /* unix seconds a slot was last freed; 0 = never */
        bool paused;          /* paused through the admin API (shared by every instance) */
} Semaphore;

/* What a group's configuration says (see lock-config.h). */
typedef struct GroupPolicy {
        uint64_t slots;
        int64_t max_hold_secs; /* a holder older than this is released; 0 = never */
        int64_t settle_secs;   /* no new grant until this long after a release; 0 = none */
        bool paused;           /* paused in the configuration */
} GroupPolicy;

typedef enum LockDecision {
        LOCK_GRANTED,        /* the slot was taken now */
        LOCK_ALREADY_HELD,   /* recursive lock: success, nothing changes */
        LOCK_FULL,           /* every slot is held */
        LOCK_SETTLING,       /* a slot is free but the settle delay after the last release runs */
        LOCK_OUTSIDE_WINDOW, /* the group's maintenance windows are closed */
        LOCK_PAUSED,         /* the group is paused (configuration or admin API) */
} LockDecision;

const char *lock_decision_to_string(LockDecision d);

void semaphore_init(Semaphore *s, uint64_t total_slots);
void semaphore_done(Semaphore *s);
int semaphore_copy(const Semaphore *s, Semaphore *ret);
/* Index of id among the holders, or -1. */
ssize_t semaphore_find(const Semaphore *s, const char *id);

/* Validates a holder id (non-empty, at most SEMAPHORE_MAX_ID bytes, UTF-8 without control characters)
 * and a group name (the same, at most LOCK_GROUP_NAME_MAX bytes: as in Airlock, any non-empty name, but
 * no control characters, which no etcd key, log line or label should carry). */
bool semaphore_valid_id(const char *id);
bool lock_group_name_valid(const char *group);

/* Brings the state in line with the policy at time now: total_slots := policy slots (Airlock never
 * resizes; Upkeep does; holders beyond the new size keep their slots until they release), and holders
 * held longer than max_hold_secs are released. A holder with since == 0 gets since := now. Expired ids
 * are appended to *expired (a strv, see strv.h; may be NULL).
 * Returns 1 when the state changed, 0 when not, or -ENOMEM. */
int semaphore_maintain(Semaphore *s, const GroupPolicy *p, int64_t now, char ***expired, size_t *n_expired);

/* RecursiveLock for id at time now. in_window: whether the group's maintenance windows are open (true
 * when it has none). On LOCK_GRANTED the holder was added (the state changed). */
int semaphore_lock(Semaphore *s, const char *id, const GroupPolicy *p, bool in_window, int64_t now,
                   LockDecision *ret);
/* UnlockIfHeld. Returns 1 when id held a slot (now released, last_release := now), 0 when it did not. */
int semaphore_unlock(Semaphore *s, const char *id, int64_t now);

/* The stored form: parse accepts Airlock's values (no "upkeep" member) and Upkeep's. Strict: duplicate
 * keys, non-string holders, duplicate holders, bad ids and oversized values are errors. */
int semaphore_parse(const char *data, size_t len, Semaphore *ret, Error *e);
int semaphore_format(const Semaphore *s, Buf *out);

/* One FleetLock request (or an expiry sweep) on a group's state: brings it in line with the policy
 * (semaphore_maintain()), then locks or unlocks id. The results are in the struct. */
typedef struct LockOp {
        const GroupPolicy *policy;
        const char *id; /* NULL: an expiry sweep, nothing but semaphore_maintain() */
        bool lock;      /* else unlock */
        int64_t now;
        bool in_window;
        /* out */
        LockDecision decision; /* of a lock */
        bool released;         /* an unlock freed id's slot */
        char **expired;        /* holders released for holding too long (a strv) */
        size_t n_expired;
} LockOp;

/* A SemaphoreUpdateFn (lock-backend.h) running the LockOp userdata: 1 when the state changed, 0 when
 * not, or -ENOMEM. It starts each call by resetting the results, since a backend may call it again on a
 * fresher state. */
int lock_op_apply(Semaphore *s, void *userdata);
/* Frees the results (expired) and forgets them. */
void lock_op_reset(LockOp *op);
