/* error.h — a fixed-size error message that library code fills in alongside its negative errno,
 * so callers can say what went wrong and where without the library ever logging. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "macros.h"

#define ERROR_MESSAGE_MAX 512

typedef struct Error {
        char message[ERROR_MESSAGE_MAX];
} Error;

/* Formats into e (which may be NULL) and returns r, which must be a negative errno. In fmt, "%m" is
 * strerror(-r); errno is unchanged on return. */
int error_setf(Error *e, int r, const char *fmt, ...) _printf_(3, 4);
int error_setv(Error *e, int r, const char *fmt, va_list ap) _printf_(3, 0);
/* Prepends "prefix: " to the message already in e. Returns r. */
int error_prefixf(Error *e, int r, const char *fmt, ...) _printf_(3, 4);
