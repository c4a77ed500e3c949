/* fuzz-graph-config.c — libFuzzer target: upkeep-graph's configuration parser (TOML, then validation). */
#include <stdint.h>

#include "graph-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        GraphConfig *c = NULL;
        char **warnings = NULL;
        Error e;

        if (graph_config_parse((const char *)data, size, "fuzz.toml", &c, &warnings, &e) == 0) {
                if (c->n_streams == 0)
                        __builtin_trap();
                strv_free(warnings);
                graph_config_free(c);
        }
        return 0;
}
