/* graph-report-store.c — outcome reports in SQLite, with their counts in memory (see graph-report-store.h).
 */
#include "graph-report-store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macros.h"
#include "metrics.h"

#define GRAPH_REPORT_STORE_BUSY_TIMEOUT_MS 2000

struct GraphReportStore {
        pthread_mutex_t lock;
        sqlite3 *db;
        char *path;
        sqlite3_stmt *insert;
        sqlite3_stmt *put_pause;
        GraphReportCounts counts; /* guarded by lock */
        GraphPause *pauses;       /* guarded by lock; at most GRAPH_PAUSES_MAX */
        size_t n_pauses;
};

/* Version 1. failed_checks holds the names joined by newlines (names are printable ASCII). */
static const char schema[] = "CREATE TABLE IF NOT EXISTS reports ("
                             " node TEXT NOT NULL,"
                             " to_version TEXT NOT NULL,"
                             " outcome TEXT NOT NULL,"
                             " stream TEXT NOT NULL,"
                             " grp TEXT NOT NULL,"
                             " basearch TEXT NOT NULL,"
                             " from_version TEXT NOT NULL,"
                             " detail TEXT NOT NULL,"
                             " failed_checks TEXT NOT NULL,"
                             " node_time INTEGER NOT NULL,"
                             " received INTEGER NOT NULL,"
                             " PRIMARY KEY (node, to_version, outcome)"
                             ") WITHOUT ROWID, STRICT;"
                             "CREATE TABLE IF NOT EXISTS pauses ("
                             " stream TEXT NOT NULL,"
                             " release TEXT NOT NULL,"
                             " frozen REAL NOT NULL,"
                             " paused_at INTEGER NOT NULL,"
                             " remaining_secs INTEGER NOT NULL,"
                             " resumed_at INTEGER NOT NULL,"
                             " reason TEXT NOT NULL,"
                             " had_node INTEGER NOT NULL,"
                             " had_rollout INTEGER NOT NULL,"
                             " had_duration INTEGER NOT NULL,"
                             " start_epoch INTEGER NOT NULL,"
                             " start_value REAL NOT NULL,"
                             " duration_minutes INTEGER NOT NULL,"
                             " PRIMARY KEY (stream, release)"
                             ") WITHOUT ROWID, STRICT;"
                             "PRAGMA user_version = 1;";

static int errno_from_sqlite(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
        case SQLITE_CANTOPEN:
                return -EACCES;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        default:
                return -EIO;
        }
}

static int store_error(GraphReportStore *s, int rc, const char *what, Error *e)
{
        return error_setf(e, errno_from_sqlite(rc), "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

void graph_report_store_close(GraphReportStore *s)
{
        if (!s)
                return;
        sqlite3_finalize(s->insert);
        sqlite3_finalize(s->put_pause);
        sqlite3_close_v2(s->db);
        free(s->pauses);
        graph_report_counts_done(&s->counts);
        pthread_mutex_destroy(&s->lock);
        free(s->path);
        free(s);
}

/* Counts every stored report once, grouped, into s->counts. */
static int load_counts(GraphReportStore *s, Error *e)
{
        static const char sql[] =
                "SELECT stream, to_version, grp, outcome, count(*) FROM reports GROUP BY 1, 2, 3, 4";
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, "cannot read the counts", e);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && r >= 0) {
                const char *f[4];
                for (int i = 0; i < 4; i++)
                        f[i] = (const char *)sqlite3_column_text(st, i);
                int o = f[3] ? graph_report_outcome_from_string(f[3]) : -EINVAL;
                /* Rows written by this code are valid; skip anything else rather than fail. */
                if (o < 0 || !f[0] || !f[1] || !f[2] || strlen(f[0]) > GRAPH_REPORT_MAX_NAME ||
                    strlen(f[1]) > GRAPH_REPORT_MAX_VERSION || strlen(f[2]) > GRAPH_REPORT_MAX_NAME)
                        continue;
                r = graph_report_counts_add(&s->counts, f[0], f[1], f[2], (GraphReportOutcome)o,
                                            (uint64_t)sqlite3_column_int64(st, 4));
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = store_error(s, rc, "cannot read the counts", e);
        sqlite3_finalize(st);
        return r;
}

/* Reads every pause record into s->pauses. */
static int load_pauses(GraphReportStore *s, Error *e)
{
        static const char sql[] =
                "SELECT stream, release, frozen, paused_at, remaining_secs, resumed_at, reason,"
                " had_node, had_rollout, had_duration, start_epoch, start_value,"
                " duration_minutes FROM pauses LIMIT 1024";
        sqlite3_stmt *st = NULL;
        int rc;

        s->pauses = calloc(GRAPH_PAUSES_MAX, sizeof(GraphPause));
        if (!s->pauses)
                return -ENOMEM;
        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, "cannot read the pauses", e);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *stream = (const char *)sqlite3_column_text(st, 0);
                const char *release = (const char *)sqlite3_column_text(st, 1);
                const char *reason = (const char *)sqlite3_column_text(st, 6);
                GraphPause *p = &s->pauses[s->n_pauses];
                if (!stream || !release ||
                    graph_pause_init(p, stream, release, NULL, sqlite3_column_int64(st, 3), strna(reason)) <
                            0)
                        continue;
                p->frozen = sqlite3_column_double(st, 2);
                p->remaining_secs = sqlite3_column_int64(st, 4);
                p->resumed_at = sqlite3_column_int64(st, 5);
                p->had_node = sqlite3_column_int(st, 7);
                p->had_rollout = sqlite3_column_int(st, 8);
                p->had_duration = sqlite3_column_int(st, 9);
                p->start_epoch = sqlite3_column_int64(st, 10);
                p->start_value = sqlite3_column_double(st, 11);
                p->duration_minutes = (uint64_t)sqlite3_column_int64(st, 12);
                s->n_pauses++;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return store_error(s, rc, "cannot read the pauses", e);
        return 0;
}

static int open_db(GraphReportStore *s, Error *e)
{
        static const char insert[] =
                "INSERT OR IGNORE INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        static const char put_pause[] =
                "INSERT OR REPLACE INTO pauses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        int rc, r;

        /* The file with mode 0600 before SQLite opens it (it would use 0644). */
        int fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return error_setf(e, -errno, "%s: cannot open: %m", s->path);
        close(fd);
        rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, "cannot open", e);
        sqlite3_busy_timeout(s->db, GRAPH_REPORT_STORE_BUSY_TIMEOUT_MS);
        rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(s->db, schema, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, "cannot create the schema", e);
        rc = sqlite3_prepare_v3(s->db, insert, -1, SQLITE_PREPARE_PERSISTENT, &s->insert, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_prepare_v3(s->db, put_pause, -1, SQLITE_PREPARE_PERSISTENT, &s->put_pause,
                                        NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, "cannot prepare a statement", e);
        r = load_counts(s, e);
        return r < 0 ? r : load_pauses(s, e);
}

int graph_report_store_open(const char *path, GraphReportStore **ret, Error *e)
{
        GraphReportStore *s;
        int r;

        assert(path && ret);
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        s->path = strdup(path);
        if (!s->path) {
                graph_report_store_close(s);
                return -ENOMEM;
        }
        r = open_db(s, e);
        if (r < 0) {
                graph_report_store_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

static int bind_report(GraphReportStore *s, const GraphReport *r, int64_t received)
{
        char checks[GRAPH_REPORT_MAX_CHECKS * (GRAPH_REPORT_MAX_CHECK_NAME + 1) + 1] = "";
        const char *text[] = { r->node,         r->to_version, graph_report_outcome_to_string(r->outcome),
                               r->stream,       r->group,      r->basearch,
                               r->from_version, r->detail,     checks };
        int rc = SQLITE_OK;

        for (size_t i = 0; i < r->n_checks; i++) {
                strcat(checks, r->checks[i]);
                strcat(checks, i + 1 < r->n_checks ? "\n" : "");
        }
        for (size_t i = 0; i < ELEMENTSOF(text) && rc == SQLITE_OK; i++)
                rc = sqlite3_bind_text(s->insert, (int)i + 1, text[i], -1, SQLITE_TRANSIENT);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(s->insert, 10, r->time);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(s->insert, 11, received);
        return rc;
}

int graph_report_store_add(GraphReportStore *s, const GraphReport *r, int64_t received, Error *e)
{
        int rc, ret;

        assert(s && r);
        pthread_mutex_lock(&s->lock);
        rc = bind_report(s, r, received);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(s->insert);
        if (rc != SQLITE_DONE)
                ret = store_error(s, rc, "cannot store a report", e);
        else if (sqlite3_changes(s->db) == 0)
                ret = 0;
        else {
                ret = graph_report_counts_add(&s->counts, r->stream, r->to_version, r->group, r->outcome, 1);
                ret = ret < 0 ? ret : 1;
        }
        sqlite3_reset(s->insert);
        sqlite3_clear_bindings(s->insert);
        pthread_mutex_unlock(&s->lock);
        return ret;
}

GraphPolicyTally graph_report_store_tally(GraphReportStore *s, const GraphPolicy *p, const char *release)
{
        GraphPolicyTally t;

        assert(s && p && release);
        pthread_mutex_lock(&s->lock);
        t = graph_policy_tally(p, &s->counts, release);
        pthread_mutex_unlock(&s->lock);
        return t;
}

int graph_report_store_pauses(GraphReportStore *s, GraphPause **ret, size_t *ret_n)
{
        GraphPause *copy = NULL;
        size_t n;

        assert(s && ret && ret_n);
        pthread_mutex_lock(&s->lock);
        n = s->n_pauses;
        if (n > 0 && (copy = calloc(n, sizeof(GraphPause))))
                memcpy(copy, s->pauses, n * sizeof(GraphPause));
        pthread_mutex_unlock(&s->lock);
        if (n > 0 && !copy)
                return -ENOMEM;
        *ret = copy;
        *ret_n = n;
        return 0;
}

bool graph_report_store_find_pause(GraphReportStore *s, const char *stream, const char *release,
                                   GraphPause *ret)
{
        const GraphPause *p;

        assert(s && stream && release);
        pthread_mutex_lock(&s->lock);
        p = graph_pauses_find(s->pauses, s->n_pauses, stream, release);
        if (p && ret)
                *ret = *p;
        pthread_mutex_unlock(&s->lock);
        return p;
}

static int bind_pause(sqlite3_stmt *st, const GraphPause *p)
{
        int rc = sqlite3_bind_text(st, 1, p->stream, -1, SQLITE_TRANSIENT);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_text(st, 2, p->release, -1, SQLITE_TRANSIENT);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_double(st, 3, p->frozen);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(st, 4, p->paused_at);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(st, 5, p->remaining_secs);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(st, 6, p->resumed_at);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_text(st, 7, p->reason, -1, SQLITE_TRANSIENT);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int(st, 8, p->had_node);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int(st, 9, p->had_rollout);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int(st, 10, p->had_duration);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(st, 11, p->start_epoch);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_double(st, 12, p->start_value);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(st, 13, (int64_t)p->duration_minutes);
        return rc;
}

int graph_report_store_put_pause(GraphReportStore *s, const GraphPause *p, Error *e)
{
        GraphPause *slot;
        int rc, r = 0;

        assert(s && p);
        pthread_mutex_lock(&s->lock);
        slot = (GraphPause *)graph_pauses_find(s->pauses, s->n_pauses, p->stream, p->release);
        if (!slot && s->n_pauses >= GRAPH_PAUSES_MAX)
                r = error_setf(e, -E2BIG, "%s: too many pauses (at most %d)", s->path, GRAPH_PAUSES_MAX);
        if (r >= 0) {
                rc = bind_pause(s->put_pause, p);
                if (rc == SQLITE_OK)
                        rc = sqlite3_step(s->put_pause);
                if (rc != SQLITE_DONE)
                        r = store_error(s, rc, "cannot store a pause", e);
                sqlite3_reset(s->put_pause);
                sqlite3_clear_bindings(s->put_pause);
        }
        if (r >= 0)
                *(slot ? slot : &s->pauses[s->n_pauses++]) = *p;
        pthread_mutex_unlock(&s->lock);
        return r;
}

int graph_report_store_counts(GraphReportStore *s, GraphReportCounts *ret)
{
        GraphReportCounts c = { 0 };
        bool failed = false;

        assert(s && ret);
        pthread_mutex_lock(&s->lock);
        if (s->counts.n > 0) {
                c.items = calloc(GRAPH_REPORT_COUNTS_MAX + 1, sizeof(GraphReportCount));
                if (c.items) {
                        memcpy(c.items, s->counts.items, s->counts.n * sizeof(GraphReportCount));
                        c.n = s->counts.n;
                } else
                        failed = true;
        }
        pthread_mutex_unlock(&s->lock);
        if (failed)
                return -ENOMEM;
        *ret = c;
        return 0;
}

int graph_report_store_metrics_write(GraphReportStore *s, Buf *out)
{
        GraphReportCounts c;
        int r;

        r = graph_report_store_counts(s, &c);
        if (r < 0)
                return r;
        r = metrics_header(out, "upkeep_graph_reports_total", "counter",
                           "Outcome reports stored, each (node, release, outcome) once.");
        for (size_t i = 0; r >= 0 && i < c.n; i++)
                for (GraphReportOutcome o = 0; r >= 0 && o < _GRAPH_REPORT_OUTCOME_MAX; o++) {
                        const char *labels[] = { "stream",  c.items[i].stream,
                                                 "release", c.items[i].release,
                                                 "group",   c.items[i].group,
                                                 "outcome", graph_report_outcome_to_string(o),
                                                 NULL };
                        if (c.items[i].n[o])
                                r = metrics_sample_u64(out, "upkeep_graph_reports_total", labels,
                                                       c.items[i].n[o]);
                }
        graph_report_counts_done(&c);
        return r;
}
