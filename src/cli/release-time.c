/* release-time.c — parsing the start times and durations of `upkeep release` (absolute in any zone,
 * relative, epoch) and printing instants in UTC. */
#include "release-time.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "macros.h"

static void split_utc(int64_t t, int64_t *y, int *mo, int *d, int *h, int *mi, int *s)
{
        int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
        int64_t rem = t - days * 86400;
        tz_civil_from_days(days, y, mo, d);
        *h = (int)(rem / 3600);
        *mi = (int)(rem % 3600 / 60);
        *s = (int)(rem % 60);
}

/* t in UTC: "2026-12-03T09:00:00Z" with seconds, else "2026-12-03 09:00" (to the minute). */
static int format_utc(int64_t t, bool seconds, char *buf, size_t size)
{
        int64_t y;
        int mo, d, h, mi, s, n;

        if (t < RELEASE_TIME_MIN || t > RELEASE_TIME_MAX)
                return -ERANGE;
        split_utc(t, &y, &mo, &d, &h, &mi, &s);
        if (seconds)
                n = snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, mo, d, h, mi, s);
        else
                n = snprintf(buf, size, "%04lld-%02d-%02d %02d:%02d", (long long)y, mo, d, h, mi);
        return (size_t)n >= size ? -ENOBUFS : 0;
}

int release_time_format_utc(int64_t t, char *buf, size_t size)
{
        return format_utc(t, true, buf, size);
}

int release_time_format_short(int64_t t, char *buf, size_t size)
{
        return format_utc(t, false, buf, size);
}

/* Reads exactly n ASCII digits at *p. */
static bool take_digits(const char **p, unsigned n, int64_t *ret)
{
        int64_t v = 0;
        for (unsigned i = 0; i < n; i++) {
                if ((*p)[i] < '0' || (*p)[i] > '9')
                        return false;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

static int64_t unit_seconds(char u)
{
        switch (u) {
        case 's':
                return 1;
        case 'm':
                return 60;
        case 'h':
                return 3600;
        case 'd':
                return 86400;
        case 'w':
                return 7 * 86400;
        default:
                return 0;
        }
}

/* "1d12h30m": a sum of numbers with units, at most ten years. */
static int parse_span(const char *s, int64_t *ret_secs)
{
        int64_t total = 0;

        if (!*s)
                return -EINVAL;
        while (*s) {
                int64_t v = 0, unit;
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                for (; *s >= '0' && *s <= '9'; s++) {
                        v = v * 10 + (*s - '0');
                        if (v > RELEASE_DURATION_MAX_MINUTES * 60)
                                return -ERANGE;
                }
                unit = unit_seconds(*s);
                if (!unit)
                        return -EINVAL;
                s++;
                total += v * unit;
                if (total > RELEASE_DURATION_MAX_MINUTES * 60)
                        return -ERANGE;
        }
        *ret_secs = total;
        return 0;
}

int release_duration_parse(const char *s, int64_t *ret_minutes, Error *e)
{
        int64_t secs;
        int r;

        if (strlen(s) > RELEASE_TIME_MAX_INPUT)
                return error_setf(e, -EINVAL, "duration is longer than %d characters",
                                  RELEASE_TIME_MAX_INPUT);
        if (*s && strspn(s, "0123456789") == strlen(s))
                return error_setf(e, -EINVAL, "duration '%s' has no unit: write e.g. %sh, %sd or %sm", s, s,
                                  s, s);
        r = parse_span(s, &secs);
        if (r == -ERANGE)
                return error_setf(e, r, "duration '%s' is longer than ten years", s);
        if (r < 0)
                return error_setf(e, r, "duration '%s' is not a sum of numbers with units s, m, h, d, w", s);
        if (secs % 60 != 0)
                return error_setf(e, -EINVAL, "duration '%s' is not a whole number of minutes", s);
        if (secs == 0)
                return error_setf(e, -EINVAL, "duration '%s' is zero; a rollout lasts at least one minute",
                                  s);
        *ret_minutes = secs / 60;
        return 0;
}

static int parse_relative(const char *s, const char *input, int64_t now, int64_t *ret, Error *e)
{
        int64_t secs;
        int sign;
        int r;

        if (!*s) {
                *ret = now;
                return 0;
        }
        if (*s != '+' && *s != '-')
                return error_setf(e, -EINVAL, "time '%s': expected + or - after 'now'", input);
        sign = *s == '-' ? -1 : 1;
        r = parse_span(s + 1, &secs);
        if (r < 0)
                return error_setf(e, -EINVAL, "time '%s': '%s' is not a span such as 2h, 30m, 1d12h", input,
                                  s + 1);
        *ret = now + sign * secs;
        return 0;
}

/* The instant at which the zone's wall clock reads local (seconds since the epoch as if UTC). */
static int resolve_local(const TimeZone *tz, int64_t local, const char *input, const char *zone,
                         int64_t *ret, Error *e)
{
        int64_t found = INT64_MAX;
        int32_t before, after, off;

        tz_offset_at(tz, local - 2 * 86400, &before, NULL);
        tz_offset_at(tz, local + 2 * 86400, &after, NULL);
        const int32_t cand[2] = { before, after };
        for (size_t i = 0; i < 2; i++) {
                int64_t t = local - cand[i];
                tz_offset_at(tz, t, &off, NULL);
                if (off == cand[i] && t < found)
                        found = t;
        }
        if (found == INT64_MAX)
                return error_setf(e, -EINVAL, "time '%s' does not exist in %s (the clocks skip it)", input,
                                  zone);
        *ret = found;
        return 0;
}

/* [Z | +HH | +HH:MM | +HHMM] at *p; *ret_has false when there is none. */
static int parse_offset(const char **p, bool *ret_has, int64_t *ret_secs)
{
        const char *q = *p;
        int64_t h, m = 0;
        int sign;

        if (*q == 'Z' || *q == 'z') {
                *p = q + 1;
                *ret_has = true;
                *ret_secs = 0;
                return 0;
        }
        if (*q != '+' && *q != '-') {
                *ret_has = false;
                return 0;
        }
        sign = *q == '-' ? -1 : 1;
        q++;
        if (!take_digits(&q, 2, &h))
                return -EINVAL;
        if (*q == ':')
                q++;
        if (*q >= '0' && *q <= '9' && !take_digits(&q, 2, &m))
                return -EINVAL;
        if (h > 23 || m > 59)
                return -EINVAL;
        *p = q;
        *ret_has = true;
        *ret_secs = sign * (h * 3600 + m * 60);
        return 0;
}

/* "YYYY-MM-DD[(T| )HH:MM[:SS]]" at *p → seconds of that wall time as if UTC. */
static int parse_wall(const char **p, int64_t *ret)
{
        const char *q = *p;
        int64_t y, mo, d, h = 0, mi = 0, s = 0;

        if (!take_digits(&q, 4, &y) || *q++ != '-' || !take_digits(&q, 2, &mo) || *q++ != '-' ||
            !take_digits(&q, 2, &d))
                return -EINVAL;
        if (mo < 1 || mo > 12 || d < 1 || d > tz_month_days(y, (int)mo))
                return -EINVAL;
        if ((*q == 'T' || *q == 't' || *q == ' ') && q[1] >= '0' && q[1] <= '9') {
                q++;
                if (!take_digits(&q, 2, &h) || *q++ != ':' || !take_digits(&q, 2, &mi))
                        return -EINVAL;
                if (*q == ':') {
                        q++;
                        if (!take_digits(&q, 2, &s))
                                return -EINVAL;
                }
                if (h > 23 || mi > 59 || s > 59)
                        return -EINVAL;
        }
        *p = q;
        *ret = tz_days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + s;
        return 0;
}

static int parse_absolute(const char *s, ReleaseZoneLoader load, void *userdata, int64_t *ret, Error *e)
{
        _cleanup_tz_ TimeZone *tz = NULL;
        const char *p = s, *zone;
        int64_t wall, off;
        bool has_off;
        int r;

        if (parse_wall(&p, &wall) < 0)
                return error_setf(e, -EINVAL,
                                  "time '%s' is not 'now', '+2h', a unix epoch or YYYY-MM-DD[ HH:MM[:SS]] "
                                  "with a zone",
                                  s);
        if (parse_offset(&p, &has_off, &off) < 0)
                return error_setf(e, -EINVAL, "time '%s': bad UTC offset at '%s' (Z, +HH:MM or +HHMM)", s,
                                  p);
        if (has_off) {
                if (*p)
                        return error_setf(e, -EINVAL, "time '%s': unexpected '%s' after the UTC offset", s,
                                          p);
                *ret = wall - off;
                return 0;
        }
        if (*p != ' ' || !p[1])
                return error_setf(e, -EINVAL,
                                  "time '%s' has no time zone: add Z, an offset (+01:00) or a zone name "
                                  "(Europe/Berlin)",
                                  s);
        zone = p + 1;
        if (streq(zone, "UTC") || streq(zone, "Z") || streq(zone, "Etc/UTC")) {
                *ret = wall;
                return 0;
        }
        if (!load)
                return error_setf(e, -EINVAL, "time '%s': no time zones available for '%s'", s, zone);
        r = load(zone, userdata, &tz, e);
        if (r < 0)
                return error_prefixf(e, r, "time '%s'", s);
        return resolve_local(tz, wall, s, zone, ret, e);
}

static int parse_any(const char *s, int64_t now, ReleaseZoneLoader load, void *userdata, int64_t *ret,
                     Error *e)
{
        const char *digits = s[0] == '@' ? s + 1 : s;
        int64_t t = 0;

        if (strlen(s) > RELEASE_TIME_MAX_INPUT)
                return error_setf(e, -EINVAL, "time is longer than %d characters", RELEASE_TIME_MAX_INPUT);
        if (!*s)
                return error_setf(e, -EINVAL, "time is empty");
        if (strneq(s, "now", 3))
                return parse_relative(s + 3, s, now, ret, e);
        if (s[0] == '+' || s[0] == '-')
                return parse_relative(s, s, now, ret, e);
        if (*digits && strspn(digits, "0123456789") == strlen(digits) && (digits != s || strlen(s) != 4)) {
                if (strlen(digits) > 12)
                        return error_setf(e, -ERANGE, "time '%s': epoch beyond the year 9999", s);
                for (const char *p = digits; *p; p++)
                        t = t * 10 + (*p - '0');
                *ret = t;
                return 0;
        }
        return parse_absolute(s, load, userdata, ret, e);
}

int release_time_parse(const char *s, int64_t now, ReleaseZoneLoader load, void *userdata, int64_t *ret,
                       Error *e)
{
        int64_t t;
        int r;

        r = parse_any(s, now, load, userdata, &t, e);
        if (r < 0)
                return r;
        if (t > RELEASE_TIME_MAX)
                return error_setf(e, -ERANGE, "time '%s' is after 9999-12-31T23:59:59Z", s);
        *ret = t;
        return 0;
}
