/* test-time-util.c — unit tests for src/basic/time-util.h: the unit constants, timespec conversions
 * both ways, and the now_*() readers agreeing with each other and with clock_gettime(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "time-util.h"

static void test_units(void **state)
{
        assert_true(NSEC_PER_SEC == NSEC_PER_MSEC * MSEC_PER_SEC);
        assert_true(NSEC_PER_SEC == NSEC_PER_USEC * USEC_PER_SEC);
        assert_true(USEC_PER_SEC == USEC_PER_MSEC * MSEC_PER_SEC);
        assert_true(NSEC_PER_USEC == 1000 && NSEC_PER_MSEC == 1000000 && NSEC_PER_SEC == 1000000000);
}

static void test_timespec_conversions(void **state)
{
        struct timespec ts = { .tv_sec = 3, .tv_nsec = 250000000 };
        struct timespec back;

        assert_true(timespec_to_nsec(&ts) == UINT64_C(3250000000));
        back = timespec_from_nsec(UINT64_C(3250000000));
        assert_int_equal(back.tv_sec, 3);
        assert_int_equal(back.tv_nsec, 250000000);

        back = timespec_from_nsec(0);
        assert_int_equal(back.tv_sec, 0);
        assert_int_equal(back.tv_nsec, 0);
        back = timespec_from_nsec(NSEC_PER_SEC - 1);
        assert_int_equal(back.tv_sec, 0);
        assert_int_equal(back.tv_nsec, 999999999);
        back = timespec_from_nsec(NSEC_PER_SEC);
        assert_int_equal(back.tv_sec, 1);
        assert_int_equal(back.tv_nsec, 0);

        /* A wall-clock time of today survives the round trip, in 64 bits. */
        ts = (struct timespec){ .tv_sec = 1764672000, .tv_nsec = 123456789 };
        assert_true(timespec_to_nsec(&ts) == UINT64_C(1764672000123456789));
        back = timespec_from_nsec(timespec_to_nsec(&ts));
        assert_int_equal(back.tv_sec, ts.tv_sec);
        assert_int_equal(back.tv_nsec, ts.tv_nsec);
}

static void test_now(void **state)
{
        struct timespec before, after;
        uint64_t ns, us, ms;
        double s;

        clock_gettime(CLOCK_MONOTONIC, &before);
        ns = now_nsec(CLOCK_MONOTONIC);
        us = now_usec(CLOCK_MONOTONIC);
        ms = now_msec(CLOCK_MONOTONIC);
        s = now_seconds(CLOCK_MONOTONIC);
        clock_gettime(CLOCK_MONOTONIC, &after);

        /* Each reading lies between the two clock_gettime() calls, in its own unit. */
        assert_true(ns >= timespec_to_nsec(&before) && ns <= timespec_to_nsec(&after));
        assert_true(us >= timespec_to_nsec(&before) / NSEC_PER_USEC);
        assert_true(us <= timespec_to_nsec(&after) / NSEC_PER_USEC);
        assert_true(ms >= timespec_to_nsec(&before) / NSEC_PER_MSEC);
        assert_true(ms <= timespec_to_nsec(&after) / NSEC_PER_MSEC);
        assert_true(s >= (double)before.tv_sec && s <= (double)after.tv_sec + 1.0);
        /* Monotonic: never goes back. */
        assert_true(now_nsec(CLOCK_MONOTONIC) >= ns);

        /* The real-time clock is the wall clock (well after 2020-01-01). */
        assert_true(now_usec(CLOCK_REALTIME) / USEC_PER_SEC > UINT64_C(1577836800));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_units),
                cmocka_unit_test(test_timespec_conversions),
                cmocka_unit_test(test_now),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
