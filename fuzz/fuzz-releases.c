/* fuzz-releases.c — libFuzzer target: the release index parser, then graph construction and
 * serialization over whatever parsed, with the bundled update metadata shape. */
#include <stdint.h>
#include <stdlib.h>

#include "graph-build.h"

static const char updates[] =
        "{\"stream\":\"stable\",\"releases\":["
        "{\"version\":\"1\",\"metadata\":{\"barrier\":{\"reason\":\"\"}}},"
        "{\"version\":\"2\",\"metadata\":{\"deadend\":{\"reason\":\"x\"}}},"
        "{\"version\":\"3\",\"metadata\":{\"rollout\":{\"start_epoch\":10,\"start_percentage\":0.5,"
        "\"duration_minutes\":5}}}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        Graph *g = NULL;
        Error e;

        if (release_index_parse((const char *)data, size, &ri, &e) < 0)
                return 0;
        if (update_metadata_parse(updates, sizeof(updates) - 1, &um, &e) == 0) {
                for (int scheme = 0; scheme < 2; scheme++) {
                        if (graph_build(ri, um, "x86_64", (GraphScheme)scheme, &g, &e) == 0) {
                                Buf b = BUF_INIT(64u << 20);
                                bool *hidden = calloc(g->n_nodes + 1, sizeof(bool));
                                if (hidden) {
                                        graph_hidden_nodes(g, 0.7, 100, hidden);
                                        (void)graph_write_json(g, hidden, &b);
                                        free(hidden);
                                }
                                buf_free(&b);
                                graph_free(g);
                        }
                }
                update_metadata_free(um);
        }
        release_index_free(ri);
        return 0;
}
