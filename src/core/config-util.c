/* config-util.c — typed TOML configuration access with located errors (see config-util.h). */
#include "config-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int config_bad(ConfigCtx *x, const TomlValue *v, const char *key, const char *reason)
{
        return error_setf(x->e, -EINVAL, "%s:%u: %s: %s", x->file, v ? toml_line(v) : 0, key, reason);
}

int config_warn_unknown(ConfigCtx *x, const TomlValue *v, const char *key)
{
        char w[512];
        snprintf(w, sizeof(w), "%s:%u: unknown key '%s' ignored", x->file, toml_line(v), key);
        return strv_push(&x->warnings, &x->n_warnings, w);
}

int config_get_int(ConfigCtx *x, const TomlValue *v, const char *key, int64_t min, int64_t max, int64_t *ret)
{
        char reason[128];
        if (toml_type(v) != TOML_INTEGER || toml_integer(v) < min || toml_integer(v) > max) {
                snprintf(reason, sizeof(reason), "must be an integer between %lld and %lld", (long long)min,
                         (long long)max);
                return config_bad(x, v, key, reason);
        }
        *ret = toml_integer(v);
        return 0;
}

int config_get_bool(ConfigCtx *x, const TomlValue *v, const char *key, bool *ret)
{
        if (toml_type(v) != TOML_BOOLEAN)
                return config_bad(x, v, key, "must be true or false");
        *ret = toml_boolean(v);
        return 0;
}

int config_get_string(ConfigCtx *x, const TomlValue *v, const char *key, bool allow_empty, char **ret)
{
        size_t len;
        const char *s;
        char *d;

        if (toml_type(v) != TOML_STRING)
                return config_bad(x, v, key, "must be a string");
        s = toml_string(v, &len);
        if (len != strlen(s))
                return config_bad(x, v, key, "must not contain NUL characters");
        if (!*s && !allow_empty)
                return config_bad(x, v, key, "must not be empty");
        d = strdup(s);
        if (!d)
                return -ENOMEM;
        free(*ret);
        *ret = d;
        return 0;
}

int config_get_address(ConfigCtx *x, const TomlValue *v, const char *key, char **ret)
{
        unsigned char addr[16];
        int r = config_get_string(x, v, key, false, ret);
        if (r < 0)
                return r;
        if (inet_pton(AF_INET, *ret, addr) != 1 && inet_pton(AF_INET6, *ret, addr) != 1)
                return config_bad(x, v, key, "must be a numeric IPv4 or IPv6 address");
        return 0;
}

int config_get_strings(ConfigCtx *x, const TomlValue *v, const char *key, size_t max, char ***ret,
                       size_t *ret_n)
{
        char **l = NULL;
        size_t n = 0;

        if (toml_type(v) != TOML_ARRAY || toml_array_size(v) > max)
                return config_bad(x, v, key, "must be an array of strings");
        for (size_t i = 0; i < toml_array_size(v); i++) {
                const TomlValue *s = toml_array_get(v, i);
                size_t len;
                if (toml_type(s) != TOML_STRING || !*toml_string(s, &len) ||
                    len != strlen(toml_string(s, NULL))) {
                        strv_free(l);
                        return config_bad(x, s, key, "must be an array of non-empty strings");
                }
                if (strv_push(&l, &n, toml_string(s, NULL)) < 0) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        strv_free(*ret);
        *ret = l;
        *ret_n = n;
        return 0;
}
