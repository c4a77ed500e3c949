/* fuzz-query.c — libFuzzer target: the /v1/graph query-string parser and the Accept header parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph-query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        GraphQuery q;
        GraphQueryError kind;
        Error e;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        if (graph_query_parse(s, &q, &kind, &e) == 0) {
                /* wariness: clamped to [0, 1], or NaN for "nan", which upstream also lets through */
                if (!q.basearch || !q.stream ||
                    !((q.wariness >= 0.0 && q.wariness <= 1.0) || q.wariness != q.wariness))
                        abort();
                graph_query_done(&q);
        }
        (void)accept_allows_json(s);
        free(s);
        return 0;
}
