/* graph-report-store.c — the report store's memory (counts, pauses) and refresh thread, and the SQLite
 * backend (see graph-report-store.h). */
#include "graph-report-store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "macros.h"
#include "metrics.h"

#define GRAPH_REPORT_STORE_BUSY_TIMEOUT_MS 2000

/* ---- the SQLite backend ---- */

typedef struct SqliteBackend {
        sqlite3 *db;
        char *path;
        sqlite3_stmt *insert;
        sqlite3_stmt *put_pause;
} SqliteBackend;

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

static int store_error(SqliteBackend *s, int rc, const char *what, Error *e)
{
        return error_setf(e, errno_from_sqlite(rc), "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static void sqlite_close(void *be)
{
        SqliteBackend *s = be;

        if (!s)
                return;
        sqlite3_finalize(s->insert);
        sqlite3_finalize(s->put_pause);
        sqlite3_close_v2(s->db);
        free(s->path);
        free(s);
}

/* Counts every stored report once, grouped, into counts. */
static int load_counts(SqliteBackend *s, GraphReportCounts *counts, Error *e)
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
                r = graph_report_counts_add(counts, f[0], f[1], f[2], (GraphReportOutcome)o,
                                            (uint64_t)sqlite3_column_int64(st, 4));
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = store_error(s, rc, "cannot read the counts", e);
        sqlite3_finalize(st);
        return r;
}

/* Reads every pause record into pauses. */
static int load_pauses(SqliteBackend *s, GraphPause *pauses, size_t *n, Error *e)
{
        static const char sql[] =
                "SELECT stream, release, frozen, paused_at, remaining_secs, resumed_at, reason,"
                " had_node, had_rollout, had_duration, start_epoch, start_value,"
                " duration_minutes FROM pauses LIMIT 1024";
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, "cannot read the pauses", e);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *stream = (const char *)sqlite3_column_text(st, 0);
                const char *release = (const char *)sqlite3_column_text(st, 1);
                const char *reason = (const char *)sqlite3_column_text(st, 6);
                GraphPause *p = &pauses[*n];
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
                (*n)++;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return store_error(s, rc, "cannot read the pauses", e);
        return 0;
}

static int sqlite_load(void *be, GraphReportCounts *counts, GraphPause *pauses, int64_t *revs, size_t *ret_n,
                       Error *e)
{
        size_t n = 0;
        int r = load_counts(be, counts, e);

        if (r >= 0)
                r = load_pauses(be, pauses, &n, e);
        if (r < 0)
                return r;
        memset(revs, 0, n * sizeof(int64_t));
        *ret_n = n;
        return 0;
}

static int open_db(SqliteBackend *s, Error *e)
{
        static const char insert[] =
                "INSERT OR IGNORE INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        static const char put_pause[] =
                "INSERT OR REPLACE INTO pauses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        int rc;

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
        return 0;
}

int graph_report_sqlite_open(const char *path, void **ret, Error *e)
{
        SqliteBackend *s;
        int r;

        assert(path && ret);
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->path = strdup(path);
        r = s->path ? open_db(s, e) : -ENOMEM;
        if (r < 0) {
                sqlite_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

static int bind_report(SqliteBackend *s, const GraphReport *r, int64_t received)
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

static int sqlite_add(void *be, const GraphReport *r, int64_t received, const char *stream,
                      const char *release, const char *group, uint64_t known, uint64_t *ret_count, Error *e)
{
        SqliteBackend *s = be;
        int rc, ret;

        rc = bind_report(s, r, received);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(s->insert);
        if (rc != SQLITE_DONE)
                ret = store_error(s, rc, "cannot store a report", e);
        else
                ret = sqlite3_changes(s->db) > 0;
        sqlite3_reset(s->insert);
        sqlite3_clear_bindings(s->insert);
        if (ret >= 0)
                *ret_count = GRAPH_REPORT_COUNT_UNKNOWN;
        return ret;
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

static int sqlite_put_pause(void *be, const GraphPause *p, int64_t known_rev, GraphPause *ret_stored,
                            int64_t *ret_rev, Error *e)
{
        SqliteBackend *s = be;
        int rc, r = 0;

        rc = bind_pause(s->put_pause, p);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(s->put_pause);
        if (rc != SQLITE_DONE)
                r = store_error(s, rc, "cannot store a pause", e);
        sqlite3_reset(s->put_pause);
        sqlite3_clear_bindings(s->put_pause);
        if (r >= 0)
                *ret_rev = 0;
        return r;
}

const GraphReportBackendOps graph_report_sqlite_ops = {
        .name = "sqlite",
        .load = sqlite_load,
        .add = sqlite_add,
        .put_pause = sqlite_put_pause,
        .close = sqlite_close,
};

/* ---- the store: its memory, refreshed from the backend ---- */

struct GraphReportStore {
        const GraphReportBackendOps *ops;
        void *be;
        GraphReportStoreHooks hooks;
        pthread_mutex_t write_lock; /* serializes the backend's calls and the swaps of what they return */
        pthread_mutex_t lock;       /* guards the memory below; never held over a backend call */
        GraphReportCounts counts;
        GraphPause *pauses; /* GRAPH_PAUSES_MAX of them */
        int64_t *revs;      /* each pause's revision in the backend */
        size_t n_pauses;
        bool up;
        unsigned refresh_ms;
        pthread_mutex_t stop_lock;
        pthread_cond_t stop_cond; /* CLOCK_MONOTONIC */
        bool stopping, thread_started;
        pthread_t thread;
};

/* Records whether the backend answered, telling the owner on a change. */
static void set_health(GraphReportStore *s, bool up, const char *message)
{
        bool was;

        pthread_mutex_lock(&s->lock);
        was = s->up;
        s->up = up;
        pthread_mutex_unlock(&s->lock);
        if (was != up && s->hooks.health)
                s->hooks.health(s->hooks.userdata, up, up ? "" : message);
}

/* Failures that say the backend is unreachable or failing, not that the input was refused. */
static bool backend_failure(int r)
{
        return r < 0 && r != -ENOMEM && r != -EINVAL && r != -E2BIG && r != -ENAMETOOLONG &&
               r != -EMSGSIZE && r != -EBUSY;
}

static bool counts_equal(const GraphReportCounts *a, const GraphReportCounts *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!streq(a->items[i].stream, b->items[i].stream) ||
                    !streq(a->items[i].release, b->items[i].release) ||
                    !streq(a->items[i].group, b->items[i].group) ||
                    memcmp(a->items[i].n, b->items[i].n, sizeof(a->items[i].n)) != 0)
                        return false;
        return true;
}

/* Reads everything from the backend and replaces the memory with it; *ret_changed when the pause
 * records differ from those in memory, *ret_counts_changed (optional) when the counts do. Called with
 * write_lock held. */
static int reload(GraphReportStore *s, bool *ret_changed, bool *ret_counts_changed, Error *e)
{
        GraphReportCounts c = { 0 };
        GraphPause *p = calloc(GRAPH_PAUSES_MAX, sizeof(GraphPause));
        int64_t *revs = calloc(GRAPH_PAUSES_MAX, sizeof(int64_t));
        size_t n = 0;
        int r = p && revs ? s->ops->load(s->be, &c, p, revs, &n, e) : -ENOMEM;

        if (r < 0) {
                graph_report_counts_done(&c);
                free(p);
                free(revs);
                return r;
        }
        pthread_mutex_lock(&s->lock);
        if (ret_counts_changed)
                *ret_counts_changed = !counts_equal(&c, &s->counts);
        *ret_changed = n != s->n_pauses || memcmp(revs, s->revs, n * sizeof(int64_t)) != 0;
        for (size_t i = 0; i < n && !*ret_changed; i++)
                *ret_changed = !streq(p[i].stream, s->pauses[i].stream) ||
                               !streq(p[i].release, s->pauses[i].release);
        GraphReportCounts old_c = s->counts;
        GraphPause *old_p = s->pauses;
        int64_t *old_revs = s->revs;
        s->counts = c;
        s->pauses = p;
        s->revs = revs;
        s->n_pauses = n;
        c = old_c;
        p = old_p;
        revs = old_revs;
        pthread_mutex_unlock(&s->lock);
        graph_report_counts_done(&c);
        free(p);
        free(revs);
        return 0;
}

static void refresh(GraphReportStore *s)
{
        Error e = { { 0 } };
        bool changed = false, counts_changed = false;
        int r;

        pthread_mutex_lock(&s->write_lock);
        r = reload(s, &changed, &counts_changed, &e);
        pthread_mutex_unlock(&s->write_lock);
        if (r != -ENOMEM)
                set_health(s, r >= 0, e.message);
        if (changed && s->hooks.pauses_changed)
                s->hooks.pauses_changed(s->hooks.userdata);
        if (counts_changed && s->hooks.counts_changed)
                s->hooks.counts_changed(s->hooks.userdata);
}

static void *refresh_thread(void *userdata)
{
        GraphReportStore *s = userdata;
        struct timespec t;

        pthread_mutex_lock(&s->stop_lock);
        while (!s->stopping) {
                clock_gettime(CLOCK_MONOTONIC, &t);
                t.tv_sec += s->refresh_ms / 1000;
                t.tv_nsec += (long)(s->refresh_ms % 1000) * 1000000L;
                if (t.tv_nsec >= 1000000000L) {
                        t.tv_sec++;
                        t.tv_nsec -= 1000000000L;
                }
                while (!s->stopping && pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &t) == 0)
                        ;
                if (s->stopping)
                        break;
                pthread_mutex_unlock(&s->stop_lock);
                refresh(s);
                pthread_mutex_lock(&s->stop_lock);
        }
        pthread_mutex_unlock(&s->stop_lock);
        return NULL;
}

void graph_report_store_close(GraphReportStore *s)
{
        if (!s)
                return;
        if (s->thread_started) {
                pthread_mutex_lock(&s->stop_lock);
                s->stopping = true;
                pthread_cond_signal(&s->stop_cond);
                pthread_mutex_unlock(&s->stop_lock);
                pthread_join(s->thread, NULL);
        }
        if (s->ops)
                s->ops->close(s->be);
        free(s->pauses);
        free(s->revs);
        graph_report_counts_done(&s->counts);
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->write_lock);
        pthread_mutex_destroy(&s->stop_lock);
        pthread_cond_destroy(&s->stop_cond);
        free(s);
}

int graph_report_store_new(const GraphReportBackendOps *ops, void *be, unsigned refresh_ms,
                           const GraphReportStoreHooks *hooks, GraphReportStore **ret, Error *e)
{
        pthread_condattr_t attr;
        GraphReportStore *s;
        bool changed;
        int r;

        assert(ops && ret);
        s = calloc(1, sizeof(*s));
        if (!s) {
                ops->close(be);
                return -ENOMEM;
        }
        s->ops = ops;
        s->be = be;
        s->hooks = hooks ? *hooks : (GraphReportStoreHooks){ 0 };
        s->refresh_ms = refresh_ms;
        s->up = true;
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_init(&s->write_lock, NULL);
        pthread_mutex_init(&s->stop_lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&s->stop_cond, &attr);
        pthread_condattr_destroy(&attr);
        s->pauses = calloc(GRAPH_PAUSES_MAX, sizeof(GraphPause));
        s->revs = calloc(GRAPH_PAUSES_MAX, sizeof(int64_t));
        r = s->pauses && s->revs ? reload(s, &changed, NULL, e) : -ENOMEM;
        if (r >= 0 && refresh_ms > 0) {
                r = -pthread_create(&s->thread, NULL, refresh_thread, s);
                s->thread_started = r >= 0;
                if (r < 0)
                        error_setf(e, r, "cannot start the report store's refresh thread");
        }
        if (r < 0) {
                graph_report_store_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

int graph_report_store_open(const char *path, GraphReportStore **ret, Error *e)
{
        void *be = NULL;
        int r = graph_report_sqlite_open(path, &be, e);

        return r < 0 ? r : graph_report_store_new(&graph_report_sqlite_ops, be, 0, NULL, ret, e);
}

int graph_report_store_open_etcd(const GraphReportEtcdOptions *o, const GraphReportStoreHooks *hooks,
                                 GraphReportStore **ret, Error *e)
{
        void *be = NULL;
        int r = graph_report_etcd_open(o, &be, e);

        return r < 0 ? r : graph_report_store_new(&graph_report_etcd_ops, be, o->refresh_ms, hooks, ret, e);
}

/* With a refresh thread, a backend known to be down fails writes at once (the next successful refresh
 * brings it back), so that reports get their 503 without each waiting for the backend's timeouts. */
static int check_down(GraphReportStore *s, Error *e)
{
        if (s->refresh_ms == 0 || graph_report_store_up(s))
                return 0;
        return error_setf(e, -EIO, "%s: the store did not answer its last request; retried every %u ms",
                          s->ops->name, s->refresh_ms);
}

int graph_report_store_add(GraphReportStore *s, const GraphReport *r, int64_t received, Error *e)
{
        const char *stream = r->stream, *release = r->to_version, *group = r->group;
        const GraphReportCount *x;
        uint64_t known, count = GRAPH_REPORT_COUNT_UNKNOWN;
        int k, ret;

        assert(s && r);
        ret = check_down(s, e);
        if (ret < 0)
                return ret;
        pthread_mutex_lock(&s->write_lock);
        pthread_mutex_lock(&s->lock);
        graph_report_counts_resolve(&s->counts, &stream, &release, &group);
        x = graph_report_counts_find(&s->counts, stream, release, group);
        known = x ? x->n[r->outcome] : 0;
        pthread_mutex_unlock(&s->lock);
        ret = s->ops->add(s->be, r, received, stream, release, group, known, &count, e);
        if (ret >= 0) {
                pthread_mutex_lock(&s->lock);
                if (count == GRAPH_REPORT_COUNT_UNKNOWN)
                        k = ret > 0 ? graph_report_counts_add(&s->counts, r->stream, r->to_version, r->group,
                                                              r->outcome, 1)
                                    : 0;
                else
                        k = graph_report_counts_set(&s->counts, stream, release, group, r->outcome, count);
                pthread_mutex_unlock(&s->lock);
                ret = k < 0 ? k : ret;
        }
        pthread_mutex_unlock(&s->write_lock);
        if (ret >= 0 || backend_failure(ret))
                set_health(s, ret >= 0, e ? e->message : "");
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

/* The index of (stream, release)'s record in memory, or n_pauses. Called with the lock held. */
static size_t pause_index(GraphReportStore *s, const char *stream, const char *release)
{
        const GraphPause *p = graph_pauses_find(s->pauses, s->n_pauses, stream, release);
        return p ? (size_t)(p - s->pauses) : s->n_pauses;
}

int graph_report_store_put_pause(GraphReportStore *s, GraphPause *p, Error *e)
{
        GraphPause stored;
        int64_t known = 0, rev = 0;
        size_t i;
        int r = 0;

        assert(s && p);
        r = check_down(s, e);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->write_lock);
        pthread_mutex_lock(&s->lock);
        i = pause_index(s, p->stream, p->release);
        if (i == s->n_pauses && s->n_pauses >= GRAPH_PAUSES_MAX)
                r = error_setf(e, -E2BIG, "%s: too many pauses (at most %d)", s->ops->name,
                               GRAPH_PAUSES_MAX);
        else if (i < s->n_pauses)
                known = s->revs[i];
        pthread_mutex_unlock(&s->lock);
        if (r >= 0)
                r = s->ops->put_pause(s->be, p, known, &stored, &rev, e);
        if (r >= 0) {
                if (r == GRAPH_PAUSE_LOST)
                        *p = stored;
                pthread_mutex_lock(&s->lock);
                if (i == s->n_pauses)
                        s->n_pauses++;
                s->pauses[i] = *p;
                s->revs[i] = rev;
                pthread_mutex_unlock(&s->lock);
        }
        pthread_mutex_unlock(&s->write_lock);
        if (r >= 0 || backend_failure(r))
                set_health(s, r >= 0, e ? e->message : "");
        return r;
}

bool graph_report_store_up(GraphReportStore *s)
{
        bool up;

        pthread_mutex_lock(&s->lock);
        up = s->up;
        pthread_mutex_unlock(&s->lock);
        return up;
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
        const char *backend[] = { "backend", s->ops->name, NULL };
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
        if (r >= 0)
                r = metrics_header(out, "upkeep_graph_report_store_up", "gauge",
                                   "1 when the report store's last write or refresh reached its backend.");
        if (r >= 0)
                r = metrics_sample_u64(out, "upkeep_graph_report_store_up", backend,
                                       graph_report_store_up(s));
        return r;
}
