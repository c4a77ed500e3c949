/* agent-config-health.h — for agent-config.c: the [[health.check]] entries (agent-config-health.c). */
#pragma once

#include <stddef.h>

#include "agent-config.h"
#include "config-util.h"

/* Entry index of a fragment's [[health.check]] array, validated and appended to c's checks. -EINVAL
 * ("FILE:LINE: health.check[I].KEY: reason"), -E2BIG past AGENT_CONFIG_MAX_HEALTH_CHECKS, -ENOMEM. */
int agent_config_parse_health_check(ConfigCtx *x, AgentConfig *c, const TomlValue *t, size_t index);
void agent_health_check_specs_free(AgentHealthCheckSpec *l, size_t n);
