/* graph-config.c — parsing and validation of upkeep-graph's TOML configuration (see graph-config.h). */
#include "graph-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-util.h"
#include "macros.h"
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
        c->max_connections = 1024;
        c->idle_timeout_secs = 30;
        c->refresh_interval_secs = GRAPH_DEFAULT_REFRESH_SECS;
        c->fetch_timeout_secs = GRAPH_DEFAULT_FETCH_TIMEOUT_SECS;
        c->max_document_bytes = GRAPH_DEFAULT_MAX_DOCUMENT;
        c->max_cached_answers = GRAPH_DEFAULT_MAX_ANSWERS;
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

/* An integer key of a section and where it is stored in GraphConfig. */
typedef struct IntKey {
        const char *name;
        int64_t min, max;
        size_t offset, size; /* size: sizeof(uint16_t), sizeof(unsigned) or sizeof(size_t) */
} IntKey;

#define INT_KEY(name, min, max, field)                                                                      \
        {                                                                                                   \
                name, min, max, offsetof(GraphConfig, field), sizeof(((GraphConfig *)0)->field)             \
        }

static const IntKey server_keys[] = {
        INT_KEY("port", 0, 65535, port),
        INT_KEY("threads", 1, 64, threads),
        INT_KEY("max_connections", 1, 100000, max_connections),
        INT_KEY("idle_timeout_secs", 1, 3600, idle_timeout_secs),
};
static const IntKey refresh_keys[] = {
        INT_KEY("interval_secs", 1, 86400, refresh_interval_secs),
        INT_KEY("fetch_timeout_secs", 1, 600, fetch_timeout_secs),
        INT_KEY("max_document_bytes", 1024, INT64_C(1) << 30, max_document_bytes),
};
static const IntKey cache_keys[] = {
        INT_KEY("max_answers", 0, 65536, max_cached_answers),
};

static void store_int(GraphConfig *c, const IntKey *k, int64_t v)
{
        char *field = (char *)c + k->offset;
        if (k->size == sizeof(uint16_t))
                *(uint16_t *)(void *)field = (uint16_t)v;
        else if (k->size == sizeof(unsigned))
                *(unsigned *)(void *)field = (unsigned)v;
        else
                *(size_t *)(void *)field = (size_t)v;
}

/* The keys of one section: the integers of keys[], "address" in [server], warnings for the rest. */
static int parse_section(ConfigCtx *x, const TomlValue *t, const char *section, const IntKey *keys,
                         size_t n_keys, GraphConfig *c)
{
        char key[128];
        int64_t n = 0;
        int r;

        if (toml_type(t) != TOML_TABLE)
                return config_bad(x, t, section, "must be a table");
        for (size_t i = 0; i < toml_table_size(t); i++) {
                const char *k = toml_table_key_at(t, i);
                const TomlValue *v = toml_table_value_at(t, i);
                size_t j;

                snprintf(key, sizeof(key), "%s.%s", section, k);
                for (j = 0; j < n_keys && !streq(keys[j].name, k); j++)
                        ;
                if (j < n_keys) {
                        if ((r = config_get_int(x, v, key, keys[j].min, keys[j].max, &n)) < 0)
                                return r;
                        store_int(c, &keys[j], n);
                } else if (streq(section, "server") && streq(k, "address")) {
                        unsigned char addr[16];
                        if ((r = config_get_string(x, v, key, false, &c->address)) < 0)
                                return r;
                        if (inet_pton(AF_INET, c->address, addr) != 1 &&
                            inet_pton(AF_INET6, c->address, addr) != 1)
                                return config_bad(x, v, key, "must be a numeric IPv4 or IPv6 address");
                } else if ((r = config_warn_unknown(x, v, key)) < 0)
                        return r;
        }
        return 0;
}

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
        for (size_t i = 0; i < toml_table_size(t); i++) {
                const char *k = toml_table_key_at(t, i);
                const TomlValue *v = toml_table_value_at(t, i);
                snprintf(key, sizeof(key), "streams.%s.%s", name, k);
                if (streq(k, "releases")) {
                        if ((r = config_get_string(x, v, key, false, &s->releases)) < 0)
                                return r;
                } else if (streq(k, "updates")) {
                        if ((r = config_get_string(x, v, key, false, &s->updates)) < 0)
                                return r;
                } else if (streq(k, "basearches")) {
                        size_t n = toml_array_size(v);
                        if (toml_type(v) != TOML_ARRAY || n == 0 || n > 32)
                                return config_bad(x, v, key,
                                                  "must be an array of 1 to 32 architecture names");
                        strv_free(s->basearches);
                        s->basearches = NULL;
                        s->n_basearches = 0;
                        for (size_t j = 0; j < n; j++) {
                                const TomlValue *a = toml_array_get(v, j);
                                if (toml_type(a) != TOML_STRING || !valid_name(toml_string(a, NULL)))
                                        return config_bad(x, a, key,
                                                          "architecture names are 1-64 characters of "
                                                          "[A-Za-z0-9._-]");
                                for (size_t m = 0; m < s->n_basearches; m++)
                                        if (streq(s->basearches[m], toml_string(a, NULL)))
                                                return config_bad(x, a, key, "architecture listed twice");
                                if (strv_push(&s->basearches, &s->n_basearches, toml_string(a, NULL)) < 0)
                                        return -ENOMEM;
                        }
                } else if ((r = config_warn_unknown(x, v, key)) < 0)
                        return r;
        }
        return 0;
}

int graph_config_parse(const char *data, size_t len, const char *filename, GraphConfig **ret,
                       char ***ret_warnings, Error *e)
{
        _cleanup_toml_ TomlValue *root = NULL;
        ConfigCtx x = { .file = filename, .e = e };
        TomlError te = { 0 };
        GraphConfig *c;
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
                if (streq(k, "server"))
                        r = parse_section(&x, v, k, server_keys, ELEMENTSOF(server_keys), c);
                else if (streq(k, "refresh"))
                        r = parse_section(&x, v, k, refresh_keys, ELEMENTSOF(refresh_keys), c);
                else if (streq(k, "cache"))
                        r = parse_section(&x, v, k, cache_keys, ELEMENTSOF(cache_keys), c);
                else if (streq(k, "streams")) {
                        size_t n = toml_table_size(v);
                        if (toml_type(v) != TOML_TABLE)
                                r = config_bad(&x, v, "streams",
                                               "must be a table of streams ([streams.NAME])");
                        else if (n > 64)
                                r = config_bad(&x, v, "streams", "at most 64 streams");
                        else if (!(c->streams = calloc(n + 1, sizeof(GraphStreamConfig))))
                                r = -ENOMEM;
                        for (size_t j = 0; r >= 0 && j < n; j++) {
                                c->n_streams = j + 1;
                                r = parse_stream(&x, toml_table_key_at(v, j), toml_table_value_at(v, j),
                                                 &c->streams[j]);
                        }
                } else
                        r = config_warn_unknown(&x, v, k);
                if (r < 0)
                        goto fail;
        }
        if (c->n_streams == 0) {
                r = error_setf(e, -EINVAL, "%s: streams: no stream configured (add a [streams.NAME] table)",
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
        graph_config_free(c);
        return r;
}
