/* agent-target.h — the node agent's update decision, the same one Zincati makes: find the booted
 * deployment in a served Cincinnati graph, follow the edges out of it, drop denylisted releases and pick
 * the newest target. Pure: no I/O, no clock, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "graph.h"

typedef enum TargetDecision {
        TARGET_NOT_IN_GRAPH,      /* the booted checksum is no node's payload: warn, do nothing */
        TARGET_NO_UPDATE,         /* no candidate left (none, or all denylisted) */
        TARGET_UPDATE,            /* target is the release to deploy */
        TARGET_DOWNGRADE_REFUSED, /* the best candidate is not newer and downgrades are not allowed */
} TargetDecision;

#define TARGET_NONE ((size_t)-1)

typedef struct TargetChoice {
        TargetDecision decision;
        size_t current;      /* node index of the booted release; TARGET_NONE when NOT_IN_GRAPH */
        size_t target;       /* node index of the chosen (UPDATE) or refused (DOWNGRADE_REFUSED) release,
                              * TARGET_NONE otherwise */
        size_t n_candidates; /* distinct releases reachable by one edge, before the denylist */
        size_t n_ignored;    /* of those, how many the denylist removed
                              * (zincati_cincinnati_ignored_update_targets) */
        bool deadend;        /* the booted release is a dead-end */
        const char *deadend_reason; /* into the graph; "" when the graph gives none; NULL unless deadend */
} TargetChoice;

/* The order Zincati compares releases by: age_index, then version (bytes), then payload. Returns <0, 0
 * or >0 like strcmp(). NULL strings sort as "". */
int agent_node_compare(const GraphNode *a, const GraphNode *b);

/* Decides what to do for a node booted on booted_checksum. denylist is a NULL-terminated list of payloads
 * (releases already deployed locally or that failed locally; may be NULL). Duplicate edges and releases
 * equal by (age_index, version, payload) count once. The result points into g and is only valid as long
 * as g. -EINVAL on NULL arguments, -ENOMEM. Never fails on the graph's contents (out-of-range edges are
 * skipped). */
int agent_choose_target(const Graph *g, const char *booted_checksum, char *const *denylist,
                        bool allow_downgrade, TargetChoice *ret);

/* Appends Zincati's dead-end MOTD line (newline included) to out:
 * "This release is a dead-end and will not further auto-update: <reason>\n". out is unchanged on
 * failure (-ENOBUFS). */
int agent_deadend_motd(const char *reason, Buf *out);
