/* lock-config.h — upkeep-lock's configuration: Airlock's config.toml, accepted unchanged ([service],
 * [status], [etcd3], [lock], [[lock.groups]]), plus Upkeep's own keys. Pure: the daemon reads the file
 * (and any token files) and hands the bytes over. Every key is documented in docs/lock.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "lock-semaphore.h"
#include "strv.h"
#include "toml.h"

#define LOCK_CONFIG_DEFAULT_PATH "/etc/upkeep/lock.toml"
#define LOCK_DEFAULT_SQLITE_PATH "/var/lib/upkeep/lock/lock.db"
#define LOCK_MAX_GROUPS 1024
#define LOCK_GENERATED_TOKEN_NAME "admin.token"
/* Where the generated admin token is on defaults (beside the default database); `upkeep lock` reads it. */
#define LOCK_ADMIN_TOKEN_DEFAULT "/var/lib/upkeep/lock/admin.token"
#define LOCK_DEFAULT_PORT 3333 /* Airlock's example's, which Zincati fragments point at */

typedef enum LockBackendType {
        LOCK_BACKEND_SQLITE,
        LOCK_BACKEND_ETCD3,
} LockBackendType;

/* One weekly window in Zincati's syntax, as written (the calendar is built by the daemon). */
typedef struct LockWindowSpec {
        char **days;
        char *start_time;
        int64_t length_minutes;
        unsigned line;
} LockWindowSpec;

typedef struct LockGroupConfig {
        char *name;
        GroupPolicy policy;      /* slots, max_hold_secs, settle_secs, paused */
        char *time_zone;         /* for the windows; "UTC" by default */
        LockWindowSpec *windows; /* none = always open */
        size_t n_windows;
        char **client_tokens; /* bearer tokens allowed for FleetLock requests; none = no auth */
        size_t n_client_tokens;
} LockGroupConfig;

/* Per-node FleetLock tokens ([auth] node_tokens_file): a node may only take and release its own slot. */
typedef struct LockNodeToken {
        char *node;  /* the FleetLock client_params.id */
        char *token; /* its bearer token */
} LockNodeToken;

typedef struct LockNodeTokens {
        LockNodeToken *items;
        size_t n;
} LockNodeTokens;

#define LOCK_NODE_TOKENS_MAX 100000
#define LOCK_NODE_TOKEN_MIN_LEN 32 /* characters: `openssl rand -hex 32` makes 64 */
#define LOCK_NODE_TOKENS_FILE_MAX ((size_t)32 * 1024 * 1024)

typedef struct LockConfig {
        /* [service]: the FleetLock endpoint. */
        char *address;
        uint16_t port;
        bool tls;
        char *tls_cert_path, *tls_key_path;
        unsigned threads;
        unsigned max_connections;             /* open connections, all clients together */
        unsigned max_connections_per_address; /* per IPv4 address or IPv6 /64 */
        unsigned request_timeout_secs;        /* to receive a whole request */
        char *tls_priorities;                 /* GnuTLS priority string; NULL = the adapter's default */
        /* [status]: an extra listener for /metrics, /healthz, /readyz (Airlock's). */
        bool status_enabled;
        char *status_address;
        uint16_t status_port;
        bool status_tls; /* accepted, as Airlock does, and without effect: the status listener is HTTP */
        /* [backend] */
        LockBackendType backend;
        char *sqlite_path;
        /* [etcd3] */
        char **etcd_endpoints;
        size_t n_etcd_endpoints;
        unsigned etcd_timeout_ms;
        char *etcd_cert_path, *etcd_key_path, *etcd_ca_path;
        /* [auth] */
        char *admin_token;           /* inline (discouraged) */
        char *admin_token_file;      /* read by the daemon */
        bool generate_admin_token;   /* without either: a token generated at the first start (default) */
        char *node_tokens_file;      /* read by the daemon at start (a reload keeps what it read) */
        LockNodeTokens *node_tokens; /* what the daemon read from it; freed with the configuration */
        /* [lock] */
        char *default_group;
        LockGroupConfig *groups; /* the default group first */
        size_t n_groups;
} LockConfig;

/* The configuration used when no file exists: SQLite, one group "default" with one slot, listening on
 * [::]:3333 (LOCK_DEFAULT_PORT), the admin API with a generated token. */
int lock_config_default(LockConfig **ret);
/* Errors name the file, line, key and reason; unknown keys become warnings in *ret_warnings. */
int lock_config_parse(const char *data, size_t len, const char *filename, LockConfig **ret,
                      char ***ret_warnings, Error *e);
void lock_config_free(LockConfig *c);
/* Where the generated admin token lives: admin.token next to the SQLite database (whatever the backend,
 * so /var/lib/upkeep/lock/admin.token by default), in *ret; NULL when the configuration sets a token or
 * turns generation off. 0 or -ENOMEM. */
int lock_config_generated_token_path(const LockConfig *c, char **ret);
/* Parses a node token file: one "NODE_ID TOKEN" per line (separated by spaces or tabs), blank lines and
 * lines starting with '#' ignored. Node ids and tokens are printable ASCII without spaces; a node or a
 * token listed twice, or a token shorter than LOCK_NODE_TOKEN_MIN_LEN, is an error naming the line. */
int lock_node_tokens_parse(const char *data, size_t len, const char *filename, LockNodeTokens **ret,
                           Error *e);
void lock_node_tokens_free(LockNodeTokens *t);
/* Whether the "Authorization" header value (NULL when absent) is node's own bearer token: 1 when it is,
 * -EPERM when it is another node's, 0 when it is no node's. Every token is compared in constant time. */
int lock_node_tokens_check(const LockNodeTokens *t, const char *authorization, const char *node);
const LockGroupConfig *lock_config_find_group(const LockConfig *c, const char *name);

/* The keys whose values differ between the configuration a daemon started with and a newer one, among
 * those a reload cannot apply (the listeners, TLS, the HTTP threads, the backend and its connection):
 * "[service] port", "[etcd3] endpoints", ... in file order, in *ret (NULL when none; free with strv_free).
 * Groups, windows, tokens and pause flags are not among them: a reload applies those. */
int lock_config_restart_keys(const LockConfig *running, const LockConfig *next, char ***ret);
