/* test-sim-fleet.c — unit tests for src/sim/sim-fleet.c: node ids are well-formed, stable and distinct;
 * a failure share is met within a tolerance and is a function of the id; the random source stays in
 * [0, 1); the holder counts track the most holders and flag a group over its slots. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sim-fleet.h"

static void test_uuid(void **state)
{
        char a[SIM_UUID_LEN + 1], b[SIM_UUID_LEN + 1];
        assert_int_equal(sim_node_uuid(7, 0, a), 0);
        assert_int_equal(strlen(a), SIM_UUID_LEN);
        assert_int_equal(strspn(a, "0123456789abcdef"), SIM_UUID_LEN);
        assert_int_equal(sim_node_uuid(7, 0, b), 0);
        assert_string_equal(a, b);
        assert_int_equal(sim_node_uuid(7, 1, b), 0);
        assert_string_not_equal(a, b);
        assert_int_equal(sim_node_uuid(8, 0, b), 0);
        assert_string_not_equal(a, b);
        assert_int_equal(sim_node_uuid(7, SIM_NODES_MAX, b), -EINVAL);
        assert_int_equal(sim_node_uuid(7, 1, NULL), -EINVAL);
}

static void test_fails_share(void **state)
{
        char id[SIM_UUID_LEN + 1];
        unsigned fails = 0, n = 20000;
        for (uint32_t i = 0; i < n; i++) {
                assert_int_equal(sim_node_uuid(1, i, id), 0);
                int f = sim_node_fails(id, 300);
                assert_true(f == 0 || f == 1);
                assert_int_equal(sim_node_fails(id, 300), f); /* a function of the id */
                assert_int_equal(sim_node_fails(id, 0), 0);
                assert_int_equal(sim_node_fails(id, 1000), 1);
                fails += (unsigned)f;
        }
        assert_in_range(fails, n * 29 / 100, n * 31 / 100);
        assert_int_equal(sim_node_fails(id, 1001), -EINVAL);
        assert_int_equal(sim_node_fails("abc", 10), -EINVAL);
        assert_int_equal(sim_node_fails(NULL, 10), -EINVAL);
}

static void test_rand01(void **state)
{
        uint64_t s1 = 42, s2 = 42;
        double sum = 0;
        for (int i = 0; i < 10000; i++) {
                double x = sim_rand01(&s1);
                assert_true(x >= 0.0 && x < 1.0);
                assert_true(x == sim_rand01(&s2)); /* seeded: the same sequence */
                sum += x;
        }
        assert_true(sum > 4800 && sum < 5200);
}

static void test_holders(void **state)
{
        SimHolders h;
        assert_int_equal(sim_holders_init(&h, 0, 1), -EINVAL);
        assert_int_equal(sim_holders_init(&h, SIM_GROUPS_MAX + 1, 1), -EINVAL);
        assert_int_equal(sim_holders_init(&h, 2, 0), -EINVAL);
        assert_int_equal(sim_holders_init(&h, 2, 2), 0);
        assert_int_equal(sim_holders_take(&h, 0), 0);
        assert_int_equal(sim_holders_take(&h, 0), 0);
        assert_int_equal(sim_holders_take(&h, 1), 0);
        assert_int_equal(sim_holders_most(&h), 2);
        assert_int_equal(h.violations, 0);
        assert_int_equal(sim_holders_take(&h, 0), 1); /* a third holder in a group of two slots */
        assert_int_equal(h.violations, 1);
        assert_int_equal(sim_holders_most(&h), 3);
        assert_int_equal(sim_holders_release(&h, 0), 0);
        assert_int_equal(sim_holders_release(&h, 1), 0);
        assert_int_equal(sim_holders_release(&h, 1), -EINVAL); /* nobody holds */
        assert_int_equal(sim_holders_take(&h, 2), -EINVAL);
        assert_int_equal(sim_holders_release(&h, 2), -EINVAL);
        assert_int_equal(h.held[0], 2);
        assert_int_equal(sim_holders_most(&h), 3);
}

/* Windows of W open at every multiple of P from the start; no window (0) is always open. */
static void test_in_window(void **state)
{
        const int64_t S = 1000000;

        assert_true(sim_in_window(0, 0, 0));
        assert_true(sim_in_window(123 * S, 0, 3600 * S));
        assert_true(sim_in_window(0, 3600 * S, 14400 * S));
        assert_true(sim_in_window(3599 * S, 3600 * S, 14400 * S));
        assert_false(sim_in_window(3600 * S, 3600 * S, 14400 * S));
        assert_false(sim_in_window(14399 * S, 3600 * S, 14400 * S));
        assert_true(sim_in_window(14400 * S, 3600 * S, 14400 * S));
        assert_true(sim_in_window(-5 * S, 3600 * S, 14400 * S));
        assert_true(sim_in_window(7200 * S, 3600 * S, 3600 * S)); /* a window as long as its period */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_uuid),      cmocka_unit_test(test_fails_share),
                cmocka_unit_test(test_rand01),    cmocka_unit_test(test_holders),
                cmocka_unit_test(test_in_window),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
