/* test-tzfile.c — TZif and POSIX TZ string parsing and offset lookups, checked against glibc's
 * localtime_r() reading the same tzdata files, and tz_load()'s name checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "fileio.h"
#include "macros.h"
#include "tz-load.h"
#include "tzfile.h"

static const char *zoneinfo(void)
{
        const char *d = getenv("UPKEEP_ZONEINFO");
        return d && *d ? d : "/usr/share/zoneinfo";
}

static TimeZone *load(const char *name)
{
        TimeZone *tz = NULL;
        Error e = { { 0 } };
        int r = tz_load(name, &tz, &e);
        if (r < 0)
                fail_msg("tz_load(%s): %d %s", name, r, e.message);
        return tz;
}

static TimeZone *posix(const char *spec)
{
        TimeZone *tz = NULL;
        Error e = { { 0 } };
        int r = tz_from_posix(spec, &tz, &e);
        if (r < 0)
                fail_msg("tz_from_posix(%s): %d %s", spec, r, e.message);
        return tz;
}

static int32_t off(const TimeZone *tz, int64_t t)
{
        int32_t o = 0;
        assert_int_equal(tz_offset_at(tz, t, &o, NULL), 0);
        return o;
}

static bool dst(const TimeZone *tz, int64_t t)
{
        bool d = false;
        assert_int_equal(tz_offset_at(tz, t, NULL, &d), 0);
        return d;
}

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
        struct tm tm = {
                .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s
        };
        return (int64_t)timegm(&tm);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

/* Compares with glibc for TZ=tzenv at t; returns whether they agree (and says why not). */
static bool agrees(const TimeZone *tz, const char *tzenv, int64_t t)
{
        time_t tt = (time_t)t;
        struct tm tm;
        int32_t o;
        bool d;

        assert_non_null(localtime_r(&tt, &tm));
        tz_offset_at(tz, t, &o, &d);
        if (o != tm.tm_gmtoff || d != (tm.tm_isdst > 0)) {
                print_error("%s at %lld: ours %d/%d, glibc %ld/%d\n", tzenv, (long long)t, o, d,
                            tm.tm_gmtoff, tm.tm_isdst);
                return false;
        }
        return true;
}

/* Thousands of instants from 1900 to 2100, plus both sides of every transition in that range. */
static void compare_with_glibc(const TimeZone *tz, const char *tzenv, int from_year)
{
        const int64_t lo = utc(from_year, 1, 1, 0, 0, 0), hi = utc(2100, 1, 1, 0, 0, 0);
        unsigned bad = 0, n_trans = 0;
        int64_t t, next;

        assert_int_equal(setenv("TZ", tzenv, 1), 0);
        tzset();
        for (int i = 0; i < 3000; i++) {
                t = lo + (int64_t)(rng() % (uint64_t)(hi - lo));
                bad += !agrees(tz, tzenv, t);
        }
        for (t = lo; tz_next_transition(tz, t, &next) == 0 && next < hi; t = next) {
                assert_true(next > t);
                bad += !agrees(tz, tzenv, next - 1);
                bad += !agrees(tz, tzenv, next);
                if (++n_trans > 2000)
                        fail_msg("%s: too many transitions", tzenv);
        }
        if (bad)
                fail_msg("%s: %u disagreements with glibc", tzenv, bad);
        unsetenv("TZ");
        tzset();
}

static const char *const zones[] = {
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Europe/Dublin",
        "Asia/Kolkata",
        "Pacific/Chatham",
        "America/Sao_Paulo",
        "America/Nuuk",
        "Africa/Casablanca",
        "Antarctica/Troll",
        "Pacific/Apia",
        "Asia/Tehran",
        "America/St_Johns",
        "Europe/London",
        "Australia/Sydney",
        "America/Santiago",
        "Pacific/Kiritimati",
};

static void test_glibc_zones(void **state)
{
        for (size_t i = 0; i < ELEMENTSOF(zones); i++) {
                _cleanup_tz_ TimeZone *tz = load(zones[i]);
                char env[512];
                snprintf(env, sizeof(env), ":%s/%s", zoneinfo(),
                         streq(zones[i], "UTC") ? "Etc/UTC" : zones[i]);
                compare_with_glibc(tz, env, 1900);
        }
}

static void test_glibc_posix(void **state)
{
        static const char *const specs[] = {
                "UTC0",
                "CET-1CEST,M3.5.0,M10.5.0/3",
                "EST5EDT,M3.2.0,M11.1.0",
                "<+0330>-3:30",
                "IST-1GMT0,M10.5.0,M3.5.0/1",
                "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
                "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
                "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
                "EST5EDT,J60/2,J300/2",
                "EST5EDT,59/2,300/2",
                "NZST-12NZDT,M9.5.0,M4.1.0/3",
                "XXX-5:45:30YYY-6,M1.2.1/0:30:15,M12.5.6/23:59:59",
        };
        for (size_t i = 0; i < ELEMENTSOF(specs); i++) {
                _cleanup_tz_ TimeZone *tz = posix(specs[i]);
                /* glibc evaluates TZ string rules as if every year before 1970 were 1970 */
                compare_with_glibc(tz, specs[i], 1970);
        }
}

static void test_known_offsets(void **state)
{
        _cleanup_tz_ TimeZone *berlin = load("Europe/Berlin"), *ny = load("America/New_York"),
                              *dublin = load("Europe/Dublin"), *sp = load("America/Sao_Paulo"),
                              *lh = load("Australia/Lord_Howe"), *u = load("UTC");
        int64_t t;

        /* Berlin 2024: CEST from 2024-03-31 01:00Z to 2024-10-27 01:00Z. */
        assert_int_equal(off(berlin, utc(2024, 3, 31, 0, 59, 59)), 3600);
        assert_int_equal(off(berlin, utc(2024, 3, 31, 1, 0, 0)), 7200);
        assert_true(dst(berlin, utc(2024, 3, 31, 1, 0, 0)));
        assert_int_equal(off(berlin, utc(2024, 10, 27, 0, 59, 59)), 7200);
        assert_int_equal(off(berlin, utc(2024, 10, 27, 1, 0, 0)), 3600);
        /* From the footer, far beyond the last stored transition. */
        assert_int_equal(off(berlin, utc(2399, 7, 1, 0, 0, 0)), 7200);
        assert_int_equal(off(berlin, utc(2399, 12, 1, 0, 0, 0)), 3600);
        assert_int_equal(off(ny, utc(2024, 3, 10, 6, 59, 59)), -5 * 3600);
        assert_int_equal(off(ny, utc(2024, 3, 10, 7, 0, 0)), -4 * 3600);
        /* Dublin: winter is "DST" (GMT, negative save), summer is standard time (IST). */
        assert_int_equal(off(dublin, utc(2024, 1, 15, 12, 0, 0)), 0);
        assert_true(dst(dublin, utc(2024, 1, 15, 12, 0, 0)));
        assert_int_equal(off(dublin, utc(2024, 7, 15, 12, 0, 0)), 3600);
        assert_false(dst(dublin, utc(2024, 7, 15, 12, 0, 0)));
        /* Sao Paulo: DST until February 2019, none since. */
        assert_int_equal(off(sp, utc(2018, 12, 1, 0, 0, 0)), -2 * 3600);
        assert_int_equal(off(sp, utc(2019, 12, 1, 0, 0, 0)), -3 * 3600);
        if (tz_next_transition(sp, utc(2020, 1, 1, 0, 0, 0), &t) == 0) {
                /* Debian's "fat" files end with a no-op transition at 2^31 - 1 */
                assert_int_equal(t, INT32_MAX);
                assert_int_equal(off(sp, t), -3 * 3600);
                assert_int_equal(tz_next_transition(sp, t, &t), -ENOENT);
        }
        /* Lord Howe: +10:30, +11 in summer. */
        assert_int_equal(off(lh, utc(2024, 7, 1, 0, 0, 0)), 37800);
        assert_int_equal(off(lh, utc(2024, 12, 1, 0, 0, 0)), 39600);
        assert_int_equal(off(u, utc(2024, 7, 1, 0, 0, 0)), 0);
        assert_int_equal(tz_next_transition(u, 0, &t), -ENOENT);

        assert_int_equal(tz_next_transition(berlin, utc(2024, 1, 1, 0, 0, 0), &t), 0);
        assert_int_equal(t, utc(2024, 3, 31, 1, 0, 0));
        assert_int_equal(tz_next_transition(berlin, t, &t), 0);
        assert_int_equal(t, utc(2024, 10, 27, 1, 0, 0));
        assert_int_equal(tz_next_transition(berlin, utc(2390, 4, 1, 0, 0, 0), &t), 0);
        assert_int_equal(t, utc(2390, 10, 28, 1, 0, 0));
}

static void test_extremes(void **state)
{
        _cleanup_tz_ TimeZone *berlin = load("Europe/Berlin"), *ny = posix("EST5EDT,M3.2.0,M11.1.0");
        const int64_t ts[] = { INT64_MIN, INT64_MIN + 1, -(INT64_C(1) << 59) - 1, INT64_MAX - 1, INT64_MAX };
        int64_t t;

        for (size_t i = 0; i < ELEMENTSOF(ts); i++) {
                int32_t a = off(berlin, ts[i]), b = off(ny, ts[i]);
                assert_true(a == 3208 || a == 3600 || a == 7200); /* LMT, CET, CEST */
                assert_true(b == -5 * 3600 || b == -4 * 3600);
        }
        assert_int_equal(tz_next_transition(berlin, INT64_MAX, &t), -ENOENT);
        assert_int_equal(tz_next_transition(ny, INT64_MAX, &t), -ENOENT);
        assert_int_equal(tz_next_transition(ny, INT64_MIN, &t), 0);
        assert_true(t > INT64_MIN && t < INT64_MIN + INT64_C(400) * 366 * 86400);
        /* The 400-year cycle: offsets repeat exactly. */
        for (int i = 0; i < 2000; i++) {
                int64_t x = (int64_t)(rng() % (UINT64_C(1) << 40));
                assert_int_equal(off(ny, x), off(ny, x + INT64_C(146097) * 86400 * 1000));
                assert_int_equal(off(ny, x), off(ny, x - INT64_C(146097) * 86400 * 1000));
        }
}

/* ---- hand-made TZif files ---- */

typedef struct Tzif {
        char version; /* 0 or '2'.. */
        size_t n_trans;
        int64_t trans[8];
        uint8_t idx[8];
        size_t n_types;
        int32_t utoff[4];
        uint8_t isdst[4];
        uint8_t desig[4];
        const char *chars; /* charcnt bytes, NULs included */
        size_t charcnt;
        const char *footer; /* NULL: none (and no newlines) */
} Tzif;

/* The calendar arithmetic the rules use (and `upkeep release` prints and parses dates with). */
static void test_calendar(void **state)
{
        int64_t y;
        int m, d;

        assert_int_equal(tz_days_from_civil(1970, 1, 1), 0);
        assert_int_equal(tz_days_from_civil(2000, 3, 1), 11017);
        assert_int_equal(tz_days_from_civil(0, 1, 1), -719528);
        tz_civil_from_days(-1, &y, &m, &d);
        assert_true(y == 1969 && m == 12 && d == 31);
        tz_civil_from_days(11016, &y, &m, &d);
        assert_true(y == 2000 && m == 2 && d == 29);
        tz_civil_from_days(11016, NULL, NULL, &d);
        assert_int_equal(d, 29);
        for (int64_t days = -800000; days < 800000; days += 997) {
                tz_civil_from_days(days, &y, &m, &d);
                assert_true(m >= 1 && m <= 12 && d >= 1 && d <= tz_month_days(y, m));
                assert_int_equal(tz_days_from_civil(y, m, d), days);
        }
        assert_true(tz_is_leap(2000) && tz_is_leap(2024) && !tz_is_leap(1900) && !tz_is_leap(2026));
        assert_int_equal(tz_month_days(2024, 2), 29);
        assert_int_equal(tz_month_days(2100, 2), 28);
        assert_int_equal(tz_month_days(2026, 12), 31);
}

static void put32(Buf *b, uint32_t v)
{
        uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };
        assert_int_equal(buf_append(b, x, 4), 0);
}

static void put_header(Buf *b, const Tzif *z)
{
        uint8_t pad[16] = { 0 };
        assert_int_equal(buf_append(b, "TZif", 4), 0);
        pad[0] = (uint8_t)z->version;
        assert_int_equal(buf_append(b, pad, 16), 0);
        put32(b, 0); /* isutcnt */
        put32(b, 0); /* isstdcnt */
        put32(b, 0); /* leapcnt */
        put32(b, (uint32_t)z->n_trans);
        put32(b, (uint32_t)z->n_types);
        put32(b, (uint32_t)z->charcnt);
}

static void put_block(Buf *b, const Tzif *z, size_t tsize)
{
        for (size_t i = 0; i < z->n_trans; i++) {
                if (tsize == 8)
                        put32(b, (uint32_t)((uint64_t)z->trans[i] >> 32));
                put32(b, (uint32_t)z->trans[i]);
        }
        assert_int_equal(buf_append(b, z->idx, z->n_trans), 0);
        for (size_t i = 0; i < z->n_types; i++) {
                put32(b, (uint32_t)z->utoff[i]);
                assert_int_equal(buf_putc(b, (char)z->isdst[i]), 0);
                assert_int_equal(buf_putc(b, (char)z->desig[i]), 0);
        }
        assert_int_equal(buf_append(b, z->chars, z->charcnt), 0);
}

static void build(Buf *b, const Tzif *z)
{
        buf_truncate(b, 0);
        put_header(b, z);
        put_block(b, z, 4);
        if (z->version == 0)
                return;
        put_header(b, z);
        put_block(b, z, 8);
        if (z->footer) {
                assert_int_equal(buf_putc(b, '\n'), 0);
                assert_int_equal(buf_puts(b, z->footer), 0);
                assert_int_equal(buf_putc(b, '\n'), 0);
        }
}

static Tzif base_tzif(void)
{
        return (Tzif){ .version = '2',
                       .n_trans = 2,
                       .trans = { 1000, 2000 },
                       .idx = { 1, 0 },
                       .n_types = 2,
                       .utoff = { 3600, 7200 },
                       .isdst = { 0, 1 },
                       .desig = { 0, 4 },
                       .chars = "CET\0CEST",
                       .charcnt = 9,
                       .footer = "CET-1" };
}

static void expect_bad(const Tzif *z, int err, const char *msg)
{
        Buf b = BUF_INIT(1 << 16);
        TimeZone *tz = NULL;
        Error e = { { 0 } };
        build(&b, z);
        assert_int_equal(tz_parse(b.data, b.len, &tz, &e), err);
        assert_null(tz);
        if (!strstr(e.message, msg))
                fail_msg("'%s' does not contain '%s'", e.message, msg);
        buf_free(&b);
}

static void test_handmade(void **state)
{
        Buf b = BUF_INIT(1 << 16);
        TimeZone *tz = NULL;
        Error e = { { 0 } };
        Tzif z = base_tzif();

        build(&b, &z);
        assert_int_equal(tz_parse(b.data, b.len, &tz, &e), 0);
        assert_int_equal(off(tz, 999), 3600); /* before the first transition: type 0 */
        assert_int_equal(off(tz, 1000), 7200);
        assert_int_equal(off(tz, 1999), 7200);
        assert_int_equal(off(tz, 2000), 3600); /* footer from the last transition on */
        assert_int_equal(off(tz, INT64_MAX), 3600);
        tz_free(tz);

        /* Version 1: no footer, the last type stays. */
        z.version = 0;
        build(&b, &z);
        assert_int_equal(tz_parse(b.data, b.len, &tz, &e), 0);
        assert_int_equal(off(tz, 1500), 7200);
        assert_int_equal(off(tz, 5000), 3600);
        tz_free(tz);

        /* Empty footer: the last transition's type. */
        z = base_tzif();
        z.idx[1] = 1;
        z.footer = "";
        build(&b, &z);
        assert_int_equal(tz_parse(b.data, b.len, &tz, &e), 0);
        assert_int_equal(off(tz, 1 << 30), 7200);
        tz_free(tz);

        /* No transitions: the footer everywhere. */
        z = base_tzif();
        z.n_trans = 0;
        z.footer = "<+0330>-3:30";
        z.version = '4';
        build(&b, &z);
        assert_int_equal(tz_parse(b.data, b.len, &tz, &e), 0);
        assert_int_equal(off(tz, -(INT64_C(1) << 40)), 12600);
        tz_free(tz);

        /* Truncated anywhere. */
        z = base_tzif();
        build(&b, &z);
        for (size_t n = 0; n < b.len; n++) {
                assert_true(tz_parse(b.data, n, &tz, &e) < 0);
                assert_true(e.message[0] != 0);
        }
        assert_int_equal(tz_parse(b.data, 10, &tz, &e), -EBADMSG);
        assert_string_equal(e.message, "v1 header: truncated (10 bytes, need 44)");
        assert_int_equal(tz_parse(b.data, b.len - 1, &tz, &e), -EBADMSG);
        assert_string_equal(e.message, "footer: unterminated or longer than 1024 bytes");
        buf_free(&b);

        z = base_tzif();
        z.trans[1] = 1000;
        expect_bad(&z, -EBADMSG, "v2+ data block: transition 1 is not after transition 0");
        z = base_tzif();
        z.idx[0] = 2;
        expect_bad(&z, -EBADMSG, "transition 0 uses type 2, but there are 2 types");
        z = base_tzif();
        z.n_types = 0;
        expect_bad(&z, -EBADMSG, "v1 header: 0 local time types (1 to 256)");
        z = base_tzif();
        z.isdst[1] = 2;
        expect_bad(&z, -EBADMSG, "type 1 has isdst 2");
        z = base_tzif();
        z.utoff[0] = 100000;
        expect_bad(&z, -EBADMSG, "type 0 has UT offset 100000 s");
        z = base_tzif();
        z.desig[1] = 9;
        expect_bad(&z, -EBADMSG, "type 1 designation index 9 is outside");
        z = base_tzif();
        z.chars = "CET\0CEST!";
        expect_bad(&z, -EBADMSG, "type 1 designation index 4 is outside the 9 NUL-terminated");
        z = base_tzif();
        z.version = '5';
        expect_bad(&z, -EBADMSG, "v1 header: unsupported version 0x35");
        z = base_tzif();
        z.footer = NULL;
        expect_bad(&z, -EBADMSG, "footer: missing");
        z = base_tzif();
        z.footer = "CET-1\nX";
        expect_bad(&z, -EBADMSG, "footer: 2 bytes of trailing data");
        z = base_tzif();
        z.footer = "CET-1CEST,M3.5.0";
        expect_bad(&z, -EBADMSG,
                   "footer: TZ string 'CET-1CEST,M3.5.0': expected ',' before the end of DST at "
                   "offset 16");
}

static void test_caps(void **state)
{
        uint8_t h[44] = "TZif2";
        TimeZone *tz = NULL;
        Error e;

        /* timecnt 0x7fffffff */
        h[32] = 0x7f, h[33] = h[34] = h[35] = 0xff;
        h[39] = 1, h[43] = 1;
        assert_int_equal(tz_parse(h, sizeof(h), &tz, &e), -E2BIG);
        assert_string_equal(e.message, "v1 header: 2147483647 transitions (at most 100000)");
        h[32] = h[33] = h[34] = h[35] = 0;
        h[36] = 1; /* typecnt 0x01000001 */
        assert_int_equal(tz_parse(h, sizeof(h), &tz, &e), -E2BIG);
        h[36] = 0;
        h[24 + 3] = 2; /* isstdcnt 2 with one type */
        assert_int_equal(tz_parse(h, sizeof(h), &tz, &e), -EBADMSG);
        assert_string_equal(e.message, "v1 header: isstdcnt 2 is neither 0 nor typecnt 1");
        memcpy(h, "TZig", 4);
        assert_int_equal(tz_parse(h, sizeof(h), &tz, &e), -EBADMSG);
        assert_string_equal(e.message, "v1 header: not a TZif file (bad magic)");
        assert_null(tz);
}

static void expect_posix_fail(const char *spec, const char *msg)
{
        TimeZone *tz = NULL;
        Error e = { { 0 } };
        assert_int_equal(tz_from_posix(spec, &tz, &e), -EINVAL);
        assert_null(tz);
        if (!strstr(e.message, msg))
                fail_msg("%s: '%s' does not contain '%s'", spec, e.message, msg);
}

static void test_posix(void **state)
{
        _cleanup_tz_ TimeZone *a = posix("EST5EDT,0/0,J365/25"), /* all year DST (RFC 8536) */
                *b = posix("AAA-3BBB-4,M3.5.0/-25,M10.5.0/100"), *c = posix("<-03>3"), *d = posix("UTC0"),
                              *f = posix("EST5EDT");

        for (int i = 0; i < 1000; i++) {
                int64_t t = (int64_t)(rng() % (UINT64_C(1) << 36)) - (INT64_C(1) << 35);
                assert_int_equal(off(a, t), -4 * 3600);
                assert_true(dst(a, t));
                assert_int_equal(off(c, t), -3 * 3600);
                assert_int_equal(off(d, t), 0);
        }
        /* M3.5.0/-25: the last Sunday of March 2024 is the 31st; -25 h is 2024-03-29 23:00 local (+3). */
        assert_int_equal(off(b, utc(2024, 3, 29, 19, 59, 59)), 3 * 3600);
        assert_int_equal(off(b, utc(2024, 3, 29, 20, 0, 0)), 4 * 3600);
        /* M10.5.0/100: 2024-10-27 + 100 h = 2024-10-31 04:00 local (+4). */
        assert_int_equal(off(b, utc(2024, 10, 31, 0, 0, 0)), 3 * 3600);
        assert_int_equal(off(b, utc(2024, 10, 30, 23, 59, 59)), 4 * 3600);
        /* A DST period that ends in the next year (glibc, evaluating one year at a time, disagrees). */
        {
                _cleanup_tz_ TimeZone *g = posix("AAA3BBB,J1/0,J365/23");
                assert_int_equal(off(g, utc(2025, 1, 1, 0, 59, 59)), -2 * 3600);
                assert_int_equal(off(g, utc(2025, 1, 1, 1, 0, 0)), -3 * 3600);
                assert_int_equal(off(g, utc(2025, 1, 1, 2, 59, 59)), -3 * 3600);
                assert_int_equal(off(g, utc(2025, 1, 1, 3, 0, 0)), -2 * 3600);
        }
        /* No rule: the US one. */
        assert_int_equal(off(f, utc(2024, 3, 10, 7, 0, 0)), -4 * 3600);
        assert_int_equal(off(f, utc(2024, 11, 3, 6, 0, 0)), -5 * 3600);

        expect_posix_fail("", "expected a zone name of at least 3 letters at offset 0");
        expect_posix_fail("UT0", "expected a zone name of at least 3 letters at offset 0");
        expect_posix_fail("UTC", "expected a number at offset 3");
        expect_posix_fail("<+03-3", "unterminated or invalid quoted zone name at offset 0");
        expect_posix_fail("<+3>-3", "zone name shorter than 3 characters");
        expect_posix_fail("CET-25", "number out of range at offset 4");
        expect_posix_fail("CET-1:60", "number out of range at offset 6");
        expect_posix_fail("CET-1CEST,M13.5.0,M10.5.0", "number out of range at offset 11");
        expect_posix_fail("CET-1CEST,M3.6.0,M10.5.0", "number out of range at offset 13");
        expect_posix_fail("CET-1CEST,M3.5.7,M10.5.0", "number out of range at offset 15");
        expect_posix_fail("CET-1CEST,M3.5.0/168,M10.5.0", "number out of range");
        expect_posix_fail("CET-1CEST,J0,J10", "Julian day 0");
        expect_posix_fail("CET-1CEST,J366,J10", "number out of range");
        expect_posix_fail("CET-1CEST,366,10", "number out of range");
        expect_posix_fail("CET-1CEST,M3.5.0,M10.5.0/3x", "trailing characters at offset 26");
        expect_posix_fail("CET-1CEST;M3", "expected a number at offset 9");
        expect_posix_fail("CET-1CEST-2;M3", "expected ',' before the DST rule at offset 11");
        expect_posix_fail("CET-1CEST,M3.5.0", "expected ',' before the end of DST");
        expect_posix_fail("CET-1,M3.5.0,M10.5.0", "expected a zone name");
        expect_posix_fail(":Europe/Berlin", "expected a zone name");
}

static void test_load(void **state)
{
        _cleanup_free_ char *dir = NULL, *path = NULL;
        char name[300];
        TimeZone *tz = NULL;
        Error e = { { 0 } };

        assert_true(tz_name_valid("Europe/Berlin"));
        assert_true(tz_name_valid("Etc/GMT+5"));
        assert_true(tz_name_valid("America/Argentina/Buenos_Aires"));
        assert_false(tz_name_valid(""));
        assert_false(tz_name_valid("/etc/passwd"));
        assert_false(tz_name_valid("../etc/passwd"));
        assert_false(tz_name_valid("Europe/../../etc/passwd"));
        assert_false(tz_name_valid("Europe//Berlin"));
        assert_false(tz_name_valid("Europe/"));
        assert_false(tz_name_valid("Europe/Berlin "));
        assert_false(tz_name_valid("Europe/Berlin\n"));
        memset(name, 'a', 255);
        name[255] = 0;
        assert_true(tz_name_valid(name));
        name[255] = 'a', name[256] = 0;
        assert_false(tz_name_valid(name));

        assert_int_equal(tz_load("../etc/passwd", &tz, &e), -EINVAL);
        assert_string_equal(e.message, "time zone '../etc/passwd': not a valid zone name");
        assert_int_equal(tz_load("Mars/Olympus_Mons", &tz, &e), -ENOENT);
        assert_true(strstr(e.message, "time zone 'Mars/Olympus_Mons': unknown"));
        assert_int_equal(tz_load("zone.tab", &tz, &e), -EINVAL); /* '.' is not in zone names */
        assert_null(tz);

        assert_int_equal(tz_load("UTC", &tz, &e), 0);
        assert_int_equal(off(tz, 123456789), 0);
        tz_free(tz);
        assert_int_equal(tz_load("Etc/UTC", &tz, &e), 0);
        tz_free(tz);
        assert_int_equal(tz_load("localtime", &tz, &e), 0);
        tz_free(tz);

        /* UPKEEP_ZONEINFO points elsewhere. */
        dir = strdup("/tmp/test-tzfile-XXXXXX");
        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&path, "%s/Test", dir) > 0);
        {
                Buf b = BUF_INIT(1 << 16);
                Tzif z = base_tzif();
                FILE *f = fopen(path, "we");
                build(&b, &z);
                assert_non_null(f);
                assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
                fclose(f);
                buf_free(&b);
                free(path);
                assert_true(asprintf(&path, "%s/Bad", dir) > 0);
                f = fopen(path, "we");
                assert_non_null(f);
                fputs("# not a TZif file, long enough for a header ...............\n", f);
                fclose(f);
                free(path);
                assert_true(asprintf(&path, "%s/Test", dir) > 0);
        }
        {
                char *old = getenv("UPKEEP_ZONEINFO") ? strdup(getenv("UPKEEP_ZONEINFO")) : NULL;
                setenv("UPKEEP_ZONEINFO", dir, 1);
                assert_int_equal(tz_load("Test", &tz, &e), 0);
                assert_int_equal(off(tz, 1500), 7200);
                tz_free(tz);
                tz = NULL;
                assert_int_equal(tz_load("Europe/Berlin", &tz, &e), -ENOENT);
                assert_int_equal(tz_load("Bad", &tz, &e), -EBADMSG);
                assert_true(strstr(e.message, "time zone 'Bad': "));
                assert_true(strstr(e.message, "/Bad: v1 header: not a TZif file (bad magic)"));
                assert_null(tz);
                if (old)
                        setenv("UPKEEP_ZONEINFO", old, 1);
                else
                        unsetenv("UPKEEP_ZONEINFO");
                free(old);
        }
        unlink(path);
        free(path);
        assert_true(asprintf(&path, "%s/Bad", dir) > 0);
        unlink(path);
        rmdir(dir);
}

static unsigned n_parsed;

static int parse_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        _cleanup_free_ char *data = NULL;
        TimeZone *tz = NULL;
        Error e = { { 0 } };
        size_t len;

        (void)st, (void)ftw;
        if (flag != FTW_F || read_full_file(path, 1 << 20, &data, &len) < 0 || len < 4 ||
            memcmp(data, "TZif", 4) != 0)
                return 0;
        if (tz_parse(data, len, &tz, &e) < 0)
                fail_msg("%s: %s", path, e.message);
        (void)off(tz, 0);
        tz_free(tz);
        n_parsed++;
        return 0;
}

/* Every TZif file of the system's tzdata parses. */
static void test_all_zones_parse(void **state)
{
        assert_int_equal(nftw(zoneinfo(), parse_one, 16, FTW_PHYS), 0);
        assert_true(n_parsed > 300);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_glibc_zones),     cmocka_unit_test(test_glibc_posix),
                cmocka_unit_test(test_known_offsets),   cmocka_unit_test(test_extremes),
                cmocka_unit_test(test_handmade),        cmocka_unit_test(test_caps),
                cmocka_unit_test(test_posix),           cmocka_unit_test(test_load),
                cmocka_unit_test(test_all_zones_parse), cmocka_unit_test(test_calendar),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
