/* config-util.h — typed access to TOML configuration values with errors that name the file, line and
 * key ("lock.toml:3: service.port: must be an integer between 0 and 65535"), and unknown keys collected as
 * warnings. Shared by the daemons' configuration parsers. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "strv.h"
#include "toml.h"

typedef struct ConfigCtx {
        const char *file;
        Error *e;
        char **warnings; /* strv */
        size_t n_warnings;
} ConfigCtx;

/* Fills e with "FILE:LINE: KEY: reason" and returns -EINVAL. */
int config_bad(ConfigCtx *x, const TomlValue *v, const char *key, const char *reason);
/* Adds "FILE:LINE: unknown key 'KEY' ignored" to the warnings. 0 or -ENOMEM. */
int config_warn_unknown(ConfigCtx *x, const TomlValue *v, const char *key);
int config_get_int(ConfigCtx *x, const TomlValue *v, const char *key, int64_t min, int64_t max,
                   int64_t *ret);
int config_get_bool(ConfigCtx *x, const TomlValue *v, const char *key, bool *ret);
/* A string without NULs; replaces *ret (freeing the old value). */
int config_get_string(ConfigCtx *x, const TomlValue *v, const char *key, bool allow_empty, char **ret);
/* A numeric IPv4 or IPv6 address. */
int config_get_address(ConfigCtx *x, const TomlValue *v, const char *key, char **ret);
/* An array of at most max non-empty strings; replaces *ret. */
int config_get_strings(ConfigCtx *x, const TomlValue *v, const char *key, size_t max, char ***ret,
                       size_t *ret_n);
