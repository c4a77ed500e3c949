/* graph.h — the Cincinnati update graph model that the server builds and the agent and the CLI read:
 * nodes, edges and metadata, serialization, client wariness, and the parser of a served graph. Building
 * it from Fedora CoreOS's inputs and throttling rollouts are upkeep-graph's (src/graph/graph-build.h).
 * Pure: no I/O, no clock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* Caps that keep memory bounded whatever the input. */
#define GRAPH_MAX_RELEASES 100000
#define GRAPH_MAX_EDGES (4u * 1024u * 1024u)

#define META_SCHEME "org.fedoraproject.coreos.scheme"
#define META_AGE_INDEX "org.fedoraproject.coreos.releases.age_index"
#define META_BARRIER "org.fedoraproject.coreos.updates.barrier"
#define META_BARRIER_REASON "org.fedoraproject.coreos.updates.barrier_reason"
#define META_DEADEND "org.fedoraproject.coreos.updates.deadend"
#define META_DEADEND_REASON "org.fedoraproject.coreos.updates.deadend_reason"
#define META_ROLLOUT "org.fedoraproject.coreos.updates.rollout"
#define META_DURATION "org.fedoraproject.coreos.updates.duration_minutes"
#define META_START_EPOCH "org.fedoraproject.coreos.updates.start_epoch"
#define META_START_VALUE "org.fedoraproject.coreos.updates.start_value"

/* ---- The graph ---- */

#define GRAPH_NODE_MAX_META 10

typedef struct GraphNode {
        char *version;
        char *payload;
        const char *meta_keys[GRAPH_NODE_MAX_META]; /* static strings (META_*) in upstream's order */
        char *meta_values[GRAPH_NODE_MAX_META];
        size_t n_meta;
        size_t age_index;
        bool barrier, deadend, rollout;
        /* Throttling parameters (rollout nodes). */
        bool has_start_epoch, has_start_value, has_duration;
        int64_t start_epoch;
        double start_value;
        uint64_t duration_minutes;
} GraphNode;

typedef struct GraphEdge {
        uint32_t from, to;
} GraphEdge;

typedef struct Graph {
        GraphNode *nodes;
        size_t n_nodes;
        GraphEdge *edges; /* in upstream's order */
        size_t n_edges;
        uint32_t *rollouts; /* node indices of rollout nodes, ascending */
        size_t n_rollouts;
} Graph;

void graph_free(Graph *g);

/* Sets a node's metadata key (one of the META_* strings, which the node points to) to a copy of value,
 * keeping the keys in upstream's insertion order. */
int graph_node_set_meta(GraphNode *n, const char *key, const char *value);
/* Appends the edge (from, to), growing g->edges (*cap is its allocated length). -E2BIG past
 * GRAPH_MAX_EDGES. */
int graph_add_edge(Graph *g, size_t *cap, size_t from, size_t to, Error *e);

/* Serializes {"nodes":[...],"edges":[...]} compactly; node fields in the order version, metadata,
 * payload. hidden (per node, may be NULL) drops edges into hidden nodes; edges out of dead-ends are
 * always dropped. */
int graph_write_json(const Graph *g, const bool *hidden, Buf *out);
/* Only the part before the edges ("{\"nodes\":[...],\"edges\":[") and the edges part, so a server can
 * keep the nodes once per graph and the edges per answer. */
int graph_write_json_nodes(const Graph *g, Buf *out);
int graph_write_json_edges(const Graph *g, const bool *hidden, Buf *out);
/* Human formats for the command line. */
int graph_write_text(const Graph *g, const bool *hidden, Buf *out);
int graph_write_dot(const Graph *g, const bool *hidden, Buf *out);

/* ---- Client wariness ---- */

/* Upstream's derivation: SipHash-1-3 (keys 0,0) of the uuid bytes followed by 0xFF, scaled to [0,1]
 * and clamped to [0.000001, 1]. */
double wariness_from_uuid(const char *uuid, size_t len);
/* Parses a rollout_wariness parameter (a decimal number) and clamps it to [0, 1]. -EINVAL when it is
 * not a finite decimal number. */
int wariness_parse(const char *s, double *ret);

/* ---- Reading a served graph back (clients: the CLI and the agent) ---- */

/* Parses a Cincinnati graph document {"nodes":[{version, payload, metadata}], "edges":[[from, to]]}.
 * Known org.fedoraproject.coreos.* metadata keys are kept (age_index is required, as Zincati requires
 * it); other metadata keys are ignored. Edges must name existing nodes. */
int graph_parse_json(const char *data, size_t len, Graph **ret, Error *e);
