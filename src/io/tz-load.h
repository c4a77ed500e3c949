/* tz-load.h — loading a time zone by name from the system's tzdata (the I/O half of src/core/tzfile.h). */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "tzfile.h"

#define TZ_LOAD_MAX_BYTES (1024 * 1024)
#define TZ_NAME_MAX 255

/* Whether name is an acceptable IANA zone name: 1..255 bytes of [A-Za-z0-9_+-/], no leading '/', no
 * empty components (so no "..", '.' not being allowed at all). */
bool tz_name_valid(const char *name);

/* Loads a zone:
 * - "UTC" and "Etc/UTC" are built in (no file needed);
 * - "localtime" reads /etc/localtime, and is UTC when that file (or its symlink's target) does not exist;
 * - any other valid name is read from <dir>/<name>, where dir is $UPKEEP_ZONEINFO if set and non-empty,
 *   else /usr/share/zoneinfo. Files are capped at TZ_LOAD_MAX_BYTES.
 * Errors: -EINVAL for an invalid name, -ENOENT for an unknown zone, -EBADMSG (and the others of tz_parse)
 * for a bad file, each with a message naming the zone. */
int tz_load(const char *name, TimeZone **ret, Error *e);
