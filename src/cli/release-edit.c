/* release-edit.c — the edits of `upkeep release` on update metadata (add, barrier, deadend, pause,
 * resume, clean) and its stable serialization (Python's json.dump(indent=2), as rollout.py writes). */
#include "release-edit.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "graph-build.h"
#include "json-util.h"
#include "release-time.h"
#include "strutil.h"

/* ---- parsing ---- */

int updates_doc_parse(const char *data, size_t len, json_t **ret, Error *e)
{
        _cleanup_json_ json_t *root = NULL;
        json_t *releases, *rel, *md;
        size_t i;
        int r;

        r = json_parse_strict(data, len, &root, e);
        if (r < 0)
                return r;
        if (!json_is_object(root))
                return error_setf(e, -EINVAL, "update metadata must be a JSON object, got %s",
                                  json_type_name(root));
        r = json_member_array(root, "releases", true, "update metadata", &releases, e);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        if (json_array_size(releases) > GRAPH_MAX_RELEASES)
                return error_setf(e, -E2BIG, "update metadata: %zu releases, more than the limit of %d",
                                  json_array_size(releases), GRAPH_MAX_RELEASES);
        json_array_foreach(releases, i, rel) {
                char what[64];
                const char *version;

                snprintf(what, sizeof(what), "release %zu", i);
                if (!json_is_object(rel))
                        return error_setf(e, -EINVAL, "%s must be an object, got %s", what,
                                          json_type_name(rel));
                r = json_member_string(rel, "version", true, what, &version, e);
                if (r >= 0 && !*version)
                        r = error_setf(e, -EINVAL, "%s: field 'version' is empty", what);
                if (r >= 0)
                        r = json_member_object(rel, "metadata", true, what, &md, e);
                if (r < 0)
                        return r == -ENOENT ? -EINVAL : r;
        }
        *ret = TAKE_PTR(root);
        return 0;
}

/* ---- writing, as Python's json.dump(indent=2) ---- */

/* Python's repr() of a finite double: the shortest digits that read back, fixed notation for decimal
 * exponents -4..15 (with ".0" when integral), else d.ddde±XX. */
static int put_py_float(Buf *out, double d)
{
        char digits[DOUBLE_DIGITS_MAX + 1];
        int exp10, n, r;
        bool neg;

        if (!isfinite(d))
                return -EINVAL;
        if (d == 0)
                return buf_puts(out, signbit(d) ? "-0.0" : "0.0");
        n = double_shortest_digits(d, digits, &exp10, &neg);
        if (n < 0)
                return n;
        if (neg && (r = buf_putc(out, '-')) < 0)
                return r;
        if (exp10 < -4 || exp10 >= 16) {
                r = buf_printf(out, "%c%s%s", digits[0], n > 1 ? "." : "", digits + 1);
                return r < 0 ? r : buf_printf(out, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        }
        if (exp10 < 0) {
                r = buf_puts(out, "0.");
                for (int i = 0; r >= 0 && i < -exp10 - 1; i++)
                        r = buf_putc(out, '0');
                return r < 0 ? r : buf_puts(out, digits);
        }
        for (int i = 0; i <= exp10; i++)
                if ((r = buf_putc(out, i < n ? digits[i] : '0')) < 0)
                        return r;
        if (n <= exp10 + 1)
                return buf_puts(out, ".0");
        return buf_printf(out, ".%s", digits + exp10 + 1);
}

/* A JSON string with every non-ASCII character as \uXXXX (surrogate pairs beyond the BMP). */
static int put_py_string(Buf *out, const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s, *end = p + len;
        int r = buf_putc(out, '"');

        while (r >= 0 && p < end) {
                uint32_t c = *p++;
                if (c >= 0x80) { /* jansson validated the UTF-8 */
                        int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
                        c &= 0x3F >> extra;
                        for (int k = 0; k < extra && p < end; k++)
                                c = (c << 6) | (*p++ & 0x3F);
                }
                if (c == '"' || c == '\\')
                        r = buf_printf(out, "\\%c", (char)c);
                else if (c == '\n')
                        r = buf_puts(out, "\\n");
                else if (c == '\r')
                        r = buf_puts(out, "\\r");
                else if (c == '\t')
                        r = buf_puts(out, "\\t");
                else if (c == '\b')
                        r = buf_puts(out, "\\b");
                else if (c == '\f')
                        r = buf_puts(out, "\\f");
                else if (c < 0x20 || (c >= 0x80 && c <= 0xFFFF))
                        r = buf_printf(out, "\\u%04x", c);
                else if (c > 0xFFFF)
                        r = buf_printf(out, "\\u%04x\\u%04x", 0xD800 + ((c - 0x10000) >> 10),
                                       0xDC00 + ((c - 0x10000) & 0x3FF));
                else
                        r = buf_putc(out, (char)c);
        }
        return r < 0 ? r : buf_putc(out, '"');
}

static int put_newline(Buf *out, unsigned level)
{
        int r = buf_putc(out, '\n');
        for (unsigned i = 0; r >= 0 && i < level; i++)
                r = buf_puts(out, "  ");
        return r;
}

static int put_value(Buf *out, const json_t *v, unsigned level)
{
        const char *key;
        json_t *item;
        size_t i, n = 0;
        int r = 0;

        switch (json_typeof(v)) {
        case JSON_OBJECT:
                if (json_object_size(v) == 0)
                        return buf_puts(out, "{}");
                r = buf_putc(out, '{');
                json_object_foreach((json_t *)v, key, item) {
                        if (r >= 0 && n++ > 0)
                                r = buf_putc(out, ',');
                        if (r >= 0)
                                r = put_newline(out, level + 1);
                        if (r >= 0)
                                r = put_py_string(out, key, strlen(key));
                        if (r >= 0)
                                r = buf_puts(out, ": ");
                        if (r >= 0)
                                r = put_value(out, item, level + 1);
                }
                return r < 0 ? r : put_newline(out, level) < 0 ? -ENOMEM : buf_putc(out, '}');
        case JSON_ARRAY:
                if (json_array_size(v) == 0)
                        return buf_puts(out, "[]");
                r = buf_putc(out, '[');
                json_array_foreach(v, i, item) {
                        if (r >= 0 && i > 0)
                                r = buf_putc(out, ',');
                        if (r >= 0)
                                r = put_newline(out, level + 1);
                        if (r >= 0)
                                r = put_value(out, item, level + 1);
                }
                return r < 0 ? r : put_newline(out, level) < 0 ? -ENOMEM : buf_putc(out, ']');
        case JSON_STRING:
                return put_py_string(out, json_string_value(v), json_string_length(v));
        case JSON_INTEGER:
                return buf_printf(out, "%lld", (long long)json_integer_value(v));
        case JSON_REAL:
                return put_py_float(out, json_real_value(v));
        case JSON_TRUE:
                return buf_puts(out, "true");
        case JSON_FALSE:
                return buf_puts(out, "false");
        default:
                return buf_puts(out, "null");
        }
}

int updates_doc_write(const json_t *doc, Buf *out)
{
        int r = put_value(out, doc, 0);
        return r < 0 ? r : buf_putc(out, '\n');
}

/* ---- lookups ---- */

json_t *updates_doc_find(const json_t *doc, const char *version, size_t *ret_pos)
{
        json_t *releases = json_object_get(doc, "releases"), *rel;
        size_t i;

        json_array_foreach(releases, i, rel) {
                const char *v = json_string_value(json_object_get(rel, "version"));
                if (v && streq(v, version)) {
                        if (ret_pos)
                                *ret_pos = i;
                        return rel;
                }
        }
        return NULL;
}

int updates_doc_touch(json_t *doc, int64_t now)
{
        char ts[40];
        json_t *md = json_object_get(doc, "metadata");
        int r;

        r = release_time_format_utc(now, ts, sizeof(ts));
        if (r < 0)
                return r;
        if (!json_is_object(md)) {
                md = json_object();
                if (!md || json_object_set_new(doc, "metadata", md) < 0)
                        return -ENOMEM;
        }
        return json_object_set_new(md, "last-modified", json_string(ts)) < 0 ? -ENOMEM : 0;
}

static int version_pos_cmp(const void *a, const void *b)
{
        const VersionPos *x = a, *y = b;
        int c = strcmp(x->version, y->version);

        if (c != 0)
                return c;
        return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sorts t's n items and marks each with the first position of its version (sorted neighbours). */
static void version_table_sort(VersionTable *t)
{
        if (t->n > 1)
                qsort(t->items, t->n, sizeof(VersionPos), version_pos_cmp);
        for (size_t i = 0; i < t->n; i++)
                t->items[i].first = i > 0 && streq(t->items[i - 1].version, t->items[i].version)
                                            ? t->items[i - 1].first
                                            : t->items[i].pos;
}

int version_table_from_doc(const json_t *doc, VersionTable *ret)
{
        json_t *releases = json_object_get(doc, "releases"), *rel;
        VersionTable t = { 0 };
        size_t i;

        t.items = calloc(json_array_size(releases) + 1, sizeof(VersionPos));
        if (!t.items)
                return -ENOMEM;
        json_array_foreach(releases, i, rel) {
                const char *v = json_string_value(json_object_get(rel, "version"));
                if (v)
                        t.items[t.n++] = (VersionPos){ .version = v, .pos = i };
        }
        version_table_sort(&t);
        *ret = t;
        return 0;
}

int version_table_from_index(const ReleaseIndex *ri, VersionTable *ret)
{
        VersionTable t = { 0 };

        t.items = calloc((ri ? ri->n_releases : 0) + 1, sizeof(VersionPos));
        if (!t.items)
                return -ENOMEM;
        for (size_t i = 0; ri && i < ri->n_releases; i++)
                if (ri->releases[i].version)
                        t.items[t.n++] = (VersionPos){ .version = ri->releases[i].version, .pos = i };
        version_table_sort(&t);
        *ret = t;
        return 0;
}

ssize_t version_table_find(const VersionTable *t, const char *version)
{
        VersionPos key = { .version = version };
        size_t lo = 0, hi = t->n;

        if (!version)
                return -1;
        /* Any item with the version will do: each knows the first position of its version. */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(key.version, t->items[mid].version);
                if (c == 0)
                        return (ssize_t)t->items[mid].first;
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return -1;
}

void version_table_done(VersionTable *t)
{
        free(t->items);
        *t = (VersionTable){ 0 };
}

/* The entry of version, created (in the release index's order) when missing and create is set. */
static int entry_get(json_t *doc, const ReleaseIndex *ri, const char *version, bool create, json_t **ret,
                     Error *e)
{
        _cleanup_(version_table_done) VersionTable index = { 0 };
        json_t *releases = json_object_get(doc, "releases"), *rel, *entry;
        ssize_t pos;
        size_t i, at;

        if (version_table_from_index(ri, &index) < 0)
                return -ENOMEM;
        pos = version_table_find(&index, version);
        if (ri && pos < 0)
                return error_setf(e, -ENOENT,
                                  "release %s is not in the release index (a typo? upkeep-graph and "
                                  "fedora-coreos-cincinnati ignore such entries)",
                                  version);
        entry = updates_doc_find(doc, version, NULL);
        if (entry || !create) {
                if (!entry)
                        return error_setf(e, -ENOENT, "release %s has no entry in the update metadata",
                                          version);
                *ret = entry;
                return 0;
        }
        at = json_array_size(releases);
        json_array_foreach(releases, i, rel) {
                ssize_t p = version_table_find(&index, json_string_value(json_object_get(rel, "version")));
                if (p > pos) {
                        at = i;
                        break;
                }
        }
        entry = json_pack("{s:s, s:{}}", "version", version, "metadata");
        if (!entry || json_array_insert_new(releases, at, entry) < 0)
                return -ENOMEM;
        *ret = entry;
        return 0;
}

static json_t *entry_md(json_t *entry)
{
        return json_object_get(entry, "metadata");
}

double rollout_throttle(const json_t *ro, int64_t now)
{
        json_t *s = json_object_get(ro, "start_epoch"), *v = json_object_get(ro, "start_percentage");
        json_t *d = json_object_get(ro, "duration_minutes");
        /* The server's own function on the same parameters: the plan shows what upkeep-graph will serve. */
        const GraphNode n = {
                .has_start_epoch = json_is_integer(s),
                .start_epoch = json_is_integer(s) ? json_integer_value(s) : 0,
                .has_start_value = json_is_number(v),
                .start_value = json_is_number(v) ? json_number_value(v) : 0.0,
                .has_duration = json_is_integer(d) && json_integer_value(d) >= 0,
                .duration_minutes = json_is_integer(d) && json_integer_value(d) >= 0
                                            ? (uint64_t)json_integer_value(d)
                                            : 0,
        };

        return graph_node_throttle(&n, now);
}

/* ---- edits ---- */

int release_add_rollout(json_t *doc, const ReleaseIndex *ri, const char *version, const RolloutSpec *spec,
                        Error *e)
{
        _cleanup_json_ json_t *ro = NULL;
        json_t *entry, *old;
        int r;

        assert(spec->duration_minutes >= 1);
        if (!(spec->start_percentage >= 0.0 && spec->start_percentage <= 1.0))
                return error_setf(e, -EINVAL, "start percentage %g is outside [0, 1]",
                                  spec->start_percentage);
        r = entry_get(doc, ri, version, true, &entry, e);
        if (r < 0)
                return r;
        ro = json_pack("{s:I, s:I, s:f}", "duration_minutes", (json_int_t)spec->duration_minutes,
                       "start_epoch", (json_int_t)spec->start_epoch, "start_percentage",
                       spec->start_percentage);
        if (!ro)
                return -ENOMEM;
        old = json_object_get(entry_md(entry), "rollout");
        if (old && json_equal(old, ro))
                return 0;
        if (old && !spec->replace)
                return error_setf(e, -EEXIST,
                                  "release %s already has a rollout; use --replace to replace it", version);
        return json_object_set(entry_md(entry), "rollout", ro) < 0 ? -ENOMEM : 1;
}

static int set_reason(json_t *doc, const ReleaseIndex *ri, const char *version, const char *key,
                      const char *reason, Error *e)
{
        json_t *entry, *old;
        int r;

        if (reason && strlen(reason) > RELEASE_MAX_REASON)
                return error_setf(e, -EINVAL, "%s reason is longer than %d bytes", key, RELEASE_MAX_REASON);
        r = entry_get(doc, ri, version, true, &entry, e);
        if (r < 0)
                return r;
        old = json_object_get(entry_md(entry), key);
        if (json_is_object(old) && json_is_string(json_object_get(old, "reason")) &&
            (!reason || streq(json_string_value(json_object_get(old, "reason")), reason)))
                return 0;
        r = json_object_set_new(entry_md(entry), key, json_pack("{s:s}", "reason", reason ? reason : ""));
        return r < 0 ? -ENOMEM : 1;
}

int release_set_barrier(json_t *doc, const ReleaseIndex *ri, const char *version, const char *reason,
                        Error *e)
{
        return set_reason(doc, ri, version, "barrier", reason, e);
}

int release_set_deadend(json_t *doc, const ReleaseIndex *ri, const char *version, const char *reason,
                        Error *e)
{
        if (!reason || !*reason)
                return error_setf(e, -EINVAL, "a dead-end needs a reason (nodes show it to their admins)");
        return set_reason(doc, ri, version, "deadend", reason, e);
}

/* The rollout object of version's entry, and the entry's metadata it is in. */
static int rollout_get(json_t *doc, const char *version, json_t **ret_md, json_t **ret, Error *e)
{
        json_t *entry, *ro;
        int r = entry_get(doc, NULL, version, false, &entry, e);

        if (r < 0)
                return r;
        ro = json_object_get(entry_md(entry), "rollout");
        if (!json_is_object(ro))
                return error_setf(e, -ESRCH, "release %s has no rollout", version);
        *ret_md = entry_md(entry);
        *ret = ro;
        return 0;
}

/* A rollout object in rollout.py's key order (duration_minutes, start_epoch, start_percentage), then the
 * paused marker, then any other keys of old in their order. */
static json_t *rollout_rebuild(const json_t *old, json_t *duration, json_t *start, json_t *pct,
                               json_t *paused)
{
        static const char *const known[] = { "duration_minutes", "start_epoch", "start_percentage",
                                             RELEASE_PAUSED_KEY };
        json_t *vals[] = { duration, start, pct, paused };
        json_t *ro = json_object(), *v;
        const char *key;
        bool ok = ro != NULL;

        for (size_t i = 0; ok && i < ELEMENTSOF(known); i++)
                if (vals[i])
                        ok = json_object_set(ro, known[i], vals[i]) == 0;
        json_object_foreach((json_t *)old, key, v) {
                bool is_known = false;
                for (size_t i = 0; i < ELEMENTSOF(known); i++)
                        is_known = is_known || streq(key, known[i]);
                if (ok && !is_known)
                        ok = json_object_set(ro, key, v) == 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(vals); i++)
                json_decref(vals[i]);
        if (!ok)
                json_decref(ro);
        return ok ? ro : NULL;
}

int release_pause(json_t *doc, const char *version, int64_t now, const char *reason, Error *e)
{
        json_t *ro = NULL, *md = NULL, *d, *s, *paused;
        int64_t start, end, remaining;
        double frozen;
        int r;

        r = rollout_get(doc, version, &md, &ro, e);
        if (r < 0)
                return r;
        if (json_object_get(ro, RELEASE_PAUSED_KEY))
                return error_setf(e, -EALREADY, "the rollout of %s is paused already", version);
        d = json_object_get(ro, "duration_minutes");
        s = json_object_get(ro, "start_epoch");
        start = json_is_integer(s) ? json_integer_value(s) : 0;
        if (!json_is_integer(d) || json_integer_value(d) < 0)
                return error_setf(e, -ESRCH, "the rollout of %s has no duration: it stays at %g already",
                                  version, rollout_throttle(ro, now));
        if (json_integer_value(d) > RELEASE_DURATION_MAX_MINUTES * 100 || start > INT64_C(1) << 60 ||
            start < -(INT64_C(1) << 60))
                return error_setf(e, -ERANGE, "the rollout of %s starts or lasts beyond any date", version);
        end = start + 60 * MAX(json_integer_value(d), 1);
        if (now >= end)
                return error_setf(e, -ESRCH, "the rollout of %s has finished: nothing to pause", version);
        frozen = CLAMP(round(rollout_throttle(ro, now) * 1e6) / 1e6, 0.0, 1.0);
        remaining = end - MAX(now, start);
        paused = json_pack("{s:I, s:I}", "since_epoch", (json_int_t)now, "remaining_minutes",
                           (json_int_t)((remaining + 59) / 60));
        if (!paused)
                return -ENOMEM;
        if (reason && json_object_set_new(paused, "reason", json_string(reason)) < 0) {
                json_decref(paused);
                return -ENOMEM;
        }
        ro = rollout_rebuild(ro, NULL, json_incref(s), json_real(frozen), paused);
        if (!ro || json_object_set_new(md, "rollout", ro) < 0)
                return -ENOMEM;
        return 1;
}

int release_resume(json_t *doc, const char *version, int64_t start, Error *e)
{
        json_t *ro = NULL, *md = NULL, *paused, *rem;
        int r;

        r = rollout_get(doc, version, &md, &ro, e);
        if (r < 0)
                return r;
        paused = json_object_get(ro, RELEASE_PAUSED_KEY);
        if (!paused)
                return error_setf(e, -ESRCH, "the rollout of %s is not paused", version);
        rem = json_object_get(paused, "remaining_minutes");
        if (!json_is_integer(rem) || json_integer_value(rem) < 1 ||
            json_integer_value(rem) > RELEASE_DURATION_MAX_MINUTES)
                return error_setf(e, -EINVAL,
                                  "release %s: metadata.rollout.paused.remaining_minutes must be an integer "
                                  "from 1 to %lld",
                                  version, (long long)RELEASE_DURATION_MAX_MINUTES);
        ro = rollout_rebuild(ro, json_integer(json_integer_value(rem)), json_integer(start),
                             json_incref(json_object_get(ro, "start_percentage")), NULL);
        if (!ro || json_object_set_new(md, "rollout", ro) < 0)
                return -ENOMEM;
        return 1;
}

static bool rollout_completed(const json_t *ro, int64_t now)
{
        json_t *s = json_object_get(ro, "start_epoch");
        int64_t start = json_is_integer(s) ? json_integer_value(s) : 0;

        return json_is_object(ro) && !json_object_get(ro, RELEASE_PAUSED_KEY) && now >= start &&
               rollout_throttle(ro, now) >= 1.0;
}

int release_clean(json_t *doc, int64_t now, Buf *names)
{
        json_t *releases = json_object_get(doc, "releases"), *rel, *md;
        bool newest_kept = false;
        int changes = 0;

        for (size_t i = json_array_size(releases); i-- > 0;) {
                const char *version;
                json_t *ro;

                rel = json_array_get(releases, i);
                md = entry_md(rel);
                version = json_string_value(json_object_get(rel, "version"));
                ro = json_object_get(md, "rollout");
                if (rollout_completed(ro, now)) {
                        _cleanup_json_ json_t *done = json_pack("{s:f}", "start_percentage", 1.0);
                        if (!done)
                                return -ENOMEM;
                        if (newest_kept) {
                                json_object_del(md, "rollout");
                                changes++;
                                if (names && buf_printf(names,
                                                        "%s: finished rollout removed (a newer one "
                                                        "finished too)\n",
                                                        version) < 0)
                                        return -ENOMEM;
                        } else if (!json_equal(ro, done)) {
                                if (json_object_set(md, "rollout", done) < 0)
                                        return -ENOMEM;
                                changes++;
                                if (names && buf_printf(names,
                                                        "%s: rollout finished, now "
                                                        "{\"start_percentage\": 1.0}\n",
                                                        version) < 0)
                                        return -ENOMEM;
                        }
                        newest_kept = true;
                }
                if (!json_object_get(md, "barrier") && !json_object_get(md, "deadend") &&
                    !json_object_get(md, "rollout")) {
                        if (names && buf_printf(names, "%s: dropped (no barrier, dead-end or rollout)\n",
                                                version) < 0)
                                return -ENOMEM;
                        if (json_array_remove(releases, i) < 0)
                                return -ENOMEM;
                        changes++;
                }
        }
        return changes;
}
