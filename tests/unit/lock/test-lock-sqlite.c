/* test-lock-sqlite.c — the SQLite lock backend: creation and schema, updates that write, write nothing or
 * roll back, holders/slots/pause/last_release persisted across reopening, no lost update between two
 * connections, consistency after SIGKILL in the middle of updates, and clean errors for a missing
 * directory, a garbage or corrupted file and a database edited by hand. Batches (update_many): several
 * groups in one transaction, an entry that fails alone (refused, unreadable, unwritable) while the others
 * are written, a commit that fails (file size limit) failing every entry and changing nothing, and
 * batches that are all or nothing across a SIGKILL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "assert-aborts.h"
#include "lock-backend.h"
#include "strv.h"

typedef struct Fixture {
        char dir[64];
        char path[128];
} Fixture;

static int setup(void **state)
{
        Fixture *f = calloc(1, sizeof(Fixture));

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/upkeep-lock-sqlite-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/lock.db", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        Fixture *f = *state;
        static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
        char p[160];

        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
                snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
                unlink(p);
        }
        assert_int_equal(rmdir(f->dir), 0);
        free(f);
        return 0;
}

static LockBackend *open_backend(const char *path)
{
        LockBackend *b = NULL;
        Error e = {};
        int r = lock_backend_sqlite_new(path, &b, &e);

        if (r < 0)
                fail_msg("lock_backend_sqlite_new: %s", e.message);
        return b;
}

/* Plain SQL on the file, as an administrator with the sqlite3 tool would do it. */
static void raw_exec(const char *path, const char *sql)
{
        sqlite3 *db = NULL;
        char *err = NULL;

        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
                fail_msg("%s: %s", sql, err);
        sqlite3_close(db);
}

static int raw_callback(void *userdata, int n, char **values, char **names)
{
        snprintf(userdata, 64, "%s", values[0] ? values[0] : "NULL");
        return 0;
}

/* The first column of the first row of sql, as text. */
static void raw_query(const char *path, const char *sql, char out[64])
{
        sqlite3 *db = NULL;
        char *err = NULL;

        out[0] = 0;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        if (sqlite3_exec(db, sql, raw_callback, out, &err) != SQLITE_OK)
                fail_msg("%s: %s", sql, err);
        sqlite3_close(db);
}

/* ---- update functions ---- */

typedef struct HolderArg {
        const char *id;
        int64_t since;
} HolderArg;

static int holder_add(Semaphore *s, const char *id, int64_t since)
{
        SemaphoreHolder *h;
        size_t pos = 0;

        if (semaphore_find(s, id) >= 0)
                return 0;
        while (pos < s->n_holders && strcmp(s->holders[pos].id, id) < 0)
                pos++;
        h = realloc(s->holders, (s->n_holders + 1) * sizeof(*h));
        if (!h)
                return -ENOMEM;
        s->holders = h;
        memmove(h + pos + 1, h + pos, (s->n_holders - pos) * sizeof(*h));
        h[pos] = (SemaphoreHolder){ .id = strdup(id), .since = since };
        assert_non_null(h[pos].id);
        s->n_holders++;
        return 1;
}

static int fn_add(Semaphore *s, void *userdata)
{
        HolderArg *a = userdata;
        return holder_add(s, a->id, a->since);
}

static int fn_remove(Semaphore *s, void *userdata)
{
        ssize_t at = semaphore_find(s, userdata);

        if (at < 0)
                return 0;
        free(s->holders[at].id);
        memmove(s->holders + at, s->holders + at + 1,
                (s->n_holders - (size_t)at - 1) * sizeof(SemaphoreHolder));
        s->n_holders--;
        return 1;
}

static int fn_set_since(Semaphore *s, void *userdata)
{
        HolderArg *a = userdata;
        ssize_t at = semaphore_find(s, a->id);

        if (at < 0)
                return -ENOENT;
        s->holders[at].since = a->since;
        return 1;
}

typedef struct GroupArg {
        uint64_t total_slots;
        int64_t last_release;
        bool paused;
} GroupArg;

static int fn_set_group(Semaphore *s, void *userdata)
{
        GroupArg *a = userdata;
        s->total_slots = a->total_slots;
        s->last_release = a->last_release;
        s->paused = a->paused;
        return 1;
}

static int fn_noop(Semaphore *s, void *userdata)
{
        int *calls = userdata;
        (*calls)++;
        return 0;
}

/* Changes the state but says it did not: nothing may be written, and the stored state is returned. */
static int fn_change_quietly(Semaphore *s, void *userdata)
{
        assert_int_equal(holder_add(s, "quiet", 5), 1);
        s->total_slots = 99;
        return 0;
}

static int fn_add_then_fail(Semaphore *s, void *userdata)
{
        assert_int_equal(holder_add(s, "doomed", 5), 1);
        s->total_slots = 42;
        s->paused = true;
        return -EPERM;
}

static int fn_unsorted(Semaphore *s, void *userdata)
{
        assert_int_equal(holder_add(s, "zzz", 1), 1);
        assert_int_equal(holder_add(s, "aaa", 1), 1);
        /* swap them: unsorted */
        SemaphoreHolder t = s->holders[0];
        s->holders[0] = s->holders[s->n_holders - 1];
        s->holders[s->n_holders - 1] = t;
        return 1;
}

static int fn_bad_id(Semaphore *s, void *userdata)
{
        return holder_add(s, "bad\nid", 1);
}

static void assert_holders(const Semaphore *s, const char *const *ids, const int64_t *since, size_t n)
{
        assert_int_equal(s->n_holders, n);
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(s->holders[i].id, ids[i]);
                assert_int_equal(s->holders[i].since, since[i]);
        }
}

/* ---- tests ---- */

static void test_create(void **state)
{
        Fixture *f = *state;
        LockBackend *b;
        Semaphore s = {};
        HolderArg a = { "node-b", 1700000000 };
        char **names = NULL, out[64], wal[160];
        struct stat st;
        Error e = {};
        mode_t old = umask(022);

        b = open_backend(f->path);
        umask(old);
        assert_string_equal(b->ops->name, "sqlite");
        assert_int_equal(b->ops->ping(b, &e), 0);

        assert_int_equal(b->ops->get(b, "workers", &s, &e), -ENOENT);
        assert_non_null(strstr(e.message, "workers"));
        assert_int_equal(lock_backend_sqlite_list_groups(b, &names, &e), 0);
        assert_null(names[0]);
        strv_free(names);

        assert_int_equal(lock_backend_update(b, "workers", 3, fn_add, &a, &s, &e), 0);
        assert_int_equal(s.total_slots, 3);
        assert_holders(&s, (const char *const[]){ "node-b" }, (const int64_t[]){ 1700000000 }, 1);
        assert_int_equal(s.last_release, 0);
        assert_false(s.paused);
        semaphore_done(&s);

        assert_int_equal(b->ops->get(b, "workers", &s, &e), 0);
        assert_int_equal(s.total_slots, 3);
        assert_holders(&s, (const char *const[]){ "node-b" }, (const int64_t[]){ 1700000000 }, 1);
        semaphore_done(&s);

        /* ret is optional */
        a.id = "node-a";
        assert_int_equal(lock_backend_update(b, "workers", 3, fn_add, &a, NULL, &e), 0);
        assert_int_equal(lock_backend_update(b, "controllers", 1, fn_add, &a, NULL, &e), 0);
        assert_int_equal(lock_backend_sqlite_list_groups(b, &names, &e), 0);
        assert_string_equal(names[0], "controllers");
        assert_string_equal(names[1], "workers");
        assert_null(names[2]);
        strv_free(names);

        /* invalid group names are refused before touching the database */
        assert_int_equal(lock_backend_update(b, "bad\ngroup", 1, fn_add, &a, NULL, &e), -EINVAL);
        assert_int_equal(lock_backend_update(b, "", 1, fn_add, &a, NULL, &e), -EINVAL);
        assert_int_equal(b->ops->get(b, "bad\tgroup", &s, &e), -EINVAL);
        assert_int_equal(b->stats.errors, 0);
        /* NULLs the contract forbids are programmer errors */
        assert_aborts(lock_backend_update(b, NULL, 1, fn_add, &a, NULL, &e));
        assert_aborts(lock_backend_update(b, "workers", 1, NULL, &a, NULL, &e));
        assert_aborts(b->ops->get(b, NULL, &s, &e));
        assert_aborts(lock_backend_sqlite_list_groups(b, NULL, &e));
        assert_aborts(lock_backend_sqlite_new(NULL, &b, &e));
        assert_int_equal(lock_backend_sqlite_new("", &b, &e), -EINVAL);
        /* the -wal file, which holds the latest commits, is private too */
        snprintf(wal, sizeof(wal), "%s-wal", f->path);
        assert_int_equal(stat(wal, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        lock_backend_free(b);

        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        raw_query(f->path, "PRAGMA user_version", out);
        assert_string_equal(out, "1");
        raw_query(f->path, "PRAGMA journal_mode", out);
        assert_string_equal(out, "wal");
}

static void test_noop_writes_nothing(void **state)
{
        Fixture *f = *state;
        LockBackend *b = open_backend(f->path);
        HolderArg a = { "node-a", 10 };
        Semaphore s = {};
        Error e = {};
        int calls = 0;

        /* a group never written: fn sees {total_slots = slots}; returning 0 writes nothing */
        assert_int_equal(lock_backend_update(b, "g", 4, fn_noop, &calls, &s, &e), 0);
        assert_int_equal(calls, 1);
        assert_int_equal(s.total_slots, 4);
        assert_int_equal(s.n_holders, 0);
        semaphore_done(&s);
        assert_int_equal(b->ops->get(b, "g", &s, &e), -ENOENT);

        assert_int_equal(lock_backend_update(b, "g", 4, fn_add, &a, NULL, &e), 0);
        /* changed but returned 0: the stored state comes back and stays */
        assert_int_equal(lock_backend_update(b, "g", 4, fn_change_quietly, NULL, &s, &e), 0);
        assert_int_equal(s.total_slots, 4);
        assert_holders(&s, (const char *const[]){ "node-a" }, (const int64_t[]){ 10 }, 1);
        semaphore_done(&s);
        /* the slots argument only applies to a group never written */
        assert_int_equal(lock_backend_update(b, "g", 7, fn_noop, &calls, &s, &e), 0);
        assert_int_equal(s.total_slots, 4);
        assert_holders(&s, (const char *const[]){ "node-a" }, (const int64_t[]){ 10 }, 1);
        semaphore_done(&s);
        /* adding an existing holder: fn returns 0 */
        assert_int_equal(lock_backend_update(b, "g", 4, fn_add, &a, NULL, &e), 0);
        assert_int_equal(b->ops->get(b, "g", &s, &e), 0);
        assert_holders(&s, (const char *const[]){ "node-a" }, (const int64_t[]){ 10 }, 1);
        semaphore_done(&s);
        lock_backend_free(b);
}

static void test_error_rolls_back(void **state)
{
        Fixture *f = *state;
        LockBackend *b = open_backend(f->path);
        HolderArg a = { "node-a", 10 };
        Semaphore s = { .total_slots = 12345 };
        Error e = {};

        /* on a group never written: the group row is not created either */
        assert_int_equal(lock_backend_update(b, "g", 2, fn_add_then_fail, NULL, &s, &e), -EPERM);
        assert_non_null(strstr(e.message, "\"g\""));
        assert_int_equal(s.total_slots, 12345); /* ret untouched */
        assert_int_equal(b->ops->get(b, "g", &s, &e), -ENOENT);

        assert_int_equal(lock_backend_update(b, "g", 2, fn_add, &a, NULL, &e), 0);
        assert_int_equal(lock_backend_update(b, "g", 2, fn_add_then_fail, NULL, NULL, &e), -EPERM);
        /* states fn must not produce are refused, nothing written */
        assert_int_equal(lock_backend_update(b, "g", 2, fn_unsorted, NULL, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.message, "sorted"));
        assert_int_equal(lock_backend_update(b, "g", 2, fn_bad_id, NULL, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.message, "invalid id"));
        assert_int_equal(b->stats.errors, 4);

        assert_int_equal(b->ops->get(b, "g", &s, &e), 0);
        assert_int_equal(s.total_slots, 2);
        assert_false(s.paused);
        assert_holders(&s, (const char *const[]){ "node-a" }, (const int64_t[]){ 10 }, 1);
        semaphore_done(&s);

        /* and the connection is usable afterwards (no transaction left open) */
        a.id = "node-b";
        assert_int_equal(lock_backend_update(b, "g", 2, fn_add, &a, NULL, &e), 0);
        lock_backend_free(b);
}

static void test_persisted(void **state)
{
        Fixture *f = *state;
        LockBackend *b = open_backend(f->path);
        const char *const ids[] = { "c-node", "a-node", "b-node", "d-node" };
        GroupArg g = { .total_slots = 5, .last_release = 1700000500, .paused = true };
        Semaphore s = {};
        Error e = {};

        for (size_t i = 0; i < 4; i++) {
                HolderArg a = { ids[i], 1000 + (int64_t)i };
                assert_int_equal(lock_backend_update(b, "workers", 3, fn_add, &a, NULL, &e), 0);
        }
        assert_int_equal(lock_backend_update(b, "workers", 3, fn_remove, (void *)"b-node", NULL, &e), 0);
        assert_int_equal(
                lock_backend_update(b, "workers", 3, fn_set_since, &(HolderArg){ "d-node", 77 }, NULL, &e),
                0);
        assert_int_equal(
                lock_backend_update(b, "workers", 3, fn_set_since, &(HolderArg){ "x", 77 }, NULL, &e),
                -ENOENT);
        assert_int_equal(lock_backend_update(b, "workers", 3, fn_set_group, &g, &s, &e), 0);
        assert_int_equal(s.total_slots, 5);
        semaphore_done(&s);
        lock_backend_free(b);

        /* reopen: the same state, holders sorted */
        b = open_backend(f->path);
        assert_int_equal(b->ops->get(b, "workers", &s, &e), 0);
        assert_int_equal(s.total_slots, 5);
        assert_int_equal(s.last_release, 1700000500);
        assert_true(s.paused);
        assert_holders(&s, (const char *const[]){ "a-node", "c-node", "d-node" },
                       (const int64_t[]){ 1001, 1000, 77 }, 3);
        semaphore_done(&s);

        /* shrink below the number of holders (they keep their slots), unpause */
        g = (GroupArg){ .total_slots = 1, .last_release = 1700000600, .paused = false };
        assert_int_equal(lock_backend_update(b, "workers", 3, fn_set_group, &g, NULL, &e), 0);
        lock_backend_free(b);
        b = open_backend(f->path);
        assert_int_equal(b->ops->get(b, "workers", &s, &e), 0);
        assert_int_equal(s.total_slots, 1);
        assert_int_equal(s.last_release, 1700000600);
        assert_false(s.paused);
        assert_int_equal(s.n_holders, 3);
        semaphore_done(&s);

        /* UTF-8 ids survive */
        HolderArg u = { "n\xc5\x93ud-\xe2\x82\xac", 9 };
        assert_int_equal(lock_backend_update(b, "workers", 3, fn_add, &u, &s, &e), 0);
        assert_int_equal(s.n_holders, 4);
        semaphore_done(&s);
        assert_int_equal(b->ops->get(b, "workers", &s, &e), 0);
        assert_string_equal(s.holders[3].id, u.id);
        semaphore_done(&s);
        lock_backend_free(b);
}

/* Group names as Airlock accepts them (quotes, spaces, '/', UTF-8) are bound parameters: stored and read
 * back as they are, also when the database is opened again (which checks every stored name). */
static void test_group_names(void **state)
{
        static const char *const names[] = { "it's \"x\"; DROP TABLE holders; --", "my_workers", "eu/west 2",
                                             "Z\xc3\xbcrich" };
        Fixture *f = *state;
        LockBackend *b = open_backend(f->path);
        Semaphore s = {};
        Error e = {};

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                HolderArg a = { "n1", 10 + (int64_t)i };
                assert_int_equal(lock_backend_update(b, names[i], 2, fn_add, &a, NULL, &e), 0);
        }
        lock_backend_free(b);
        b = open_backend(f->path);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                assert_int_equal(b->ops->get(b, names[i], &s, &e), 0);
                assert_holders(&s, (const char *const[]){ "n1" }, (const int64_t[]){ 10 + (int64_t)i }, 1);
                semaphore_done(&s);
        }
        assert_int_equal(lock_backend_update(b, "a\nb", 2, fn_add, &(HolderArg){ "n1", 1 }, NULL, &e),
                         -EINVAL);
        lock_backend_free(b);
}

/* ---- one process per database file; two threads on one backend: no lost update ---- */

#define INCREMENTS 2000

static int fn_increment(Semaphore *s, void *userdata)
{
        ssize_t at = semaphore_find(s, "counter");

        if (at < 0)
                return holder_add(s, "counter", 1);
        s->holders[at].since++;
        return 1;
}

typedef struct ThreadArg {
        LockBackend *b;
        int r;
        Error e;
} ThreadArg;

static void *increment_thread(void *userdata)
{
        ThreadArg *t = userdata;

        for (int i = 0; i < INCREMENTS && t->r >= 0; i++)
                t->r = lock_backend_update(t->b, "counter", 1, fn_increment, NULL, NULL, &t->e);
        return NULL;
}

/* A second backend on the same file — another upkeep-lock, or this one started twice — is refused at
 * once with a message that says why, instead of the two starving each other in SQLite's busy handler
 * (which once failed this test under load). Closing the first frees the file. */
static void test_one_process_per_database(void **state)
{
        Fixture *f = *state;
        LockBackend *a = open_backend(f->path), *b = NULL;
        Error e = {};

        assert_int_equal(lock_backend_sqlite_new(f->path, &b, &e), -EBUSY);
        assert_null(b);
        assert_non_null(strstr(e.message, f->path));
        assert_non_null(strstr(e.message, "in use by another process"));
        lock_backend_free(a);
        b = open_backend(f->path);
        lock_backend_free(b);
}

/* Two threads updating through one backend (its mutex serialises the transactions): every update counts. */
static void test_two_threads(void **state)
{
        Fixture *f = *state;
        ThreadArg t[2] = {};
        pthread_t th[2];
        Semaphore s = {};
        Error e = {};

        t[0].b = t[1].b = open_backend(f->path);
        for (int i = 0; i < 2; i++)
                assert_int_equal(pthread_create(&th[i], NULL, increment_thread, &t[i]), 0);
        /* both joined before failing: a failure must not leave a thread writing into this frame */
        for (int i = 0; i < 2; i++)
                pthread_join(th[i], NULL);
        for (int i = 0; i < 2; i++)
                if (t[i].r < 0)
                        fail_msg("thread %d: %s", i, t[i].e.message);
        assert_int_equal(t[0].b->ops->get(t[0].b, "counter", &s, &e), 0);
        assert_holders(&s, (const char *const[]){ "counter" }, (const int64_t[]){ 2 * INCREMENTS }, 1);
        semaphore_done(&s);
        lock_backend_free(t[0].b);
}

/* ---- SIGKILL in the middle of updates ---- */

/* Adds holder h<n> (since n + 1) and sets last_release to the new count, in one update: a consistent
 * state has holders h000000..h<n-1> exactly and last_release == n. */
static int fn_append(Semaphore *s, void *userdata)
{
        char id[16];
        int r;

        snprintf(id, sizeof(id), "h%06zu", s->n_holders);
        r = holder_add(s, id, (int64_t)s->n_holders + 1);
        if (r <= 0)
                return r < 0 ? r : -EEXIST;
        s->last_release = (int64_t)s->n_holders;
        return 1;
}

static void __attribute__((noreturn)) child_loop(const char *path, int fd)
{
        LockBackend *b = NULL;
        Error e = {};

        if (lock_backend_sqlite_new(path, &b, &e) < 0)
                _exit(3);
        for (;;) {
                Semaphore s = {};
                uint32_t n;

                if (lock_backend_update(b, "crash", 100, fn_append, NULL, &s, &e) < 0)
                        _exit(4);
                n = (uint32_t)s.n_holders; /* acknowledged: this many holders are committed */
                semaphore_done(&s);
                if (write(fd, &n, sizeof(n)) != sizeof(n))
                        _exit(5);
                if (n >= 5000) /* never reached in practice: bounded anyway */
                        _exit(6);
        }
}

static void check_consistent(const char *path, uint32_t acked)
{
        LockBackend *b = open_backend(path);
        Semaphore s = {};
        Error e = {};
        char out[64];
        int r;

        r = b->ops->get(b, "crash", &s, &e);
        if (r < 0)
                fail_msg("after SIGKILL: %s", e.message);
        /* every acknowledged update is there; at most the one in flight (committed, not yet acknowledged)
         * more; nothing else */
        if (s.n_holders != acked && s.n_holders != acked + 1)
                fail_msg("after SIGKILL: %zu holders, %u acknowledged", s.n_holders, acked);
        assert_int_equal(s.last_release, (int64_t)s.n_holders);
        for (size_t i = 0; i < s.n_holders; i++) {
                char id[16];
                snprintf(id, sizeof(id), "h%06zu", i);
                assert_string_equal(s.holders[i].id, id);
                assert_int_equal(s.holders[i].since, (int64_t)i + 1);
        }
        semaphore_done(&s);
        lock_backend_free(b);
        raw_query(path, "PRAGMA integrity_check", out);
        assert_string_equal(out, "ok");
}

static void test_sigkill(void **state)
{
        Fixture *f = *state;
        static const unsigned kill_after[] = { 1, 25, 7, 60 };
        uint32_t acked = 0;

        for (size_t round = 0; round < sizeof(kill_after) / sizeof(kill_after[0]); round++) {
                uint32_t n, seen = 0;
                int p[2], status;
                pid_t pid;
                ssize_t k;

                assert_int_equal(pipe(p), 0);
                pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        close(p[0]);
                        child_loop(f->path, p[1]);
                }
                close(p[1]);
                while (seen < kill_after[round] && (k = read(p[0], &n, sizeof(n))) == sizeof(n)) {
                        acked = n;
                        seen++;
                }
                assert_int_equal(seen, kill_after[round]);
                kill(pid, SIGKILL);
                /* acknowledgements already written before the kill count too */
                while ((k = read(p[0], &n, sizeof(n))) == sizeof(n))
                        acked = n;
                assert_int_equal(k, 0);
                close(p[0]);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

                check_consistent(f->path, acked);
                /* the next child continues from what is stored (maybe acked + 1) */
                {
                        LockBackend *b = open_backend(f->path);
                        Semaphore s = {};
                        Error e = {};
                        assert_int_equal(b->ops->get(b, "crash", &s, &e), 0);
                        acked = (uint32_t)s.n_holders;
                        semaphore_done(&s);
                        lock_backend_free(b);
                }
        }
}

/* ---- errors ---- */

static void test_missing_directory(void **state)
{
        Fixture *f = *state;
        LockBackend *b = NULL;
        char path[256];
        Error e = {};

        snprintf(path, sizeof(path), "%s/no-such-dir/lock.db", f->dir);
        assert_int_equal(lock_backend_sqlite_new(path, &b, &e), -ENOENT);
        assert_null(b);
        assert_non_null(strstr(e.message, path));

        /* a directory where the file should be */
        assert_true(lock_backend_sqlite_new(f->dir, &b, &e) < 0);
        assert_non_null(strstr(e.message, f->dir));
        assert_int_equal(lock_backend_sqlite_new("", &b, &e), -EINVAL);
}

static void test_garbage_file(void **state)
{
        Fixture *f = *state;
        LockBackend *b = NULL;
        char junk[8192];
        Error e = {};
        int fd, r;

        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (char)(i * 7 + 3);
        fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
        close(fd);

        r = lock_backend_sqlite_new(f->path, &b, &e);
        assert_int_equal(r, -EBADMSG);
        assert_null(b);
        assert_non_null(strstr(e.message, f->path));
        assert_non_null(strstr(e.message, "not a database"));
}

static void test_corrupted_pages(void **state)
{
        Fixture *f = *state;
        LockBackend *b = open_backend(f->path);
        Semaphore s = {};
        char junk[4096];
        struct stat st;
        Error e = {};
        int fd, r;

        for (int i = 0; i < 50; i++) {
                char id[16];
                snprintf(id, sizeof(id), "node-%02d", i);
                assert_int_equal(lock_backend_update(b, "g", 100, fn_add, &(HolderArg){ id, i }, NULL, &e),
                                 0);
        }
        lock_backend_free(b); /* the last connection checkpoints the WAL into the file */

        /* keep page 1 (header and schema), overwrite every other page */
        assert_int_equal(stat(f->path, &st), 0);
        assert_true(st.st_size > 4096);
        memset(junk, 0xa5, sizeof(junk));
        fd = open(f->path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (off_t off = 4096; off < st.st_size; off += (off_t)sizeof(junk))
                assert_int_equal(pwrite(fd, junk, sizeof(junk), off), sizeof(junk));
        close(fd);

        r = lock_backend_sqlite_new(f->path, &b, &e);
        if (r < 0) { /* detecting it at open is fine too */
                assert_int_equal(r, -EBADMSG);
                assert_non_null(strstr(e.message, f->path));
                return;
        }
        assert_int_equal(b->ops->get(b, "g", &s, &e), -EBADMSG);
        assert_non_null(strstr(e.message, "\"g\""));
        assert_int_equal(lock_backend_update(b, "g", 100, fn_add, &(HolderArg){ "x", 1 }, NULL, &e),
                         -EBADMSG);
        assert_non_null(strstr(e.message, "malformed"));
        lock_backend_free(b);
}

static void test_edited_by_hand(void **state)
{
        Fixture *f = *state;
        LockBackend *b = open_backend(f->path);
        HolderArg a = { "node-a", 10 };
        Semaphore s = {};
        char long_id[SEMAPHORE_MAX_ID + 64], sql[512];
        Error e = {};

        assert_int_equal(lock_backend_update(b, "g", 2, fn_add, &a, NULL, &e), 0);
        assert_int_equal(lock_backend_update(b, "h", 2, fn_add, &a, NULL, &e), 0);

        /* a control character in an id */
        raw_exec(f->path, "INSERT INTO holders VALUES ('g', 'evil' || char(1), 5)");
        assert_int_equal(b->ops->get(b, "g", &s, &e), -EBADMSG);
        assert_non_null(strstr(e.message, "invalid id"));
        assert_non_null(strstr(e.message, "\"g\""));
        a.id = "node-b";
        assert_int_equal(lock_backend_update(b, "g", 2, fn_add, &a, NULL, &e), -EBADMSG);
        raw_exec(f->path, "DELETE FROM holders WHERE id <> 'node-a'");
        assert_int_equal(lock_backend_update(b, "g", 2, fn_add, &a, NULL, &e), 0);

        /* an empty id, an id too long */
        raw_exec(f->path, "INSERT INTO holders VALUES ('h', '', 5)");
        assert_int_equal(b->ops->get(b, "h", &s, &e), -EBADMSG);
        raw_exec(f->path, "DELETE FROM holders WHERE id = ''");
        memset(long_id, 'x', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = 0;
        snprintf(sql, sizeof(sql), "INSERT INTO holders VALUES ('h', '%s', 5)", long_id);
        raw_exec(f->path, sql);
        assert_int_equal(b->ops->get(b, "h", &s, &e), -EBADMSG);
        raw_exec(f->path, "DELETE FROM holders WHERE length(id) > 100");

        /* negative slots, paused out of range, negative since, negative last_release */
        raw_exec(f->path, "UPDATE groups SET total_slots = -1 WHERE name = 'h'");
        assert_int_equal(b->ops->get(b, "h", &s, &e), -EBADMSG);
        assert_non_null(strstr(e.message, "total_slots"));
        raw_exec(f->path, "UPDATE groups SET total_slots = 2, paused = 7 WHERE name = 'h'");
        assert_int_equal(b->ops->get(b, "h", &s, &e), -EBADMSG);
        raw_exec(f->path, "UPDATE groups SET paused = 0, last_release = -5 WHERE name = 'h'");
        assert_int_equal(b->ops->get(b, "h", &s, &e), -EBADMSG);
        raw_exec(f->path, "UPDATE groups SET last_release = 0 WHERE name = 'h'");
        raw_exec(f->path, "UPDATE holders SET since = -3 WHERE group_name = 'h'");
        assert_int_equal(b->ops->get(b, "h", &s, &e), -EBADMSG);
        raw_exec(f->path, "UPDATE holders SET since = 3 WHERE group_name = 'h'");
        assert_int_equal(b->ops->get(b, "h", &s, &e), 0);
        semaphore_done(&s);

        /* an invalid group name in the table */
        char **names = NULL;
        raw_exec(f->path, "INSERT INTO groups (name, total_slots) VALUES ('bad' || char(10) || 'name', 1)");
        assert_int_equal(lock_backend_sqlite_list_groups(b, &names, &e), -EBADMSG);
        assert_null(names);
        raw_exec(f->path, "DELETE FROM groups WHERE name = 'bad' || char(10) || 'name'");
        assert_int_equal(lock_backend_sqlite_list_groups(b, &names, &e), 0);
        strv_free(names);
        lock_backend_free(b);

        /* a schema from the future */
        raw_exec(f->path, "PRAGMA user_version = 99");
        b = NULL;
        assert_int_equal(lock_backend_sqlite_new(f->path, &b, &e), -EPROTONOSUPPORT);
        assert_null(b);
        assert_non_null(strstr(e.message, "99"));
}

static void test_too_many_holders(void **state)
{
        Fixture *f = *state;
        LockBackend *b = open_backend(f->path);
        HolderArg a = { "node-a", 10 };
        Semaphore s = {};
        char sql[256];
        Error e = {};

        assert_int_equal(lock_backend_update(b, "g", 2, fn_add, &a, NULL, &e), 0);
        snprintf(sql, sizeof(sql),
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
                 "INSERT INTO holders SELECT 'g', printf('x%%06d', i), 1 FROM n",
                 SEMAPHORE_MAX_HOLDERS);
        raw_exec(f->path, sql);
        assert_int_equal(b->ops->get(b, "g", &s, &e), -EBADMSG);
        assert_non_null(strstr(e.message, "holders"));
        raw_exec(f->path, "DELETE FROM holders WHERE id = 'node-a'");
        assert_int_equal(b->ops->get(b, "g", &s, &e), 0); /* exactly the maximum is fine */
        assert_int_equal(s.n_holders, SEMAPHORE_MAX_HOLDERS);
        semaphore_done(&s);
        lock_backend_free(b);
}

/* ---- batches: update_many ---- */

static LockBackendUpdate entry(const char *group, SemaphoreUpdateFn fn, void *userdata)
{
        return (LockBackendUpdate){ .group = group, .slots = 3, .fn = fn, .userdata = userdata };
}

static void assert_group(LockBackend *b, const char *group, const char *const *ids, size_t n)
{
        Semaphore s = {};
        Error e = {};
        int r = b->ops->get(b, group, &s, &e);

        if (n == 0 && r == -ENOENT)
                return;
        if (r < 0)
                fail_msg("%s: %s", group, e.message);
        assert_int_equal(s.n_holders, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(s.holders[i].id, ids[i]);
        semaphore_done(&s);
}

static void test_batch_groups(void **state)
{
        Fixture *f = *state;
        LockBackend *b = open_backend(f->path);
        HolderArg n1 = { "n1", 1 }, n2 = { "n2", 2 }, n3 = { "n3", 3 };
        LockBackendUpdate u[4];
        Error e = {};

        assert_true(lock_backend_can_batch(b));
        assert_int_equal(lock_backend_update_many(b, u, 0, &e), 0);

        /* three groups, one of them twice: the second entry of "a" sees what the first wrote */
        u[0] = entry("a", fn_add, &n1);
        u[1] = entry("b", fn_add, &n2);
        u[2] = entry("a", fn_add, &n3);
        u[3] = entry("c", fn_remove, (void *)"nobody");
        assert_int_equal(lock_backend_update_many(b, u, 4, &e), 0);
        for (size_t i = 0; i < 4; i++)
                assert_int_equal(u[i].result, 0);
        assert_group(b, "a", (const char *const[]){ "n1", "n3" }, 2);
        assert_group(b, "b", (const char *const[]){ "n2" }, 1);
        assert_group(b, "c", NULL, 0); /* wrote nothing: not created */

        u[0] = entry("a", fn_remove, (void *)"n1");
        u[1] = entry("a", fn_add, &n1);
        u[2] = entry("b", fn_remove, (void *)"n2");
        assert_int_equal(lock_backend_update_many(b, u, 3, &e), 0);
        assert_group(b, "a", (const char *const[]){ "n1", "n3" }, 2);
        assert_group(b, "b", NULL, 0);
        assert_int_equal(b->stats.errors, 0);
        lock_backend_free(b);

        /* durable: a fresh connection sees it */
        b = open_backend(f->path);
        assert_group(b, "a", (const char *const[]){ "n1", "n3" }, 2);
        lock_backend_free(b);
}

static void test_batch_entry_fails_alone(void **state)
{
        Fixture *f = *state;
        LockBackend *b = open_backend(f->path);
        HolderArg n1 = { "n1", 1 }, n2 = { "n2", 2 }, n4 = { "n4", 4 };
        LockBackendUpdate u[6];
        Error e = {};

        assert_int_equal(lock_backend_update(b, "broken", 3, fn_add, &n1, NULL, &e), 0);
        /* a group edited by hand into a state Upkeep never writes */
        raw_exec(f->path, "INSERT INTO holders VALUES ('broken', 'evil' || char(1), 5)");
        /* a holder row whose group row is gone: adding that holder cannot be written (primary key) */
        raw_exec(f->path, "PRAGMA foreign_keys = OFF; INSERT INTO holders VALUES ('orphan', 'n4', 5)");

        u[0] = entry("a", fn_add, &n1);
        u[1] = entry("refused", fn_add_then_fail, NULL);
        u[2] = entry("broken", fn_add, &n2);
        u[3] = entry("bad\nname", fn_add, &n2);
        u[4] = entry("orphan", fn_add, &n4);
        u[5] = entry("b", fn_add, &n2);
        assert_int_equal(lock_backend_update_many(b, u, 6, &e), 0);
        assert_int_equal(u[0].result, 0);
        assert_int_equal(u[1].result, -EPERM);
        assert_non_null(strstr(u[1].error.message, "\"refused\""));
        assert_int_equal(u[2].result, -EBADMSG);
        assert_non_null(strstr(u[2].error.message, "invalid id"));
        assert_int_equal(u[3].result, -EINVAL);
        assert_int_equal(u[4].result, -EBADMSG);
        assert_non_null(strstr(u[4].error.message, "\"orphan\""));
        assert_int_equal(u[5].result, 0);
        assert_int_equal(b->stats.errors, 4);

        /* the others are written; the failed ones wrote nothing, not even their group row */
        assert_group(b, "a", (const char *const[]){ "n1" }, 1);
        assert_group(b, "b", (const char *const[]){ "n2" }, 1);
        assert_group(b, "refused", NULL, 0);
        assert_group(b, "orphan", NULL, 0);
        raw_exec(f->path, "DELETE FROM holders WHERE group_name = 'broken' AND id <> 'n1'");
        assert_group(b, "broken", (const char *const[]){ "n1" }, 1);

        /* all entries failing: nothing to commit, still 0 */
        u[0] = entry("refused", fn_add_then_fail, NULL);
        assert_int_equal(lock_backend_update_many(b, u, 1, &e), 0);
        assert_int_equal(u[0].result, -EPERM);
        /* and the connection is fine */
        u[0] = entry("c", fn_add, &n1);
        assert_int_equal(lock_backend_update_many(b, u, 1, &e), 0);
        assert_int_equal(u[0].result, 0);
        assert_group(b, "c", (const char *const[]){ "n1" }, 1);
        lock_backend_free(b);
}

static off_t file_size(const char *path)
{
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        return st.st_size;
}

/* A commit that cannot be written: the -wal file may not grow past its size (RLIMIT_FSIZE, as a full disk
 * would do). Every entry fails with the commit's error, nothing changes, and once the disk has room again
 * the same batch goes through. */
static void test_batch_commit_fails(void **state)
{
        Fixture *f = *state;
        LockBackend *b = open_backend(f->path);
        HolderArg n1 = { "n1", 1 }, n2 = { "n2", 2 }, n3 = { "n3", 3 };
        LockBackendUpdate u[3];
        struct rlimit old, lim;
        char wal[160];
        Error e = {};
        void (*old_handler)(int);

        assert_int_equal(lock_backend_update(b, "a", 3, fn_add, &n1, NULL, &e), 0);
        snprintf(wal, sizeof(wal), "%s-wal", f->path);

        u[0] = entry("a", fn_remove, (void *)"n1");
        u[1] = entry("b", fn_add, &n2);
        u[2] = entry("a", fn_add, &n3);
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
        lim = old;
        lim.rlim_cur = (rlim_t)file_size(wal);
        old_handler = signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        int r = lock_backend_update_many(b, u, 3, &e);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
        signal(SIGXFSZ, old_handler);

        assert_int_equal(r, -EIO);
        assert_non_null(strstr(e.message, "cannot commit"));
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(u[i].result, -EIO);
                assert_string_equal(u[i].error.message, e.message);
        }
        assert_int_equal(b->stats.errors, 3);
        assert_group(b, "a", (const char *const[]){ "n1" }, 1);
        assert_group(b, "b", NULL, 0);

        /* room again: the same batch works, on the same connection */
        u[0] = entry("a", fn_remove, (void *)"n1");
        u[1] = entry("b", fn_add, &n2);
        u[2] = entry("a", fn_add, &n3);
        assert_int_equal(lock_backend_update_many(b, u, 3, &e), 0);
        assert_group(b, "a", (const char *const[]){ "n3" }, 1);
        assert_group(b, "b", (const char *const[]){ "n2" }, 1);
        lock_backend_free(b);

        b = open_backend(f->path);
        assert_group(b, "a", (const char *const[]){ "n3" }, 1);
        assert_group(b, "b", (const char *const[]){ "n2" }, 1);
        lock_backend_free(b);
}

/* Another process holds the write lock past the busy timeout: the batch cannot begin. */
static void test_batch_cannot_begin(void **state)
{
        Fixture *f = *state;
        LockBackend *b = open_backend(f->path);
        HolderArg n1 = { "n1", 1 }, n2 = { "n2", 2 };
        LockBackendUpdate u[2] = { entry("a", fn_add, &n1), entry("b", fn_add, &n2) };
        sqlite3 *other = NULL;
        Error e = {};

        assert_int_equal(sqlite3_open_v2(f->path, &other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(lock_backend_update_many(b, u, 2, &e), -EBUSY);
        assert_non_null(strstr(e.message, "cannot begin"));
        assert_int_equal(u[0].result, -EBUSY);
        assert_int_equal(u[1].result, -EBUSY);
        assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(other);
        assert_group(b, "a", NULL, 0);
        assert_group(b, "b", NULL, 0);
        assert_int_equal(lock_backend_update_many(b, u, 2, &e), 0);
        assert_group(b, "a", (const char *const[]){ "n1" }, 1);
        lock_backend_free(b);
}

/* SIGKILL during batches of three groups: a batch is one transaction, so the three groups always have the
 * same number of holders, every acknowledged batch is there and at most the one in flight more. */
static void __attribute__((noreturn)) batch_child_loop(const char *path, int fd)
{
        static const char *const groups[] = { "crash-a", "crash-b", "crash-c" };
        LockBackend *b = NULL;
        Error e = {};

        if (lock_backend_sqlite_new(path, &b, &e) < 0)
                _exit(3);
        for (uint32_t n = 1;; n++) {
                LockBackendUpdate u[3];

                for (size_t i = 0; i < 3; i++)
                        u[i] = (LockBackendUpdate){ .group = groups[i], .slots = 100, .fn = fn_append };
                if (lock_backend_update_many(b, u, 3, &e) < 0)
                        _exit(4);
                for (size_t i = 0; i < 3; i++)
                        if (u[i].result < 0)
                                _exit(5);
                if (write(fd, &n, sizeof(n)) != sizeof(n))
                        _exit(6);
                if (n >= 5000)
                        _exit(7);
        }
}

static void test_batch_sigkill(void **state)
{
        Fixture *f = *state;
        static const char *const groups[] = { "crash-a", "crash-b", "crash-c" };
        uint32_t acked = 0, seen = 0, n;
        int p[2], status;
        pid_t pid;

        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                batch_child_loop(f->path, p[1]);
        }
        close(p[1]);
        while (seen < 40 && read(p[0], &n, sizeof(n)) == sizeof(n)) {
                acked = n;
                seen++;
        }
        assert_int_equal(seen, 40);
        kill(pid, SIGKILL);
        while (read(p[0], &n, sizeof(n)) == sizeof(n))
                acked = n;
        close(p[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));

        LockBackend *b = open_backend(f->path);
        size_t count = 0;
        for (size_t i = 0; i < 3; i++) {
                Semaphore s = {};
                Error e = {};
                if (b->ops->get(b, groups[i], &s, &e) < 0)
                        fail_msg("%s: %s", groups[i], e.message);
                if (i == 0)
                        count = s.n_holders;
                assert_int_equal(s.n_holders, count); /* all or nothing */
                assert_int_equal(s.last_release, (int64_t)s.n_holders);
                semaphore_done(&s);
        }
        if (count != acked && count != acked + 1)
                fail_msg("after SIGKILL: %zu holders per group, %u batches acknowledged", count, acked);
        lock_backend_free(b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_noop_writes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_rolls_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_persisted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_one_process_per_database, setup, teardown),
                cmocka_unit_test_setup_teardown(test_two_threads, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sigkill, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupted_pages, setup, teardown),
                cmocka_unit_test_setup_teardown(test_edited_by_hand, setup, teardown),
                cmocka_unit_test_setup_teardown(test_too_many_holders, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batch_groups, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batch_entry_fails_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batch_commit_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batch_cannot_begin, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batch_sigkill, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
