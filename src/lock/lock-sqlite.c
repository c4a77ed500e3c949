/* lock-sqlite.c — upkeep-lock's default semaphore store: one SQLite database (WAL, synchronous=FULL), one
 * row per group and one per holder. An update runs in a BEGIN IMMEDIATE transaction, so it is atomic and
 * concurrent writers (threads of this process, or other processes on the same file) never both win; a
 * successful update has been committed and fsynced before it returns. A batch (update_many) is one such
 * transaction for the updates of any number of groups, so one fsync covers them all; each group's writes
 * go in a savepoint, so that a group that cannot be written is undone alone. Everything read back is
 * validated: a database edited by hand into a state Upkeep would never write is reported, never
 * trusted. */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lock-sqlite.h"
#include "macros.h"

#define SQLITE_MAX_GROUPS 100000

static void stmt_resetp(sqlite3_stmt **st)
{
        if (*st) {
                sqlite3_reset(*st);
                sqlite3_clear_bindings(*st);
        }
}
#define _cleanup_reset_ _cleanup_(stmt_resetp)

static void mutex_unlockp(pthread_mutex_t **m)
{
        if (*m)
                pthread_mutex_unlock(*m);
}

static pthread_mutex_t *backend_lock(SqliteBackend *b)
{
        pthread_mutex_lock(&b->mutex);
        return &b->mutex;
}

static void count_error(SqliteBackend *b)
{
        __atomic_fetch_add(&b->base.stats.errors, 1, __ATOMIC_RELAXED);
}

/* Runs a statement that returns no rows, then resets it. Returns an SQLite result code. */
static int step_done(sqlite3_stmt *st)
{
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) /* not expected: treat as done */
                rc = SQLITE_DONE;
        if (rc != SQLITE_DONE)
                return rc; /* the caller reads sqlite3_errmsg() first, then resets */
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return SQLITE_OK;
}

static int column_int64(sqlite3_stmt *st, int col, int64_t min, int64_t max, int64_t *ret)
{
        int64_t v;

        if (sqlite3_column_type(st, col) != SQLITE_INTEGER)
                return -EBADMSG;
        v = sqlite3_column_int64(st, col);
        if (v < min || v > max)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* Appends the holder in the current row (columns 3 and 4) to *s, validated. */
static int load_holder(SqliteBackend *b, const char *group, sqlite3_stmt *st, Semaphore *s,
                       size_t *allocated, Error *e)
{
        bool is_text = sqlite3_column_type(st, 3) == SQLITE_TEXT;
        const char *id = is_text ? (const char *)sqlite3_column_text(st, 3) : NULL;
        int n = is_text ? sqlite3_column_bytes(st, 3) : 0;
        int64_t since;

        if (s->n_holders >= SEMAPHORE_MAX_HOLDERS)
                return error_setf(
                        e, -EBADMSG,
                        "%s: group \"%s\": more than %d holders (was the database edited by hand?)", b->path,
                        group, SEMAPHORE_MAX_HOLDERS);
        if (is_text && !id)
                return error_setf(e, -ENOMEM, "%s: group \"%s\": out of memory", b->path, group);
        if (!is_text || n <= 0 || n > SEMAPHORE_MAX_ID || strlen(id) != (size_t)n || !semaphore_valid_id(id))
                return error_setf(
                        e, -EBADMSG,
                        "%s: group \"%s\": holder %zu has an invalid id (was the database edited by "
                        "hand?)",
                        b->path, group, s->n_holders);
        if (s->n_holders > 0 && strcmp(s->holders[s->n_holders - 1].id, id) >= 0)
                return error_setf(e, -EBADMSG, "%s: group \"%s\": holders are not unique and sorted",
                                  b->path, group);
        if (column_int64(st, 4, 0, INT64_MAX, &since) < 0)
                return error_setf(e, -EBADMSG,
                                  "%s: group \"%s\": holder %zu: since is not a non-negative integer "
                                  "(was the database edited by hand?)",
                                  b->path, group, s->n_holders);
        if (s->n_holders >= *allocated) {
                size_t na = MIN(MAX(*allocated * 2, (size_t)8), (size_t)SEMAPHORE_MAX_HOLDERS);
                SemaphoreHolder *h = realloc(s->holders, na * sizeof(SemaphoreHolder));
                if (!h)
                        return error_setf(e, -ENOMEM, "%s: group \"%s\": out of memory", b->path, group);
                s->holders = h;
                *allocated = na;
        }
        s->holders[s->n_holders].id = strdup(id);
        if (!s->holders[s->n_holders].id)
                return error_setf(e, -ENOMEM, "%s: group \"%s\": out of memory", b->path, group);
        s->holders[s->n_holders].since = since;
        s->n_holders++;
        return 0;
}

/* Reads one group into *ret (validated, holders sorted). Sets *ret_exists = false (ret untouched) when the
 * group has no row. One statement, so it sees one consistent snapshot. */
static int load_group(SqliteBackend *b, const char *group, Semaphore *ret, bool *ret_exists, Error *e)
{
        _cleanup_reset_ sqlite3_stmt *st = b->load;
        _cleanup_(semaphore_done) Semaphore s = {};
        int64_t slots, last_release, paused;
        size_t allocated = 0;
        int rc, r;

        rc = sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
        if (rc != SQLITE_OK)
                return sqlite_error(b, group, rc, "cannot read the group", e);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
                *ret_exists = false;
                return 0;
        }
        if (rc != SQLITE_ROW)
                return sqlite_error(b, group, rc, "cannot read the group", e);

        if (column_int64(st, 0, 0, SEMAPHORE_MAX_SLOTS, &slots) < 0)
                return error_setf(e, -EBADMSG,
                                  "%s: group \"%s\": total_slots is not an integer in [0, %d] "
                                  "(was the database edited by hand?)",
                                  b->path, group, SEMAPHORE_MAX_SLOTS);
        if (column_int64(st, 1, 0, INT64_MAX, &last_release) < 0)
                return error_setf(e, -EBADMSG,
                                  "%s: group \"%s\": last_release is not a non-negative integer "
                                  "(was the database edited by hand?)",
                                  b->path, group);
        if (column_int64(st, 2, 0, 1, &paused) < 0)
                return error_setf(
                        e, -EBADMSG,
                        "%s: group \"%s\": paused is not 0 or 1 (was the database edited by hand?)", b->path,
                        group);
        semaphore_init(&s, (uint64_t)slots);
        s.last_release = last_release;
        s.paused = paused != 0;

        /* A LEFT JOIN: the first row has a NULL id when the group has no holders. */
        while (sqlite3_column_type(st, 3) != SQLITE_NULL) {
                r = load_holder(b, group, st, &s, &allocated, e);
                if (r < 0)
                        return r;
                rc = sqlite3_step(st);
                if (rc == SQLITE_DONE)
                        break;
                if (rc != SQLITE_ROW)
                        return sqlite_error(b, group, rc, "cannot read the holders", e);
        }

        *ret = s;
        s = (Semaphore){};
        *ret_exists = true;
        return 0;
}

/* What fn produced must be something we would read back without complaint. */
static int validate_new_state(SqliteBackend *b, const char *group, const Semaphore *s, Error *e)
{
        if (s->total_slots > SEMAPHORE_MAX_SLOTS)
                return error_setf(e, -EINVAL, "%s: group \"%s\": total_slots %llu exceeds the maximum %d",
                                  b->path, group, (unsigned long long)s->total_slots, SEMAPHORE_MAX_SLOTS);
        if (s->last_release < 0)
                return error_setf(e, -EINVAL, "%s: group \"%s\": negative last_release", b->path, group);
        if (s->n_holders > SEMAPHORE_MAX_HOLDERS)
                return error_setf(e, -EINVAL, "%s: group \"%s\": more than %d holders", b->path, group,
                                  SEMAPHORE_MAX_HOLDERS);
        if (s->n_holders > 0 && !s->holders)
                return error_setf(e, -EINVAL, "%s: group \"%s\": holders missing", b->path, group);
        for (size_t i = 0; i < s->n_holders; i++) {
                if (!s->holders[i].id)
                        return error_setf(e, -EINVAL, "%s: group \"%s\": holder %zu has no id", b->path,
                                          group, i);
                if (s->holders[i].since < 0)
                        return error_setf(e, -EINVAL, "%s: group \"%s\": holder %zu: negative since",
                                          b->path, group, i);
                if (i > 0 && strcmp(s->holders[i - 1].id, s->holders[i].id) >= 0)
                        return error_setf(e, -EINVAL, "%s: group \"%s\": holders are not unique and sorted",
                                          b->path, group);
        }
        return 0;
}

/* Writes what changed between old (as stored; existed says whether the group row exists) and cur, which
 * validate_new_state() accepted. Inside the caller's transaction. */
static int write_back(SqliteBackend *b, const char *group, const Semaphore *old, bool existed,
                      const Semaphore *cur, Error *e)
{
        size_t i = 0, j = 0;
        int rc, r;

        if (!existed || old->total_slots != cur->total_slots || old->last_release != cur->last_release ||
            old->paused != cur->paused) {
                _cleanup_reset_ sqlite3_stmt *st = b->upsert_group;

                rc = sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
                if (rc == SQLITE_OK)
                        rc = sqlite3_bind_int64(st, 2, (int64_t)cur->total_slots);
                if (rc == SQLITE_OK)
                        rc = sqlite3_bind_int64(st, 3, cur->last_release);
                if (rc == SQLITE_OK)
                        rc = sqlite3_bind_int(st, 4, cur->paused ? 1 : 0);
                if (rc == SQLITE_OK)
                        rc = step_done(st);
                if (rc != SQLITE_OK)
                        return sqlite_error(b, group, rc, "cannot write the group", e);
        }

        /* Both lists are sorted: one merge pass finds removed, added and changed holders. */
        while (i < old->n_holders || j < cur->n_holders) {
                int c = i >= old->n_holders   ? 1
                        : j >= cur->n_holders ? -1
                                              : strcmp(old->holders[i].id, cur->holders[j].id);
                sqlite3_stmt *st;
                const char *what;

                if (c < 0) {
                        st = b->delete_holder;
                        what = "cannot remove a holder";
                        rc = sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
                        if (rc == SQLITE_OK)
                                rc = sqlite3_bind_text(st, 2, old->holders[i].id, -1, SQLITE_STATIC);
                        i++;
                } else if (c > 0) {
                        if (!semaphore_valid_id(cur->holders[j].id))
                                return error_setf(e, -EINVAL,
                                                  "%s: group \"%s\": holder %zu has an invalid id", b->path,
                                                  group, j);
                        st = b->insert_holder;
                        what = "cannot add a holder";
                        rc = sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
                        if (rc == SQLITE_OK)
                                rc = sqlite3_bind_text(st, 2, cur->holders[j].id, -1, SQLITE_STATIC);
                        if (rc == SQLITE_OK)
                                rc = sqlite3_bind_int64(st, 3, cur->holders[j].since);
                        j++;
                } else {
                        bool changed = old->holders[i].since != cur->holders[j].since;
                        i++, j++;
                        if (!changed)
                                continue;
                        st = b->update_since;
                        what = "cannot update a holder";
                        rc = sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
                        if (rc == SQLITE_OK)
                                rc = sqlite3_bind_text(st, 2, cur->holders[j - 1].id, -1, SQLITE_STATIC);
                        if (rc == SQLITE_OK)
                                rc = sqlite3_bind_int64(st, 3, cur->holders[j - 1].since);
                }
                if (rc == SQLITE_OK)
                        rc = step_done(st);
                if (rc != SQLITE_OK) {
                        r = sqlite_error(b, group, rc, what, e);
                        stmt_resetp(&st);
                        return r;
                }
        }
        return 0;
}

/* Decides and writes one group's update inside the caller's transaction: reads the group, runs fn on a
 * copy, writes what changed. savepoint: wrap the writes in a savepoint, so that a failure while writing
 * undoes this group's writes only (the caller's other groups stay). Returns 0 or a negative errno with e;
 * on failure nothing of this group is written, unless the whole transaction is gone (the caller checks
 * sqlite3_get_autocommit()). On success, *ret (optional) gets the state as it now is. */
static int update_group(SqliteBackend *b, const char *group, uint64_t slots, SemaphoreUpdateFn fn,
                        void *userdata, bool savepoint, Semaphore *ret, Error *e)
{
        _cleanup_(semaphore_done) Semaphore old = {}, cur = {};
        bool existed;
        int rc, r, k;

        assert(group);
        assert(fn);
        if (!lock_group_name_valid(group))
                return error_setf(e, -EINVAL, "%s: invalid group name", b->path);

        r = load_group(b, group, &old, &existed, e);
        if (r < 0)
                return r;
        if (!existed)
                semaphore_init(&old, slots);
        r = semaphore_copy(&old, &cur);
        if (r < 0)
                return error_setf(e, r, "%s: group \"%s\": cannot copy the state", b->path, group);

        k = fn(&cur, userdata);
        if (k < 0)
                return error_setf(e, k, "%s: group \"%s\": update refused: %m", b->path, group);
        if (k > 0) {
                /* Checked before anything is written, so that a refusal needs no undo. */
                r = validate_new_state(b, group, &cur, e);
                if (r < 0)
                        return r;
                if (savepoint) {
                        rc = step_done(b->savepoint);
                        if (rc != SQLITE_OK) {
                                r = sqlite_error(b, group, rc, "cannot start a savepoint", e);
                                sqlite3_reset(b->savepoint);
                                return r;
                        }
                }
                r = write_back(b, group, &old, existed, &cur, e);
                if (savepoint && !sqlite3_get_autocommit(b->db)) {
                        /* After a failure, ROLLBACK TO undoes this group's writes; RELEASE then only pops
                         * the savepoint (after success it keeps the writes in the transaction). If either
                         * fails, this group's writes could be committed with the others': the whole
                         * transaction goes, and the caller sees it gone. */
                        if (r < 0 && step_done(b->rollback_to) != SQLITE_OK) {
                                sqlite3_reset(b->rollback_to);
                                sqlite_rollback(b);
                        } else {
                                rc = step_done(b->release);
                                if (rc != SQLITE_OK) {
                                        if (r >= 0)
                                                r = sqlite_error(b, group, rc, "cannot release a savepoint",
                                                                 e);
                                        sqlite3_reset(b->release);
                                        sqlite_rollback(b);
                                }
                        }
                }
                if (r < 0)
                        return r;
        }

        if (ret) {
                *ret = k > 0 ? cur : old;
                if (k > 0)
                        cur = (Semaphore){};
                else
                        old = (Semaphore){};
        }
        return 0;
}

static int begin(SqliteBackend *b, const char *group, Error *e)
{
        int r, rc = step_done(b->begin);

        if (rc == SQLITE_OK)
                return 0;
        r = sqlite_error(b, group, rc, "cannot begin a transaction", e);
        sqlite3_reset(b->begin);
        sqlite_rollback(b);
        return r;
}

static int commit(SqliteBackend *b, const char *group, Error *e)
{
        int r, rc = step_done(b->commit);

        if (rc == SQLITE_OK)
                return 0;
        r = sqlite_error(b, group, rc, "cannot commit", e);
        sqlite3_reset(b->commit);
        sqlite_rollback(b);
        return r;
}

static int sqlite_update(LockBackend *base, const char *group, uint64_t slots, SemaphoreUpdateFn fn,
                         void *userdata, Semaphore *ret, Error *e)
{
        SqliteBackend *b = (SqliteBackend *)base;
        _cleanup_(semaphore_done) Semaphore s = {};
        _cleanup_(mutex_unlockp) pthread_mutex_t *m = NULL;
        int r;

        assert(group);
        if (!lock_group_name_valid(group))
                return error_setf(e, -EINVAL, "%s: invalid group name", b->path);

        m = backend_lock(b);
        r = begin(b, group, e);
        if (r >= 0) {
                r = update_group(b, group, slots, fn, userdata, false, ret ? &s : NULL, e);
                if (r < 0)
                        sqlite_rollback(b);
        }
        if (r >= 0)
                r = commit(b, group, e);
        if (r < 0) {
                count_error(b);
                return r;
        }
        if (ret) {
                *ret = s;
                s = (Semaphore){};
        }
        return 0;
}

/* Fails every entry of a batch with the batch's error. */
static int fail_batch(SqliteBackend *b, LockBackendUpdate *u, size_t n, int r, const Error *be, Error *e)
{
        for (size_t i = 0; i < n; i++) {
                u[i].result = r;
                u[i].error = *be;
                count_error(b);
        }
        if (e)
                *e = *be;
        return r;
}

static int sqlite_update_many(LockBackend *base, LockBackendUpdate *u, size_t n, Error *e)
{
        SqliteBackend *b = (SqliteBackend *)base;
        _cleanup_(mutex_unlockp) pthread_mutex_t *m = NULL;
        const char *group; /* for messages about the whole batch: its group when it has one */
        Error be = {};
        size_t failed = 0;
        int r;

        if (n == 0)
                return 0;
        assert(u);
        group = n == 1 && u[0].group && lock_group_name_valid(u[0].group) ? u[0].group : NULL;

        m = backend_lock(b);
        r = begin(b, group, &be);
        if (r < 0)
                return fail_batch(b, u, n, r, &be, e);

        for (size_t i = 0; i < n; i++) {
                u[i].result = update_group(b, u[i].group, u[i].slots, u[i].fn, u[i].userdata, n > 1, NULL,
                                           &u[i].error);
                if (u[i].result >= 0)
                        continue;
                if (sqlite3_get_autocommit(b->db)) {
                        /* SQLite rolled the whole transaction back (I/O error, disk full, ...): the entries
                         * before this one are gone too. */
                        be = u[i].error;
                        sqlite_rollback(b);
                        return fail_batch(b, u, n, u[i].result, &be, e);
                }
                failed++;
        }
        if (failed == n) {
                /* Nothing to keep (with one entry and no savepoint, its partial writes go here). */
                sqlite_rollback(b);
                for (size_t i = 0; i < n; i++)
                        count_error(b);
                return 0;
        }

        r = commit(b, group, &be);
        if (r < 0)
                return fail_batch(b, u, n, r, &be, e);
        for (size_t i = 0; i < n; i++)
                if (u[i].result < 0)
                        count_error(b);
        return 0;
}

static int sqlite_get(LockBackend *base, const char *group, Semaphore *ret, Error *e)
{
        SqliteBackend *b = (SqliteBackend *)base;
        _cleanup_(mutex_unlockp) pthread_mutex_t *m = NULL;
        Semaphore s;
        bool existed;
        int r;

        assert(group);
        if (!lock_group_name_valid(group))
                return error_setf(e, -EINVAL, "%s: invalid group name", b->path);

        m = backend_lock(b);
        r = load_group(b, group, &s, &existed, e);
        if (r < 0) {
                count_error(b);
                return r;
        }
        if (!existed)
                return error_setf(e, -ENOENT, "%s: group \"%s\" was never written", b->path, group);
        if (ret)
                *ret = s;
        else
                semaphore_done(&s);
        return 0;
}

static int sqlite_ping(LockBackend *base, Error *e)
{
        SqliteBackend *b = (SqliteBackend *)base;
        _cleanup_(mutex_unlockp) _unused_ pthread_mutex_t *m = backend_lock(b);
        _cleanup_reset_ sqlite3_stmt *st = b->ping;
        int rc;

        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                count_error(b);
                return sqlite_error(b, NULL, rc, "cannot query the database", e);
        }
        return 0;
}

static void sqlite_free(LockBackend *base)
{
        sqlite_backend_close((SqliteBackend *)base);
}

static const LockBackendOps sqlite_ops = {
        .name = "sqlite",
        .update = sqlite_update,
        .update_many = sqlite_update_many,
        .get = sqlite_get,
        .ping = sqlite_ping,
        .free = sqlite_free,
};

int lock_backend_sqlite_list_groups(LockBackend *base, char ***ret_names, Error *e)
{
        SqliteBackend *b = (SqliteBackend *)base;
        _cleanup_(mutex_unlockp) pthread_mutex_t *m = NULL;
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        char **names = NULL;
        size_t n = 0, allocated = 0;
        int rc, r;

        assert(b);
        assert(ret_names);
        if (b->base.ops != &sqlite_ops)
                return error_setf(e, -EINVAL, "not an SQLite lock backend");

        m = backend_lock(b);
        st = b->list_groups;
        for (;;) {
                const char *name;

                rc = sqlite3_step(st);
                if (rc == SQLITE_DONE)
                        break;
                if (rc != SQLITE_ROW) {
                        r = sqlite_error(b, NULL, rc, "cannot list the groups", e);
                        goto fail;
                }
                name = sqlite3_column_type(st, 0) == SQLITE_TEXT ? (const char *)sqlite3_column_text(st, 0)
                                                                 : NULL;
                if (n >= SQLITE_MAX_GROUPS) {
                        r = error_setf(e, -EBADMSG, "%s: more than %d groups", b->path, SQLITE_MAX_GROUPS);
                        goto fail;
                }
                if (!name || strlen(name) != (size_t)sqlite3_column_bytes(st, 0) ||
                    !lock_group_name_valid(name)) {
                        r = error_setf(
                                e, -EBADMSG,
                                "%s: group %zu has an invalid name (was the database edited by hand?)",
                                b->path, n);
                        goto fail;
                }
                if (n + 2 > allocated) {
                        size_t na = MAX(allocated * 2, (size_t)8);
                        char **l = realloc(names, na * sizeof(char *));
                        if (!l) {
                                r = error_setf(e, -ENOMEM, "%s: out of memory", b->path);
                                goto fail;
                        }
                        names = l;
                        allocated = na;
                }
                names[n] = strdup(name);
                if (!names[n]) {
                        r = error_setf(e, -ENOMEM, "%s: out of memory", b->path);
                        goto fail;
                }
                names[++n] = NULL;
        }
        if (!names) {
                names = calloc(1, sizeof(char *));
                if (!names)
                        return error_setf(e, -ENOMEM, "%s: out of memory", b->path);
        }
        *ret_names = names;
        return 0;

fail:
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        count_error(b);
        return r;
}

int lock_backend_sqlite_new(const char *path, LockBackend **ret, Error *e)
{
        SqliteBackend *b = NULL;
        int r;

        assert(ret);
        r = sqlite_backend_open(path, &sqlite_ops, &b, e);
        if (r < 0)
                return r;
        *ret = &b->base;
        return 0;
}
