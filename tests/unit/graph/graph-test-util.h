/* graph-test-util.h — what the graph build and metadata tests share: building one basearch's graph from
 * inline JSON documents, and a one-commit release for them. */
#pragma once

#include <string.h>

#include "graph-build.h"
#include "graph-metadata.h"

#define REL(v, c)                                                                                           \
        "{\"version\":\"" v "\",\"commits\":[{\"architecture\":\"x86_64\",\"checksum\":\"" c "\"}]}"

static inline Graph *build_inline(const char *releases, const char *updates, Error *e, int *ret)
{
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        Graph *g = NULL;
        int r = release_index_parse(releases, strlen(releases), &ri, e);
        if (r >= 0)
                r = update_metadata_parse(updates, strlen(updates), &um, e);
        if (r >= 0)
                r = graph_build(ri, um, "x86_64", GRAPH_SCHEME_CHECKSUM, &g, e);
        release_index_free(ri);
        update_metadata_free(um);
        *ret = r;
        return g;
}
