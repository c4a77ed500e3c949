/* test-calendar.c — weekly maintenance windows: parsing, merging, formatting, and the open/next-open
 * decisions in UTC and in real zones across DST changes, checked minute by minute against glibc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "calendar.h"
#include "macros.h"
#include "toml.h"
#include "tz-load.h"
#include "tzfile.h"

enum { MON, TUE, WED, THU, FRI, SAT, SUN };

static const char *zoneinfo(void)
{
        const char *d = getenv("UPKEEP_ZONEINFO");
        return d && *d ? d : "/usr/share/zoneinfo";
}

static TimeZone *load(const char *name)
{
        TimeZone *tz = NULL;
        Error e = { { 0 } };
        if (tz_load(name, &tz, &e) < 0)
                fail_msg("tz_load(%s): %s", name, e.message);
        return tz;
}

static int64_t utc(int y, int mo, int d, int h, int mi)
{
        struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi };
        return (int64_t)timegm(&tm);
}

static Calendar *cal(void)
{
        Calendar *c = calendar_new();
        assert_non_null(c);
        return c;
}

static void add(Calendar *c, int day, const char *start, int length)
{
        Error e = { { 0 } };
        int m;
        assert_int_equal(calendar_parse_time(start, &m), 0);
        if (calendar_add_window(c, &day, 1, m, length, &e) < 0)
                fail_msg("%s", e.message);
}

static char *fmt(const Calendar *c)
{
        Buf b = BUF_INIT(4096);
        assert_int_equal(calendar_format(c, &b), 0);
        return buf_steal(&b, NULL);
}

static void expect_next(const Calendar *c, const TimeZone *tz, int64_t now, int64_t start, int64_t end)
{
        int64_t s = 0, e = 0;
        assert_int_equal(calendar_next_open(c, tz, now, &s, &e), 0);
        if (s != start || e != end)
                fail_msg("next_open(%lld): [%lld, %lld), expected [%lld, %lld)", (long long)now,
                         (long long)s, (long long)e, (long long)start, (long long)end);
}

static void test_parse(void **state)
{
        static const char *const ok[] = { "mon",    "Monday",    "TUE",      "tuesday",  "Tuesady",
                                          "wed",    "Wednesday", "thu",      "thursday", "fri",
                                          "FRIDAY", "sat",       "saturday", "sun",      "Sunday" };
        static const int want[] = { 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6 };
        int d = -1, m = -1;

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                assert_int_equal(calendar_parse_day(ok[i], &d), 0);
                assert_int_equal(d, want[i]);
        }
        d = 42;
        assert_int_equal(calendar_parse_day("funday", &d), -EINVAL);
        assert_int_equal(calendar_parse_day("", &d), -EINVAL);
        assert_int_equal(calendar_parse_day("mo", &d), -EINVAL);
        assert_int_equal(calendar_parse_day("mon ", &d), -EINVAL);
        assert_int_equal(calendar_parse_day("tues", &d), -EINVAL);
        assert_int_equal(d, 42);

        assert_int_equal(calendar_parse_time("00:00", &m), 0);
        assert_int_equal(m, 0);
        assert_int_equal(calendar_parse_time("23:59", &m), 0);
        assert_int_equal(m, 1439);
        assert_int_equal(calendar_parse_time("7:05", &m), 0);
        assert_int_equal(m, 425);
        assert_int_equal(calendar_parse_time("07:5", &m), 0); /* as Zincati */
        assert_int_equal(m, 425);
        m = -1;
        static const char *const bad[] = { "24:00", "25:00",  "23:60",  "",         ":",      "1:",
                                           ":30",   "123:00", "12:345", " 1:00",    "1:00 ",  "-1:00",
                                           "+1:00", "1:-0",   "1.00",   "12:00:00", "0x1:00", "１:00" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (calendar_parse_time(bad[i], &m) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(m, -1);
}

static void test_add_errors(void **state)
{
        _cleanup_calendar_ Calendar *c = cal();
        int days[] = { MON, 7 }, many[CALENDAR_MAX_INTERVALS];
        Error e = { { 0 } };

        assert_int_equal(calendar_add_window(c, days, 2, 0, 60, &e), -EINVAL);
        assert_string_equal(e.message, "days[1]: 7 is not a day of the week (0..6)");
        assert_int_equal(calendar_add_window(c, days, 0, 0, 60, &e), -EINVAL);
        assert_string_equal(e.message, "days: must not be empty");
        assert_int_equal(calendar_add_window(c, days, 1, 1440, 60, &e), -EINVAL);
        assert_int_equal(calendar_add_window(c, days, 1, 0, 0, &e), -EINVAL);
        assert_string_equal(e.message, "length_minutes: must be an integer between 1 and 10080");
        assert_int_equal(calendar_add_window(c, days, 1, 0, 10081, &e), -EINVAL);
        assert_true(calendar_is_empty(c));
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (int)(i % 7);
        assert_int_equal(calendar_add_window(c, many, ELEMENTSOF(many), 0, 1, &e), 0);
        assert_int_equal(calendar_add_window(c, many, 1, 0, 1, &e), -E2BIG);
        assert_string_equal(e.message, "too many windows (at most 1024 day and start time pairs)");
        assert_int_equal(calendar_total_minutes(c), 7);
}

static void test_merge_format(void **state)
{
        _cleanup_calendar_ Calendar *c = cal(), *w = cal(), *full = cal(), *empty = cal(), *full2 = cal();
        _cleanup_free_ char *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL, *s5 = NULL;

        add(c, MON, "22:00", 60);
        add(c, MON, "10:00", 60);
        add(c, MON, "10:30", 60); /* overlaps */
        add(c, MON, "11:30", 30); /* touches */
        add(c, SAT, "01:00", 1800);
        assert_int_equal(calendar_total_minutes(c), 120 + 60 + 1800);
        s1 = fmt(c);
        assert_string_equal(
                s1, "Mon 10:00 (120 min), Mon 22:00 (60 min), Sat 01:00\xe2\x80\x93Sun 07:00 (1800 min)");

        add(w, SUN, "23:00", 120); /* wraps into Monday */
        add(w, MON, "00:30", 60);  /* overlaps the wrapped part */
        add(w, WED, "23:00", 60);  /* ends at midnight: one day */
        assert_int_equal(calendar_total_minutes(w), 150 + 60);
        s2 = fmt(w);
        assert_string_equal(s2, "Wed 23:00 (60 min), Sun 23:00\xe2\x80\x93Mon 01:30 (150 min, wraps)");

        add(full, WED, "12:00", 10080);
        assert_int_equal(calendar_total_minutes(full), 10080);
        s3 = fmt(full);
        assert_string_equal(s3, "always (10080 min)");
        s4 = fmt(empty);
        assert_string_equal(s4, "never");
        assert_int_equal(calendar_total_minutes(empty), 0);
        {
                int all[] = { MON, TUE, WED, THU, FRI, SAT, SUN };
                Error e;
                assert_int_equal(calendar_add_window(full2, all, 7, 0, 1440, &e), 0);
        }
        s5 = fmt(full2);
        assert_string_equal(s5, "always (10080 min)");
}

static void test_utc(void **state)
{
        _cleanup_tz_ TimeZone *u = load("UTC");
        _cleanup_calendar_ Calendar *c = cal(), *w = cal(), *full = cal(), *empty = cal();
        /* 2024-01-01 was a Monday. */
        const int64_t mon = utc(2024, 1, 1, 0, 0);
        int64_t s, e;

        add(c, MON, "22:00", 60);
        assert_false(calendar_contains(c, u, mon + 22 * 3600 - 1));
        assert_true(calendar_contains(c, u, mon + 22 * 3600));
        assert_true(calendar_contains(c, u, mon + 23 * 3600 - 1));
        assert_false(calendar_contains(c, u, mon + 23 * 3600));
        assert_true(calendar_contains(c, u, mon + 22 * 3600 + 7 * 86400));
        assert_true(calendar_contains(c, u, mon + 22 * 3600 - 7 * 86400 * 1000));
        expect_next(c, u, mon, mon + 22 * 3600, mon + 23 * 3600);                       /* before */
        expect_next(c, u, mon + 22 * 3600 + 17, mon + 22 * 3600 + 17, mon + 23 * 3600); /* inside */
        expect_next(c, u, mon + 23 * 3600, mon + 22 * 3600 + 7 * 86400,
                    mon + 23 * 3600 + 7 * 86400); /* after */

        /* Sunday 23:00 for two hours wraps into Monday. */
        add(w, SUN, "23:00", 120);
        assert_true(calendar_contains(w, u, mon + 30 * 60));
        assert_true(calendar_contains(w, u, mon - 30 * 60));
        assert_false(calendar_contains(w, u, mon + 60 * 60));
        expect_next(w, u, mon - 2 * 3600, mon - 3600, mon + 3600);
        expect_next(w, u, mon + 30 * 60, mon + 30 * 60, mon + 3600);

        add(full, TUE, "05:00", 10080);
        assert_true(calendar_contains(full, u, 0));
        assert_true(calendar_contains(full, u, INT64_MIN));
        assert_true(calendar_contains(full, u, INT64_MAX));
        expect_next(full, u, mon, mon, INT64_MAX);

        assert_false(calendar_contains(empty, u, mon));
        assert_int_equal(calendar_next_open(empty, u, mon, &s, &e), -ENOENT);
        assert_int_equal(calendar_next_open(c, u, INT64_MAX, &s, &e), -ERANGE);
        assert_int_equal(calendar_next_open(c, u, INT64_MIN, &s, &e), -ERANGE);
        assert_false(calendar_contains(c, u, INT64_MAX));
}

static void test_berlin_dst(void **state)
{
        _cleanup_tz_ TimeZone *b = load("Europe/Berlin");
        _cleanup_calendar_ Calendar *c2 = cal(), *c230 = cal(), *c1 = cal(), *short_ = cal(), *night = cal();

        /* Sunday 02:00 for 60 min: 2024-03-31 02:00-03:00 does not exist in Berlin. */
        add(c2, SUN, "02:00", 60);
        expect_next(c2, b, utc(2024, 3, 24, 2, 0), utc(2024, 3, 31, 0, 0) + 7 * 86400,
                    utc(2024, 3, 31, 1, 0) + 7 * 86400);
        /* the week before, still CET: 02:00 local = 01:00Z */
        expect_next(c2, b, utc(2024, 3, 20, 0, 0), utc(2024, 3, 24, 1, 0), utc(2024, 3, 24, 2, 0));
        /* Sunday 02:30 for 60 min: that day only 03:00-03:30 CEST (01:00Z-01:30Z). */
        add(c230, SUN, "02:30", 60);
        expect_next(c230, b, utc(2024, 3, 30, 0, 0), utc(2024, 3, 31, 1, 0), utc(2024, 3, 31, 1, 30));
        assert_false(calendar_contains(c230, b, utc(2024, 3, 31, 0, 59)));
        assert_true(calendar_contains(c230, b, utc(2024, 3, 31, 1, 0)));
        /* Sunday 01:00 for 120 min: 01:00 CET-03:00 CEST, one real hour (00:00Z-01:00Z). */
        add(c1, SUN, "01:00", 120);
        expect_next(c1, b, utc(2024, 3, 30, 0, 0), utc(2024, 3, 31, 0, 0), utc(2024, 3, 31, 1, 0));

        /* Fall back, 2024-10-27: 02:00-03:00 local happens twice (00:00Z-01:00Z CEST, 01:00Z-02:00Z CET),
         * so a Sunday 02:00 window is open for two real hours. */
        expect_next(c2, b, utc(2024, 10, 26, 0, 0), utc(2024, 10, 27, 0, 0), utc(2024, 10, 27, 2, 0));
        /* Sunday 02:30 for 15 min: open twice. */
        add(short_, SUN, "02:30", 15);
        expect_next(short_, b, utc(2024, 10, 26, 0, 0), utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 0, 45));
        expect_next(short_, b, utc(2024, 10, 27, 0, 45), utc(2024, 10, 27, 1, 30), utc(2024, 10, 27, 1, 45));
        expect_next(short_, b, utc(2024, 10, 27, 1, 45), utc(2024, 11, 3, 1, 30), utc(2024, 11, 3, 1, 45));

        /* Saturday 22:00 for 8 hours, into Sunday across both changes. */
        add(night, SAT, "22:00", 480);
        expect_next(night, b, utc(2024, 3, 30, 12, 0), utc(2024, 3, 30, 21, 0), utc(2024, 3, 31, 4, 0));
        expect_next(night, b, utc(2024, 10, 26, 12, 0), utc(2024, 10, 26, 20, 0), utc(2024, 10, 27, 5, 0));
        assert_int_equal(calendar_total_minutes(night), 480);
}

static void test_toml(void **state)
{
        static const struct {
                const char *doc, *msg;
        } bad[] = {
                { "days = ['mon', 'funday']\nstart_time = '01:00'\nlength_minutes = 5",
                  "days[1]: 'funday' is not a day of the week" },
                { "days = ['mon']\nstart_time = '25:00'\nlength_minutes = 5",
                  "start_time: '25:00' is not HH:MM" },
                { "days = ['mon']\nstart_time = '1:00'\nlength_minutes = 0",
                  "length_minutes: must be an integer between 1 and 10080" },
                { "days = ['mon']\nstart_time = '1:00'\nlength_minutes = 10081",
                  "length_minutes: must be an integer between 1 and 10080" },
                { "days = ['mon']\nstart_time = '1:00'\nlength_minutes = 60.0",
                  "length_minutes: must be an integer between 1 and 10080" },
                { "days = ['mon']\nstart_time = '1:00'\nlength_minutes = '60'",
                  "length_minutes: must be an integer between 1 and 10080" },
                { "days = ['mon']\nstart_time = '1:00'", "length_minutes: missing" },
                { "days = ['mon']\nlength_minutes = 60", "start_time: missing" },
                { "start_time = '1:00'\nlength_minutes = 60", "days: missing" },
                { "days = []\nstart_time = '1:00'\nlength_minutes = 60", "days: must not be empty" },
                { "days = 'mon'\nstart_time = '1:00'\nlength_minutes = 60",
                  "days: must be an array of day names" },
                { "days = ['mon', 3]\nstart_time = '1:00'\nlength_minutes = 60",
                  "days[1]: must be a string, not integer" },
                { "days = ['mon']\nstart_time = 01:00:00\nlength_minutes = 60",
                  "start_time: must be a string \"HH:MM\", not " },
                { "days = [\"mo\\u0000n\"]\nstart_time = '1:00'\nlength_minutes = 60",
                  "days[0]: 'mo' is not a day of the week" },
        };
        _cleanup_tz_ TimeZone *u = load("UTC");
        _cleanup_calendar_ Calendar *c = cal();
        _cleanup_free_ char *s = NULL;
        Error e = { { 0 } };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_toml_ TomlValue *root = NULL;
                TomlError te;
                assert_int_equal(toml_parse(bad[i].doc, strlen(bad[i].doc), &root, &te), 0);
                assert_int_equal(calendar_add_from_toml(c, root, &e), -EINVAL);
                if (!strstr(e.message, bad[i].msg))
                        fail_msg("'%s' does not contain '%s'", e.message, bad[i].msg);
        }
        assert_true(calendar_is_empty(c));
        {
                const char *doc =
                        "[[window]]\ndays = ['Sat', 'sunday', 'SAT']\nstart_time = '23:30'\n"
                        "length_minutes = 60\nfuture_key = 1\n"
                        "[[window]]\ndays = ['tuesday']\nstart_time = '7:05'\nlength_minutes = 10\n";
                _cleanup_toml_ TomlValue *root = NULL;
                const TomlValue *arr;
                TomlError te;
                assert_int_equal(toml_parse(doc, strlen(doc), &root, &te), 0);
                arr = toml_table_get(root, "window");
                for (size_t i = 0; i < toml_array_size(arr); i++)
                        assert_int_equal(calendar_add_from_toml(c, toml_array_get(arr, i), &e), 0);
        }
        s = fmt(c);
        assert_string_equal(s, "Tue 07:05 (10 min), Sat 23:30\xe2\x80\x93Sun 00:30 (60 min), "
                               "Sun 23:30\xe2\x80\x93Mon 00:30 (60 min, wraps)");
        assert_int_equal(calendar_total_minutes(c), 130);
        assert_true(calendar_contains(c, u, utc(2024, 1, 1, 0, 15)));
        assert_false(calendar_add_from_toml(c, NULL, &e) == 0);
}

/* Minute by minute over the weeks around the DST changes (and a plain week), calendar_contains() must
 * agree with glibc's local time, and calendar_next_open() with a forward scan. */
static bool ref_contains(const int *spans, size_t n, int64_t t)
{
        time_t tt = (time_t)t;
        struct tm tm;
        int m;

        assert_non_null(localtime_r(&tt, &tm));
        m = ((tm.tm_wday + 6) % 7) * 1440 + tm.tm_hour * 60 + tm.tm_min;
        for (size_t i = 0; i < n; i++) {
                int s = spans[2 * i], len = spans[2 * i + 1];
                if ((m >= s && m < s + len) || (m + 10080 >= s && m + 10080 < s + len))
                        return true;
        }
        return false;
}

static void brute(const char *zone, const int *spans, size_t n, int64_t from, int64_t to)
{
        _cleanup_tz_ TimeZone *tz = load(zone);
        _cleanup_calendar_ Calendar *c = cal();
        const size_t n_min = (size_t)((to - from) / 60);
        _cleanup_free_ bool *in = calloc(n_min + 1, sizeof(bool));
        char env[512];
        Error e;

        assert_non_null(in);
        for (size_t i = 0; i < n; i++) {
                int day = spans[2 * i] / 1440;
                assert_int_equal(calendar_add_window(c, &day, 1, spans[2 * i] % 1440, spans[2 * i + 1], &e),
                                 0);
        }
        snprintf(env, sizeof(env), ":%s/%s", zoneinfo(), zone);
        setenv("TZ", env, 1);
        tzset();
        for (size_t i = 0; i <= n_min; i++) {
                int64_t t = from + (int64_t)i * 60;
                in[i] = ref_contains(spans, n, t);
                if (calendar_contains(c, tz, t) != in[i])
                        fail_msg("%s: contains(%lld) != %d", zone, (long long)t, in[i]);
                if (calendar_contains(c, tz, t + 59) != in[i])
                        fail_msg("%s: contains(%lld + 59) != %d", zone, (long long)t, in[i]);
        }
        /* next_open from every 7th minute whose answer lies in the scanned range */
        for (size_t i = 0; i <= n_min; i += 7) {
                size_t a = i, b;
                int64_t s, x;
                while (a <= n_min && !in[a])
                        a++;
                for (b = a; b <= n_min && in[b]; b++)
                        ;
                if (b > n_min)
                        break;
                assert_int_equal(calendar_next_open(c, tz, from + (int64_t)i * 60, &s, &x), 0);
                if (s != from + (int64_t)a * 60 || x != from + (int64_t)b * 60)
                        fail_msg("%s: next_open(%lld) = [%lld, %lld), scan says [%lld, %lld)", zone,
                                 (long long)(from + (int64_t)i * 60), (long long)s, (long long)x,
                                 (long long)(from + (int64_t)a * 60), (long long)(from + (int64_t)b * 60));
        }
        unsetenv("TZ");
        tzset();
}

static void test_brute_force(void **state)
{
        /* (minute of week, length) pairs */
        static const int a[] = { SUN * 1440 + 120,     60,  SUN * 1440 + 150,          30,
                                 SAT * 1440 + 23 * 60, 200, SUN * 1440 + 23 * 60 + 30, 90,
                                 WED * 1440 + 1,       1 };
        static const int b[] = { SUN * 1440 + 90, 60, SUN * 1440 + 1410, 60, MON * 1440 + 60, 90 };
        static const int d[] = { TUE * 1440 + 600, 9000 };
        static const struct {
                const char *zone;
                int y1, m1, d1, y2, m2, d2;
        } ranges[] = {
                { "Europe/Berlin", 2024, 3, 20, 2024, 4, 10 },
                { "Europe/Berlin", 2024, 10, 20, 2024, 11, 5 },
                { "America/New_York", 2024, 3, 3, 2024, 3, 20 },
                { "America/New_York", 2024, 10, 28, 2024, 11, 12 },
                { "Australia/Lord_Howe", 2024, 3, 30, 2024, 4, 14 },
                { "Australia/Lord_Howe", 2024, 9, 29, 2024, 10, 14 },
                { "Europe/Dublin", 2024, 3, 25, 2024, 4, 5 },
                { "Pacific/Chatham", 2024, 4, 1, 2024, 4, 14 },
                { "Asia/Kolkata", 2024, 1, 1, 2024, 1, 15 },
                { "Pacific/Apia", 2011, 12, 25, 2012, 1, 9 },
                { "UTC", 2024, 1, 1, 2024, 1, 15 },
        };
        for (size_t i = 0; i < ELEMENTSOF(ranges); i++) {
                int64_t from = utc(ranges[i].y1, ranges[i].m1, ranges[i].d1, 0, 0),
                        to = utc(ranges[i].y2, ranges[i].m2, ranges[i].d2, 0, 0);
                brute(ranges[i].zone, a, ELEMENTSOF(a) / 2, from, to);
                brute(ranges[i].zone, b, ELEMENTSOF(b) / 2, from, to);
                brute(ranges[i].zone, d, ELEMENTSOF(d) / 2, from, to);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),        cmocka_unit_test(test_add_errors),
                cmocka_unit_test(test_merge_format), cmocka_unit_test(test_utc),
                cmocka_unit_test(test_berlin_dst),   cmocka_unit_test(test_toml),
                cmocka_unit_test(test_brute_force),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
