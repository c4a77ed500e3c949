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
        char *stream;       /* commit metadata <stream_metadata_key>; NULL when absent */
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

/* Parses `rpm-ostree status --json` (at most RPMOSTREE_STATUS_MAX_BYTES bytes and
 * RPMOSTREE_STATUS_MAX_DEPLOYMENTS deployments). Uses deployments[].{booted, staged, checksum,
 * base-checksum, version, base-commit-meta, osname, serial, timestamp}; other members are ignored.
 * stream_metadata_key (NULL: "fedora-coreos.stream") names the base-commit-meta string that becomes
 * OsDeployment.stream. More than one booted or staged deployment is an error. Errors name the field:
 * "deployments[2].checksum: must be a 64-hex-digit string". -EFBIG, -E2BIG, -EINVAL, -ENOMEM. */
int rpmostree_parse_status(const char *json, size_t len, const char *stream_metadata_key, OsStatus *ret,
                           Error *e);
