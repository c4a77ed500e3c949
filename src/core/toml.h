/* toml.h — a strict TOML 1.0.0 parser. Every Upkeep configuration file (and Zincati's and Airlock's,
 * which Upkeep reads unchanged) is TOML. The whole document is parsed into a tree of values; tables keep
 * their keys in document order. Errors carry the line and column (both 1-based) where parsing failed.
 * Nesting deeper than TOML_MAX_DEPTH is rejected rather than recursed into. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOML_MAX_DEPTH 128

typedef enum TomlType {
        TOML_TABLE,
        TOML_ARRAY,
        TOML_STRING,
        TOML_INTEGER,
        TOML_FLOAT,
        TOML_BOOLEAN,
        TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
        TOML_DATETIME_LOCAL, /* 1979-05-27T07:32:00 */
        TOML_DATE_LOCAL,     /* 1979-05-27 */
        TOML_TIME_LOCAL,     /* 07:32:00 */
} TomlType;

typedef struct TomlDatetime {
        int year, month, day;     /* 0 for TOML_TIME_LOCAL */
        int hour, minute, second; /* 0 for TOML_DATE_LOCAL */
        uint32_t nanosecond;      /* fractional seconds, truncated to nanoseconds */
        int offset_minutes;       /* TOML_DATETIME only: minutes east of UTC ("Z" is 0) */
} TomlDatetime;

typedef struct TomlValue TomlValue;

typedef struct TomlError {
        unsigned line, column; /* 1-based; 0 when not tied to a place */
        char message[256];
} TomlError;

/* Parses len bytes (UTF-8, no NUL inside). On success *ret_root is a TOML_TABLE the caller frees with
 * toml_free(). On failure returns -EINVAL (syntax or semantics: duplicate keys, redefined tables, bad
 * UTF-8, ...), -E2BIG (nesting deeper than TOML_MAX_DEPTH) or -ENOMEM, and fills ret_error if given. */
int toml_parse(const char *data, size_t len, TomlValue **ret_root, TomlError *ret_error);
/* Sets the key that keeps crafted key collisions out of the tables' hash indexes. Pure code cannot draw
 * randomness: programs call daemon_seed_hash_keys() (io) at start, which passes a random one here.
 * Without it parsing is still correct, just not hardened against collisions. */
void toml_set_hash_key(uint64_t k0, uint64_t k1);
void toml_free(TomlValue *v);

static inline void toml_freep(TomlValue **v)
{
        if (*v)
                toml_free(*v);
}
#define _cleanup_toml_ __attribute__((cleanup(toml_freep)))

TomlType toml_type(const TomlValue *v);
const char *toml_type_name(TomlType t); /* "table", "array", "string", "integer", "float", ... */
/* Where the value was defined in the document (its first character; for tables, the header or first key). */
unsigned toml_line(const TomlValue *v);
unsigned toml_column(const TomlValue *v);

/* Tables: keys in document order. */
size_t toml_table_size(const TomlValue *table);
const char *toml_table_key_at(const TomlValue *table, size_t i);
const TomlValue *toml_table_value_at(const TomlValue *table, size_t i);
/* NULL when absent or when table is not a table. */
const TomlValue *toml_table_get(const TomlValue *table, const char *key);
/* The same with explicit lengths: quoted keys may contain NULs ("\u0000"). */
const char *toml_table_key_at_n(const TomlValue *table, size_t i, size_t *ret_len);
const TomlValue *toml_table_get_n(const TomlValue *table, const char *key, size_t len);

/* Arrays (including arrays of tables). */
size_t toml_array_size(const TomlValue *array);
const TomlValue *toml_array_get(const TomlValue *array, size_t i);

/* Scalars: callers check toml_type() first. Strings are NUL-terminated but may contain NULs ("\u0000"):
 * ret_len (optional) gives the true length. */
const char *toml_string(const TomlValue *v, size_t *ret_len);
int64_t toml_integer(const TomlValue *v);
double toml_float(const TomlValue *v);
bool toml_boolean(const TomlValue *v);
const TomlDatetime *toml_datetime(const TomlValue *v);
