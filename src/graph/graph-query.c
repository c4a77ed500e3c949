/* graph-query.c — strict parsing of /v1/graph query strings and Accept headers (see graph-query.h). */
#include "graph-query.h"

#include <stdarg.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "graph.h"
#include "strutil.h"

void graph_query_done(GraphQuery *q)
{
        free(q->basearch);
        free(q->stream);
        free(q->node_uuid);
        *q = (GraphQuery){ 0 };
}

_printf_(3, 4) static int invalid(GraphQueryError *k, Error *e, const char *fmt, ...)
{
        va_list ap;
        *k = GRAPH_QUERY_INVALID;
        va_start(ap, fmt);
        error_setv(e, -EINVAL, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

int graph_query_parse(const char *query, GraphQuery *ret, GraphQueryError *ret_kind, Error *e)
{
        static const char *const known[] = { "basearch", "stream", "node_uuid", "rollout_wariness", "oci" };
        GraphQuery q = { 0 };
        GraphQueryError kind = GRAPH_QUERY_OK;
        char *wariness = NULL, *oci = NULL;
        char **slots[] = { &q.basearch, &q.stream, &q.node_uuid, &wariness, &oci };
        size_t len = strlen(query), n_params = 0;
        const char *p = query, *end = query + len;
        int r = 0;

        if (len > GRAPH_QUERY_MAX_LEN) {
                r = invalid(&kind, e, "query string longer than %d bytes", GRAPH_QUERY_MAX_LEN);
                goto fail;
        }
        while (p < end) {
                const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
                const char *stop = amp ? amp : end, *vb;
                size_t k, nlen, vlen;
                char *value = NULL;

                if (stop == p) { /* empty segment: "a=1&&b=2" */
                        p = stop + 1;
                        continue;
                }
                if (++n_params > GRAPH_QUERY_MAX_PARAMS) {
                        r = invalid(&kind, e, "more than %d query parameters", GRAPH_QUERY_MAX_PARAMS);
                        goto fail;
                }
                eq = memchr(p, '=', (size_t)(stop - p));
                nlen = (size_t)((eq ? eq : stop) - p);
                vb = eq ? eq + 1 : stop;
                vlen = (size_t)(stop - vb);
                /* Names are matched as sent when they need no decoding (the common case); only the values
                 * of known parameters are decoded into new strings. */
                if (memchr(p, '%', nlen) || memchr(p, '+', nlen)) {
                        char *name = NULL;
                        if (url_unescape(p, nlen, &name) < 0) {
                                r = invalid(&kind, e, "malformed percent-encoding in query parameter %zu",
                                            n_params);
                                goto fail;
                        }
                        for (k = 0; k < ELEMENTSOF(known) && !streq(known[k], name); k++)
                                ;
                        free(name);
                } else
                        for (k = 0; k < ELEMENTSOF(known) &&
                                    !(strlen(known[k]) == nlen && memcmp(known[k], p, nlen) == 0);
                             k++)
                                ;
                if (k < ELEMENTSOF(known)) {
                        if (*slots[k]) {
                                r = invalid(&kind, e, "parameter '%s' given more than once", known[k]);
                                goto fail;
                        }
                        if (url_unescape(vb, vlen, &value) < 0) {
                                r = invalid(&kind, e, "malformed percent-encoding in query parameter '%s'",
                                            known[k]);
                                goto fail;
                        }
                        if (strlen(value) > GRAPH_QUERY_MAX_VALUE) {
                                free(value);
                                r = invalid(&kind, e, "parameter '%s' is longer than %d bytes", known[k],
                                            GRAPH_QUERY_MAX_VALUE);
                                goto fail;
                        }
                        *slots[k] = value;
                } else if (!url_escapes_valid(p, (size_t)(stop - p))) {
                        r = invalid(&kind, e, "malformed percent-encoding in query parameter %zu", n_params);
                        goto fail;
                }
                p = stop + (amp ? 1 : 0);
        }

        if (wariness) {
                if (wariness_parse(wariness, &q.wariness) < 0) {
                        r = invalid(&kind, e, "rollout_wariness must be a number between 0 and 1, got '%s'",
                                    wariness);
                        goto fail;
                }
                q.has_wariness = true;
        }
        if (oci) {
                if (streq(oci, "true"))
                        q.oci = true;
                else if (!streq(oci, "false") && *oci) {
                        r = invalid(&kind, e, "oci must be 'true' or 'false', got '%s'", oci);
                        goto fail;
                }
        }
        if (q.basearch && !*q.basearch)
                q.basearch = (free(q.basearch), NULL);
        if (q.stream && !*q.stream)
                q.stream = (free(q.stream), NULL);
        if (!q.basearch || !q.stream) {
                kind = GRAPH_QUERY_MISSING;
                r = error_setf(e, -EINVAL, "mandatory client parameters missing: %s%s%s",
                               q.basearch ? "" : "basearch", !q.basearch && !q.stream ? ", " : "",
                               q.stream ? "" : "stream");
                goto fail;
        }
        free(wariness);
        free(oci);
        *ret = q;
        *ret_kind = GRAPH_QUERY_OK;
        return 0;
fail:
        free(wariness);
        free(oci);
        graph_query_done(&q);
        *ret_kind = kind;
        return r;
}

/* Trims spaces and tabs around [*b, *e). */
static void trim(const char **b, const char **e)
{
        while (*b < *e && (**b == ' ' || **b == '\t'))
                (*b)++;
        while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
                (*e)--;
}

static bool range_is(const char *b, const char *e, const char *what)
{
        size_t n = strlen(what);
        return (size_t)(e - b) == n && strncasecmp(b, what, n) == 0;
}

bool accept_allows_json(const char *accept)
{
        const char *p = accept;

        if (!accept)
                return true;
        while (*p == ' ' || *p == '\t')
                p++;
        if (!*p)
                return true;
        while (*p) {
                const char *comma = strchr(p, ','), *stop = comma ? comma : p + strlen(p);
                const char *semi = memchr(p, ';', (size_t)(stop - p));
                const char *tb = p, *te = semi ? semi : stop;
                double q = 1.0;

                trim(&tb, &te);
                /* Look for a q parameter among the media range's parameters. */
                for (const char *s = semi; s && s < stop;) {
                        const char *next = memchr(s + 1, ';', (size_t)(stop - s - 1));
                        const char *pb = s + 1, *pe = next ? next : stop;
                        trim(&pb, &pe);
                        if (pe - pb >= 2 && (pb[0] == 'q' || pb[0] == 'Q') && pb[1] == '=') {
                                char num[16] = { 0 };
                                size_t n = MIN((size_t)(pe - pb - 2), sizeof(num) - 1);
                                double v;
                                memcpy(num, pb + 2, n);
                                q = safe_atod(num, &v) >= 0 ? v : 0.0;
                        }
                        s = next;
                }
                if (q > 0 && (range_is(tb, te, "application/json") || range_is(tb, te, "application/*") ||
                              range_is(tb, te, "*/*")))
                        return true;
                p = comma ? comma + 1 : stop;
        }
        return false;
}
