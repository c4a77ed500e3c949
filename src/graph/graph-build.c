/* graph-build.c — construction of the update graph from a release index and update metadata exactly as
 * fedora-coreos-cincinnati builds it (checksum and OCI schemes), and the per-request rollout throttling. */
#include "graph-build.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

typedef struct EntryRef {
        const char *version;
        size_t pos;
} EntryRef;

static int entry_ref_cmp(const void *a, const void *b)
{
        const EntryRef *x = a, *y = b;
        int c = strcmp(x->version, y->version);
        if (c)
                return c;
        return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Applies every update entry for n->version, in upstream's order: dead-ends, then barriers, then
 * rollouts, each over all matching entries in file order. */
static int node_apply_updates(GraphNode *n, const UpdateMetadata *um, const EntryRef *refs, size_t n_refs)
{
        size_t lo = 0, hi = n_refs, first;
        char num[400]; /* a double printed without exponent, as upstream does: up to ~330 characters */
        int r;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (strcmp(refs[mid].version, n->version) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        first = lo;

        for (int pass = 0; pass < 3; pass++)
                for (size_t i = first; i < n_refs && streq(refs[i].version, n->version); i++) {
                        const UpdateEntry *u = &um->entries[refs[i].pos];
                        if (pass == 0 && u->deadend_reason) {
                                n->deadend = true;
                                if ((r = graph_node_set_meta(n, META_DEADEND, "true")) < 0 ||
                                    (r = graph_node_set_meta(n, META_DEADEND_REASON,
                                                             *u->deadend_reason ? u->deadend_reason
                                                                                : "generic")) < 0)
                                        return r;
                        } else if (pass == 1 && u->barrier_reason) {
                                n->barrier = true;
                                if ((r = graph_node_set_meta(n, META_BARRIER, "true")) < 0 ||
                                    (r = graph_node_set_meta(n, META_BARRIER_REASON,
                                                             *u->barrier_reason ? u->barrier_reason
                                                                                : "generic")) < 0)
                                        return r;
                        } else if (pass == 2 && u->rollout) {
                                n->rollout = true;
                                if ((r = graph_node_set_meta(n, META_ROLLOUT, "true")) < 0)
                                        return r;
                                if (u->has_start_epoch) {
                                        n->has_start_epoch = true;
                                        n->start_epoch = u->start_epoch;
                                        snprintf(num, sizeof(num), "%lld", (long long)u->start_epoch);
                                        if ((r = graph_node_set_meta(n, META_START_EPOCH, num)) < 0)
                                                return r;
                                }
                                if (u->has_start_percentage) {
                                        n->has_start_value = true;
                                        n->start_value = u->start_percentage;
                                        if ((r = format_double_shortest(u->start_percentage, num,
                                                                        sizeof(num))) < 0 ||
                                            (r = graph_node_set_meta(n, META_START_VALUE, num)) < 0)
                                                return r;
                                }
                                if (u->has_duration) {
                                        n->has_duration = true;
                                        n->duration_minutes = u->duration_minutes;
                                        snprintf(num, sizeof(num), "%llu",
                                                 (unsigned long long)u->duration_minutes);
                                        if ((r = graph_node_set_meta(n, META_DURATION, num)) < 0)
                                                return r;
                                }
                        }
                }
        return 0;
}

static int compute_edges(Graph *g, Error *e)
{
        _cleanup_free_ size_t *prev_barrier = calloc(g->n_nodes + 1, sizeof(size_t));
        size_t cap = 0, start = 0, last = 0, keep = 0;
        int r;

        if (!prev_barrier)
                return -ENOMEM;
        /* prev_barrier[i] = index of the newest barrier strictly older than i, or 0. */
        for (size_t i = 0; i < g->n_nodes; i++) {
                prev_barrier[i] = last;
                if (g->nodes[i].barrier)
                        last = i;
        }
        /* Edges into rollouts, newest rollout first, from the previous barrier on. */
        for (size_t k = g->n_rollouts; k > 0; k--) {
                size_t to = g->rollouts[k - 1];
                for (size_t i = prev_barrier[to]; i < to; i++)
                        if ((r = graph_add_edge(g, &cap, i, to, e)) < 0)
                                return r;
        }
        /* Edges into barriers that are not being rolled out, oldest first. */
        for (size_t b = 0; b < g->n_nodes; b++) {
                if (!g->nodes[b].barrier)
                        continue;
                if (!g->nodes[b].rollout)
                        for (size_t i = start; i < b; i++)
                                if ((r = graph_add_edge(g, &cap, i, b, e)) < 0)
                                        return r;
                start = b;
        }
        /* Dead-ends have no way out. */
        for (size_t i = 0; i < g->n_edges; i++)
                if (!g->nodes[g->edges[i].from].deadend)
                        g->edges[keep++] = g->edges[i];
        g->n_edges = keep;
        return 0;
}

int graph_build(const ReleaseIndex *ri, const UpdateMetadata *um, const char *basearch, GraphScheme scheme,
                Graph **ret, Error *e)
{
        _cleanup_free_ EntryRef *refs = NULL;
        Graph *g;
        char num[32];
        int r;

        assert(ri && um && basearch && ret);
        assert(scheme < _GRAPH_SCHEME_MAX);
        if (ri->n_releases > GRAPH_MAX_RELEASES || um->n_entries > GRAPH_MAX_RELEASES)
                return error_setf(e, -E2BIG, "graph: more than %d releases", GRAPH_MAX_RELEASES);

        refs = calloc(um->n_entries + 1, sizeof(EntryRef));
        g = calloc(1, sizeof(*g));
        if (g)
                g->nodes = calloc(ri->n_releases + 1, sizeof(GraphNode));
        if (g)
                g->rollouts = calloc(ri->n_releases + 1, sizeof(uint32_t));
        if (!refs || !g || !g->nodes || !g->rollouts) {
                graph_free(g);
                return -ENOMEM;
        }
        for (size_t i = 0; i < um->n_entries; i++)
                refs[i] = (EntryRef){ um->entries[i].version, i };
        qsort(refs, um->n_entries, sizeof(EntryRef), entry_ref_cmp);

        for (size_t i = 0; i < ri->n_releases; i++) {
                const Release *rel = &ri->releases[i];
                const ReleaseArtifact *arts = scheme == GRAPH_SCHEME_OCI ? rel->oci_images : rel->commits;
                size_t n_arts = scheme == GRAPH_SCHEME_OCI ? rel->n_oci_images : rel->n_commits;
                const char *payload = NULL;
                GraphNode *n;

                for (size_t k = 0; k < n_arts; k++)
                        if (streq(arts[k].architecture, basearch) && *arts[k].payload)
                                payload = arts[k].payload; /* the last one wins, as upstream */
                if (!payload)
                        continue;

                n = &g->nodes[g->n_nodes++];
                n->age_index = i;
                snprintf(num, sizeof(num), "%zu", i);
                if (!(n->version = strdup(rel->version)) || !(n->payload = strdup(payload)) ||
                    (r = graph_node_set_meta(n, META_AGE_INDEX, num)) < 0 ||
                    (r = graph_node_set_meta(n, META_SCHEME,
                                             scheme == GRAPH_SCHEME_OCI ? "oci" : "checksum")) < 0 ||
                    (r = node_apply_updates(n, um, refs, um->n_entries)) < 0) {
                        graph_free(g);
                        return -ENOMEM;
                }
                if (n->rollout)
                        g->rollouts[g->n_rollouts++] = (uint32_t)(g->n_nodes - 1);
        }

        r = compute_edges(g, e);
        if (r < 0) {
                graph_free(g);
                return r;
        }
        *ret = g;
        return 0;
}

/* ---- throttling ---- */

double graph_node_throttle(const GraphNode *n, int64_t now)
{
        int64_t start = n->has_start_epoch ? n->start_epoch : 0;
        double value = n->has_start_value ? n->start_value : 0.0;

        if (!n->has_duration)
                return now < start ? 0.0 : value; /* without a duration the rollout never progresses */

        /* end = start + 60 * max(minutes, 1), computed without overflow (upstream's arithmetic). */
        __int128 end = (__int128)start + (__int128)60 * (n->duration_minutes ? n->duration_minutes : 1);
        double rate = (1.0 - value) / (double)(end - start);
        if (now < start)
                return 0.0;
        if ((__int128)now > end)
                return 1.0;
        return value + rate * (double)(now - start);
}

void graph_hidden_nodes(const Graph *g, double wariness, int64_t now, bool *hidden)
{
        memset(hidden, 0, g->n_nodes * sizeof(bool));
        for (size_t k = 0; k < g->n_rollouts; k++) {
                const GraphNode *n = &g->nodes[g->rollouts[k]];
                if (wariness > graph_node_throttle(n, now))
                        hidden[g->rollouts[k]] = true;
        }
}

uint64_t graph_hidden_mask(const Graph *g, double wariness, int64_t now)
{
        uint64_t mask = 0;
        for (size_t k = 0; k < g->n_rollouts && k < 64; k++)
                if (wariness > graph_node_throttle(&g->nodes[g->rollouts[k]], now))
                        mask |= UINT64_C(1) << k;
        return mask;
}
