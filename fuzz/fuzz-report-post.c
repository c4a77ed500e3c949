/* fuzz-report-post.c — libFuzzer target: the POST /v1/report body parser (outcome reports). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph-report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *field = NULL;
        GraphReport *r = malloc(sizeof(*r));
        Error e;

        if (!r)
                return 0;
        if (graph_report_parse((const char *)data, size, r, &field, &e) == 0) {
                /* Everything a valid report promises. */
                if (strlen(r->node) != GRAPH_REPORT_NODE_LEN || !*r->stream || !*r->group ||
                    !*r->to_version || !graph_report_outcome_to_string(r->outcome) ||
                    r->n_checks > GRAPH_REPORT_MAX_CHECKS || r->time < 0)
                        abort();
        } else if (field && strncmp(e.message, field, strlen(field)) != 0)
                abort(); /* an error names its field first */
        free(r);
        return 0;
}
