/* lock-sqlite.h — the SQLite backend's insides, shared by lock-sqlite.c (the store: reading, checking and
 * writing groups, in transactions) and lock-sqlite-open.c (opening the database: its settings, schema
 * migrations and prepared statements). Its API is in lock-backend.h. */
#pragma once

#include <pthread.h>
#include <sqlite3.h>

#include "lock-backend.h"

typedef struct SqliteBackend {
        LockBackend base; /* first: LockBackend * ↔ SqliteBackend * */
        pthread_mutex_t mutex;
        sqlite3 *db;
        char *path;
        int instance_fd; /* holds the exclusive flock: one process per database file */

        sqlite3_stmt *begin;
        sqlite3_stmt *commit;
        sqlite3_stmt *rollback;
        sqlite3_stmt *savepoint; /* around one group's writes in a batch of several groups */
        sqlite3_stmt *rollback_to;
        sqlite3_stmt *release;
        sqlite3_stmt *load;
        sqlite3_stmt *upsert_group;
        sqlite3_stmt *insert_holder;
        sqlite3_stmt *delete_holder;
        sqlite3_stmt *update_since;
        sqlite3_stmt *ping;
        sqlite3_stmt *list_groups;
} SqliteBackend;

/* Fills e with "<path>: group "<group>": <what>: <SQLite's message>" and returns the mapped errno. Must be
 * called before anything else runs on the connection (which would replace the message). */
int sqlite_error(SqliteBackend *b, const char *group, int rc, const char *what, Error *e);
/* Rolls the open transaction back, if there is one. */
void sqlite_rollback(SqliteBackend *b);

/* Opens the database at path (created with mode 0600 when missing, switched to WAL, its schema created or
 * migrated, its statements prepared) as a backend with these ops. */
int sqlite_backend_open(const char *path, const LockBackendOps *ops, SqliteBackend **ret, Error *e);
void sqlite_backend_close(SqliteBackend *b);
