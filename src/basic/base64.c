/* base64.c — RFC 4648 base64 with strict decoding (see base64.h). */
#include "base64.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static const char alphabet[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of a character, or -1. */
static inline int value_of(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

size_t base64_encoded_len(size_t n)
{
        size_t groups = n / 3 + (n % 3 != 0);

        if (groups > SIZE_MAX / 4)
                return SIZE_MAX;
        return groups * 4;
}

size_t base64_decoded_max(size_t n)
{
        return n / 4 * 3;
}

size_t base64_encode_to(const void *p, size_t n, char *out)
{
        const unsigned char *s = p;
        char *o = out;
        size_t i;

        for (i = 0; i + 3 <= n; i += 3) {
                uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
                *o++ = alphabet[v >> 18];
                *o++ = alphabet[(v >> 12) & 63];
                *o++ = alphabet[(v >> 6) & 63];
                *o++ = alphabet[v & 63];
        }
        if (n - i == 1) {
                uint32_t v = (uint32_t)s[i] << 16;
                *o++ = alphabet[v >> 18];
                *o++ = alphabet[(v >> 12) & 63];
                *o++ = '=';
                *o++ = '=';
        } else if (n - i == 2) {
                uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
                *o++ = alphabet[v >> 18];
                *o++ = alphabet[(v >> 12) & 63];
                *o++ = alphabet[(v >> 6) & 63];
                *o++ = '=';
        }
        *o = 0;
        return (size_t)(o - out);
}

int base64_append(Buf *b, const void *p, size_t n)
{
        size_t len = base64_encoded_len(n);
        int r;

        if (len == SIZE_MAX)
                return -ENOBUFS;
        r = buf_reserve(b, len);
        if (r < 0)
                return r;
        b->len += base64_encode_to(p, n, b->data + b->len);
        return 0;
}

int base64_encode(const void *p, size_t n, size_t max, char **ret, size_t *ret_len)
{
        size_t len = base64_encoded_len(n);
        char *s;

        assert(ret);
        assert(p || n == 0);
        if (len == SIZE_MAX || len > max)
                return -E2BIG;
        s = malloc(len + 1);
        if (!s)
                return -ENOMEM;
        base64_encode_to(p, n, s);
        *ret = s;
        if (ret_len)
                *ret_len = len;
        return 0;
}

ssize_t base64_decode_to(const char *s, size_t n, void *out)
{
        unsigned char *o = out;
        size_t i;

        if (n % 4 != 0)
                return -EINVAL;
        for (i = 0; i < n; i += 4) {
                int a = value_of((unsigned char)s[i]), b = value_of((unsigned char)s[i + 1]);
                int c, d;

                if (a < 0 || b < 0)
                        return -EINVAL;
                if (i + 4 == n && s[i + 2] == '=') {
                        /* "xx==": one byte; the low 4 bits of b are unused and must be zero. */
                        if (s[i + 3] != '=' || (b & 15) != 0)
                                return -EINVAL;
                        *o++ = (unsigned char)(a << 2 | b >> 4);
                        break;
                }
                c = value_of((unsigned char)s[i + 2]);
                if (c < 0)
                        return -EINVAL;
                if (i + 4 == n && s[i + 3] == '=') {
                        /* "xxx=": two bytes; the low 2 bits of c must be zero. */
                        if ((c & 3) != 0)
                                return -EINVAL;
                        *o++ = (unsigned char)(a << 2 | b >> 4);
                        *o++ = (unsigned char)((b & 15) << 4 | c >> 2);
                        break;
                }
                d = value_of((unsigned char)s[i + 3]);
                if (d < 0)
                        return -EINVAL;
                *o++ = (unsigned char)(a << 2 | b >> 4);
                *o++ = (unsigned char)((b & 15) << 4 | c >> 2);
                *o++ = (unsigned char)((c & 3) << 6 | d);
        }
        return (ssize_t)(o - (unsigned char *)out);
}

int base64_decode(const char *s, size_t n, size_t max, void **ret, size_t *ret_len)
{
        size_t cap = base64_decoded_max(n);
        unsigned char *out;
        ssize_t k;

        assert(ret);
        assert(s || n == 0);
        if (n % 4 != 0)
                return -EINVAL;
        /* Padding can only shorten the last group by up to two bytes. */
        if (cap > 2 && cap - 2 > max)
                return -EFBIG;
        out = malloc(cap + 1);
        if (!out)
                return -ENOMEM;
        k = base64_decode_to(s, n, out);
        if (k < 0) {
                free(out);
                return (int)k;
        }
        if ((size_t)k > max) {
                free(out);
                return -EFBIG;
        }
        out[k] = 0;
        *ret = out;
        if (ret_len)
                *ret_len = (size_t)k;
        return 0;
}
