/* agent-target.c — the node agent's choice of an update target in a served Cincinnati graph, as Zincati
 * makes it (see agent-target.h and the spec's "Choosing the target"). */
#include "agent-target.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "strutil.h"

static const char *str_or_empty(const char *s)
{
        return s ? s : "";
}

int agent_node_compare(const GraphNode *a, const GraphNode *b)
{
        int c;

        if (a->age_index != b->age_index)
                return a->age_index < b->age_index ? -1 : 1;
        c = strcmp(str_or_empty(a->version), str_or_empty(b->version));
        if (c != 0)
                return c;
        return strcmp(str_or_empty(a->payload), str_or_empty(b->payload));
}

static const char *node_meta(const GraphNode *n, const char *key)
{
        for (size_t i = 0; i < MIN(n->n_meta, (size_t)GRAPH_NODE_MAX_META); i++)
                if (n->meta_keys[i] && n->meta_values[i] && streq(n->meta_keys[i], key))
                        return n->meta_values[i];
        return NULL;
}

static int compare_indices(const void *a, const void *b, void *userdata)
{
        const Graph *g = userdata;
        size_t x = *(const size_t *)a, y = *(const size_t *)b;
        int c = agent_node_compare(&g->nodes[x], &g->nodes[y]);

        /* Stable across equal releases: the lower node index first. */
        if (c == 0)
                c = x < y ? -1 : x > y;
        return c;
}

static bool denylisted(char *const *denylist, const char *payload)
{
        if (!denylist)
                return false;
        for (char *const *d = denylist; *d; d++)
                if (streq(*d, str_or_empty(payload)))
                        return true;
        return false;
}

int agent_choose_target(const Graph *g, const char *booted_checksum, char *const *denylist,
                        bool allow_downgrade, TargetChoice *ret)
{
        _cleanup_free_ uint8_t *seen = NULL;
        _cleanup_free_ size_t *cands = NULL;
        TargetChoice c = {
                .decision = TARGET_NOT_IN_GRAPH,
                .current = TARGET_NONE,
                .target = TARGET_NONE,
        };
        size_t n_cands = 0, best = TARGET_NONE;

        if (!g || !booted_checksum || !ret || (g->n_nodes > 0 && !g->nodes) || (g->n_edges > 0 && !g->edges))
                return -EINVAL;

        /* 1. The current node: the first whose payload is the booted checksum. */
        for (size_t i = 0; i < g->n_nodes; i++)
                if (g->nodes[i].payload && streq(g->nodes[i].payload, booted_checksum)) {
                        c.current = i;
                        break;
                }
        if (c.current == TARGET_NONE) {
                *ret = c;
                return 0;
        }
        const GraphNode *cur = &g->nodes[c.current];

        /* 2. Dead-end: the caller shows the reason. */
        if (cur->deadend) {
                c.deadend = true;
                c.deadend_reason = str_or_empty(node_meta(cur, META_DEADEND_REASON));
        }

        /* 3. Candidates: distinct targets of the edges out of the current node. */
        seen = calloc(g->n_nodes, 1);
        cands = calloc(g->n_nodes ? g->n_nodes : 1, sizeof(size_t));
        if (!seen || !cands)
                return -ENOMEM;
        for (size_t i = 0; i < g->n_edges; i++) {
                size_t to = g->edges[i].to;
                if (g->edges[i].from != c.current || to >= g->n_nodes || seen[to])
                        continue;
                seen[to] = 1;
                cands[n_cands++] = to;
        }
        /* Releases equal by the ordering are one release, as in Zincati's ordered set: sort, then keep
         * the first of each run. */
        qsort_r(cands, n_cands, sizeof(size_t), compare_indices, (void *)g);
        size_t k = 0;
        for (size_t j = 0; j < n_cands; j++)
                if (k == 0 || agent_node_compare(&g->nodes[cands[k - 1]], &g->nodes[cands[j]]) != 0)
                        cands[k++] = cands[j];
        n_cands = k;
        c.n_candidates = n_cands;

        /* 4. The newest candidate not denylisted. */
        for (size_t j = 0; j < n_cands; j++) {
                const GraphNode *n = &g->nodes[cands[j]];
                if (denylisted(denylist, n->payload)) {
                        c.n_ignored++;
                        continue;
                }
                if (best == TARGET_NONE || agent_node_compare(n, &g->nodes[best]) > 0)
                        best = cands[j];
        }

        if (best == TARGET_NONE)
                c.decision = TARGET_NO_UPDATE;
        else {
                c.target = best;
                c.decision = agent_node_compare(&g->nodes[best], cur) > 0 || allow_downgrade
                                     ? TARGET_UPDATE
                                     : TARGET_DOWNGRADE_REFUSED;
        }
        *ret = c;
        return 0;
}

int agent_deadend_motd(const char *reason, Buf *out)
{
        char clean[1024]; /* the graph server's text, on one line, without escapes or bidi controls */

        if (!out)
                return -EINVAL;
        (void)text_clean(clean, sizeof clean, str_or_empty(reason), strlen(str_or_empty(reason)), 0);
        return buf_printf(out, "This release is a dead-end and will not further auto-update: %s\n", clean);
}
