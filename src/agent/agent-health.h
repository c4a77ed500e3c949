/* agent-health.h — the agent's boot assessment (issue 13), the imperative shell around the pure
 * health-machine.h: at the first steady-state report of a boot it loads <state_dir>/health.json, feeds the
 * machine its START event (the booted checksum, whether a previous deployment exists, GRUB's boot counter)
 * and performs each action with the real clock: running the checks (health-checks.h, greenboot's and
 * Upkeep's directories under check_root and the declarative [[health.check]] entries), waiting out the
 * stability window, the green.d/red.d hooks, GRUB's boot counter, the record, the bad releases, the worker's
 * set-default (rollback), the reboot and the fleet lock slot, which the engine performs through
 * AgentHealthHost. An action that fails is retried at the next report, from that action on.
 *
 * It also keeps the node's memory of bad releases (bad-releases.h): the engine asks whether a target is
 * bad, the status socket forgets one or allows it once. Those calls may come from another thread. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent-config.h"
#include "agent-status.h"
#include "error.h"
#include "health-machine.h"

/* What the engine does for the assessment; each callback gets userdata. */
typedef struct AgentHealthHost {
        void *userdata;
        /* Makes the deployment with this checksum the default (the worker's set-default). 0 or -errno, e. */
        int (*set_default)(void *userdata, const char *checksum, Error *e);
        /* Reboots the host through the engine's reboot path. 0 or -errno, e. */
        int (*reboot)(void *userdata, Error *e);
        /* Reports steady-state to the fleet lock (when one is used): true once released or not used. */
        bool (*release_slot)(void *userdata);
        /* Sleeps until CLOCK_MONOTONIC µs; false when the engine is stopping (at once). */
        bool (*sleep_until)(void *userdata, uint64_t mono_usec);
        /* Reports an outcome (succeeded, rolled_back, boot_fallback, manual_intervention); rec may be NULL,
         * failed is "a, b" or "". Never blocks on the network. May be NULL. */
        void (*report)(void *userdata, HealthOutcome o, const HealthRecord *rec, const char *reason,
                       const char *failed);
        /* Copies the assessment's view into the snapshot. */
        void (*publish)(void *userdata, const AgentHealthInfo *info);
} AgentHealthHost;

typedef struct AgentHealth AgentHealth;

/* Reads greenboot.conf (under check_root) and the bad releases (a corrupt file is logged and kept: an
 * empty list in memory until a new entry must be recorded). c and host are borrowed. 0 or -ENOMEM. */
int agent_health_new(const AgentConfig *c, const AgentHealthHost *host, AgentHealth **ret, Error *e);
AgentHealth *agent_health_free(AgentHealth *h);

/* The engine's REPORT_STEADY: runs the assessment of the booted deployment the first time, resumes it
 * (failed actions) afterwards. True when the node is steady, green or recovered and its slot was released
 * (the engine may go on to check for updates); false while the slot must stay held (retrying, rolling
 * back, manual intervention, an action failed or the engine stops). Without [health] enabled, only the
 * slot is released. A record of a release still staged (the agent restarted before the host rebooted) is
 * not assessed. */
bool agent_health_report_steady(AgentHealth *h, const AgentDeploymentInfo *booted,
                                const AgentDeploymentInfo *staged, bool have_previous);

/* Before finalizing an update from `from` to `to`: writes health.json (phase finalized, attempts_left =
 * max_boot_attempts - 1) and arms GRUB's counter when the grubenv file exists. Nothing without [health]
 * enabled. 0, or -errno with e (then the update must not be finalized). */
int agent_health_arm(AgentHealth *h, const AgentDeploymentInfo *from, const char *to_version,
                     const char *to_checksum, Error *e);

/* Whether the release (either key may be NULL) is recorded as bad here and not allowed once. */
bool agent_health_is_bad(AgentHealth *h, const char *version, const char *checksum);
/* The bad releases' checksums (strv) the graph check must skip; NULL on allocation failure. */
char **agent_health_denylist(AgentHealth *h);
/* `upkeep update-now` allowing a version: that bad release may be staged once (NULL: none). */
void agent_health_allow_once(AgentHealth *h, const char *version);
/* Consumes the allowance when version is the allowed one: true when it was. */
bool agent_health_take_allowance(AgentHealth *h, const char *version);
/* Forgets a bad release by version or checksum and stores the list. 0, -ENOENT or the storing error. */
int agent_health_forget(AgentHealth *h, const char *version_or_checksum, Error *e);
