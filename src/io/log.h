/* log.h — logging for daemons and the CLI (never for library code): one line per message on stderr
 * with a "<N>" syslog priority prefix that journald understands. */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "macros.h"

void log_set_max_level(int level);
int log_get_max_level(void);
/* When false (the CLI's default), messages carry no "<N>" prefix. */
void log_set_prefix(int enabled);

/* Holds this thread's messages until the matching log_release(), which writes them all in one write(2):
 * for a thread that logs a burst of lines at once (one per request of a batch). Pairs nest; a held line
 * is written early only when the buffer (PIPE_BUF, 4 KiB) is full, and order is kept. */
void log_hold(void);
void log_release(void);

/* Logs and returns -abs(error) when error != 0, else 0. In fmt, "%m" is strerror(abs(error)) when error
 * != 0 (errno otherwise); errno is unchanged on return. */
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...) log_internal((level), (error), __VA_ARGS__)
#define log_full(level, ...) (void)log_internal((level), 0, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
