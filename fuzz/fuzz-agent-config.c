/* fuzz-agent-config.c — libFuzzer target: upkeep-agent's configuration (Zincati's drop-in fragments and
 * Upkeep's keys), one input parsed as a whole configuration through the pure merge API. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent-config.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        AgentFragment f = { .path = "/etc/zincati/config.d/50-fuzz.toml",
                            .data = (const char *)data,
                            .len = size };
        AgentConfig *c = NULL;
        char **warnings = NULL;
        Error e;

        if (size > 64 * 1024)
                return 0;
        if (agent_config_merge(&f, 1, &c, &warnings, &e) == 0) {
                if (!c->group || !agent_group_valid(c->group) || c->steady_interval_secs == 0)
                        __builtin_trap();
                if (c->updates_enabled && c->strategy == AGENT_STRATEGY_PERIODIC && !c->calendar)
                        __builtin_trap(); /* periodic always has its calendar */
                if (c->calendar && calendar_is_empty(c->calendar))
                        __builtin_trap();
                if (c->cincinnati_base_url) {
                        char *u = NULL;
                        if (agent_config_expand_url(c->cincinnati_base_url, "aarch64", c->group, "qemu",
                                                    "next", &u, &e) == 0)
                                free(u);
                }
                strv_free(warnings);
                agent_config_free(c);
        }
        return 0;
}
