/* lock-config.c — parsing and validation of upkeep-lock's configuration (see lock-config.h): its keys
 * as tables (config-util.h), the groups' defaults and the rules between keys. */
#include "lock-config.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-util.h"
#include "lock-request.h"
#include "macros.h"
#include "strutil.h"

static void config_clear(LockConfig *c)
{
        free(c->address);
        free(c->tls_cert_path);
        free(c->tls_key_path);
        free(c->tls_priorities);
        free(c->status_address);
        free(c->sqlite_path);
        strv_free(c->etcd_endpoints);
        free(c->etcd_cert_path);
        free(c->etcd_key_path);
        free(c->etcd_ca_path);
        free(c->admin_token);
        free(c->admin_token_file);
        free(c->node_tokens_file);
        lock_node_tokens_free(c->node_tokens);
        free(c->default_group);
        for (size_t i = 0; i < c->n_groups; i++) {
                LockGroupConfig *g = &c->groups[i];
                free(g->name);
                free(g->time_zone);
                for (size_t k = 0; k < g->n_windows; k++) {
                        strv_free(g->windows[k].days);
                        free(g->windows[k].start_time);
                }
                free(g->windows);
                strv_free(g->client_tokens);
        }
        free(c->groups);
}

void lock_config_free(LockConfig *c)
{
        if (!c)
                return;
        config_clear(c);
        free(c);
}

int lock_config_generated_token_path(const LockConfig *c, char **ret)
{
        const char *slash;
        char *p;

        assert(c);
        assert(ret);
        if (c->admin_token || c->admin_token_file || !c->generate_admin_token) {
                *ret = NULL;
                return 0;
        }
        slash = strrchr(c->sqlite_path, '/');
        if (!slash)
                p = strdup(LOCK_GENERATED_TOKEN_NAME);
        else if (asprintf(&p, "%.*s/" LOCK_GENERATED_TOKEN_NAME, (int)(slash - c->sqlite_path),
                          c->sqlite_path) < 0)
                p = NULL;
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

const LockGroupConfig *lock_config_find_group(const LockConfig *c, const char *name)
{
        for (size_t i = 0; i < c->n_groups; i++)
                if (streq(c->groups[i].name, name))
                        return &c->groups[i];
        return NULL;
}

static bool strv_same(char *const *a, size_t n_a, char *const *b, size_t n_b)
{
        if (n_a != n_b)
                return false;
        for (size_t i = 0; i < n_a; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

/* Optional strings: unset and empty are the same ("" is how Airlock's file leaves a path out). */
static bool opt_same(const char *a, const char *b)
{
        return streq(a ?: "", b ?: "");
}

int lock_config_restart_keys(const LockConfig *running, const LockConfig *next, char ***ret)
{
        assert(running && next && ret);

        const LockConfig *a = running, *b = next;
        const struct {
                const char *key;
                bool differs;
        } keys[] = {
                { "[service] address", !opt_same(a->address, b->address) },
                { "[service] port", a->port != b->port },
                { "[service] tls", a->tls != b->tls },
                { "[service] tls_cert_path", !opt_same(a->tls_cert_path, b->tls_cert_path) },
                { "[service] tls_key_path", !opt_same(a->tls_key_path, b->tls_key_path) },
                { "[service] threads", a->threads != b->threads },
                { "[service] max_connections", a->max_connections != b->max_connections },
                { "[service] max_connections_per_address",
                  a->max_connections_per_address != b->max_connections_per_address },
                { "[service] request_timeout_secs", a->request_timeout_secs != b->request_timeout_secs },
                { "[service] tls_priorities", !opt_same(a->tls_priorities, b->tls_priorities) },
                { "[auth] node_tokens_file", !opt_same(a->node_tokens_file, b->node_tokens_file) },
                { "[status] enabled", a->status_enabled != b->status_enabled },
                { "[status] address", !opt_same(a->status_address, b->status_address) },
                { "[status] port", a->status_port != b->status_port },
                { "[etcd3] endpoints", !strv_same(a->etcd_endpoints, a->n_etcd_endpoints, b->etcd_endpoints,
                                                  b->n_etcd_endpoints) },
                { "[etcd3] transaction_timeout_ms", a->etcd_timeout_ms != b->etcd_timeout_ms },
                { "[etcd3] client_cert_pub_path", !opt_same(a->etcd_cert_path, b->etcd_cert_path) },
                { "[etcd3] client_cert_key_path", !opt_same(a->etcd_key_path, b->etcd_key_path) },
                { "[etcd3] ca_path", !opt_same(a->etcd_ca_path, b->etcd_ca_path) },
                { "[backend] type", a->backend != b->backend },
                { "[backend] sqlite_path", !opt_same(a->sqlite_path, b->sqlite_path) },
        };
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                char **nl;
                if (!keys[i].differs)
                        continue;
                nl = realloc(l, (n + 2) * sizeof(char *));
                if (!nl)
                        return -ENOMEM;
                l = nl;
                l[n] = strdup(keys[i].key);
                if (!l[n])
                        return -ENOMEM;
                l[++n] = NULL;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* The defaults; the caller clears c on failure. */
static int config_init(LockConfig *c)
{
        *c = (LockConfig){
                .port = LOCK_DEFAULT_PORT,
                .threads = 2, /* requests waiting for a write hold no thread: threads only parse and send */
                .max_connections = 4096,
                .max_connections_per_address = 32,
                .request_timeout_secs = 10,
                .status_port = 2222,
                .etcd_timeout_ms = 3000,
                .backend = LOCK_BACKEND_SQLITE,
                .generate_admin_token = true,
        };
        if (!(c->address = strdup("::")) || !(c->status_address = strdup("127.0.0.1")) ||
            !(c->sqlite_path = strdup(LOCK_DEFAULT_SQLITE_PATH)) || !(c->default_group = strdup("default")))
                return -ENOMEM;
        return 0;
}

static int group_add(LockConfig *c, const char *name, const GroupPolicy *defaults, LockGroupConfig **ret)
{
        LockGroupConfig *n, *g;

        if (c->n_groups >= LOCK_MAX_GROUPS)
                return -E2BIG;
        n = realloc(c->groups, (c->n_groups + 1) * sizeof(LockGroupConfig));
        if (!n)
                return -ENOMEM;
        c->groups = n;
        g = &n[c->n_groups];
        *g = (LockGroupConfig){ .policy = *defaults };
        if (!(g->name = strdup(name)) || !(g->time_zone = strdup("UTC"))) {
                free(g->name);
                return -ENOMEM;
        }
        c->n_groups++;
        *ret = g;
        return 0;
}

int lock_config_default(LockConfig **ret)
{
        GroupPolicy p = { .slots = 1 };
        LockGroupConfig *g;
        LockConfig *c = calloc(1, sizeof(*c));

        if (!c || config_init(c) < 0 || group_add(c, "default", &p, &g) < 0) {
                lock_config_free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

/* A parse in progress: the configuration, and what it reads besides. */
typedef struct LockParse {
        LockConfig c;
        GroupPolicy defaults;    /* of the groups: [lock] default_slots, ... */
        const TomlValue *lock;   /* [lock], read after the other tables */
        const TomlValue *groups; /* [[lock.groups]], read after the rest of [lock] */
} LockParse;

static const char *check_group_name(const void *field)
{
        return lock_group_name_valid(*(char *const *)field)
                       ? NULL
                       : "must be 1-255 bytes of UTF-8 without control characters";
}

static int keep_lock(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *target)
{
        ((LockParse *)target)->lock = v;
        return 0;
}

static int keep_groups(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *target)
{
        if (toml_type(v) != TOML_ARRAY)
                return config_bad(x, v, key, "must be an array of tables ([[lock.groups]])");
        ((LockParse *)target)->groups = v;
        return 0;
}

static const char *const backend_names[] = {
        [LOCK_BACKEND_SQLITE] = "sqlite", [LOCK_BACKEND_ETCD3] = "etcd3", NULL
};

/* backend.type: a non-empty string among backend_names. */
static int parse_backend_type(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key,
                              void *target)
{
        static const ConfigKey type =
                CONFIG_KEY("type", CONFIG_ENUM, LockParse, c.backend, .names = backend_names);
        size_t len;

        if (toml_type(v) == TOML_STRING && (toml_string(v, &len), len == 0))
                return config_bad(x, v, key, "must not be empty");
        return config_parse_value(x, &type, v, key, target);
}

/* Every table but [lock] (Airlock's [service], [status], [etcd3]; Upkeep's [backend], [auth]). */
static const ConfigKey lock_keys[] = {
        CONFIG_KEY("service.address", CONFIG_ADDRESS, LockParse, c.address),
        CONFIG_KEY("service.port", CONFIG_INT, LockParse, c.port, .min = 0, .max = 65535),
        CONFIG_KEY("service.tls", CONFIG_BOOL, LockParse, c.tls),
        CONFIG_KEY("service.tls_cert_path", CONFIG_STRING, LockParse, c.tls_cert_path),
        CONFIG_KEY("service.tls_key_path", CONFIG_STRING, LockParse, c.tls_key_path),
        CONFIG_KEY("service.threads", CONFIG_INT, LockParse, c.threads, .min = 1, .max = 64),
        CONFIG_KEY("service.max_connections", CONFIG_INT, LockParse, c.max_connections, .min = 1,
                   .max = 100000),
        CONFIG_KEY("service.max_connections_per_address", CONFIG_INT, LockParse,
                   c.max_connections_per_address, .min = 1, .max = 100000),
        CONFIG_KEY("service.request_timeout_secs", CONFIG_INT, LockParse, c.request_timeout_secs, .min = 1,
                   .max = 3600),
        CONFIG_KEY("service.tls_priorities", CONFIG_STRING, LockParse, c.tls_priorities),
        CONFIG_KEY("status.enabled", CONFIG_BOOL, LockParse, c.status_enabled),
        CONFIG_KEY("status.address", CONFIG_ADDRESS, LockParse, c.status_address),
        CONFIG_KEY("status.port", CONFIG_INT, LockParse, c.status_port, .min = 0, .max = 65535),
        /* in Airlock's example; Airlock reads it and serves its status endpoint over plain HTTP anyway */
        CONFIG_KEY("status.tls", CONFIG_BOOL, LockParse, c.status_tls),
        CONFIG_KEY("etcd3.endpoints", CONFIG_STRINGS, LockParse, c.etcd_endpoints, .max = 32,
                   CONFIG_COUNT(LockParse, c.n_etcd_endpoints), .check = config_check_http_urls),
        CONFIG_KEY("etcd3.transaction_timeout_ms", CONFIG_INT, LockParse, c.etcd_timeout_ms, .min = 1,
                   .max = 600000),
        /* "" leaves a path out, as in Airlock's file */
        CONFIG_KEY("etcd3.client_cert_pub_path", CONFIG_STRING_OR_EMPTY, LockParse, c.etcd_cert_path),
        CONFIG_KEY("etcd3.client_cert_key_path", CONFIG_STRING_OR_EMPTY, LockParse, c.etcd_key_path),
        CONFIG_KEY("etcd3.ca_path", CONFIG_STRING_OR_EMPTY, LockParse, c.etcd_ca_path),
        CONFIG_KEY_CUSTOM("backend.type", parse_backend_type),
        CONFIG_KEY("backend.sqlite_path", CONFIG_STRING, LockParse, c.sqlite_path),
        CONFIG_KEY("auth.admin_token", CONFIG_STRING, LockParse, c.admin_token),
        CONFIG_KEY("auth.admin_token_file", CONFIG_STRING, LockParse, c.admin_token_file),
        CONFIG_KEY("auth.generate_admin_token", CONFIG_BOOL, LockParse, c.generate_admin_token),
        CONFIG_KEY("auth.node_tokens_file", CONFIG_STRING, LockParse, c.node_tokens_file),
        CONFIG_KEY_CUSTOM("lock", keep_lock),
};

/* [lock] */
static const ConfigKey lock_section_keys[] = {
        CONFIG_KEY("default_group_name", CONFIG_STRING, LockParse, c.default_group,
                   .check = check_group_name),
        CONFIG_KEY("default_slots", CONFIG_INT, LockParse, defaults.slots, .min = 1,
                   .max = SEMAPHORE_MAX_SLOTS),
        CONFIG_KEY("default_max_hold_secs", CONFIG_INT, LockParse, defaults.max_hold_secs, .min = 0,
                   .max = INT64_C(1) << 32),
        CONFIG_KEY("default_settle_secs", CONFIG_INT, LockParse, defaults.settle_secs, .min = 0,
                   .max = 86400),
        CONFIG_KEY_CUSTOM("groups", keep_groups),
};

/* [[lock.groups.window]] */
static const ConfigKey window_keys[] = {
        CONFIG_KEY("days", CONFIG_STRINGS, LockWindowSpec, days, .max = 7),
        CONFIG_KEY("start_time", CONFIG_STRING, LockWindowSpec, start_time),
        CONFIG_KEY("length_minutes", CONFIG_INT, LockWindowSpec, length_minutes, .min = 1, .max = 10080),
};

static int parse_window(ConfigCtx *x, const TomlValue *t, const char *prefix, LockWindowSpec *w)
{
        int r;

        w->line = toml_line(t);
        if (toml_type(t) != TOML_TABLE)
                return config_bad(x, t, prefix, "must be a table with days, start_time and length_minutes");
        r = config_parse_table(x, t, prefix, window_keys, ELEMENTSOF(window_keys), w, NULL);
        if (r < 0)
                return r;
        if (!w->days || !w->days[0] || !w->start_time || !w->length_minutes)
                return config_bad(x, t, prefix, "needs days, start_time and length_minutes");
        return 0;
}

static int parse_windows(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *target)
{
        LockGroupConfig *g = target;
        size_t nw = toml_array_size(v);
        int r;

        if (toml_type(v) != TOML_ARRAY || nw > 64)
                return config_bad(x, v, key, "must be an array of tables ([[lock.groups.window]])");
        g->windows = calloc(nw + 1, sizeof(LockWindowSpec));
        if (!g->windows)
                return -ENOMEM;
        for (size_t w = 0; w < nw; w++) {
                char wk[300];
                g->n_windows = w + 1;
                snprintf(wk, sizeof(wk), "%s[%zu]", key, w);
                r = parse_window(x, toml_array_get(v, w), wk, &g->windows[w]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* [[lock.groups]] */
static const ConfigKey group_keys[] = {
        CONFIG_KEY("name", CONFIG_STRING, LockGroupConfig, name), /* checked before (parse_group) */
        CONFIG_KEY("slots", CONFIG_INT, LockGroupConfig, policy.slots, .min = 1, .max = SEMAPHORE_MAX_SLOTS),
        CONFIG_KEY("max_hold_secs", CONFIG_INT, LockGroupConfig, policy.max_hold_secs, .min = 0,
                   .max = INT64_C(1) << 32),
        CONFIG_KEY("settle_secs", CONFIG_INT, LockGroupConfig, policy.settle_secs, .min = 0, .max = 86400),
        CONFIG_KEY("paused", CONFIG_BOOL, LockGroupConfig, policy.paused),
        CONFIG_KEY("time_zone", CONFIG_STRING, LockGroupConfig, time_zone),
        CONFIG_KEY("client_tokens", CONFIG_STRINGS, LockGroupConfig, client_tokens, .max = 64,
                   CONFIG_COUNT(LockGroupConfig, n_client_tokens)),
        CONFIG_KEY_CUSTOM("window", parse_windows),
};

/* One [[lock.groups]] table. */
static int parse_group(ConfigCtx *x, LockConfig *c, const TomlValue *t, size_t index,
                       const GroupPolicy *defaults)
{
        char prefix[300];
        const TomlValue *name = toml_table_get(t, "name");
        LockGroupConfig *g = NULL;
        int r;

        snprintf(prefix, sizeof(prefix), "lock.groups[%zu]", index);
        if (toml_type(t) != TOML_TABLE)
                return config_bad(x, t, prefix, "must be a table");
        if (!name || toml_type(name) != TOML_STRING || !lock_group_name_valid(toml_string(name, NULL)))
                return config_bad(
                        x, name ? name : t, prefix,
                        "needs a name (the FleetLock group) of 1-255 bytes of UTF-8 without control "
                        "characters");
        /* Names are unique here: the caller skips entries a later one or the default group overrides. */
        r = group_add(c, toml_string(name, NULL), defaults, &g);
        if (r < 0)
                return r == -E2BIG ? config_bad(x, t, prefix, "too many groups") : r;
        snprintf(prefix, sizeof(prefix), "lock.groups[%s]", g->name);
        return config_parse_table(x, t, prefix, group_keys, ELEMENTSOF(group_keys), g, NULL);
}

/* The name of [[lock.groups]] entry i, or NULL when it has none (parse_group reports that). */
static const char *entry_name(const TomlValue *groups, size_t i)
{
        const TomlValue *t = toml_array_get(groups, i);
        const TomlValue *name = toml_type(t) == TOML_TABLE ? toml_table_get(t, "name") : NULL;

        return name && toml_type(name) == TOML_STRING ? toml_string(name, NULL) : NULL;
}

/* The index of a later [[lock.groups]] entry with the same name as entry i, or 0 when none. */
static size_t entry_overridden_by(const TomlValue *groups, size_t i)
{
        const char *name = entry_name(groups, i);

        for (size_t j = toml_array_size(groups); name && j > i + 1; j--)
                if (streq_ptr(entry_name(groups, j - 1), name))
                        return j - 1;
        return 0;
}

/* Airlock fills a map from the entries in order, then sets the default group from [lock]: a later entry
 * with the same name replaces an earlier one, and an entry naming the default group is replaced whole
 * (its slots and every other key). Returns 1 (with a warning) when entry i is skipped, 0 when not. */
static int entry_skipped(ConfigCtx *x, const LockParse *p, size_t i)
{
        const char *name = entry_name(p->groups, i);
        const TomlValue *name_value;
        size_t j;
        int r;

        if (!name || !lock_group_name_valid(name))
                return 0; /* parse_group reports it */
        name_value = toml_table_get(toml_array_get(p->groups, i), "name");
        j = entry_overridden_by(p->groups, i);
        if (j > 0)
                r = config_warnf(x,
                                 "%s:%u: lock.groups[%zu]: group '%s' is listed again in lock.groups[%zu], "
                                 "which replaces this entry (as in Airlock)",
                                 x->file, toml_line(name_value), i, name, j);
        else if (streq(name, p->c.default_group))
                r = config_warnf(x,
                                 "%s:%u: lock.groups[%zu]: '%s' is the default group, which [lock] "
                                 "default_slots, default_max_hold_secs and default_settle_secs configure: "
                                 "this entry is ignored (as in Airlock)",
                                 x->file, toml_line(name_value), i, name);
        else
                return 0;
        return r < 0 ? r : 1;
}

/* [lock], then the groups: the default one always exists, configured by [lock] only (as in Airlock). */
static int parse_lock(ConfigCtx *x, LockParse *p)
{
        LockGroupConfig *g;
        int r;

        if (p->lock) {
                r = config_parse_table(x, p->lock, "lock", lock_section_keys, ELEMENTSOF(lock_section_keys),
                                       p, NULL);
                if (r < 0)
                        return r;
        }
        r = group_add(&p->c, p->c.default_group, &p->defaults, &g);
        if (r < 0)
                return r;
        for (size_t i = 0; p->groups && i < toml_array_size(p->groups); i++) {
                r = entry_skipped(x, p, i);
                if (r != 0) {
                        if (r < 0)
                                return r;
                        continue;
                }
                r = parse_group(x, &p->c, toml_array_get(p->groups, i), i, &p->defaults);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The rules between keys. */
static int check_config(const LockConfig *c, const char *filename, Error *e)
{
        if (c->backend == LOCK_BACKEND_ETCD3 && c->n_etcd_endpoints == 0)
                return error_setf(e, -EINVAL,
                                  "%s: etcd3.endpoints: the etcd3 backend needs at least one endpoint",
                                  filename);
        if (c->tls && (!c->tls_cert_path || !c->tls_key_path))
                return error_setf(
                        e, -EINVAL,
                        "%s: service.tls: TLS needs service.tls_cert_path and service.tls_key_path",
                        filename);
        if (!!(c->etcd_cert_path && *c->etcd_cert_path) != !!(c->etcd_key_path && *c->etcd_key_path))
                return error_setf(e, -EINVAL,
                                  "%s: etcd3: client_cert_pub_path and client_cert_key_path go together",
                                  filename);
        if (c->admin_token && c->admin_token_file)
                return error_setf(e, -EINVAL, "%s: auth: set admin_token or admin_token_file, not both",
                                  filename);
        return 0;
}

int lock_config_parse(const char *data, size_t len, const char *filename, LockConfig **ret,
                      char ***ret_warnings, Error *e)
{
        _cleanup_toml_ TomlValue *root = NULL;
        ConfigCtx x = { .file = filename, .e = e };
        ConfigSource sources[ELEMENTSOF(lock_keys)] = {};
        LockParse p = { .defaults = { .slots = 1 } };
        LockConfig *c = NULL;
        int r;

        r = config_parse_toml(data, len, filename, &root, e);
        if (r < 0)
                return r;
        r = config_init(&p.c);
        if (r >= 0)
                r = config_parse_table(&x, root, NULL, lock_keys, ELEMENTSOF(lock_keys), &p, sources);
        if (r >= 0)
                r = parse_lock(&x, &p);
        /* An Airlock configuration (it has [etcd3]) keeps using etcd unless [backend] says otherwise. */
        if (r >= 0 && toml_table_size(toml_table_get(root, "etcd3")) > 0 &&
            !config_find_source(lock_keys, ELEMENTSOF(lock_keys), sources, "backend.type")->set)
                p.c.backend = LOCK_BACKEND_ETCD3;
        if (r >= 0)
                r = check_config(&p.c, filename, e);
        if (r >= 0 && !(c = malloc(sizeof(*c))))
                r = -ENOMEM;
        if (r < 0) {
                config_take_warnings(&x, NULL);
                config_clear(&p.c);
                return r;
        }
        *c = p.c;
        *ret = c;
        config_take_warnings(&x, ret_warnings);
        return 0;
}

void lock_node_tokens_free(LockNodeTokens *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n; i++) {
                free(t->items[i].node);
                free(t->items[i].token);
        }
        free(t->items);
        free(t);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(LockNodeTokens *, lock_node_tokens_free);

/* The next field of a line: printable ASCII up to a space or tab, NULL when there is none. */
static char *next_field(const char **p, const char *end)
{
        const char *start;

        while (*p < end && (**p == ' ' || **p == '\t'))
                (*p)++;
        start = *p;
        while (*p<end &&* * p> ' ' && **p < 0x7f)
                (*p)++;
        return *p > start ? strndup(start, (size_t)(*p - start)) : NULL;
}

/* Adds the entry of one line (from p to end), checking it against the ones before. */
static int node_tokens_add(LockNodeTokens *t, const char *p, const char *end, const char *filename,
                           unsigned line, Error *e)
{
        _cleanup_free_ char *node = next_field(&p, end), *token = next_field(&p, end);
        LockNodeToken *items;

        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
                p++;
        if (!node || !token || p < end)
                return error_setf(e, -EINVAL, "%s:%u: expected NODE_ID TOKEN (printable, no spaces)",
                                  filename, line);
        if (strlen(token) < LOCK_NODE_TOKEN_MIN_LEN)
                return error_setf(e, -EINVAL, "%s:%u: the token of %s is shorter than %d characters",
                                  filename, line, node, LOCK_NODE_TOKEN_MIN_LEN);
        for (size_t i = 0; i < t->n; i++) {
                if (streq(t->items[i].node, node))
                        return error_setf(e, -EINVAL, "%s:%u: node %s is listed twice", filename, line,
                                          node);
                if (streq(t->items[i].token, token))
                        return error_setf(e, -EINVAL, "%s:%u: the token of %s is also %s's", filename, line,
                                          node, t->items[i].node);
        }
        if (t->n >= LOCK_NODE_TOKENS_MAX)
                return error_setf(e, -E2BIG, "%s:%u: more than %d nodes", filename, line,
                                  LOCK_NODE_TOKENS_MAX);
        items = reallocarray(t->items, t->n + 1, sizeof(*items));
        if (!items)
                return error_setf(e, -ENOMEM, "%s: out of memory", filename);
        t->items = items;
        t->items[t->n++] = (LockNodeToken){ .node = TAKE_PTR(node), .token = TAKE_PTR(token) };
        return 0;
}

int lock_node_tokens_parse(const char *data, size_t len, const char *filename, LockNodeTokens **ret,
                           Error *e)
{
        _cleanup_(lock_node_tokens_freep) LockNodeTokens *t = calloc(1, sizeof(*t));
        const char *end = data + len;
        unsigned line = 0;
        int r;

        assert(data || len == 0);
        assert(filename && ret);
        if (!t)
                return error_setf(e, -ENOMEM, "%s: out of memory", filename);
        for (const char *p = data, *eol; p < end; p = eol + 1) {
                const char *q = p;

                eol = memchr(p, '\n', (size_t)(end - p)) ?: end;
                line++;
                while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
                        q++;
                if (q == eol || *q == '#')
                        continue;
                r = node_tokens_add(t, p, eol, filename, line, e);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(t);
        return 0;
}

int lock_node_tokens_check(const LockNodeTokens *t, const char *authorization, const char *node)
{
        int r = 0;

        assert(t && node);
        /* Every token is compared (bearer_matches() is constant-time), whichever matches. */
        for (size_t i = 0; i < t->n; i++)
                if (bearer_matches(authorization, t->items[i].token))
                        r = streq(t->items[i].node, node) ? 1 : -EPERM;
        return r;
}
