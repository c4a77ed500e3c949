/* fuzz-agent-graph.c — libFuzzer target: a served Cincinnati graph as the node agent reads it, then the
 * agent's target choice from several booted nodes with a denylist, checking the result's invariants. */
#include <stdint.h>
#include <string.h>

#include "agent-target.h"
#include "graph.h"

static void check(const Graph *g, const char *booted, char *const *deny, bool allow_downgrade)
{
        TargetChoice c;

        if (agent_choose_target(g, booted, deny, allow_downgrade, &c) < 0)
                return;
        if (c.n_ignored > c.n_candidates)
                __builtin_trap();
        switch (c.decision) {
        case TARGET_NOT_IN_GRAPH:
                if (c.current != TARGET_NONE || c.target != TARGET_NONE)
                        __builtin_trap();
                return;
        case TARGET_NO_UPDATE:
                if (c.current >= g->n_nodes || c.target != TARGET_NONE || c.n_ignored != c.n_candidates)
                        __builtin_trap();
                break;
        case TARGET_UPDATE:
        case TARGET_DOWNGRADE_REFUSED:
                if (c.current >= g->n_nodes || c.target >= g->n_nodes || c.n_ignored >= c.n_candidates)
                        __builtin_trap();
                if (c.decision == TARGET_DOWNGRADE_REFUSED &&
                    (allow_downgrade || agent_node_compare(&g->nodes[c.target], &g->nodes[c.current]) > 0))
                        __builtin_trap();
                if (c.decision == TARGET_UPDATE && !allow_downgrade &&
                    agent_node_compare(&g->nodes[c.target], &g->nodes[c.current]) <= 0)
                        __builtin_trap();
                break;
        }
        if (strcmp(g->nodes[c.current].payload, booted) != 0 || c.deadend != g->nodes[c.current].deadend ||
            (c.deadend && !c.deadend_reason)) {
                __builtin_trap();
        }
        if (c.deadend) {
                Buf b = BUF_INIT(1 << 20);
                (void)agent_deadend_motd(c.deadend_reason, &b);
                buf_free(&b);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Graph *g = NULL;
        Error e;

        if (graph_parse_json((const char *)data, size, &g, &e) < 0)
                return 0;
        check(g, "not-in-any-graph", NULL, false);
        /* A few booted nodes: first, middle, last; deny the payloads of two others. */
        for (size_t k = 0; k < 3 && g->n_nodes > 0; k++) {
                size_t i = k == 0 ? 0 : k == 1 ? g->n_nodes / 2 : g->n_nodes - 1;
                char *deny[] = { g->nodes[(i + 1) % g->n_nodes].payload, g->nodes[g->n_nodes / 3].payload,
                                 NULL };
                check(g, g->nodes[i].payload, NULL, false);
                check(g, g->nodes[i].payload, deny, k == 1);
        }
        graph_free(g);
        return 0;
}
