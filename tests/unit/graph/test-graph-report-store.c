/* test-graph-report-store.c — the reports' SQLite store: a report stored once per (node, to_version,
 * outcome), counts kept in memory and reloaded on open, pauses durable, the file's mode, errors; and the
 * store over a fake backend: absolute counts, a lost race to pause, a backend down and back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph-report-store.h"

static char dir[] = "/tmp/test-graph-report-store-XXXXXX";
static char path[256];

static GraphReport report(const char *node, const char *to, GraphReportOutcome o, const char *group)
{
        GraphReport r = { .outcome = o, .time = 1700000000, .n_checks = 2 };
        snprintf(r.node, sizeof(r.node), "%s", node);
        snprintf(r.group, sizeof(r.group), "%s", group);
        strcpy(r.stream, "stable");
        strcpy(r.basearch, "x86_64");
        strcpy(r.from_version, "41.2");
        snprintf(r.to_version, sizeof(r.to_version), "%s", to);
        strcpy(r.detail, "it's \"broken\"\nreally");
        strcpy(r.checks[0], "00-net");
        strcpy(r.checks[1], "01-db");
        return r;
}

#define N1 "11111111111111111111111111111111"
#define N2 "22222222222222222222222222222222"

static void test_store(void **state)
{
        GraphReportStore *s = NULL;
        GraphReportCounts c;
        GraphPause p, got, *pauses = NULL;
        GraphNode n = { .rollout = true, .has_start_value = true, .start_value = 0.25 };
        size_t np;
        Error e = { { 0 } };
        struct stat st;
        GraphReport r1 = report(N1, "41.3", GRAPH_REPORT_ROLLED_BACK, "default");

        assert_int_equal(graph_report_store_open(path, &s, &e), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(graph_report_store_add(s, &r1, 1700000001, &e), 1);
        r1.time++; /* the same (node, to_version, outcome) sent again, with other details */
        assert_int_equal(graph_report_store_add(s, &r1, 1700000002, &e), 0);
        GraphReport r2 = report(N1, "41.3", GRAPH_REPORT_SUCCEEDED, "default");
        assert_int_equal(graph_report_store_add(s, &r2, 1700000003, &e), 1);
        GraphReport r3 = report(N2, "41.3", GRAPH_REPORT_ROLLED_BACK, "canary");
        assert_int_equal(graph_report_store_add(s, &r3, 1700000004, &e), 1);
        assert_int_equal(graph_report_store_counts(s, &c), 0);
        assert_int_equal(c.n, 2);
        assert_int_equal(
                graph_report_counts_find(&c, "stable", "41.3", "default")->n[GRAPH_REPORT_ROLLED_BACK], 1);
        assert_int_equal(
                graph_report_counts_find(&c, "stable", "41.3", "default")->n[GRAPH_REPORT_SUCCEEDED], 1);
        graph_report_counts_done(&c);

        GraphPolicy all = { .stream = "stable" };
        GraphPolicyTally t = graph_report_store_tally(s, &all, "41.3");
        assert_int_equal(t.failed, 2);
        assert_int_equal(t.succeeded, 1);

        assert_false(graph_report_store_find_pause(s, "stable", "41.3", NULL));
        assert_int_equal(graph_pause_init(&p, "stable", "41.3", &n, 1700000100, "2 of 3 nodes failed"), 0);
        assert_int_equal(graph_report_store_put_pause(s, &p, &e), 0);
        assert_true(graph_report_store_find_pause(s, "stable", "41.3", &got));
        assert_true(got.frozen == 0.25);
        graph_report_store_close(s);

        /* Reopened: the counts and the pause are back. */
        assert_int_equal(graph_report_store_open(path, &s, &e), 0);
        assert_int_equal(graph_report_store_counts(s, &c), 0);
        assert_int_equal(c.n, 2);
        assert_int_equal(
                graph_report_counts_find(&c, "stable", "41.3", "canary")->n[GRAPH_REPORT_ROLLED_BACK], 1);
        graph_report_counts_done(&c);
        assert_int_equal(graph_report_store_add(s, &r3, 1700000005, &e), 0); /* still a duplicate */
        assert_int_equal(graph_report_store_pauses(s, &pauses, &np), 0);
        assert_int_equal(np, 1);
        assert_string_equal(pauses[0].reason, "2 of 3 nodes failed");
        assert_true(pauses[0].frozen == 0.25 && pauses[0].paused_at == 1700000100 && pauses[0].had_rollout);
        assert_true(graph_pause_active(&pauses[0]));
        free(pauses);
        /* Resumed, replacing the record. */
        graph_pause_resume(&p, 1700000200);
        assert_int_equal(graph_report_store_put_pause(s, &p, &e), 0);
        graph_report_store_close(s);
        assert_int_equal(graph_report_store_open(path, &s, &e), 0);
        assert_true(graph_report_store_find_pause(s, "stable", "41.3", &got));
        assert_int_equal(got.resumed_at, 1700000200);
        assert_int_equal(graph_report_store_pauses(s, &pauses, &np), 0);
        assert_int_equal(np, 1);
        free(pauses);
        graph_report_store_close(s);
}

static void test_errors(void **state)
{
        GraphReportStore *s = NULL;
        Error e = { { 0 } };
        char bad[300];

        snprintf(bad, sizeof(bad), "%s/missing/reports.db", dir);
        assert_int_equal(graph_report_store_open(bad, &s, &e), -ENOENT);
        assert_null(s);
        assert_non_null(strstr(e.message, bad));
        /* Not a database. */
        snprintf(bad, sizeof(bad), "%s/garbage.db", dir);
        FILE *f = fopen(bad, "w");
        assert_non_null(f);
        for (int i = 0; i < 200; i++)
                fputs("this is not an SQLite database\n", f);
        fclose(f);
        assert_true(graph_report_store_open(bad, &s, &e) < 0);
        assert_non_null(strstr(e.message, "garbage.db"));
        unlink(bad);
}

/* ---- the store over a fake backend: what the etcd backend's answers do to the memory ---- */

typedef struct Fake {
        int load_result;              /* what load() returns */
        unsigned loads;               /* calls */
        uint64_t count;               /* add(): the count after the write, as "another instance" has it */
        bool lose;                    /* put_pause(): another writer's record is there */
        GraphPause theirs;            /* that record */
        int64_t rev;                  /* revisions handed out */
        int64_t known_rev;            /* what put_pause() was last told */
        GraphPause extra;             /* load(): a pause another instance wrote, when extra.stream[0] */
        unsigned ups, downs, changes; /* hooks */
} Fake;

static int fake_load(void *be, GraphReportCounts *counts, GraphPause *pauses, int64_t *revs, size_t *ret_n,
                     Error *e)
{
        Fake *f = be;

        f->loads++;
        if (f->load_result < 0)
                return error_setf(e, f->load_result, "fake: down");
        *ret_n = 0;
        if (f->extra.stream[0]) {
                pauses[0] = f->extra;
                revs[0] = 42;
                *ret_n = 1;
        }
        return graph_report_counts_add(counts, "stable", "41.3", "default", GRAPH_REPORT_ROLLED_BACK,
                                       f->count);
}

static int fake_add(void *be, const GraphReport *r, int64_t received, const char *stream,
                    const char *release, const char *group, uint64_t known, uint64_t *ret_count, Error *e)
{
        Fake *f = be;

        if (f->load_result < 0)
                return error_setf(e, -ECONNREFUSED, "fake: down");
        f->count = f->count > known ? f->count + 1 : known + 1;
        *ret_count = f->count;
        return 1;
}

static int fake_put_pause(void *be, const GraphPause *p, int64_t known_rev, GraphPause *ret_stored,
                          int64_t *ret_rev, Error *e)
{
        Fake *f = be;

        f->known_rev = known_rev;
        *ret_rev = ++f->rev;
        if (!f->lose)
                return 0;
        *ret_stored = f->theirs;
        return GRAPH_PAUSE_LOST;
}

static void fake_close(void *be)
{
}

static const GraphReportBackendOps fake_ops = {
        .name = "fake",
        .load = fake_load,
        .add = fake_add,
        .put_pause = fake_put_pause,
        .close = fake_close,
};

static void on_health(void *userdata, bool up, const char *message)
{
        Fake *f = userdata;

        if (up)
                f->ups++;
        else {
                f->downs++;
                assert_non_null(strstr(message, "fake: down"));
        }
}

static void on_pauses(void *userdata)
{
        ((Fake *)userdata)->changes++;
}

static void test_backend(void **state)
{
        Fake f = { .count = 3 };
        GraphReportStoreHooks hooks = { .health = on_health, .pauses_changed = on_pauses, .userdata = &f };
        GraphPolicy all = { .stream = "stable" };
        GraphReportStore *s = NULL;
        GraphReport r = report(N1, "41.3", GRAPH_REPORT_ROLLED_BACK, "default");
        GraphPause p, got;
        Error e = { { 0 } };
        Buf m = BUF_INIT(65536);

        assert_int_equal(graph_report_store_new(&fake_ops, &f, 20, &hooks, &s, &e), 0);
        assert_int_equal(graph_report_store_tally(s, &all, "41.3").failed, 3);
        /* The backend's absolute count wins over the memory's (others counted meanwhile). */
        f.count = 9;
        assert_int_equal(graph_report_store_add(s, &r, 1700000000, &e), 1);
        assert_int_equal(graph_report_store_tally(s, &all, "41.3").failed, 10);
        /* Racing to pause: the other record stands, and is what the caller and the memory now hold. */
        assert_int_equal(graph_pause_init(&p, "stable", "41.3", NULL, 1700000100, "mine"), 0);
        assert_int_equal(graph_pause_init(&f.theirs, "stable", "41.3", NULL, 1700000099, "theirs"), 0);
        f.theirs.frozen = 0.125;
        f.lose = true;
        assert_int_equal(graph_report_store_put_pause(s, &p, &e), GRAPH_PAUSE_LOST);
        assert_int_equal(f.known_rev, 0);
        assert_string_equal(p.reason, "theirs");
        assert_true(graph_report_store_find_pause(s, "stable", "41.3", &got));
        assert_string_equal(got.reason, "theirs");
        assert_true(got.frozen == 0.125);
        /* The next write compares with the revision the memory saw. */
        f.lose = false;
        graph_pause_resume(&got, 1700000200);
        assert_int_equal(graph_report_store_put_pause(s, &got, &e), 0);
        assert_int_equal(f.known_rev, 1);
        /* Down: writes fail with the backend's error, the memory stays, the owner is told once. */
        f.load_result = -ECONNREFUSED;
        assert_int_equal(graph_report_store_add(s, &r, 1700000000, &e), -ECONNREFUSED);
        assert_false(graph_report_store_up(s));
        assert_true(graph_report_store_find_pause(s, "stable", "41.3", NULL));
        unsigned loads = f.loads;
        while (f.loads < loads + 3)
                usleep(10000);
        assert_int_equal(f.downs, 1);
        assert_int_equal(graph_report_store_metrics_write(s, &m), 0);
        assert_non_null(strstr(m.data, "upkeep_graph_report_store_up{backend=\"fake\"} 0"));
        /* Back, with a pause another instance wrote: the refresh brings it and tells the owner. */
        strcpy(f.extra.stream, "stable");
        strcpy(f.extra.release, "42.1");
        f.extra.frozen = 0.5;
        f.load_result = 0;
        while (!graph_report_store_up(s) || f.changes == 0)
                usleep(10000);
        assert_int_equal(f.ups, 1);
        assert_true(graph_report_store_find_pause(s, "stable", "42.1", &got));
        assert_true(got.frozen == 0.5);
        buf_free(&m);
        graph_report_store_close(s);
}

static int setup(void **state)
{
        if (!mkdtemp(dir))
                return -1;
        snprintf(path, sizeof(path), "%s/reports.db", dir);
        return 0;
}

static int teardown(void **state)
{
        char p[300];
        const char *suffixes[] = { "", "-wal", "-shm" };
        for (size_t i = 0; i < 3; i++) {
                snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
                unlink(p);
        }
        return rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_store),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_backend),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
