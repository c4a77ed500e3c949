/* config-util.h — the daemons' configuration parsers as tables of keys. A parser lists its keys (name,
 * type, where the value goes in a target struct, limits); config_parse_table() walks a TOML table against
 * the list, stores typed values, fails with "FILE:LINE: KEY: reason" ("lock.toml:3: service.port: must
 * be an integer between 0 and 65535"), collects unknown keys as warnings ("FILE:LINE: unknown key 'KEY'
 * ignored") and can say where each key was set (drop-in fragments override key by key). Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "macros.h"
#include "strv.h"
#include "toml.h"

#define CONFIG_KEY_MAX 128  /* bytes of one key component; longer ones (or with NULs) are "(unprintable)" */
#define CONFIG_NAME_MAX 512 /* bytes of a full key name in messages ("lock.groups[db].window[0].days") */

typedef struct ConfigCtx {
        const char *file; /* named in errors and warnings, and recorded in ConfigSource */
        Error *e;
        char **warnings; /* strv */
        size_t n_warnings;
        /* Type errors still fail at once, but the keys' check() functions and CONFIG_ENUM's names wait
         * for config_check_table() (a merge validates only the winning values). */
        bool defer_checks;
} ConfigCtx;

/* The types, and the reasons of their errors. */
typedef enum ConfigType {
        CONFIG_STRING,           /* char *: "must be a string", "must not contain NUL characters",
                                  * "must not be empty" */
        CONFIG_STRING_OR_EMPTY,  /* char *: the same, "" allowed */
        CONFIG_BOOL,             /* bool: "must be true or false" */
        CONFIG_INT,              /* an integer field of 1, 2, 4 or 8 bytes, signed or not: "must be an
                                  * integer between MIN and MAX" ("must be an integer" for any int64) */
        CONFIG_FLOAT,            /* double, from a float or an integer: "must be a number" */
        CONFIG_ADDRESS,          /* char *: a string, "must be a numeric IPv4 or IPv6 address" */
        CONFIG_STRINGS,          /* char ** (strv), at most max: "must be an array of strings", then at
                                  * the entry at fault "must be an array of non-empty strings" */
        CONFIG_STRINGS_OR_EMPTY, /* char ** (strv), at most max, "" allowed: "must be an array of at most
                                  * MAX strings" */
        CONFIG_ENUM,             /* an int-sized enum: the index of the string in names[] (see there) */
        CONFIG_CUSTOM,           /* parse() reads the value */
        _CONFIG_TYPE_MAX,
} ConfigType;

typedef struct ConfigKey ConfigKey;

/* A custom key: v is its value, key its full name for messages, target the table's target struct. */
typedef int (*ConfigParseFn)(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key,
                             void *target);
/* Further validation of a stored value: NULL when fine, else the reason it is not. */
typedef const char *(*ConfigCheckFn)(const void *field);
/* A ConfigCheckFn for a CONFIG_STRINGS of http:// or https:// URLs (etcd's endpoints, in upkeep-lock's and
 * upkeep-graph's files alike). */
const char *config_check_http_urls(const void *field);

/* One key. A name with dots lives in nested tables ("timing.steady_interval_secs" is steady_interval_secs
 * of the table timing): every table on the way must be a TOML table ("agent.timing: must be a table").
 * Names are matched component by component: a quoted key "a.b" is not the nested key b of a. */
struct ConfigKey {
        const char *name;
        ConfigType type;
        size_t offset, size;      /* of the field in the target */
        int64_t min, max;         /* CONFIG_INT: bounds, inclusive; CONFIG_STRINGS*: max entries */
        bool counted;             /* CONFIG_STRINGS*: a size_t count at n_offset follows the list */
        size_t n_offset;          /* (see counted) */
        const char *const *names; /* CONFIG_ENUM: NULL-terminated. Another string is an error: 'must be
                                   * "a" or "b"', or 'must be one of a, b, c' (unless deferred: -1) */
        const char *reason;       /* if set, replaces the reason of every type or range error */
        ConfigParseFn parse;      /* CONFIG_CUSTOM */
        ConfigCheckFn check;      /* optional, after a typed value is stored */
};

#define CONFIG_AT(T, field) .offset = offsetof(T, field), .size = sizeof(((T *)0)->field)
/* A typed key stored in field of a T; more members after it: .min = 1, .max = 64, .check = ... */
#define CONFIG_KEY(n, t, T, field, ...)                                                                     \
        {                                                                                                   \
                .name = (n), .type = (t), CONFIG_AT(T, field), __VA_ARGS__                                  \
        }
#define CONFIG_COUNT(T, field) .counted = true, .n_offset = offsetof(T, field)
#define CONFIG_KEY_CUSTOM(n, fn)                                                                            \
        {                                                                                                   \
                .name = (n), .type = CONFIG_CUSTOM, .parse = (fn)                                           \
        }

/* Where a key was set; set is false for a key no table read had. */
typedef struct ConfigSource {
        bool set;
        const char *file;
        unsigned line;
} ConfigSource;

/* Parses a whole document; syntax errors are "FILE:LINE:COLUMN: message" (-EINVAL) or -ENOMEM. */
int config_parse_toml(const char *data, size_t len, const char *file, TomlValue **ret, Error *e);

/* Reads table t (named section in messages; NULL or "" for a document's root) against keys[] into
 * target. A later value of a key replaces an earlier one (freeing it). sources (optional, n_keys entries)
 * records where each key was last set. Unknown keys become warnings. -EINVAL with x->e filled, or
 * -ENOMEM. */
int config_parse_table(ConfigCtx *x, const TomlValue *t, const char *section, const ConfigKey *keys,
                       size_t n_keys, void *target, ConfigSource *sources);
/* One value of key k into target (what config_parse_table() does for each key it finds). */
int config_parse_value(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *target);
/* Runs the check() (and the name check of CONFIG_ENUM) of every key set according to sources, in table
 * order; errors name the place the value came from. For ConfigCtx.defer_checks. */
int config_check_table(ConfigCtx *x, const ConfigKey *keys, size_t n_keys, const void *target,
                       const ConfigSource *sources);
/* The entry of sources (as filled by config_parse_table()) for the key called name, which keys[] has. */
const ConfigSource *config_find_source(const ConfigKey *keys, size_t n_keys, const ConfigSource *sources,
                                       const char *name);
/* Frees (and clears) the string and list fields of keys[] in target. */
void config_table_free(const ConfigKey *keys, size_t n_keys, void *target);

/* Fills e with "FILE:LINE: KEY: reason" (no line: v NULL) and returns -EINVAL. */
int config_bad(ConfigCtx *x, const TomlValue *v, const char *key, const char *reason);
/* The same at a recorded place: "FILE:LINE: KEY: reason". */
int config_bad_at(ConfigCtx *x, const ConfigSource *where, const char *key, const char *reason);
/* Adds "FILE:LINE: unknown key 'KEY' ignored" to the warnings. 0 or -ENOMEM. */
int config_warn_unknown(ConfigCtx *x, const TomlValue *v, const char *key);
/* Adds a formatted warning (at most 511 bytes). 0 or -ENOMEM. */
int config_warnf(ConfigCtx *x, const char *fmt, ...) _printf_(2, 3);
/* Hands the warnings over (*ret may be NULL: none) or, without ret, frees them. */
void config_take_warnings(ConfigCtx *x, char ***ret);
