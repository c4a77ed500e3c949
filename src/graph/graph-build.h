/* graph-build.h — the update graph of one basearch built from the release index and update metadata
 * exactly as fedora-coreos-cincinnati builds it, and the per-request rollout throttling. Pure: callers
 * pass "now". */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "graph-metadata.h"
#include "graph.h"

typedef enum GraphScheme {
        GRAPH_SCHEME_CHECKSUM, /* payload = OSTree commit checksum */
        GRAPH_SCHEME_OCI,      /* payload = OCI image digest-ref */
        _GRAPH_SCHEME_MAX,
} GraphScheme;

/* Builds the graph for one basearch exactly as fedora-coreos-cincinnati does (dead-end sources
 * already removed). -E2BIG when the caps are exceeded. */
int graph_build(const ReleaseIndex *ri, const UpdateMetadata *um, const char *basearch, GraphScheme scheme,
                Graph **ret, Error *e);

/* The share of the fleet a rollout node is open to at time now, in [0, 1] (upstream's formula). */
double graph_node_throttle(const GraphNode *n, int64_t now);

/* Which rollout nodes a client of this wariness must not see at time now: bit i of the result is
 * rollout i (g->rollouts[i]) hidden. Only valid when n_rollouts <= 64; see graph_hidden_nodes(). */
uint64_t graph_hidden_mask(const Graph *g, double wariness, int64_t now);
/* General form: hidden[i] for every node i (true = drop every edge into it). */
void graph_hidden_nodes(const Graph *g, double wariness, int64_t now, bool *hidden);
