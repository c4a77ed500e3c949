/* os-status.c — deployment roles and the parser of `rpm-ostree status --json` (see os-status.h). */
#include "os-status.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "macros.h"

#define DEFAULT_STREAM_KEY "fedora-coreos.stream"

static void deployment_done(OsDeployment *d)
{
        free(d->osname);
        free(d->checksum);
        free(d->version);
        free(d->stream);
        free(d->image);
        *d = (OsDeployment){ .serial = -1 };
}

void os_status_done(OsStatus *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->n_deployments; i++)
                deployment_done(&s->deployments[i]);
        free(s->deployments);
        *s = (OsStatus){ 0 };
}

void os_status_assign_roles(OsStatus *s)
{
        OsDeployment *booted = NULL, *staged = NULL, *rollback = NULL;

        for (size_t i = 0; i < s->n_deployments; i++) {
                OsDeployment *d = &s->deployments[i];
                if (d->booted && !booted)
                        booted = d;
        }
        for (size_t i = 0; i < s->n_deployments; i++) {
                OsDeployment *d = &s->deployments[i];
                if (d->staged && d != booted && !staged)
                        staged = d;
        }
        if (booted)
                for (OsDeployment *d = booted + 1; d < s->deployments + s->n_deployments; d++)
                        if (d != staged && !d->staged) {
                                rollback = d;
                                break;
                        }
        for (size_t i = 0; i < s->n_deployments; i++) {
                OsDeployment *d = &s->deployments[i];
                d->booted = d == booted;
                d->staged = d == staged;
                d->rollback = d == rollback;
        }
        s->booted = booted;
        s->staged = staged;
        s->rollback = rollback;
}

bool os_checksum_valid(const char *s)
{
        size_t n = 0;

        if (!s)
                return false;
        for (; s[n]; n++) {
                if (n >= 64)
                        return false;
                if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
                        return false;
        }
        return n == 64;
}

const char *os_deployment_payload(const OsDeployment *d)
{
        assert(d);
        return d->image ? d->image : d->checksum;
}

static bool digest_valid(const char *d)
{
        return d && strncmp(d, "sha256:", 7) == 0 && os_checksum_valid(d + 7);
}

const char *os_image_digest(const char *s)
{
        const char *at = s ? strchr(s, '@') : NULL;

        if (!at || at == s || !digest_valid(at + 1))
                return NULL;
        return at + 1;
}

/* s after prefix, or NULL when s does not start with it. */
static const char *skip_prefix(const char *s, const char *prefix)
{
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* The image name of an ostree image reference: after "ostree-…:", its ostree remote ("ostree-remote-…")
 * and its transport ("registry:", "docker://"). NULL when it is not one. */
static const char *image_name(const char *ref)
{
        static const struct {
                const char *prefix;
                bool remote, registry;
        } kinds[] = {
                { "ostree-unverified-image:", false, false }, { "ostree-unverified-registry:", false, true },
                { "ostree-image-signed:", false, false },     { "ostree-remote-image:", true, false },
                { "ostree-remote-registry:", true, true },
        };

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                const char *p = skip_prefix(ref, kinds[i].prefix);
                if (!p)
                        continue;
                if (kinds[i].remote) {
                        p = strchr(p, ':');
                        if (!p)
                                return NULL;
                        p++;
                }
                if (kinds[i].registry)
                        return p;
                if (skip_prefix(p, "docker://"))
                        return p + 9;
                if (skip_prefix(p, "registry:"))
                        return p + 9;
                return NULL; /* oci:, oci-archive:, containers-storage: have no registry name */
        }
        return NULL;
}

int os_image_with_digest(const char *container_image_reference, const char *digest, char **ret)
{
        const char *name, *slash, *end, *colon;
        const char *prefix = "";
        char *s;

        assert(container_image_reference);
        assert(ret);
        name = image_name(container_image_reference);
        if (!name || !*name || !digest_valid(digest))
                return -EINVAL;
        end = strchr(name, '@');
        if (!end)
                end = name + strlen(name);
        slash = memchr(name, '/', (size_t)(end - name));
        colon = memrchr(name, ':', (size_t)(end - name));
        if (colon && (!slash || colon > slash)) /* a tag (a ':' before the first '/' is a port) */
                end = colon;
        if (end == name)
                return -EINVAL;
        if (!slash) /* "fedora" on Docker Hub */
                prefix = "docker.io/library/";
        else if (!memchr(name, '.', (size_t)(slash - name)) && !memchr(name, ':', (size_t)(slash - name)) &&
                 strncmp(name, "localhost/", 10) != 0)
                prefix = "docker.io/";
        for (const char *p = name; p < end; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f)
                        return -EINVAL;
        if (asprintf(&s, "%s%.*s@%s", prefix, (int)(end - name), name, digest) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* Strings are NUL-free: json_parse_strict() rejects "\u0000". */

/* A member that may be absent or null (both: *ret = NULL, 0), else must have the type check() accepts. */
static int optional_member(const json_t *obj, const char *key, int (*check)(const json_t *), size_t index,
                           const char *expected, json_t **ret, Error *e)
{
        json_t *v = json_object_get(obj, key);

        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!check(v))
                return error_setf(e, -EINVAL, "deployments[%zu].%s: must be %s, got %s", index, key,
                                  expected, json_type_name(v));
        *ret = v;
        return 0;
}

static int is_string(const json_t *j)
{
        return json_is_string(j);
}

static int is_boolean(const json_t *j)
{
        return json_is_boolean(j);
}

static int is_integer(const json_t *j)
{
        return json_is_integer(j);
}

static int is_object(const json_t *j)
{
        return json_is_object(j);
}

static int dup_string(const json_t *v, char **ret)
{
        char *s;

        if (!v) {
                *ret = NULL;
                return 0;
        }
        s = strndup(json_string_value(v), json_string_length(v));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* The string at path (keys) inside the JSON document held by meta's string member `key`; NULL when
 * any of it is absent, not of that shape, or empty. */
static char *nested_string(const json_t *meta, const char *key, const char *const *path)
{
        _cleanup_json_ json_t *doc = NULL;
        const json_t *v = json_object_get(meta, key), *j;
        Error ignored = {};

        if (!json_is_string(v) ||
            json_parse_strict(json_string_value(v), json_string_length(v), &doc, &ignored) < 0)
                return NULL;
        j = doc;
        for (; *path; path++)
                j = json_is_object(j) ? json_object_get(j, *path) : NULL;
        if (!json_is_string(j) || json_string_length(j) == 0)
                return NULL;
        return strndup(json_string_value(j), json_string_length(j));
}

/* Zincati's stream of a container image deployment: the image's "com.coreos.stream" label, else its
 * manifest's "fedora-coreos.stream" annotation. */
static char *image_stream(const json_t *meta)
{
        char *s = nested_string(meta, "ostree.container.image-config",
                                (const char *const[]){ "config", "Labels", "com.coreos.stream", NULL });
        return s ? s
                 : nested_string(meta, "ostree.manifest",
                                 (const char *const[]){ "annotations", "fedora-coreos.stream", NULL });
}

static int parse_image(const json_t *j, size_t i, OsDeployment *d, Error *e)
{
        json_t *ref, *digest;
        int r;

        if ((r = optional_member(j, "container-image-reference", is_string, i, "a string", &ref, e)) < 0 ||
            (r = optional_member(j, "container-image-reference-digest", is_string, i, "a string", &digest,
                                 e)) < 0)
                return r;
        if (!ref || !digest)
                return 0;
        r = os_image_with_digest(json_string_value(ref), json_string_value(digest), &d->image);
        if (r == -EINVAL)
                return error_setf(e, r,
                                  "deployments[%zu].container-image-reference: '%s' with digest '%s' is not "
                                  "a registry image with a sha256 digest",
                                  i, json_string_value(ref), json_string_value(digest));
        if (r < 0)
                return error_setf(e, r, "deployments[%zu]: out of memory", i);
        return 0;
}

static int parse_deployment(const json_t *j, size_t i, const char *stream_key, OsDeployment *d, Error *e)
{
        json_t *booted, *staged, *checksum, *base, *version, *meta, *osname, *serial, *timestamp;
        json_t *stream = NULL;
        int r;

        if (!json_is_object(j))
                return error_setf(e, -EINVAL, "deployments[%zu]: must be an object, got %s", i,
                                  json_type_name(j));
        if ((r = optional_member(j, "booted", is_boolean, i, "a boolean", &booted, e)) < 0 ||
            (r = optional_member(j, "staged", is_boolean, i, "a boolean", &staged, e)) < 0 ||
            (r = optional_member(j, "checksum", is_string, i, "a string", &checksum, e)) < 0 ||
            (r = optional_member(j, "base-checksum", is_string, i, "a string", &base, e)) < 0 ||
            (r = optional_member(j, "version", is_string, i, "a string", &version, e)) < 0 ||
            (r = optional_member(j, "base-commit-meta", is_object, i, "an object", &meta, e)) < 0 ||
            (r = optional_member(j, "osname", is_string, i, "a string", &osname, e)) < 0 ||
            (r = optional_member(j, "serial", is_integer, i, "an integer", &serial, e)) < 0 ||
            (r = optional_member(j, "timestamp", is_integer, i, "an integer", &timestamp, e)) < 0)
                return r;

        if (!checksum)
                return error_setf(e, -EINVAL, "deployments[%zu].checksum: missing", i);
        if (json_string_length(checksum) != 64 || !os_checksum_valid(json_string_value(checksum)))
                return error_setf(e, -EINVAL, "deployments[%zu].checksum: must be a 64-hex-digit string", i);
        if (base && (json_string_length(base) != 64 || !os_checksum_valid(json_string_value(base))))
                return error_setf(e, -EINVAL,
                                  "deployments[%zu].base-checksum: must be a 64-hex-digit string", i);
        if (meta) {
                stream = json_object_get(meta, stream_key);
                if (stream && json_is_null(stream))
                        stream = NULL;
                if (stream && !json_is_string(stream))
                        return error_setf(e, -EINVAL,
                                          "deployments[%zu].base-commit-meta.%s: must be a string, got %s",
                                          i, stream_key, json_type_name(stream));
        }
        if (serial && (json_integer_value(serial) < 0 || json_integer_value(serial) > INT_MAX))
                return error_setf(e, -EINVAL, "deployments[%zu].serial: must be within 0…%d", i, INT_MAX);
        if (timestamp && json_integer_value(timestamp) < 0)
                return error_setf(e, -EINVAL, "deployments[%zu].timestamp: must not be negative", i);

        d->booted = booted && json_is_true(booted);
        d->staged = staged && json_is_true(staged);
        d->serial = serial ? (int)json_integer_value(serial) : -1;
        d->timestamp = timestamp ? (uint64_t)json_integer_value(timestamp) : 0;
        if (dup_string(base ? base : checksum, &d->checksum) < 0 || dup_string(version, &d->version) < 0 ||
            dup_string(stream, &d->stream) < 0 || dup_string(osname, &d->osname) < 0)
                return error_setf(e, -ENOMEM, "deployments[%zu]: out of memory", i);
        if (!d->stream && meta)
                d->stream = image_stream(meta);
        return parse_image(j, i, d, e);
}

int rpmostree_parse_status(const char *json, size_t len, const char *stream_metadata_key, OsStatus *ret,
                           Error *e)
{
        _cleanup_json_ json_t *root = NULL;
        json_t *deployments;
        OsStatus s = { 0 };
        const OsDeployment *booted = NULL, *staged = NULL;
        size_t n;
        int r;

        if (!json || !ret)
                return error_setf(e, -EINVAL, "status document: missing");
        if (len > RPMOSTREE_STATUS_MAX_BYTES)
                return error_setf(e, -EFBIG, "status document: larger than %u bytes",
                                  RPMOSTREE_STATUS_MAX_BYTES);
        if (!stream_metadata_key)
                stream_metadata_key = DEFAULT_STREAM_KEY;

        r = json_parse_strict(json, len, &root, e);
        if (r < 0)
                return error_prefixf(e, r, "status document");
        if (!json_is_object(root))
                return error_setf(e, -EINVAL, "status document: must be an object, got %s",
                                  json_type_name(root));
        deployments = json_object_get(root, "deployments");
        if (!deployments)
                return error_setf(e, -EINVAL, "deployments: missing");
        if (!json_is_array(deployments))
                return error_setf(e, -EINVAL, "deployments: must be an array, got %s",
                                  json_type_name(deployments));
        n = json_array_size(deployments);
        if (n > RPMOSTREE_STATUS_MAX_DEPLOYMENTS)
                return error_setf(e, -E2BIG, "deployments: more than %u entries",
                                  RPMOSTREE_STATUS_MAX_DEPLOYMENTS);
        if (n > 0) {
                s.deployments = calloc(n, sizeof(OsDeployment));
                if (!s.deployments)
                        return error_setf(e, -ENOMEM, "deployments: out of memory");
        }
        for (size_t i = 0; i < n; i++) {
                OsDeployment *d = &s.deployments[i];
                *d = (OsDeployment){ .serial = -1 };
                s.n_deployments = i + 1;
                r = parse_deployment(json_array_get(deployments, i), i, stream_metadata_key, d, e);
                if (r < 0)
                        goto fail;
                if (d->booted && booted) {
                        r = error_setf(e, -EINVAL,
                                       "deployments[%zu].booted: deployments[%zu] is booted already", i,
                                       (size_t)(booted - s.deployments));
                        goto fail;
                }
                if (d->staged && staged) {
                        r = error_setf(e, -EINVAL,
                                       "deployments[%zu].staged: deployments[%zu] is staged already", i,
                                       (size_t)(staged - s.deployments));
                        goto fail;
                }
                if (d->booted && d->staged) {
                        r = error_setf(e, -EINVAL, "deployments[%zu]: both booted and staged", i);
                        goto fail;
                }
                if (d->booted)
                        booted = d;
                if (d->staged)
                        staged = d;
        }
        os_status_assign_roles(&s);
        *ret = s;
        return 0;
fail:
        os_status_done(&s);
        return r;
}
