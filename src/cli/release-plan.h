/* release-plan.h — `upkeep release plan`: which fraction of the fleet is offered which release over time.
 *
 * A node of wariness w, at time t, on release `from`, is offered the edges out of its release whose target
 * is not hidden (a rollout hides its node from w > throttle(t)); Zincati takes the newest target, and from
 * there the next, so a node's destination at t is where following the newest visible edge ends (through
 * barriers, stopping at dead-ends). Wariness is uniform over [0, 1] across the fleet, so the share of the
 * fleet bound for each release is the measure of the wariness intervals that end there; the breakpoints
 * are the rollouts' throttle values at t. Pure: the graph is upkeep-graph's own (graph_build()). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "graph.h"

#define PLAN_MAX_TIMES 2000
#define PLAN_MAX_CELLS (16u * 1024u * 1024u) /* times × releases computed */

typedef struct Plan {
        size_t n_times;
        int64_t *times;
        size_t n_columns;
        const char *
                *versions; /* each destination that some time reaches, by age (borrowed from the graph) */
        double *share;     /* n_times × n_columns, row-major, each row sums to 1 */
} Plan;

/* The default time range: from `from` to the latest rollout end (plus a tenth), at least one day. */
int64_t plan_default_end(const Graph *g, int64_t from);

/* Computes the plan for nodes on release `from` (a node index of g) at n_times instants (≤ PLAN_MAX_TIMES,
 * ascending). */
int plan_compute(const Graph *g, size_t from, const int64_t *times, size_t n_times, Plan **ret, Error *e);
void plan_free(Plan *p);

/* Evenly spaced instants from..to (both included), n of them (2..PLAN_MAX_TIMES). */
int plan_times(int64_t from, int64_t to, size_t n, int64_t **ret, Error *e);

/* A text table: one row per time (UTC), one column per destination release, in percent. */
int plan_write_table(const Plan *p, Buf *out);
