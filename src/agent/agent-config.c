/* agent-config.c — parsing and merging of upkeep-agent's drop-in fragments, Zincati's keys and Upkeep's
 * (see agent-config.h). */
#include "agent-config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "macros.h"
#include "strutil.h"
#include "strv.h"
#include "toml.h"

typedef enum ValType {
        V_STRING,
        V_INT,
        V_NUMBER, /* float or integer */
        V_BOOL,
        V_STRV,
} ValType;

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
        K_OS_BACKEND,
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
        _K_MAX,
} KeyId;

static const struct {
        const char *section;
        const char *key;
        ValType type;
} keys[_K_MAX] = {
        [K_STEADY_INTERVAL] = { "agent.timing", "steady_interval_secs", V_INT },
        [K_GROUP] = { "identity", "group", V_STRING },
        [K_NODE_UUID] = { "identity", "node_uuid", V_STRING },
        [K_WARINESS] = { "identity", "rollout_wariness", V_NUMBER },
        [K_CINCINNATI_URL] = { "cincinnati", "base_url", V_STRING },
        [K_ENABLED] = { "updates", "enabled", V_BOOL },
        [K_ALLOW_DOWNGRADE] = { "updates", "allow_downgrade", V_BOOL },
        [K_STRATEGY] = { "updates", "strategy", V_STRING },
        [K_FLEET_LOCK_URL] = { "updates.fleet_lock", "base_url", V_STRING },
        [K_ONLY_IN_WINDOWS] = { "updates.fleet_lock", "only_in_periodic_windows", V_BOOL },
        [K_TIME_ZONE] = { "updates.periodic", "time_zone", V_STRING },
        [K_OS_BACKEND] = { "upkeep", "os_backend", V_STRING },
        [K_SYSROOT] = { "upkeep", "sysroot", V_STRING },
        [K_OSNAME] = { "upkeep", "osname", V_STRING },
        [K_REMOTE] = { "upkeep", "remote", V_STRING },
        [K_STREAM_KEY] = { "upkeep", "stream_metadata_key", V_STRING },
        [K_REBOOT_METHOD] = { "upkeep", "reboot_method", V_STRING },
        [K_REBOOT_COMMAND] = { "upkeep", "reboot_command", V_STRV },
        [K_STATUS_SOCKET] = { "upkeep", "status_socket", V_STRING },
        [K_METRICS_SOCKET] = { "upkeep", "metrics_socket", V_STRING },
        [K_MOTD_DIR] = { "upkeep", "motd_dir", V_STRING },
        [K_RPM_OSTREE_PATH] = { "upkeep", "rpm_ostree_path", V_STRING },
        [K_PLATFORM] = { "upkeep", "platform", V_STRING },
};

/* Tables that hold keys (or other tables): anything else is unknown. */
static const char *const sections[] = {
        "agent",   "agent.timing",       "identity",         "cincinnati",
        "updates", "updates.fleet_lock", "updates.periodic", "upkeep",
};

/* The winning value of one key so far, with where it was set. */
typedef struct Raw {
        bool set;
        const char *file;
        unsigned line;
        char *s;
        int64_t i;
        double f;
        bool b;
        char **strv;
        size_t n_strv;
} Raw;

typedef struct Ctx {
        const char *file;
        Error *e;
        char **warnings;
        size_t n_warnings;
        Raw raw[_K_MAX];
        AgentConfig *c;
} Ctx;

static int bad_at(Error *e, const char *file, unsigned line, const char *key, const char *reason)
{
        return error_setf(e, -EINVAL, "%s:%u: %s: %s", file, line, key, reason);
}

static int warn_unknown(Ctx *x, const TomlValue *v, const char *key)
{
        char w[512];
        snprintf(w, sizeof(w), "%s:%u: unknown key '%s' ignored", x->file, toml_line(v), key);
        return strv_push(&x->warnings, &x->n_warnings, w);
}

static int warnf(Ctx *x, const char *fmt, ...) _printf_(2, 3);
static int warnf(Ctx *x, const char *fmt, ...)
{
        char w[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w, sizeof(w), fmt, ap);
        va_end(ap);
        return strv_push(&x->warnings, &x->n_warnings, w);
}

/* A string without embedded NULs, or NULL. */
static const char *plain_string(const TomlValue *v)
{
        size_t len;
        const char *s;
        if (toml_type(v) != TOML_STRING)
                return NULL;
        s = toml_string(v, &len);
        return len == strlen(s) ? s : NULL;
}

static int take_strings(Ctx *x, const TomlValue *v, const char *key, size_t max, char ***ret, size_t *ret_n)
{
        char **l = NULL;
        size_t n = 0;
        char reason[96];

        snprintf(reason, sizeof(reason), "must be an array of at most %zu strings", max);
        if (toml_type(v) != TOML_ARRAY || toml_array_size(v) > max)
                return bad_at(x->e, x->file, toml_line(v), key, reason);
        for (size_t i = 0; i < toml_array_size(v); i++) {
                const char *s = plain_string(toml_array_get(v, i));
                if (!s) {
                        strv_free(l);
                        return bad_at(x->e, x->file, toml_line(toml_array_get(v, i)), key, reason);
                }
                if (strv_push(&l, &n, s) < 0) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

/* Type-checks v for key k and makes it the winning value. */
static int store(Ctx *x, KeyId k, const TomlValue *v, const char *key)
{
        Raw *r = &x->raw[k];
        char **l = NULL;
        size_t n = 0;
        char *s = NULL;
        int q;

        switch (keys[k].type) {
        case V_STRING:
                if (!plain_string(v))
                        return bad_at(x->e, x->file, toml_line(v), key,
                                      toml_type(v) == TOML_STRING ? "must not contain NUL characters"
                                                                  : "must be a string");
                s = strdup(plain_string(v));
                if (!s)
                        return -ENOMEM;
                free(r->s);
                r->s = s;
                break;
        case V_INT:
                if (toml_type(v) != TOML_INTEGER)
                        return bad_at(x->e, x->file, toml_line(v), key, "must be an integer");
                r->i = toml_integer(v);
                break;
        case V_NUMBER:
                if (toml_type(v) == TOML_INTEGER)
                        r->f = (double)toml_integer(v);
                else if (toml_type(v) == TOML_FLOAT)
                        r->f = toml_float(v);
                else
                        return bad_at(x->e, x->file, toml_line(v), key, "must be a number");
                break;
        case V_BOOL:
                if (toml_type(v) != TOML_BOOLEAN)
                        return bad_at(x->e, x->file, toml_line(v), key, "must be true or false");
                r->b = toml_boolean(v);
                break;
        case V_STRV:
                q = take_strings(x, v, key, AGENT_CONFIG_MAX_ARGV, &l, &n);
                if (q < 0)
                        return q;
                strv_free(r->strv);
                r->strv = l;
                r->n_strv = n;
                break;
        }
        r->set = true;
        r->file = x->file;
        r->line = toml_line(v);
        return 0;
}

static int parse_window(Ctx *x, const TomlValue *t, size_t index)
{
        AgentConfig *c = x->c;
        AgentWindowSpec *w, *nw;
        char prefix[64], key[128];
        bool have_days = false, have_length = false;
        int r;

        snprintf(prefix, sizeof(prefix), "updates.periodic.window[%zu]", index);
        if (toml_type(t) != TOML_TABLE)
                return bad_at(x->e, x->file, toml_line(t), prefix,
                              "must be a table with days, start_time and length_minutes");
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

        for (size_t i = 0; i < toml_table_size(t); i++) {
                const char *k = toml_table_key_at(t, i);
                const TomlValue *v = toml_table_value_at(t, i);
                snprintf(key, sizeof(key), "%s.%s", prefix, k);
                r = 0;
                if (streq(k, "days")) {
                        r = take_strings(x, v, key, 64, &w->days, &w->n_days);
                        have_days = r >= 0;
                } else if (streq(k, "start_time")) {
                        const char *s = plain_string(v);
                        if (!s)
                                return bad_at(x->e, x->file, toml_line(v), key, "must be a string");
                        if (!(w->start_time = strdup(s)))
                                return -ENOMEM;
                } else if (streq(k, "length_minutes")) {
                        if (toml_type(v) != TOML_INTEGER)
                                return bad_at(x->e, x->file, toml_line(v), key, "must be an integer");
                        w->length_minutes = toml_integer(v);
                        have_length = true;
                } else
                        r = warn_unknown(x, v, key);
                if (r < 0)
                        return r;
        }
        if (!have_days || !w->start_time || !have_length)
                return bad_at(x->e, x->file, toml_line(t), prefix,
                              "needs days, start_time and length_minutes");
        return 0;
}

static bool is_section(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                if (streq(sections[i], name))
                        return true;
        return false;
}

static int walk(Ctx *x, const TomlValue *t, const char *prefix)
{
        char full[256];
        int r;

        for (size_t i = 0; i < toml_table_size(t); i++) {
                size_t klen;
                const char *k = toml_table_key_at_n(t, i, &klen);
                const TomlValue *v = toml_table_value_at(t, i);
                bool found = false;

                if (klen != strlen(k) || klen > 128) {
                        r = warn_unknown(x, v, "(unprintable)");
                        if (r < 0)
                                return r;
                        continue;
                }
                snprintf(full, sizeof(full), "%s%s%s", prefix, *prefix ? "." : "", k);

                if (is_section(full)) {
                        if (toml_type(v) != TOML_TABLE)
                                return bad_at(x->e, x->file, toml_line(v), full, "must be a table");
                        r = walk(x, v, full);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (streq(full, "updates.periodic.window")) {
                        if (toml_type(v) != TOML_ARRAY)
                                return bad_at(x->e, x->file, toml_line(v), full,
                                              "must be an array of tables ([[updates.periodic.window]])");
                        for (size_t w = 0; w < toml_array_size(v); w++) {
                                r = parse_window(x, toml_array_get(v, w), w);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                for (size_t kk = 0; kk < _K_MAX; kk++)
                        if (streq(keys[kk].section, prefix) && streq(keys[kk].key, k)) {
                                r = store(x, (KeyId)kk, v, full);
                                if (r < 0)
                                        return r;
                                found = true;
                                break;
                        }
                if (!found) {
                        r = warn_unknown(x, v, full);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

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

const char *agent_strategy_to_string(AgentStrategy s)
{
        switch (s) {
        case AGENT_STRATEGY_IMMEDIATE:
                return "immediate";
        case AGENT_STRATEGY_FLEET_LOCK:
                return "fleet_lock";
        case AGENT_STRATEGY_PERIODIC:
                return "periodic";
        }
        return NULL;
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

void agent_config_free(AgentConfig *c)
{
        if (!c)
                return;
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
        free(c);
}

static AgentConfig *config_new(void)
{
        AgentConfig *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->steady_interval_secs = AGENT_DEFAULT_STEADY_INTERVAL_SECS;
        c->updates_enabled = true;
        c->strategy = AGENT_STRATEGY_IMMEDIATE;
        c->os_backend = AGENT_OS_BACKEND_OSTREE;
        c->reboot_method = AGENT_REBOOT_LOGIND;
        if (!(c->group = strdup("default")) || !(c->time_zone = strdup("UTC")) ||
            !(c->sysroot = strdup("/")) || !(c->remote = strdup("origin")) ||
            !(c->stream_metadata_key = strdup(AGENT_DEFAULT_STREAM_METADATA_KEY)) ||
            !(c->status_socket = strdup(AGENT_DEFAULT_STATUS_SOCKET)) ||
            !(c->metrics_socket = strdup(AGENT_DEFAULT_METRICS_SOCKET)) ||
            !(c->motd_dir = strdup(AGENT_DEFAULT_MOTD_DIR))) {
                agent_config_free(c);
                return NULL;
        }
        return c;
}

static const char *key_name(KeyId k, char *buf, size_t n)
{
        snprintf(buf, n, "%s.%s", keys[k].section, keys[k].key);
        return buf;
}

static int bad_raw(Ctx *x, KeyId k, const char *reason)
{
        char kn[96];
        return bad_at(x->e, x->raw[k].file, x->raw[k].line, key_name(k, kn, sizeof(kn)), reason);
}

/* Moves the winning string of k into *dst. */
static void take_string(Ctx *x, KeyId k, char **dst)
{
        if (!x->raw[k].set)
                return;
        free(*dst);
        *dst = TAKE_PTR(x->raw[k].s);
}

static int check_url(Ctx *x, KeyId k, const char *required_reason)
{
        _cleanup_free_ char *u = NULL;
        char kn[96];
        int r;

        if (!x->raw[k].set)
                return error_setf(x->e, -EINVAL, "%s: %s", key_name(k, kn, sizeof(kn)), required_reason);
        r = agent_config_expand_url(x->raw[k].s, "x86_64", "default", "metal", "stable", &u, x->e);
        if (r < 0)
                return r == -ENOMEM ? r
                                    : error_prefixf(x->e, r, "%s:%u: %s", x->raw[k].file, x->raw[k].line,
                                                    key_name(k, kn, sizeof(kn)));
        return 0;
}

static int window_bad(Ctx *x, const AgentWindowSpec *w, const char *what, const char *reason)
{
        char key[128];
        snprintf(key, sizeof(key), "updates.periodic.window[%zu].%s", w->index, what);
        return bad_at(x->e, w->file, w->line, key, reason);
}

static int build_calendar(Ctx *x)
{
        AgentConfig *c = x->c;
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
                                return window_bad(x, w, what, reason);
                        }
                        if (!seen[day]) {
                                seen[day] = true;
                                days[n++] = day;
                        }
                }
                if (calendar_parse_time(w->start_time, &start) < 0) {
                        snprintf(reason, sizeof(reason), "'%.64s' is not HH:MM", w->start_time);
                        return window_bad(x, w, "start_time", reason);
                }
                if (w->length_minutes < 1 || w->length_minutes > CALENDAR_MINUTES_PER_WEEK)
                        return window_bad(x, w, "length_minutes", "must be an integer between 1 and 10080");
                if (n == 0)
                        continue;
                r = calendar_add_window(cal, days, (size_t)n, start, (int)w->length_minutes, &ce);
                if (r == -E2BIG)
                        return error_setf(x->e, r,
                                          "%s:%u: updates.periodic.window[%zu]: more than %d (day, "
                                          "start) pairs in all",
                                          w->file, w->line, w->index, CALENDAR_MAX_INTERVALS);
                if (r < 0)
                        return r == -ENOMEM ? r
                                            : error_setf(x->e, r, "%s:%u: %s", w->file, w->line, ce.message);
        }
        if (calendar_is_empty(cal))
                return error_setf(x->e, -EINVAL,
                                  "updates.periodic.window: strategy %s needs at least one "
                                  "periodic window with days (none configured)",
                                  c->strategy == AGENT_STRATEGY_PERIODIC ? "periodic"
                                                                         : "fleet_lock with "
                                                                           "only_in_periodic_windows");
        c->calendar = TAKE_PTR(cal);
        return 0;
}

/* Validates the winning values and moves them into the configuration. */
static int finish(Ctx *x)
{
        AgentConfig *c = x->c;
        Raw *raw = x->raw;
        bool calendar_used;
        int r;

        if (raw[K_STEADY_INTERVAL].set) {
                if (raw[K_STEADY_INTERVAL].i < 1 || raw[K_STEADY_INTERVAL].i > UINT32_MAX)
                        return bad_raw(x, K_STEADY_INTERVAL, "must be an integer between 1 and 4294967295");
                c->steady_interval_secs = (uint64_t)raw[K_STEADY_INTERVAL].i;
        }
        if (raw[K_GROUP].set) {
                if (!agent_group_valid(raw[K_GROUP].s))
                        return bad_raw(x, K_GROUP, "must match ^[a-zA-Z0-9.-]+$");
                take_string(x, K_GROUP, &c->group);
        }
        if (raw[K_NODE_UUID].set) {
                char id[33];
                if (parse_id128(raw[K_NODE_UUID].s, id) < 0)
                        return bad_raw(x, K_NODE_UUID, "must be a 128-bit id of 32 hexadecimal digits");
                if (!(c->node_uuid = strdup(id)))
                        return -ENOMEM;
        }
        if (raw[K_WARINESS].set) {
                double w = raw[K_WARINESS].f;
                if (!isfinite(w) || w < 0.0 || w > 1.0)
                        return bad_raw(x, K_WARINESS, "must be a number between 0.0 and 1.0");
                c->has_rollout_wariness = true;
                c->rollout_wariness = w;
        }
        if (raw[K_ENABLED].set)
                c->updates_enabled = raw[K_ENABLED].b;
        if (raw[K_ALLOW_DOWNGRADE].set)
                c->allow_downgrade = raw[K_ALLOW_DOWNGRADE].b;
        if (raw[K_STRATEGY].set) {
                const char *s = raw[K_STRATEGY].s;
                if (streq(s, "immediate"))
                        c->strategy = AGENT_STRATEGY_IMMEDIATE;
                else if (streq(s, "fleet_lock"))
                        c->strategy = AGENT_STRATEGY_FLEET_LOCK;
                else if (streq(s, "periodic"))
                        c->strategy = AGENT_STRATEGY_PERIODIC;
                else
                        return bad_raw(x, K_STRATEGY, "must be one of immediate, fleet_lock, periodic");
        }
        if (raw[K_ONLY_IN_WINDOWS].set)
                c->only_in_periodic_windows = raw[K_ONLY_IN_WINDOWS].b;
        if (c->updates_enabled) {
                r = check_url(x, K_CINCINNATI_URL, "must be set when updates are enabled");
                if (r < 0)
                        return r;
        }
        take_string(x, K_CINCINNATI_URL, &c->cincinnati_base_url);
        if (c->updates_enabled && c->strategy == AGENT_STRATEGY_FLEET_LOCK) {
                r = check_url(x, K_FLEET_LOCK_URL, "must be set with strategy fleet_lock");
                if (r < 0)
                        return r;
        }
        take_string(x, K_FLEET_LOCK_URL, &c->fleet_lock_base_url);
        if (c->only_in_periodic_windows && c->strategy != AGENT_STRATEGY_FLEET_LOCK) {
                r = warnf(x,
                          "%s:%u: updates.fleet_lock.only_in_periodic_windows: has no effect unless "
                          "updates.strategy is fleet_lock",
                          raw[K_ONLY_IN_WINDOWS].file, raw[K_ONLY_IN_WINDOWS].line);
                if (r < 0)
                        return r;
        }

        calendar_used = c->updates_enabled &&
                        (c->strategy == AGENT_STRATEGY_PERIODIC ||
                         (c->strategy == AGENT_STRATEGY_FLEET_LOCK && c->only_in_periodic_windows));
        if (calendar_used && raw[K_TIME_ZONE].set && !streq(raw[K_TIME_ZONE].s, "localtime") &&
            !zone_name_valid(raw[K_TIME_ZONE].s))
                return bad_raw(x, K_TIME_ZONE, "must be \"localtime\" or an IANA time zone name");
        take_string(x, K_TIME_ZONE, &c->time_zone);
        if (calendar_used) {
                r = build_calendar(x);
                if (r < 0)
                        return r;
        }

        if (raw[K_OS_BACKEND].set) {
                if (streq(raw[K_OS_BACKEND].s, "ostree"))
                        c->os_backend = AGENT_OS_BACKEND_OSTREE;
                else if (streq(raw[K_OS_BACKEND].s, "rpm-ostree"))
                        c->os_backend = AGENT_OS_BACKEND_RPM_OSTREE;
                else
                        return bad_raw(x, K_OS_BACKEND, "must be \"ostree\" or \"rpm-ostree\"");
        }
        if (raw[K_SYSROOT].set && !absolute_path(raw[K_SYSROOT].s))
                return bad_raw(x, K_SYSROOT, "must be an absolute path");
        take_string(x, K_SYSROOT, &c->sysroot);
        if (raw[K_OSNAME].set && (!*raw[K_OSNAME].s || strchr(raw[K_OSNAME].s, '/') ||
                                  streq(raw[K_OSNAME].s, ".") || streq(raw[K_OSNAME].s, "..")))
                return bad_raw(x, K_OSNAME, "must be a non-empty name without '/'");
        take_string(x, K_OSNAME, &c->osname);
        if (raw[K_REMOTE].set && (!*raw[K_REMOTE].s || strchr(raw[K_REMOTE].s, '/')))
                return bad_raw(x, K_REMOTE, "must be a non-empty ostree remote name without '/'");
        take_string(x, K_REMOTE, &c->remote);
        if (raw[K_STREAM_KEY].set && !*raw[K_STREAM_KEY].s)
                return bad_raw(x, K_STREAM_KEY, "must not be empty");
        take_string(x, K_STREAM_KEY, &c->stream_metadata_key);
        if (raw[K_REBOOT_METHOD].set) {
                if (streq(raw[K_REBOOT_METHOD].s, "logind"))
                        c->reboot_method = AGENT_REBOOT_LOGIND;
                else if (streq(raw[K_REBOOT_METHOD].s, "command"))
                        c->reboot_method = AGENT_REBOOT_COMMAND;
                else
                        return bad_raw(x, K_REBOOT_METHOD, "must be \"logind\" or \"command\"");
        }
        if (raw[K_REBOOT_COMMAND].set) {
                if (raw[K_REBOOT_COMMAND].n_strv == 0 || !absolute_path(raw[K_REBOOT_COMMAND].strv[0]))
                        return bad_raw(x, K_REBOOT_COMMAND,
                                       "must be a non-empty array whose first string is an absolute path");
                c->reboot_command = TAKE_PTR(raw[K_REBOOT_COMMAND].strv);
                c->n_reboot_command = raw[K_REBOOT_COMMAND].n_strv;
        }
        if (c->reboot_method == AGENT_REBOOT_COMMAND && !c->reboot_command)
                return error_setf(x->e, -EINVAL,
                                  "upkeep.reboot_command: must be set with reboot_method "
                                  "\"command\"");
        /* sockaddr_un.sun_path holds 108 bytes, NUL included. */
        if (raw[K_STATUS_SOCKET].set &&
            (!absolute_path(raw[K_STATUS_SOCKET].s) || strlen(raw[K_STATUS_SOCKET].s) > 107))
                return bad_raw(x, K_STATUS_SOCKET, "must be an absolute path of at most 107 bytes");
        take_string(x, K_STATUS_SOCKET, &c->status_socket);
        if (raw[K_METRICS_SOCKET].set &&
            (!absolute_path(raw[K_METRICS_SOCKET].s) || strlen(raw[K_METRICS_SOCKET].s) > 107))
                return bad_raw(x, K_METRICS_SOCKET, "must be an absolute path of at most 107 bytes");
        take_string(x, K_METRICS_SOCKET, &c->metrics_socket);
        if (raw[K_MOTD_DIR].set && !absolute_path(raw[K_MOTD_DIR].s))
                return bad_raw(x, K_MOTD_DIR, "must be an absolute path");
        take_string(x, K_MOTD_DIR, &c->motd_dir);
        if (raw[K_RPM_OSTREE_PATH].set && !absolute_path(raw[K_RPM_OSTREE_PATH].s))
                return bad_raw(x, K_RPM_OSTREE_PATH, "must be an absolute path");
        take_string(x, K_RPM_OSTREE_PATH, &c->rpm_ostree_path);
        if (raw[K_PLATFORM].set) {
                const char *v = raw[K_PLATFORM].s;
                bool ok = *v && strlen(v) <= 256;
                for (const char *q = v; ok && *q; q++)
                        ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                             (*q >= '0' && *q <= '9') || *q == '-' || *q == '_' || *q == '.';
                if (!ok)
                        return bad_raw(x, K_PLATFORM, "must be 1..256 of [A-Za-z0-9._-]");
        }
        take_string(x, K_PLATFORM, &c->platform);
        return 0;
}

int agent_config_merge(const AgentFragment *fragments, size_t n, AgentConfig **ret, char ***ret_warnings,
                       Error *e)
{
        Ctx x = { .e = e };
        int r = 0;

        if (n > AGENT_CONFIG_MAX_FRAGMENTS)
                return error_setf(e, -E2BIG, "more than %d configuration fragments",
                                  AGENT_CONFIG_MAX_FRAGMENTS);
        x.c = config_new();
        if (!x.c)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_toml_ TomlValue *root = NULL;
                TomlError te = { 0 };

                x.file = fragments[i].path;
                r = toml_parse(fragments[i].data, fragments[i].len, &root, &te);
                if (r < 0) {
                        r = r == -ENOMEM ? r
                                         : error_setf(e, -EINVAL, "%s:%u:%u: %s", x.file, te.line, te.column,
                                                      te.message);
                        break;
                }
                r = walk(&x, root, "");
        }
        if (r >= 0)
                r = finish(&x);

        for (size_t k = 0; k < _K_MAX; k++) {
                free(x.raw[k].s);
                strv_free(x.raw[k].strv);
        }
        if (r < 0) {
                strv_free(x.warnings);
                agent_config_free(x.c);
                return r;
        }
        *ret = x.c;
        if (ret_warnings)
                *ret_warnings = x.warnings;
        else
                strv_free(x.warnings);
        return 0;
}
