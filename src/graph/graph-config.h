/* graph-config.h — upkeep-graph's configuration (/etc/upkeep/graph.toml): its keys, their defaults and
 * their validation. Pure: the daemon reads the file and hands the bytes over. Every key is documented in
 * docs/graph.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "graph-policy.h"
#include "strv.h"

#define GRAPH_CONFIG_DEFAULT_PATH "/etc/upkeep/graph.toml"
#define GRAPH_DEFAULT_PORT 8080
#define GRAPH_DEFAULT_REFRESH_SECS 30
#define GRAPH_DEFAULT_FETCH_TIMEOUT_SECS 10
#define GRAPH_DEFAULT_MAX_DOCUMENT (4u * 1024u * 1024u) /* today's FCOS inputs: under 1 MiB */
#define GRAPH_DEFAULT_MAX_ANSWERS 256
#define GRAPH_DEFAULT_DATA_DIR "/var/lib/upkeep/graph"
#define GRAPH_DEFAULT_REPORTS_DATABASE GRAPH_DEFAULT_DATA_DIR "/reports.db"
#define GRAPH_DEFAULT_REPORTS_PER_MINUTE 10
#define GRAPH_DEFAULT_REPORTS_MAX_NODES 65536
#define GRAPH_STATUS_URL_MAX 2048 /* [status] lock_admin_url */
#define GRAPH_DEFAULT_REPORTS_PER_ADDRESS_PER_MINUTE 300
#define GRAPH_DEFAULT_ETCD_REFRESH_MS 1000

typedef enum GraphReportsBackend {
        GRAPH_REPORTS_SQLITE,
        GRAPH_REPORTS_ETCD,
} GraphReportsBackend;

typedef struct GraphStreamConfig {
        char *name;
        char *releases; /* local path or http(s) URL */
        char *updates;
        char **basearches;
        size_t n_basearches;
} GraphStreamConfig;

typedef struct GraphConfig {
        char *address; /* numeric listen address */
        uint16_t port;
        unsigned threads;
        unsigned max_connections;
        unsigned max_connections_per_address; /* IPv4 address or IPv6 /64; loopback is exempt */
        unsigned request_timeout_secs;        /* a whole request must arrive within this */
        unsigned idle_timeout_secs;
        unsigned refresh_interval_secs;
        unsigned fetch_timeout_secs;
        size_t max_document_bytes;
        size_t max_cached_answers;
        GraphStreamConfig *streams;
        size_t n_streams;
        /* [reports]: outcome reports (POST /v1/report), off unless enabled. Read at start only. */
        bool reports_enabled;
        char *reports_database;
        char **reports_tokens; /* bearer tokens accepted; none = no authentication */
        size_t n_reports_tokens;
        unsigned reports_per_minute;             /* per node: the bucket's size and refill per minute */
        unsigned reports_max_nodes;              /* nodes the rate limiter remembers */
        unsigned reports_per_address_per_minute; /* per client address (IPv4, IPv6 /64), loopback exempt */
        GraphReportsBackend reports_backend;
        /* [etcd3]: the etcd backend (upkeep-lock's key names, plus prefix and refresh_interval_ms). */
        char **etcd_endpoints;
        size_t n_etcd_endpoints;
        unsigned etcd_timeout_ms;
        char *etcd_cert_path, *etcd_key_path, *etcd_ca_path; /* NULL or "": none */
        char *etcd_prefix;
        unsigned etcd_refresh_ms;
        /* [[policy]]: when a release pauses itself (needs reports). Applied on reload. */
        GraphPolicy *policies;
        size_t n_policies;
        /* [admin]: the file holding the bearer token of the admin API; NULL = none. Read at start. */
        char *admin_token_file;
        /* [status]: upkeep-lock's admin API shown on the status page (GET /status); NULL = not shown.
         * Read at start. */
        char *status_lock_admin_url;
        char *status_lock_admin_token_file;
} GraphConfig;

/* The configuration used when no file exists: one stream "stable" read from local files under
 * GRAPH_DEFAULT_DATA_DIR/stable/. */
int graph_config_default(GraphConfig **ret);
/* Parses a TOML document. Errors name the file, the key and the reason ("graph.toml: line 3: ..." or
 * "graph.toml: server.port: must be an integer between 0 and 65535"). Unknown keys do not fail: each
 * produces a warning string in *ret_warnings (NULL-terminated, caller frees with strv_free). */
int graph_config_parse(const char *data, size_t len, const char *filename, GraphConfig **ret,
                       char ***ret_warnings, Error *e);
void graph_config_free(GraphConfig *c);

/* A reload applies every setting in place except those of the listening socket and its threads
 * (server.address, port, threads, max_connections, max_connections_per_address, request_timeout_secs,
 * idle_timeout_secs), the [reports] table and [etcd3]. Lists, as
 * "server.port (8080 -> 9090)", each of those that differs between the running old and the reloaded new, and
 * sets it in new back to old's value, so that new describes what runs. *ret is NULL-terminated (NULL when
 * none). */
int graph_config_keep_restart_settings(const GraphConfig *old, GraphConfig *new, char ***ret);
const GraphStreamConfig *graph_config_find_stream(const GraphConfig *c, const char *name);
