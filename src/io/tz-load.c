/* tz-load.c — reading time zones from tzdata files (see tz-load.h). */
#include "tz-load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "macros.h"

#define ZONEINFO_DEFAULT "/usr/share/zoneinfo"
#define LOCALTIME_PATH "/etc/localtime"

bool tz_name_valid(const char *name)
{
        size_t n, comp = 0;

        if (!name)
                return false;
        n = strnlen(name, TZ_NAME_MAX + 1);
        if (n == 0 || n > TZ_NAME_MAX || name[0] == '/')
                return false;
        for (size_t i = 0; i <= n; i++) {
                char c = name[i];
                if (c == '/' || c == 0) {
                        if (comp == 0) /* "a//b", "a/" ('.' is not allowed, so no "." or "..") */
                                return false;
                        comp = 0;
                        continue;
                }
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '+' || c == '-'))
                        return false;
                comp++;
        }
        return true;
}

static int load_file(const char *path, const char *name, TimeZone **ret, Error *e)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r;

        r = read_full_file(path, TZ_LOAD_MAX_BYTES, &data, &len);
        if (r == -ENOENT || r == -ENOTDIR)
                return error_setf(e, -ENOENT, "time zone '%s': unknown (%s does not exist)", name, path);
        if (r == -EFBIG)
                return error_setf(e, r, "time zone '%s': %s is larger than %d bytes", name, path,
                                  TZ_LOAD_MAX_BYTES);
        if (r < 0)
                return error_setf(e, r, "time zone '%s': cannot read %s: %m", name, path);
        r = tz_parse(data, len, ret, e);
        if (r < 0)
                return error_prefixf(e, r, "time zone '%s': %s", name, path);
        return 0;
}

int tz_load(const char *name, TimeZone **ret, Error *e)
{
        _cleanup_free_ char *path = NULL;
        const char *dir;
        int r;

        if (name && (streq(name, "UTC") || streq(name, "Etc/UTC")))
                return tz_from_posix("UTC0", ret, e);
        if (name && streq(name, "localtime")) {
                r = load_file(LOCALTIME_PATH, name, ret, e);
                if (r == -ENOENT)
                        return tz_from_posix("UTC0", ret, e);
                return r;
        }
        if (!tz_name_valid(name))
                return error_setf(e, -EINVAL, "time zone '%.*s': not a valid zone name", 64, strna(name));
        dir = getenv("UPKEEP_ZONEINFO");
        if (!dir || !*dir)
                dir = ZONEINFO_DEFAULT;
        if (asprintf(&path, "%s/%s", dir, name) < 0) {
                path = NULL;
                return error_setf(e, -ENOMEM, "out of memory");
        }
        return load_file(path, name, ret, e);
}
