/* error.c — formatting of library error messages (see error.h). */
#include "error.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>

int error_setv(Error *e, int r, const char *fmt, va_list ap)
{
        int saved = errno;

        if (e) {
                if (r < 0)
                        errno = -r; /* "%m" names r, as in log_error_errno() */
                vsnprintf(e->message, sizeof(e->message), fmt, ap);
        }
        errno = saved;
        return r;
}

int error_setf(Error *e, int r, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        error_setv(e, r, fmt, ap);
        va_end(ap);
        return r;
}

int error_prefixf(Error *e, int r, const char *fmt, ...)
{
        char old[ERROR_MESSAGE_MAX];
        size_t n;
        va_list ap;
        int k;

        if (!e)
                return r;
        memcpy(old, e->message, sizeof(old));
        old[sizeof(old) - 1] = 0;
        va_start(ap, fmt);
        k = vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        n = k < 0 ? 0 : MIN((size_t)k, sizeof(e->message) - 1);
        if (n + 2 < sizeof(e->message)) {
                size_t room = sizeof(e->message) - n - 3, len = strlen(old);
                memcpy(e->message + n, ": ", 2);
                n += 2;
                len = MIN(len, room);
                memcpy(e->message + n, old, len);
                e->message[n + len] = 0;
        }
        return r;
}
