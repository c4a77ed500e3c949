/* test-time-util.c — unit tests for src/basic/time-util.h: the unit constants, timespec conversions
 * both ways, the now_*() readers agreeing with each other and with clock_gettime(), and the formats of times
 * and durations shown to people. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
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

static void test_format_timestamp_utc(void **state)
{
        char out[64], small[8];

        format_timestamp_utc(INT64_C(1767225600), out, sizeof(out));
        assert_string_equal(out, "2026-01-01 00:00:00 UTC");
        format_timestamp_utc(INT64_C(1764703805), out, sizeof(out));
        assert_string_equal(out, "2025-12-02 19:30:05 UTC");
        format_timestamp_utc(0, out, sizeof(out));
        assert_string_equal(out, "1970-01-01 00:00:00 UTC");
        format_timestamp_utc(INT64_C(253402300799), out, sizeof(out));
        assert_string_equal(out, "9999-12-31 23:59:59 UTC");
        /* No date: the number. */
        format_timestamp_utc(-5, out, sizeof(out));
        assert_string_equal(out, "-5");
        format_timestamp_utc(INT64_C(253402300800), out, sizeof(out));
        assert_string_equal(out, "253402300800");
        format_timestamp_utc(INT64_MAX, out, sizeof(out));
        assert_string_equal(out, "9223372036854775807");
        /* Too small for the date: the number, cut to fit. */
        format_timestamp_utc(INT64_C(1767225600), small, sizeof(small));
        assert_string_equal(small, "1767225");
}

static void test_format_duration_short(void **state)
{
        static const struct {
                int64_t secs;
                const char *want;
        } cases[] = {
                { 0, "0s" },          { 7, "7s" },
                { 59, "59s" },        { 60, "1m 0s" },
                { 250, "4m 10s" },    { 3599, "59m 59s" },
                { 3600, "1h 0m" },    { 7500, "2h 5m" },
                { 86399, "23h 59m" }, { 86400, "1d 0h" },
                { 288000, "3d 8h" },  { -3, "0s" },
                { INT64_MIN, "0s" },  { INT64_MAX, "106751991167300d 15h" },
        };
        char out[64];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                format_duration_short(cases[i].secs, out, sizeof(out));
                assert_string_equal(out, cases[i].want);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_units),
                cmocka_unit_test(test_timespec_conversions),
                cmocka_unit_test(test_now),
                cmocka_unit_test(test_format_timestamp_utc),
                cmocka_unit_test(test_format_duration_short),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
