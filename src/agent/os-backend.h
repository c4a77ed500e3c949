/* os-backend.h — upkeep-agent's OS layer: what is booted, staged and kept for rollback, staging a release
 * and making it the next boot. Two implementations: libostree (os-ostree.c, the default) and rpm-ostree
 * (os-rpmostree.c, Fedora CoreOS). Calls are blocking and made from one thread (the agent's engine);
 * download progress is published through a callback that runs on that thread during os_backend_stage().
 * Built as its own static library (upkeep-os, meson `os_dep`) so that GLib and libostree stay out of the
 * other daemons.
 *
 * Roles of deployments:
 *   booted   — the running system. On a booted OSTree system, libostree's booted deployment; on a test
 *              sysroot (`sysroot = "/path"`, not booted), the deployment that was the default (index 0)
 *              when the backend was opened — exactly what a reboot into the default entry gives.
 *   staged   — a deployment prepared by os_backend_stage() that becomes the default only at
 *              os_backend_finalize(). libostree 2022.7 cannot stage (that needs a booted system) nor lock
 *              finalization, so the ostree backend deploys it right after the booted one, marked
 *              "[upkeep] staged=true" in its origin file; the default boot entry stays the booted one until
 *              os_backend_finalize(). A marker on the booted deployment is ignored.
 *              rpm-ostree: its own staged deployment ("staged": true).
 *   rollback — the deployment after the booted one that is not staged (what a failed boot falls back to).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "os-status.h" /* OsDeployment, OsStatus, os_status_done() */

typedef struct OsBackend OsBackend;

/* Download progress of the stage in progress. Fields only grow during one os_backend_stage(). */
typedef struct OsProgress {
        uint64_t bytes_transferred; /* 0 when the remote is a local file:// repository (libostree imports
                                     * its objects without a transfer) */
        uint64_t objects_fetched;   /* metadata + content objects fetched (or imported) so far */
        uint64_t objects_requested; /* known so far to be needed (grows as the tree is scanned) */
} OsProgress;

typedef void (*OsProgressFn)(const OsProgress *p, void *userdata);

typedef enum OsBackendKind {
        OS_BACKEND_OSTREE,
        OS_BACKEND_RPM_OSTREE,
} OsBackendKind;

typedef struct OsBackendOptions {
        OsBackendKind kind;
        const char *sysroot;             /* NULL or "/": the running system */
        const char *osname;              /* NULL: the booted deployment's */
        const char *remote;              /* ostree remote to pull from, NULL: "origin" */
        const char *stream_metadata_key; /* NULL: "fedora-coreos.stream" */
        const char *rpm_ostree_path;     /* rpm-ostree executable, NULL: "rpm-ostree" (found on PATH) */
        const char *client_id;        /* RPMOSTREE_CLIENT_ID and --register-driver, NULL: "upkeep-agent" */
        unsigned command_timeout_sec; /* rpm-ostree commands; 0: 3600 (a stage downloads a release) */
        /* ostree on a test sysroot: the booted deployment as an earlier open saw it (the agent opens the
         * backend anew in a short-lived worker for each operation, so "the default when the agent started"
         * is carried over by the agent). NULL checksum: the default entry now. Ignored on a booted system.
         */
        const char *booted_osname, *booted_checksum;
        int booted_serial;
        bool skip_register; /* rpm-ostree: the driver was registered by an earlier open */
} OsBackendOptions;

/* Opens the backend: loads the sysroot (ostree) or checks that rpm-ostree answers `status --json`
 * (rpm-ostree; it also registers the driver once). Errors name the sysroot or command and the reason.
 * ostree on the running system (sysroot NULL or "/") first enters a private mount namespace with /sysroot
 * writable (ostree_sysroot_initialize_with_mount_namespace()), as `ostree admin` does. */
int os_backend_open(const OsBackendOptions *o, OsBackend **ret, Error *e);
OsBackend *os_backend_free(OsBackend *b); /* NULL is fine; returns NULL */

/* The deployments now (reloads the sysroot / runs `rpm-ostree status --json`). */
int os_backend_status(OsBackend *b, OsStatus *ret, Error *e);

/* Downloads commit `checksum` from the remote and deploys it as the staged deployment, without changing
 * the default boot entry or the booted deployment. Idempotent: when a deployment of that commit already
 * exists and is not booted, it becomes the staged one (no download). Replaces a previously staged
 * deployment of another commit. Keeps the booted and rollback deployments; cleans up what is no longer
 * deployed. When version is non-NULL, the pulled commit's "version" metadata must equal it (else
 * -EBADMSG, and nothing is deployed). When allow_downgrade is false, a commit older (by timestamp) than
 * the booted one is refused with -EPERM. Staging the booted commit is -EALREADY. progress (may be NULL)
 * is called as the download advances. On any failure the booted deployment and the boot entries are as
 * before. A checksum that is not 64 lower-case hex digits is -EINVAL.
 *
 * ostree: the commit's metadata is pulled first (OSTREE_REPO_PULL_FLAGS_COMMIT_ONLY), so the version and
 * downgrade checks cost no download; objects are verified even from a file:// remote; the deployment
 * keeps the booted one's kernel arguments and origin, pinned to the commit (override-commit); the
 * sysroot lock is taken (-EBUSY when another process holds it, also for os_backend_finalize()); no
 * booted deployment is -ENOENT; libostree's errors keep their errno where GIO has one (a commit the
 * remote lacks is -ENOENT, a refused signature -EKEYREJECTED), else -EIO.
 * rpm-ostree also takes an image with its digest ("quay.io/fedora/fedora-coreos@sha256:<64 hex>", the
 * OCI graph's payload) where checksum is named: it is deployed by digest as Zincati does
 * (`rpm-ostree deploy --lock-finalization sha256:<digest> [--disallow-downgrade]`), compared by digest
 * with the deployments' images, and finalized by digest (`finalize-deployment sha256:<digest>`).
 * rpm-ostree: `rpm-ostree deploy --lock-finalization --skip-branch-check revision=<checksum>
 * [--disallow-downgrade]`, then `status --json` must show a staged deployment of that checksum (else
 * -EIO) and version (else -EBADMSG; rpm-ostree has then already staged it, locked: it is never finalized
 * unless os_backend_finalize() asks, and the next stage replaces it). rpm-ostree's downgrade refusal
 * ("chronologically older" on stderr) is -EPERM; other command failures are -EIO, a timeout -ETIMEDOUT.
 * rpm-ostree reports no download progress: progress is never called. */
int os_backend_stage(OsBackend *b, const char *checksum, const char *version, bool allow_downgrade,
                     OsProgressFn progress, void *userdata, Error *e);

/* Makes the staged deployment of `checksum` the default boot entry, keeping the booted one as its
 * rollback (older deployments of the OS are dropped and cleaned up). -ENOENT when no staged deployment
 * has that commit. rpm-ostree: `rpm-ostree finalize-deployment <checksum>`, which reboots the host itself
 * (os_backend_finalize_reboots() is then true and the agent does not reboot on its own). */
int os_backend_finalize(OsBackend *b, const char *checksum, Error *e);
bool os_backend_finalize_reboots(const OsBackend *b);

/* What os_backend_set_default() did. */
typedef struct OsSetDefaultResult {
        bool changed;            /* false: the deployment already was the default */
        char dropped_staged[65]; /* the commit of a staged deployment that was removed; "" when none */
        char kept_staged[65];    /* rpm-ostree: the commit of a staged deployment still there; "" none */
} OsSetDefaultResult;

/* Makes the deployment of commit `checksum` (booted, pending or rollback) the default boot entry, keeping
 * every other deployment in its order after it (what `ostree admin set-default` and greenboot's rollback
 * do). -ENOENT when no deployment has that commit, -EINVAL for a checksum that is not 64 lower-case hex
 * digits.
 * ostree: under the sysroot lock (-EBUSY when another process holds it); a staged deployment (upkeep's
 * marked one, or libostree's own on a booted system) is dropped and named in ret->dropped_staged, unless
 * it is the target (it then becomes the default and is no longer staged).
 * rpm-ostree: when the target is the rollback deployment (or the booted one while another deployment is
 * pending) runs `rpm-ostree rollback` and checks with `status --json` that it is the default (else -EIO);
 * when it already is the default, changed is false; any other deployment is -EOPNOTSUPP (rpm-ostree can
 * only roll back). rpm-ostree keeps a staged deployment (locked, never finalized unless asked): it is
 * named in ret->kept_staged. */
int os_backend_set_default(OsBackend *b, const char *checksum, OsSetDefaultResult *ret, Error *e);

const char *os_backend_kind_to_string(OsBackendKind k); /* "ostree", "rpm-ostree"; NULL when unknown */

/* For the implementations (os-ostree.c, os-rpmostree.c): every backend starts with struct OsBackend. */
typedef struct OsBackendOps {
        int (*status)(OsBackend *b, OsStatus *ret, Error *e);
        int (*stage)(OsBackend *b, const char *checksum, const char *version, bool allow_downgrade,
                     OsProgressFn progress, void *userdata, Error *e);
        int (*finalize)(OsBackend *b, const char *checksum, Error *e);
        int (*set_default)(OsBackend *b, const char *checksum, OsSetDefaultResult *ret, Error *e);
        void (*free)(OsBackend *b);
        bool finalize_reboots;
} OsBackendOps;

struct OsBackend {
        const OsBackendOps *ops;
        OsBackendKind kind;
};

int os_backend_ostree_open(const OsBackendOptions *o, OsBackend **ret, Error *e);
int os_backend_rpmostree_open(const OsBackendOptions *o, OsBackend **ret, Error *e);
