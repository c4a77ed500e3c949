/* fuzz-greenboot-conf.c — libFuzzer target: /etc/greenboot/greenboot.conf read as data. Checks the
 * parser's promises: bounded values and lists, never NULL lists, *ret untouched on failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "greenboot-conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        GreenbootConf c = { .max_boot_attempts = 12345 };
        Error e;

        if (greenboot_conf_parse((const char *)data, size, &c, &e) < 0) {
                if (c.max_boot_attempts != 12345 || !e.message[0])
                        __builtin_trap();
                return 0;
        }
        if (!c.disabled_healthchecks || !c.warnings || c.max_boot_attempts > 1000 ||
            c.n_disabled_healthchecks > GREENBOOT_CONF_MAX_DISABLED)
                __builtin_trap();
        for (size_t i = 0; i < c.n_disabled_healthchecks; i++)
                if (strlen(c.disabled_healthchecks[i]) > GREENBOOT_CONF_MAX_VALUE ||
                    !greenboot_conf_disabled(&c, c.disabled_healthchecks[i]))
                        __builtin_trap();
        greenboot_conf_done(&c);
        return 0;
}
