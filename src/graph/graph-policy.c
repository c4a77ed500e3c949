/* graph-policy.c — the rollout safety policy and pauses (see graph-policy.h). */
#include "graph-policy.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-build.h"
#include "strutil.h"

GraphPolicyTally graph_policy_tally(const GraphPolicy *p, const GraphReportCounts *c, const char *release)
{
        GraphPolicyTally t = { 0 };

        assert(p && c && release);
        for (size_t i = 0; i < c->n; i++) {
                const GraphReportCount *x = &c->items[i];
                if (!streq(x->stream, p->stream) || !streq(x->release, release) ||
                    (p->group && !streq(x->group, p->group)))
                        continue;
                for (GraphReportOutcome o = 0; o < _GRAPH_REPORT_OUTCOME_MAX; o++)
                        if (graph_report_outcome_is_failure(o))
                                t.failed += x->n[o];
                        else
                                t.succeeded += x->n[o];
        }
        return t;
}

bool graph_policy_trips(const GraphPolicy *p, GraphPolicyTally t, char *reason, size_t reason_size)
{
        uint64_t total = t.succeeded + t.failed;
        double ratio = total ? (double)t.failed / (double)total : 0.0;
        bool trips;

        assert(p);
        trips = t.failed >= p->failure_threshold_count && t.failed > 0 &&
                (total < p->min_sample || ratio > p->failure_threshold_ratio);
        if (trips && reason)
                snprintf(reason, reason_size,
                         "%llu of %llu nodes failed (%.1f%%; threshold: %u failures and %.1f%% once %u "
                         "reported)%s%s",
                         (unsigned long long)t.failed, (unsigned long long)total, 100.0 * ratio,
                         p->failure_threshold_count, 100.0 * p->failure_threshold_ratio, p->min_sample,
                         p->group ? " in group " : "", p->group ? p->group : "");
        return trips;
}

int graph_pause_init(GraphPause *p, const char *stream, const char *release, const GraphNode *n, int64_t now,
                     const char *reason)
{
        assert(p && stream && release && reason);
        if (strlen(stream) > GRAPH_REPORT_MAX_NAME || strlen(release) > GRAPH_REPORT_MAX_VERSION)
                return -EINVAL;
        *p = (GraphPause){ .paused_at = now };
        strcpy(p->stream, stream);
        strcpy(p->release, release);
        snprintf(p->reason, sizeof(p->reason), "%s", reason);
        p->had_node = n;
        if (n) {
                p->had_rollout = n->rollout;
                p->had_duration = n->has_duration;
                p->start_epoch = n->has_start_epoch ? n->start_epoch : 0;
                p->start_value = n->has_start_value ? n->start_value : 0.0;
                p->duration_minutes = n->duration_minutes;
        }
        if (!n)
                p->frozen = 0.0;
        else if (!n->rollout)
                p->frozen = 1.0;
        else {
                p->frozen = graph_node_throttle(n, now);
                if (n->has_duration && p->frozen < 1.0) {
                        int64_t start = n->has_start_epoch ? n->start_epoch : 0;
                        int64_t minutes = n->duration_minutes ? (int64_t)n->duration_minutes : 1;
                        /* end = start + 60 * minutes (upstream's end), saturated */
                        int64_t end = minutes > (INT64_MAX - start) / 60 ? INT64_MAX : start + 60 * minutes;
                        p->remaining_secs = end > now ? end - (now > start ? now : start) : 0;
                }
        }
        return 0;
}

double graph_pause_live(const GraphPause *p, int64_t now)
{
        GraphNode n = {
                .rollout = true,
                .has_start_epoch = true,
                .start_epoch = p->start_epoch,
                .has_start_value = true,
                .start_value = p->start_value,
                .has_duration = p->had_duration,
                .duration_minutes = p->duration_minutes,
        };

        if (!p->had_node)
                return 0.0;
        if (!p->had_rollout)
                return 1.0;
        return graph_node_throttle(&n, now);
}

void graph_pause_resume(GraphPause *p, int64_t now)
{
        assert(p);
        p->resumed_at = now > p->paused_at ? now : p->paused_at;
        if (p->resumed_at == 0) /* 0 means "paused" */
                p->resumed_at = 1;
}

void graph_pause_apply(const GraphPause *p, GraphNode *n)
{
        assert(p && n);
        n->rollout = true;
        n->has_start_value = true;
        n->start_value = p->frozen;
        if (graph_pause_active(p) || p->remaining_secs <= 0 || p->frozen >= 1.0) {
                /* Without a duration the value holds from start_epoch on: from the epoch, frozen; after a
                 * resume with nothing left, 1 (the ramp had ended). */
                n->has_duration = false;
                n->has_start_epoch = false;
                if (!graph_pause_active(p))
                        n->start_value = 1.0;
                return;
        }
        /* Resumed: upstream's ramp from frozen at resumed_at, ending remaining_secs later (in whole
         * minutes, rounded up: the formula counts minutes). */
        n->has_start_epoch = true;
        n->start_epoch = p->resumed_at;
        n->has_duration = true;
        n->duration_minutes = (uint64_t)((p->remaining_secs + 59) / 60);
}

const GraphPause *graph_pauses_find(const GraphPause *pauses, size_t n, const char *stream,
                                    const char *release)
{
        for (size_t i = 0; i < n; i++)
                if (streq(pauses[i].stream, stream) && streq(pauses[i].release, release))
                        return &pauses[i];
        return NULL;
}

void graph_pauses_apply(const GraphPause *pauses, size_t n, const char *stream, Graph *g)
{
        assert(g);
        for (size_t k = 0; k < g->n_rollouts; k++) {
                GraphNode *node = &g->nodes[g->rollouts[k]];
                const GraphPause *p = graph_pauses_find(pauses, n, stream, node->version);
                if (p)
                        graph_pause_apply(p, node);
        }
}

GraphCanaryGate *graph_canary_gate(GraphCanary *c, const char *stream, const char *release)
{
        GraphCanaryGate *g;

        assert(c && stream && release);
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->gates[i].stream, stream) && streq(c->gates[i].release, release))
                        return &c->gates[i];
        if (strlen(stream) > GRAPH_REPORT_MAX_NAME || strlen(release) > GRAPH_REPORT_MAX_VERSION)
                return NULL;
        if (!c->gates && !(c->gates = calloc(GRAPH_CANARY_GATES_MAX, sizeof(GraphCanaryGate))))
                return NULL;
        g = c->n < GRAPH_CANARY_GATES_MAX ? &c->gates[c->n++] : NULL;
        for (size_t i = 0; i < c->n && !g; i++) /* full: an open gate's place is reused */
                if (c->gates[i].open)
                        g = &c->gates[i];
        if (!g)
                return NULL;
        *g = (GraphCanaryGate){ 0 };
        strcpy(g->stream, stream);
        strcpy(g->release, release);
        return g;
}

bool graph_canary_admit(GraphCanaryGate *g, unsigned limit, uint64_t node)
{
        assert(g);
        if (g->open)
                return true;
        if (node == 0)
                return false;
        for (size_t i = 0; i < g->n; i++)
                if (g->nodes[i] == node)
                        return true;
        if (g->n >= limit || g->n >= GRAPH_CANARY_MAX)
                return false;
        g->nodes[g->n++] = node;
        return true;
}

void graph_canary_done(GraphCanary *c)
{
        free(c->gates);
        *c = (GraphCanary){ 0 };
}
