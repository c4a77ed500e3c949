/* release-validate.c — schema, semantic and release-index checks of update metadata for
 * `upkeep release validate`, each finding naming the file, the release and the field. */
#include "release-validate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json-util.h"
#include "release-edit.h"

typedef struct Ctx {
        const char *file;
        Buf *out;
        ValidateResult res;
        int r;                       /* the first allocation failure */
        VersionTable entries, index; /* the document's releases and the release index, for lookups */
        char where[160];
} Ctx;

static void finding(Ctx *c, bool error, const char *field, const char *fmt, ...) _printf_(4, 5);
static void finding(Ctx *c, bool error, const char *field, const char *fmt, ...)
{
        va_list ap;

        if (error)
                c->res.errors++;
        else
                c->res.warnings++;
        if (buf_printf(c->out, "%s: %s: %s%s%s%s", c->file, error ? "error" : "warning", c->where,
                       *c->where ? ": " : "", field ? field : "", field ? ": " : "") < 0)
                c->r = -ENOMEM;
        va_start(ap, fmt);
        if (buf_vprintf(c->out, fmt, ap) < 0 || buf_putc(c->out, '\n') < 0)
                c->r = -ENOMEM;
        va_end(ap);
}

static void unknown_keys(Ctx *c, const json_t *obj, const char *field, const char *const *known, size_t n)
{
        const char *key;
        json_t *v;

        json_object_foreach((json_t *)obj, key, v) {
                bool ok = false;
                for (size_t i = 0; i < n; i++)
                        ok = ok || streq(key, known[i]);
                if (!ok)
                        finding(c, false, field, "unknown key '%.64s' is ignored (a typo?)", key);
        }
}

static void check_reason(Ctx *c, const json_t *md, const char *key)
{
        json_t *obj = json_object_get(md, key), *reason;
        char field[64];

        if (!obj)
                return;
        snprintf(field, sizeof(field), "metadata.%s", key);
        if (!json_is_object(obj)) {
                finding(c, true, field, "must be an object with a \"reason\", got %s", json_type_name(obj));
                return;
        }
        reason = json_object_get(obj, "reason");
        snprintf(field, sizeof(field), "metadata.%s.reason", key);
        if (!json_is_string(reason))
                finding(c, true, field, "%s (fedora-coreos-cincinnati refuses the whole file)",
                        reason ? "must be a string" : "is missing");
        else if (!*json_string_value(reason) && streq(key, "deadend"))
                finding(c, true, field, "is empty: nodes show it to their admins, say why (a URL)");
        else if (!*json_string_value(reason))
                finding(c, false, field, "is empty: the graph says \"generic\"");
        unknown_keys(c, obj, field, (const char *const[]){ "reason" }, 1);
}

static void check_paused(Ctx *c, const json_t *ro)
{
        json_t *p = json_object_get(ro, RELEASE_PAUSED_KEY), *rem, *since;
        static const char *const known[] = { "since_epoch", "remaining_minutes", "reason" };

        if (!p)
                return;
        if (!json_is_object(p)) {
                finding(c, true, "metadata.rollout.paused", "must be an object, got %s", json_type_name(p));
                return;
        }
        rem = json_object_get(p, "remaining_minutes");
        since = json_object_get(p, "since_epoch");
        if (!json_is_integer(rem) || json_integer_value(rem) < 1)
                finding(c, true, "metadata.rollout.paused.remaining_minutes", "must be an integer >= 1");
        if (!json_is_integer(since))
                finding(c, true, "metadata.rollout.paused.since_epoch", "must be an integer (unix seconds)");
        if (json_object_get(ro, "duration_minutes"))
                finding(c, true, "metadata.rollout",
                        "is paused but has duration_minutes: the servers keep ramping it up; remove one");
        unknown_keys(c, p, "metadata.rollout.paused", known, ELEMENTSOF(known));
}

static void check_rollout(Ctx *c, const json_t *md)
{
        static const char *const known[] = { "start_epoch", "start_percentage", "duration_minutes",
                                             RELEASE_PAUSED_KEY };
        json_t *ro = json_object_get(md, "rollout"), *s, *v, *d;

        if (!ro)
                return;
        if (!json_is_object(ro)) {
                finding(c, true, "metadata.rollout", "must be an object, got %s", json_type_name(ro));
                return;
        }
        s = json_object_get(ro, "start_epoch");
        v = json_object_get(ro, "start_percentage");
        d = json_object_get(ro, "duration_minutes");
        if (s && !json_is_integer(s) && !json_is_null(s))
                finding(c, true, "metadata.rollout.start_epoch", "must be an integer (unix seconds), got %s",
                        json_type_name(s));
        if (v && !json_is_number(v) && !json_is_null(v))
                finding(c, true, "metadata.rollout.start_percentage", "must be a number, got %s",
                        json_type_name(v));
        else if (json_is_number(v) && !(json_number_value(v) >= 0.0 && json_number_value(v) <= 1.0))
                finding(c, true, "metadata.rollout.start_percentage",
                        "%g is outside [0, 1] (a fraction of the fleet: 0.5 is half%s)",
                        json_number_value(v),
                        json_number_value(v) > 1.0 ? "; servers offer it to every node at the start" : "");
        if (d && !json_is_null(d) && (!json_is_integer(d) || json_integer_value(d) < 0))
                finding(c, true, "metadata.rollout.duration_minutes",
                        "must be a non-negative integer (minutes), got %s%s", json_type_name(d),
                        json_is_integer(d) ? " below 0" : "");
        else if (json_is_integer(d) && json_integer_value(d) == 0)
                finding(c, false, "metadata.rollout.duration_minutes", "is 0: servers treat it as 1 minute");
        if (!json_is_integer(d) && !json_object_get(ro, RELEASE_PAUSED_KEY) &&
            !(json_is_number(v) && json_number_value(v) >= 1.0))
                finding(c, false, "metadata.rollout",
                        "has no duration_minutes: it stays at %g of the fleet and never progresses",
                        json_is_number(v) ? json_number_value(v) : 0.0);
        if (json_object_get(md, "deadend"))
                finding(c, false, "metadata.rollout", "rolls out a dead-end release");
        check_paused(c, ro);
        unknown_keys(c, ro, "metadata.rollout", known, ELEMENTSOF(known));
}

/* Fedora CoreOS's versions: NN.YYYYMMDD.S.P with S the stream's code. */
static void check_fcos_version(Ctx *c, const char *stream, const char *version)
{
        static const char *const streams[] = { "next", "testing", "stable" };
        unsigned major, date, code, patch;
        int n = 0;

        for (size_t i = 0; i < ELEMENTSOF(streams); i++)
                if (stream && streq(stream, streams[i])) {
                        if (sscanf(version, "%2u.%8u.%u.%u%n", &major, &date, &code, &patch, &n) != 4 ||
                            (size_t)n != strlen(version) ||
                            strspn(version, "0123456789.") != strlen(version) ||
                            strcspn(version, ".") != 2 || strcspn(version + 3, ".") != 8)
                                finding(c, false, "version",
                                        "'%.64s' is not Fedora CoreOS's NN.YYYYMMDD.S.P", version);
                        else if (code != i + 1)
                                finding(c, false, "version", "stream code %u is not %s's (%zu)", code,
                                        stream, i + 1);
                }
}

static void check_entry(Ctx *c, const json_t *root, size_t i, const json_t *rel, const ReleaseIndex *ri,
                        ssize_t *last_pos)
{
        static const char *const known_md[] = { "barrier", "deadend", "rollout" };
        json_t *ver = json_object_get(rel, "version"), *md = json_object_get(rel, "metadata");
        const char *version = json_string_value(ver);
        ssize_t dup;

        snprintf(c->where, sizeof(c->where), "release %zu (%.64s)", i, version ? version : "?");
        if (!json_is_object(rel)) {
                finding(c, true, NULL, "must be an object, got %s", json_type_name(rel));
                return;
        }
        if (!version || !*version)
                finding(c, true, "version", "%s",
                        !ver      ? "is missing"
                        : version ? "is empty"
                                  : "must be a string");
        if (!json_is_object(md))
                finding(c, true, "metadata", "%s", md ? "must be an object" : "is missing");
        if (!version || !json_is_object(md))
                return;
        dup = version_table_find(&c->entries, version);
        if (dup >= 0 && (size_t)dup < i)
                finding(c, true, "version", "duplicate of release %zd: servers apply both entries", dup);
        check_fcos_version(c, json_string_value(json_object_get(root, "stream")), version);
        unknown_keys(c, rel, NULL, (const char *const[]){ "version", "metadata" }, 2);
        unknown_keys(c, md, "metadata", known_md, ELEMENTSOF(known_md));
        if (!json_object_get(md, "barrier") && !json_object_get(md, "deadend") &&
            !json_object_get(md, "rollout"))
                finding(c, false, "metadata", "has no barrier, dead-end or rollout: the entry does nothing");
        check_reason(c, md, "barrier");
        check_reason(c, md, "deadend");
        check_rollout(c, md);
        if (ri) {
                ssize_t pos = version_table_find(&c->index, version);
                if (pos < 0)
                        finding(c, true, "version",
                                "not in the release index: servers ignore this entry%s (a typo, or not "
                                "released "
                                "yet?)",
                                json_object_get(md, "barrier") ? ", so nodes do not stop at this barrier"
                                                               : "");
                else if (pos < *last_pos)
                        finding(c, false, "version",
                                "listed after a newer release (the index's order is clearer)");
                if (pos >= 0)
                        *last_pos = pos;
        }
}

static void check_root(Ctx *c, const json_t *root, const ReleaseIndex *ri, const char *expected_stream)
{
        static const char *const known[] = { "stream", "metadata", "releases" };
        json_t *stream = json_object_get(root, "stream"), *md = json_object_get(root, "metadata");

        if (!json_is_string(stream))
                finding(c, true, "stream", "%s (fedora-coreos-cincinnati refuses the file)",
                        stream ? "must be a string" : "is missing");
        else if (expected_stream && !streq(json_string_value(stream), expected_stream))
                finding(c, false, "stream", "'%.64s', but the file name says '%.64s'",
                        json_string_value(stream), expected_stream);
        if (json_is_string(stream) && ri && ri->stream && !streq(ri->stream, json_string_value(stream)))
                finding(c, true, "stream", "'%.64s', but the release index is for '%.64s'",
                        json_string_value(stream), ri->stream);
        if (md && !json_is_object(md))
                finding(c, true, "metadata", "must be an object, got %s", json_type_name(md));
        else if (md && json_object_get(md, "last-modified") &&
                 !json_is_string(json_object_get(md, "last-modified")))
                finding(c, false, "metadata.last-modified", "should be a string (an RFC 3339 time)");
        unknown_keys(c, root, NULL, known, ELEMENTSOF(known));
}

int release_validate(const char *data, size_t len, const char *file, const ReleaseIndex *ri,
                     const char *expected_stream, Buf *out, ValidateResult *ret)
{
        _cleanup_json_ json_t *root = NULL;
        Ctx c = { .file = file, .out = out };
        Error e = { { 0 } };
        json_t *releases, *rel;
        ssize_t last_pos = -1;
        size_t i;

        if (json_parse_strict(data, len, &root, &e) < 0)
                finding(&c, true, NULL, "not valid JSON: %s", e.message);
        else if (!json_is_object(root))
                finding(&c, true, NULL, "must be a JSON object, got %s", json_type_name(root));
        else {
                check_root(&c, root, ri, expected_stream);
                releases = json_object_get(root, "releases");
                if (!json_is_array(releases))
                        finding(&c, true, "releases", "%s", releases ? "must be an array" : "is missing");
                else if (json_array_size(releases) > GRAPH_MAX_RELEASES)
                        finding(&c, true, "releases", "more than %d entries", GRAPH_MAX_RELEASES);
                else if (version_table_from_doc(root, &c.entries) < 0 ||
                         version_table_from_index(ri, &c.index) < 0)
                        c.r = -ENOMEM;
                else
                        json_array_foreach(releases, i, rel)
                                check_entry(&c, root, i, rel, ri, &last_pos);
        }
        version_table_done(&c.entries);
        version_table_done(&c.index);
        if (c.r < 0)
                return c.r;
        *ret = c.res;
        return 0;
}
