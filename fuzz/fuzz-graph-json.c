/* fuzz-graph-json.c — libFuzzer target: parsing a served Cincinnati graph (what the CLI's query and the
 * agent read from the network), then writing it back out. */
#include <stdint.h>

#include "graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Graph *g = NULL;
        Error e;

        if (graph_parse_json((const char *)data, size, &g, &e) == 0) {
                Buf b = BUF_INIT(64u << 20);
                for (size_t i = 0; i < g->n_edges; i++)
                        if (g->edges[i].from >= g->n_nodes || g->edges[i].to >= g->n_nodes)
                                __builtin_trap();
                (void)graph_write_text(g, NULL, &b);
                buf_free(&b);
                graph_free(g);
        }
        return 0;
}
