/* graph-metadata.c — the strict parsers of Fedora CoreOS's release index (releases.json) and update
 * metadata (updates.json), the two inputs of the update graph. */
#include "graph-metadata.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "strv.h"

/* ---- parsing helpers ---- */

/* Optional member: NULL when absent or JSON null (serde's Option semantics). */
static json_t *opt_member(const json_t *obj, const char *key)
{
        json_t *v = json_object_get(obj, key);
        return json_is_null(v) ? NULL : v;
}

static int dup_str(const char *s, char **ret)
{
        char *d = strdup(s);
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

static void artifacts_free(ReleaseArtifact *a, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(a[i].architecture);
                free(a[i].payload);
        }
        free(a);
}

void release_index_free(ReleaseIndex *ri)
{
        if (!ri)
                return;
        for (size_t i = 0; i < ri->n_releases; i++) {
                free(ri->releases[i].version);
                artifacts_free(ri->releases[i].commits, ri->releases[i].n_commits);
                artifacts_free(ri->releases[i].oci_images, ri->releases[i].n_oci_images);
        }
        free(ri->releases);
        free(ri->stream);
        free(ri);
}

/* Parses an array of {architecture, <payload_key>} objects. */
static int parse_artifacts(const json_t *rel, const char *key, const char *payload_key, const char *what,
                           ReleaseArtifact **ret, size_t *ret_n, Error *e)
{
        json_t *arr = opt_member(rel, key), *item;
        ReleaseArtifact *a;
        size_t i;

        if (!arr) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (!json_is_array(arr))
                return error_setf(e, -EINVAL, "%s: field '%s' must be an array, got %s", what, key,
                                  json_type_name(arr));
        a = calloc(json_array_size(arr) + 1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        json_array_foreach(arr, i, item) {
                char w[ERROR_MESSAGE_MAX];
                const char *arch, *payload;
                int r;

                snprintf(w, sizeof(w), "%s: %s[%zu]", what, key, i);
                if ((r = json_member_string(item, "architecture", true, w, &arch, e)) < 0 ||
                    (r = json_member_string(item, payload_key, true, w, &payload, e)) < 0 ||
                    (r = dup_str(arch, &a[i].architecture)) < 0 ||
                    (r = dup_str(payload, &a[i].payload)) < 0) {
                        artifacts_free(a, i + 1);
                        return r == -ENOENT ? -EINVAL : r;
                }
        }
        *ret = a;
        *ret_n = json_array_size(arr);
        return 0;
}

int release_index_parse(const char *data, size_t len, ReleaseIndex **ret, Error *e)
{
        _cleanup_json_ json_t *root = NULL;
        json_t *releases, *rel;
        ReleaseIndex *ri;
        const char *stream = NULL;
        size_t i;
        int r;

        assert(data || len == 0);
        assert(ret);
        r = json_parse_strict(data, len, &root, e);
        if (r < 0)
                return r;
        r = json_member_array(root, "releases", true, "release index", &releases, e);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        if (json_array_size(releases) > GRAPH_MAX_RELEASES)
                return error_setf(e, -E2BIG, "release index: %zu releases, more than the limit of %d",
                                  json_array_size(releases), GRAPH_MAX_RELEASES);
        if (opt_member(root, "stream")) {
                r = json_member_string(root, "stream", false, "release index", &stream, e);
                if (r < 0)
                        return r;
        }

        ri = calloc(1, sizeof(*ri));
        if (!ri)
                return -ENOMEM;
        ri->releases = calloc(json_array_size(releases) + 1, sizeof(Release));
        if (!ri->releases || (stream && dup_str(stream, &ri->stream) < 0)) {
                release_index_free(ri);
                return -ENOMEM;
        }

        json_array_foreach(releases, i, rel) {
                Release *out = &ri->releases[i];
                char what[ERROR_MESSAGE_MAX];
                const char *version, *md;

                ri->n_releases = i + 1;
                snprintf(what, sizeof(what), "release %zu", i);
                r = json_member_string(rel, "version", true, what, &version, e);
                if (r >= 0 && !*version)
                        r = error_setf(e, -EINVAL, "%s: field 'version' is empty", what);
                if (r < 0)
                        goto fail;
                snprintf(what, sizeof(what), "release %zu (%s)", i, version);
                r = dup_str(version, &out->version);
                if (r < 0)
                        goto fail;
                r = parse_artifacts(rel, "commits", "checksum", what, &out->commits, &out->n_commits, e);
                if (r < 0)
                        goto fail;
                r = parse_artifacts(rel, "oci-images", "digest-ref", what, &out->oci_images,
                                    &out->n_oci_images, e);
                if (r < 0)
                        goto fail;
                if (opt_member(rel, "metadata")) {
                        r = json_member_string(rel, "metadata", false, what, &md, e);
                        if (r < 0)
                                goto fail;
                }
        }
        *ret = ri;
        return 0;
fail:
        release_index_free(ri);
        return r == -ENOENT ? -EINVAL : r;
}

void update_metadata_free(UpdateMetadata *um)
{
        if (!um)
                return;
        for (size_t i = 0; i < um->n_entries; i++) {
                free(um->entries[i].version);
                free(um->entries[i].barrier_reason);
                free(um->entries[i].deadend_reason);
        }
        free(um->entries);
        free(um->stream);
        strv_free(um->warnings);
        free(um);
}

static int parse_reason(const json_t *md, const char *key, const char *what, char **ret, Error *e)
{
        char w[ERROR_MESSAGE_MAX];
        const char *reason;
        json_t *obj = opt_member(md, key);
        int r;

        if (!obj)
                return 0;
        snprintf(w, sizeof(w), "%s: metadata.%s", what, key);
        if (!json_is_object(obj))
                return error_setf(e, -EINVAL, "%s must be an object, got %s", w, json_type_name(obj));
        r = json_member_string(obj, "reason", true, w, &reason, e);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        return dup_str(reason, ret);
}

static int parse_rollout(const json_t *md, const char *what, UpdateEntry *u, UpdateMetadata *um, Error *e)
{
        char w[ERROR_MESSAGE_MAX];
        json_t *ro = opt_member(md, "rollout");
        int64_t i;
        int r;

        if (!ro)
                return 0;
        snprintf(w, sizeof(w), "%s: metadata.rollout", what);
        if (!json_is_object(ro))
                return error_setf(e, -EINVAL, "%s must be an object, got %s", w, json_type_name(ro));
        u->rollout = true;
        if (opt_member(ro, "start_epoch")) {
                r = json_member_int(ro, "start_epoch", true, w, INT64_MIN, INT64_MAX, &u->start_epoch, e);
                if (r < 0)
                        return r;
                u->has_start_epoch = true;
        }
        if (opt_member(ro, "start_percentage")) {
                r = json_member_number(ro, "start_percentage", true, w, &u->start_percentage, e);
                if (r < 0)
                        return r;
                u->has_start_percentage = true;
                if (!(u->start_percentage >= 0.0 && u->start_percentage <= 1.0)) {
                        char msg[ERROR_MESSAGE_MAX + 160];
                        snprintf(msg, sizeof(msg),
                                 "%s: start_percentage %g is outside [0, 1]; used as given, as "
                                 "fedora-coreos-cincinnati does (%s)",
                                 w, u->start_percentage,
                                 u->start_percentage > 1.0 ? "every node sees the update once it starts"
                                                           : "no node sees it before the throttle passes 0");
                        if (strv_push(&um->warnings, &um->n_warnings, msg) < 0)
                                return -ENOMEM;
                }
        }
        if (opt_member(ro, "duration_minutes")) {
                /* Upstream reads a u64; a rollout longer than a million years is certainly a typo. */
                r = json_member_int(ro, "duration_minutes", true, w, 0, INT64_C(1) << 40, &i, e);
                if (r < 0)
                        return r;
                u->duration_minutes = (uint64_t)i;
                u->has_duration = true;
        }
        return 0;
}

int update_metadata_parse(const char *data, size_t len, UpdateMetadata **ret, Error *e)
{
        _cleanup_json_ json_t *root = NULL;
        json_t *releases, *rel, *md;
        UpdateMetadata *um;
        const char *stream;
        size_t i;
        int r;

        assert(data || len == 0);
        assert(ret);
        r = json_parse_strict(data, len, &root, e);
        if (r < 0)
                return r;
        r = json_member_string(root, "stream", true, "update metadata", &stream, e);
        if (r >= 0)
                r = json_member_array(root, "releases", true, "update metadata", &releases, e);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        if (json_array_size(releases) > GRAPH_MAX_RELEASES)
                return error_setf(e, -E2BIG, "update metadata: %zu releases, more than the limit of %d",
                                  json_array_size(releases), GRAPH_MAX_RELEASES);

        um = calloc(1, sizeof(*um));
        if (!um)
                return -ENOMEM;
        um->entries = calloc(json_array_size(releases) + 1, sizeof(UpdateEntry));
        if (!um->entries || dup_str(stream, &um->stream) < 0) {
                update_metadata_free(um);
                return -ENOMEM;
        }
        json_array_foreach(releases, i, rel) {
                UpdateEntry *u = &um->entries[i];
                char what[ERROR_MESSAGE_MAX];
                const char *version;

                um->n_entries = i + 1;
                snprintf(what, sizeof(what), "release %zu", i);
                r = json_member_string(rel, "version", true, what, &version, e);
                if (r < 0)
                        goto fail;
                snprintf(what, sizeof(what), "release %zu (%s)", i, version);
                r = dup_str(version, &u->version);
                if (r >= 0)
                        r = json_member_object(rel, "metadata", true, what, &md, e);
                if (r >= 0)
                        r = parse_reason(md, "barrier", what, &u->barrier_reason, e);
                if (r >= 0)
                        r = parse_reason(md, "deadend", what, &u->deadend_reason, e);
                if (r >= 0)
                        r = parse_rollout(md, what, u, um, e);
                if (r < 0)
                        goto fail;
        }
        *ret = um;
        return 0;
fail:
        update_metadata_free(um);
        return r == -ENOENT ? -EINVAL : r;
}
