/* agent-config.h — upkeep-agent's configuration: Zincati's TOML drop-in fragments, accepted unchanged,
 * plus Upkeep's own [upkeep] table. Pure: the caller (src/agent/dropin.h) collects the fragments in
 * their final order (sorted by file name); this module parses and merges them. See docs/agent-config.md.
 *
 * Merge rules (Zincati's): fragments are read in the order given; a key set in a later fragment overrides
 * the same key of an earlier one, except [[updates.periodic.window]] entries, which accumulate across
 * fragments. Types are checked per fragment (a wrong type is fatal even if a later fragment overrides the
 * key, as in Zincati, whose fragments are deserialized one by one); values are validated after merging,
 * only the winning value counts, and only where it is used (e.g. fleet_lock.base_url only under
 * strategy "fleet_lock", windows and time_zone only when a calendar is in force), so every configuration
 * Zincati accepts is accepted. Errors name the file and line of the value at fault:
 *   "/etc/zincati/config.d/55-updates-strategy.toml:3: updates.strategy: must be one of immediate,
 *    fleet_lock, periodic".
 * TOML syntax errors are "FILE:LINE:COL: message". Unknown keys are warnings
 * ("FILE:LINE: unknown key 'KEY' ignored").
 *
 * Strategies: "immediate", "fleet_lock" and "periodic", as in Zincati. Upkeep adds one opt-in combination
 * (Zincati ignores periodic windows under fleet_lock): strategy "fleet_lock" with
 * [updates.fleet_lock] only_in_periodic_windows = true reboots only inside a periodic window AND while
 * holding a FleetLock slot; it then needs a non-empty [[updates.periodic.window]] calendar. The option
 * under any other strategy has no effect (a warning says so). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "calendar.h"
#include "error.h"

#define AGENT_CONFIG_MAX_FRAGMENTS 256
#define AGENT_CONFIG_MAX_WINDOWS 1024 /* [[updates.periodic.window]] entries over all fragments */
#define AGENT_CONFIG_MAX_URL 4096     /* bytes of a base URL, before and after substitution */
#define AGENT_CONFIG_MAX_ARGV 64      /* upkeep.reboot_command entries */

#define AGENT_DEFAULT_STEADY_INTERVAL_SECS 300
#define AGENT_DEFAULT_STATUS_SOCKET "/run/upkeep/agent/status.sock"
#define AGENT_DEFAULT_METRICS_SOCKET "/run/upkeep/agent/metrics.promsock"
#define AGENT_DEFAULT_MOTD_DIR "/run/motd.d"
#define AGENT_DEFAULT_STREAM_METADATA_KEY "fedora-coreos.stream"
#define AGENT_DEFAULT_STATE_DIR "/var/lib/upkeep/agent"
#define AGENT_DEFAULT_CHECKS_TIMEOUT_SECS 300
#define AGENT_DEFAULT_MAX_BOOT_ATTEMPTS 3 /* greenboot's, when greenboot.conf does not say */
#define AGENT_CONFIG_MAX_HEALTH_CHECKS 64 /* [[health.check]] entries over all fragments */
#define AGENT_HEALTH_TIMEOUT_MAX_SECS 86400

typedef enum AgentStrategy {
        AGENT_STRATEGY_IMMEDIATE,
        AGENT_STRATEGY_FLEET_LOCK,
        AGENT_STRATEGY_PERIODIC,
} AgentStrategy;

typedef enum AgentOsBackend {
        AGENT_OS_BACKEND_OSTREE,
        AGENT_OS_BACKEND_RPM_OSTREE,
        AGENT_OS_BACKEND_AUTO, /* rpm-ostree where it manages the host, else ostree (os-detect.h) */
} AgentOsBackend;

typedef enum AgentRebootMethod {
        AGENT_REBOOT_LOGIND,
        AGENT_REBOOT_COMMAND,
} AgentRebootMethod;

typedef enum AgentHealthCheckKind {
        AGENT_HEALTH_CHECK_UNIT,    /* a systemd unit that must be active */
        AGENT_HEALTH_CHECK_HTTP,    /* an http:// URL that must answer 2xx */
        AGENT_HEALTH_CHECK_COMMAND, /* argv that must exit 0 */
        _AGENT_HEALTH_CHECK_KIND_MAX,
} AgentHealthCheckKind;

/* One [[health.check]] entry, validated: name, kind and the kind's target (unit, url or argv) set. */
typedef struct AgentHealthCheckSpec {
        char *name;
        AgentHealthCheckKind kind;
        char *unit;  /* UNIT */
        char *url;   /* HTTP */
        char **argv; /* COMMAND, NULL-terminated */
        size_t n_argv;
        bool required;        /* default true */
        int64_t timeout_secs; /* 0: the health checks' default (300 s) */
} AgentHealthCheckSpec;

/* One [[updates.periodic.window]] entry as written (validated only when the calendar is in force). */
typedef struct AgentWindowSpec {
        char **days; /* NULL-terminated; may be empty */
        size_t n_days;
        char *start_time;
        int64_t length_minutes;
        char *file;    /* the fragment that defined it */
        unsigned line; /* of the window's table */
        size_t index;  /* its index in that fragment's array */
} AgentWindowSpec;

typedef struct AgentConfig {
        /* Zincati's keys */
        uint64_t steady_interval_secs; /* [agent.timing] steady_interval_secs, 300 */
        char *group;                   /* [identity] group, "default" */
        char *node_uuid;           /* [identity] node_uuid: 32 lower-case hex, or NULL (daemon's default) */
        bool has_rollout_wariness; /* [identity] rollout_wariness, unset by default */
        double rollout_wariness;
        char *cincinnati_base_url;     /* [cincinnati] base_url: template with ${...}; NULL if unset */
        bool updates_enabled;          /* [updates] enabled, true */
        bool allow_downgrade;          /* [updates] allow_downgrade, false */
        AgentStrategy strategy;        /* [updates] strategy, immediate */
        char *fleet_lock_base_url;     /* [updates.fleet_lock] base_url: template; NULL if unset */
        bool only_in_periodic_windows; /* [updates.fleet_lock] only_in_periodic_windows (Upkeep), false */
        char *time_zone;               /* [updates.periodic] time_zone, "UTC" ("localtime" or IANA name) */
        AgentWindowSpec *windows;      /* all [[updates.periodic.window]] entries, in merge order */
        size_t n_windows;
        /* The windows as a calendar: non-NULL exactly when a calendar is in force (strategy periodic, or
         * fleet_lock with only_in_periodic_windows); then non-empty. */
        Calendar *calendar;

        /* Upkeep's keys ([upkeep]) */
        AgentOsBackend os_backend;       /* os_backend, "auto" ("ostree" | "rpm-ostree" | "auto") */
        char *sysroot;                   /* sysroot, "/" */
        char *osname;                    /* osname, NULL: the booted deployment's */
        char *remote;                    /* remote, "origin" */
        char *stream_metadata_key;       /* stream_metadata_key, "fedora-coreos.stream" */
        AgentRebootMethod reboot_method; /* reboot_method, "logind" ("logind" | "command") */
        char **reboot_command;           /* reboot_command: argv, NULL-terminated; required with "command" */
        size_t n_reboot_command;
        char *status_socket;   /* status_socket, /run/upkeep/agent/status.sock */
        char *metrics_socket;  /* metrics_socket, /run/upkeep/agent/metrics.promsock */
        char *motd_dir;        /* motd_dir, /run/motd.d */
        char *rpm_ostree_path; /* rpm_ostree_path: absolute path; NULL: "rpm-ostree" found on PATH */
        char *platform;        /* platform: overrides ignition.platform.id= of /proc/cmdline; NULL: unset */
        char *state_dir;       /* state_dir, /var/lib/upkeep/agent: health.json, bad-releases.json */
        char *report_url;      /* report_url: template as base_url; NULL: no outcome reports */
        char *report_token_file; /* report_token_file: bearer token for report_url; NULL: none */
        char *lock_token_file;   /* lock_token_file: bearer token for the FleetLock server; NULL: none */

        /* Upkeep's boot assessment ([health], docs/agent.md) */
        bool health_enabled;                 /* enabled, true */
        uint64_t checks_timeout_secs;        /* checks_timeout_secs, 300: the overall deadline of one run */
        uint64_t stability_secs;             /* stability_secs, 0: how long the node must stay green */
        unsigned max_boot_attempts;          /* max_boot_attempts; 0 when unset: greenboot.conf's, else 3 */
        char *grubenv;                       /* grubenv, "<sysroot>/boot/grub/grubenv" */
        char *check_root;                    /* check_root, "/": prefix of the check directories */
        AgentHealthCheckSpec *health_checks; /* all [[health.check]] entries, in merge order */
        size_t n_health_checks;
} AgentConfig;

/* One fragment: its path (used in messages) and contents. */
typedef struct AgentFragment {
        const char *path;
        const char *data;
        size_t len;
} AgentFragment;

/* Parses and merges n fragments (at most AGENT_CONFIG_MAX_FRAGMENTS, in merge order; n may be 0: all
 * defaults, which is an error only because cincinnati.base_url is required when updates are enabled).
 * On success *ret is the merged configuration and *ret_warnings (optional) a NULL-terminated list of
 * warnings (NULL when there are none) the caller frees with strv_free(). -EINVAL with e filled on bad
 * input, -E2BIG for too many fragments or windows, -ENOMEM. */
int agent_config_merge(const AgentFragment *fragments, size_t n, AgentConfig **ret, char ***ret_warnings,
                       Error *e);
void agent_config_free(AgentConfig *c);

/* `upkeep-agent --check-config`: merges the fragments as agent_config_merge() does and, when they are
 * valid, appends one line per key to out: "name = value  # FILE:LINE" (the fragment that set it) or
 * "name = value  # default". The values are the merged ones (strings quoted as in TOML; the windows as
 * their count). Errors as agent_config_merge()'s, -ENOBUFS at out's cap; out is unchanged on failure. */
int agent_config_describe(const AgentFragment *fragments, size_t n, Buf *out, Error *e);

static inline void agent_config_freep(AgentConfig **c)
{
        if (*c)
                agent_config_free(*c);
}
#define _cleanup_agent_config_ __attribute__((cleanup(agent_config_freep)))

const char *agent_strategy_to_string(AgentStrategy s);
/* "unit", "http", "command"; NULL for other values. */
const char *agent_health_check_kind_to_string(AgentHealthCheckKind k);

/* Substitutes ${basearch}, ${group}, ${platform} and ${stream} in a base URL template with the given
 * values (percent-encoded except for [A-Za-z0-9._~-]); a '$' not followed by '{' is kept as is. The
 * result must be an http:// or https:// URL with a host, without spaces or control characters, of at
 * most AGENT_CONFIG_MAX_URL bytes. -EINVAL (e says why, without naming a key: "unknown placeholder
 * '${arch}'", "unterminated placeholder", "must be an http:// or https:// URL") or -ENOMEM. */
int agent_config_expand_url(const char *template, const char *basearch, const char *group,
                            const char *platform, const char *stream, char **ret, Error *e);

/* Whether s is a valid [identity] group: ^[a-zA-Z0-9.-]+$. */
bool agent_group_valid(const char *s);
