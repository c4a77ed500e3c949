/* tzfile.h — time zones without I/O: a strict parser for TZif files (RFC 8536, versions 1 to 4) and for
 * POSIX TZ strings (the TZif footer, with RFC 8536's extensions), and the UTC offset in force at any
 * instant. Files are read by src/io/tz-load.h; this module only sees bytes.
 *
 * Semantics (RFC 8536 section 3.2):
 * - Instants before the first transition use time type 0.
 * - Instants at or after the last transition use the footer TZ string when the file has one (also for
 *   all instants when the file has no transitions), else the last transition's type.
 * - Version 1 files use the 32-bit data block; version 2+ files use the 64-bit block and the footer.
 * - Leap-second records are validated but not applied: offsets are for POSIX time_t (as glibc does for
 *   the usual, non-"right/" zones).
 * - A TZ string with a DST name but no rule uses the US rule ",M3.2.0,M11.1.0" (as glibc and tzcode do
 *   without a "posixrules" file). Rule times may be negative or exceed 24 hours (-167..167, RFC 8536
 *   version 3); offsets are 0..24:59:59 hours either side of UTC. Negative DST (Europe/Dublin,
 *   "IST-1GMT0,M10.5.0,M3.5.0/1") works: whatever the offsets, "DST" is the second name's time.
 * - Rules repeat exactly with the 400-year Gregorian cycle, so offsets are exact for every int64 instant
 *   (no overflow, no clamping). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define TZ_MAX_TRANSITIONS 100000
#define TZ_MAX_TYPES 256
#define TZ_MAX_CHARS 1024 /* bytes of time zone designations */
#define TZ_MAX_LEAPS 1024
#define TZ_MAX_FOOTER 1024 /* bytes of the footer TZ string, and of a tz_from_posix() spec */

typedef struct TimeZone TimeZone;

/* Parses a TZif file of len bytes. Every count and index is checked against the file size and against
 * each other; a bad file fails with -EBADMSG (-E2BIG when a count exceeds the caps above, -ENOMEM) and
 * an error naming the field at fault. */
int tz_parse(const void *data, size_t len, TimeZone **ret, Error *e);

/* Builds a zone from a POSIX TZ string such as "UTC0", "CET-1CEST,M3.5.0,M10.5.0/3",
 * "<+0330>-3:30" or "EST5EDT,M3.2.0,M11.1.0" (no leading ':' and no file names). -EINVAL on a
 * malformed string, with an error naming the position. */
int tz_from_posix(const char *spec, TimeZone **ret, Error *e);

/* The UTC offset (seconds east of UTC) and DST flag in force at t (seconds since the epoch, any value).
 * Both outputs are optional. Always returns 0. */
int tz_offset_at(const TimeZone *tz, int64_t t, int32_t *ret_utoff, bool *ret_isdst);

/* The first transition strictly after t: a stored transition or a change of the footer rule. Stored ones
 * need not change anything (zic's "fat" files end with a no-op one at 2038-01-19); the offset is
 * constant from t up to the returned instant. -ENOENT when there is none (a zone without DST after its
 * last transition, or beyond INT64_MAX). */
int tz_next_transition(const TimeZone *tz, int64_t t, int64_t *ret);

void tz_free(TimeZone *tz);

/* Proleptic Gregorian calendar arithmetic (exact for years of magnitude below 2^40): days since 1970-01-01
 * of y-m-d (m 1..12, d 1..31), and back (outputs may be NULL); whether y is a leap year; the days of month
 * m. */
int64_t tz_days_from_civil(int64_t y, int m, int d);
void tz_civil_from_days(int64_t days, int64_t *ret_y, int *ret_m, int *ret_d);
bool tz_is_leap(int64_t y);
int tz_month_days(int64_t y, int m);

static inline void tz_freep(TimeZone **tz)
{
        if (*tz)
                tz_free(*tz);
}
#define _cleanup_tz_ __attribute__((cleanup(tz_freep)))
