/* fuzz-toml.c — libFuzzer target for the TOML parser: parses the input, then walks the whole tree once
 * through the public accessors (keys, lookups, positions, scalars), checking invariants the parser
 * promises: the root is a table, nesting stays within TOML_MAX_DEPTH, every key can be looked up. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t walk(const TomlValue *v, unsigned depth)
{
        uint64_t acc = (uint64_t)toml_line(v) * 31 + toml_column(v);
        const TomlDatetime *dt;
        size_t len;

        if (depth > TOML_MAX_DEPTH + 1)
                abort();
        if (toml_line(v) == 0 || toml_column(v) == 0)
                abort();
        switch (toml_type(v)) {
        case TOML_TABLE:
                for (size_t i = 0; i < toml_table_size(v); i++) {
                        const char *key = toml_table_key_at_n(v, i, &len);
                        const TomlValue *child = toml_table_value_at(v, i);
                        if (!key || !child || key[len] != 0)
                                abort();
                        /* keys are unique, so a lookup finds this very entry */
                        if (toml_table_get_n(v, key, len) != child)
                                abort();
                        if (memchr(key, 0, len) == NULL && toml_table_get(v, key) != child)
                                abort();
                        acc += len + walk(child, depth + 1);
                }
                break;
        case TOML_ARRAY:
                for (size_t i = 0; i < toml_array_size(v); i++) {
                        const TomlValue *child = toml_array_get(v, i);
                        if (!child)
                                abort();
                        acc += walk(child, depth + 1);
                }
                break;
        case TOML_STRING: {
                const char *s = toml_string(v, &len);
                if (!s || s[len] != 0)
                        abort();
                for (size_t i = 0; i < len; i++)
                        acc += (unsigned char)s[i];
                break;
        }
        case TOML_INTEGER:
                acc += (uint64_t)toml_integer(v);
                break;
        case TOML_FLOAT:
                acc += toml_float(v) > 0;
                break;
        case TOML_BOOLEAN:
                acc += toml_boolean(v);
                break;
        case TOML_DATETIME:
        case TOML_DATETIME_LOCAL:
        case TOML_DATE_LOCAL:
        case TOML_TIME_LOCAL:
                dt = toml_datetime(v);
                if (!dt || dt->month > 12 || dt->day > 31 || dt->hour > 23 || dt->minute > 59 ||
                    dt->second > 60 || dt->nanosecond > 999999999)
                        abort();
                acc += (uint64_t)dt->year + (uint64_t)dt->offset_minutes;
                break;
        default:
                abort();
        }
        return acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        TomlValue *root = NULL;
        TomlError error;
        int r;

        r = toml_parse((const char *)data, size, &root, &error);
        if (r < 0) {
                if (root || (r != -EINVAL && r != -E2BIG && r != -ENOMEM))
                        abort();
                if (!memchr(error.message, 0, sizeof(error.message)) || error.message[0] == 0)
                        abort();
                return 0;
        }
        if (!root || toml_type(root) != TOML_TABLE)
                abort();
        (void)walk(root, 0);
        toml_free(root);
        return 0;
}
