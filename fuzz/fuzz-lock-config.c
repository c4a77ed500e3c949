/* fuzz-lock-config.c — libFuzzer target: upkeep-lock's configuration parser (Airlock's config.toml and
 * Upkeep's keys). */
#include <stdint.h>

#include "lock-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        LockConfig *c = NULL;
        char **warnings = NULL;
        Error e;

        if (lock_config_parse((const char *)data, size, "fuzz.toml", &c, &warnings, &e) == 0) {
                if (c->n_groups == 0 || !lock_config_find_group(c, c->default_group))
                        __builtin_trap(); /* the default group always exists */
                strv_free(warnings);
                lock_config_free(c);
        }
        return 0;
}
