/* test-lock-semaphore.c — FleetLock semaphore decisions (recursive locks, full, settle, windows, pause,
 * expiry, resize), the Airlock-compatible stored form, and LockOp, one request's update function. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lock-semaphore.h"
#include "strv.h"

static LockDecision lock(Semaphore *s, const char *id, const GroupPolicy *p, bool in_window, int64_t now)
{
        LockDecision d = (LockDecision)-1;
        assert_int_equal(semaphore_lock(s, id, p, in_window, now, &d), 0);
        return d;
}

static void test_recursive_counting(void **state)
{
        GroupPolicy p = { .slots = 2 };
        Semaphore s;

        semaphore_init(&s, 2);
        assert_int_equal(lock(&s, "b", &p, true, 10), LOCK_GRANTED);
        assert_int_equal(lock(&s, "b", &p, true, 11), LOCK_ALREADY_HELD);
        assert_int_equal(lock(&s, "a", &p, true, 12), LOCK_GRANTED);
        assert_int_equal(lock(&s, "c", &p, true, 13), LOCK_FULL);
        /* Holders sorted, as Airlock keeps them. */
        assert_int_equal(s.n_holders, 2);
        assert_string_equal(s.holders[0].id, "a");
        assert_string_equal(s.holders[1].id, "b");
        assert_true(s.holders[1].since == 10);
        /* Unlock if held: a stranger's unlock changes nothing. */
        assert_int_equal(semaphore_unlock(&s, "c", 14), 0);
        assert_true(s.last_release == 0);
        assert_int_equal(semaphore_unlock(&s, "b", 15), 1);
        assert_true(s.last_release == 15);
        assert_int_equal(semaphore_find(&s, "b"), -1);
        assert_int_equal(semaphore_find(&s, "a"), 0);
        assert_int_equal(lock(&s, "c", &p, true, 16), LOCK_GRANTED);
        /* Ids are case-sensitive. */
        assert_int_equal(lock(&s, "A", &p, true, 16), LOCK_FULL);
        semaphore_done(&s);
}

static void test_policy(void **state)
{
        GroupPolicy p = { .slots = 1, .settle_secs = 60 };
        Semaphore s;

        semaphore_init(&s, 1);
        assert_int_equal(lock(&s, "a", &p, false, 100), LOCK_OUTSIDE_WINDOW);
        p.paused = true;
        assert_int_equal(lock(&s, "a", &p, true, 100), LOCK_PAUSED);
        p.paused = false;
        s.paused = true; /* paused through the admin API */
        assert_int_equal(lock(&s, "a", &p, true, 100), LOCK_PAUSED);
        s.paused = false;
        assert_int_equal(lock(&s, "a", &p, true, 100), LOCK_GRANTED);
        /* A holder keeps its slot whatever the policy says now. */
        p.paused = true;
        assert_int_equal(lock(&s, "a", &p, false, 101), LOCK_ALREADY_HELD);
        p.paused = false;
        /* Settle: no grant for 60 s after a release, then fine. */
        assert_int_equal(semaphore_unlock(&s, "a", 200), 1);
        assert_int_equal(lock(&s, "b", &p, true, 259), LOCK_SETTLING);
        assert_int_equal(lock(&s, "b", &p, true, 260), LOCK_GRANTED);
        /* Full wins over settling. */
        assert_int_equal(lock(&s, "c", &p, true, 261), LOCK_FULL);
        /* Bad ids are refused before anything. */
        LockDecision d;
        assert_int_equal(semaphore_lock(&s, "", &p, true, 1, &d), -EINVAL);
        assert_int_equal(semaphore_lock(&s, "a\nb", &p, true, 1, &d), -EINVAL);
        semaphore_done(&s);
}

static void test_maintain(void **state)
{
        GroupPolicy p = { .slots = 3, .max_hold_secs = 100 };
        Semaphore s;
        char **expired = NULL;
        size_t n = 0;

        semaphore_init(&s, 1);
        /* Resize up (Airlock never does). */
        assert_int_equal(semaphore_maintain(&s, &p, 0, &expired, &n), 1);
        assert_true(s.total_slots == 3);
        assert_int_equal(lock(&s, "old", &p, true, 1000), LOCK_GRANTED);
        assert_int_equal(lock(&s, "new", &p, true, 1050), LOCK_GRANTED);
        assert_int_equal(semaphore_maintain(&s, &p, 1099, &expired, &n), 0);
        assert_int_equal(semaphore_maintain(&s, &p, 1100, &expired, &n), 1);
        assert_int_equal(n, 1);
        assert_string_equal(expired[0], "old");
        assert_true(s.last_release == 1100);
        assert_int_equal(s.n_holders, 1);
        /* A holder written by Airlock (no since) counts from when Upkeep first sees it. */
        s.holders[0].since = 0;
        assert_int_equal(semaphore_maintain(&s, &p, 5000, NULL, NULL), 1);
        assert_true(s.holders[0].since == 5000);
        /* Resize down: holders keep their slots, no new grant until below. */
        assert_int_equal(lock(&s, "x", &p, true, 5001), LOCK_GRANTED);
        p.slots = 1;
        p.max_hold_secs = 0;
        assert_int_equal(semaphore_maintain(&s, &p, 5002, NULL, NULL), 1);
        assert_int_equal(s.n_holders, 2);
        assert_int_equal(lock(&s, "y", &p, true, 5003), LOCK_FULL);
        assert_int_equal(semaphore_unlock(&s, "x", 5004), 1);
        assert_int_equal(lock(&s, "y", &p, true, 5005), LOCK_FULL);
        assert_int_equal(semaphore_unlock(&s, "new", 5006), 1);
        assert_int_equal(lock(&s, "y", &p, true, 5007), LOCK_GRANTED);
        strv_free(expired);
        semaphore_done(&s);
}

static void test_stored_form(void **state)
{
        const char *airlock = "{\"total_slots\":2,\"holders\":[\"z\",\"a\"]}";
        Semaphore s, c;
        Buf b = BUF_INIT(1 << 16);
        Error e = { { 0 } };

        assert_int_equal(semaphore_parse(airlock, strlen(airlock), &s, &e), 0);
        assert_true(s.total_slots == 2);
        assert_string_equal(s.holders[0].id, "a"); /* sorted on load */
        assert_true(s.holders[0].since == 0);
        s.holders[0].since = 7;
        s.last_release = 9;
        s.paused = true;
        assert_int_equal(semaphore_format(&s, &b), 0);
        assert_string_equal(
                b.data,
                "{\"total_slots\":2,\"holders\":[\"a\",\"z\"],\"upkeep\":{\"since\":{\"a\":7,\"z\":0},"
                "\"last_release\":9,\"paused\":true}}");
        assert_int_equal(semaphore_parse(b.data, b.len, &c, &e), 0);
        assert_true(c.total_slots == 2 && c.n_holders == 2 && c.holders[0].since == 7 &&
                    c.last_release == 9 && c.paused);
        semaphore_done(&c);
        assert_int_equal(semaphore_copy(&s, &c), 0);
        assert_string_equal(c.holders[1].id, "z");
        semaphore_done(&c);
        semaphore_done(&s);
        buf_free(&b);

        /* Airlock (Go) reads "holders": null, or none, as no holders */
        const char *null_holders = "{\"total_slots\":3,\"holders\":null}",
                   *no_holders = "{\"total_slots\":3}";
        assert_int_equal(semaphore_parse(null_holders, strlen(null_holders), &s, &e), 0);
        assert_true(s.total_slots == 3 && s.n_holders == 0);
        semaphore_done(&s);
        assert_int_equal(semaphore_parse(no_holders, strlen(no_holders), &s, &e), 0);
        assert_true(s.total_slots == 3 && s.n_holders == 0);
        semaphore_done(&s);
}

static void expect_bad(const char *v, int err, const char *msg)
{
        Semaphore s;
        Error e = { { 0 } };
        assert_int_equal(semaphore_parse(v, strlen(v), &s, &e), err);
        if (!strstr(e.message, msg))
                fail_msg("'%s' does not contain '%s'", e.message, msg);
}

static void test_bad_values(void **state)
{
        expect_bad("", -EINVAL, "line 1");
        expect_bad("[]", -EINVAL, "expected an object");
        expect_bad("{\"holders\":[]}", -EINVAL, "missing field 'total_slots'");
        expect_bad("{\"total_slots\":-1,\"holders\":[]}", -ERANGE, "total_slots");
        expect_bad("{\"total_slots\":1,\"holders\":{}}", -EINVAL, "'holders' must be an array");
        expect_bad("{\"total_slots\":1,\"holders\":[1]}", -EINVAL, "holders[0]");
        expect_bad("{\"total_slots\":1,\"holders\":[\"\"]}", -EINVAL, "holders[0]");
        expect_bad("{\"total_slots\":1,\"holders\":[\"a\",\"a\"]}", -EINVAL, "'a' listed twice");
        expect_bad("{\"total_slots\":1,\"holders\":[],\"total_slots\":2}", -EINVAL, "duplicate");
        expect_bad("{\"total_slots\":1,\"holders\":[],\"upkeep\":[]}", -EINVAL,
                   "'upkeep' must be an object");
        expect_bad("{\"total_slots\":1,\"holders\":[\"a\"],\"upkeep\":{\"since\":{\"a\":\"x\"}}}", -EINVAL,
                   "'a' must be a non-negative integer");
        expect_bad("{\"total_slots\":1,\"holders\":[],\"upkeep\":{\"paused\":1}}", -EINVAL,
                   "'paused' must be a boolean");
        /* Unknown fields and nulls are fine (forward compatibility). */
        Semaphore s;
        Error e;
        const char *ok = "{\"total_slots\":1,\"holders\":[],\"future\":1,\"upkeep\":null}";
        assert_int_equal(semaphore_parse(ok, strlen(ok), &s, &e), 0);
        semaphore_done(&s);
}

static void test_names(void **state)
{
        assert_true(lock_group_name_valid("default"));
        assert_true(lock_group_name_valid("worker-pool.eu-1"));
        assert_false(lock_group_name_valid(""));
        /* Airlock accepts any non-empty name; Upkeep refuses control characters and bad UTF-8 only */
        assert_true(lock_group_name_valid("a b"));
        assert_true(lock_group_name_valid("my_workers"));
        assert_true(lock_group_name_valid("a/b"));
        assert_true(lock_group_name_valid("say \"hi\" \\o/"));
        assert_true(lock_group_name_valid("Z\xc3\xbcrich-\xe6\x97\xa5\xe6\x9c\xac"));
        assert_false(lock_group_name_valid("a\nb"));
        assert_false(lock_group_name_valid("a\tb"));
        assert_false(lock_group_name_valid("a\x7f"));
        assert_false(lock_group_name_valid("a\xc2\x85"));
        assert_false(lock_group_name_valid("bad\xff"));
        char long_name[300];
        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = 0;
        assert_false(lock_group_name_valid(long_name));
        long_name[255] = 0;
        assert_true(lock_group_name_valid(long_name));
        assert_true(semaphore_valid_id("e0f3745b108f471cbd4883c6fbed8cdd"));
        assert_true(semaphore_valid_id("nöde-ü"));
        assert_false(semaphore_valid_id("bad\xff"));
        assert_false(semaphore_valid_id("tab\t"));
}

/* LockOp: a request's whole update, run again from scratch when a backend retries. */
static void test_lock_op(void **state)
{
        GroupPolicy p = { .slots = 1, .max_hold_secs = 100 };
        LockOp op = { .policy = &p, .id = "n1", .lock = true, .now = 1000, .in_window = true };
        LockOp sweep = { .policy = &p, .now = 1300 };
        Semaphore s, retry;

        semaphore_init(&s, 1);
        assert_int_equal(lock_op_apply(&s, &op), 1);
        assert_int_equal(op.decision, LOCK_GRANTED);
        assert_int_equal(lock_op_apply(&s, &op), 0); /* already held: nothing changes */
        assert_int_equal(op.decision, LOCK_ALREADY_HELD);
        op.id = "n2";
        assert_int_equal(lock_op_apply(&s, &op), 0);
        assert_int_equal(op.decision, LOCK_FULL);
        op.in_window = false;
        assert_int_equal(lock_op_apply(&s, &op), 0);
        assert_int_equal(op.decision, LOCK_OUTSIDE_WINDOW);

        /* n1 held too long: the lock of n2 releases it first, and reports it */
        op = (LockOp){ .policy = &p, .id = "n2", .lock = true, .now = 1100, .in_window = true };
        assert_int_equal(semaphore_copy(&s, &retry), 0);
        assert_int_equal(lock_op_apply(&s, &op), 1);
        assert_int_equal(op.decision, LOCK_GRANTED);
        assert_int_equal(op.n_expired, 1);
        assert_string_equal(op.expired[0], "n1");
        /* decided again on a fresh state, the results start over */
        assert_int_equal(lock_op_apply(&retry, &op), 1);
        assert_int_equal(op.n_expired, 1);
        semaphore_done(&retry);
        lock_op_reset(&op);
        assert_null(op.expired);
        assert_int_equal(op.n_expired, 0);

        /* unlocking: released only when it held a slot */
        op = (LockOp){ .policy = &p, .id = "n3", .now = 1101 };
        assert_int_equal(lock_op_apply(&s, &op), 0);
        assert_false(op.released);
        op.id = "n2";
        assert_int_equal(lock_op_apply(&s, &op), 1);
        assert_true(op.released);
        assert_int_equal(s.n_holders, 0);
        assert_true(s.last_release == 1101);

        /* a sweep only maintains */
        op = (LockOp){ .policy = &p, .id = "n4", .lock = true, .now = 1101, .in_window = true };
        assert_int_equal(lock_op_apply(&s, &op), 1);
        assert_int_equal(lock_op_apply(&s, &sweep), 1);
        assert_int_equal(sweep.n_expired, 1);
        assert_string_equal(sweep.expired[0], "n4");
        assert_int_equal(s.n_holders, 0);
        assert_int_equal(lock_op_apply(&s, &sweep), 0);
        assert_int_equal(sweep.n_expired, 0);
        lock_op_reset(&op);
        lock_op_reset(&sweep);
        semaphore_done(&s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_recursive_counting),
                cmocka_unit_test(test_policy),
                cmocka_unit_test(test_maintain),
                cmocka_unit_test(test_stored_form),
                cmocka_unit_test(test_bad_values),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_lock_op),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
