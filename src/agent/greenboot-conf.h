/* greenboot-conf.h — /etc/greenboot/greenboot.conf read as data, never executed. greenboot sources the file
 * as a bash script; Upkeep accepts the same file but only its plain assignments: `NAME=value`,
 * `export NAME=value`, values unquoted, 'single-' or "double-quoted", and bash arrays `NAME=(a "b c")`
 * over one or several lines, with `#` comments. Anything that would run code (commands, `$(...)`,
 * backquotes,
 * `$VAR` expansions, `;`, `&&`, redirections) is not executed: the line is skipped with a warning that names
 * it. Pure; fuzzed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define GREENBOOT_CONF_PATH "/etc/greenboot/greenboot.conf"
#define GREENBOOT_CONF_MAX_BYTES (64 * 1024)
#define GREENBOOT_CONF_MAX_DISABLED 256
#define GREENBOOT_CONF_MAX_VALUE 4096
#define GREENBOOT_DEFAULT_MAX_BOOT_ATTEMPTS 3
#define GREENBOOT_DEFAULT_WATCHDOG_GRACE_HOURS 24

typedef struct GreenbootConf {
        unsigned max_boot_attempts;   /* GREENBOOT_MAX_BOOT_ATTEMPTS, default 3 */
        char **disabled_healthchecks; /* DISABLED_HEALTHCHECKS: script names (strv), never NULL */
        size_t n_disabled_healthchecks;
        bool watchdog_check_enabled;   /* GREENBOOT_WATCHDOG_CHECK_ENABLED, default false */
        unsigned watchdog_grace_hours; /* GREENBOOT_WATCHDOG_GRACE_PERIOD, default 24 */
        char **warnings; /* "greenboot.conf:LINE: ..." for what was skipped (strv), never NULL */
        size_t n_warnings;
} GreenbootConf;

/* The defaults, as greenboot has them without a file. 0 or -ENOMEM. */
int greenboot_conf_init(GreenbootConf *ret);
/* Parses data (len bytes, at most GREENBOOT_CONF_MAX_BYTES) into *ret, starting from the defaults; a
 * later assignment of the same name wins, as in bash. A value of a known name that is not valid (a
 * non-number attempts count) keeps the default and adds a warning; only an oversized file, a NUL byte or
 * an unterminated quote or array fails (-EINVAL, -EFBIG) with e naming the line. *ret is written only on
 * success. */
int greenboot_conf_parse(const char *data, size_t len, GreenbootConf *ret, Error *e);
/* Whether a check script (its file name) is listed in DISABLED_HEALTHCHECKS. */
bool greenboot_conf_disabled(const GreenbootConf *c, const char *name);
void greenboot_conf_done(GreenbootConf *c);
