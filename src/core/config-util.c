/* config-util.c — configuration key tables: typed values, located errors, unknown-key warnings, where
 * each key was set (see config-util.h). */
#include "config-util.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "strutil.h"

int config_parse_toml(const char *data, size_t len, const char *file, TomlValue **ret, Error *e)
{
        TomlError te = { 0 };
        int r = toml_parse(data, len, ret, &te);

        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return error_setf(e, -EINVAL, "%s:%u:%u: %s", file, te.line, te.column, te.message);
        return 0;
}

int config_bad(ConfigCtx *x, const TomlValue *v, const char *key, const char *reason)
{
        return error_setf(x->e, -EINVAL, "%s:%u: %s: %s", x->file, v ? toml_line(v) : 0, key, reason);
}

int config_bad_at(ConfigCtx *x, const ConfigSource *where, const char *key, const char *reason)
{
        return error_setf(x->e, -EINVAL, "%s:%u: %s: %s", where->file, where->line, key, reason);
}

int config_warnf(ConfigCtx *x, const char *fmt, ...)
{
        char w[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(w, sizeof(w), fmt, ap);
        va_end(ap);
        return strv_push(&x->warnings, &x->n_warnings, w);
}

int config_warn_unknown(ConfigCtx *x, const TomlValue *v, const char *key)
{
        return config_warnf(x, "%s:%u: unknown key '%s' ignored", x->file, toml_line(v), key);
}

void config_take_warnings(ConfigCtx *x, char ***ret)
{
        if (ret)
                *ret = x->warnings;
        else
                strv_free(x->warnings);
        x->warnings = NULL;
        x->n_warnings = 0;
}

/* The reason of a type or range error of k: its own if it has one. */
static int bad(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, const char *reason)
{
        return config_bad(x, v, key, k->reason ?: reason);
}

/* A string without NULs, or NULL. */
static const char *plain_string(const TomlValue *v)
{
        size_t len;
        const char *s;

        if (toml_type(v) != TOML_STRING)
                return NULL;
        s = toml_string(v, &len);
        return len == strlen(s) ? s : NULL;
}

static int parse_string(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *field)
{
        unsigned char addr[16];
        const char *s = plain_string(v);
        char *d;

        assert(k->size == sizeof(char *));
        if (toml_type(v) != TOML_STRING)
                return bad(x, k, v, key, "must be a string");
        if (!s)
                return bad(x, k, v, key, "must not contain NUL characters");
        if (!*s && k->type != CONFIG_STRING_OR_EMPTY)
                return bad(x, k, v, key, "must not be empty");
        if (k->type == CONFIG_ADDRESS && inet_pton(AF_INET, s, addr) != 1 &&
            inet_pton(AF_INET6, s, addr) != 1)
                return bad(x, k, v, key, "must be a numeric IPv4 or IPv6 address");
        d = strdup(s);
        if (!d)
                return -ENOMEM;
        free(*(char **)field);
        *(char **)field = d;
        return 0;
}

static int parse_bool(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *field)
{
        assert(k->size == sizeof(bool));
        if (toml_type(v) != TOML_BOOLEAN)
                return bad(x, k, v, key, "must be true or false");
        *(bool *)field = toml_boolean(v);
        return 0;
}

static int parse_int(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *field)
{
        char reason[128] = "must be an integer";
        uint64_t u;

        /* The bounds must fit the field (signed or unsigned). */
        assert(k->min <= k->max);
        assert(k->size == 8 || (k->size <= 4 && k->max < (INT64_C(1) << (8 * k->size)) &&
                                k->min >= -(INT64_C(1) << (8 * k->size - 1))));
        if (k->min != INT64_MIN || k->max != INT64_MAX)
                snprintf(reason, sizeof(reason), "must be an integer between %lld and %lld",
                         (long long)k->min, (long long)k->max);
        if (toml_type(v) != TOML_INTEGER || toml_integer(v) < k->min || toml_integer(v) > k->max)
                return bad(x, k, v, key, reason);
        /* Two's complement: truncation keeps in-range values of signed and unsigned fields alike. */
        u = (uint64_t)toml_integer(v);
        switch (k->size) {
        case 1:
                *(uint8_t *)field = (uint8_t)u;
                break;
        case 2:
                *(uint16_t *)field = (uint16_t)u;
                break;
        case 4:
                *(uint32_t *)field = (uint32_t)u;
                break;
        default:
                *(uint64_t *)field = u;
        }
        return 0;
}

static int parse_float(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *field)
{
        assert(k->size == sizeof(double));
        if (toml_type(v) == TOML_INTEGER)
                *(double *)field = (double)toml_integer(v);
        else if (toml_type(v) == TOML_FLOAT)
                *(double *)field = toml_float(v);
        else
                return bad(x, k, v, key, "must be a number");
        return 0;
}

/* CONFIG_STRINGS: "must be an array of strings", then "... of non-empty strings" at the bad entry.
 * CONFIG_STRINGS_OR_EMPTY: "must be an array of at most MAX strings" for either. */
static int parse_strings(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *field)
{
        bool or_empty = k->type == CONFIG_STRINGS_OR_EMPTY;
        _cleanup_strv_free_ char **l = NULL;
        char reason[96] = "must be an array of strings";
        size_t n = 0;

        assert(k->size == sizeof(char **) && k->max >= 0);
        if (or_empty)
                snprintf(reason, sizeof(reason), "must be an array of at most %lld strings",
                         (long long)k->max);
        if (toml_type(v) != TOML_ARRAY || toml_array_size(v) > (uint64_t)k->max)
                return bad(x, k, v, key, reason);
        for (size_t i = 0; i < toml_array_size(v); i++) {
                const TomlValue *s = toml_array_get(v, i);
                if (!plain_string(s) || (!or_empty && !*plain_string(s)))
                        return bad(x, k, s, key,
                                   or_empty ? reason : "must be an array of non-empty strings");
                if (strv_push(&l, &n, plain_string(s)) < 0)
                        return -ENOMEM;
        }
        strv_free(*(char ***)field);
        *(char ***)field = TAKE_PTR(l);
        if (k->counted)
                *(size_t *)(void *)((char *)field - k->offset + k->n_offset) = n;
        return 0;
}

static int parse_enum(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *field)
{
        const char *s = plain_string(v);
        int index = -1;

        assert(k->size == sizeof(int) && k->names && k->names[0]);
        if (toml_type(v) != TOML_STRING)
                return bad(x, k, v, key, "must be a string");
        if (!s)
                return bad(x, k, v, key, "must not contain NUL characters");
        for (int i = 0; index < 0 && k->names[i]; i++)
                if (streq(k->names[i], s))
                        index = i;
        *(int *)field = index; /* -1 fails now or, when checks are deferred, in config_check_table() */
        return 0;
}

typedef int (*TypedParseFn)(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key,
                            void *field);

static const TypedParseFn typed_parsers[_CONFIG_TYPE_MAX] = {
        [CONFIG_STRING] = parse_string,   [CONFIG_STRING_OR_EMPTY] = parse_string,
        [CONFIG_BOOL] = parse_bool,       [CONFIG_INT] = parse_int,
        [CONFIG_FLOAT] = parse_float,     [CONFIG_ADDRESS] = parse_string,
        [CONFIG_STRINGS] = parse_strings, [CONFIG_STRINGS_OR_EMPTY] = parse_strings,
        [CONFIG_ENUM] = parse_enum,
};

/* What is wrong with the value stored for k, or NULL. buf: room for the reason of CONFIG_ENUM. */
static const char *value_problem(const ConfigKey *k, const void *field, char *buf, size_t size)
{
        size_t n = 0, len = 0;

        if (k->type == CONFIG_ENUM && *(const int *)field < 0) {
                while (k->names[n])
                        n++;
                if (n == 2)
                        snprintf(buf, size, "must be \"%s\" or \"%s\"", k->names[0], k->names[1]);
                else
                        for (size_t i = 0; i < n && len < size; i++)
                                len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                                        i == 0 ? "must be one of " : ", ", k->names[i]);
                return k->reason ?: buf;
        }
        return k->check ? k->check(field) : NULL;
}

int config_parse_value(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *target)
{
        void *field = (char *)target + k->offset;
        const char *reason;
        char buf[256];
        int r;

        assert(x && k && v && key && target);
        assert(k->type < _CONFIG_TYPE_MAX);
        if (k->type == CONFIG_CUSTOM)
                return k->parse(x, k, v, key, target);
        r = typed_parsers[k->type](x, k, v, key, field);
        if (r < 0)
                return r;
        if (!x->defer_checks && (reason = value_problem(k, field, buf, sizeof(buf))))
                return config_bad(x, v, key, reason);
        return 0;
}

int config_check_table(ConfigCtx *x, const ConfigKey *keys, size_t n_keys, const void *target,
                       const ConfigSource *sources)
{
        for (size_t i = 0; i < n_keys; i++) {
                const char *reason;
                char buf[256];
                if (!sources[i].set || keys[i].type == CONFIG_CUSTOM)
                        continue;
                reason = value_problem(&keys[i], (const char *)target + keys[i].offset, buf, sizeof(buf));
                if (reason)
                        return config_bad_at(x, &sources[i], keys[i].name, reason);
        }
        return 0;
}

const ConfigSource *config_find_source(const ConfigKey *keys, size_t n_keys, const ConfigSource *sources,
                                       const char *name)
{
        for (size_t i = 0; i < n_keys; i++)
                if (streq(keys[i].name, name))
                        return &sources[i];
        assert(!"no such key");
        return NULL;
}

void config_table_free(const ConfigKey *keys, size_t n_keys, void *target)
{
        for (size_t i = 0; i < n_keys; i++) {
                void *field = (char *)target + keys[i].offset;
                switch (keys[i].type) {
                case CONFIG_STRING:
                case CONFIG_STRING_OR_EMPTY:
                case CONFIG_ADDRESS:
                        free(*(char **)field);
                        *(char **)field = NULL;
                        break;
                case CONFIG_STRINGS:
                case CONFIG_STRINGS_OR_EMPTY:
                        strv_free(*(char ***)field);
                        *(char ***)field = NULL;
                        if (keys[i].counted)
                                *(size_t *)(void *)((char *)target + keys[i].n_offset) = 0;
                        break;
                default:
                        break;
                }
        }
}

/* One walk of config_parse_table(): name holds the full name of the value at hand, "SECTION.REL". */
typedef struct Walk {
        ConfigCtx *x;
        const ConfigKey *keys;
        size_t n_keys;
        void *target;
        ConfigSource *sources;
        char name[CONFIG_NAME_MAX];
        size_t rel; /* where the name relative to the table read starts */
} Walk;

static ssize_t find_key(const Walk *w, const char *rel)
{
        for (size_t i = 0; i < w->n_keys; i++)
                if (streq(w->keys[i].name, rel))
                        return (ssize_t)i;
        return -1;
}

/* Whether rel is a table some keys live in. */
static bool is_section(const Walk *w, const char *rel)
{
        size_t n = strlen(rel);
        for (size_t i = 0; i < w->n_keys; i++)
                if (strneq(w->keys[i].name, rel, n) && w->keys[i].name[n] == '.')
                        return true;
        return false;
}

static int walk_table(Walk *w, const TomlValue *t, size_t len);

static int walk_entry(Walk *w, const char *k, size_t klen, const TomlValue *v, size_t len)
{
        const char *rel = w->name + w->rel;
        ssize_t j;
        int r;

        if (klen != strlen(k) || klen > CONFIG_KEY_MAX || len + 1 + klen >= sizeof(w->name))
                return config_warn_unknown(w->x, v, "(unprintable)");
        snprintf(w->name + len, sizeof(w->name) - len, "%s%s", len > 0 ? "." : "", k);
        /* A component with a dot is a quoted key: no table's name. */
        if (strchr(k, '.'))
                return config_warn_unknown(w->x, v, w->name);
        j = find_key(w, rel);
        if (j >= 0) {
                r = config_parse_value(w->x, &w->keys[j], v, w->name, w->target);
                if (r >= 0 && w->sources)
                        w->sources[j] =
                                (ConfigSource){ .set = true, .file = w->x->file, .line = toml_line(v) };
                return r;
        }
        if (is_section(w, rel)) {
                if (toml_type(v) != TOML_TABLE)
                        return config_bad(w->x, v, w->name, "must be a table");
                return walk_table(w, v, strlen(w->name));
        }
        return config_warn_unknown(w->x, v, w->name);
}

/* The entries of t, whose full name is the first len bytes of w->name. */
static int walk_table(Walk *w, const TomlValue *t, size_t len)
{
        for (size_t i = 0; i < toml_table_size(t); i++) {
                size_t klen;
                const char *k = toml_table_key_at_n(t, i, &klen);
                int r = walk_entry(w, k, klen, toml_table_value_at(t, i), len);
                if (r < 0)
                        return r;
                w->name[len] = 0;
        }
        return 0;
}

int config_parse_table(ConfigCtx *x, const TomlValue *t, const char *section, const ConfigKey *keys,
                       size_t n_keys, void *target, ConfigSource *sources)
{
        Walk w = { .x = x, .keys = keys, .n_keys = n_keys, .target = target, .sources = sources };
        size_t len;

        assert(x && t && keys && target);
        section = section ?: "";
        if (toml_type(t) != TOML_TABLE)
                return config_bad(x, t, section, "must be a table");
        snprintf(w.name, sizeof(w.name), "%s", section);
        len = strlen(w.name);
        w.rel = len > 0 ? len + 1 : 0;
        return walk_table(&w, t, len);
}

const char *config_check_http_urls(const void *field)
{
        char *const *l = *(char *const *const *)field;

        for (size_t i = 0; l && l[i]; i++)
                if (!startswith(l[i], "http://") && !startswith(l[i], "https://"))
                        return "endpoints must be http:// or https:// URLs";
        return NULL;
}
