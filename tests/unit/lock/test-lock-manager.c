/* test-lock-manager.c — upkeep-lock's state (lock-manager.c): loading the configuration with the command
 * line's overrides and the admin token file, reloads (groups added and removed, counters kept, a broken
 * file changing nothing), generations held by requests across a reload and freed once released, the
 * batchers groups share or own, and the expiry sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <strings.h>
#include <time.h>

#include "lock-fixture.h"

typedef struct Files {
        char dir[64];
        char config[128];
        char token[128];
        char db[128];
} Files;

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static Files *files_new(void)
{
        Files *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/upkeep-lock-manager-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->config, sizeof(f->config), "%s/lock.toml", f->dir);
        snprintf(f->token, sizeof(f->token), "%s/admin.token", f->dir);
        snprintf(f->db, sizeof(f->db), "%s/lock.db", f->dir);
        return f;
}

static void files_free(Files *f)
{
        static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
        char p[160];

        unlink(f->config);
        unlink(f->token);
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                snprintf(p, sizeof(p), "%s%s", f->db, suffixes[i]);
                unlink(p);
        }
        assert_int_equal(rmdir(f->dir), 0);
        free(f);
}

static bool state_listed(Manager *m, GroupState *st)
{
        for (GroupState *s = m->states; s; s = s->next)
                if (s == st)
                        return true;
        return false;
}

static void test_load_overrides(void **state)
{
        Files *f = files_new();
        DaemonOptions opt = {
                .config_path = f->config, .explicit_config = true, .address = "127.0.0.2", .port = 4444
        };
        char text[512];
        Manager *m = NULL;

        snprintf(text, sizeof(text),
                 "[service]\naddress = \"::\"\nport = 1\n[auth]\nadmin_token_file = \"%s\"\n"
                 "[etcd3]\nendpoints = [\"http://127.0.0.1:2379\"]\n[[lock.groups]]\nname = \"a\"\n",
                 f->token);
        write_file(f->config, text);
        /* the token file is read with the configuration */
        assert_true(manager_load(&opt, NULL, &m) < 0);
        write_file(f->token, " \n"); /* empty */
        assert_true(manager_load(&opt, NULL, &m) < 0);
        write_file(f->token, "s3cret \n");
        assert_int_equal(manager_load(&opt, f->db, &m), 0);
        assert_string_equal(m->gen->admin_token, "s3cret");
        assert_string_equal(m->boot->config->address, "127.0.0.2");
        assert_int_equal(m->boot->config->port, 4444);
        assert_int_equal(m->boot->config->backend, LOCK_BACKEND_SQLITE); /* --sqlite wins over [etcd3] */
        assert_string_equal(m->boot->config->sqlite_path, f->db);
        assert_int_equal(manager_open_backend(m), 0);
        assert_string_equal(m->backend->ops->name, "sqlite");
        manager_free(m);
        /* a missing file named on the command line is an error; one not named means the defaults */
        unlink(f->config);
        assert_true(manager_load(&opt, NULL, &m) < 0);
        opt.explicit_config = false;
        assert_int_equal(manager_load(&opt, NULL, &m), 0);
        assert_int_equal(m->gen->n_groups, 1);
        assert_string_equal(m->gen->groups[0].cfg->name, "default");
        assert_null(m->gen->admin_token);
        manager_free(m);
        files_free(f);
}

static void test_reload(void **state)
{
        Files *f = files_new();
        DaemonOptions opt = { .config_path = f->config, .explicit_config = true, .port = -1 };
        GroupState *a, *b;
        Generation *held;
        Manager *m = NULL;

        write_file(f->config, "[[lock.groups]]\nname = \"a\"\n[[lock.groups]]\nname = \"b\"\n");
        assert_int_equal(manager_load(&opt, f->db, &m), 0);
        assert_int_equal(manager_open_backend(m), 0);
        assert_int_equal(fleetlock(m, true, "a", "n1", NULL, false).status, 200);
        a = generation_find_group(m->gen, "a")->st;
        b = generation_find_group(m->gen, "b")->st;
        held = manager_get_generation(m); /* a request in flight */

        write_file(f->config, "[auth]\nadmin_token = \"t\"\n[[lock.groups]]\nname = \"a\"\nslots = 3\n"
                              "[[lock.groups]]\nname = \"c\"\n");
        manager_reload(m);
        assert_int_equal(m->reloads[0], 1);
        assert_false(m->last_reload_failed);
        assert_ptr_not_equal(m->gen, held);
        assert_string_equal(m->gen->admin_token, "t");
        assert_null(generation_find_group(m->gen, "b"));
        assert_true(generation_find_group(m->gen, "a")->cfg->policy.slots == 3);
        /* a's state (and its counters) lives on; b's lives as long as the held generation */
        assert_ptr_equal(generation_find_group(m->gen, "a")->st, a);
        assert_int_equal(a->counters.grants, 1);
        assert_ptr_equal(m->retired, held);
        assert_true(state_listed(m, b));
        assert_ptr_equal(generation_find_group(held, "b")->st, b);
        generation_unref(held);
        manager_collect_retired(m);
        assert_null(m->retired);
        assert_false(state_listed(m, b));
        assert_true(state_listed(m, a));
        assert_int_equal(fleetlock(m, true, "c", "n1", NULL, false).status, 200);
        assert_int_equal(fleetlock(m, true, "b", "n1", NULL, false).status, 404);

        /* a broken file changes nothing */
        held = m->gen;
        write_file(f->config, "[[lock.groups]]\nname = \"\"\n");
        manager_reload(m);
        assert_int_equal(m->reloads[1], 1);
        assert_true(m->last_reload_failed);
        assert_ptr_equal(m->gen, held);
        assert_null(m->retired);
        manager_free(m);
        files_free(f);
}

static void test_batchers(void **state)
{
        static const char toml[] = "[[lock.groups]]\nname = \"a\"\n[[lock.groups]]\nname = \"b\"\n";
        LockFixture *f = fixture_new(toml, NULL);
        Manager *m = f->m;
        Group *a = generation_find_group(m->gen, "a"), *b = generation_find_group(m->gen, "b");
        LockBatchStats bs;

        /* SQLite writes every group in one transaction: one batcher for all */
        assert_non_null(m->shared_batcher);
        assert_ptr_equal(a->st->batcher, m->shared_batcher);
        assert_ptr_equal(b->st->batcher, m->shared_batcher);
        assert_int_equal(fleetlock(m, true, "a", "n1", NULL, false).status, 200);
        manager_batch_stats(m, &bs);
        assert_int_equal(bs.writes, 1); /* the shared batcher, counted once */
        fixture_free(f);

        /* a backend that writes one group at a time: one batcher each */
        f = fixture_new(toml, broken_backend_new());
        m = f->m;
        a = generation_find_group(m->gen, "a");
        b = generation_find_group(m->gen, "b");
        assert_null(m->shared_batcher);
        assert_non_null(a->st->batcher);
        assert_non_null(b->st->batcher);
        assert_ptr_not_equal(a->st->batcher, b->st->batcher);
        /* each batcher's writes count once (failed ones too: they were written, and refused) */
        assert_int_equal(fleetlock(m, true, "a", "n1", NULL, false).status, 503);
        assert_int_equal(fleetlock(m, true, "b", "n1", NULL, false).status, 503);
        manager_batch_stats(m, &bs);
        assert_int_equal(bs.writes, 2);
        assert_int_equal(bs.updates, 2);
        fixture_free(f);
}

static void test_sweep(void **state)
{
        static const char toml[] = "[[lock.groups]]\nname = \"a\"\nslots = 2\nmax_hold_secs = 60\n"
                                   "[[lock.groups]]\nname = \"b\"\n";
        LockFixture *f = fixture_new(toml, NULL);
        Manager *m = f->m;
        Group *a = generation_find_group(m->gen, "a");
        int64_t now = (int64_t)time(NULL);
        LockOp old = {
                .policy = &a->cfg->policy, .id = "old", .lock = true, .now = now - 3600, .in_window = true
        };
        LockOp young = {
                .policy = &a->cfg->policy, .id = "young", .lock = true, .now = now, .in_window = true
        };
        Error e = { { 0 } };
        Answer ans;

        assert_int_equal(manager_run_op(m, a, &old, &e), 0);
        assert_int_equal(old.decision, LOCK_GRANTED);
        lock_op_reset(&old);
        assert_int_equal(manager_run_op(m, a, &young, &e), 0);
        /* deciding on young released old, which had held its slot an hour */
        assert_int_equal(young.decision, LOCK_GRANTED);
        assert_int_equal(young.n_expired, 1);
        assert_string_equal(young.expired[0], "old");
        assert_int_equal(a->st->counters.expirations, 1);
        lock_op_reset(&young);

        old.now = now - 3600;
        assert_int_equal(manager_run_op(m, a, &old, &e), 0);
        lock_op_reset(&old);
        manager_sweep(m);
        assert_int_equal(a->st->counters.expirations, 2);
        ans = get(m, "/metrics", NULL);
        assert_contains(ans.body, "upkeep_lock_holders{group=\"a\"} 1\n");
        assert_contains(ans.body, "upkeep_lock_expirations_total{group=\"a\"} 2\n");
        fixture_free(f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_load_overrides),
                cmocka_unit_test(test_reload),
                cmocka_unit_test(test_batchers),
                cmocka_unit_test(test_sweep),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
