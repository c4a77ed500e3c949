/* buf.c — bounded growable byte buffers (see buf.h). */
#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(Buf *b, size_t extra)
{
        size_t need, ncap;
        char *n;

        if (extra > b->max || b->len > b->max - extra)
                return -ENOBUFS;
        need = b->len + extra + 1;
        if (need <= b->cap)
                return 0;
        ncap = b->cap ? b->cap : 64;
        while (ncap < need)
                ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
        if (ncap > b->max + 1)
                ncap = b->max + 1;
        n = realloc(b->data, ncap);
        if (!n)
                return -ENOMEM;
        b->data = n;
        b->cap = ncap;
        return 0;
}

int buf_append(Buf *b, const void *p, size_t n)
{
        int r = buf_reserve(b, n);
        if (r < 0)
                return r;
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = 0;
        return 0;
}

int buf_puts(Buf *b, const char *s)
{
        return buf_append(b, s, strlen(s));
}

int buf_putc(Buf *b, char c)
{
        return buf_append(b, &c, 1);
}

int buf_vprintf(Buf *b, const char *fmt, va_list ap)
{
        va_list aq;
        int n, r;

        va_copy(aq, ap);
        n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0)
                return -EINVAL;
        r = buf_reserve(b, (size_t)n);
        if (r < 0)
                return r;
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
        return 0;
}

int buf_printf(Buf *b, const char *fmt, ...)
{
        va_list ap;
        int r;
        va_start(ap, fmt);
        r = buf_vprintf(b, fmt, ap);
        va_end(ap);
        return r;
}

int buf_put_json_string(Buf *b, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        size_t start = b->len;
        int r = buf_putc(b, '"');

        for (size_t i = 0; r >= 0 && i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                switch (c) {
                case '"':
                        r = buf_append(b, "\\\"", 2);
                        break;
                case '\\':
                        r = buf_append(b, "\\\\", 2);
                        break;
                case '\n':
                        r = buf_append(b, "\\n", 2);
                        break;
                case '\r':
                        r = buf_append(b, "\\r", 2);
                        break;
                case '\t':
                        r = buf_append(b, "\\t", 2);
                        break;
                case '\b':
                        r = buf_append(b, "\\b", 2);
                        break;
                case '\f':
                        r = buf_append(b, "\\f", 2);
                        break;
                default:
                        if (c < 0x20) {
                                char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                                r = buf_append(b, e, 6);
                        } else
                                r = buf_putc(b, (char)c);
                }
        }
        if (r >= 0)
                r = buf_putc(b, '"');
        if (r < 0)
                buf_truncate(b, start);
        return r;
}

int buf_put_markup(Buf *b, const char *s, size_t n)
{
        size_t start = b->len;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < n; i++)
                switch (s[i]) {
                case '&':
                        r = buf_puts(b, "&amp;");
                        break;
                case '<':
                        r = buf_puts(b, "&lt;");
                        break;
                case '>':
                        r = buf_puts(b, "&gt;");
                        break;
                case '"':
                        r = buf_puts(b, "&quot;");
                        break;
                case '\'':
                        r = buf_puts(b, "&#39;");
                        break;
                default:
                        r = buf_putc(b, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
                }
        if (r < 0)
                buf_truncate(b, start);
        return r;
}

void buf_truncate(Buf *b, size_t len)
{
        if (len < b->len) {
                b->len = len;
                b->data[len] = 0;
        }
}

char *buf_steal(Buf *b, size_t *ret_len)
{
        char *d = b->data;
        if (!d)
                d = calloc(1, 1);
        if (d && ret_len)
                *ret_len = b->len;
        b->data = NULL;
        b->len = b->cap = 0;
        return d;
}

void buf_free(Buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}
