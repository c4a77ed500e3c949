/* calendar.h — weekly maintenance windows in the wall-clock time of a time zone, with Zincati's
 * `periodic` strategy semantics: a window is a set of days, a start time and a length in minutes; each
 * (day, start) gives the interval [start, start + length) in minutes since Monday 00:00 local time,
 * wrapping from Sunday into Monday. Overlapping windows are fine (they are merged).
 *
 * Local time across DST changes: the calendar is open exactly when the local wall-clock time (the UTC
 * instant plus the zone's offset at that instant) falls inside an interval. So a window (or part of one)
 * inside the hour skipped on spring-forward day is shorter or absent that day, and one inside the hour
 * repeated on fall-back day is open during both passes (its real length grows by the repeat). All
 * decisions are minute-accurate (local minutes of the week; seconds within a minute are ignored).
 *
 * Pure logic: no clocks (callers pass `now`, seconds since the epoch), no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "toml.h"
#include "tzfile.h"

#define CALENDAR_MINUTES_PER_WEEK 10080
#define CALENDAR_MAX_INTERVALS 1024 /* (day, start) pairs in one calendar */

typedef struct Calendar Calendar;

/* An empty calendar (open never). NULL on allocation failure. */
Calendar *calendar_new(void);
void calendar_free(Calendar *c);

static inline void calendar_freep(Calendar **c)
{
        if (*c)
                calendar_free(*c);
}
#define _cleanup_calendar_ __attribute__((cleanup(calendar_freep)))

/* Day names, case-insensitive: "mon".."sun" and "monday".."sunday" (also Zincati's "tuesady", which
 * Zincati accepts instead of "tuesday"; we take both). *ret_day: 0 = Monday .. 6 = Sunday. -EINVAL
 * otherwise. */
int calendar_parse_day(const char *s, int *ret_day);
/* "H:MM", "HH:MM" (and Zincati's one-digit minutes, "7:5"), 00:00..23:59 → minutes since midnight.
 * Only ASCII digits; -EINVAL otherwise. */
int calendar_parse_time(const char *s, int *ret_minute_of_day);

/* Adds one interval per day: days[i] in 0..6, start_minute in 0..1439, length_minutes in 1..10080.
 * -EINVAL for values out of range, -E2BIG beyond CALENDAR_MAX_INTERVALS, -ENOMEM. On failure the
 * calendar is unchanged. */
int calendar_add_window(Calendar *c, const int *days, size_t n_days, int start_minute, int length_minutes,
                        Error *e);
/* The same from a TOML table { days = ["Mon", ...], start_time = "HH:MM", length_minutes = N }. Days form
 * a set (repeats are fine); unknown keys are ignored, as Zincati does. Errors name the key:
 * "days[1]: 'funday' is not a day of the week", "start_time: '25:00' is not HH:MM",
 * "length_minutes: must be an integer between 1 and 10080". */
int calendar_add_from_toml(Calendar *c, const TomlValue *window_table, Error *e);

bool calendar_is_empty(const Calendar *c);

/* Whether the local wall time at now (in tz) is inside a window. */
bool calendar_contains(const Calendar *c, const TimeZone *tz, int64_t now);

/* The first instant ≥ now at which the calendar is open (now itself when open now), and the instant
 * the calendar closes after that (the end of the stretch, across adjacent windows, DST changes and week
 * boundaries). *ret_end is INT64_MAX when it does not close within four weeks of the start (a
 * full-week calendar). Returns -ENOENT when the calendar is empty or never opens within four weeks
 * (only possible with pathological zones), -ERANGE when now is beyond ±2^62 s. */
int calendar_next_open(const Calendar *c, const TimeZone *tz, int64_t now, int64_t *ret_start,
                       int64_t *ret_end);

/* The merged length of all windows in minutes per week (0..10080). */
int64_t calendar_total_minutes(const Calendar *c);

/* Appends a human description of the merged windows, e.g. "Mon 22:00 (60 min), Sat 01:00–Sun 07:00
 * (1800 min), Sun 23:00–Mon 01:00 (120 min, wraps)"; "never" when empty, "always (10080 min)" for the
 * whole week. */
int calendar_format(const Calendar *c, Buf *out);
