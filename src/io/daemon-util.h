/* daemon-util.h — plumbing every Upkeep daemon shares: an sd-event loop with signals and watchdog, sd_notify
 * readiness and status, and a file that reports the port bound (for tests and scripts using port 0). */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "macros.h"

/* What SIGHUP does in a daemon's event loop: fn(userdata), on the loop's thread. */
typedef struct DaemonReload {
        void (*fn)(void *userdata);
        void *userdata;
} DaemonReload;

/* Creates a daemon's event loop (sd-event): SIGTERM and SIGINT end it (sd_event_loop() returns 0; the
 * stop is logged and "STOPPING=1" sent), SIGHUP calls reload->fn (reload may be NULL: SIGHUP is then
 * ignored; *reload must outlive the loop), SIGPIPE is ignored, and the loop pings systemd's watchdog when
 * the unit sets WatchdogSec=. Blocks the three signals in the calling thread: call it before starting
 * threads, which inherit the mask. */
int daemon_event_new(const DaemonReload *reload, sd_event **ret);
/* Sends a notification to the service manager; a no-op outside systemd. */
void daemon_notifyf(const char *fmt, ...) _printf_(1, 2);
/* Gives the pure parsers' hash tables a random key (getrandom); every program calls it at start. */
void daemon_seed_hash_keys(void);
/* Writes "PORT\n" to path atomically (temporary file, then rename). */
int daemon_write_port_file(const char *path, uint16_t port);

/* The command-line options every daemon has. */
typedef struct DaemonOptions {
        const char *config_path;
        bool explicit_config; /* -c given: the file must exist */
        const char *address;  /* NULL: from the configuration */
        int port;             /* -1: from the configuration */
        const char *port_file;
} DaemonOptions;

/* What --help prints for one daemon: the common options are added by daemon_parse_options(). */
typedef struct DaemonHelp {
        const char *name;           /* "upkeep-graph" */
        const char *description;    /* one line */
        const char *default_config; /* the configuration file's default path */
        const char *extra;          /* the daemon's own option lines, "" when none */
} DaemonHelp;

#define DAEMON_EXTRA_OPTIONS_MAX 16

/* Parses -c/--config, -a/--address, -p/--port, --port-file, -v/--verbose, -h/--help and --version, plus
 * the daemon's own long options in extra[] (at most DAEMON_EXTRA_OPTIONS_MAX; their val must be >= 0x100),
 * each passed to on_extra.
 * Returns 1 to go on, 0 when the program should exit successfully (help or version was printed), or
 * -EINVAL after logging what is wrong. */
int daemon_parse_options(int argc, char **argv, const DaemonHelp *help, const struct option *extra,
                         size_t n_extra, int (*on_extra)(int val, const char *arg, void *userdata),
                         void *userdata, DaemonOptions *ret);

/* Reads a daemon's configuration file (at most 1 MiB). Returns 1 with its contents; 0 when it does not
 * exist and was not named explicitly (the caller uses its defaults; this is logged); or a negative errno,
 * logged with the path. */
int daemon_read_config(const char *path, bool explicit_path, char **ret_data, size_t *ret_len);
/* Logs each warning of a parser (unknown keys, ...) and frees the list. */
void daemon_log_warnings(char **warnings);
