/* strutil.h — strict parsing of numbers, small string helpers and the one cleaner of outside text. Every
 * parser rejects empty input, trailing garbage, leading whitespace and overflow, and writes its result only
 * on success. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int safe_atou64(const char *s, uint64_t *ret);
int safe_atoi64(const char *s, int64_t *ret);
int safe_atou16(const char *s, uint16_t *ret);
/* A finite decimal float ("0.5", "1", "1e-3"); rejects nan/inf and hex floats. */
int safe_atod(const char *s, double *ret);

/* The value of a hexadecimal digit, or -1. */
int unhexchar(char c);
bool startswith(const char *s, const char *prefix);
/* Whether s is a plain one-line string of at most max bytes: 0, -EINVAL for NULL or "" when required or
 * for a control byte (below 0x20, or DEL), -E2BIG when longer than max. NULL is fine when not required. */
int string_check_plain(const char *s, size_t max, bool required);
bool endswith(const char *s, const char *suffix);
/* Formats d in the shortest decimal form that reads back as the same double, never using an exponent
 * (what Rust's f64 Display prints): 0 → "0", 1 → "1", 0.5 → "0.5", 1e-7 → "0.0000001". */
int format_double_shortest(double d, char *out, size_t outlen);
/* The shortest decimal digits that read back as d (at most DOUBLE_DIGITS_MAX, no trailing zeros, "0" for
 * zero) into digits, and d = [-]0.D1D2... x 10^(exp10 + 1), i.e. D1.D2... x 10^exp10: how many digits, or
 * -EINVAL when d is not finite. The layouts (format_double_shortest(), Python's repr()) are the callers'. */
#define DOUBLE_DIGITS_MAX 17
int double_shortest_digits(double d, char digits[static DOUBLE_DIGITS_MAX + 1], int *ret_exp10,
                           bool *ret_neg);
/* Percent-decodes an application/x-www-form-urlencoded component ('+' is a space) into a new string.
 * Rejects malformed escapes and embedded NULs. */
int url_unescape(const char *s, size_t n, char **ret);
/* Whether url_unescape() would accept these n bytes, without decoding them. */
bool url_escapes_valid(const char *s, size_t n);

typedef enum TextCleanFlags {
        TEXT_CLEAN_MULTILINE = 1 << 0, /* keep '\n' and '\t' (output tails shown as several lines) */
} TextCleanFlags;

/* The one cleaner of text from outside (the network, check scripts, files) on its way to a terminal, a log
 * line, the MOTD or a file a person reads. Copies the len bytes of src to dst (cap bytes with the NUL):
 *   - TAB, LF, VT, FF, CR, NEL (U+0085) and U+2028/U+2029 (line and paragraph separators) become ' ';
 *   - the other C0 controls (NUL and ESC too), DEL, the other C1 controls (U+0080 to U+009F), the bidi
 *     controls (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069) and the noncharacters
 *     (U+FDD0 to U+FDEF, U+xxFFFE, U+xxFFFF) become '?';
 *   - every byte of invalid UTF-8 (a stray continuation byte, a truncated, overlong or surrogate sequence,
 *     a code point past U+10FFFF) becomes '?'.
 * With TEXT_CLEAN_MULTILINE, '\n' and '\t' are kept. The output is valid UTF-8 free of all the above, never
 * longer than the input, and cleaning it again changes nothing. It stops before the first character that
 * does not fit (a sequence is never split). Always NUL-terminates when cap > 0; dst may be src (in-place).
 * Returns the bytes written, without the NUL. */
size_t text_clean(char *dst, size_t cap, const char *src, size_t len, TextCleanFlags flags);
/* Whether text_clean() would keep the len bytes of s as they are (valid UTF-8, nothing it replaces). */
bool text_is_clean(const char *s, size_t len, TextCleanFlags flags);
