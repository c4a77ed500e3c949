/* strutil.h — strict parsing of numbers and small string helpers. Every parser rejects empty input,
 * trailing garbage, leading whitespace and overflow, and writes its result only on success. */
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
/* Percent-decodes an application/x-www-form-urlencoded component ('+' is a space) into a new string.
 * Rejects malformed escapes and embedded NULs. */
int url_unescape(const char *s, size_t n, char **ret);
/* Whether url_unescape() would accept these n bytes, without decoding them. */
bool url_escapes_valid(const char *s, size_t n);
