/* agent-motd.h — the messages of the day the agent leaves: while the booted release is a dead-end, and
 * while the node needs manual intervention after a failed boot assessment; files in the configured motd
 * directory (/run/motd.d), written atomically, removed when the condition is over. */
#pragma once

#include <stdbool.h>

#include "error.h"

#define AGENT_MOTD_FILE "85-upkeep-deadend.motd"
#define AGENT_MOTD_HEALTH_FILE "86-upkeep-health.motd"

typedef struct AgentMotd {
        const char *dir; /* borrowed */
        int state;       /* -1 unknown (at start), 0 no MOTD, 1 written */
} AgentMotd;

void agent_motd_init(AgentMotd *m, const char *dir);

/* Writes (deadend, with reason) or removes the file. A stale file of an earlier run is removed once; after
 * that, nothing is done while there is no dead-end. Returns 0, or a negative errno with e naming the file
 * (the state still follows deadend: a failed write is tried again on the next call). */
int agent_motd_update(AgentMotd *m, bool deadend, const char *reason, Error *e);

/* Writes text into dir/file atomically (the directory created when missing), or removes the file when
 * text is NULL (a missing file is fine). 0, or a negative errno with e naming the file. */
int agent_motd_set(const char *dir, const char *file, const char *text, Error *e);
