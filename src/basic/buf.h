/* buf.h — a growable byte buffer with a hard cap: every append beyond the cap fails with -ENOBUFS
 * and leaves the buffer as it was. The data is always NUL-terminated (the NUL is not counted). */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "macros.h"

typedef struct Buf {
        char *data;
        size_t len;
        size_t cap; /* allocated bytes, including room for the NUL */
        size_t max; /* the most bytes len may reach */
} Buf;

#define BUF_INIT(maxbytes) ((Buf){ .data = NULL, .len = 0, .cap = 0, .max = (maxbytes) })

int buf_reserve(Buf *b, size_t extra);
int buf_append(Buf *b, const void *p, size_t n);
int buf_puts(Buf *b, const char *s);
int buf_putc(Buf *b, char c);
int buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3);
int buf_vprintf(Buf *b, const char *fmt, va_list ap) _printf_(2, 0);
/* Appends s as a JSON string literal, quotes included. */
int buf_put_json_string(Buf *b, const char *s, size_t n);
/* Appends s's n bytes as HTML/XML text or attribute value: & < > " ' as entities, control characters (not
 * allowed in XML 1.0) as '?'. Clean outside text first (text_clean()): this only escapes. */
int buf_put_markup(Buf *b, const char *s, size_t n);
void buf_truncate(Buf *b, size_t len);
/* Returns the data (never NULL: an empty buffer yields "") and resets b; caller frees. */
char *buf_steal(Buf *b, size_t *ret_len);
void buf_free(Buf *b);
