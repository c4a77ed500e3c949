/* os-backend.c — the OS layer's entry points: dispatch to the libostree or rpm-ostree implementation
 * (see os-backend.h). */
#include "os-backend.h"

#include <errno.h>

const char *os_backend_kind_to_string(OsBackendKind k)
{
        switch (k) {
        case OS_BACKEND_OSTREE:
                return "ostree";
        case OS_BACKEND_RPM_OSTREE:
                return "rpm-ostree";
        }
        return NULL;
}

int os_backend_open(const OsBackendOptions *o, OsBackend **ret, Error *e)
{
        if (!o || !ret)
                return error_setf(e, -EINVAL, "OS backend: missing options");
        switch (o->kind) {
        case OS_BACKEND_OSTREE:
                return os_backend_ostree_open(o, ret, e);
        case OS_BACKEND_RPM_OSTREE:
                return os_backend_rpmostree_open(o, ret, e);
        }
        return error_setf(e, -EINVAL, "OS backend: unknown kind %d", (int)o->kind);
}

OsBackend *os_backend_free(OsBackend *b)
{
        if (b)
                b->ops->free(b);
        return NULL;
}

int os_backend_status(OsBackend *b, OsStatus *ret, Error *e)
{
        if (!b || !ret)
                return error_setf(e, -EINVAL, "OS status: missing argument");
        return b->ops->status(b, ret, e);
}

/* rpm-ostree also deploys container images by digest (Cincinnati's "oci" scheme); libostree only commits. */
static bool payload_valid(const OsBackend *b, const char *payload)
{
        return os_checksum_valid(payload) || (b->kind == OS_BACKEND_RPM_OSTREE && os_image_digest(payload));
}

static const char *payload_expected(const OsBackend *b)
{
        return b->kind == OS_BACKEND_RPM_OSTREE ? "neither a commit checksum (64 lower-case hex digits) nor "
                                                  "an image with a sha256 digest"
                                                : "not a commit checksum (64 lower-case hex digits)";
}

int os_backend_stage(OsBackend *b, const char *checksum, const char *version, bool allow_downgrade,
                     OsProgressFn progress, void *userdata, Error *e)
{
        if (!b)
                return error_setf(e, -EINVAL, "stage: missing backend");
        if (!payload_valid(b, checksum))
                return error_setf(e, -EINVAL, "stage of '%s': %s", strna(checksum), payload_expected(b));
        return b->ops->stage(b, checksum, version, allow_downgrade, progress, userdata, e);
}

int os_backend_finalize(OsBackend *b, const char *checksum, Error *e)
{
        if (!b)
                return error_setf(e, -EINVAL, "finalize: missing backend");
        if (!payload_valid(b, checksum))
                return error_setf(e, -EINVAL, "finalize of '%s': %s", strna(checksum), payload_expected(b));
        return b->ops->finalize(b, checksum, e);
}

int os_backend_set_default(OsBackend *b, const char *checksum, OsSetDefaultResult *ret, Error *e)
{
        if (!b || !ret)
                return error_setf(e, -EINVAL, "set-default: missing argument");
        if (!os_checksum_valid(checksum))
                return error_setf(e, -EINVAL,
                                  "set-default of '%s': not a commit checksum (64 lower-case hex "
                                  "digits)",
                                  strna(checksum));
        return b->ops->set_default(b, checksum, ret, e);
}

bool os_backend_finalize_reboots(const OsBackend *b)
{
        return b && b->ops->finalize_reboots;
}
