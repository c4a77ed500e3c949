/* health-checks.h — discovering and running health checks and hooks (issue 13), compatible with greenboot.
 *
 * Discovery. Check scripts live in greenboot's and Upkeep's directories, under a root prefix ("" or "/"
 * on a real system, a temporary directory in tests), in this order:
 *     /usr/lib/greenboot/check/required.d  /etc/greenboot/check/required.d
 *     /usr/lib/upkeep/check/required.d     /etc/upkeep/check/required.d
 *     then the same four wanted.d directories.
 * Within one directory, entries run sorted by file name (strcmp: byte order, whatever the locale);
 * directories run in the order above, /usr/lib before /etc as greenboot does,
 * and required checks before wanted ones. A name present in two directories runs twice, as in greenboot
 * (it is not an override). An entry is a check when it is a regular file (after following symlinks) whose
 * name does not start with "." and that is either executable (run directly) or named *.sh (always run as
 * /bin/bash SCRIPT, as greenboot does, executable or not; other executables run as greenboot-rs runs
 * binaries); anything else is ignored. Names listed in
 * greenboot.conf's DISABLED_HEALTHCHECKS are left out. Hooks: green.d/ and red.d/ under the same four
 * roots (greenboot's then Upkeep's, /usr/lib then /etc), same rules, not subject to DISABLED_HEALTHCHECKS.
 *
 * Running. Each script or command: posix_spawn in its own process group, stdin /dev/null, stdout and
 * stderr to one pipe whose last HEALTH_OUTPUT_MAX bytes are kept, no signal blocked. At its timeout the
 * whole group gets SIGTERM, then SIGKILL after HEALTH_KILL_GRACE_USEC; the check fails ("timed out after
 * N s"). Once the check's own process has exited, what is left of its group is killed, as systemd does at
 * the end of greenboot's unit. Declarative checks: a systemd unit that must be active (an injectable
 * HealthUnitStateFn, by default sd-bus GetUnit + ActiveState), an http:// URL that must answer 2xx (a
 * minimal HTTP/1.1 GET over TCP with the check's timeout; the resident agent does not link libcurl, so
 * https:// URLs fail with "only http:// is supported here": they belong to the worker later; host names are
 * resolved with getaddrinfo, which the timeout does not bound), and a command (argv, searched in PATH).
 * greenboot's behaviour (the default, its "strict" required.d and "relaxed" wanted.d): the first
 * required failure skips the remaining required checks (counted in n_skipped, absent from the results);
 * wanted checks still run and their failures are only recorded. HealthRunOptions.run_all runs every check
 * whatever fails. Output tails are cleaned (health_clean_output()) before they are stored. Library code:
 * nothing is logged; the caller logs the results. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "greenboot-conf.h"

#define HEALTH_OUTPUT_MAX 4096                         /* bytes of output kept per check (the tail) */
#define HEALTH_CHECKS_MAX 1024                         /* checks in one list */
#define HEALTH_KILL_GRACE_USEC (2 * UINT64_C(1000000)) /* SIGTERM → SIGKILL */
#define HEALTH_CHECK_TIMEOUT_DEFAULT_USEC (300 * UINT64_C(1000000))
#define HEALTH_CHECK_TIMEOUT_MAX_USEC (24 * 3600 * UINT64_C(1000000)) /* longer timeouts: -ERANGE */
#define HEALTH_HTTP_REPLY_MAX 1024                                    /* bytes read for the status line */
#define HEALTH_STATE_NAME_MAX 64                                      /* bytes of a unit's ActiveState */

typedef enum HealthCheckKind {
        HEALTH_CHECK_SCRIPT,  /* an executable or *.sh file from a check directory */
        HEALTH_CHECK_UNIT,    /* a systemd unit that must be active */
        HEALTH_CHECK_HTTP,    /* an http:// URL that must answer 2xx */
        HEALTH_CHECK_COMMAND, /* argv that must exit 0 */
        _HEALTH_CHECK_KIND_MAX,
} HealthCheckKind;

typedef enum HealthHookKind {
        HEALTH_HOOKS_GREEN, /* green.d */
        HEALTH_HOOKS_RED,   /* red.d */
        _HEALTH_HOOKS_MAX,
} HealthHookKind;

typedef struct HealthCheck {
        char *name; /* script file name, or the declared name */
        HealthCheckKind kind;
        bool required;
        char *path;            /* SCRIPT: full path */
        bool bash;             /* SCRIPT: run as /bin/bash path */
        char **argv;           /* COMMAND (strv) */
        char *unit;            /* UNIT */
        char *url;             /* HTTP */
        uint64_t timeout_usec; /* 0: HEALTH_CHECK_TIMEOUT_DEFAULT_USEC; at most HEALTH_CHECK_TIMEOUT_MAX_USEC
                                */
} HealthCheck;

typedef struct HealthCheckList {
        HealthCheck *checks;
        size_t n;
} HealthCheckList;

typedef struct HealthCheckResult {
        char *name;
        HealthCheckKind kind;
        bool required;
        bool ok;
        int exit_status; /* exit code, or -1 when it did not exit normally / did not run */
        int signal;      /* the signal that ended it, 0 otherwise */
        bool timed_out;
        uint64_t duration_usec;
        char *output; /* cleaned tail of stdout+stderr ("" when none) */
        char *reason; /* "" when ok; else why ("exited with status 1", "timed out after 5 s", …) */
} HealthCheckResult;

typedef struct HealthResults {
        HealthCheckResult *results; /* in run order; required checks skipped after a failure are absent */
        size_t n;
        bool red;         /* a required check failed */
        size_t n_skipped; /* required checks not run because a required one failed first */
} HealthResults;

/* Writes the unit's ActiveState ("active", "failed", …) into ret_state (size bytes); a unit that is not
 * loaded is "inactive". 0 or a negative errno with e filled. */
typedef int (*HealthUnitStateFn)(const char *unit, char *ret_state, size_t size, void *userdata, Error *e);

typedef struct HealthRunOptions {
        bool run_all; /* false: greenboot's, skip the required checks after the first required failure */
        HealthUnitStateFn unit_state; /* NULL: health_unit_state_sd_bus */
        void *userdata;
} HealthRunOptions;

/* Adds the checks of root's check directories (see above) to *l, skipping the names disabled in conf
 * (NULL: none). A missing directory is not an error. 0, -ENOMEM, -E2BIG (more than HEALTH_CHECKS_MAX) or
 * the error of reading a directory, with e naming it; on failure *l is unchanged. */
int health_checks_discover(const char *root, const GreenbootConf *conf, HealthCheckList *l, Error *e);
/* Same for the hooks of green.d or red.d (all added as wanted). */
int health_hooks_discover(const char *root, HealthHookKind kind, HealthCheckList *l, Error *e);
/* Appends a declarative check; copies the strings. timeout_usec 0: the default. 0, -EINVAL (empty name,
 * unit, argv or url), -ERANGE (timeout over HEALTH_CHECK_TIMEOUT_MAX_USEC), -ENOMEM, -E2BIG. Discovered
 * scripts get timeout_usec 0 (the default); the caller may set their timeout_usec in the list. */
int health_check_list_add_unit(HealthCheckList *l, const char *name, bool required, const char *unit,
                               uint64_t timeout_usec);
int health_check_list_add_http(HealthCheckList *l, const char *name, bool required, const char *url,
                               uint64_t timeout_usec);
int health_check_list_add_command(HealthCheckList *l, const char *name, bool required, char *const *argv,
                                  uint64_t timeout_usec);
void health_check_list_done(HealthCheckList *l);

/* Runs the checks in order (see above). Check failures are results, not errors: returns 0, or -ENOMEM /
 * the error of setting up a pipe with e filled (then *ret is not written). */
int health_checks_run(const HealthCheckList *l, const HealthRunOptions *o, HealthResults *ret, Error *e);
void health_results_done(HealthResults *r);

/* The system bus: org.freedesktop.systemd1 GetUnit(unit) then the unit's ActiveState. */
int health_unit_state_sd_bus(const char *unit, char *ret_state, size_t size, void *userdata, Error *e);

/* Cleans in[0..n) into out (at least n + 1 bytes) with text_clean(..., TEXT_CLEAN_MULTILINE) (strutil.h):
 * \n and \t are kept, other line breaks become ' ', other control characters (C0, DEL, C1), bidi controls,
 * noncharacters and each byte of invalid UTF-8 become '?'. Returns the length written (NUL-terminated). */
size_t health_clean_output(const char *in, size_t n, char *out);
/* Splits an http:// URL into host (brackets of an IPv6 literal removed), port (default "80") and path
 * (default "/"), each into a new string. -EPROTONOSUPPORT for https:// and other schemes, -EINVAL for a
 * malformed URL (empty host, bad port, spaces or control bytes). */
int health_http_url_split(const char *url, char **ret_host, char **ret_port, char **ret_path);
