/* log.c — stderr logging with journald priority prefixes (see log.h). */
#include "log.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int max_level = LOG_INFO;
static int with_prefix = 1;

/* At most PIPE_BUF: one write(2) of held lines stays atomic on a pipe, so lines of other threads never
 * land inside it. */
static _Thread_local struct {
        unsigned depth;
        size_t len;
        char buf[PIPE_BUF];
} held;

static void write_held(void)
{
        if (held.len > 0)
                (void)fwrite(held.buf, 1, held.len, stderr); /* stderr is unbuffered: one write */
        held.len = 0;
}

void log_hold(void)
{
        held.depth++;
}

void log_release(void)
{
        int saved = errno;

        if (held.depth > 0 && --held.depth == 0)
                write_held();
        errno = saved;
}

void log_set_max_level(int level)
{
        max_level = CLAMP(level, LOG_EMERG, LOG_DEBUG);
}

int log_get_max_level(void)
{
        return max_level;
}

void log_set_prefix(int enabled)
{
        with_prefix = !!enabled;
}

int log_internal(int level, int error, const char *fmt, ...)
{
        int r = error < 0 ? error : -error;
        char line[2048];
        va_list ap;
        int saved = errno, n = 0;
        size_t len;

        if (level > max_level)
                return r;

        if (with_prefix)
                n = snprintf(line, sizeof(line), "<%d>", level);
        /* "%m" means the error passed in, as in systemd's log.c: errno is set to it while formatting. */
        if (error != 0)
                errno = -r;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap); /* room for the newline */
        va_end(ap);
        len = strlen(line);
        line[len++] = '\n';

        if (held.depth == 0)
                (void)fwrite(line, 1, len, stderr);
        else {
                if (held.len + len > sizeof(held.buf))
                        write_held();
                memcpy(held.buf + held.len, line, len);
                held.len += len;
        }
        errno = saved;
        return r;
}
