/* fuzz-updates.c — libFuzzer target: the update metadata parser, then graph construction, throttling
 * at several times, and every writer, over a fixed release index. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph-build.h"

#define REL(v) "{\"version\":\"" v "\",\"commits\":[{\"architecture\":\"x86_64\",\"checksum\":\"c" v "\"}]}"
static const char releases[] =
        "{\"releases\":[" REL("1") "," REL("2") "," REL("3") "," REL("4") "," REL("5") "," REL("6") "]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        Graph *g = NULL;
        Error e;

        if (update_metadata_parse((const char *)data, size, &um, &e) < 0)
                return 0;
        if (release_index_parse(releases, sizeof(releases) - 1, &ri, &e) == 0 &&
            graph_build(ri, um, "x86_64", GRAPH_SCHEME_CHECKSUM, &g, &e) == 0) {
                const int64_t times[] = { INT64_MIN, -1, 0, 1, 1000000, INT64_MAX };
                bool hidden[8];
                Buf b = BUF_INIT(1u << 20);

                for (size_t t = 0; t < sizeof(times) / sizeof(times[0]); t++) {
                        double th;
                        for (size_t k = 0; k < g->n_rollouts; k++) {
                                const GraphNode *n = &g->nodes[g->rollouts[k]];
                                bool in_range = !n->has_start_value ||
                                                (n->start_value >= 0.0 && n->start_value <= 1.0);
                                th = graph_node_throttle(n, times[t]);
                                /* A throttle is a share of the fleet when the start is one; upstream takes
                                 * any start_percentage (100 in 2019's metadata) and throttles with it, and
                                 * so do we. */
                                if (in_range && !(th >= 0.0 && th <= 1.0) && !(th != th))
                                        abort();
                        }
                        graph_hidden_nodes(g, 0.5, times[t], hidden);
                        (void)graph_hidden_mask(g, 0.5, times[t]);
                        buf_truncate(&b, 0);
                        (void)graph_write_json(g, hidden, &b);
                        buf_truncate(&b, 0);
                        (void)graph_write_text(g, hidden, &b);
                        buf_truncate(&b, 0);
                        (void)graph_write_dot(g, hidden, &b);
                }
                buf_free(&b);
                graph_free(g);
        }
        release_index_free(ri);
        update_metadata_free(um);
        return 0;
}
