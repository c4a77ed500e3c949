/* agent-config-health.c — the [[health.check]] entries of upkeep-agent's drop-ins (agent-config.h):
 * each validated as it is read (name, kind and the kind's target) and appended to the merged list. */
#include "agent-config-health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "strutil.h"
#include "strv.h"

static const char *const health_check_kind_names[_AGENT_HEALTH_CHECK_KIND_MAX + 1] = {
        [AGENT_HEALTH_CHECK_UNIT] = "unit",
        [AGENT_HEALTH_CHECK_HTTP] = "http",
        [AGENT_HEALTH_CHECK_COMMAND] = "command",
        NULL,
};

const char *agent_health_check_kind_to_string(AgentHealthCheckKind k)
{
        return (size_t)k < _AGENT_HEALTH_CHECK_KIND_MAX ? health_check_kind_names[k] : NULL;
}

/* [[health.check]], as written; validated and moved into an AgentHealthCheckSpec */
typedef struct HealthCheckEntry {
        char *name, *kind, *unit, *url;
        char **argv;
        size_t n_argv;
        bool required;
        int64_t timeout_secs;
} HealthCheckEntry;

static const ConfigKey health_check_keys[] = {
        CONFIG_KEY("name", CONFIG_STRING, HealthCheckEntry, name),
        CONFIG_KEY("kind", CONFIG_STRING, HealthCheckEntry, kind),
        CONFIG_KEY("unit", CONFIG_STRING, HealthCheckEntry, unit),
        CONFIG_KEY("url", CONFIG_STRING, HealthCheckEntry, url),
        CONFIG_KEY("argv", CONFIG_STRINGS, HealthCheckEntry, argv, .max = AGENT_CONFIG_MAX_ARGV,
                   CONFIG_COUNT(HealthCheckEntry, n_argv)),
        CONFIG_KEY("required", CONFIG_BOOL, HealthCheckEntry, required),
        CONFIG_KEY("timeout_secs", CONFIG_INT, HealthCheckEntry, timeout_secs, .min = 1,
                   .max = AGENT_HEALTH_TIMEOUT_MAX_SECS),
};

static void health_check_entry_done(HealthCheckEntry *h)
{
        config_table_free(health_check_keys, ELEMENTSOF(health_check_keys), h);
}

/* What the entry's kind needs: NULL when fine, else the key at fault and the reason. */
static const char *health_check_problem(const HealthCheckEntry *h, AgentHealthCheckKind *ret_kind,
                                        const char **ret_key)
{
        *ret_key = "kind";
        if (!h->name)
                return *ret_key = "name", "must be set";
        if (!h->kind)
                return "must be set";
        for (AgentHealthCheckKind k = 0; k < _AGENT_HEALTH_CHECK_KIND_MAX; k++)
                if (streq(h->kind, health_check_kind_names[k]))
                        *ret_kind = k;
        if (!streq(h->kind, health_check_kind_names[*ret_kind]))
                return "must be one of unit, http, command";
        switch (*ret_kind) {
        case AGENT_HEALTH_CHECK_UNIT:
                return h->unit ? NULL : (*ret_key = "unit", "must be set with kind \"unit\"");
        case AGENT_HEALTH_CHECK_HTTP:
                *ret_key = "url";
                if (!h->url)
                        return "must be set with kind \"http\"";
                return strncmp(h->url, "http://", 7) == 0 && h->url[7] ? NULL : "must be an http:// URL";
        default:
                return h->argv ? NULL : (*ret_key = "argv", "must be set with kind \"command\"");
        }
}

/* Entry index of a fragment's [[health.check]] array, appended to the checks so far. */
int agent_config_parse_health_check(ConfigCtx *x, AgentConfig *c, const TomlValue *t, size_t index)
{
        _cleanup_(health_check_entry_done) HealthCheckEntry h = { .required = true };
        AgentHealthCheckKind kind = AGENT_HEALTH_CHECK_UNIT;
        AgentHealthCheckSpec *n;
        const char *reason, *what;
        char prefix[64], key[96];
        int r;

        snprintf(prefix, sizeof prefix, "health.check[%zu]", index);
        if (toml_type(t) != TOML_TABLE)
                return config_bad(x, t, prefix, "must be a table with name and kind");
        if (c->n_health_checks >= AGENT_CONFIG_MAX_HEALTH_CHECKS)
                return error_setf(x->e, -E2BIG, "%s:%u: %s: more than %d health checks in all", x->file,
                                  toml_line(t), prefix, AGENT_CONFIG_MAX_HEALTH_CHECKS);
        r = config_parse_table(x, t, prefix, health_check_keys, ELEMENTSOF(health_check_keys), &h, NULL);
        if (r < 0)
                return r;
        reason = health_check_problem(&h, &kind, &what);
        for (size_t i = 0; !reason && i < c->n_health_checks; i++)
                if (streq(c->health_checks[i].name, h.name))
                        what = "name", reason = "is the name of another check";
        if (reason) {
                snprintf(key, sizeof key, "%s.%s", prefix, what);
                return config_bad(x, t, key, reason);
        }
        n = realloc(c->health_checks, (c->n_health_checks + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        c->health_checks = n;
        n[c->n_health_checks++] = (AgentHealthCheckSpec){
                .name = TAKE_PTR(h.name),
                .kind = kind,
                .unit = TAKE_PTR(h.unit),
                .url = TAKE_PTR(h.url),
                .argv = TAKE_PTR(h.argv),
                .n_argv = h.n_argv,
                .required = h.required,
                .timeout_secs = h.timeout_secs,
        };
        return 0;
}

void agent_health_check_specs_free(AgentHealthCheckSpec *l, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(l[i].name);
                free(l[i].unit);
                free(l[i].url);
                strv_free(l[i].argv);
        }
        free(l);
}
