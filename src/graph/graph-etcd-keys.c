/* graph-etcd-keys.c — key names and values of the etcd report store (see graph-etcd-keys.h). */
#include "graph-etcd-keys.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json-util.h"
#include "macros.h"
#include "strutil.h"

static const char *const section_names[_GRAPH_ETCD_SECTION_MAX] = {
        [GRAPH_ETCD_REPORTS] = "reports",
        [GRAPH_ETCD_COUNTS] = "counts",
        [GRAPH_ETCD_PAUSES] = "pauses",
};

bool graph_etcd_prefix_valid(const char *prefix)
{
        size_t n = prefix ? strlen(prefix) : 0;

        if (n == 0 || n > GRAPH_ETCD_PREFIX_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (prefix[i] <= ' ' || prefix[i] > '~')
                        return false;
        return true;
}

static bool plain(unsigned char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '~' || c == '-';
}

/* Appends "/" (unless first) and the escaped component to buf at *at. */
static int put_component(char *buf, size_t size, size_t *at, const char *s, bool first)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t k = *at;

        if (!first) {
                if (k + 1 >= size)
                        return -ENAMETOOLONG;
                buf[k++] = '/';
        }
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (k + (plain(*p) ? 1 : 3) >= size) /* and the NUL */
                        return -ENAMETOOLONG;
                if (plain(*p))
                        buf[k++] = (char)*p;
                else {
                        buf[k++] = '%';
                        buf[k++] = hex[*p >> 4];
                        buf[k++] = hex[*p & 15];
                }
        }
        buf[k] = 0;
        *at = k;
        return 0;
}

/* prefix + section + "/" + the escaped components. */
static int make_key(const char *prefix, GraphEtcdSection sec, const char *const *parts, size_t n, char *buf,
                    size_t size)
{
        size_t at;
        int r;

        assert(buf);
        if (!graph_etcd_prefix_valid(prefix))
                return -EINVAL;
        at = (size_t)snprintf(buf, size, "%s%s/", prefix, section_names[sec]);
        if (at >= size)
                return -ENAMETOOLONG;
        for (size_t i = 0; i < n; i++) {
                if (!parts[i])
                        return -EINVAL;
                r = put_component(buf, size, &at, parts[i], i == 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

int graph_etcd_report_key(const char *prefix, const char *release, GraphReportOutcome o, const char *node,
                          char *buf, size_t size)
{
        const char *parts[] = { release, graph_report_outcome_to_string(o), node };

        return make_key(prefix, GRAPH_ETCD_REPORTS, parts, ELEMENTSOF(parts), buf, size);
}

int graph_etcd_count_key(const char *prefix, const char *stream, const char *release, const char *group,
                         GraphReportOutcome o, char *buf, size_t size)
{
        const char *parts[] = { stream, release, group, graph_report_outcome_to_string(o) };

        return make_key(prefix, GRAPH_ETCD_COUNTS, parts, ELEMENTSOF(parts), buf, size);
}

int graph_etcd_pause_key(const char *prefix, const char *stream, const char *release, char *buf, size_t size)
{
        const char *parts[] = { stream, release };

        return make_key(prefix, GRAPH_ETCD_PAUSES, parts, ELEMENTSOF(parts), buf, size);
}

int graph_etcd_section_range(const char *prefix, GraphEtcdSection s, char *from, char *end, size_t size)
{
        int r;

        assert(from && end && (unsigned)s < _GRAPH_ETCD_SECTION_MAX);
        r = make_key(prefix, s, NULL, 0, from, size);
        if (r < 0)
                return r;
        /* '0' follows '/' in ASCII: the smallest key above every key that starts with from. */
        memcpy(end, from, strlen(from) + 1);
        end[strlen(end) - 1] = '0';
        return 0;
}

static int unhex(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decodes one escaped component from *p up to the next '/' or the end into out (max bytes at most,
 * no NUL, only canonical escapes: an escaped plain byte is refused), advancing *p past it. */
static int take_component(const char **p, char *out, size_t max)
{
        size_t k = 0;
        const char *s = *p;

        for (; *s && *s != '/'; s++) {
                int c = (unsigned char)*s;
                if (c == '%') {
                        int hi = unhex(s[1]), lo = hi < 0 ? -1 : unhex(s[2]);
                        if (lo < 0)
                                return -EINVAL;
                        c = hi * 16 + lo;
                        if (c == 0 || plain((unsigned char)c))
                                return -EINVAL;
                        s += 2;
                } else if (!plain((unsigned char)c))
                        return -EINVAL;
                if (k >= max)
                        return -EINVAL;
                out[k++] = (char)c;
        }
        if (k == 0)
                return -EINVAL;
        out[k] = 0;
        *p = s;
        return 0;
}

int graph_etcd_count_key_parse(const char *prefix, const char *key, char stream[GRAPH_REPORT_MAX_NAME + 1],
                               char release[GRAPH_REPORT_MAX_VERSION + 1],
                               char group[GRAPH_REPORT_MAX_NAME + 1], GraphReportOutcome *ret)
{
        char from[GRAPH_ETCD_PREFIX_MAX + 16], end[GRAPH_ETCD_PREFIX_MAX + 16], outcome[32];
        char *out[] = { stream, release, group, outcome };
        const size_t max[] = { GRAPH_REPORT_MAX_NAME, GRAPH_REPORT_MAX_VERSION, GRAPH_REPORT_MAX_NAME,
                               sizeof(outcome) - 1 };
        const char *p;
        int o;

        assert(key && stream && release && group && ret);
        if (graph_etcd_section_range(prefix, GRAPH_ETCD_COUNTS, from, end, sizeof(from)) < 0 ||
            !startswith(key, from))
                return -EINVAL;
        p = key + strlen(from);
        for (size_t i = 0; i < ELEMENTSOF(out); i++) {
                if (i > 0 && *p++ != '/')
                        return -EINVAL;
                if (take_component(&p, out[i], max[i]) < 0)
                        return -EINVAL;
        }
        o = graph_report_outcome_from_string(outcome);
        if (*p || o < 0)
                return -EINVAL;
        *ret = (GraphReportOutcome)o;
        return 0;
}

int graph_etcd_count_parse(const char *value, size_t len, uint64_t *ret)
{
        uint64_t n = 0;

        assert(ret);
        if (!value || len == 0 || len > 20)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (value[i] < '0' || value[i] > '9')
                        return -EINVAL;
                if (n > (UINT64_MAX - (uint64_t)(value[i] - '0')) / 10)
                        return -EINVAL;
                n = n * 10 + (uint64_t)(value[i] - '0');
        }
        *ret = n;
        return 0;
}

static int put_string_member(Buf *out, const char *name, const char *s, bool first)
{
        int r = buf_printf(out, "%s\"%s\":", first ? "" : ",", name);
        return r < 0 ? r : buf_put_json_string(out, s, strlen(s));
}

int graph_etcd_report_encode(const GraphReport *r, int64_t received, Buf *out)
{
        const char *names[] = { "node",         "group",      "stream",  "basearch",
                                "from_version", "to_version", "outcome", "detail" };
        const char *values[] = { r->node,
                                 r->group,
                                 r->stream,
                                 r->basearch,
                                 r->from_version,
                                 r->to_version,
                                 graph_report_outcome_to_string(r->outcome),
                                 r->detail };
        int k = buf_putc(out, '{');

        for (size_t i = 0; k >= 0 && i < ELEMENTSOF(names); i++)
                k = put_string_member(out, names[i], values[i], i == 0);
        if (k >= 0)
                k = buf_puts(out, ",\"failed_checks\":[");
        for (size_t i = 0; k >= 0 && i < r->n_checks; i++) {
                k = i ? buf_putc(out, ',') : 0;
                if (k >= 0)
                        k = buf_put_json_string(out, r->checks[i], strlen(r->checks[i]));
        }
        if (k >= 0)
                k = buf_printf(out, "],\"time\":%" PRIi64 ",\"received\":%" PRIi64 "}", r->time, received);
        return k;
}

int graph_etcd_pause_encode(const GraphPause *p, Buf *out)
{
        int r = buf_putc(out, '{');

        if (r >= 0)
                r = put_string_member(out, "stream", p->stream, true);
        if (r >= 0)
                r = put_string_member(out, "release", p->release, false);
        if (r >= 0)
                r = put_string_member(out, "reason", p->reason, false);
        if (r >= 0)
                r = buf_printf(out,
                               ",\"frozen\":%.17g,\"paused_at\":%" PRIi64 ",\"remaining_secs\":%" PRIi64
                               ",\"resumed_at\":%" PRIi64 ",\"had_node\":%s,\"had_rollout\":%s,"
                               "\"had_duration\":%s,\"start_epoch\":%" PRIi64
                               ",\"start_value\":%.17g,\"duration_minutes\":%" PRIu64 "}",
                               p->frozen, p->paused_at, p->remaining_secs, p->resumed_at,
                               p->had_node ? "true" : "false", p->had_rollout ? "true" : "false",
                               p->had_duration ? "true" : "false", p->start_epoch, p->start_value,
                               p->duration_minutes);
        return r;
}

static int member_bool(const json_t *j, const char *key, bool *ret, Error *e)
{
        json_t *v = json_object_get(j, key);

        if (!json_is_boolean(v))
                return error_setf(e, -EINVAL, "pause record: %s: must be true or false", key);
        *ret = json_is_true(v);
        return 0;
}

/* The string member key, at most max bytes, into out. */
static int member_text(const json_t *j, const char *key, size_t max, char *out, Error *e)
{
        const char *s = NULL;
        int r = json_member_string(j, key, true, "pause record", &s, e);

        if (r < 0)
                return -EINVAL;
        if (strlen(s) > max)
                return error_setf(e, -EINVAL, "pause record: %s: longer than %zu bytes", key, max);
        memcpy(out, s, strlen(s) + 1);
        return 0;
}

static int decode_numbers(const json_t *j, GraphPause *p, Error *e)
{
        const char *ints[] = { "paused_at", "remaining_secs", "resumed_at", "start_epoch",
                               "duration_minutes" };
        int64_t v[ELEMENTSOF(ints)];
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(ints); i++)
                r = json_member_int(j, ints[i], true, "pause record", 0, INT64_MAX, &v[i], e);
        if (r >= 0)
                r = json_member_number(j, "frozen", true, "pause record", &p->frozen, e);
        if (r >= 0)
                r = json_member_number(j, "start_value", true, "pause record", &p->start_value, e);
        if (r < 0)
                return -EINVAL;
        if (!(p->frozen >= 0.0 && p->frozen <= 1.0) || !(p->start_value >= 0.0 && p->start_value <= 1.0))
                return error_setf(e, -EINVAL, "pause record: frozen and start_value must be within [0, 1]");
        p->paused_at = v[0];
        p->remaining_secs = v[1];
        p->resumed_at = v[2];
        p->start_epoch = v[3];
        p->duration_minutes = (uint64_t)v[4];
        return 0;
}

int graph_etcd_pause_decode(const char *value, size_t len, GraphPause *ret, Error *e)
{
        _cleanup_json_ json_t *j = NULL;
        GraphPause p = { 0 };
        Error je;
        int r;

        assert(ret);
        if (!value || json_parse_strict(value, len, &j, &je) < 0 || !json_is_object(j))
                return error_setf(e, -EINVAL, "pause record: not a JSON object");
        r = member_text(j, "stream", GRAPH_REPORT_MAX_NAME, p.stream, e);
        if (r >= 0)
                r = member_text(j, "release", GRAPH_REPORT_MAX_VERSION, p.release, e);
        if (r >= 0)
                r = member_text(j, "reason", GRAPH_PAUSE_REASON_MAX - 1, p.reason, e);
        if (r >= 0)
                r = member_bool(j, "had_node", &p.had_node, e);
        if (r >= 0)
                r = member_bool(j, "had_rollout", &p.had_rollout, e);
        if (r >= 0)
                r = member_bool(j, "had_duration", &p.had_duration, e);
        if (r >= 0)
                r = decode_numbers(j, &p, e);
        if (r < 0)
                return r;
        if (!*p.stream || !*p.release)
                return error_setf(e, -EINVAL, "pause record: empty stream or release");
        *ret = p;
        return 0;
}
