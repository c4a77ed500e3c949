/* release-time.h — the times and durations a release engineer types for `upkeep release`: absolute times
 * in any time zone (ISO 8601 with an offset, "2026-12-03 10:00 Europe/Berlin", a unix epoch), relative
 * ones ("now", "+2h", "now-30m"), durations ("48h", "2d", "1d12h"), and UTC formatting. Pure: the caller
 * passes now and a loader for named zones (tz_load() in the CLI). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tzfile.h"

#define RELEASE_TIME_MAX_INPUT 128
/* The instants release times can name and print: 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
#define RELEASE_TIME_MIN (-62167219200LL)
#define RELEASE_TIME_MAX 253402300799LL
/* Durations up to ten years, in minutes. */
#define RELEASE_DURATION_MAX_MINUTES (10LL * 366 * 24 * 60)

/* Loads the zone called name (an IANA name such as "Europe/Berlin"): 0 or a negative errno with e filled. */
typedef int (*ReleaseZoneLoader)(const char *name, void *userdata, TimeZone **ret, Error *e);

/* Parses s into seconds since the epoch. Accepted:
 *   "now", "now+2h", "+2h", "-1d12h"          (relative to now; units s, m, h, d, w)
 *   "1784728800", "@1784728800"                (unix epoch)
 *   "2026-12-03T10:00:00+01:00", "2026-12-03 10:00Z", "2026-12-03T10:00+0100"
 *   "2026-12-03 10:00 Europe/Berlin", "2026-12-03 UTC"   (wall time in a zone, loaded through load)
 * A date and time without an offset or zone is refused (ambiguous). A wall time the zone skips (DST) is
 * refused; one it repeats is the earlier instant. A time after 9999-12-31T23:59:59Z (RELEASE_TIME_MAX) is
 * refused with -ERANGE. Errors quote the input and say what is wrong. */
int release_time_parse(const char *s, int64_t now, ReleaseZoneLoader load, void *userdata, int64_t *ret,
                       Error *e);

/* Parses a duration such as "48h", "2d", "90m", "1d12h", "1w" into whole minutes (at least 1, at most
 * RELEASE_DURATION_MAX_MINUTES). A bare number is refused: give a unit. */
int release_duration_parse(const char *s, int64_t *ret_minutes, Error *e);

/* "2026-12-03T09:00:00Z" into buf (at least 32 bytes). -ERANGE when t is outside years 0..9999. */
int release_time_format_utc(int64_t t, char *buf, size_t size);
/* "2026-12-03 09:00" (minute precision, UTC), for tables and plots. */
int release_time_format_short(int64_t t, char *buf, size_t size);
