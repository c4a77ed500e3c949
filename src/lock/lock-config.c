/* lock-config.c — parsing and validation of upkeep-lock's configuration (see lock-config.h). */
#include "lock-config.h"
#include "config-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "strutil.h"

void lock_config_free(LockConfig *c)
{
        if (!c)
                return;
        free(c->address);
        free(c->tls_cert_path);
        free(c->tls_key_path);
        free(c->status_address);
        free(c->sqlite_path);
        strv_free(c->etcd_endpoints);
        free(c->etcd_cert_path);
        free(c->etcd_key_path);
        free(c->etcd_ca_path);
        free(c->admin_token);
        free(c->admin_token_file);
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
        free(c);
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
        if (!running || !next || !ret)
                return -EINVAL;

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

static LockConfig *config_new(void)
{
        LockConfig *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->port = 9090;
        c->threads = 2; /* requests waiting for a write hold no thread: threads only parse and send */
        c->status_port = 2222;
        c->etcd_timeout_ms = 3000;
        c->backend = LOCK_BACKEND_SQLITE;
        if (!(c->address = strdup("::")) || !(c->status_address = strdup("127.0.0.1")) ||
            !(c->sqlite_path = strdup(LOCK_DEFAULT_SQLITE_PATH)) ||
            !(c->default_group = strdup("default"))) {
                lock_config_free(c);
                return NULL;
        }
        return c;
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
        LockConfig *c = config_new();

        if (!c || group_add(c, "default", &p, &g) < 0) {
                lock_config_free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

static int parse_window(ConfigCtx *x, const TomlValue *t, const char *prefix, LockWindowSpec *w)
{
        char key[256];
        int r;

        w->line = toml_line(t);
        if (toml_type(t) != TOML_TABLE)
                return config_bad(x, t, prefix, "must be a table with days, start_time and length_minutes");
        for (size_t i = 0; i < toml_table_size(t); i++) {
                const char *k = toml_table_key_at(t, i);
                const TomlValue *v = toml_table_value_at(t, i);
                size_t n;
                snprintf(key, sizeof(key), "%s.%s", prefix, k);
                if (streq(k, "days"))
                        r = config_get_strings(x, v, key, 7, &w->days, &n);
                else if (streq(k, "start_time"))
                        r = config_get_string(x, v, key, false, &w->start_time);
                else if (streq(k, "length_minutes"))
                        r = config_get_int(x, v, key, 1, 10080, &w->length_minutes);
                else
                        r = config_warn_unknown(x, v, key);
                if (r < 0)
                        return r;
        }
        if (!w->days || !w->days[0] || !w->start_time || !w->length_minutes)
                return config_bad(x, t, prefix, "needs days, start_time and length_minutes");
        return 0;
}

/* One [[lock.groups]] table. */
static int parse_group(ConfigCtx *x, LockConfig *c, const TomlValue *t, size_t index,
                       const GroupPolicy *defaults)
{
        char prefix[96], key[256];
        const TomlValue *name = toml_table_get(t, "name");
        LockGroupConfig *g = NULL;
        int64_t n;
        int r;

        snprintf(prefix, sizeof(prefix), "lock.groups[%zu]", index);
        if (toml_type(t) != TOML_TABLE)
                return config_bad(x, t, prefix, "must be a table");
        if (!name || toml_type(name) != TOML_STRING || !lock_group_name_valid(toml_string(name, NULL)))
                return config_bad(x, name ? name : t, prefix,
                                  "needs a name of 1-255 characters of [a-zA-Z0-9.-] (the FleetLock group)");
        /* Names are unique in the list (checked by the caller); an entry may name the default group,
         * which exists already, to configure it. */
        g = (LockGroupConfig *)lock_config_find_group(c, toml_string(name, NULL));
        if (!g && (r = group_add(c, toml_string(name, NULL), defaults, &g)) < 0)
                return r == -E2BIG ? config_bad(x, t, prefix, "too many groups") : r;
        snprintf(prefix, sizeof(prefix), "lock.groups[%s]", g->name);
        for (size_t i = 0; i < toml_table_size(t); i++) {
                const char *k = toml_table_key_at(t, i);
                const TomlValue *v = toml_table_value_at(t, i);
                snprintf(key, sizeof(key), "%s.%s", prefix, k);
                r = 0;
                if (streq(k, "name"))
                        continue;
                else if (streq(k, "slots")) {
                        if ((r = config_get_int(x, v, key, 1, SEMAPHORE_MAX_SLOTS, &n)) >= 0)
                                g->policy.slots = (uint64_t)n;
                } else if (streq(k, "max_hold_secs")) {
                        if ((r = config_get_int(x, v, key, 0, INT64_C(1) << 32, &n)) >= 0)
                                g->policy.max_hold_secs = n;
                } else if (streq(k, "settle_secs")) {
                        if ((r = config_get_int(x, v, key, 0, 86400, &n)) >= 0)
                                g->policy.settle_secs = n;
                } else if (streq(k, "paused"))
                        r = config_get_bool(x, v, key, &g->policy.paused);
                else if (streq(k, "time_zone"))
                        r = config_get_string(x, v, key, false, &g->time_zone);
                else if (streq(k, "client_tokens"))
                        r = config_get_strings(x, v, key, 64, &g->client_tokens, &g->n_client_tokens);
                else if (streq(k, "window")) {
                        size_t nw = toml_array_size(v);
                        if (toml_type(v) != TOML_ARRAY || nw > 64)
                                return config_bad(x, v, key,
                                                  "must be an array of tables ([[lock.groups.window]])");
                        g->windows = calloc(nw + 1, sizeof(LockWindowSpec));
                        if (!g->windows)
                                return -ENOMEM;
                        for (size_t w = 0; r >= 0 && w < nw; w++) {
                                char wk[300];
                                g->n_windows = w + 1;
                                snprintf(wk, sizeof(wk), "%s[%zu]", key, w);
                                r = parse_window(x, toml_array_get(v, w), wk, &g->windows[w]);
                        }
                } else
                        r = config_warn_unknown(x, v, key);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_lock(ConfigCtx *x, LockConfig *c, const TomlValue *t)
{
        GroupPolicy defaults = { .slots = 1 };
        const TomlValue *groups = NULL, *v;
        LockGroupConfig *g;
        char key[128];
        int64_t n;
        int r;

        if (toml_type(t) != TOML_TABLE)
                return config_bad(x, t, "lock", "must be a table");
        for (size_t i = 0; i < toml_table_size(t); i++) {
                const char *k = toml_table_key_at(t, i);
                v = toml_table_value_at(t, i);
                snprintf(key, sizeof(key), "lock.%s", k);
                r = 0;
                if (streq(k, "default_group_name")) {
                        if ((r = config_get_string(x, v, key, false, &c->default_group)) >= 0 &&
                            !lock_group_name_valid(c->default_group))
                                r = config_bad(x, v, key, "must be 1-255 characters of [a-zA-Z0-9.-]");
                } else if (streq(k, "default_slots")) {
                        if ((r = config_get_int(x, v, key, 1, SEMAPHORE_MAX_SLOTS, &n)) >= 0)
                                defaults.slots = (uint64_t)n;
                } else if (streq(k, "default_max_hold_secs")) {
                        if ((r = config_get_int(x, v, key, 0, INT64_C(1) << 32, &n)) >= 0)
                                defaults.max_hold_secs = n;
                } else if (streq(k, "default_settle_secs")) {
                        if ((r = config_get_int(x, v, key, 0, 86400, &n)) >= 0)
                                defaults.settle_secs = n;
                } else if (streq(k, "groups")) {
                        if (toml_type(v) != TOML_ARRAY)
                                return config_bad(x, v, key, "must be an array of tables ([[lock.groups]])");
                        groups = v;
                } else
                        r = config_warn_unknown(x, v, key);
                if (r < 0)
                        return r;
        }
        /* The default group always exists (as in Airlock); a [[lock.groups]] entry may configure it. */
        r = group_add(c, c->default_group, &defaults, &g);
        if (r < 0)
                return r;
        for (size_t i = 0; groups && i < toml_array_size(groups); i++) {
                const TomlValue *gt = toml_array_get(groups, i);
                const TomlValue *name = toml_type(gt) == TOML_TABLE ? toml_table_get(gt, "name") : NULL;
                /* Each name once; the default group may be listed once to configure it. */
                for (size_t j = 0; name && toml_type(name) == TOML_STRING && j < i; j++) {
                        const TomlValue *other = toml_table_get(toml_array_get(groups, j), "name");
                        if (other && toml_type(other) == TOML_STRING &&
                            streq(toml_string(other, NULL), toml_string(name, NULL))) {
                                snprintf(key, sizeof(key), "lock.groups[%zu]", i);
                                return config_bad(x, name, key, "group listed twice");
                        }
                }
                r = parse_group(x, c, gt, i, &defaults);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_table(ConfigCtx *x, LockConfig *c, const char *section, const TomlValue *t, bool *saw_etcd,
                       bool *saw_backend_type)
{
        char key[128];
        int64_t n;
        int r;

        if (toml_type(t) != TOML_TABLE)
                return config_bad(x, t, section, "must be a table");
        for (size_t i = 0; i < toml_table_size(t); i++) {
                const char *k = toml_table_key_at(t, i);
                const TomlValue *v = toml_table_value_at(t, i);
                snprintf(key, sizeof(key), "%s.%s", section, k);
                r = 0;
                if (streq(section, "service")) {
                        if (streq(k, "address"))
                                r = config_get_address(x, v, key, &c->address);
                        else if (streq(k, "port")) {
                                if ((r = config_get_int(x, v, key, 0, 65535, &n)) >= 0)
                                        c->port = (uint16_t)n;
                        } else if (streq(k, "tls"))
                                r = config_get_bool(x, v, key, &c->tls);
                        else if (streq(k, "tls_cert_path"))
                                r = config_get_string(x, v, key, false, &c->tls_cert_path);
                        else if (streq(k, "tls_key_path"))
                                r = config_get_string(x, v, key, false, &c->tls_key_path);
                        else if (streq(k, "threads")) {
                                if ((r = config_get_int(x, v, key, 1, 64, &n)) >= 0)
                                        c->threads = (unsigned)n;
                        } else
                                r = config_warn_unknown(x, v, key);
                } else if (streq(section, "status")) {
                        if (streq(k, "enabled"))
                                r = config_get_bool(x, v, key, &c->status_enabled);
                        else if (streq(k, "address"))
                                r = config_get_address(x, v, key, &c->status_address);
                        else if (streq(k, "port")) {
                                if ((r = config_get_int(x, v, key, 0, 65535, &n)) >= 0)
                                        c->status_port = (uint16_t)n;
                        } else
                                r = config_warn_unknown(x, v, key);
                } else if (streq(section, "etcd3")) {
                        *saw_etcd = true;
                        if (streq(k, "endpoints")) {
                                r = config_get_strings(x, v, key, 32, &c->etcd_endpoints,
                                                       &c->n_etcd_endpoints);
                                for (size_t j = 0; r >= 0 && j < c->n_etcd_endpoints; j++)
                                        if (!startswith(c->etcd_endpoints[j], "http://") &&
                                            !startswith(c->etcd_endpoints[j], "https://"))
                                                r = config_bad(x, v, key,
                                                               "endpoints must be http:// or https:// URLs");
                        } else if (streq(k, "transaction_timeout_ms")) {
                                if ((r = config_get_int(x, v, key, 1, 600000, &n)) >= 0)
                                        c->etcd_timeout_ms = (unsigned)n;
                        } else if (streq(k, "client_cert_pub_path"))
                                r = config_get_string(x, v, key, true, &c->etcd_cert_path);
                        else if (streq(k, "client_cert_key_path"))
                                r = config_get_string(x, v, key, true, &c->etcd_key_path);
                        else if (streq(k, "ca_path"))
                                r = config_get_string(x, v, key, true, &c->etcd_ca_path);
                        else
                                r = config_warn_unknown(x, v, key);
                } else if (streq(section, "backend")) {
                        if (streq(k, "type")) {
                                _cleanup_free_ char *type = NULL;
                                if ((r = config_get_string(x, v, key, false, &type)) >= 0) {
                                        if (streq(type, "sqlite"))
                                                c->backend = LOCK_BACKEND_SQLITE;
                                        else if (streq(type, "etcd3"))
                                                c->backend = LOCK_BACKEND_ETCD3;
                                        else
                                                r = config_bad(x, v, key, "must be \"sqlite\" or \"etcd3\"");
                                        *saw_backend_type = true;
                                }
                        } else if (streq(k, "sqlite_path"))
                                r = config_get_string(x, v, key, false, &c->sqlite_path);
                        else
                                r = config_warn_unknown(x, v, key);
                } else if (streq(section, "auth")) {
                        if (streq(k, "admin_token"))
                                r = config_get_string(x, v, key, false, &c->admin_token);
                        else if (streq(k, "admin_token_file"))
                                r = config_get_string(x, v, key, false, &c->admin_token_file);
                        else
                                r = config_warn_unknown(x, v, key);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int lock_config_parse(const char *data, size_t len, const char *filename, LockConfig **ret,
                      char ***ret_warnings, Error *e)
{
        _cleanup_toml_ TomlValue *root = NULL;
        ConfigCtx x = { .file = filename, .e = e };
        const TomlValue *lock = NULL;
        bool saw_etcd = false, saw_backend_type = false;
        TomlError te = { 0 };
        LockConfig *c;
        int r;

        r = toml_parse(data, len, &root, &te);
        if (r < 0)
                return error_setf(e, r == -ENOMEM ? -ENOMEM : -EINVAL, "%s:%u:%u: %s", filename, te.line,
                                  te.column, te.message);
        c = config_new();
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < toml_table_size(root); i++) {
                const char *k = toml_table_key_at(root, i);
                const TomlValue *v = toml_table_value_at(root, i);
                if (streq(k, "lock"))
                        lock = v;
                else if (streq(k, "service") || streq(k, "status") || streq(k, "etcd3") ||
                         streq(k, "backend") || streq(k, "auth"))
                        r = parse_table(&x, c, k, v, &saw_etcd, &saw_backend_type);
                else
                        r = config_warn_unknown(&x, v, k);
                if (r < 0)
                        goto fail;
        }
        if (lock)
                r = parse_lock(&x, c, lock);
        else {
                GroupPolicy p = { .slots = 1 };
                LockGroupConfig *g;
                r = group_add(c, c->default_group, &p, &g);
        }
        if (r < 0)
                goto fail;

        /* An Airlock configuration (it has [etcd3]) keeps using etcd unless [backend] says otherwise. */
        if (saw_etcd && !saw_backend_type)
                c->backend = LOCK_BACKEND_ETCD3;
        if (c->backend == LOCK_BACKEND_ETCD3 && c->n_etcd_endpoints == 0) {
                r = error_setf(e, -EINVAL,
                               "%s: etcd3.endpoints: the etcd3 backend needs at least one endpoint",
                               filename);
                goto fail;
        }
        if (c->tls && (!c->tls_cert_path || !c->tls_key_path)) {
                r = error_setf(e, -EINVAL,
                               "%s: service.tls: TLS needs service.tls_cert_path and "
                               "service.tls_key_path",
                               filename);
                goto fail;
        }
        if (!!(c->etcd_cert_path && *c->etcd_cert_path) != !!(c->etcd_key_path && *c->etcd_key_path)) {
                r = error_setf(e, -EINVAL,
                               "%s: etcd3: client_cert_pub_path and client_cert_key_path go together",
                               filename);
                goto fail;
        }
        if (c->admin_token && c->admin_token_file) {
                r = error_setf(e, -EINVAL, "%s: auth: set admin_token or admin_token_file, not both",
                               filename);
                goto fail;
        }
        *ret = c;
        if (ret_warnings)
                *ret_warnings = x.warnings;
        else
                strv_free(x.warnings);
        return 0;
fail:
        strv_free(x.warnings);
        lock_config_free(c);
        return r;
}
