/* strutil.c — strict number parsing, string helpers and the text cleaner (see strutil.h). */
#include "strutil.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"

int safe_atou64(const char *s, uint64_t *ret)
{
        unsigned long long v;
        char *end;

        if (!s || !isdigit((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int safe_atoi64(const char *s, int64_t *ret)
{
        long long v;
        char *end;

        if (!s || !(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int safe_atou16(const char *s, uint16_t *ret)
{
        uint64_t v;
        int r = safe_atou64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT16_MAX)
                return -ERANGE;
        *ret = (uint16_t)v;
        return 0;
}

int safe_atod(const char *s, double *ret)
{
        const char *p;
        char *end;
        double v;

        if (!s || !*s)
                return -EINVAL;
        /* Only plain decimal syntax: sign, digits, dot, exponent. */
        for (p = s; *p; p++)
                if (!strchr("0123456789+-.eE", *p))
                        return -EINVAL;
        if (isspace((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (*end || end == s)
                return -EINVAL;
        if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
                return -ERANGE;
        if (!isfinite(v))
                return -ERANGE;
        *ret = v;
        return 0;
}

bool startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool endswith(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

int double_shortest_digits(double d, char digits[static DOUBLE_DIGITS_MAX + 1], int *ret_exp10,
                           bool *ret_neg)
{
        char tmp[64];
        const char *e;
        int n = 0;

        if (!isfinite(d))
                return -EINVAL;
        for (int prec = 1; prec <= DOUBLE_DIGITS_MAX; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
                if (strtod(tmp, NULL) == d)
                        break;
        }
        /* tmp is [-]D[.DDD]e[+-]XX: collect the digits and the exponent. */
        e = strchr(tmp, 'e');
        if (!e)
                return -EINVAL;
        for (const char *p = tmp; p < e; p++)
                if (isdigit((unsigned char)*p))
                        digits[n++] = *p;
        while (n > 1 && digits[n - 1] == '0')
                n--;
        digits[n] = 0;
        *ret_exp10 = atoi(e + 1);
        *ret_neg = tmp[0] == '-';
        return n;
}

int format_double_shortest(double d, char *out, size_t outlen)
{
        char digits[DOUBLE_DIGITS_MAX + 1];
        int exp10, ndig;
        bool neg;

        ndig = double_shortest_digits(d, digits, &exp10, &neg);
        if (ndig < 0)
                return ndig;
        {
                char res[400];
                size_t n = 0;
                if (d == 0) {
                        snprintf(out, outlen, "%s0", signbit(d) ? "-" : "");
                        return 0;
                }
                if (neg)
                        res[n++] = '-';
                if (exp10 < 0) {
                        res[n++] = '0';
                        res[n++] = '.';
                        for (int i = 0; i < -exp10 - 1; i++)
                                res[n++] = '0';
                        for (int i = 0; i < ndig; i++)
                                res[n++] = digits[i];
                } else {
                        for (int i = 0; i <= exp10 || i < ndig; i++) {
                                if (i == exp10 + 1)
                                        res[n++] = '.';
                                res[n++] = i < ndig ? digits[i] : '0';
                        }
                }
                res[n] = 0;
                if (n + 1 > outlen)
                        return -ENOBUFS;
                memcpy(out, res, n + 1);
        }
        return 0;
}

int unhexchar(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int url_unescape(const char *s, size_t n, char **ret)
{
        char *out = malloc(n + 1);
        size_t j = 0;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '+')
                        c = ' ';
                else if (c == '%') {
                        int hi, lo;
                        if (i + 2 >= n) {
                                free(out);
                                return -EINVAL;
                        }
                        hi = unhexchar(s[i + 1]);
                        lo = unhexchar(s[i + 2]);
                        if (hi < 0 || lo < 0) {
                                free(out);
                                return -EINVAL;
                        }
                        c = (char)(hi * 16 + lo);
                        i += 2;
                }
                if (c == 0) {
                        free(out);
                        return -EINVAL;
                }
                out[j++] = c;
        }
        out[j] = 0;
        *ret = out;
        return 0;
}

bool url_escapes_valid(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (s[i] == 0)
                        return false;
                if (s[i] == '%') {
                        if (i + 2 >= n)
                                return false;
                        if (unhexchar(s[i + 1]) < 0 || unhexchar(s[i + 2]) < 0 ||
                            (s[i + 1] == '0' && s[i + 2] == '0'))
                                return false;
                        i += 2;
                }
        }
        return true;
}

int string_check_plain(const char *s, size_t max, bool required)
{
        size_t n;

        if (!s)
                return required ? -EINVAL : 0;
        n = strnlen(s, max + 1);
        if (n > max)
                return -E2BIG;
        if (n == 0 && required)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c < 0x20 || c == 0x7f)
                        return -EINVAL;
        }
        return 0;
}

/* Decodes the UTF-8 sequence at s (n > 0 bytes left): its length with the code point in *ret_cp, or 0 for
 * invalid UTF-8 (stray continuation, truncated, overlong, surrogate, past U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
        size_t len;
        uint32_t cp;

        if (s[0] < 0x80) {
                *ret_cp = s[0];
                return 1;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return len;
}

typedef enum TextClass {
        TEXT_KEEP,
        TEXT_SPACE, /* a line break or tab: ' ' */
        TEXT_BAD,   /* any other control, bidi control, noncharacter or invalid byte: '?' */
} TextClass;

static TextClass text_classify(uint32_t cp, TextCleanFlags flags)
{
        if ((cp == '\n' || cp == '\t') && (flags & TEXT_CLEAN_MULTILINE))
                return TEXT_KEEP;
        if ((cp >= '\t' && cp <= '\r') || cp == 0x85 || cp == 0x2028 || cp == 0x2029)
                return TEXT_SPACE;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
                return TEXT_BAD;
        if (cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
            (cp >= 0x2066 && cp <= 0x2069))
                return TEXT_BAD;
        if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
                return TEXT_BAD;
        return TEXT_KEEP;
}

/* The class of the character at s (n > 0 bytes left) and, in *ret_len, how many bytes it takes. */
static TextClass text_next(const unsigned char *s, size_t n, TextCleanFlags flags, size_t *ret_len)
{
        uint32_t cp;
        size_t k = utf8_decode(s, n, &cp);

        *ret_len = MAX(k, (size_t)1);
        return k == 0 ? TEXT_BAD : text_classify(cp, flags);
}

size_t text_clean(char *dst, size_t cap, const char *src, size_t len, TextCleanFlags flags)
{
        const unsigned char *s = (const unsigned char *)src;
        size_t o = 0;

        assert(dst || cap == 0);
        assert(src || len == 0);
        if (cap == 0)
                return 0;
        for (size_t i = 0, k; i < len; i += k) {
                TextClass c = text_next(s + i, len - i, flags, &k);
                size_t w = c == TEXT_KEEP ? k : 1;

                if (w > cap - 1 - o)
                        break;
                if (c == TEXT_KEEP)
                        memmove(dst + o, s + i, k);
                else
                        dst[o] = c == TEXT_SPACE ? ' ' : '?';
                o += w;
        }
        dst[o] = '\0';
        return o;
}

bool text_is_clean(const char *s, size_t len, TextCleanFlags flags)
{
        assert(s || len == 0);
        for (size_t i = 0, k; i < len; i += k)
                if (text_next((const unsigned char *)s + i, len - i, flags, &k) != TEXT_KEEP)
                        return false;
        return true;
}
