/* strv.h — NULL-terminated string lists. */
#pragma once

#include <stdbool.h>

#include <stddef.h>

void strv_free(char **l);
size_t strv_length(char *const *l);
/* Whether a (na entries) and b (nb entries) hold the same strings in the same order. */
bool strv_equal(char *const *a, size_t na, char *const *b, size_t nb);
/* Appends a copy of s (strv_push) or s itself (strv_push_owned, which frees s on failure); *n tracks the
 * length. -ENOMEM on failure, the list unchanged. */
int strv_push(char ***l, size_t *n, const char *s);
int strv_push_owned(char ***l, size_t *n, char *s);

static inline void strv_freep(char ***l)
{
        strv_free(*l);
}
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))
