/* lock-admin-token.h — the admin token upkeep-lock generates when none is configured, so the admin API
 * (and `upkeep lock status`) works on the defaults: 32 random bytes as 64 hex digits in a file only the
 * service's user (and root) can read. */
#pragma once

#include <stdbool.h>

#include "error.h"

#define ADMIN_TOKEN_BYTES 32

/* Reads the token in path; when the file does not exist and create is true, writes a new one (mode 0600,
 * created exclusively: a token another process wrote first is read instead). *ret is the token, or NULL
 * when the file does not exist and create is false. Returns 1 when it created the file, 0 when not, or a
 * negative errno with e filled (-EINVAL: the file does not hold one token: one line without spaces). */
int admin_token_load(const char *path, bool create, char **ret, Error *e);
/* The same, with the file's permissions checked (read_secret_file(), fileio.h): -EPERM with e filled when
 * others may change the token; when others may read it, the token is read and warn (which may be NULL)
 * filled with a warning (else warn is left as it is). */
int admin_token_load_warn(const char *path, bool create, char **ret, Error *warn, Error *e);
