/* graph.h — the Cincinnati update graph as Fedora CoreOS builds it: parsing of the release index and
 * the update metadata, graph construction (checksum and OCI schemes), per-request rollout throttling,
 * client wariness, and serialization. Pure: no I/O, no clock (callers pass "now"). */
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

/* ---- Inputs ---- */

typedef struct ReleaseArtifact {
        char *architecture;
        char *payload; /* commit checksum, or OCI digest-ref */
} ReleaseArtifact;

typedef struct Release {
        char *version;
        ReleaseArtifact *commits;
        size_t n_commits;
        ReleaseArtifact *oci_images;
        size_t n_oci_images;
} Release;

typedef struct ReleaseIndex {
        char *stream;      /* NULL when the file does not say */
        Release *releases; /* oldest first */
        size_t n_releases;
} ReleaseIndex;

typedef struct UpdateEntry {
        char *version;
        char *barrier_reason; /* non-NULL (maybe "") when a barrier */
        char *deadend_reason; /* non-NULL (maybe "") when a dead-end */
        bool rollout;
        bool has_start_epoch, has_start_percentage, has_duration;
        int64_t start_epoch;
        double start_percentage;
        uint64_t duration_minutes;
} UpdateEntry;

typedef struct UpdateMetadata {
        char *stream;
        UpdateEntry *entries;
        size_t n_entries;
} UpdateMetadata;

/* Strict parsers. Errors name the release (by position and version) and the field; callers prefix the
 * file name. Unknown fields are ignored. */
int release_index_parse(const char *data, size_t len, ReleaseIndex **ret, Error *e);
void release_index_free(ReleaseIndex *ri);
int update_metadata_parse(const char *data, size_t len, UpdateMetadata **ret, Error *e);
void update_metadata_free(UpdateMetadata *um);

/* ---- The graph ---- */

typedef enum GraphScheme {
        GRAPH_SCHEME_CHECKSUM, /* payload = OSTree commit checksum */
        GRAPH_SCHEME_OCI,      /* payload = OCI image digest-ref */
} GraphScheme;

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

/* Builds the graph for one basearch exactly as fedora-coreos-cincinnati does (dead-end sources
 * already removed). -E2BIG when the caps are exceeded. */
int graph_build(const ReleaseIndex *ri, const UpdateMetadata *um, const char *basearch, GraphScheme scheme,
                Graph **ret, Error *e);
void graph_free(Graph *g);

/* The share of the fleet a rollout node is open to at time now, in [0, 1] (upstream's formula). */
double graph_node_throttle(const GraphNode *n, int64_t now);

/* Which rollout nodes a client of this wariness must not see at time now: bit i of the result is
 * rollout i (g->rollouts[i]) hidden. Only valid when n_rollouts <= 64; see graph_hidden_nodes(). */
uint64_t graph_hidden_mask(const Graph *g, double wariness, int64_t now);
/* General form: hidden[i] for every node i (true = drop every edge into it). */
void graph_hidden_nodes(const Graph *g, double wariness, int64_t now, bool *hidden);

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
