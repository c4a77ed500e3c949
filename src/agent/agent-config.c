/* agent-config.c — parsing and merging of upkeep-agent's drop-in fragments, Zincati's keys and Upkeep's
 * (see agent-config.h): the keys as one table (config-util.h) whose checks wait until every fragment is
 * read, then the rules between keys and the calendar. */
#include "agent-config.h"
#include "agent-config-health.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config-util.h"
#include "macros.h"
#include "strutil.h"
#include "strv.h"
#include "toml.h"

bool agent_group_valid(const char *s)
{
        if (!s || !*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '.' || *s == '-'))
                        return false;
        return true;
}

static const char *const strategy_names[] = {
        [AGENT_STRATEGY_IMMEDIATE] = "immediate",
        [AGENT_STRATEGY_FLEET_LOCK] = "fleet_lock",
        [AGENT_STRATEGY_PERIODIC] = "periodic",
        NULL,
};

const char *agent_strategy_to_string(AgentStrategy s)
{
        return (size_t)s < ELEMENTSOF(strategy_names) - 1 ? strategy_names[s] : NULL;
}

static int hexval(char ch)
{
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

/* 32 hex digits, or the 36-character UUID form (as sd_id128_from_string); → 32 lower-case hex. */
static int parse_id128(const char *s, char ret[static 33])
{
        size_t n = strlen(s), j = 0;

        if (n != 32 && n != 36)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
                        if (s[i] != '-')
                                return -EINVAL;
                        continue;
                }
                if (hexval(s[i]) < 0)
                        return -EINVAL;
                ret[j++] = "0123456789abcdef"[hexval(s[i])];
        }
        ret[j] = 0;
        return 0;
}

/* tz_name_valid() of src/io/tz-load.h, which the pure core may not use: 1..255 bytes of [A-Za-z0-9_+-/], no
 * leading '/', no empty components. */
static bool zone_name_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 255 || s[0] == '/' || s[n - 1] == '/')
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                      ch == '_' || ch == '+' || ch == '-' || ch == '/'))
                        return false;
                if (ch == '/' && s[i + 1] == '/')
                        return false;
        }
        return true;
}

static bool absolute_path(const char *s)
{
        return s[0] == '/' && strlen(s) < 4096;
}

static int url_ok(const char *s, Error *e)
{
        const char *host;
        size_t n = strlen(s);

        if (n > AGENT_CONFIG_MAX_URL)
                return error_setf(e, -EINVAL, "longer than %d bytes", AGENT_CONFIG_MAX_URL);
        if (strncasecmp(s, "http://", 7) == 0)
                host = s + 7;
        else if (strncasecmp(s, "https://", 8) == 0)
                host = s + 8;
        else
                return error_setf(e, -EINVAL, "must be an http:// or https:// URL");
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f)
                        return error_setf(e, -EINVAL, "must not contain spaces or control characters");
        if (!*host || strchr("/?#:@", *host))
                return error_setf(e, -EINVAL, "must be an http:// or https:// URL with a host");
        return 0;
}

static int put_escaped(Buf *b, const char *s)
{
        int r = 0;
        for (; r >= 0 && *s; s++) {
                unsigned char ch = (unsigned char)*s;
                if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    strchr("._~-", ch))
                        r = buf_putc(b, (char)ch);
                else
                        r = buf_printf(b, "%%%02X", ch);
        }
        return r;
}

int agent_config_expand_url(const char *template, const char *basearch, const char *group,
                            const char *platform, const char *stream, char **ret, Error *e)
{
        _cleanup_(buf_free) Buf b = BUF_INIT(AGENT_CONFIG_MAX_URL);
        const char *p = template;
        int r;

        if (strlen(template) > AGENT_CONFIG_MAX_URL)
                return error_setf(e, -EINVAL, "longer than %d bytes", AGENT_CONFIG_MAX_URL);
        while (*p) {
                const char *end, *val = NULL;
                size_t n;

                if (p[0] != '$' || p[1] != '{') {
                        r = buf_putc(&b, *p++);
                        if (r < 0)
                                return r == -ENOBUFS ? error_setf(e, -EINVAL, "longer than %d bytes",
                                                                  AGENT_CONFIG_MAX_URL)
                                                     : r;
                        continue;
                }
                end = strchr(p + 2, '}');
                if (!end)
                        return error_setf(e, -EINVAL, "unterminated placeholder");
                n = (size_t)(end - (p + 2));
                if (n == 8 && strneq(p + 2, "basearch", 8))
                        val = basearch;
                else if (n == 5 && strneq(p + 2, "group", 5))
                        val = group;
                else if (n == 8 && strneq(p + 2, "platform", 8))
                        val = platform;
                else if (n == 6 && strneq(p + 2, "stream", 6))
                        val = stream;
                else
                        return error_setf(e, -EINVAL, "unknown placeholder '${%.*s}'", (int)MIN(n, 64),
                                          p + 2);
                r = put_escaped(&b, strna(val));
                if (r < 0)
                        return r == -ENOBUFS
                                       ? error_setf(e, -EINVAL, "longer than %d bytes", AGENT_CONFIG_MAX_URL)
                                       : r;
                p = end + 1;
        }
        r = url_ok(b.data ? b.data : "", e);
        if (r < 0)
                return r;
        *ret = buf_steal(&b, NULL);
        return 0;
}

static void config_clear(AgentConfig *c)
{
        free(c->group);
        free(c->node_uuid);
        free(c->cincinnati_base_url);
        free(c->fleet_lock_base_url);
        free(c->time_zone);
        for (size_t i = 0; i < c->n_windows; i++) {
                strv_free(c->windows[i].days);
                free(c->windows[i].start_time);
                free(c->windows[i].file);
        }
        free(c->windows);
        if (c->calendar)
                calendar_free(c->calendar);
        free(c->sysroot);
        free(c->osname);
        free(c->remote);
        free(c->stream_metadata_key);
        strv_free(c->reboot_command);
        free(c->status_socket);
        free(c->metrics_socket);
        free(c->motd_dir);
        free(c->rpm_ostree_path);
        free(c->platform);
        free(c->state_dir);
        free(c->report_url);
        free(c->report_token_file);
        free(c->lock_token_file);
        free(c->grubenv);
        free(c->check_root);
        agent_health_check_specs_free(c->health_checks, c->n_health_checks);
}

void agent_config_free(AgentConfig *c)
{
        if (!c)
                return;
        config_clear(c);
        free(c);
}

/* The defaults; the caller clears c on failure. */
static int config_init(AgentConfig *c)
{
        *c = (AgentConfig){
                .steady_interval_secs = AGENT_DEFAULT_STEADY_INTERVAL_SECS,
                .updates_enabled = true,
                .strategy = AGENT_STRATEGY_IMMEDIATE,
                .os_backend = AGENT_OS_BACKEND_AUTO,
                .reboot_method = AGENT_REBOOT_LOGIND,
                .health_enabled = true,
                .checks_timeout_secs = AGENT_DEFAULT_CHECKS_TIMEOUT_SECS,
        };
        if (!(c->group = strdup("default")) || !(c->time_zone = strdup("UTC")) ||
            !(c->sysroot = strdup("/")) || !(c->remote = strdup("origin")) ||
            !(c->stream_metadata_key = strdup(AGENT_DEFAULT_STREAM_METADATA_KEY)) ||
            !(c->status_socket = strdup(AGENT_DEFAULT_STATUS_SOCKET)) ||
            !(c->metrics_socket = strdup(AGENT_DEFAULT_METRICS_SOCKET)) ||
            !(c->motd_dir = strdup(AGENT_DEFAULT_MOTD_DIR)) ||
            !(c->state_dir = strdup(AGENT_DEFAULT_STATE_DIR)) || !(c->check_root = strdup("/")))
                return -ENOMEM;
        return 0;
}

/* The merge so far: the configuration (the defaults, each fragment's keys over them), a value that needs
 * checking before it fits its field, and where each key was last set. */
typedef struct AgentParse {
        AgentConfig c;
        int64_t steady_interval_secs;
        char *strategy; /* "" is Zincati's default strategy */
} AgentParse;

static const char *check_interval(const void *field)
{
        /* Zincati takes any non-zero u64 (TOML integers stop at 2^63-1); the engine caps the timer */
        return *(const int64_t *)field >= 1 ? NULL : "must be a positive integer";
}

/* "" keeps the default group, as in Zincati */
static const char *check_group(const void *field)
{
        const char *g = *(char *const *)field;
        return !*g || agent_group_valid(g) ? NULL : "must match ^[a-zA-Z0-9.-]+$";
}

/* "" is Zincati's default strategy (immediate) */
static const char *check_strategy(const void *field)
{
        const char *s = *(char *const *)field;

        if (!*s)
                return NULL;
        for (size_t i = 0; strategy_names[i]; i++)
                if (streq(s, strategy_names[i]))
                        return NULL;
        return "must be one of immediate, fleet_lock, periodic";
}

/* "" keeps the machine's own uuid, as in Zincati */
static const char *check_node_uuid(const void *field)
{
        char id[33];
        return !**(char *const *)field || parse_id128(*(char *const *)field, id) >= 0
                       ? NULL
                       : "must be a 128-bit id of 32 hexadecimal digits";
}

static const char *check_wariness(const void *field)
{
        double w = *(const double *)field;
        return isfinite(w) && w >= 0.0 && w <= 1.0 ? NULL : "must be a number between 0.0 and 1.0";
}

static const char *check_absolute(const void *field)
{
        return absolute_path(*(char *const *)field) ? NULL : "must be an absolute path";
}

static const char *check_osname(const void *field)
{
        const char *s = *(char *const *)field;
        return !*s || strchr(s, '/') || streq(s, ".") || streq(s, "..")
                       ? "must be a non-empty name without '/'"
                       : NULL;
}

static const char *check_remote(const void *field)
{
        const char *s = *(char *const *)field;
        return !*s || strchr(s, '/') ? "must be a non-empty ostree remote name without '/'" : NULL;
}

static const char *check_not_empty(const void *field)
{
        return **(char *const *)field ? NULL : "must not be empty";
}

static const char *check_reboot_command(const void *field)
{
        char *const *l = *(char *const *const *)field;
        return l && l[0] && absolute_path(l[0])
                       ? NULL
                       : "must be a non-empty array whose first string is an absolute path";
}

/* sockaddr_un.sun_path holds 108 bytes, NUL included. */
static const char *check_socket(const void *field)
{
        const char *s = *(char *const *)field;
        return absolute_path(s) && strlen(s) <= 107 ? NULL : "must be an absolute path of at most 107 bytes";
}

static const char *check_platform(const void *field)
{
        const char *v = *(char *const *)field;
        bool ok = *v && strlen(v) <= 256;
        for (const char *q = v; ok && *q; q++)
                ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
                     *q == '-' || *q == '_' || *q == '.';
        return ok ? NULL : "must be 1..256 of [A-Za-z0-9._-]";
}

/* [[updates.periodic.window]] */
static const ConfigKey window_keys[] = {
        CONFIG_KEY("days", CONFIG_STRINGS_OR_EMPTY, AgentWindowSpec, days, .max = 64,
                   CONFIG_COUNT(AgentWindowSpec, n_days)),
        CONFIG_KEY("start_time", CONFIG_STRING_OR_EMPTY, AgentWindowSpec, start_time,
                   .reason = "must be a string"),
        CONFIG_KEY("length_minutes", CONFIG_INT, AgentWindowSpec, length_minutes, .min = INT64_MIN,
                   .max = INT64_MAX),
};

/* Entry index of a fragment's [[updates.periodic.window]] array, appended to the windows so far. */
static int parse_window(ConfigCtx *x, AgentConfig *c, const TomlValue *t, size_t index)
{
        ConfigSource seen[ELEMENTSOF(window_keys)] = {};
        AgentWindowSpec *w, *nw;
        char prefix[64];
        int r;

        snprintf(prefix, sizeof(prefix), "updates.periodic.window[%zu]", index);
        if (toml_type(t) != TOML_TABLE)
                return config_bad(x, t, prefix, "must be a table with days, start_time and length_minutes");
        if (c->n_windows >= AGENT_CONFIG_MAX_WINDOWS)
                return error_setf(x->e, -E2BIG, "%s:%u: %s: more than %d windows in all", x->file,
                                  toml_line(t), prefix, AGENT_CONFIG_MAX_WINDOWS);
        nw = realloc(c->windows, (c->n_windows + 1) * sizeof(AgentWindowSpec));
        if (!nw)
                return -ENOMEM;
        c->windows = nw;
        w = &nw[c->n_windows];
        *w = (AgentWindowSpec){ .line = toml_line(t), .index = index };
        c->n_windows++;
        w->file = strdup(x->file);
        if (!w->file)
                return -ENOMEM;

        r = config_parse_table(x, t, prefix, window_keys, ELEMENTSOF(window_keys), w, seen);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(seen); i++)
                if (!seen[i].set)
                        return config_bad(x, t, prefix, "needs days, start_time and length_minutes");
        return 0;
}

/* Windows accumulate across fragments. */
static int parse_windows(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *target)
{
        AgentParse *p = target;
        int r;

        if (toml_type(v) != TOML_ARRAY)
                return config_bad(x, v, key, "must be an array of tables ([[updates.periodic.window]])");
        for (size_t w = 0; w < toml_array_size(v); w++) {
                r = parse_window(x, &p->c, toml_array_get(v, w), w);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Checks accumulate across fragments, as windows do. */
static int parse_health_checks(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key,
                               void *target)
{
        AgentParse *p = target;
        int r;

        if (toml_type(v) != TOML_ARRAY)
                return config_bad(x, v, key, "must be an array of tables ([[health.check]])");
        for (size_t i = 0; i < toml_array_size(v); i++) {
                r = agent_config_parse_health_check(x, &p->c, toml_array_get(v, i), i);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const char *const os_backend_names[] = {
        [AGENT_OS_BACKEND_OSTREE] = "ostree",
        [AGENT_OS_BACKEND_RPM_OSTREE] = "rpm-ostree",
        [AGENT_OS_BACKEND_AUTO] = "auto",
        NULL,
};

static const char *const reboot_method_names[] = {
        [AGENT_REBOOT_LOGIND] = "logind",
        [AGENT_REBOOT_COMMAND] = "command",
        NULL,
};

typedef enum KeyId {
        K_STEADY_INTERVAL,
        K_GROUP,
        K_NODE_UUID,
        K_WARINESS,
        K_CINCINNATI_URL,
        K_ENABLED,
        K_ALLOW_DOWNGRADE,
        K_STRATEGY,
        K_FLEET_LOCK_URL,
        K_ONLY_IN_WINDOWS,
        K_TIME_ZONE,
        K_WINDOWS,
        K_OS_BACKEND, /* the first of Upkeep's keys */
        K_SYSROOT,
        K_OSNAME,
        K_REMOTE,
        K_STREAM_KEY,
        K_REBOOT_METHOD,
        K_REBOOT_COMMAND,
        K_STATUS_SOCKET,
        K_METRICS_SOCKET,
        K_MOTD_DIR,
        K_RPM_OSTREE_PATH,
        K_PLATFORM,
        K_STATE_DIR,
        K_REPORT_URL,
        K_REPORT_TOKEN_FILE,
        K_LOCK_TOKEN_FILE,
        K_HEALTH_ENABLED,
        K_CHECKS_TIMEOUT,
        K_STABILITY,
        K_MAX_BOOT_ATTEMPTS,
        K_GRUBENV,
        K_CHECK_ROOT,
        K_HEALTH_CHECKS,
        _K_MAX,
} KeyId;

#define KEY(n, t, field, ...) CONFIG_KEY(n, t, AgentParse, field, __VA_ARGS__)
#define STRING(n, field, ...) KEY(n, CONFIG_STRING_OR_EMPTY, field, __VA_ARGS__)

/* Every key, Zincati's then Upkeep's. Strings may be empty and values are checked only once merged: a
 * later fragment may override a bad value. Types are checked at once. */
static const ConfigKey agent_keys[_K_MAX] = {
        [K_STEADY_INTERVAL] = KEY("agent.timing.steady_interval_secs", CONFIG_INT, steady_interval_secs,
                                  .min = INT64_MIN, .max = INT64_MAX, .check = check_interval),
        [K_GROUP] = STRING("identity.group", c.group, .check = check_group),
        [K_NODE_UUID] = STRING("identity.node_uuid", c.node_uuid, .check = check_node_uuid),
        [K_WARINESS] =
                KEY("identity.rollout_wariness", CONFIG_FLOAT, c.rollout_wariness, .check = check_wariness),
        [K_CINCINNATI_URL] = STRING("cincinnati.base_url", c.cincinnati_base_url), /* checked when used */
        [K_ENABLED] = KEY("updates.enabled", CONFIG_BOOL, c.updates_enabled),
        [K_ALLOW_DOWNGRADE] = KEY("updates.allow_downgrade", CONFIG_BOOL, c.allow_downgrade),
        [K_STRATEGY] = STRING("updates.strategy", strategy, .check = check_strategy),
        [K_FLEET_LOCK_URL] = STRING("updates.fleet_lock.base_url", c.fleet_lock_base_url), /* when used */
        [K_ONLY_IN_WINDOWS] =
                KEY("updates.fleet_lock.only_in_periodic_windows", CONFIG_BOOL, c.only_in_periodic_windows),
        [K_TIME_ZONE] = STRING("updates.periodic.time_zone", c.time_zone), /* checked when used */
        [K_WINDOWS] = CONFIG_KEY_CUSTOM("updates.periodic.window", parse_windows),
        [K_OS_BACKEND] = KEY("upkeep.os_backend", CONFIG_ENUM, c.os_backend, .names = os_backend_names),
        [K_SYSROOT] = STRING("upkeep.sysroot", c.sysroot, .check = check_absolute),
        [K_OSNAME] = STRING("upkeep.osname", c.osname, .check = check_osname),
        [K_REMOTE] = STRING("upkeep.remote", c.remote, .check = check_remote),
        [K_STREAM_KEY] =
                STRING("upkeep.stream_metadata_key", c.stream_metadata_key, .check = check_not_empty),
        [K_REBOOT_METHOD] =
                KEY("upkeep.reboot_method", CONFIG_ENUM, c.reboot_method, .names = reboot_method_names),
        [K_REBOOT_COMMAND] = KEY("upkeep.reboot_command", CONFIG_STRINGS_OR_EMPTY, c.reboot_command,
                                 .max = AGENT_CONFIG_MAX_ARGV, CONFIG_COUNT(AgentParse, c.n_reboot_command),
                                 .check = check_reboot_command),
        [K_STATUS_SOCKET] = STRING("upkeep.status_socket", c.status_socket, .check = check_socket),
        [K_METRICS_SOCKET] = STRING("upkeep.metrics_socket", c.metrics_socket, .check = check_socket),
        [K_MOTD_DIR] = STRING("upkeep.motd_dir", c.motd_dir, .check = check_absolute),
        [K_RPM_OSTREE_PATH] = STRING("upkeep.rpm_ostree_path", c.rpm_ostree_path, .check = check_absolute),
        [K_PLATFORM] = STRING("upkeep.platform", c.platform, .check = check_platform),
        [K_STATE_DIR] = STRING("upkeep.state_dir", c.state_dir, .check = check_absolute),
        [K_REPORT_URL] = STRING("upkeep.report_url", c.report_url), /* checked when merged */
        [K_REPORT_TOKEN_FILE] =
                STRING("upkeep.report_token_file", c.report_token_file, .check = check_absolute),
        [K_LOCK_TOKEN_FILE] = STRING("upkeep.lock_token_file", c.lock_token_file, .check = check_absolute),
        [K_HEALTH_ENABLED] = KEY("health.enabled", CONFIG_BOOL, c.health_enabled),
        [K_CHECKS_TIMEOUT] = KEY("health.checks_timeout_secs", CONFIG_INT, c.checks_timeout_secs, .min = 1,
                                 .max = AGENT_HEALTH_TIMEOUT_MAX_SECS),
        [K_STABILITY] = KEY("health.stability_secs", CONFIG_INT, c.stability_secs, .min = 0,
                            .max = AGENT_HEALTH_TIMEOUT_MAX_SECS),
        [K_MAX_BOOT_ATTEMPTS] =
                KEY("health.max_boot_attempts", CONFIG_INT, c.max_boot_attempts, .min = 1, .max = 100),
        [K_GRUBENV] = STRING("health.grubenv", c.grubenv, .check = check_absolute),
        [K_CHECK_ROOT] = STRING("health.check_root", c.check_root, .check = check_absolute),
        [K_HEALTH_CHECKS] = CONFIG_KEY_CUSTOM("health.check", parse_health_checks),
};

typedef struct Merge {
        ConfigCtx x;
        AgentParse p;
        ConfigSource where[_K_MAX];
} Merge;

/* The checks of keys[first, end) with their errors. */
static int check_keys(Merge *m, KeyId first, KeyId end)
{
        return config_check_table(&m->x, agent_keys + first, end - first, &m->p, m->where + first);
}

/* A base URL where it is used: set, and valid once its placeholders are filled in. */
static int check_url(Merge *m, KeyId k, const char *url, const char *required_reason)
{
        _cleanup_free_ char *u = NULL;
        const ConfigSource *where = &m->where[k];
        int r;

        if (!where->set)
                return error_setf(m->x.e, -EINVAL, "%s: %s", agent_keys[k].name, required_reason);
        r = agent_config_expand_url(url, "x86_64", "default", "metal", "stable", &u, m->x.e);
        if (r < 0)
                return r == -ENOMEM ? r
                                    : error_prefixf(m->x.e, r, "%s:%u: %s", where->file, where->line,
                                                    agent_keys[k].name);
        return 0;
}

static int window_bad(Merge *m, const AgentWindowSpec *w, const char *what, const char *reason)
{
        char key[128];
        snprintf(key, sizeof(key), "updates.periodic.window[%zu].%s", w->index, what);
        return config_bad_at(&m->x, &(ConfigSource){ .set = true, .file = w->file, .line = w->line }, key,
                             reason);
}

static int build_calendar(Merge *m)
{
        AgentConfig *c = &m->p.c;
        _cleanup_calendar_ Calendar *cal = calendar_new();
        Error ce;
        int r;

        if (!cal)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_windows; i++) {
                const AgentWindowSpec *w = &c->windows[i];
                int days[7], n = 0, start;
                bool seen[7] = { false };
                char reason[160], what[32];

                for (size_t d = 0; d < w->n_days; d++) {
                        int day;
                        if (calendar_parse_day(w->days[d], &day) < 0) {
                                snprintf(reason, sizeof(reason), "'%.64s' is not a day of the week",
                                         w->days[d]);
                                snprintf(what, sizeof(what), "days[%zu]", d);
                                return window_bad(m, w, what, reason);
                        }
                        if (!seen[day]) {
                                seen[day] = true;
                                days[n++] = day;
                        }
                }
                if (calendar_parse_time(w->start_time, &start) < 0) {
                        snprintf(reason, sizeof(reason), "'%.64s' is not HH:MM", w->start_time);
                        return window_bad(m, w, "start_time", reason);
                }
                if (w->length_minutes < 1 || w->length_minutes > CALENDAR_MINUTES_PER_WEEK)
                        return window_bad(m, w, "length_minutes", "must be an integer between 1 and 10080");
                if (n == 0)
                        continue;
                r = calendar_add_window(cal, days, (size_t)n, start, (int)w->length_minutes, &ce);
                if (r == -E2BIG)
                        return error_setf(m->x.e, r,
                                          "%s:%u: updates.periodic.window[%zu]: more than %d (day, "
                                          "start) pairs in all",
                                          w->file, w->line, w->index, CALENDAR_MAX_INTERVALS);
                if (r < 0)
                        return r == -ENOMEM
                                       ? r
                                       : error_setf(m->x.e, r, "%s:%u: %s", w->file, w->line, ce.message);
        }
        if (calendar_is_empty(cal))
                return error_setf(m->x.e, -EINVAL,
                                  "updates.periodic.window: strategy %s needs at least one "
                                  "periodic window with days (none configured)",
                                  c->strategy == AGENT_STRATEGY_PERIODIC ? "periodic"
                                                                         : "fleet_lock with "
                                                                           "only_in_periodic_windows");
        c->calendar = TAKE_PTR(cal);
        return 0;
}

/* The updates: base URLs, and the calendar where one is in force. */
static int finish_updates(Merge *m)
{
        AgentConfig *c = &m->p.c;
        int r;

        if (c->updates_enabled) {
                r = check_url(m, K_CINCINNATI_URL, c->cincinnati_base_url,
                              "must be set when updates are enabled");
                if (r < 0)
                        return r;
        }
        if (c->updates_enabled && c->strategy == AGENT_STRATEGY_FLEET_LOCK) {
                r = check_url(m, K_FLEET_LOCK_URL, c->fleet_lock_base_url,
                              "must be set with strategy fleet_lock");
                if (r < 0)
                        return r;
        }
        if (c->report_url && *c->report_url) {
                r = check_url(m, K_REPORT_URL, c->report_url, "");
                if (r < 0)
                        return r;
        }
        if (c->only_in_periodic_windows && c->strategy != AGENT_STRATEGY_FLEET_LOCK) {
                r = config_warnf(&m->x,
                                 "%s:%u: updates.fleet_lock.only_in_periodic_windows: has no effect unless "
                                 "updates.strategy is fleet_lock",
                                 m->where[K_ONLY_IN_WINDOWS].file, m->where[K_ONLY_IN_WINDOWS].line);
                if (r < 0)
                        return r;
        }
        if (!c->updates_enabled ||
            !(c->strategy == AGENT_STRATEGY_PERIODIC ||
              (c->strategy == AGENT_STRATEGY_FLEET_LOCK && c->only_in_periodic_windows)))
                return 0;
        if (m->where[K_TIME_ZONE].set && !streq(c->time_zone, "localtime") && !zone_name_valid(c->time_zone))
                return config_bad_at(&m->x, &m->where[K_TIME_ZONE], agent_keys[K_TIME_ZONE].name,
                                     "must be \"localtime\" or an IANA time zone name");
        return build_calendar(m);
}

/* Validates the merged values, in the order of the keys. */
static int finish(Merge *m)
{
        AgentConfig *c = &m->p.c;
        int r;

        r = check_keys(m, 0, K_OS_BACKEND);
        if (r < 0)
                return r;
        if (m->where[K_STEADY_INTERVAL].set)
                c->steady_interval_secs = (uint64_t)m->p.steady_interval_secs;
        if (m->where[K_NODE_UUID].set) {
                char id[33];
                if (!*c->node_uuid) {
                        free(c->node_uuid);
                        c->node_uuid = NULL;
                } else if (parse_id128(c->node_uuid, id) >= 0) /* it is: checked above */
                        strcpy(c->node_uuid, id);              /* 32 characters over 32 or 36 */
        }
        if (!*c->group) {
                free(c->group);
                if (!(c->group = strdup("default")))
                        return -ENOMEM;
        }
        for (size_t i = 0; m->p.strategy && strategy_names[i]; i++)
                if (streq(m->p.strategy, strategy_names[i]))
                        c->strategy = (AgentStrategy)i;
        c->has_rollout_wariness = m->where[K_WARINESS].set;
        r = finish_updates(m);
        if (r < 0)
                return r;

        r = check_keys(m, K_OS_BACKEND, K_STATUS_SOCKET);
        if (r < 0)
                return r;
        if (c->reboot_method == AGENT_REBOOT_COMMAND && !c->reboot_command)
                return error_setf(m->x.e, -EINVAL,
                                  "upkeep.reboot_command: must be set with reboot_method \"command\"");
        r = check_keys(m, K_STATUS_SOCKET, _K_MAX);
        if (r < 0 || c->grubenv)
                return r;
        /* the default follows the sysroot */
        if (asprintf(&c->grubenv, "%s/boot/grub/grubenv", streq(c->sysroot, "/") ? "" : c->sysroot) < 0) {
                c->grubenv = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int merge_fragment(Merge *m, const AgentFragment *f)
{
        _cleanup_toml_ TomlValue *root = NULL;
        int r;

        m->x.file = f->path;
        r = config_parse_toml(f->data, f->len, f->path, &root, m->x.e);
        if (r < 0)
                return r;
        return config_parse_table(&m->x, root, NULL, agent_keys, _K_MAX, &m->p, m->where);
}

/* Merges and validates the fragments into m (cleared by the caller with merge_done()). */
static int merge_all(const AgentFragment *fragments, size_t n, Merge *m)
{
        int r;

        if (n > AGENT_CONFIG_MAX_FRAGMENTS)
                return error_setf(m->x.e, -E2BIG, "more than %d configuration fragments",
                                  AGENT_CONFIG_MAX_FRAGMENTS);
        r = config_init(&m->p.c);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = merge_fragment(m, &fragments[i]);
        if (r >= 0)
                r = finish(m);
        return r;
}

static void merge_done(Merge *m)
{
        free(m->p.strategy);
        m->p.strategy = NULL;
        config_take_warnings(&m->x, NULL);
        config_clear(&m->p.c);
}

int agent_config_merge(const AgentFragment *fragments, size_t n, AgentConfig **ret, char ***ret_warnings,
                       Error *e)
{
        Merge m = { .x = { .e = e, .defer_checks = true } };
        AgentConfig *c = NULL;
        int r;

        r = merge_all(fragments, n, &m);
        if (r >= 0 && !(c = malloc(sizeof(*c))))
                r = -ENOMEM;
        if (r < 0) {
                merge_done(&m);
                return r;
        }
        free(m.p.strategy);
        *c = m.p.c;
        *ret = c;
        config_take_warnings(&m.x, ret_warnings);
        return 0;
}

/* A string as a TOML basic string. */
static int put_toml_string(Buf *out, const char *s)
{
        int r = buf_putc(out, '"');

        for (; r >= 0 && *s; s++)
                r = *s == '"' || *s == '\\'                  ? buf_printf(out, "\\%c", *s)
                    : (unsigned char)*s < 0x20 || *s == 0x7f ? buf_printf(out, "\\u%04x", (unsigned char)*s)
                                                             : buf_putc(out, *s);
        return r >= 0 ? buf_putc(out, '"') : r;
}

/* The merged value of key k (fields read from the merge's target, as the table stores them). */
static int put_value(Buf *out, const Merge *m, KeyId id)
{
        const ConfigKey *k = &agent_keys[id];
        const char *field = (const char *)&m->p + k->offset;
        int r = 0;

        if (id == K_STEADY_INTERVAL)
                return buf_printf(out, "%" PRIu64, m->p.c.steady_interval_secs);
        if (id == K_STRATEGY)
                return put_toml_string(out, agent_strategy_to_string(m->p.c.strategy));
        if (id == K_WINDOWS)
                return buf_printf(out, "%zu window(s)", m->p.c.n_windows);
        if (id == K_HEALTH_CHECKS)
                return buf_printf(out, "%zu check(s)", m->p.c.n_health_checks);
        if (id == K_MAX_BOOT_ATTEMPTS && m->p.c.max_boot_attempts == 0)
                return buf_puts(out, "(unset: greenboot.conf's GREENBOOT_MAX_BOOT_ATTEMPTS, else 3)");
        if (id == K_WARINESS && !m->p.c.has_rollout_wariness)
                return buf_puts(out, "(unset: the server decides)");
        switch (k->type) {
        case CONFIG_BOOL:
                return buf_puts(out, *(const bool *)field ? "true" : "false");
        case CONFIG_FLOAT:
                return buf_printf(out, "%g", *(const double *)field);
        case CONFIG_INT: /* Upkeep's unsigned counters and durations */
                return buf_printf(out, "%" PRIu64,
                                  k->size == 4 ? (uint64_t) * (const uint32_t *)field
                                               : *(const uint64_t *)field);
        case CONFIG_ENUM:
                return put_toml_string(out, k->names[*(const int *)field]);
        case CONFIG_STRINGS:
        case CONFIG_STRINGS_OR_EMPTY: {
                char *const *l = *(char *const *const *)field;
                if (!l)
                        return buf_puts(out, "(unset)");
                r = buf_putc(out, '[');
                for (size_t i = 0; r >= 0 && l[i]; i++) {
                        if (i > 0)
                                r = buf_puts(out, ", ");
                        if (r >= 0)
                                r = put_toml_string(out, l[i]);
                }
                return r >= 0 ? buf_putc(out, ']') : r;
        }
        default: {
                const char *v = *(const char *const *)field;
                return v ? put_toml_string(out, v) : buf_puts(out, "(unset)");
        }
        }
}

int agent_config_describe(const AgentFragment *fragments, size_t n, Buf *out, Error *e)
{
        Merge m = { .x = { .e = e, .defer_checks = true } };
        size_t start = out->len;
        int r;

        r = merge_all(fragments, n, &m);
        for (KeyId id = 0; r >= 0 && id < _K_MAX; id++) {
                const ConfigSource *w = &m.where[id];
                r = buf_printf(out, "%s = ", agent_keys[id].name);
                if (r >= 0)
                        r = put_value(out, &m, id);
                if (r >= 0)
                        r = w->set ? buf_printf(out, "  # %s:%u\n", w->file, w->line)
                                   : buf_puts(out, "  # default\n");
        }
        merge_done(&m);
        if (r < 0)
                buf_truncate(out, start);
        return r;
}
