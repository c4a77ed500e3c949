/* agent-motd.h — the message of the day the agent leaves while the booted release is a dead-end: a file in
 * the configured motd directory (/run/motd.d), written atomically, removed when the dead-end is over. */
#pragma once

#include <stdbool.h>

#include "error.h"

#define AGENT_MOTD_FILE "85-upkeep-deadend.motd"

typedef struct AgentMotd {
        const char *dir; /* borrowed */
        int state;       /* -1 unknown (at start), 0 no MOTD, 1 written */
} AgentMotd;

void agent_motd_init(AgentMotd *m, const char *dir);

/* Writes (deadend, with reason) or removes the file. A stale file of an earlier run is removed once; after
 * that, nothing is done while there is no dead-end. Returns 0, or a negative errno with e naming the file
 * (the state still follows deadend: a failed write is tried again on the next call). */
int agent_motd_update(AgentMotd *m, bool deadend, const char *reason, Error *e);
