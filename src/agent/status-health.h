/* status-health.h — the lines `upkeep status` adds for the boot assessment and the record of bad releases,
 * rendered from the status JSON document the agent answered. Pure.
 *
 * Only what is present is shown: a document from an agent older than health checks (no "health", no
 * "bad_releases" member) yields nothing. Texts are cleaned of control characters before they reach the
 * terminal. */
#pragma once

#include <jansson.h>

#include "buf.h"

/* Appends the "Health:" block (state, booted release, attempts left, failing checks, reason, one line per
 * check) and the "Bad releases:" block to out. Any member may be missing or of the wrong type. 0, or
 * -ENOBUFS when out is full (out is then left as it was). */
int status_health_format(const json_t *status, Buf *out);

/* The boot-complete gate (`upkeep status --wait-health`, dist/upkeep-health-gate.service): what the
 * agent's status says about this boot. */
typedef enum HealthGate {
        HEALTH_GATE_WAIT, /* not decided yet: no assessment, checks running, or a reboot coming */
        HEALTH_GATE_PASS, /* steady (no update pending), green, green again after a rollback, or disabled */
        HEALTH_GATE_FAIL, /* manual intervention needed: this boot is not good */
} HealthGate;

/* Decides from the status document; *ret_state (optional) points to the state's name inside status (or
 * "" when there is none). An agent older than health checks (no "health" member) passes. */
HealthGate status_health_gate(const json_t *status, const char **ret_state);
