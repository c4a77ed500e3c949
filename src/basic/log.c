/* log.c — stderr logging with journald priority prefixes (see log.h). */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>

static int max_level = LOG_INFO;
static int with_prefix = 1;

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
        int saved = errno;

        if (level > max_level)
                return r;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);

        if (with_prefix)
                fprintf(stderr, "<%d>%s\n", level, line);
        else
                fprintf(stderr, "%s\n", line);
        errno = saved;
        return r;
}
