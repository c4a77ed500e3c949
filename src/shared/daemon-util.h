/* daemon-util.h — plumbing every Upkeep daemon shares: signals delivered through a signalfd, sd_notify
 * readiness and status, and a file that reports the port bound (for tests and scripts using port 0). */
#pragma once

#include <stdint.h>

#include "macros.h"

/* Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (do it before starting threads, which inherit
 * the mask), ignores SIGPIPE, and returns a non-blocking signalfd for the three. */
int daemon_signalfd(void);
/* Sends a notification to the service manager; a no-op outside systemd. */
void daemon_notifyf(const char *fmt, ...) _printf_(1, 2);
/* Writes "PORT\n" to path atomically (temporary file, then rename). */
int daemon_write_port_file(const char *path, uint16_t port);
