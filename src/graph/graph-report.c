/* graph-report.c — parsing and validation of outcome reports, the per-node rate limit and the token check
 * (see graph-report.h). */
#include "graph-report.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json-util.h"
#include "macros.h"
#include "siphash13.h"
#include "strutil.h"

static const char *const outcome_names[_GRAPH_REPORT_OUTCOME_MAX] = {
        [GRAPH_REPORT_SUCCEEDED] = "succeeded",
        [GRAPH_REPORT_ROLLED_BACK] = "rolled_back",
        [GRAPH_REPORT_BOOT_FALLBACK] = "boot_fallback",
        [GRAPH_REPORT_STAGE_FAILED] = "stage_failed",
        [GRAPH_REPORT_MANUAL_INTERVENTION] = "manual_intervention",
};

const char *graph_report_outcome_to_string(GraphReportOutcome o)
{
        return o >= 0 && o < _GRAPH_REPORT_OUTCOME_MAX ? outcome_names[o] : NULL;
}

int graph_report_outcome_from_string(const char *s)
{
        for (size_t i = 0; i < ELEMENTSOF(outcome_names); i++)
                if (streq(outcome_names[i], s))
                        return (int)i;
        return -EINVAL;
}

/* What a member's characters may be. JSON strings are valid UTF-8 without NUL (json_parse_strict). */
typedef enum TextKind {
        TEXT_HEX_NODE, /* exactly 32 of [0-9a-f] */
        TEXT_PLAIN,    /* no control characters (C0, DEL, C1) */
        TEXT_DETAIL,   /* the same, but tabs and newlines allowed */
} TextKind;

/* Whether s[0..n) holds a control character: C0 (but tab and newline when detail), DEL, or C1 (U+0080
 * to U+009F, encoded C2 80 to C2 9F). */
static bool has_control(const unsigned char *s, size_t n, bool detail)
{
        for (size_t i = 0; i < n; i++) {
                if (s[i] < 0x20 && !(detail && (s[i] == '\t' || s[i] == '\n')))
                        return true;
                if (s[i] == 0x7f || (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] < 0xa0))
                        return true;
        }
        return false;
}

static bool is_node_id(const char *s, size_t n)
{
        if (n != GRAPH_REPORT_NODE_LEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* Copies the string v into out[max + 1] after checking its characters and length. */
static int copy_text(const json_t *v, const char *field, TextKind k, size_t min, size_t max, char *out,
                     Error *e)
{
        const char *s;
        size_t n;
        bool ok;

        if (!json_is_string(v))
                return error_setf(e, -EINVAL, "%s: must be a string, got %s", field, json_type_name(v));
        s = json_string_value(v);
        n = json_string_length(v);
        if (k == TEXT_HEX_NODE)
                ok = is_node_id(s, n);
        else
                ok = n >= min && n <= max && !has_control((const unsigned char *)s, n, k == TEXT_DETAIL);
        if (!ok && k == TEXT_HEX_NODE)
                return error_setf(e, -EINVAL, "%s: must be 32 lower-case hexadecimal digits", field);
        if (!ok)
                return error_setf(e, -EINVAL, "%s: must be %zu to %zu bytes without control characters%s",
                                  field, min, max, k == TEXT_DETAIL ? " but tabs and newlines" : "");
        memcpy(out, s, n);
        out[n] = 0;
        return 0;
}

static const struct {
        const char *name;
        TextKind kind;
        size_t min, max, offset;
} text_fields[] = {
        { "node", TEXT_HEX_NODE, GRAPH_REPORT_NODE_LEN, GRAPH_REPORT_NODE_LEN, offsetof(GraphReport, node) },
        { "group", TEXT_PLAIN, 1, GRAPH_REPORT_MAX_NAME, offsetof(GraphReport, group) },
        { "stream", TEXT_PLAIN, 1, GRAPH_REPORT_MAX_NAME, offsetof(GraphReport, stream) },
        { "basearch", TEXT_PLAIN, 1, GRAPH_REPORT_MAX_NAME, offsetof(GraphReport, basearch) },
        { "from_version", TEXT_PLAIN, 1, GRAPH_REPORT_MAX_VERSION, offsetof(GraphReport, from_version) },
        { "to_version", TEXT_PLAIN, 1, GRAPH_REPORT_MAX_VERSION, offsetof(GraphReport, to_version) },
};

static int parse_checks(const json_t *a, GraphReport *rep, const char **field, Error *e)
{
        size_t i;
        json_t *v;

        *field = "failed_checks";
        if (!json_is_array(a))
                return error_setf(e, -EINVAL, "failed_checks: must be an array of strings, got %s",
                                  json_type_name(a));
        if (json_array_size(a) > GRAPH_REPORT_MAX_CHECKS)
                return error_setf(e, -EINVAL, "failed_checks: at most %d names", GRAPH_REPORT_MAX_CHECKS);
        json_array_foreach(a, i, v) {
                int r = copy_text(v, "failed_checks", TEXT_PLAIN, 1, GRAPH_REPORT_MAX_CHECK_NAME,
                                  rep->checks[i], e);
                if (r < 0)
                        return r;
        }
        rep->n_checks = json_array_size(a);
        return 0;
}

static int parse_members(const json_t *root, GraphReport *rep, const char **field, Error *e)
{
        const json_t *v;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(text_fields); i++) {
                *field = text_fields[i].name;
                v = json_object_get(root, text_fields[i].name);
                if (!v)
                        return error_setf(e, -EINVAL, "%s: missing", text_fields[i].name);
                r = copy_text(v, text_fields[i].name, text_fields[i].kind, text_fields[i].min,
                              text_fields[i].max, (char *)rep + text_fields[i].offset, e);
                if (r < 0)
                        return r;
        }
        *field = "outcome";
        v = json_object_get(root, "outcome");
        if (!v)
                return error_setf(e, -EINVAL, "outcome: missing");
        if (!json_is_string(v) || (r = graph_report_outcome_from_string(json_string_value(v))) < 0)
                return error_setf(e, -EINVAL,
                                  "outcome: must be one of succeeded, rolled_back, boot_fallback, "
                                  "stage_failed, manual_intervention");
        rep->outcome = (GraphReportOutcome)r;
        *field = "time";
        v = json_object_get(root, "time");
        if (!v)
                return error_setf(e, -EINVAL, "time: missing");
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > GRAPH_REPORT_MAX_TIME)
                return error_setf(e, -EINVAL, "time: must be an integer number of unix seconds");
        rep->time = json_integer_value(v);
        *field = "detail";
        v = json_object_get(root, "detail");
        if (v && (r = copy_text(v, "detail", TEXT_DETAIL, 0, GRAPH_REPORT_MAX_DETAIL, rep->detail, e)) < 0)
                return r;
        v = json_object_get(root, "failed_checks");
        if (v && (r = parse_checks(v, rep, field, e)) < 0)
                return r;
        return 0;
}

int graph_report_parse(const char *data, size_t len, GraphReport *ret, const char **ret_field, Error *e)
{
        _cleanup_json_ json_t *root = NULL;
        _cleanup_free_ GraphReport *rep = NULL;
        const char *field = "body";
        int r;

        assert(data || len == 0);
        assert(ret);
        if (len > GRAPH_REPORT_MAX_BODY_BYTES)
                return error_setf(e, -E2BIG, "body: over %d bytes", GRAPH_REPORT_MAX_BODY_BYTES);
        r = json_parse_strict(data, len, &root, e);
        if (r < 0) {
                if (r == -EINVAL)
                        error_prefixf(e, r, "body");
                goto fail;
        }
        if (!json_is_object(root)) {
                r = error_setf(e, -EINVAL, "body: must be a JSON object, got %s", json_type_name(root));
                goto fail;
        }
        rep = calloc(1, sizeof(*rep));
        if (!rep)
                return -ENOMEM;
        r = parse_members(root, rep, &field, e);
        if (r < 0)
                goto fail;
        *ret = *rep;
        return 0;
fail:
        if (r == -EINVAL && ret_field)
                *ret_field = field;
        return r;
}

int graph_report_limiter_init(GraphReportLimiter *l, size_t capacity, double per_minute, double burst,
                              uint64_t k0, uint64_t k1)
{
        size_t c = GRAPH_REPORT_LIMIT_WAYS;

        assert(l);
        assert(per_minute > 0 && burst >= 1);
        while (c < capacity)
                c *= 2;
        *l = (GraphReportLimiter){
                .capacity = c, .per_minute = per_minute, .burst = burst, .k0 = k0, .k1 = k1
        };
        l->entries = calloc(c, sizeof(GraphReportLimitEntry));
        return l->entries ? 0 : -ENOMEM;
}

void graph_report_limiter_done(GraphReportLimiter *l)
{
        free(l->entries);
        l->entries = NULL;
}

bool graph_report_limiter_take(GraphReportLimiter *l, const char *node, int64_t now_usec)
{
        size_t sets = l->capacity / GRAPH_REPORT_LIMIT_WAYS;
        size_t set = siphash13(l->k0, l->k1, node, GRAPH_REPORT_NODE_LEN) & (sets - 1);
        GraphReportLimitEntry *ways = l->entries + set * GRAPH_REPORT_LIMIT_WAYS, *x = NULL;

        assert(strlen(node) == GRAPH_REPORT_NODE_LEN);
        for (size_t i = 0; i < GRAPH_REPORT_LIMIT_WAYS && !x; i++)
                if (ways[i].used && memcmp(ways[i].node, node, GRAPH_REPORT_NODE_LEN) == 0)
                        x = &ways[i];
        if (!x) { /* a free way, else the one seen least recently */
                x = &ways[0];
                for (size_t i = 0; i < GRAPH_REPORT_LIMIT_WAYS && x->used; i++)
                        if (!ways[i].used || ways[i].last_usec < x->last_usec)
                                x = &ways[i];
                *x = (GraphReportLimitEntry){ .used = true, .tokens = l->burst, .last_usec = now_usec };
                memcpy(x->node, node, GRAPH_REPORT_NODE_LEN);
        }
        if (now_usec > x->last_usec) {
                x->tokens += (double)(now_usec - x->last_usec) * l->per_minute / (60.0 * 1e6);
                if (x->tokens > l->burst)
                        x->tokens = l->burst;
                x->last_usec = now_usec;
        }
        if (x->tokens < 1.0)
                return false;
        x->tokens -= 1.0;
        return true;
}

/* Compares without an early exit on the first difference (only the length leaks). */
static bool equal_const_time(const char *a, size_t la, const char *b, size_t lb)
{
        unsigned char d = 0;

        if (la != lb)
                return false;
        for (size_t i = 0; i < la; i++)
                d |= (unsigned char)(a[i] ^ b[i]);
        return d == 0;
}

bool graph_report_token_ok(char *const *tokens, size_t n, const char *authorization)
{
        bool ok = false;
        const char *t;

        if (n == 0)
                return true;
        if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
                return false;
        t = authorization + 7;
        while (*t == ' ')
                t++;
        for (size_t i = 0; i < n; i++)
                ok |= equal_const_time(tokens[i], strlen(tokens[i]), t, strlen(t));
        return ok;
}

static GraphReportCount *counts_find(const GraphReportCounts *c, const char *stream, const char *release,
                                     const char *group)
{
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->items[i].stream, stream) && streq(c->items[i].release, release) &&
                    streq(c->items[i].group, group))
                        return &c->items[i];
        return NULL;
}

const GraphReportCount *graph_report_counts_find(const GraphReportCounts *c, const char *stream,
                                                 const char *release, const char *group)
{
        assert(c && stream && release && group);
        return counts_find(c, stream, release, group);
}

void graph_report_counts_resolve(const GraphReportCounts *c, const char **stream, const char **release,
                                 const char **group)
{
        if (!counts_find(c, *stream, *release, *group) && c->n >= GRAPH_REPORT_COUNTS_MAX)
                *stream = *release = *group = GRAPH_REPORT_COUNTS_OTHER;
}

/* The entry the key is counted under (graph_report_counts_resolve()), created when missing; NULL: out of
 * memory. */
static GraphReportCount *counts_slot(GraphReportCounts *c, const char *stream, const char *release,
                                     const char *group)
{
        GraphReportCount *x;

        assert(c && stream && release && group);
        assert(strlen(stream) <= GRAPH_REPORT_MAX_NAME && strlen(release) <= GRAPH_REPORT_MAX_VERSION &&
               strlen(group) <= GRAPH_REPORT_MAX_NAME);
        graph_report_counts_resolve(c, &stream, &release, &group);
        x = counts_find(c, stream, release, group);
        if (x)
                return x;
        if (!c->items && !(c->items = calloc(GRAPH_REPORT_COUNTS_MAX + 1, sizeof(GraphReportCount))))
                return NULL;
        x = &c->items[c->n++];
        *x = (GraphReportCount){ 0 };
        strcpy(x->stream, stream);
        strcpy(x->release, release);
        strcpy(x->group, group);
        return x;
}

int graph_report_counts_add(GraphReportCounts *c, const char *stream, const char *release, const char *group,
                            GraphReportOutcome o, uint64_t k)
{
        GraphReportCount *x;

        assert(o >= 0 && o < _GRAPH_REPORT_OUTCOME_MAX);
        x = counts_slot(c, stream, release, group);
        if (!x)
                return -ENOMEM;
        x->n[o] += k;
        return 0;
}

int graph_report_counts_set(GraphReportCounts *c, const char *stream, const char *release, const char *group,
                            GraphReportOutcome o, uint64_t v)
{
        GraphReportCount *x;

        assert(o >= 0 && o < _GRAPH_REPORT_OUTCOME_MAX);
        x = counts_slot(c, stream, release, group);
        if (!x)
                return -ENOMEM;
        x->n[o] = v;
        return 0;
}

void graph_report_counts_done(GraphReportCounts *c)
{
        free(c->items);
        *c = (GraphReportCounts){ 0 };
}
