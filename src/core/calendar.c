/* calendar.c — weekly maintenance windows evaluated in a time zone's wall-clock time (see calendar.h). */
#include "calendar.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macros.h"

#define WEEK_MIN CALENDAR_MINUTES_PER_WEEK
#define WEEK_SECS ((int64_t)WEEK_MIN * 60)
#define DAY_MIN 1440
/* 1970-01-01 was a Thursday: local second s since the epoch is (s + EPOCH_SHIFT) mod WEEK_SECS seconds
 * after a Monday 00:00. */
#define EPOCH_SHIFT (INT64_C(3) * 86400)
#define HORIZON (4 * WEEK_SECS)
#define NOW_LIMIT (INT64_C(1) << 62)
#define MAX_STEPS 1000000 /* boundaries crossed in one search: intervals and zone transitions */

typedef struct Span {
        int32_t start, end; /* minutes of the week, 0 <= start < end <= WEEK_MIN */
} Span;

struct Calendar {
        size_t n_raw;
        Span *raw; /* as added: end - start = length, may exceed WEEK_MIN - start (wrap) */
        size_t n_merged;
        Span *merged; /* sorted, disjoint, not touching, none wrapping */
};

static const char *const day_abbrev[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

Calendar *calendar_new(void)
{
        return calloc(1, sizeof(Calendar));
}

void calendar_free(Calendar *c)
{
        if (!c)
                return;
        free(c->raw);
        free(c->merged);
        free(c);
}

bool calendar_is_empty(const Calendar *c)
{
        return c->n_merged == 0;
}

int calendar_parse_day(const char *s, int *ret_day)
{
        static const char *const full[7] = { "monday", "tuesday",  "wednesday", "thursday",
                                             "friday", "saturday", "sunday" };

        if (!s)
                return -EINVAL;
        for (int i = 0; i < 7; i++)
                if (strcasecmp(s, day_abbrev[i]) == 0 || strcasecmp(s, full[i]) == 0) {
                        *ret_day = i;
                        return 0;
                }
        if (strcasecmp(s, "tuesady") == 0) { /* what Zincati accepts instead of "tuesday" */
                *ret_day = 1;
                return 0;
        }
        return -EINVAL;
}

static bool digit(char c)
{
        return c >= '0' && c <= '9';
}

int calendar_parse_time(const char *s, int *ret_minute_of_day)
{
        int h = 0, m = 0;
        size_t i = 0, n;

        if (!s)
                return -EINVAL;
        for (n = 0; n < 2 && digit(s[i]); n++)
                h = h * 10 + (s[i++] - '0');
        if (n == 0 || s[i++] != ':')
                return -EINVAL;
        for (n = 0; n < 2 && digit(s[i]); n++)
                m = m * 10 + (s[i++] - '0');
        if (n == 0 || s[i] != 0 || h > 23 || m > 59)
                return -EINVAL;
        *ret_minute_of_day = h * 60 + m;
        return 0;
}

static int span_cmp(const void *a, const void *b)
{
        const Span *x = a, *y = b;
        return x->start < y->start ? -1 : x->start > y->start ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Splits wrapping intervals at the week's end, sorts, merges overlapping and touching ones. */
static int build_merged(const Span *raw, size_t n_raw, Span **ret, size_t *ret_n)
{
        Span *m = malloc(MAX(2 * n_raw, (size_t)1) * sizeof(Span));
        size_t n = 0, out = 0;

        if (!m)
                return -ENOMEM;
        for (size_t i = 0; i < n_raw; i++) {
                if (raw[i].end <= WEEK_MIN)
                        m[n++] = raw[i];
                else {
                        m[n++] = (Span){ raw[i].start, WEEK_MIN };
                        m[n++] = (Span){ 0, MIN(raw[i].end - WEEK_MIN, raw[i].start) };
                }
        }
        qsort(m, n, sizeof(Span), span_cmp);
        for (size_t i = 0; i < n; i++) {
                if (out > 0 && m[i].start <= m[out - 1].end)
                        m[out - 1].end = MAX(m[out - 1].end, m[i].end);
                else
                        m[out++] = m[i];
        }
        *ret = m;
        *ret_n = out;
        return 0;
}

int calendar_add_window(Calendar *c, const int *days, size_t n_days, int start_minute, int length_minutes,
                        Error *e)
{
        Span *raw, *merged;
        size_t n_merged;
        int r;

        if (n_days == 0)
                return error_setf(e, -EINVAL, "days: must not be empty");
        for (size_t i = 0; i < n_days; i++)
                if (days[i] < 0 || days[i] > 6)
                        return error_setf(e, -EINVAL, "days[%zu]: %d is not a day of the week (0..6)", i,
                                          days[i]);
        if (start_minute < 0 || start_minute >= DAY_MIN)
                return error_setf(e, -EINVAL, "start_time: minute %d is not between 0 and 1439",
                                  start_minute);
        if (length_minutes < 1 || length_minutes > WEEK_MIN)
                return error_setf(e, -EINVAL, "length_minutes: must be an integer between 1 and %d",
                                  WEEK_MIN);
        if (n_days > CALENDAR_MAX_INTERVALS - c->n_raw)
                return error_setf(e, -E2BIG, "too many windows (at most %d day and start time pairs)",
                                  CALENDAR_MAX_INTERVALS);

        raw = malloc((c->n_raw + n_days) * sizeof(Span));
        if (!raw)
                return error_setf(e, -ENOMEM, "out of memory");
        if (c->n_raw > 0)
                memcpy(raw, c->raw, c->n_raw * sizeof(Span));
        for (size_t i = 0; i < n_days; i++) {
                int32_t s = days[i] * DAY_MIN + start_minute;
                raw[c->n_raw + i] = (Span){ s, s + length_minutes };
        }
        r = build_merged(raw, c->n_raw + n_days, &merged, &n_merged);
        if (r < 0) {
                free(raw);
                return error_setf(e, r, "out of memory");
        }
        free(c->raw);
        free(c->merged);
        c->raw = raw;
        c->n_raw += n_days;
        c->merged = merged;
        c->n_merged = n_merged;
        return 0;
}

int calendar_add_from_toml(Calendar *c, const TomlValue *w, Error *e)
{
        const TomlValue *days, *start, *length;
        int day_list[7], n = 0, start_minute, r;
        size_t len;

        if (!w || toml_type(w) != TOML_TABLE)
                return error_setf(e, -EINVAL, "window: must be a table");

        days = toml_table_get(w, "days");
        if (!days)
                return error_setf(e, -EINVAL, "days: missing");
        if (toml_type(days) != TOML_ARRAY)
                return error_setf(e, -EINVAL, "days: must be an array of day names");
        if (toml_array_size(days) == 0)
                return error_setf(e, -EINVAL, "days: must not be empty");
        for (size_t i = 0; i < toml_array_size(days); i++) {
                const TomlValue *d = toml_array_get(days, i);
                const char *s;
                bool seen = false;
                int day;

                if (toml_type(d) != TOML_STRING)
                        return error_setf(e, -EINVAL, "days[%zu]: must be a string, not %s", i,
                                          toml_type_name(toml_type(d)));
                s = toml_string(d, &len);
                if (strlen(s) != len || calendar_parse_day(s, &day) < 0)
                        return error_setf(e, -EINVAL, "days[%zu]: '%.*s' is not a day of the week", i,
                                          (int)MIN(len, (size_t)64), s);
                /* a set, as in Zincati: repeating a day changes nothing */
                for (int j = 0; j < n; j++)
                        seen = seen || day_list[j] == day;
                if (!seen)
                        day_list[n++] = day;
        }

        start = toml_table_get(w, "start_time");
        if (!start)
                return error_setf(e, -EINVAL, "start_time: missing");
        if (toml_type(start) != TOML_STRING)
                return error_setf(e, -EINVAL, "start_time: must be a string \"HH:MM\", not %s",
                                  toml_type_name(toml_type(start)));
        {
                const char *s = toml_string(start, &len);
                if (strlen(s) != len || calendar_parse_time(s, &start_minute) < 0)
                        return error_setf(e, -EINVAL, "start_time: '%.*s' is not HH:MM",
                                          (int)MIN(len, (size_t)64), s);
        }

        length = toml_table_get(w, "length_minutes");
        if (!length)
                return error_setf(e, -EINVAL, "length_minutes: missing");
        if (toml_type(length) != TOML_INTEGER || toml_integer(length) < 1 || toml_integer(length) > WEEK_MIN)
                return error_setf(e, -EINVAL, "length_minutes: must be an integer between 1 and %d",
                                  WEEK_MIN);

        r = calendar_add_window(c, day_list, (size_t)n, start_minute, (int)toml_integer(length), e);
        return r;
}

int64_t calendar_total_minutes(const Calendar *c)
{
        int64_t total = 0;
        for (size_t i = 0; i < c->n_merged; i++)
                total += c->merged[i].end - c->merged[i].start;
        return total;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
        int64_t r = a % b;
        return r < 0 ? r + b : r;
}

/* Whether the calendar is open at t, and the first instant after t at which that may change: the next
 * interval boundary in the current local time, or the zone's next transition if that comes first. */
static void step(const Calendar *c, const TimeZone *tz, int64_t t, bool *ret_inside, int64_t *ret_next)
{
        int64_t pos, minute, boundary, next, trans;
        int32_t utoff;
        bool inside = false;

        (void)tz_offset_at(tz, t, &utoff, NULL);
        pos = floor_mod(floor_mod(t, WEEK_SECS) + utoff + EPOCH_SHIFT, WEEK_SECS);
        minute = pos / 60;
        boundary = WEEK_SECS + (int64_t)c->merged[0].start * 60; /* next week's first opening */
        for (size_t i = 0; i < c->n_merged; i++) {
                if (minute < c->merged[i].start) {
                        boundary = (int64_t)c->merged[i].start * 60;
                        break;
                }
                if (minute < c->merged[i].end) {
                        inside = true;
                        boundary = (int64_t)c->merged[i].end * 60;
                        break;
                }
        }
        if (__builtin_add_overflow(t, boundary - pos, &next))
                next = INT64_MAX; /* only for calendar_contains() near INT64_MAX */
        if (tz_next_transition(tz, t, &trans) >= 0 && trans < next)
                next = trans;
        *ret_inside = inside;
        *ret_next = next;
}

bool calendar_contains(const Calendar *c, const TimeZone *tz, int64_t now)
{
        bool inside;
        int64_t next;

        if (c->n_merged == 0)
                return false;
        step(c, tz, now, &inside, &next);
        return inside;
}

int calendar_next_open(const Calendar *c, const TimeZone *tz, int64_t now, int64_t *ret_start,
                       int64_t *ret_end)
{
        int64_t t = now, start, end = INT64_MAX, next;
        bool inside = false;
        unsigned steps = 0;

        if (now < -NOW_LIMIT || now > NOW_LIMIT)
                return -ERANGE;
        if (c->n_merged == 0)
                return -ENOENT;
        for (;;) {
                step(c, tz, t, &inside, &next);
                if (inside)
                        break;
                t = next;
                if (t > now + HORIZON || ++steps > MAX_STEPS)
                        return -ENOENT;
        }
        start = t;
        if (calendar_total_minutes(c) < WEEK_MIN)
                for (;;) {
                        step(c, tz, t, &inside, &next);
                        if (!inside) {
                                end = t;
                                break;
                        }
                        t = next;
                        if (t > start + HORIZON || ++steps > MAX_STEPS)
                                break; /* does not close (soon): end stays INT64_MAX */
                }
        *ret_start = start;
        *ret_end = end;
        return 0;
}

static int format_span(Buf *out, int32_t start, int32_t end, bool wraps)
{
        int32_t last = end - 1, shown_end = end % WEEK_MIN;
        int r;

        r = buf_printf(out, "%s %02d:%02d", day_abbrev[start / DAY_MIN], start % DAY_MIN / 60, start % 60);
        if (r >= 0 && (start / DAY_MIN != last / DAY_MIN || wraps))
                r = buf_printf(out, "\xe2\x80\x93%s %02d:%02d", day_abbrev[shown_end / DAY_MIN],
                               shown_end % DAY_MIN / 60, shown_end % 60);
        if (r >= 0)
                r = buf_printf(out, " (%d min%s)", end - start, wraps ? ", wraps" : "");
        return r;
}

int calendar_format(const Calendar *c, Buf *out)
{
        size_t n = c->n_merged, first = 0, last = n;
        bool wrap;
        int r = 0;

        if (n == 0)
                return buf_puts(out, "never");
        if (n == 1 && c->merged[0].start == 0 && c->merged[0].end == WEEK_MIN)
                return buf_printf(out, "always (%d min)", WEEK_MIN);
        /* A window running from Sunday into Monday is stored as two spans: show it as one, last. */
        wrap = n >= 2 && c->merged[0].start == 0 && c->merged[n - 1].end == WEEK_MIN;
        if (wrap) {
                first = 1;
                last = n - 1;
        }
        for (size_t i = first; i < last && r >= 0; i++) {
                if (i > first)
                        r = buf_puts(out, ", ");
                if (r >= 0)
                        r = format_span(out, c->merged[i].start, c->merged[i].end, false);
        }
        if (wrap && r >= 0) {
                if (last > first)
                        r = buf_puts(out, ", ");
                if (r >= 0)
                        r = format_span(out, c->merged[n - 1].start, c->merged[0].end + WEEK_MIN, true);
        }
        return r;
}
