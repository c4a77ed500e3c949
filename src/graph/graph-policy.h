/* graph-policy.h — the rollout safety policy ([[policy]] in graph.toml) and the pause it triggers.
 *
 * A policy watches the outcome reports of a stream (optionally of one group): a release trips it when at
 * least failure_threshold_count nodes failed (any outcome but succeeded) and, once min_sample nodes
 * reported, the failures are also more than failure_threshold_ratio of them. A tripped release is paused
 * at the percentage its rollout had reached: the graph then offers it with that throttle value frozen
 * (nodes that saw the edge keep it, nobody new gets it) until someone resumes it; resuming continues the
 * ramp from the frozen value over the duration that remained at the pause. Pure: times are arguments. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph-report.h"
#include "graph.h"

#define GRAPH_POLICY_MAX 64
#define GRAPH_PAUSE_REASON_MAX 256

typedef struct GraphPolicy {
        char *stream;
        char *group; /* NULL: every group's reports together */
        unsigned failure_threshold_count;
        double failure_threshold_ratio; /* in [0, 1) */
        unsigned min_sample;
        unsigned canary; /* 0: none; else the canary phase's size (GraphCanary), at most GRAPH_CANARY_MAX */
} GraphPolicy;

#define GRAPH_POLICY_DEFAULT_COUNT 2
#define GRAPH_POLICY_DEFAULT_RATIO 0.05
#define GRAPH_POLICY_DEFAULT_MIN_SAMPLE 5

/* The reports a policy looks at for one release. */
typedef struct GraphPolicyTally {
        uint64_t succeeded, failed;
} GraphPolicyTally;

/* Sums the counts of (p->stream, release) over p->group, or over every group when it is NULL (the
 * _other overflow key is never counted: its stream is unknown). */
GraphPolicyTally graph_policy_tally(const GraphPolicy *p, const GraphReportCounts *c, const char *release);
/* Whether t trips p; when it does, reason (when not NULL) gets a sentence with the counts and the
 * thresholds, e.g. "3 of 4 nodes failed (75.0%; threshold: 2 failures and 5.0% once 5 reported)". */
bool graph_policy_trips(const GraphPolicy *p, GraphPolicyTally t, char *reason, size_t reason_size);

/* A paused (or resumed) release of a stream. */
typedef struct GraphPause {
        char stream[GRAPH_REPORT_MAX_NAME + 1];
        char release[GRAPH_REPORT_MAX_VERSION + 1];
        double frozen;          /* the throttle value reached at the pause, in [0, 1] */
        int64_t paused_at;      /* unix seconds */
        int64_t remaining_secs; /* of the ramp at the pause; 0 when it had none or had ended */
        int64_t resumed_at;     /* 0 while paused */
        char reason[GRAPH_PAUSE_REASON_MAX];
        /* The node's own rollout, to tell what it would be without the pause (graph_pause_live()). */
        bool had_node, had_rollout, had_duration;
        int64_t start_epoch;
        double start_value;
        uint64_t duration_minutes;
} GraphPause;

static inline bool graph_pause_active(const GraphPause *p)
{
        return p->resumed_at == 0;
}

/* Pauses a release at now. n is its node in the current graph (its own, unpaused rollout), or NULL when
 * the graph does not have it: then it is frozen at 0 (nobody is offered it when it appears). A node that
 * is not a rollout is offered to everyone: frozen at 1 (the pause changes nothing; say so). -EINVAL when
 * stream or release are too long. */
int graph_pause_init(GraphPause *p, const char *stream, const char *release, const GraphNode *n, int64_t now,
                     const char *reason);
/* The throttle value the release would have at now without the pause: 0 when it was not in the graph,
 * 1 when it was not a rollout. */
double graph_pause_live(const GraphPause *p, int64_t now);
/* Resumes at now (now >= paused_at): the ramp continues from frozen, reaching 1 after remaining_secs. */
void graph_pause_resume(GraphPause *p, int64_t now);
/* Rewrites n's throttle parameters so that graph_node_throttle() follows the pause: frozen while paused,
 * then frozen + (1 - frozen) * (t - resumed_at) / remaining_secs (1 at once when nothing remained). The
 * node becomes a rollout node if it was not (it must then be listed in g->rollouts: see
 * graph_pauses_apply()). */
void graph_pause_apply(const GraphPause *p, GraphNode *n);
/* Applies every pause of stream to g's rollout nodes of the same version. A paused release that is not
 * a rollout node in g is left alone (it is offered to everyone, as without the pause). */
void graph_pauses_apply(const GraphPause *pauses, size_t n, const char *stream, Graph *g);
/* The pause of (stream, release) in pauses[0..n), or NULL. */
const GraphPause *graph_pauses_find(const GraphPause *pauses, size_t n, const char *stream,
                                    const char *release);

/* The canary phase (policy.canary = N): while fewer than N nodes (in the policy's group, or any) reported
 * succeeded for a release whose rollout is in progress (throttle below 1), only the first N distinct
 * nodes that asked for the graph with a node_uuid (and whose wariness lets them see it) are offered it;
 * everyone else waits until N succeeded. The admitted nodes are kept per (stream, release), in memory. */
#define GRAPH_CANARY_MAX 64
#define GRAPH_CANARY_GATES_MAX 256

typedef struct GraphCanaryGate {
        char stream[GRAPH_REPORT_MAX_NAME + 1];
        char release[GRAPH_REPORT_MAX_VERSION + 1];
        bool open; /* enough nodes succeeded: no more gate */
        size_t n;
        uint64_t nodes[GRAPH_CANARY_MAX]; /* hashes of the admitted nodes' node_uuid */
} GraphCanaryGate;

typedef struct GraphCanary {
        GraphCanaryGate *gates; /* at most GRAPH_CANARY_GATES_MAX */
        size_t n;
} GraphCanary;

/* The gate of (stream, release), created closed when missing (in the place of an open gate when the
 * table is full: an open gate that comes back is closed again until the counts reopen it); NULL when
 * every gate is closed and the table is full, or out of memory (the caller then keeps the release from
 * the node: failing closed). */
GraphCanaryGate *graph_canary_gate(GraphCanary *c, const char *stream, const char *release);
/* Whether node (a hash of its node_uuid; 0 = none given, never admitted) may see the gated release:
 * admitted before, or admitted now when fewer than limit were. */
bool graph_canary_admit(GraphCanaryGate *g, unsigned limit, uint64_t node);
void graph_canary_done(GraphCanary *c);
