/* base64.h — standard base64 (RFC 4648 section 4: alphabet "A–Z a–z 0–9 + /", '=' padding) with strict
 * decoding: the input length must be a multiple of 4, padding is required and only at the end, no
 * whitespace or other characters, and the unused bits of the last group must be zero (so every byte
 * string has exactly one accepted encoding). Used for etcd's JSON gateway, which base64-encodes keys
 * and values. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* Characters needed to encode n bytes (without a NUL); SIZE_MAX when that overflows. */
size_t base64_encoded_len(size_t n);
/* The most bytes an encoding of n characters can decode to. */
size_t base64_decoded_max(size_t n);

/* Encodes n bytes into out, which must hold base64_encoded_len(n) + 1 bytes; NUL-terminates.
 * Returns the number of characters written (without the NUL). */
size_t base64_encode_to(const void *p, size_t n, char *out);
/* Appends the encoding of n bytes to b (no quotes). -ENOBUFS past the buffer's cap (b unchanged). */
int base64_append(Buf *b, const void *p, size_t n);
/* Encodes n bytes into a new NUL-terminated string; -E2BIG when the encoding would exceed max
 * characters. */
int base64_encode(const void *p, size_t n, size_t max, char **ret, size_t *ret_len);

/* Decodes n characters into out, which must hold base64_decoded_max(n) bytes. Returns the number of
 * bytes written, or -EINVAL when the input is not strict base64. */
ssize_t base64_decode_to(const char *s, size_t n, void *out);
/* Decodes n characters into a new buffer (NUL-terminated, the NUL not counted in *ret_len). -EINVAL
 * when the input is not strict base64, -EFBIG when it decodes to more than max bytes, -ENOMEM. */
int base64_decode(const char *s, size_t n, size_t max, void **ret, size_t *ret_len);
