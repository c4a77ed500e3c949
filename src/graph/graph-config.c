/* graph-config.c — parsing and validation of upkeep-graph's TOML configuration (see graph-config.h). */
#include "graph-config.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-util.h"
#include "graph-etcd-keys.h"
#include "macros.h"
#include "strutil.h"
#include "strv.h"
#include "toml.h"

static const char *const default_basearches[] = { "x86_64", "aarch64", "ppc64le", "s390x" };

void graph_config_free(GraphConfig *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n_streams; i++) {
                free(c->streams[i].name);
                free(c->streams[i].releases);
                free(c->streams[i].updates);
                strv_free(c->streams[i].basearches);
        }
        free(c->streams);
        free(c->address);
        free(c->reports_database);
        strv_free(c->reports_tokens);
        strv_free(c->etcd_endpoints);
        free(c->etcd_cert_path);
        free(c->etcd_key_path);
        free(c->etcd_ca_path);
        free(c->etcd_prefix);
        for (size_t i = 0; i < c->n_policies; i++) {
                free(c->policies[i].stream);
                free(c->policies[i].group);
        }
        free(c->policies);
        free(c->admin_token_file);
        free(c->status_lock_admin_url);
        free(c->status_lock_admin_token_file);
        free(c);
}

const GraphStreamConfig *graph_config_find_stream(const GraphConfig *c, const char *name)
{
        for (size_t i = 0; i < c->n_streams; i++)
                if (streq(c->streams[i].name, name))
                        return &c->streams[i];
        return NULL;
}

static GraphConfig *config_new(void)
{
        GraphConfig *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->address = strdup("::");
        if (!c->address)
                return free(c), NULL;
        c->port = GRAPH_DEFAULT_PORT;
        c->threads = 1;
        c->max_connections = 4096;
        c->max_connections_per_address = 32;
        c->request_timeout_secs = 10;
        c->idle_timeout_secs = 30;
        c->refresh_interval_secs = GRAPH_DEFAULT_REFRESH_SECS;
        c->fetch_timeout_secs = GRAPH_DEFAULT_FETCH_TIMEOUT_SECS;
        c->max_document_bytes = GRAPH_DEFAULT_MAX_DOCUMENT;
        c->max_cached_answers = GRAPH_DEFAULT_MAX_ANSWERS;
        c->reports_per_minute = GRAPH_DEFAULT_REPORTS_PER_MINUTE;
        c->reports_max_nodes = GRAPH_DEFAULT_REPORTS_MAX_NODES;
        c->reports_per_address_per_minute = GRAPH_DEFAULT_REPORTS_PER_ADDRESS_PER_MINUTE;
        c->reports_database = strdup(GRAPH_DEFAULT_REPORTS_DATABASE);
        c->etcd_timeout_ms = 3000;
        c->etcd_refresh_ms = GRAPH_DEFAULT_ETCD_REFRESH_MS;
        c->etcd_prefix = strdup(GRAPH_ETCD_DEFAULT_PREFIX);
        if (!c->reports_database || !c->etcd_prefix)
                return graph_config_free(c), NULL;
        return c;
}

static bool valid_name(const char *s)
{
        if (!*s || strlen(s) > 64)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '.' || *p == '-' || *p == '_'))
                        return false;
        return true;
}

static int stream_defaults(GraphStreamConfig *s, const char *name)
{
        char path[512];
        if (!(s->name = strdup(name)))
                return -ENOMEM;
        snprintf(path, sizeof(path), "%s/%s/releases.json", GRAPH_DEFAULT_DATA_DIR, name);
        if (!(s->releases = strdup(path)))
                return -ENOMEM;
        snprintf(path, sizeof(path), "%s/%s/updates.json", GRAPH_DEFAULT_DATA_DIR, name);
        if (!(s->updates = strdup(path)))
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(default_basearches); i++)
                if (strv_push(&s->basearches, &s->n_basearches, default_basearches[i]) < 0)
                        return -ENOMEM;
        return 0;
}

int graph_config_default(GraphConfig **ret)
{
        GraphConfig *c = config_new();
        if (!c || !(c->streams = calloc(1, sizeof(GraphStreamConfig)))) {
                graph_config_free(c);
                return -ENOMEM;
        }
        c->n_streams = 1;
        if (stream_defaults(&c->streams[0], "stable") < 0) {
                graph_config_free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

/* Checks and fills one [streams.NAME] table's "basearches": 1 to 32 distinct architecture names. */
static int parse_basearches(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key,
                            void *target)
{
        GraphStreamConfig *s = target;
        size_t n = toml_array_size(v);

        if (toml_type(v) != TOML_ARRAY || n == 0 || n > 32)
                return config_bad(x, v, key, "must be an array of 1 to 32 architecture names");
        strv_free(s->basearches);
        s->basearches = NULL;
        s->n_basearches = 0;
        for (size_t j = 0; j < n; j++) {
                const TomlValue *a = toml_array_get(v, j);
                if (toml_type(a) != TOML_STRING || !valid_name(toml_string(a, NULL)))
                        return config_bad(x, a, key,
                                          "architecture names are 1-64 characters of [A-Za-z0-9._-]");
                for (size_t m = 0; m < s->n_basearches; m++)
                        if (streq(s->basearches[m], toml_string(a, NULL)))
                                return config_bad(x, a, key, "architecture listed twice");
                if (strv_push(&s->basearches, &s->n_basearches, toml_string(a, NULL)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* The keys of a [streams.NAME] table. */
static const ConfigKey stream_keys[] = {
        CONFIG_KEY("releases", CONFIG_STRING, GraphStreamConfig, releases),
        CONFIG_KEY("updates", CONFIG_STRING, GraphStreamConfig, updates),
        CONFIG_KEY_CUSTOM("basearches", parse_basearches),
};

static int parse_stream(ConfigCtx *x, const char *name, const TomlValue *t, GraphStreamConfig *s)
{
        char key[128];
        int r;

        if (toml_type(t) != TOML_TABLE) {
                snprintf(key, sizeof(key), "streams.%s", name);
                return config_bad(x, t, key, "must be a table");
        }
        if (!valid_name(name)) {
                snprintf(key, sizeof(key), "streams.%.64s", name);
                return config_bad(x, t, key, "stream names are 1-64 characters of [A-Za-z0-9._-]");
        }
        r = stream_defaults(s, name);
        if (r < 0)
                return r;
        snprintf(key, sizeof(key), "streams.%s", name);
        return config_parse_table(x, t, key, stream_keys, ELEMENTSOF(stream_keys), s, NULL);
}

/* [streams]: a table of [streams.NAME] tables, at most 64. */
static int parse_streams(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key, void *target)
{
        GraphConfig *c = target;
        size_t n = toml_table_size(v);
        int r;

        if (toml_type(v) != TOML_TABLE)
                return config_bad(x, v, key, "must be a table of streams ([streams.NAME])");
        if (n > 64)
                return config_bad(x, v, key, "at most 64 streams");
        if (!(c->streams = calloc(n + 1, sizeof(GraphStreamConfig))))
                return -ENOMEM;
        for (size_t j = 0; j < n; j++) {
                c->n_streams = j + 1;
                r = parse_stream(x, toml_table_key_at(v, j), toml_table_value_at(v, j), &c->streams[j]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The keys of a [[policy]] table. */
static const ConfigKey policy_keys[] = {
        CONFIG_KEY("stream", CONFIG_STRING, GraphPolicy, stream),
        CONFIG_KEY("group", CONFIG_STRING, GraphPolicy, group),
        CONFIG_KEY("failure_threshold_count", CONFIG_INT, GraphPolicy, failure_threshold_count, .min = 1,
                   .max = 1000000),
        CONFIG_KEY("failure_threshold_ratio", CONFIG_FLOAT, GraphPolicy, failure_threshold_ratio),
        CONFIG_KEY("min_sample", CONFIG_INT, GraphPolicy, min_sample, .min = 1, .max = 1000000),
        CONFIG_KEY("canary", CONFIG_INT, GraphPolicy, canary, .min = 0, .max = GRAPH_CANARY_MAX),
};

/* [[policy]]: at most GRAPH_POLICY_MAX tables, each naming a configured stream (checked once every key
 * is read: graph_config_parse()). */
static int parse_policies(ConfigCtx *x, const ConfigKey *k, const TomlValue *v, const char *key,
                          void *target)
{
        GraphConfig *c = target;
        size_t n = toml_array_size(v);
        char name[64];
        int r;

        if (toml_type(v) != TOML_ARRAY || n > GRAPH_POLICY_MAX)
                return config_bad(x, v, key, "must be an array of at most 64 tables ([[policy]])");
        if (!(c->policies = calloc(n + 1, sizeof(GraphPolicy))))
                return -ENOMEM;
        for (size_t j = 0; j < n; j++) {
                const TomlValue *t = toml_array_get(v, j);
                GraphPolicy *p = &c->policies[j];
                c->n_policies = j + 1;
                *p = (GraphPolicy){ .failure_threshold_count = GRAPH_POLICY_DEFAULT_COUNT,
                                    .failure_threshold_ratio = GRAPH_POLICY_DEFAULT_RATIO,
                                    .min_sample = GRAPH_POLICY_DEFAULT_MIN_SAMPLE };
                snprintf(name, sizeof(name), "policy[%zu]", j);
                if (toml_type(t) != TOML_TABLE)
                        return config_bad(x, t, name, "must be a table");
                r = config_parse_table(x, t, name, policy_keys, ELEMENTSOF(policy_keys), p, NULL);
                if (r < 0)
                        return r;
                if (!p->stream)
                        return config_bad(x, t, name, "stream: missing");
                if (!(p->failure_threshold_ratio >= 0.0 && p->failure_threshold_ratio < 1.0))
                        return config_bad(x, t, name,
                                          "failure_threshold_ratio: must be at least 0 and below 1");
        }
        return 0;
}

/* The settings a reload cannot change: the listening socket and its threads. */
#define RESTART_KEY(name, field)                                                                            \
        {                                                                                                   \
                name, offsetof(GraphConfig, field), sizeof(((GraphConfig *)0)->field)                       \
        }
static const struct {
        const char *key;
        size_t offset, size; /* an unsigned integer field */
} restart_keys[] = {
        RESTART_KEY("server.port", port),
        RESTART_KEY("server.threads", threads),
        RESTART_KEY("server.max_connections", max_connections),
        RESTART_KEY("server.max_connections_per_address", max_connections_per_address),
        RESTART_KEY("server.request_timeout_secs", request_timeout_secs),
        RESTART_KEY("server.idle_timeout_secs", idle_timeout_secs),
        RESTART_KEY("reports.per_minute", reports_per_minute),
        RESTART_KEY("reports.max_nodes", reports_max_nodes),
        RESTART_KEY("reports.per_address_per_minute", reports_per_address_per_minute),
        RESTART_KEY("reports.backend", reports_backend),
        RESTART_KEY("etcd3.transaction_timeout_ms", etcd_timeout_ms),
        RESTART_KEY("etcd3.refresh_interval_ms", etcd_refresh_ms),
};

static unsigned restart_value(const GraphConfig *c, size_t i)
{
        const char *p = (const char *)c + restart_keys[i].offset;
        uint16_t v16;
        unsigned v;

        static_assert(sizeof(c->port) == sizeof(uint16_t) && sizeof(c->threads) == sizeof(unsigned),
                      "sizes");
        if (restart_keys[i].size == sizeof(uint16_t))
                return memcpy(&v16, p, sizeof(v16)), v16;
        return memcpy(&v, p, sizeof(v)), v;
}

static void set_restart_value(GraphConfig *c, size_t i, unsigned v)
{
        char *p = (char *)c + restart_keys[i].offset;
        uint16_t v16 = (uint16_t)v;

        if (restart_keys[i].size == sizeof(uint16_t))
                memcpy(p, &v16, sizeof(v16));
        else
                memcpy(p, &v, sizeof(v));
}

/* reports.enabled, database and tokens, admin.token_file: the running values are kept (see
 * graph_config_keep_...). */
static int keep_reports_settings(const GraphConfig *old, GraphConfig *new, char ***l, size_t *n)
{
        char **tokens = NULL;
        char *db;
        size_t nt = 0;

        if (old->reports_enabled != new->reports_enabled) {
                if (strv_push(l, n,
                              old->reports_enabled ? "reports.enabled (true -> false)"
                                                   : "reports.enabled (false -> true)") < 0)
                        return -ENOMEM;
                new->reports_enabled = old->reports_enabled;
        }
        if (!streq(old->reports_database, new->reports_database)) {
                if (strv_push(l, n, "reports.database") < 0 || !(db = strdup(old->reports_database)))
                        return -ENOMEM;
                free(new->reports_database);
                new->reports_database = db;
        }
        if (!strv_equal(old->reports_tokens, old->n_reports_tokens, new->reports_tokens,
                        new->n_reports_tokens)) {
                if (strv_push(l, n, "reports.tokens") < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < old->n_reports_tokens; i++)
                        if (strv_push(&tokens, &nt, old->reports_tokens[i]) < 0)
                                return strv_free(tokens), -ENOMEM;
                strv_free(new->reports_tokens);
                new->reports_tokens = tokens;
                new->n_reports_tokens = nt;
        }
        if (!streq(old->admin_token_file ? old->admin_token_file : "",
                   new->admin_token_file ? new->admin_token_file : "")) {
                if (strv_push(l, n, "admin.token_file") < 0)
                        return -ENOMEM;
                db = old->admin_token_file ? strdup(old->admin_token_file) : NULL;
                if (old->admin_token_file && !db)
                        return -ENOMEM;
                free(new->admin_token_file);
                new->admin_token_file = db;
        }
        return 0;
}

/* [etcd3]'s strings: the running values are kept (the store is opened at start only). */
static int keep_etcd_settings(const GraphConfig *old, GraphConfig *new, char ***l, size_t *n)
{
        static const struct {
                const char *key;
                size_t offset;
        } keys[] = {
                { "etcd3.prefix", offsetof(GraphConfig, etcd_prefix) },
                { "etcd3.client_cert_pub_path", offsetof(GraphConfig, etcd_cert_path) },
                { "etcd3.client_cert_key_path", offsetof(GraphConfig, etcd_key_path) },
                { "etcd3.ca_path", offsetof(GraphConfig, etcd_ca_path) },
        };
        char **endpoints = NULL, *copy;
        size_t ne = 0;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                char *o = *(char **)((char *)old + keys[i].offset),
                     **v = (char **)((char *)new + keys[i].offset);
                if (streq(o ? o : "", *v ? *v : ""))
                        continue;
                copy = o ? strdup(o) : NULL;
                if ((o && !copy) || strv_push(l, n, keys[i].key) < 0)
                        return free(copy), -ENOMEM;
                free(*v);
                *v = copy;
        }
        if (strv_equal(old->etcd_endpoints, old->n_etcd_endpoints, new->etcd_endpoints,
                       new->n_etcd_endpoints))
                return 0;
        if (strv_push(l, n, "etcd3.endpoints") < 0)
                return -ENOMEM;
        for (size_t i = 0; i < old->n_etcd_endpoints; i++)
                if (strv_push(&endpoints, &ne, old->etcd_endpoints[i]) < 0)
                        return strv_free(endpoints), -ENOMEM;
        strv_free(new->etcd_endpoints);
        new->etcd_endpoints = endpoints;
        new->n_etcd_endpoints = ne;
        return 0;
}

int graph_config_keep_restart_settings(const GraphConfig *old, GraphConfig *new, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        char msg[256];
        size_t n = 0;
        int r;

        assert(old && new &&ret);
        if (!streq(old->address, new->address)) {
                char *a = strdup(old->address);
                snprintf(msg, sizeof(msg), "server.address (%s -> %s)", old->address, new->address);
                if (!a || strv_push(&l, &n, msg) < 0)
                        return free(a), -ENOMEM;
                free(new->address);
                new->address = a;
        }
        r = keep_reports_settings(old, new, &l, &n);
        if (r >= 0)
                r = keep_etcd_settings(old, new, &l, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(restart_keys); i++) {
                unsigned o = restart_value(old, i), v = restart_value(new, i);
                if (o == v)
                        continue;
                snprintf(msg, sizeof(msg), "%s (%u -> %u)", restart_keys[i].key, o, v);
                if (strv_push(&l, &n, msg) < 0)
                        return -ENOMEM;
                set_restart_value(new, i, o);
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static const char *const reports_backends[] = {
        [GRAPH_REPORTS_SQLITE] = "sqlite", [GRAPH_REPORTS_ETCD] = "etcd", NULL
};

static const char *check_prefix(const void *field)
{
        return graph_etcd_prefix_valid(*(char *const *)field)
                       ? NULL
                       : "must be 1 to 256 printable ASCII characters without spaces";
}

/* upkeep-lock's address for the status page: checked here, so that --check and a reload report it too. */
static const char *check_lock_admin_url(const void *field)
{
        const char *u = *(char *const *)field;
        size_t n = strlen(u);

        if ((!startswith(u, "http://") && !startswith(u, "https://")) || n > GRAPH_STATUS_URL_MAX ||
            !text_is_clean(u, n, 0))
                return "must be an http:// or https:// URL (upkeep-lock's address, e.g. "
                       "http://lock.example:3333)";
        return NULL;
}

/* The etcd backend has endpoints, and a client certificate has its key. */
static int check_etcd(const GraphConfig *c, const char *filename, Error *e)
{
        if (c->reports_backend == GRAPH_REPORTS_ETCD && c->n_etcd_endpoints == 0)
                return error_setf(e, -EINVAL,
                                  "%s: etcd3.endpoints: the etcd backend needs at least one endpoint",
                                  filename);
        if (!!(c->etcd_cert_path && *c->etcd_cert_path) != !!(c->etcd_key_path && *c->etcd_key_path))
                return error_setf(e, -EINVAL,
                                  "%s: etcd3: client_cert_pub_path and client_cert_key_path go together",
                                  filename);
        return 0;
}

/* Every key of graph.toml (docs/graph.md). */
static const ConfigKey graph_keys[] = {
        CONFIG_KEY("server.address", CONFIG_ADDRESS, GraphConfig, address),
        CONFIG_KEY("server.port", CONFIG_INT, GraphConfig, port, .min = 0, .max = 65535),
        CONFIG_KEY("server.threads", CONFIG_INT, GraphConfig, threads, .min = 1, .max = 64),
        CONFIG_KEY("server.max_connections", CONFIG_INT, GraphConfig, max_connections, .min = 1,
                   .max = 100000),
        CONFIG_KEY("server.max_connections_per_address", CONFIG_INT, GraphConfig,
                   max_connections_per_address, .min = 1, .max = 100000),
        CONFIG_KEY("server.request_timeout_secs", CONFIG_INT, GraphConfig, request_timeout_secs, .min = 1,
                   .max = 3600),
        CONFIG_KEY("server.idle_timeout_secs", CONFIG_INT, GraphConfig, idle_timeout_secs, .min = 1,
                   .max = 3600),
        CONFIG_KEY("refresh.interval_secs", CONFIG_INT, GraphConfig, refresh_interval_secs, .min = 1,
                   .max = 86400),
        CONFIG_KEY("refresh.fetch_timeout_secs", CONFIG_INT, GraphConfig, fetch_timeout_secs, .min = 1,
                   .max = 600),
        CONFIG_KEY("refresh.max_document_bytes", CONFIG_INT, GraphConfig, max_document_bytes, .min = 1024,
                   .max = INT64_C(1) << 30),
        CONFIG_KEY("cache.max_answers", CONFIG_INT, GraphConfig, max_cached_answers, .min = 0, .max = 65536),
        CONFIG_KEY_CUSTOM("streams", parse_streams),
        CONFIG_KEY("reports.enabled", CONFIG_BOOL, GraphConfig, reports_enabled),
        CONFIG_KEY("reports.database", CONFIG_STRING, GraphConfig, reports_database),
        CONFIG_KEY("reports.tokens", CONFIG_STRINGS, GraphConfig, reports_tokens, .max = 64,
                   CONFIG_COUNT(GraphConfig, n_reports_tokens)),
        CONFIG_KEY("reports.per_minute", CONFIG_INT, GraphConfig, reports_per_minute, .min = 1, .max = 3600),
        CONFIG_KEY("reports.per_address_per_minute", CONFIG_INT, GraphConfig, reports_per_address_per_minute,
                   .min = 1, .max = 1000000),
        CONFIG_KEY("reports.max_nodes", CONFIG_INT, GraphConfig, reports_max_nodes, .min = 16,
                   .max = 16777216),
        CONFIG_KEY("reports.backend", CONFIG_ENUM, GraphConfig, reports_backend, .names = reports_backends),
        CONFIG_KEY("etcd3.endpoints", CONFIG_STRINGS, GraphConfig, etcd_endpoints, .max = 32,
                   CONFIG_COUNT(GraphConfig, n_etcd_endpoints), .check = config_check_http_urls),
        CONFIG_KEY("etcd3.transaction_timeout_ms", CONFIG_INT, GraphConfig, etcd_timeout_ms, .min = 1,
                   .max = 600000),
        CONFIG_KEY("etcd3.client_cert_pub_path", CONFIG_STRING_OR_EMPTY, GraphConfig, etcd_cert_path),
        CONFIG_KEY("etcd3.client_cert_key_path", CONFIG_STRING_OR_EMPTY, GraphConfig, etcd_key_path),
        CONFIG_KEY("etcd3.ca_path", CONFIG_STRING_OR_EMPTY, GraphConfig, etcd_ca_path),
        CONFIG_KEY("etcd3.prefix", CONFIG_STRING, GraphConfig, etcd_prefix, .check = check_prefix),
        CONFIG_KEY("etcd3.refresh_interval_ms", CONFIG_INT, GraphConfig, etcd_refresh_ms, .min = 100,
                   .max = 60000),
        CONFIG_KEY_CUSTOM("policy", parse_policies),
        CONFIG_KEY("admin.token_file", CONFIG_STRING, GraphConfig, admin_token_file),
        CONFIG_KEY("status.lock_admin_url", CONFIG_STRING, GraphConfig, status_lock_admin_url,
                   .check = check_lock_admin_url),
        CONFIG_KEY("status.lock_admin_token_file", CONFIG_STRING, GraphConfig, status_lock_admin_token_file),
};

/* Every policy names a configured stream. */
static int check_policies(const GraphConfig *c, const char *filename, Error *e)
{
        for (size_t i = 0; i < c->n_policies; i++)
                if (!graph_config_find_stream(c, c->policies[i].stream))
                        return error_setf(e, -EINVAL, "%s: policy[%zu].stream: no stream '%s' configured",
                                          filename, i, c->policies[i].stream);
        return 0;
}

int graph_config_parse(const char *data, size_t len, const char *filename, GraphConfig **ret,
                       char ***ret_warnings, Error *e)
{
        _cleanup_toml_ TomlValue *root = NULL;
        ConfigCtx x = { .file = filename, .e = e };
        GraphConfig *c;
        int r;

        r = config_parse_toml(data, len, filename, &root, e);
        if (r < 0)
                return r;
        c = config_new();
        if (!c)
                return -ENOMEM;
        r = config_parse_table(&x, root, NULL, graph_keys, ELEMENTSOF(graph_keys), c, NULL);
        if (r >= 0 && c->n_streams == 0)
                r = error_setf(e, -EINVAL, "%s: streams: no stream configured (add a [streams.NAME] table)",
                               filename);
        if (r >= 0)
                r = check_policies(c, filename, e);
        if (r >= 0)
                r = check_etcd(c, filename, e);
        if (r < 0) {
                config_take_warnings(&x, NULL);
                graph_config_free(c);
                return r;
        }
        *ret = c;
        config_take_warnings(&x, ret_warnings);
        return 0;
}
