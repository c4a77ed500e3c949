/* graph-query.c — strict parsing of /v1/graph query strings and Accept headers (see graph-query.h). */
#include "graph-query.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
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

/* The parameters the protocol knows, in the order of the slots graph_query_parse() fills. */
static const char *const known[] = { "basearch", "stream", "node_uuid", "rollout_wariness", "oci" };

/* The index in known[] of the parameter name [p, p + nlen) (ELEMENTSOF(known) when unknown). */
static int known_index(const char *p, size_t nlen, size_t n_params, size_t *ret, GraphQueryError *kind,
                       Error *e)
{
        size_t k;

        /* Names are matched as sent when they need no decoding (the common case). */
        if (memchr(p, '%', nlen) || memchr(p, '+', nlen)) {
                _cleanup_free_ char *name = NULL;
                if (url_unescape(p, nlen, &name) < 0)
                        return invalid(kind, e, "malformed percent-encoding in query parameter %zu",
                                       n_params);
                for (k = 0; k < ELEMENTSOF(known) && !streq(known[k], name); k++)
                        ;
        } else
                for (k = 0;
                     k < ELEMENTSOF(known) && !(strlen(known[k]) == nlen && memcmp(known[k], p, nlen) == 0);
                     k++)
                        ;
        *ret = k;
        return 0;
}

/* One "name=value" segment [p, stop): the value of a known parameter is decoded into its slot; an
 * unknown one is only checked. */
static int parse_param(const char *p, const char *stop, size_t n_params, char **const slots[],
                       GraphQueryError *kind, Error *e)
{
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *vb = eq ? eq + 1 : stop;
        size_t k = ELEMENTSOF(known);
        char *value = NULL;
        int r;

        r = known_index(p, (size_t)((eq ? eq : stop) - p), n_params, &k, kind, e);
        if (r < 0)
                return r;
        if (k == ELEMENTSOF(known)) {
                if (!url_escapes_valid(p, (size_t)(stop - p)))
                        return invalid(kind, e, "malformed percent-encoding in query parameter %zu",
                                       n_params);
                return 0;
        }
        if (*slots[k])
                return invalid(kind, e, "parameter '%s' given more than once", known[k]);
        if (url_unescape(vb, (size_t)(stop - vb), &value) < 0)
                return invalid(kind, e, "malformed percent-encoding in query parameter '%s'", known[k]);
        if (strlen(value) > GRAPH_QUERY_MAX_VALUE) {
                free(value);
                return invalid(kind, e, "parameter '%s' is longer than %d bytes", known[k],
                               GRAPH_QUERY_MAX_VALUE);
        }
        *slots[k] = value;
        return 0;
}

static size_t skip_digits(const char *p)
{
        size_t n = 0;
        while (p[n] >= '0' && p[n] <= '9')
                n++;
        return n;
}

int wariness_parse_lenient(const char *s, double *ret)
{
        const char *p = s + (*s == '+' || *s == '-');
        size_t ni, nf = 0;
        double w;

        assert(s && ret);
        if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0)
                w = *s == '-' ? -INFINITY : INFINITY;
        else if (strcasecmp(p, "nan") == 0)
                w = NAN;
        else {
                /* Number ::= ( Digit+ | Digit+ '.' Digit* | Digit* '.' Digit+ ) Exp? */
                ni = skip_digits(p);
                p += ni;
                if (*p == '.') {
                        nf = skip_digits(p + 1);
                        p += 1 + nf;
                }
                if (ni + nf == 0)
                        return -EINVAL;
                if (*p == 'e' || *p == 'E') {
                        p += 1 + (p[1] == '+' || p[1] == '-');
                        if (skip_digits(p) == 0)
                                return -EINVAL;
                        p += skip_digits(p);
                }
                if (*p)
                        return -EINVAL;
                w = strtod(s, NULL); /* out of range: ±HUGE_VAL or 0, as upstream gets */
        }
        *ret = isnan(w) ? w : CLAMP(w, 0.0, 1.0);
        return 0;
}

/* Interprets the values: the wariness, the scheme, and whether the mandatory parameters are there. */
static int check_values(GraphQuery *q, const char *wariness, const char *oci, GraphQueryError *kind,
                        Error *e)
{
        /* A rollout_wariness that does not parse is ignored (the node_uuid decides), as upstream does. */
        if (wariness && wariness_parse_lenient(wariness, &q->wariness) >= 0)
                q->has_wariness = true;
        if (oci) {
                if (streq(oci, "true"))
                        q->oci = true;
                else if (!streq(oci, "false") && *oci)
                        return invalid(kind, e, "oci must be 'true' or 'false', got '%s'", oci);
        }
        if (q->basearch && !*q->basearch)
                q->basearch = (free(q->basearch), NULL);
        if (q->stream && !*q->stream)
                q->stream = (free(q->stream), NULL);
        if (!q->basearch || !q->stream) {
                *kind = GRAPH_QUERY_MISSING;
                return error_setf(e, -EINVAL, "mandatory client parameters missing: %s%s%s",
                                  q->basearch ? "" : "basearch", !q->basearch && !q->stream ? ", " : "",
                                  q->stream ? "" : "stream");
        }
        return 0;
}

int graph_query_parse(const char *query, GraphQuery *ret, GraphQueryError *ret_kind, Error *e)
{
        GraphQuery q = { 0 };
        GraphQueryError kind = GRAPH_QUERY_OK;
        _cleanup_free_ char *wariness = NULL, *oci = NULL;
        char **const slots[] = { &q.basearch, &q.stream, &q.node_uuid, &wariness, &oci };
        size_t len, n_params = 0;
        const char *p, *end;
        int r = 0;

        static_assert(ELEMENTSOF(slots) == ELEMENTSOF(known), "one slot per known parameter");
        assert(query && ret && ret_kind);
        len = strlen(query);
        p = query;
        end = query + len;
        if (len > GRAPH_QUERY_MAX_LEN)
                r = invalid(&kind, e, "query string longer than %d bytes", GRAPH_QUERY_MAX_LEN);
        while (r >= 0 && p < end) {
                const char *amp = memchr(p, '&', (size_t)(end - p));
                const char *stop = amp ? amp : end;

                if (stop != p) { /* not an empty segment ("a=1&&b=2") */
                        if (++n_params > GRAPH_QUERY_MAX_PARAMS)
                                r = invalid(&kind, e, "more than %d query parameters",
                                            GRAPH_QUERY_MAX_PARAMS);
                        else
                                r = parse_param(p, stop, n_params, slots, &kind, e);
                }
                p = stop + (amp ? 1 : 0);
        }
        if (r >= 0)
                r = check_values(&q, wariness, oci, &kind, e);
        if (r < 0) {
                graph_query_done(&q);
                *ret_kind = kind;
                return r;
        }
        *ret = q;
        *ret_kind = GRAPH_QUERY_OK;
        return 0;
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

static bool range_has_prefix(const char *b, const char *e, const char *what)
{
        size_t n = strlen(what);
        return (size_t)(e - b) >= n && strncasecmp(b, what, n) == 0;
}

static bool range_has_suffix(const char *b, const char *e, const char *what)
{
        size_t n = strlen(what);
        return (size_t)(e - b) >= n && strncasecmp(e - n, what, n) == 0;
}

/* Whether a JSON answer suits the media range [b, e). */
static bool range_takes_json(const char *b, const char *e)
{
        return range_is(b, e, "*/*") || range_is(b, e, "application/*") ||
               range_is(b, e, "application/json") || range_has_suffix(b, e, "+json") ||
               range_has_prefix(b, e, "text/");
}

/* The q parameter among the parameters [semi, stop) of a media range (1 when none). */
static double range_quality(const char *semi, const char *stop)
{
        double q = 1.0;

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
        return q;
}

bool accept_allows_json(const char *accept)
{
        bool any_range = false;
        const char *p = accept;

        if (!accept)
                return true;
        while (*p) {
                const char *comma = strchr(p, ','), *stop = comma ? comma : p + strlen(p);
                const char *semi = memchr(p, ';', (size_t)(stop - p));
                const char *tb = p, *te = semi ? semi : stop;
                const char *slash;

                trim(&tb, &te);
                slash = memchr(tb, '/', (size_t)(te - tb));
                if (slash && slash > tb && slash + 1 < te) { /* a type/subtype */
                        any_range = true;
                        if (range_quality(semi, stop) > 0 && range_takes_json(tb, te))
                                return true;
                }
                p = comma ? comma + 1 : stop;
        }
        return !any_range; /* empty or nothing but garbage: answer JSON */
}
