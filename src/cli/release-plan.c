/* release-plan.c — the fleet's destinations over time under the rollouts, barriers and dead-ends of an
 * update graph, for `upkeep release plan`. */
#include "release-plan.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-build.h"
#include "release-time.h"

void plan_free(Plan *p)
{
        if (!p)
                return;
        free(p->times);
        free(p->versions);
        free(p->share);
        free(p);
}

int64_t plan_default_end(const Graph *g, int64_t from)
{
        int64_t end = from;

        for (size_t k = 0; k < g->n_rollouts; k++) {
                const GraphNode *n = &g->nodes[g->rollouts[k]];
                int64_t s = n->has_start_epoch ? n->start_epoch : 0;
                if (s > INT64_C(1) << 60 || s < -(INT64_C(1) << 60))
                        continue; /* no date a plan can show */
                if (n->has_duration && n->duration_minutes < (UINT64_C(1) << 31)) {
                        int64_t e = s + 60 * (int64_t)(n->duration_minutes ? n->duration_minutes : 1);
                        end = MAX(end, e);
                } else if (s > from)
                        end = MAX(end, s);
        }
        end = end > from ? end + (end - from) / 10 : end;
        return MAX(end, from + 86400);
}

int plan_times(int64_t from, int64_t to, size_t n, int64_t **ret, Error *e)
{
        int64_t *t;

        if (n < 2 || n > PLAN_MAX_TIMES)
                return error_setf(e, -EINVAL, "%zu rows: between 2 and %d", n, PLAN_MAX_TIMES);
        if (to <= from)
                return error_setf(e, -EINVAL, "the plan's end is not after its start");
        t = calloc(n, sizeof(*t));
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                t[i] = from + (int64_t)((double)(to - from) * (double)i / (double)(n - 1));
        *ret = t;
        return 0;
}

/* Edges out of each node (CSR), so following a node's path is linear in its out-degree. */
typedef struct Adjacency {
        size_t *first; /* n_nodes + 1 */
        uint32_t *to;
} Adjacency;

static int adjacency_build(const Graph *g, Adjacency *a)
{
        a->first = calloc(g->n_nodes + 1, sizeof(size_t));
        a->to = calloc(g->n_edges + 1, sizeof(uint32_t));
        if (!a->first || !a->to)
                return -ENOMEM;
        for (size_t i = 0; i < g->n_edges; i++)
                a->first[g->edges[i].from + 1]++;
        for (size_t i = 0; i < g->n_nodes; i++)
                a->first[i + 1] += a->first[i];
        size_t *fill = calloc(g->n_nodes + 1, sizeof(size_t));
        if (!fill)
                return -ENOMEM;
        for (size_t i = 0; i < g->n_edges; i++) {
                uint32_t f = g->edges[i].from;
                a->to[a->first[f] + fill[f]++] = g->edges[i].to;
        }
        free(fill);
        return 0;
}

/* Where a node on from ends up following the newest visible edge (dead-ends have no edges out). */
static size_t destination(const Graph *g, const Adjacency *a, const bool *hidden, size_t from)
{
        size_t cur = from;

        for (size_t step = 0; step < g->n_nodes; step++) {
                size_t best = SIZE_MAX;
                for (size_t k = a->first[cur]; k < a->first[cur + 1]; k++) {
                        uint32_t t = a->to[k];
                        if (!hidden[t] &&
                            (best == SIZE_MAX || g->nodes[t].age_index > g->nodes[best].age_index))
                                best = t;
                }
                if (best == SIZE_MAX)
                        break;
                cur = best;
        }
        return cur;
}

static int cmp_double(const void *x, const void *y)
{
        double a = *(const double *)x, b = *(const double *)y;
        return a < b ? -1 : a > b;
}

/* share[node] += the measure of wariness values whose destination at t is node. */
static void plan_row(const Graph *g, const Adjacency *a, size_t from, int64_t t, double *cuts, bool *hidden,
                     double *share)
{
        size_t n = 0;

        cuts[n++] = 0.0;
        cuts[n++] = 1.0;
        for (size_t k = 0; k < g->n_rollouts; k++)
                cuts[n++] = CLAMP(graph_node_throttle(&g->nodes[g->rollouts[k]], t), 0.0, 1.0);
        qsort(cuts, n, sizeof(double), cmp_double);
        for (size_t i = 0; i + 1 < n; i++) {
                double lo = cuts[i], hi = cuts[i + 1];
                if (hi <= lo)
                        continue;
                graph_hidden_nodes(g, (lo + hi) / 2, t, hidden);
                share[destination(g, a, hidden, from)] += hi - lo;
        }
}

int plan_compute(const Graph *g, size_t from, const int64_t *times, size_t n_times, Plan **ret, Error *e)
{
        Adjacency a = { 0 };
        double *cuts = NULL, *rows = NULL;
        bool *hidden = NULL, *used = NULL;
        Plan *p = NULL;
        int r = -ENOMEM;

        if (from >= g->n_nodes)
                return error_setf(e, -EINVAL, "no such release in the graph");
        if (n_times == 0 || n_times > PLAN_MAX_TIMES)
                return error_setf(e, -EINVAL, "%zu times: between 1 and %d", n_times, PLAN_MAX_TIMES);
        if (g->n_nodes > PLAN_MAX_CELLS / n_times)
                return error_setf(e, -E2BIG,
                                  "%zu releases × %zu times is too large a plan: ask for fewer rows",
                                  g->n_nodes, n_times);
        if (adjacency_build(g, &a) < 0)
                goto out;
        cuts = calloc(g->n_rollouts + 2, sizeof(double));
        hidden = calloc(g->n_nodes, sizeof(bool));
        used = calloc(g->n_nodes, sizeof(bool));
        rows = calloc(n_times * g->n_nodes, sizeof(double));
        p = calloc(1, sizeof(*p));
        if (!cuts || !hidden || !used || !rows || !p)
                goto out;
        for (size_t i = 0; i < n_times; i++) {
                plan_row(g, &a, from, times[i], cuts, hidden, rows + i * g->n_nodes);
                for (size_t k = 0; k < g->n_nodes; k++)
                        used[k] = used[k] || rows[i * g->n_nodes + k] > 0;
        }
        for (size_t k = 0; k < g->n_nodes; k++)
                p->n_columns += used[k];
        p->times = calloc(n_times, sizeof(int64_t));
        p->versions = calloc(p->n_columns + 1, sizeof(char *));
        p->share = calloc(n_times * p->n_columns + 1, sizeof(double));
        if (!p->times || !p->versions || !p->share)
                goto out;
        memcpy(p->times, times, n_times * sizeof(int64_t));
        p->n_times = n_times;
        for (size_t k = 0, c = 0; k < g->n_nodes; k++)
                if (used[k]) {
                        p->versions[c] = g->nodes[k].version;
                        for (size_t i = 0; i < n_times; i++)
                                p->share[i * p->n_columns + c] = rows[i * g->n_nodes + k];
                        c++;
                }
        *ret = p;
        p = NULL;
        r = 0;
out:
        free(a.first);
        free(a.to);
        free(cuts);
        free(hidden);
        free(used);
        free(rows);
        plan_free(p);
        return r;
}

int plan_write_table(const Plan *p, Buf *out)
{
        char ts[40];
        int r = buf_puts(out, "time (UTC)      ");

        for (size_t c = 0; r >= 0 && c < p->n_columns; c++)
                r = buf_printf(out, "  %*s", (int)MAX(strlen(p->versions[c]), 7), p->versions[c]);
        if (r >= 0)
                r = buf_putc(out, '\n');
        for (size_t i = 0; r >= 0 && i < p->n_times; i++) {
                if (release_time_format_short(p->times[i], ts, sizeof(ts)) < 0)
                        snprintf(ts, sizeof(ts), "@%lld", (long long)p->times[i]);
                r = buf_printf(out, "%-16s", ts);
                for (size_t c = 0; r >= 0 && c < p->n_columns; c++)
                        r = buf_printf(out, "  %*.2f%%", (int)MAX(strlen(p->versions[c]), 7) - 1,
                                       100.0 * p->share[i * p->n_columns + c]);
                if (r >= 0)
                        r = buf_putc(out, '\n');
        }
        return r < 0 ? r : 0;
}
