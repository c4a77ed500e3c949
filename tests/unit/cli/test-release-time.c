/* test-release-time.c — start times in every accepted form (relative, epoch, ISO 8601 with offsets, wall
 * times in named zones across DST), durations, and UTC formatting; refusals with their messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "release-time.h"

#define NOW INT64_C(1796281200) /* 2026-12-03T07:00:00Z */

/* Europe/Berlin from its POSIX rule (no tzdata needed): CET, CEST from the last Sunday of March. */
static int berlin(const char *name, void *userdata, TimeZone **ret, Error *e)
{
        int *calls = userdata;
        (*calls)++;
        if (strcmp(name, "Europe/Berlin") != 0)
                return error_setf(e, -ENOENT, "unknown time zone '%s'", name);
        return tz_from_posix("CET-1CEST,M3.5.0,M10.5.0/3", ret, e);
}

static int64_t parse_ok(const char *s)
{
        Error e = { { 0 } };
        int64_t t = -1;
        int calls = 0;
        int r = release_time_parse(s, NOW, berlin, &calls, &t, &e);
        if (r < 0)
                fail_msg("'%s': %s", s, e.message);
        return t;
}

static const char *parse_err(const char *s)
{
        static Error e;
        int64_t t = 42;
        int calls = 0;
        memset(&e, 0, sizeof(e));
        assert_true(release_time_parse(s, NOW, berlin, &calls, &t, &e) < 0);
        assert_int_equal(t, 42);
        return e.message;
}

static void test_relative_and_epoch(void **state)
{
        assert_int_equal(parse_ok("now"), NOW);
        assert_int_equal(parse_ok("+2h"), NOW + 7200);
        assert_int_equal(parse_ok("now+1d12h"), NOW + 36 * 3600);
        assert_int_equal(parse_ok("now-30m"), NOW - 1800);
        assert_int_equal(parse_ok("-1w"), NOW - 7 * 86400);
        assert_int_equal(parse_ok("1784728800"), 1784728800);
        assert_int_equal(parse_ok("@0"), 0);
        assert_non_null(strstr(parse_err("now+2"), "not a span"));
        assert_non_null(strstr(parse_err("+2x"), "not a span"));
        assert_non_null(strstr(parse_err("nowhere"), "expected + or -"));
        assert_non_null(strstr(parse_err(""), "empty"));
        assert_non_null(strstr(parse_err("99999999999999"), "9999"));
}

/* Every form is refused past 9999-12-31T23:59:59Z, the last instant that can be printed. */
static void test_upper_bound(void **state)
{
        Error e = { { 0 } };
        int64_t t = 42;
        int calls = 0;

        assert_int_equal(parse_ok("253402300799"), RELEASE_TIME_MAX);
        assert_int_equal(parse_ok("9999-12-31T23:59:59Z"), RELEASE_TIME_MAX);
        assert_int_equal(release_time_parse("999999999999", NOW, berlin, &calls, &t, &e), -ERANGE);
        assert_int_equal(t, 42);
        assert_non_null(strstr(e.message, "after 9999-12-31T23:59:59Z"));
        assert_non_null(strstr(parse_err("@253402300800"), "after 9999-12-31"));
        assert_non_null(strstr(parse_err("9999-12-31T23:59:59-00:01"), "after 9999-12-31"));
        assert_int_equal(parse_ok("9999-12-31 23:30 Europe/Berlin"), RELEASE_TIME_MAX - 5399);
        assert_int_equal(release_time_parse("+1s", RELEASE_TIME_MAX, NULL, NULL, &t, &e), -ERANGE);
        assert_int_equal(release_time_parse("now", RELEASE_TIME_MAX, NULL, NULL, &t, &e), 0);
        assert_int_equal(t, RELEASE_TIME_MAX);
}

static void test_iso(void **state)
{
        assert_int_equal(parse_ok("2026-12-03T07:00:00Z"), NOW);
        assert_int_equal(parse_ok("2026-12-03 07:00Z"), NOW);
        assert_int_equal(parse_ok("2026-12-03T08:00+01:00"), NOW);
        assert_int_equal(parse_ok("2026-12-03T08:00:00+0100"), NOW);
        assert_int_equal(parse_ok("2026-12-03T02:00-05"), NOW);
        assert_int_equal(parse_ok("2026-12-03 07:00 UTC"), NOW);
        assert_int_equal(parse_ok("2026-12-03 UTC"), NOW - 7 * 3600);
        assert_int_equal(parse_ok("2000-02-29T00:00Z"), 951782400);
        assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
        assert_non_null(strstr(parse_err("2026-12-03 10:00"), "no time zone"));
        assert_non_null(strstr(parse_err("2026-02-29T10:00Z"), "is not"));
        assert_non_null(strstr(parse_err("2026-13-01T10:00Z"), "is not"));
        assert_non_null(strstr(parse_err("2026-12-03T24:00Z"), "is not"));
        assert_non_null(strstr(parse_err("2026-12-03T10:00+25:00"), "bad UTC offset"));
        assert_non_null(strstr(parse_err("2026-12-03T10:00Z junk"), "unexpected"));
        assert_non_null(strstr(parse_err("tomorrow"), "is not"));
}

static void test_zones(void **state)
{
        /* Winter: CET = UTC+1; summer: CEST = UTC+2. */
        assert_int_equal(parse_ok("2026-12-03 08:00 Europe/Berlin"), NOW);
        assert_int_equal(parse_ok("2026-07-01 12:00 Europe/Berlin"), parse_ok("2026-07-01T10:00Z"));
        /* 2026-03-29 02:30 does not exist in Berlin; 2026-10-25 02:30 happens twice: the first is CEST. */
        assert_non_null(strstr(parse_err("2026-03-29 02:30 Europe/Berlin"), "does not exist"));
        assert_int_equal(parse_ok("2026-10-25 02:30 Europe/Berlin"), parse_ok("2026-10-25T00:30Z"));
        assert_non_null(strstr(parse_err("2026-12-03 08:00 Mars/Olympus"), "unknown time zone"));
        /* Without a loader, named zones are refused (UTC still works). */
        Error e = { { 0 } };
        int64_t t;
        assert_int_equal(release_time_parse("2026-12-03 08:00 Europe/Berlin", NOW, NULL, NULL, &t, &e),
                         -EINVAL);
        assert_int_equal(release_time_parse("2026-12-03 07:00 UTC", NOW, NULL, NULL, &t, &e), 0);
        assert_int_equal(t, NOW);
}

static void test_durations(void **state)
{
        Error e = { { 0 } };
        int64_t m = 0;

        assert_int_equal(release_duration_parse("48h", &m, &e), 0);
        assert_int_equal(m, 2880);
        assert_int_equal(release_duration_parse("1d12h30m", &m, &e), 0);
        assert_int_equal(m, 36 * 60 + 30);
        assert_int_equal(release_duration_parse("1w", &m, &e), 0);
        assert_int_equal(m, 7 * 1440);
        assert_int_equal(release_duration_parse("120s", &m, &e), 0);
        assert_int_equal(m, 2);
        assert_int_equal(release_duration_parse("48", &m, &e), -EINVAL);
        assert_non_null(strstr(e.message, "no unit"));
        assert_int_equal(release_duration_parse("90s", &m, &e), -EINVAL);
        assert_non_null(strstr(e.message, "whole number of minutes"));
        assert_int_equal(release_duration_parse("0h", &m, &e), -EINVAL);
        assert_int_equal(release_duration_parse("-2h", &m, &e), -EINVAL);
        assert_int_equal(release_duration_parse("11000d", &m, &e), -ERANGE);
        assert_int_equal(release_duration_parse("99999999999999999999h", &m, &e), -ERANGE);
        assert_int_equal(m, 2);
}

static void test_format(void **state)
{
        char buf[40];

        assert_int_equal(release_time_format_utc(NOW, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "2026-12-03T07:00:00Z");
        assert_int_equal(release_time_format_utc(-1, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "1969-12-31T23:59:59Z");
        assert_int_equal(release_time_format_short(NOW + 59, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "2026-12-03 07:00");
        assert_int_equal(release_time_format_utc(INT64_MAX, buf, sizeof(buf)), -ERANGE);
        assert_int_equal(release_time_format_utc(RELEASE_TIME_MAX, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "9999-12-31T23:59:59Z");
        assert_int_equal(release_time_format_utc(RELEASE_TIME_MIN, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "0000-01-01T00:00:00Z");
        assert_int_equal(release_time_format_short(RELEASE_TIME_MAX + 1, buf, sizeof(buf)), -ERANGE);
        assert_int_equal(release_time_format_utc(NOW, buf, 20), -ENOBUFS);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_relative_and_epoch),
                cmocka_unit_test(test_upper_bound),
                cmocka_unit_test(test_iso),
                cmocka_unit_test(test_zones),
                cmocka_unit_test(test_durations),
                cmocka_unit_test(test_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
