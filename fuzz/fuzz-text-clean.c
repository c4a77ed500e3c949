/* fuzz-text-clean.c — libFuzzer target: text_clean(), the one cleaner of outside text (strutil.h). The
 * first byte picks the cap and the flags; the invariants are checked on the rest with a decoder of its
 * own (Unicode's table of well-formed sequences): the output is well-formed UTF-8 without any character
 * the cleaner replaces, at most cap - 1 bytes and never longer than the input; text_is_clean() agrees;
 * cleaning again changes nothing; clean input is copied as it is (cut only before a character that does
 * not fit); cleaning in place gives the same bytes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

#define TEXT_FUZZ_MAX 4096

/* The length of the well-formed sequence at s (n > 0 bytes left) with its code point, or 0. */
static size_t wellformed(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
        unsigned char lo = 0x80, hi = 0xbf;
        size_t len;

        if (s[0] <= 0x7f) {
                *ret_cp = s[0];
                return 1;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4;
        else
                return 0;
        if (s[0] == 0xe0)
                lo = 0xa0;
        else if (s[0] == 0xed)
                hi = 0x9f;
        else if (s[0] == 0xf0)
                lo = 0x90;
        else if (s[0] == 0xf4)
                hi = 0x8f;
        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        *ret_cp = s[0] & (0x7f >> len);
        for (size_t i = 1; i < len; i++) {
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
                *ret_cp = (*ret_cp << 6) | (s[i] & 0x3f);
        }
        return len;
}

static bool forbidden(uint32_t cp, bool multiline)
{
        if (multiline && (cp == '\n' || cp == '\t'))
                return false;
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
               (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
               (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe;
}

/* Whether s is well-formed UTF-8 free of forbidden characters. */
static bool clean(const char *s, size_t n, bool multiline)
{
        for (size_t i = 0, k; i < n; i += k) {
                uint32_t cp;
                k = wellformed((const unsigned char *)s + i, n - i, &cp);
                if (k == 0 || forbidden(cp, multiline))
                        return false;
        }
        return true;
}

static void check(const char *src, size_t len, size_t cap, TextCleanFlags flags)
{
        static char out[TEXT_FUZZ_MAX + 1], again[TEXT_FUZZ_MAX + 1], inplace[TEXT_FUZZ_MAX + 1];
        bool multiline = flags & TEXT_CLEAN_MULTILINE;
        size_t n = text_clean(out, cap, src, len, flags), m;

        if (text_is_clean(src, len, flags) != clean(src, len, multiline))
                __builtin_trap();
        if (cap == 0) {
                if (n != 0)
                        __builtin_trap();
                return;
        }
        if (n > cap - 1 || n > len || out[n] != '\0' || strlen(out) != n || !clean(out, n, multiline))
                __builtin_trap();
        m = text_clean(again, cap, out, n, flags);
        if (m != n || memcmp(again, out, n + 1) != 0)
                __builtin_trap();
        /* Clean input comes out as it is, or cut before a character (at most 4 bytes) that does not fit. */
        if (clean(src, len, multiline) && (memcmp(out, src, n) != 0 || (n < len && n + 4 <= cap - 1)))
                __builtin_trap();
        memcpy(inplace, src, len);
        m = text_clean(inplace, cap, inplace, len, flags);
        if (m != n || memcmp(inplace, out, n + 1) != 0)
                __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        TextCleanFlags flags;
        size_t cap;

        if (size < 1 || size - 1 > TEXT_FUZZ_MAX)
                return 0;
        flags = (data[0] & 0x80) ? TEXT_CLEAN_MULTILINE : 0;
        /* 0..126: a small cap, to reach every truncation point; 127: room for everything */
        cap = (data[0] & 0x7f) == 0x7f ? TEXT_FUZZ_MAX + 1 : (size_t)(data[0] & 0x7f);
        check((const char *)data + 1, size - 1, cap, flags);
        return 0;
}
