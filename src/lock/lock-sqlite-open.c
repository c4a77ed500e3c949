/* lock-sqlite-open.c — opening the SQLite backend's database (see lock-sqlite.h): the file's mode, WAL and
 * the other settings, the schema (created, or migrated from an older version, in one write transaction)
 * and the prepared statements the store runs. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lock-sqlite.h"
#include "macros.h"

/* FULL: a commit is on disk before it returns (survives power loss). NORMAL (WAL): survives a crash of
 * the process but may lose the last commits on power loss. Overridable only at build time, for
 * measurements. */
#ifndef UPKEEP_LOCK_SQLITE_SYNCHRONOUS
#define UPKEEP_LOCK_SQLITE_SYNCHRONOUS FULL /* -DUPKEEP_LOCK_SQLITE_SYNCHRONOUS=NORMAL */
#endif
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define PRAGMA_SYNCHRONOUS "PRAGMA synchronous = " STRINGIFY(UPKEEP_LOCK_SQLITE_SYNCHRONOUS)

#define SQLITE_BUSY_TIMEOUT_MS 5000
#define SQLITE_JOURNAL_SIZE_LIMIT (4 * 1024 * 1024)

/* migrations[i] brings a database from schema version i to i + 1 (PRAGMA user_version). */
static const char *const migrations[] = {
        /* 0 → 1 */
        "CREATE TABLE groups ("
        " name TEXT PRIMARY KEY NOT NULL,"
        " total_slots INTEGER NOT NULL,"
        " last_release INTEGER NOT NULL DEFAULT 0,"
        " paused INTEGER NOT NULL DEFAULT 0"
        ") STRICT;"
        "CREATE TABLE holders ("
        " group_name TEXT NOT NULL REFERENCES groups(name),"
        " id TEXT NOT NULL,"
        " since INTEGER NOT NULL,"
        " PRIMARY KEY (group_name, id)"
        ") WITHOUT ROWID, STRICT;",
};
#define SCHEMA_VERSION ((int)ELEMENTSOF(migrations))

static int errno_from_sqlite(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_FORMAT:
        case SQLITE_SCHEMA:
        case SQLITE_MISMATCH:
        case SQLITE_CONSTRAINT:
                return -EBADMSG;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_RANGE:
        case SQLITE_MISUSE:
                return -EINVAL;
        default: /* SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_PROTOCOL, ... */
                return -EIO;
        }
}

int sqlite_error(SqliteBackend *b, const char *group, int rc, const char *what, Error *e)
{
        const char *msg = sqlite3_errmsg(b->db);

        if (group)
                return error_setf(e, errno_from_sqlite(rc), "%s: group \"%s\": %s: %s", b->path, group, what,
                                  strna(msg));
        return error_setf(e, errno_from_sqlite(rc), "%s: %s: %s", b->path, what, strna(msg));
}

void sqlite_rollback(SqliteBackend *b)
{
        if (!sqlite3_get_autocommit(b->db)) {
                (void)sqlite3_step(b->rollback);
                sqlite3_reset(b->rollback);
        }
}

void sqlite_backend_close(SqliteBackend *b)
{
        if (!b)
                return;
        sqlite3_stmt *stmts[] = {
                b->begin,        b->commit, b->rollback,     b->savepoint,     b->rollback_to,
                b->release,      b->load,   b->upsert_group, b->insert_holder, b->delete_holder,
                b->update_since, b->ping,   b->list_groups,
        };
        for (size_t i = 0; i < ELEMENTSOF(stmts); i++)
                sqlite3_finalize(stmts[i]);
        sqlite3_close_v2(b->db);
        closep(&b->instance_fd); /* after SQLite's connection: see open_instance_lock() */
        pthread_mutex_destroy(&b->mutex);
        free(b->path);
        free(b);
}

/* Helpers for opening: plain SQL on the connection, errors naming the path. */
static int exec_sql(SqliteBackend *b, const char *sql, const char *what, Error *e)
{
        int rc = sqlite3_exec(b->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return sqlite_error(b, NULL, rc, what, e);
        return 0;
}

static int query_text(SqliteBackend *b, const char *sql, char *buf, size_t size, Error *e)
{
        sqlite3_stmt *st = NULL;
        const char *t;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(b->db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                r = sqlite_error(b, NULL, rc, sql, e);
                sqlite3_finalize(st);
                return r;
        }
        t = (const char *)sqlite3_column_text(st, 0);
        snprintf(buf, size, "%s", strna(t));
        sqlite3_finalize(st);
        return 0;
}

static int schema_version(SqliteBackend *b, int *ret, Error *e)
{
        char buf[32];
        int r = query_text(b, "PRAGMA user_version", buf, sizeof(buf), e);
        if (r < 0)
                return r;
        *ret = atoi(buf);
        return 0;
}

/* Creates or upgrades the schema in one write transaction (another process may race us: the version is
 * re-read once the write lock is held). */
static int migrate(SqliteBackend *b, Error *e)
{
        char sql[64];
        int v, r;

        r = schema_version(b, &v, e);
        if (r < 0)
                return r;
        if (v == SCHEMA_VERSION)
                return 0;

        r = exec_sql(b, "BEGIN IMMEDIATE", "cannot begin the schema migration", e);
        if (r < 0)
                return r;
        r = schema_version(b, &v, e);
        if (r < 0)
                goto fail;
        if (v < 0 || v > SCHEMA_VERSION) {
                r = error_setf(
                        e, -EPROTONOSUPPORT,
                        "%s: database schema version %d is not supported (this upkeep-lock knows 0..%d)",
                        b->path, v, SCHEMA_VERSION);
                goto fail;
        }
        for (; v < SCHEMA_VERSION; v++) {
                r = exec_sql(b, migrations[v], "cannot migrate the database schema", e);
                if (r < 0)
                        goto fail;
        }
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
        r = exec_sql(b, sql, "cannot set the schema version", e);
        if (r < 0)
                goto fail;
        return exec_sql(b, "COMMIT", "cannot commit the schema migration", e);

fail:
        sqlite_rollback(b);
        return r;
}

static int prepare(SqliteBackend *b, const char *sql, sqlite3_stmt **ret, Error *e)
{
        int rc = sqlite3_prepare_v3(b->db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret, NULL);
        if (rc != SQLITE_OK)
                return sqlite_error(b, NULL, rc, "cannot prepare a statement", e);
        return 0;
}

/* SQLite would create the file with mode 0644; the holders are nobody else's business. The -wal and -shm
 * files inherit this file's mode. */
/* Creates the database file if needed and takes the one-process-per-database lock on it: an exclusive
 * flock(2) held on *ret_fd until the backend is closed (after SQLite's own connection, so closing it never
 * drops SQLite's POSIX locks). Two upkeep-lock processes on one file would each believe their batches
 * decide alone and starve each other in SQLite's busy handler; several servers share etcd instead. The
 * kernel releases the lock when the process dies, so a restart after kill -9 opens at once. */
static int open_instance_lock(const char *path, int *ret_fd, Error *e)
{
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);

        if (fd < 0) {
                int r = negative_errno();
                if (r == -ENOENT)
                        return error_setf(
                                e, r, "%s: cannot create the database: its directory does not exist", path);
                return error_setf(e, r, "%s: cannot open the database: %m", path);
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = negative_errno();
                if (r == -EWOULDBLOCK)
                        return error_setf(
                                e, -EBUSY,
                                "%s: the database is in use by another process (one upkeep-lock per "
                                "SQLite file; several servers share the etcd3 backend)",
                                path);
                return error_setf(e, r, "%s: cannot lock the database: %m", path);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* The connection's settings: WAL, synchronous, foreign keys, checks, the journal's size. */
static int configure(SqliteBackend *b, Error *e)
{
        char mode[16], limit[64];
        int r;

        sqlite3_busy_timeout(b->db, SQLITE_BUSY_TIMEOUT_MS);
        sqlite3_db_config(b->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
        sqlite3_db_config(b->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

        /* The first statement reading the file: a file that is not a database fails here. */
        r = query_text(b, "PRAGMA journal_mode = WAL", mode, sizeof(mode), e);
        if (r < 0)
                return r;
        if (strcmp(mode, "wal") != 0)
                return error_setf(e, -EIO, "%s: cannot switch the database to WAL mode (journal mode is %s)",
                                  b->path, mode);
        r = exec_sql(b, PRAGMA_SYNCHRONOUS "; PRAGMA foreign_keys = ON; PRAGMA cell_size_check = ON;",
                     "cannot configure the database", e);
        if (r < 0)
                return r;
        snprintf(limit, sizeof(limit), "PRAGMA journal_size_limit = %d", SQLITE_JOURNAL_SIZE_LIMIT);
        return query_text(b, limit, mode, sizeof(mode), e);
}

static int prepare_statements(SqliteBackend *b, Error *e)
{
        const struct {
                sqlite3_stmt **st;
                const char *sql;
        } stmts[] = {
                { &b->begin, "BEGIN IMMEDIATE" },
                { &b->commit, "COMMIT" },
                { &b->savepoint, "SAVEPOINT upkeep_group" },
                { &b->rollback_to, "ROLLBACK TO upkeep_group" },
                { &b->release, "RELEASE upkeep_group" },
                { &b->load,
                  "SELECT g.total_slots, g.last_release, g.paused, h.id, h.since FROM groups AS g "
                  "LEFT JOIN holders AS h ON h.group_name = g.name WHERE g.name = ?1 ORDER BY h.id" },
                { &b->upsert_group,
                  "INSERT INTO groups (name, total_slots, last_release, paused) VALUES (?1, ?2, ?3, ?4) "
                  "ON CONFLICT (name) DO UPDATE SET total_slots = excluded.total_slots, "
                  "last_release = excluded.last_release, paused = excluded.paused" },
                { &b->insert_holder, "INSERT INTO holders (group_name, id, since) VALUES (?1, ?2, ?3)" },
                { &b->delete_holder, "DELETE FROM holders WHERE group_name = ?1 AND id = ?2" },
                { &b->update_since, "UPDATE holders SET since = ?3 WHERE group_name = ?1 AND id = ?2" },
                { &b->ping, "SELECT 1 FROM groups LIMIT 1" },
                { &b->list_groups, "SELECT name FROM groups ORDER BY name" },
        };

        for (size_t i = 0; i < ELEMENTSOF(stmts); i++) {
                int r = prepare(b, stmts[i].sql, stmts[i].st, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

int sqlite_backend_open(const char *path, const LockBackendOps *ops, SqliteBackend **ret, Error *e)
{
        _cleanup_close_ int fd = -EBADF;
        SqliteBackend *b = NULL;
        int rc, r;

        assert(path);
        assert(ret);
        if (!*path)
                return error_setf(e, -EINVAL, "no SQLite database path");
        r = open_instance_lock(path, &fd, e);
        if (r < 0)
                return r;
        b = calloc(1, sizeof(*b));
        if (!b)
                return error_setf(e, -ENOMEM, "%s: out of memory", path);
        b->instance_fd = TAKE_FD(fd);
        b->base.ops = ops;
        pthread_mutex_init(&b->mutex, NULL);
        b->path = strdup(path);
        if (!b->path) {
                r = error_setf(e, -ENOMEM, "%s: out of memory", path);
                goto fail;
        }
        /* Our mutex serializes every use of the connection (a transaction spans several calls), so SQLite's
         * own per-call mutex would only add cost. */
        rc = sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                if (b->db)
                        r = sqlite_error(b, NULL, rc, "cannot open the database", e);
                else
                        r = error_setf(e, -ENOMEM, "%s: cannot open the database: out of memory", path);
                goto fail;
        }
        r = configure(b, e);
        /* sqlite_rollback() needs this one before migrate() */
        if (r >= 0)
                r = prepare(b, "ROLLBACK", &b->rollback, e);
        if (r >= 0)
                r = migrate(b, e);
        if (r >= 0)
                r = prepare_statements(b, e);
        if (r < 0)
                goto fail;
        *ret = b;
        return 0;
fail:
        sqlite_backend_close(b);
        return r;
}
