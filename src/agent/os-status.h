/* os-status.h — the node agent's view of the OS deployments (booted, staged, rollback), shared by both OS
 * backends, and a pure parser of `rpm-ostree status --json`. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The caps of rpmostree_parse_status(). */
#define RPMOSTREE_STATUS_MAX_BYTES (4U * 1024U * 1024U)
#define RPMOSTREE_STATUS_MAX_DEPLOYMENTS 64U

typedef struct OsDeployment {
        char *osname;       /* NULL when unknown */
        char *checksum;     /* the commit (rpm-ostree: "base-checksum" when set, else "checksum") */
        char *version;      /* commit metadata "version"; NULL when absent */
        char *stream;       /* commit metadata <stream_metadata_key>, else (container image) the image's
                             * "com.coreos.stream" label or its manifest's "fedora-coreos.stream"
                             * annotation, as Zincati reads it; NULL when absent */
        char *image;        /* booted from a container image (rpm-ostree "container-image-reference" and
                             * "container-image-reference-digest"): the image with its digest, as Zincati sends
                             * it as os_checksum ("quay.io/fedora/fedora-coreos@sha256:<64 hex>"); else NULL */
        uint64_t timestamp; /* commit timestamp, seconds since the epoch; 0 when unknown */
        int serial;         /* deployment serial (ostree), -1 when unknown */
        bool booted, staged, rollback;
} OsDeployment;

/* Deployments in boot order (index 0 is the default boot entry). The role pointers point into
 * deployments[] or are NULL. booted is NULL only when the backend cannot tell (it is then an error for
 * the agent, which reports it). */
typedef struct OsStatus {
        OsDeployment *deployments;
        size_t n_deployments;
        const OsDeployment *booted, *staged, *rollback;
} OsStatus;

void os_status_done(OsStatus *s); /* frees the members, zeroes s; NULL is fine */

/* Sets the role pointers and flags from the deployments' booted and staged flags: booted and staged are
 * the first deployment so flagged (a booted deployment is never staged), rollback is the first
 * deployment after the booted one that is not staged. Clears every other role flag. */
void os_status_assign_roles(OsStatus *s);

/* Whether s is a commit checksum: 64 lower-case hex digits. */
bool os_checksum_valid(const char *s);

/* What identifies a deployment's release in the update graph: its image with digest when it was booted
 * from a container image (Cincinnati's "oci" scheme), else its commit checksum ("checksum" scheme). */
const char *os_deployment_payload(const OsDeployment *d);

/* The digest of an image reference "name@sha256:<64 lower-case hex>" (a pointer to "sha256:…" in s), or
 * NULL when s is not such a reference. */
const char *os_image_digest(const char *s);

/* The image name of an ostree container image reference ("ostree-image-signed:docker://quay.io/x:tag",
 * "ostree-remote-image:fedora:registry:quay.io/x", "ostree-unverified-registry:quay.io/x:tag" ...) with
 * its tag and digest removed and the digest `digest` ("sha256:<64 hex>") added, as Zincati sends it:
 * "quay.io/x@sha256:…". Names without a registry get Docker's defaults ("docker.io/library/"). -EINVAL
 * when the reference or the digest is malformed, -ENOMEM. */
int os_image_with_digest(const char *container_image_reference, const char *digest, char **ret);

/* Parses `rpm-ostree status --json` (at most RPMOSTREE_STATUS_MAX_BYTES bytes and
 * RPMOSTREE_STATUS_MAX_DEPLOYMENTS deployments). Uses deployments[].{booted, staged, checksum,
 * base-checksum, version, base-commit-meta, osname, serial, timestamp, container-image-reference,
 * container-image-reference-digest}; other members are ignored. stream_metadata_key (NULL:
 * "fedora-coreos.stream") names the base-commit-meta string that becomes OsDeployment.stream; when it is
 * absent, the stream comes from base-commit-meta's "ostree.container.image-config" (label
 * "com.coreos.stream") or "ostree.manifest" (annotation "fedora-coreos.stream"), JSON documents in strings
 * (one that does not parse leaves the stream NULL, as it is optional). More than one booted or staged
 * deployment is an error. Errors name the field: "deployments[2].checksum: must be a 64-hex-digit string".
 * -EFBIG, -E2BIG, -EINVAL, -ENOMEM. */
int rpmostree_parse_status(const char *json, size_t len, const char *stream_metadata_key, OsStatus *ret,
                           Error *e);
