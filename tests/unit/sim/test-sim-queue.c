/* test-sim-queue.c — unit tests for src/sim/sim-queue.c: events come out in time order (ties by node),
 * the capacity holds, an empty queue says so, and a long random sequence matches a sorted reference. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sim-queue.h"

static void test_order_and_ties(void **state)
{
        SimQueue q;
        SimEvent ev;
        assert_int_equal(sim_queue_init(&q, 8), 0);
        assert_int_equal(sim_queue_pop(&q, &ev), -ENOENT);
        assert_int_equal(sim_queue_push(&q, 30, 1), 0);
        assert_int_equal(sim_queue_push(&q, 10, 7), 0);
        assert_int_equal(sim_queue_push(&q, 20, 2), 0);
        assert_int_equal(sim_queue_push(&q, 10, 3), 0);
        assert_int_equal(sim_queue_push(&q, -5, 9), 0);
        assert_int_equal(sim_queue_peek(&q, &ev), 0);
        assert_true(ev.time_usec == -5 && ev.node == 9);
        const SimEvent want[] = { { -5, 9 }, { 10, 3 }, { 10, 7 }, { 20, 2 }, { 30, 1 } };
        for (size_t i = 0; i < 5; i++) {
                assert_int_equal(sim_queue_pop(&q, &ev), 0);
                assert_true(ev.time_usec == want[i].time_usec);
                assert_int_equal(ev.node, want[i].node);
        }
        assert_int_equal(sim_queue_pop(&q, &ev), -ENOENT);
        assert_int_equal(sim_queue_peek(&q, &ev), -ENOENT);
        sim_queue_done(&q);
}

static void test_capacity(void **state)
{
        SimQueue q;
        SimEvent ev;
        assert_int_equal(sim_queue_init(&q, 0), -EINVAL);
        assert_int_equal(sim_queue_init(&q, (size_t)SIM_QUEUE_MAX + 1), -EINVAL);
        assert_int_equal(sim_queue_init(&q, 2), 0);
        assert_int_equal(sim_queue_push(&q, 5, 0), 0);
        assert_int_equal(sim_queue_push(&q, 4, 1), 0);
        assert_int_equal(sim_queue_push(&q, 3, 2), -ENOBUFS);
        assert_int_equal(q.n, 2);
        assert_int_equal(sim_queue_pop(&q, &ev), 0);
        assert_int_equal(ev.node, 1);
        assert_int_equal(sim_queue_push(&q, 3, 2), 0);
        assert_int_equal(sim_queue_pop(&q, &ev), 0);
        assert_int_equal(ev.node, 2);
        sim_queue_done(&q);
        sim_queue_done(NULL);
        assert_int_equal(sim_queue_push(NULL, 1, 1), -EINVAL);
}

static int cmp_event(const void *a, const void *b)
{
        const SimEvent *x = a, *y = b;
        if (x->time_usec != y->time_usec)
                return x->time_usec < y->time_usec ? -1 : 1;
        return x->node < y->node ? -1 : x->node > y->node;
}

static void test_matches_sorted(void **state)
{
        enum { N = 5000 };
        static SimEvent ref[N];
        SimQueue q;
        SimEvent ev;
        uint64_t x = 88172645463325252ULL;
        size_t n_ref = 0, popped = 0;
        assert_int_equal(sim_queue_init(&q, N), 0);
        /* interleave pushes and pops as the simulator does; popped events must never go back in time */
        int64_t last = INT64_MIN;
        for (uint32_t i = 0; i < N; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                int64_t t = (last == INT64_MIN ? 0 : last) + (int64_t)(x % 1000);
                assert_int_equal(sim_queue_push(&q, t, i), 0);
                ref[n_ref++] = (SimEvent){ t, i };
                if (i % 3 == 2) {
                        assert_int_equal(sim_queue_pop(&q, &ev), 0);
                        assert_true(ev.time_usec >= last);
                        last = ev.time_usec;
                        popped++;
                }
        }
        /* what is left comes out sorted, and every event comes out exactly once */
        qsort(ref, n_ref, sizeof ref[0], cmp_event);
        SimEvent prev = { INT64_MIN, 0 };
        while (sim_queue_pop(&q, &ev) == 0) {
                assert_true(cmp_event(&prev, &ev) <= 0);
                prev = ev;
                popped++;
        }
        assert_int_equal(popped, N);
        sim_queue_done(&q);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order_and_ties),
                cmocka_unit_test(test_capacity),
                cmocka_unit_test(test_matches_sorted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
